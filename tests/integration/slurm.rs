//! The slurm site against a real Slurm cluster: the single-node cluster of
//! `tests/services/slurm.sh up` (jobs start within about a second).
//!
//! Without a reachable Slurm the tests are skipped, loudly, or fail under
//! `TROIKA_TEST_REQUIRE_SERVICES=1` (see `common::Service`).
//! `TROIKA_TEST_SLURM_PARTITION`, when set, is the partition the jobs ask for.
//!
//! Each test works in its own scratch directory (scripts, logs and job
//! outputs) and cancels the jobs it submitted when it ends, failed or not.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{
    poll_until, read_jid, read_or_empty, record_field, run_with_timeout, service, sibling, slurm_cmd, slurm_job_record,
    troika_in, wait_for_content, ScratchDir, Service, TroikaRun,
};

/// How long a job may take to start, or to end once told to.
const JOB_DEADLINE: Duration = Duration::from_secs(60);

/// A job id above Slurm's largest (MaxJobId is at most 67108863).
const UNKNOWN_JOB: &str = "99999999";

const CONFIG: &str = "\
sites:
  slurm:
    type: slurm
    connection: local
    command_timeout: 60
  slurm-term-kill:
    type: slurm
    connection: local
    command_timeout: 60
    kill_sequence: [[0, TERM], [2, KILL]]
  slurm-term:
    type: slurm
    connection: local
    command_timeout: 60
    kill_sequence: [[0, TERM]]
";

/// Returns from the test when Slurm cannot be used (see [`crate::common::Service`]).
macro_rules! require_slurm {
    () => {
        if !service(Service::Slurm) {
            return;
        }
    };
}

/// The job's `scontrol show job -o` record (from accounting once the
/// ended job was forgotten).
fn show_job(id: &str) -> String {
    slurm_job_record(id)
}

/// The value of `Key=` in a job's record.
fn field(record: &str, key: &str) -> String {
    record_field(record, key)
}

/// States after which a job does not run any more.
fn is_final(state: &str) -> bool {
    matches!(
        state,
        "COMPLETED"
            | "CANCELLED"
            | "FAILED"
            | "TIMEOUT"
            | "NODE_FAIL"
            | "PREEMPTED"
            | "BOOT_FAIL"
            | "DEADLINE"
            | "OUT_OF_MEMORY"
    )
}

/// Waits for the job to end; returns its final `scontrol` record.
fn wait_job_end(id: &str) -> String {
    poll_until(&format!("job {id} to end"), JOB_DEADLINE, || {
        let rec = show_job(id);
        is_final(&field(&rec, "JobState")).then_some(rec)
    })
}

/// The name of the user running the tests.
fn current_user() -> String {
    let (code, out, err) =
        run_with_timeout(Command::new("id").arg("-un"), Duration::from_secs(10)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code, Some(0), "id -un failed: {err}");
    out.trim().to_string()
}

/// One test's scratch directory and configuration, and the jobs it
/// submitted, which are cancelled when it is dropped.
struct SlurmTest {
    jobs: RefCell<Vec<String>>,
    config: PathBuf,
    dir: ScratchDir,
}

impl SlurmTest {
    fn new(name: &str) -> SlurmTest {
        let dir = ScratchDir::new(&format!("slurm-{name}"));
        let config = dir.write("troika.yml", CONFIG, 0o644);
        SlurmTest {
            jobs: RefCell::new(Vec::new()),
            config,
            dir,
        }
    }

    /// A job script: bash, the test partition if any, `lines`.
    fn script(&self, name: &str, lines: &[&str]) -> PathBuf {
        let mut s = String::from("#!/bin/bash\n");
        if let Some(p) = std::env::var("TROIKA_TEST_SLURM_PARTITION")
            .ok()
            .filter(|p| !p.is_empty())
        {
            s.push_str(&format!("# troika partition={p}\n"));
        }
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        self.dir.write(name, &s, 0o644)
    }

