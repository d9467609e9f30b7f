//! ecFlow end to end: a real ecFlow server (started by
//! `tests/services/ecflow.sh up` in a scratch state directory, on a free
//! port) runs suites whose `ECF_JOB_CMD`, `ECF_KILL_CMD` and
//! `ECF_STATUS_CMD` call the troika binary under test, on a direct site and
//! on the real Slurm cluster of `tests/services/slurm.sh up`.
//!
//! 1. 20 short tasks (10 direct, 10 Slurm) run to completion.
//! 2. 5 long tasks start; `ecflow_client --status` makes troika write their
//!    `.stat` files; `ecflow_client --kill` makes troika kill them, and ecFlow
//!    must show each aborted, through the job's own trap (SIGTERM) or
//!    through the `abort_on_ecflow` hook (SIGKILL, a pending job cancelled).
//!
//! Without ecFlow installed the test is skipped, and without Slurm every
//! task runs on the direct site, loudly, or the test fails under
//! `TROIKA_TEST_REQUIRE_SERVICES=1` (see `common::Service`). It fails when
//! an installed ecFlow cannot be started.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{
    read_or_empty, repo_root, run_with_timeout, service, service_for, sibling, test_name, troika_bin, ScratchDir,
    Service,
};

const DEADLINE: Duration = Duration::from_secs(60);
const QUICK: &str = "troika_quick";
const LONG: &str = "troika_long";

/// The troika configuration used by the suites.
const CONFIG: &str = "\
sites:
  direct:
    type: direct
    connection: local
    post_kill: [abort_on_ecflow]
  direct-kill9:
    type: direct
    connection: local
    kill_sequence: [[0, KILL]]
    post_kill: [abort_on_ecflow]
  slurm:
    type: slurm
    connection: local
    command_timeout: 60
    kill_sequence: [[0, TERM]]
    post_kill: [abort_on_ecflow]
    directive_translate: &ecf {ecflow_name: null, ecflow_pass: null, ecflow_host: null, ecflow_port: null, ecflow_tryno: null}
  slurm-kill9:
    type: slurm
    connection: local
    command_timeout: 60
    kill_sequence: [[0, KILL]]
    post_kill: [abort_on_ecflow]
    directive_translate: *ecf
";

/// The usual ecFlow job header: the variables the child commands need, the
/// `--init`, and a trap that reports an abort (set -e failures, signals).
const HEAD: &str = r#"#!/bin/bash
# troika ecflow_name=%ECF_NAME%
# troika ecflow_pass=%ECF_PASS%
# troika ecflow_host=%TEST_ECF_HOST%
# troika ecflow_port=%ECF_PORT%
# troika ecflow_tryno=%ECF_TRYNO%
set -eu
export ECF_NAME=%ECF_NAME% ECF_PASS=%ECF_PASS% ECF_HOST=%TEST_ECF_HOST% ECF_PORT=%ECF_PORT%
export ECF_TRYNO=%ECF_TRYNO% ECF_RID=$$ ECF_TIMEOUT=60
ERROR() {
    set +e
    ecflow_client --abort=trap
    trap - 0
    exit 0
}
trap ERROR 0
trap '{ echo "Killed by a signal"; ERROR; }' 1 2 3 15
ecflow_client --init=$$
"#;

const TAIL: &str = "wait\necflow_client --complete\ntrap - 0\nexit 0\n";

/// What ecFlow says about one task.
#[derive(Debug, Clone, Default)]
struct TaskState {
    state: String,
    abort_reason: String,
}

/// The server of `ecflow.sh up`, stopped on drop; also cleans up the jobs.
struct Server {
    state_dir: PathBuf,
    host: String,
    port: String,
    /// Job files whose jobs must not outlive the test: (site, job file).
    jobs: std::cell::RefCell<Vec<(String, PathBuf)>>,
}

impl Server {
    fn start(state_dir: &Path) -> Server {
        let (code, _, err) = run(
            Command::new("bash")
                .arg(service_script())
                .arg("up")
                .env("TROIKA_TEST_ECFLOW_STATE", state_dir),
            Duration::from_secs(300),
        );
        assert!(
            code == Some(0),
            "the ecFlow server could not be started (tests/services/ecflow.sh up exited with {code:?}):\n{err}\n\
             Set TROIKA_TEST_NO_ECFLOW=1 to skip the ecFlow test"
        );
        let port = std::fs::read_to_string(state_dir.join("port"))
            .expect("ecflow.sh wrote no port file")
            .trim()
            .to_string();
        Server {
            state_dir: state_dir.to_path_buf(),
            host: "127.0.0.1".into(),
            port,
            jobs: Default::default(),
        }
    }

