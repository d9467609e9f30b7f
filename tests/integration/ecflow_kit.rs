//! What the ecFlow tests share: the server of `tests/services/ecflow.sh
//! up` in a scratch state directory, job header and trailer, suite
//! definitions, task states, diagnostics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{read_or_empty, repo_root, run_with_timeout, sibling, troika_bin, ScratchDir};

/// The usual ecFlow job header: the variables the child commands need, the
/// `--init`, and a trap that reports an abort (set -e failures, signals).
pub const HEAD: &str = r#"#!/bin/bash
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

pub const TAIL: &str = "wait\necflow_client --complete\ntrap - 0\nexit 0\n";

/// What ecFlow says about one task.
#[derive(Debug, Clone, Default)]
pub struct TaskState {
    pub state: String,
    pub abort_reason: String,
}

/// The server of `ecflow.sh up`, stopped on drop; also cleans up the jobs.
pub struct Server {
    state_dir: PathBuf,
    pub host: String,
    pub port: String,
    /// Job files whose jobs must not outlive the test: (site, job file).
    pub jobs: std::cell::RefCell<Vec<(String, PathBuf)>>,
    /// Suites deleted when the server stops.
    pub suites: std::cell::RefCell<Vec<String>>,
}

impl Server {
    pub fn start(state_dir: &Path) -> Server {
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
            suites: Default::default(),
        }
    }

    /// Runs `ecflow_client ARGS` against the server; panics when it fails.
    pub fn client(&self, args: &[&str]) -> String {
        let (code, out, err) = self.try_client(args);
        assert!(
            code == Some(0),
            "ecflow_client {args:?} exited with {code:?}:\n{out}{err}"
        );
        out
    }

    pub fn try_client(&self, args: &[&str]) -> (Option<i32>, String, String) {
        run(
            Command::new("ecflow_client")
                .args(args)
                .env("ECF_HOST", &self.host)
                .env("ECF_PORT", &self.port),
            Duration::from_secs(30),
        )
    }

    /// The state of every task of `suite`, by task name.
    pub fn tasks(&self, suite: &str) -> BTreeMap<String, TaskState> {
        let text = self.client(&[&format!("--get_state=/{suite}")]);
        parse_tasks(&text)
    }

    /// Waits until `done` holds for the tasks of `suite`, at most `limit`;
    /// fails at once when a task aborts unless `aborts_expected`.
    pub fn wait_for(
        &self,
        suite: &str,
        what: &str,
        aborts_expected: bool,
        done: impl Fn(&BTreeMap<String, TaskState>) -> bool,
        dir: &Path,
        limit: Duration,
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
            if (!aborts_expected && !aborted.is_empty()) || start.elapsed() > limit {
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
        for suite in self.suites.borrow().iter() {
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

pub fn service_script() -> PathBuf {
    repo_root().join("tests/services/ecflow.sh")
}

/// Runs a command with a time limit: (exit code, stdout, stderr).
pub fn run(cmd: &mut Command, timeout: Duration) -> (Option<i32>, String, String) {
    run_with_timeout(cmd, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads `task NAME # ... abort<:REASON>abort ... state:STATE` lines of
/// `ecflow_client --get_state`.
pub fn parse_tasks(text: &str) -> BTreeMap<String, TaskState> {
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
pub fn diagnostics(dir: &Path, suite: &str) -> String {
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
pub fn suite_def(name: &str, dir: &Path, cfg: &Path, tasks: &[(String, String)]) -> String {
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

pub fn write(p: &Path, text: &str) {
    std::fs::write(p, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
}

/// A scratch directory `tag` for a suite: `ecf/` and `files/` (with the job
/// header and trailer), the troika configuration `config` in
/// `troika.yml`, and a server started in `server/`. Returns the directory,
/// the configuration's path and the server.
pub fn setup(tag: &str, config: &str) -> (ScratchDir, PathBuf, Server) {
    let scratch = ScratchDir::new(tag);
    let dir = scratch.path().to_path_buf();
    for d in ["ecf", "files"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let cfg = dir.join("troika.yml");
    write(&cfg, config);
    write(&dir.join("files/head.h"), HEAD);
    write(&dir.join("files/tail.h"), TAIL);
    let server = Server::start(&dir.join("server"));
    (scratch, cfg, server)
}