    /// `troika -c CONFIG ARGS...` in the scratch directory.
    fn troika(&self, args: &[&str]) -> TroikaRun {
        let mut all = vec!["-c", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        troika_in(self.dir.path(), &all)
    }

    /// Submits `script` to `site` with output `out`; returns the job id.
    fn submit(&self, site: &str, script: &Path, out: &Path, extra: &[&str]) -> String {
        let mut args = vec!["submit", site, script.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let run = self.troika(&args);
        // Track the job even when the checks below fail.
        if let Ok(s) = std::fs::read_to_string(sibling(script, ".jid")) {
            self.jobs.borrow_mut().push(s.trim().to_string());
        }
        run.expect_code(0);
        read_jid(script)
    }

    fn kill(&self, site: &str, script: &Path, extra: &[&str]) -> TroikaRun {
        let mut args = vec!["kill", site, script.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.troika(&args)
    }

    fn monitor(&self, script: &Path, extra: &[&str]) -> TroikaRun {
        let mut args = vec!["monitor", "slurm", script.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.troika(&args)
    }
}

impl Drop for SlurmTest {
    fn drop(&mut self) {
        let jobs = self.jobs.borrow();
        if !jobs.is_empty() {
            // Silent, exit 0, for jobs that have already ended.
            let args: Vec<&str> = jobs.iter().map(String::as_str).collect();
            if let Err(e) = run_with_timeout(Command::new("scancel").args(&args), Duration::from_secs(30)) {
                eprintln!("could not cancel jobs {args:?}: {e}");
            }
        }
    }
}

/// `<script>.killlog` records the final status of the kill.
fn assert_kill_status(script: &Path, id: &str, status: &str) {
    let log = read_or_empty(sibling(script, ".killlog"));
    let want = format!("; troika.controller; DEBUG; Kill of job {id}: {status}\n");
    assert!(
        log.contains(&want),
        "{}.killlog does not contain {want:?}:\n{log}",
        script.display()
    );
}

/// A script that reports that it runs, then runs until killed.
const LOOP_FOREVER: &str = "while true; do sleep 0.1; done";

#[test]
fn slurm_submit_runs_the_job_and_records_its_id() {
    require_slurm!();
    let t = SlurmTest::new("submit");
    let original = [
        "# troika name=itest-submit",
        "# troika walltime=00:05:00",
        "echo \"hello from job $SLURM_JOB_ID\"",
        "echo done",
    ];
    let script = t.script("job.sh", &original);
    let original_text = read_or_empty(&script);
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &[]);

    // The script was rewritten in place for sbatch, the original kept.
    let generated = read_or_empty(&script);
    assert!(generated.starts_with("#!/bin/bash\n"), "{generated}");
    for line in [
        "#SBATCH --job-name=itest-submit\n".to_string(),
        "#SBATCH --time=00:05:00\n".to_string(),
        format!("#SBATCH --output={}\n", out.display()),
    ] {
        assert!(generated.contains(&line), "no {line:?} in\n{generated}");
    }
    assert!(!generated.contains("# troika"), "{generated}");
    assert_eq!(read_or_empty(sibling(&script, ".orig")), original_text);

    // The job ran under the id troika recorded, writing where it was told.
    let output = wait_for_content(&out, "done\n", JOB_DEADLINE);
    assert_eq!(output, format!("hello from job {id}\ndone\n"));
    let rec = wait_job_end(&id);
    assert_eq!(field(&rec, "JobId"), id);
    assert_eq!(field(&rec, "JobName"), "itest-submit");
    assert_eq!(field(&rec, "TimeLimit"), "00:05:00");
    assert_eq!(field(&rec, "StdOut"), out.display().to_string());
    assert_eq!(
        Path::new(&field(&rec, "WorkDir")).canonicalize().unwrap(),
        t.dir.path().canonicalize().unwrap()
    );
    assert_eq!(field(&rec, "JobState"), "COMPLETED", "{rec}");
    assert_eq!(field(&rec, "ExitCode"), "0:0", "{rec}");

    let log = read_or_empty(sibling(&script, ".submitlog"));
    assert!(log.contains(&format!("; DEBUG; Job ID: {id}\n")), "{log}");
}

#[test]
fn slurm_define_overrides_name_and_walltime() {
    require_slurm!();
    let t = SlurmTest::new("define");
    let script = t.script(
        "job.sh",
        &["# troika name=from-script", "# troika walltime=00:10:00", "echo done"],
    );
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &["-D", "name=xyz", "-D", "walltime=00:07:00"]);
    let generated = read_or_empty(&script);
    assert!(generated.contains("#SBATCH --job-name=xyz\n"), "{generated}");
    assert!(generated.contains("#SBATCH --time=00:07:00\n"), "{generated}");
    assert!(!generated.contains("from-script"), "{generated}");
    assert!(!generated.contains("00:10:00"), "{generated}");

    let rec = show_job(&id);
    assert_eq!(field(&rec, "JobName"), "xyz", "{rec}");
    assert_eq!(field(&rec, "TimeLimit"), "00:07:00", "{rec}");
    wait_for_content(&out, "done\n", JOB_DEADLINE);
    assert_eq!(field(&wait_job_end(&id), "JobState"), "COMPLETED");
}

/// The `squeue` line of job `id` in a `.stat` file: its fields.
fn stat_line(stat: &str, id: &str) -> Option<Vec<String>> {
    stat.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some(id))
}

#[test]
fn slurm_monitor_with_user_writes_the_job_line() {
    require_slurm!();
    let t = SlurmTest::new("monitor");
    let script = t.script("job.sh", &["# troika name=itest-mon", "echo ready", LOOP_FOREVER]);
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &[]);
    wait_for_content(&out, "ready\n", JOB_DEADLINE);

