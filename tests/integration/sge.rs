//! The sge site against a real Grid Engine cell (Son of Grid Engine 8.1.9)
//! on this machine, started by `tests/services/sge.sh up`: queue `all.q` on
//! this host, scheduling every second.
//!
//! Without a reachable cell the tests are skipped, loudly, or fail under
//! `TROIKA_TEST_REQUIRE_SERVICES=1` (see `common::Service`).

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{describe, read_or_empty, service, troika_bin, wait_until, ScratchDir, Service, SgeEnv};

/// How to reach the cell: the environment its commands need.
struct Sge {
    root: String,
    cell: String,
    queue: String,
}

/// The cell, or None when the test is to be skipped (see
/// [`crate::common::Service`]).
fn sge() -> Option<Sge> {
    service(Service::Sge).then(|| {
        let SgeEnv { root, cell, queue } = SgeEnv::from_env();
        Sge { root, cell, queue }
    })
}

impl Sge {
    fn command(&self, program: &Path) -> std::process::Command {
        let mut c = std::process::Command::new(program);
        c.env("SGE_ROOT", &self.root).env("SGE_CELL", &self.cell);
        c
    }

    /// A Grid Engine command.
    fn cmd(&self, program: &str, args: &[&str]) -> Output {
        self.command(Path::new(program))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// troika with the test configuration, in `dir`.
    fn troika(&self, dir: &ScratchDir, args: &[&str]) -> Output {
        self.command(&troika_bin())
            .arg("-c")
            .arg(dir.join("troika.yml"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    }

    /// Whether Grid Engine still knows the job (pending, held, running).
    fn knows(&self, jid: &str) -> bool {
        self.cmd("qstat", &["-j", jid]).status.success()
    }

    /// The job's state in `qstat -u '*'` (`qw`, `hqw`, `r`, ...), empty when
    /// it is not listed.
    fn state(&self, jid: &str) -> String {
        let out = self.cmd("qstat", &["-u", "*"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.first() == Some(&jid))
            .and_then(|w| w.get(4).map(|s| s.to_string()))
            .unwrap_or_default()
    }
}

/// Deletes the job when a test ends before it did.
struct Job<'a> {
    sge: &'a Sge,
    jid: String,
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        if self.sge.knows(&self.jid) {
            let _ = self.sge.cmd("qdel", &[&self.jid]);
        }
    }
}

const CONFIG: &str = "\
sites:
  sge:
    type: sge
    connection: local
  sge_terse:
    type: sge
    connection: local
    qsub_command: [qsub, -terse]
    translators: [join_output_error]
  sge_sequence:
    type: sge
    connection: local
    kill_sequence: [[0, TERM], [2, KILL]]
";

/// A scratch directory with the test configuration.
fn scratch(tag: &str) -> ScratchDir {
    let d = ScratchDir::new(&format!("sge-{tag}"));
    d.write("troika.yml", CONFIG, 0o644);
    d
}

const LIMIT: Duration = Duration::from_secs(60);

/// Submits `job.sh` of `dir` to `site` with output `job.out`; returns the job.
fn submit<'a>(sge: &'a Sge, dir: &ScratchDir, site: &str) -> Job<'a> {
    let out = sge.troika(
        dir,
        &[
            "submit",
            site,
            &dir.join("job.sh").display().to_string(),
            "-o",
            &dir.join("job.out").display().to_string(),
        ],
    );
    assert!(out.status.success(), "submit failed\n{}", describe(&out));
    let jid = read_or_empty(dir.join("job.sh.jid")).trim().to_string();
    assert!(
        !jid.is_empty() && jid.bytes().all(|c| c.is_ascii_digit()),
        "job id file: {jid:?}\n{}",
        describe(&out)
    );
    Job { sge, jid }
}

#[test]
fn sge_submit_runs_the_job_with_translated_directives() {
    let Some(sge) = sge() else { return };
    let dir = scratch("submit");
    dir.write(
        "job.sh",
        &format!(
            "#!/bin/bash\n# troika name=troika_submit\n# troika walltime=00:05:00\n# troika error_file={}\n\
             echo \"hello from $JOB_ID ($JOB_NAME) in $QUEUE\"\necho 'to stderr' >&2\n",
            dir.join("job.err").display()
        ),
        0o755,
    );
    let job = submit(&sge, &dir, "sge");
    let script = read_or_empty(dir.join("job.sh"));
    for line in [
        "#$ -N troika_submit\n".to_string(),
        "#$ -l h_rt=00:05:00\n".to_string(),
        format!("#$ -e {}\n", dir.join("job.err").display()),
        format!("#$ -o {}\n", dir.join("job.out").display()),
    ] {
        assert!(
            script.contains(&line),
            "{line:?} not in the generated script:\n{script}"
        );
    }
    let want = format!("hello from {} (troika_submit) in {}\n", job.jid, sge.queue);
    wait_until("the job's output", LIMIT, || read_or_empty(dir.join("job.out")) == want);
    wait_until("the job's error output", LIMIT, || {
        read_or_empty(dir.join("job.err")) == "to stderr\n"
    });
    // The job really ran through Grid Engine: it leaves the queue.
    wait_until("the job to leave the queue", LIMIT, || !sge.knows(&job.jid));
}