    /// Runs `ecflow_client ARGS` against the server; panics when it fails.
    fn client(&self, args: &[&str]) -> String {
        let (code, out, err) = self.try_client(args);
        assert!(
            code == Some(0),
            "ecflow_client {args:?} exited with {code:?}:\n{out}{err}"
        );
        out
    }

    fn try_client(&self, args: &[&str]) -> (Option<i32>, String, String) {
        run(
            Command::new("ecflow_client")
                .args(args)
                .env("ECF_HOST", &self.host)
                .env("ECF_PORT", &self.port),
            Duration::from_secs(30),
        )
    }

    /// The state of every task of `suite`, by task name.
    fn tasks(&self, suite: &str) -> BTreeMap<String, TaskState> {
        let text = self.client(&[&format!("--get_state=/{suite}")]);
        parse_tasks(&text)
    }

    /// Waits until `done` holds for the tasks of `suite`; fails at once when
    /// a task aborts unless `aborts_expected`.
    fn wait_for(
        &self,
        suite: &str,
        what: &str,
        aborts_expected: bool,
        done: impl Fn(&BTreeMap<String, TaskState>) -> bool,
        dir: &Path,
    ) -> BTreeMap<String, TaskState> {
        let start = Instant::now();
        loop {
            let tasks = self.tasks(suite);
            if done(&tasks) {
                return tasks;
            }
            let aborted: Vec<&String> = tasks
                .iter()
                .filter(|(_, t)| t.state == "aborted")
                .map(|(n, _)| n)
                .collect();
            if (!aborts_expected && !aborted.is_empty()) || start.elapsed() > DEADLINE {
                panic!(
                    "waiting for {what} in /{suite}: {} after {:?}\ntasks: {tasks:#?}\n{}",
                    if aborted.is_empty() {
                        "timed out"
                    } else {
                        "tasks aborted"
                    },
                    start.elapsed(),
                    diagnostics(dir, suite)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Jobs first: the server would otherwise see them as zombies.
        for (site, job) in self.jobs.borrow().iter() {
            let Ok(jid) = std::fs::read_to_string(sibling(job, ".jid")) else {
                continue;
            };
            let jid = jid.trim();
            if site.starts_with("slurm") {
                let _ = run(Command::new("scancel").arg(jid), Duration::from_secs(30));
            } else if let Ok(pid) = jid.parse::<i32>() {
                // Only a job of this test: its command line names the job file.
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&job.display().to_string()) {
                    let _ =
                        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                }
            }
        }
        for suite in [QUICK, LONG] {
            let _ = self.try_client(&[&format!("--delete=/{suite}"), "yes"]);
        }
        let _ = run(
            Command::new("bash")
                .arg(service_script())
                .arg("down")
                .env("TROIKA_TEST_ECFLOW_STATE", &self.state_dir),
            Duration::from_secs(60),
        );
    }
}

fn service_script() -> PathBuf {
    repo_root().join("tests/services/ecflow.sh")
}

/// Runs a command with a time limit: (exit code, stdout, stderr).
fn run(cmd: &mut Command, timeout: Duration) -> (Option<i32>, String, String) {
    run_with_timeout(cmd, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads `task NAME # ... abort<:REASON>abort ... state:STATE` lines of
/// `ecflow_client --get_state`.
fn parse_tasks(text: &str) -> BTreeMap<String, TaskState> {
    let mut tasks = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix("task ") else {
            continue;
        };
        let (name, attrs) = rest.split_once(" # ").unwrap_or((rest, ""));
        let state = attrs
            .split_whitespace()
            .find_map(|w| w.strip_prefix("state:"))
            .unwrap_or("unknown")
            .to_string();
        let abort_reason = attrs
            .split_once("abort<:")
            .and_then(|(_, r)| r.split_once(">abort"))
            .map(|(r, _)| r.to_string())
            .unwrap_or_default();
        tasks.insert(name.trim().to_string(), TaskState { state, abort_reason });
    }
    tasks
}

/// The files troika and the jobs left for `suite`, for failure messages.
fn diagnostics(dir: &Path, suite: &str) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir.join("ecf").join(suite)) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if [".sub", ".kill", ".mon", "log", ".1"].iter().any(|s| name.ends_with(s)) {
            let text = read_or_empty(&p);
            let tail: Vec<&str> = text.lines().rev().take(8).collect();
            out.push_str(&format!("--- {name}:\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

/// A suite definition: tasks as (name, site), each task in the suite's only
/// family `f`.
fn suite_def(name: &str, dir: &Path, cfg: &Path, tasks: &[(String, String)]) -> String {
    let troika = troika_bin();
    let mut s = format!(
        "suite {name}\n\
         \x20 edit ECF_HOME '{home}'\n\
         \x20 edit ECF_FILES '{files}'\n\
         \x20 edit ECF_INCLUDE '{files}'\n\
         \x20 edit ECF_TRIES '1'\n\
         \x20 edit TEST_ECF_HOST '127.0.0.1'\n\
         \x20 edit TROIKA '{troika} -c {cfg}'\n\
         \x20 edit ECF_JOB_CMD '%TROIKA% submit -o %ECF_JOBOUT% %SITE% %ECF_JOB% > %ECF_JOB%.sub 2>&1'\n\
         \x20 edit ECF_KILL_CMD '%TROIKA% kill -o %ECF_JOBOUT% %SITE% %ECF_JOB% > %ECF_JOB%.kill 2>&1'\n\
         \x20 edit ECF_STATUS_CMD '%TROIKA% monitor -o %ECF_JOBOUT% %SITE% %ECF_JOB% > %ECF_JOB%.mon 2>&1'\n",
        home = dir.join("ecf").display(),
        files = dir.join("files").display(),
        troika = troika.display(),
        cfg = cfg.display(),
    );
    for (task, site) in tasks {
        s.push_str(&format!("  task {task}\n    edit SITE '{site}'\n"));
    }
    s.push_str("endsuite\n");
    s
}

fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
}

#[test]
fn ecflow_runs_kills_and_monitors_jobs_through_troika() {
    if !service(Service::Ecflow) {
        return;
    }
    // Without Slurm, its half of the tasks runs on the direct site.
    let slurm = service_for(Service::Slurm, &format!("{} (Slurm tasks)", test_name()));
    let started = Instant::now();
    let scratch = ScratchDir::new("ecflow");
    let dir = scratch.path().to_path_buf();
    for d in ["ecf", "files"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let cfg = dir.join("troika.yml");
    write(&cfg, CONFIG);
    write(&dir.join("files/head.h"), HEAD);
    write(&dir.join("files/tail.h"), TAIL);
    let server = Server::start(&dir.join("server"));
    let slurm_site = |s: &str| if slurm { s.to_string() } else { "direct".to_string() };

    // 1. Twenty short tasks, half direct, half on Slurm.
    let mut quick = Vec::new();
    for i in 1..=10 {
        quick.push((format!("d{i:02}"), "direct".to_string()));
        quick.push((format!("s{i:02}"), slurm_site("slurm")));
    }
    for (task, site) in &quick {
        write(
            &dir.join(format!("files/{task}.ecf")),
            &format!("%include <head.h>\necho \"task %ECF_NAME% on {site}: done\"\n%include <tail.h>\n"),
        );
        server
            .jobs
            .borrow_mut()
            .push((site.clone(), dir.join(format!("ecf/{QUICK}/{task}.job1"))));
    }
    let def = dir.join("quick.def");
    write(&def, &suite_def(QUICK, &dir, &cfg, &quick));
    server.client(&[&format!("--load={}", def.display())]);
    server.client(&[&format!("--begin={QUICK}")]);
    let tasks = server.wait_for(
        QUICK,
        "20 tasks to complete",
        false,
        |t| t.len() == quick.len() && t.values().all(|s| s.state == "complete"),
        &dir,
    );
    assert_eq!(tasks.len(), 20);
    for (task, site) in &quick {
        let job = dir.join(format!("ecf/{QUICK}/{task}.job1"));
        let out = read_or_empty(dir.join(format!("ecf/{QUICK}/{task}.1")));
        assert!(
            out.contains(&format!("task /{QUICK}/{task} on {site}: done")),
            "{task}: job output {out:?}"
        );
        let jid = read_or_empty(sibling(&job, ".jid"));
        assert!(
            !jid.trim().is_empty() && jid.trim().bytes().all(|c| c.is_ascii_digit()),
            "{task}: job id {jid:?}"
        );
        let orig = std::fs::read_to_string(sibling(&job, ".orig")).unwrap();
        assert!(
            orig.contains(&format!("# troika ecflow_name=/{QUICK}/{task}")),
            "{orig}"
        );
        let generated = std::fs::read_to_string(&job).unwrap();
        assert!(
            !generated.contains("# troika"),
            "{task}: directives left in {generated}"
        );
        if site.starts_with("slurm") {
            assert!(generated.contains("#SBATCH --output="), "{task}: {generated}");
        }
        let sub = std::fs::read_to_string(sibling(&job, ".sub")).unwrap();
        assert!(!sub.contains("WARNING") && !sub.contains("CRITICAL"), "{task}: {sub}");
    }
    eprintln!("20 tasks complete after {:?}", started.elapsed());

    // 2. Long tasks: started, monitored, killed.
    // (name, site, extra script lines, abort reasons accepted)
    let mut long: Vec<(&str, String, &str, &[&str])> = vec![
        ("dterm", "direct".into(), "", &["trap"]),
        ("dkill", "direct-kill9".into(), "", &["Killed forcefully"]),
    ];
    if slurm {
        long.push(("sterm", "slurm".into(), "", &["trap"]));
        // The batch script may still run its exit trap as Slurm ends the
        // job: either abort reaches ecFlow first.
        long.push(("skill", "slurm-kill9".into(), "", &["Killed forcefully", "trap"]));
        // Held in the queue: cancelled before it starts.
        long.push((
            "spend",
            "slurm".into(),
            "#SBATCH --begin=now+3600\n",
            &["Cancelled before starting"],
        ));
    }
    for (task, site, extra, _) in &long {
        write(
            &dir.join(format!("files/{task}.ecf")),
            &format!("%include <head.h>\n{extra}echo \"task %ECF_NAME% started\"\nsleep 600 &\n%include <tail.h>\n"),
        );
        server
            .jobs
            .borrow_mut()
            .push((site.clone(), dir.join(format!("ecf/{LONG}/{task}.job1"))));
    }
    let pairs: Vec<(String, String)> = long.iter().map(|(t, s, _, _)| (t.to_string(), s.clone())).collect();
    let def = dir.join("long.def");
    write(&def, &suite_def(LONG, &dir, &cfg, &pairs));
    server.client(&[&format!("--load={}", def.display())]);
    server.client(&[&format!("--begin={LONG}")]);
    let job = |task: &str| dir.join(format!("ecf/{LONG}/{task}.job1"));
    server.wait_for(
        LONG,
        "the long tasks to run (the pending one to be submitted)",
        false,
        |t| {
            long.iter().all(|(name, _, extra, _)| {
                let want = if extra.is_empty() { "active" } else { "submitted" };
                t.get(*name).is_some_and(|s| s.state == want) && sibling(&job(name), ".jid").exists()
            })
        },
        &dir,
    );

    // Status requests: ecFlow runs ECF_STATUS_CMD, troika writes <job>.stat.
    for (task, ..) in &long {
        server.client(&["--status", &format!("/{LONG}/{task}")]);
    }
    for (task, site, ..) in &long {
        let stat = sibling(&job(task), ".stat");
        let jid = std::fs::read_to_string(sibling(&job(task), ".jid")).unwrap();
        let jid = jid.trim();
        let start = Instant::now();
        let text = loop {
            let text = read_or_empty(&stat);
            if text.contains(jid) {
                break text;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{task}: no status with job {jid} in {} after {:?}: {text:?}\n{}",
                stat.display(),
                start.elapsed(),
                diagnostics(&dir, LONG)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if site.starts_with("slurm") {
            assert!(text.contains("JOBID"), "{task}: squeue output expected: {text}");
        } else {
            assert!(
                text.contains(&job(task).display().to_string()),
                "{task}: ps output expected: {text}"
            );
        }
    }

    // Kill requests: ecFlow runs ECF_KILL_CMD, troika kills; every task must
    // end up aborted, with the reason of the path it took.
    for (task, ..) in &long {
        server.client(&["--kill", &format!("/{LONG}/{task}")]);
    }
    let tasks = server.wait_for(
        LONG,
        "the killed tasks to abort",
        true,
        |t| {
            long.iter()
                .all(|(name, ..)| t.get(*name).is_some_and(|s| s.state == "aborted"))
        },
        &dir,
    );
    for (task, _, _, reasons) in &long {
        let st = &tasks[*task];
        assert!(
            reasons.contains(&st.abort_reason.as_str()),
            "{task}: aborted with reason {:?}, expected one of {reasons:?}\n{}",
            st.abort_reason,
            diagnostics(&dir, LONG)
        );
        let kill_out = read_or_empty(sibling(&job(task), ".kill"));
        assert!(!kill_out.contains("CRITICAL"), "{task}: troika kill failed: {kill_out}");
        let killlog = read_or_empty(sibling(&job(task), ".killlog"));
        let hook_called = killlog.contains("'ecflow_client' '--abort=");
        let expect_hook = !reasons.contains(&"trap");
        let expect_hook = expect_hook || *task == "skill";
        assert_eq!(
            hook_called, expect_hook,
            "{task}: abort_on_ecflow call in the kill log: {hook_called}, expected {expect_hook}\n{killlog}"
        );
    }
    eprintln!("ecFlow test done in {:?}", started.elapsed());
    drop(server);
    drop(scratch);
}