    let user = current_user();
    t.monitor(&script, &["-u", &user]).expect_code(0);
    let stat = read_or_empty(sibling(&script, ".stat"));
    assert_eq!(stat.split_whitespace().next(), Some("JOBID"), "{stat}");
    let line = stat_line(&stat, &id).unwrap_or_else(|| panic!("no line for job {id} in:\n{stat}"));
    // JOBID PARTITION NAME USER ST TIME NODES NODELIST
    assert_eq!(line[2], "itest-mo", "{stat}");
    assert_eq!(line[3], user, "{stat}");
    assert_eq!(line[4], "R", "{stat}");

    // Another user's jobs: the job is not listed.
    t.monitor(&script, &["-u", "nobody"]);
    let stat = read_or_empty(sibling(&script, ".stat"));
    assert!(stat_line(&stat, &id).is_none(), "{stat}");

    // -j names the job explicitly.
    std::fs::remove_file(sibling(&script, ".stat")).unwrap();
    std::fs::remove_file(sibling(&script, ".jid")).unwrap();
    t.monitor(&script, &["-u", &user, "-j", &id]).expect_code(0);
    let stat = read_or_empty(sibling(&script, ".stat"));
    assert!(stat_line(&stat, &id).is_some(), "{stat}");
}

/// troika 0.2.7 runs `squeue -u $USER` (literal, expanded only by a remote
/// shell); on a local connection Slurm rejects that user and troika must
/// still report the job.
#[test]
fn slurm_monitor_without_user_writes_the_job_line() {
    require_slurm!();
    let t = SlurmTest::new("monitor-nouser");
    let script = t.script("job.sh", &["echo ready", LOOP_FOREVER]);
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &[]);
    wait_for_content(&out, "ready\n", JOB_DEADLINE);

    t.monitor(&script, &[]).expect_code(0);
    let stat = read_or_empty(sibling(&script, ".stat"));
    assert!(stat_line(&stat, &id).is_some(), "no line for job {id} in:\n{stat}");
    assert!(!stat.contains("Invalid user"), "{stat}");
}

#[test]
fn slurm_monitor_of_an_unknown_job_fails() {
    require_slurm!();
    let t = SlurmTest::new("monitor-unknown");
    let script = t.dir.join("none.sh");
    let user = current_user();
    let run = t.monitor(&script, &["-u", &user, "-j", UNKNOWN_JOB]);
    run.expect_code(1);
    assert!(run.stderr.contains("squeue failed"), "{}", run.stderr);
    let stat = read_or_empty(sibling(&script, ".stat"));
    assert!(stat.contains("Invalid job id specified"), "{stat}");
}

#[test]
fn slurm_kill_pending_job_cancels_it() {
    require_slurm!();
    let t = SlurmTest::new("kill-pending");
    // Eligible only in an hour: pending until then.
    let script = t.script(
        "job.sh",
        &["#SBATCH --begin=now+1hour", "# troika name=itest-pend", "echo ran"],
    );
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &[]);
    let rec = show_job(&id);
    assert_eq!(field(&rec, "JobState"), "PENDING", "{rec}");
    assert_eq!(field(&rec, "Reason"), "BeginTime", "{rec}");

    // A pending job is cancelled at once, whatever the kill sequence: no
    // signal, no 2 s wait.
    let run = t.kill("slurm-term-kill", &script, &[]);
    run.expect_code(0);
    assert!(run.elapsed < Duration::from_secs(2), "kill took {:?}", run.elapsed);
    assert_kill_status(&script, &id, "CANCELLED");
    let log = read_or_empty(sibling(&script, ".killlog"));
    assert!(log.contains(&format!("'scancel' '-t' 'PENDING' '{id}'")), "{log}");
    assert!(!log.contains("'-s'"), "{log}");
    let rec = show_job(&id);
    assert_eq!(field(&rec, "JobState"), "CANCELLED", "{rec}");
    assert!(!out.exists(), "a cancelled pending job wrote {}", out.display());
}