#[test]
fn sge_submit_with_terse_output_and_joined_streams() {
    let Some(sge) = sge() else { return };
    let dir = scratch("terse");
    dir.write("job.sh", "#!/bin/sh\necho out\necho err >&2\n", 0o755);
    let job = submit(&sge, &dir, "sge_terse");
    assert!(
        read_or_empty(dir.join("job.sh")).contains("\n#$ -j y\n"),
        "{}",
        read_or_empty(dir.join("job.sh"))
    );
    wait_until("the joined output", LIMIT, || {
        let o = read_or_empty(dir.join("job.out"));
        o.contains("out\n") && o.contains("err\n")
    });
    wait_until("the job to leave the queue", LIMIT, || !sge.knows(&job.jid));
}

#[test]
fn sge_monitor_and_kill_a_held_job() {
    let Some(sge) = sge() else { return };
    let dir = scratch("held");
    // A native directive: the job is held, it waits until released or deleted.
    dir.write(
        "job.sh",
        "#!/bin/sh\n#$ -h\n# troika name=troika_held\necho ran\n",
        0o755,
    );
    let job = submit(&sge, &dir, "sge");
    wait_until("the job to be held", LIMIT, || sge.state(&job.jid) == "hqw");

    let out = sge.troika(&dir, &["monitor", "sge", &dir.join("job.sh").display().to_string()]);
    assert!(out.status.success(), "monitor failed\n{}", describe(&out));
    let stat = read_or_empty(dir.join("job.sh.stat"));
    assert!(
        stat.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["job_number:", &job.jid]),
        "{stat}"
    );
    assert!(stat.contains("troika_held"), "{stat}");

    let out = sge.troika(&dir, &["-vv", "kill", "sge", &dir.join("job.sh").display().to_string()]);
    assert!(out.status.success(), "kill failed\n{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Kill of job {}: CANCELLED", job.jid)), "{err}");
    assert!(!sge.knows(&job.jid), "the job is still known after the kill");
    assert_eq!(read_or_empty(dir.join("job.out")), "", "a held job must not run");
}

#[test]
fn sge_kill_a_running_job_with_qdel_whatever_the_kill_sequence() {
    let Some(sge) = sge() else { return };
    let dir = scratch("running");
    dir.write(
        "job.sh",
        "#!/bin/bash\ntrap 'echo got TERM; exit 3' TERM\necho started\nsleep 300 &\nwait\necho finished\n",
        0o755,
    );
    let job = submit(&sge, &dir, "sge_sequence");
    wait_until("the job to start", LIMIT, || {
        read_or_empty(dir.join("job.out")).contains("started")
    });
    assert_eq!(sge.state(&job.jid), "r");

    let start = Instant::now();
    let out = sge.troika(
        &dir,
        &["-vv", "kill", "sge_sequence", &dir.join("job.sh").display().to_string()],
    );
    assert!(out.status.success(), "kill failed\n{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Kill of job {}: KILLED", job.jid)), "{err}");
    assert!(err.contains("kill_sequence is not used"), "{err}");
    // One qdel: no waiting for the sequence's 2 s step.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "kill took {:?}",
        start.elapsed()
    );
    wait_until("the job to leave the queue", LIMIT, || !sge.knows(&job.jid));
    // qdel sends SIGKILL: the job's TERM trap never runs.
    assert_eq!(read_or_empty(dir.join("job.out")), "started\n");
}

#[test]
fn sge_unknown_job_monitor_fails_and_kill_reports_vanished() {
    let Some(sge) = sge() else { return };
    let dir = scratch("unknown");
    dir.write("job.sh", "#!/bin/sh\necho x\n", 0o755);
    let jid = "987654";
    assert!(!sge.knows(jid));

    let out = sge.troika(
        &dir,
        &["monitor", "sge", &dir.join("job.sh").display().to_string(), "-j", jid],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("qstat failed with exit code 1"),
        "{}",
        describe(&out)
    );
    assert!(
        read_or_empty(dir.join("job.sh.stat")).contains("Following jobs do not exist"),
        "{}",
        read_or_empty(dir.join("job.sh.stat"))
    );

    let out = sge.troika(
        &dir,
        &[
            "-vv",
            "kill",
            "sge",
            &dir.join("job.sh").display().to_string(),
            "-j",
            jid,
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Kill of job {jid}: VANISHED")),
        "{}",
        describe(&out)
    );

    let out = sge.troika(
        &dir,
        &["kill", "sge", &dir.join("job.sh").display().to_string(), "-j", "12abc"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid job id: '12abc'"),
        "{}",
        describe(&out)
    );
}

#[test]
fn sge_submit_failure_reports_qsub_error() {
    let Some(sge) = sge() else { return };
    let dir = scratch("fail");
    dir.write("job.sh", "#!/bin/sh\n# troika queue=nosuch.q\necho x\n", 0o755);
    let out = sge.troika(
        &dir,
        &[
            "submit",
            "sge",
            &dir.join("job.sh").display().to_string(),
            "-o",
            &dir.join("job.out").display().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Submission failed with exit code 1"), "{err}");
    assert!(err.contains("unknown queue \"nosuch.q\""), "{err}");
    assert!(!dir.join("job.sh.jid").exists());
}
