//! Fault injection on the real services: schedulers and connections that
//! fail the way real ones fail, while troika submits, queries and kills.
//! troika must ride the faults out: every submission ends with exactly one
//! job, or with a clear error, never with two.
//!
//! These tests stop and start the services of `tests/services/` (slurmctld,
//! sge_qmaster, sshd), so they are a test binary of their own: cargo runs
//! test binaries one after another, so no other test is running while a
//! service is down; within this binary they take [`ONE_AT_A_TIME`].
//!
//! `TROIKA_TEST_FAULT_SUBMISSIONS` sets the number of submissions of the
//! wrapped-sbatch test (500 by default), `TROIKA_TEST_ECFLOW_TASKS` the
//! number of ecFlow tasks that meet two slurmctld restarts (100).

#[path = "../integration/common.rs"]
mod common;
#[allow(dead_code)]
#[path = "../integration/ecflow_kit.rs"]
mod ecflow_kit;

mod ecflow;
mod kill;
mod services;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::{Case, TroikaRun};

/// One disruption at a time.
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `script` with bash; its standard output, trimmed. Panics when it
/// fails.
pub fn bash(script: &str) -> String {
    let out = Command::new("bash").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `tests/services/<name>.sh <action>`; panics when it fails.
pub fn service_script(name: &str, action: &str) {
    let script = common::repo_root().join(format!("tests/services/{name}.sh"));
    let out = Command::new(&script).arg(action).output().unwrap();
    assert!(
        out.status.success(),
        "{} {action}: {}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `tests/services/<name>.sh up`; whether it succeeded (what it said
/// goes to the test's output when it did not).
pub fn service_up(name: &str) -> bool {
    let script = common::repo_root().join(format!("tests/services/{name}.sh"));
    let out = Command::new(&script).arg("up").output().unwrap();
    if !out.status.success() {
        eprintln!(
            "{} up failed: {}{}",
            script.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.status.success()
}

/// Stops every process named `name` and waits until they are gone.
pub fn stop_process(name: &str) {
    bash(&format!(
        "pkill -x {name}; for i in $(seq 300); do pgrep -x {name} >/dev/null || exit 0; sleep 0.1; done; pkill -9 -x {name}; sleep 0.5"
    ));
}

/// The full path of a program on PATH.
pub fn which(program: &str) -> String {
    bash(&format!("command -v {program}"))
}

/// Writes one job script per name (`NAME.sh`, `# troika name=NAME`, then
/// `body`) and submits them all, `threads` at a time, with output in
/// `out/`; `during(i)` is called once submission `i` ended. The runs, by
/// name.
pub fn submit_all(
    c: &Case,
    site: &str,
    names: &[String],
    body: &str,
    threads: usize,
    during: &(dyn Fn(usize) + Sync),
) -> BTreeMap<String, TroikaRun> {
    c.write("out/.keep", "");
    for n in names {
        c.write_exec(&format!("{n}.sh"), format!("#!/bin/bash\n# troika name={n}\n{body}\n"));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let runs = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(n) = names.get(i) else { break };
                let r = c.troika(&["submit", site, &format!("{n}.sh"), "-o", &c.s(&format!("out/{n}.out"))]);
                runs.lock().unwrap().insert(n.clone(), r);
                during(i);
            });
        }
    });
    runs.into_inner().unwrap()
}

/// Asserts that every run succeeded and wrote its job id; the ids by name.
pub fn all_submitted(c: &Case, runs: &BTreeMap<String, TroikaRun>) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for (n, r) in runs {
        assert_eq!(
            r.code,
            Some(0),
            "{n}: submission failed:\n{}\n{}",
            r.stderr,
            c.read_or_empty(&format!("{n}.sh.submitlog"))
        );
        let jid = c.read(&format!("{n}.sh.jid")).trim().to_string();
        assert!(!jid.is_empty(), "{n}: empty .jid");
        ids.insert(n.clone(), jid);
    }
    let distinct: std::collections::BTreeSet<&String> = ids.values().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "two submissions got the same job id: {ids:?}"
    );
    ids
}

/// How many submissions logged a retry (`failed transiently`) or an
/// adoption (`carries this submission's tag`).
pub fn count_logs(c: &Case, names: &[String], words: &str) -> usize {
    names
        .iter()
        .filter(|n| c.read_or_empty(&format!("{n}.sh.submitlog")).contains(words))
        .count()
}

/// Names unique to this run of the test: `PREFIX-PID-NNNN`.
pub fn names(prefix: &str, n: usize) -> Vec<String> {
    let pid = std::process::id();
    (0..n).map(|i| format!("{prefix}-{pid}-{i:04}")).collect()
}

/// Waits until `f` holds, for at most `limit`.
pub fn wait(what: &str, limit: Duration, f: impl FnMut() -> bool) {
    common::wait_until(what, limit, f)
}

/// A service stopped once, from the submission that triggers it, and
/// started again in the background after a while.
pub struct Outage {
    stopped: std::sync::Once,
    restart: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Default for Outage {
    fn default() -> Self {
        Outage {
            stopped: std::sync::Once::new(),
            restart: Mutex::new(None),
        }
    }
}

impl Outage {
    /// Stops `process` (the first time only) and starts `service` again
    /// `secs` later.
    pub fn begin(&self, process: &'static str, service: &'static str, secs: u64, after: usize) {
        self.stopped.call_once(|| {
            stop_process(process);
            eprintln!("{process} stopped after submission {after}");
            *self.restart.lock().unwrap() = Some(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(secs));
                if !service_up(service) {
                    // Once more: a daemon just started can be missed by the script's check.
                    std::thread::sleep(Duration::from_secs(2));
                    service_script(service, "up");
                }
                eprintln!("{process} started again");
            }));
        });
    }

    /// Waits until the service is up again.
    pub fn end(&self) {
        if let Some(t) = self.restart.lock().unwrap().take() {
            t.join().unwrap();
        }
    }
}