#[test]
fn slurm_kill_sequence_kills_a_job_that_traps_term() {
    require_slurm!();
    let t = SlurmTest::new("kill-trap");
    let script = t.script("job.sh", &["trap 'echo \"got TERM\"' TERM", "echo ready", LOOP_FOREVER]);
    let out = t.dir.join("job.out");
    let id = t.submit("slurm-term-kill", &script, &out, &[]);
    wait_for_content(&out, "ready\n", JOB_DEADLINE);

    let run = t.kill("slurm-term-kill", &script, &[]);
    run.expect_code(0);
    assert!(
        run.elapsed >= Duration::from_secs(2),
        "the kill sequence waits 2 s before SIGKILL, kill took {:?}",
        run.elapsed
    );
    assert_kill_status(&script, &id, "KILLED");
    let log = read_or_empty(sibling(&script, ".killlog"));
    for sig in ["15", "9"] {
        let cmd = format!("'scancel' '{id}' '-f' '-s' '{sig}'");
        assert!(log.contains(&cmd), "no {cmd} in\n{log}");
    }
    // The script caught SIGTERM and went on; SIGKILL ended it.
    let rec = wait_job_end(&id);
    assert_eq!(field(&rec, "ExitCode"), "0:9", "{rec}");
    assert!(read_or_empty(&out).contains("got TERM\n"), "{}", read_or_empty(&out));
}

#[test]
fn slurm_kill_sequence_term_ends_a_job_that_exits_on_term() {
    require_slurm!();
    let t = SlurmTest::new("kill-term");
    let script = t.script(
        "job.sh",
        &["trap 'echo \"got TERM\"; exit 3' TERM", "echo ready", LOOP_FOREVER],
    );
    let out = t.dir.join("job.out");
    let id = t.submit("slurm-term", &script, &out, &[]);
    wait_for_content(&out, "ready\n", JOB_DEADLINE);

    t.kill("slurm-term", &script, &[]).expect_code(0);
    assert_kill_status(&script, &id, "TERMINATED");
    // The script's own exit status: it handled SIGTERM.
    let rec = wait_job_end(&id);
    assert_eq!(field(&rec, "ExitCode"), "3:0", "{rec}");
    assert!(read_or_empty(&out).contains("got TERM\n"), "{}", read_or_empty(&out));
}

#[test]
fn slurm_kill_without_sequence_cancels_a_running_job() {
    require_slurm!();
    let t = SlurmTest::new("kill-plain");
    let script = t.script("job.sh", &["echo ready", LOOP_FOREVER, "echo not reached"]);
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &[]);
    wait_for_content(&out, "ready\n", JOB_DEADLINE);

    t.kill("slurm", &script, &[]).expect_code(0);
    assert_kill_status(&script, &id, "KILLED");
    let log = read_or_empty(sibling(&script, ".killlog"));
    assert!(log.contains(&format!("'scancel' '{id}'\n")), "{log}");
    let rec = wait_job_end(&id);
    assert_eq!(field(&rec, "JobState"), "CANCELLED", "{rec}");
    assert!(!read_or_empty(&out).contains("not reached"));
}

#[test]
fn slurm_kill_finished_or_unknown_job_is_vanished() {
    require_slurm!();
    let t = SlurmTest::new("kill-finished");
    let script = t.script("job.sh", &["echo done"]);
    let out = t.dir.join("job.out");
    let id = t.submit("slurm", &script, &out, &[]);
    wait_for_content(&out, "done\n", JOB_DEADLINE);
    assert_eq!(field(&wait_job_end(&id), "JobState"), "COMPLETED");
    // No longer in the queue (squeue lists it only with -t all).
    let (code, listed, err) = slurm_cmd("squeue", &["-h", "-o", "%T", "-j", &id]);
    assert_eq!((code, listed.trim()), (Some(0), ""), "{err}");

    t.kill("slurm", &script, &[]).expect_code(0);
    assert_kill_status(&script, &id, "VANISHED");
    assert_eq!(field(&show_job(&id), "JobState"), "COMPLETED");

    // A job id Slurm never knew.
    t.kill("slurm-term-kill", &script, &["-j", UNKNOWN_JOB]).expect_code(0);
    assert_kill_status(&script, UNKNOWN_JOB, "VANISHED");
}

#[test]
fn slurm_job_guard_cancels_on_drop() {
    require_slurm!();
    let id;
    {
        let t = SlurmTest::new("guard");
        let script = t.script("job.sh", &["#SBATCH --begin=now+1hour", "echo ran"]);
        id = t.submit("slurm", &script, &t.dir.join("job.out"), &[]);
        assert_eq!(field(&show_job(&id), "JobState"), "PENDING");
    }
    let rec = poll_until("the guard's scancel", JOB_DEADLINE, || {
        let rec = show_job(&id);
        (field(&rec, "JobState") != "PENDING").then_some(rec)
    });
    assert_eq!(field(&rec, "JobState"), "CANCELLED", "{rec}");
}
