//! The direct site with real processes: scripts run detached on this
//! machine, the job id is the process id.
//!
//! A job that has ended stays a zombie until init reaps it (here within about
//! 2 s): "gone" below means no process, or a zombie. Each test works in its
//! own scratch directory, which is also the jobs' working directory; the
//! process groups of its jobs still alive at the end are killed.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::common::{poll_until, read_jid, read_or_empty, sibling, troika_in, wait_for_content, ScratchDir, TroikaRun};

/// How long a process may take to start writing, or to die once killed.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long init may take to reap an ended job.
const REAP_DEADLINE: Duration = Duration::from_secs(30);

const CONFIG: &str = "\
sites:
  direct:
    type: direct
    connection: local
  direct-shell:
    type: direct
    connection: local
    use_shell: true
  direct-term-kill:
    type: direct
    connection: local
    kill_sequence: [[0, TERM], [1, KILL]]
";

/// The state letter of process `pid` (`R`, `S`, `Z`...), `None` without one.
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": comm may contain anything, the state follows the last ')'.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Running, not a zombie.
fn alive(pid: i32) -> bool {
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

fn wait_gone(pid: i32) {
    poll_until(&format!("process {pid} to end"), DEADLINE, || {
        (!alive(pid)).then_some(())
    });
}

fn cmdline(pid: i32) -> String {
    read_or_empty(format!("/proc/{pid}/cmdline")).replace('\0', " ")
}

/// The number after `word ` in a job's output (`child 1234`).
fn number_after(output: &str, word: &str) -> i32 {
    let prefix = format!("{word} ");
    output
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no '{word} N' line in {output:?}"))
}

/// One test's scratch directory and configuration; the jobs it started.
struct DirectTest {
    pids: RefCell<Vec<i32>>,
    config: PathBuf,
    dir: ScratchDir,
}

impl DirectTest {
    fn new(name: &str) -> DirectTest {
        let dir = ScratchDir::new(&format!("direct-{name}"));
        let config = dir.write("troika.yml", CONFIG, 0o644);
        DirectTest {
            pids: RefCell::new(Vec::new()),
            config,
            dir,
        }
    }

    /// A bash script made of `lines`, with `mode`.
    fn script(&self, name: &str, lines: &[&str], mode: u32) -> PathBuf {
        let mut s = String::from("#!/bin/bash\n");
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        self.dir.write(name, &s, mode)
    }

    fn troika(&self, args: &[&str]) -> TroikaRun {
        let mut all = vec!["-c", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        troika_in(self.dir.path(), &all)
    }

    fn run_submit(&self, site: &str, script: &Path, out: &Path) -> TroikaRun {
        let run = self.troika(&["submit", site, script.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        if let Some(pid) = std::fs::read_to_string(sibling(script, ".jid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            self.pids.borrow_mut().push(pid);
        }
        run
    }

    /// Submits `script`; returns the job id, a process id.
    fn submit(&self, site: &str, script: &Path, out: &Path) -> i32 {
        self.run_submit(site, script, out).expect_code(0);
        read_jid(script).parse().unwrap()
    }

    fn kill(&self, site: &str, script: &Path, extra: &[&str]) -> TroikaRun {
        let mut args = vec!["kill", site, script.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.troika(&args)
    }

    fn monitor(&self, script: &Path) -> TroikaRun {
        self.troika(&["monitor", "direct", script.to_str().unwrap()])
    }

    /// Whether `pid` is a live process of this test: it runs in the scratch
    /// directory (guards against a reused process id).
    fn owns(&self, pid: i32) -> bool {
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"));
        matches!((cwd, self.dir.path().canonicalize()), (Ok(c), Ok(d)) if c == d)
    }
}

impl Drop for DirectTest {
    fn drop(&mut self) {
        for &pid in self.pids.borrow().iter() {
            if alive(pid) && self.owns(pid) {
                // Jobs lead their own process group (a new session).
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// `<script>.killlog` records the final status of the kill.
fn assert_kill_status(script: &Path, pid: i32, status: &str) {
    let log = read_or_empty(sibling(script, ".killlog"));
    let want = format!("; troika.controller; DEBUG; Kill of job {pid}: {status}\n");
    assert!(
        log.contains(&want),
        "{}.killlog does not contain {want:?}:\n{log}",
        script.display()
    );
}

#[test]
fn direct_submit_runs_the_script_and_monitor_reports_it() {
    let t = DirectTest::new("submit");
    let go = t.dir.join("go");
    let wait_go = format!("while [ ! -e '{}' ]; do sleep 0.05; done", go.display());
    let script = t.script(
        "job.sh",
        &[
            "# troika name=direct-job",
            "echo \"job $$ in $(pwd -P)\"",
            &wait_go,
            "echo done",
        ],
        0o755,
    );
    let original = read_or_empty(&script);
    let out = t.dir.join("job.out");
    let pid = t.submit("direct", &script, &out);

    // The script is the process troika recorded, and it runs in the
    // submission directory.
    let output = wait_for_content(&out, "\n", DEADLINE);
    let dir = t.dir.path().canonicalize().unwrap();
    assert_eq!(output, format!("job {pid} in {}\n", dir.display()));
    assert!(alive(pid), "job {pid} is not running");
    assert!(cmdline(pid).contains(script.to_str().unwrap()), "{}", cmdline(pid));
    // `# troika` lines are removed, the original kept.
    assert!(!read_or_empty(&script).contains("# troika"));
    assert_eq!(read_or_empty(sibling(&script, ".orig")), original);

    t.monitor(&script).expect_code(0);
    let stat = read_or_empty(sibling(&script, ".stat"));
    let mut lines = stat.lines();
    assert!(
        lines.next().is_some_and(|h| h.contains("PID")),
        "no ps header in {stat:?}"
    );
    let line = lines
        .find(|l| l.split_whitespace().nth(2) == Some(&pid.to_string()))
        .unwrap_or_else(|| panic!("no line for process {pid} in:\n{stat}"));
    assert!(line.contains(script.to_str().unwrap()), "{line}");

    std::fs::write(&go, "").unwrap();
    wait_for_content(&out, "done\n", DEADLINE);
    wait_gone(pid);
}

#[test]
fn direct_kill_ends_the_job_and_its_children() {
    let t = DirectTest::new("kill");
    let script = t.script(
        "job.sh",
        &["sleep 300 &", "echo \"child $!\"", "wait", "echo not reached"],
        0o755,
    );
    let out = t.dir.join("job.out");
    let pid = t.submit("direct", &script, &out);
    let child = number_after(&wait_for_content(&out, "child", DEADLINE), "child");
    assert!(alive(pid) && alive(child), "job {pid} or child {child} not running");

    t.kill("direct", &script, &[]).expect_code(0);
    // The default kill sequence is one SIGTERM.
    assert_kill_status(&script, pid, "TERMINATED");
    wait_gone(pid);
    wait_gone(child);
    assert!(!read_or_empty(&out).contains("not reached"));
}

#[test]
fn direct_kill_sequence_kills_a_job_that_traps_term() {
    let t = DirectTest::new("kill-trap");
    let script = t.script(
        "job.sh",
        &[
            "trap 'echo \"got TERM\"' TERM",
            // A child that ignores SIGTERM: only the SIGKILL to the group ends it.
            "(trap '' TERM; while true; do sleep 0.1; done) &",
            "echo \"child $!\"",
            "while true; do sleep 0.1; done",
        ],
        0o755,
    );
    let out = t.dir.join("job.out");
    let pid = t.submit("direct-term-kill", &script, &out);
    let child = number_after(&wait_for_content(&out, "child", DEADLINE), "child");

    let run = t.kill("direct-term-kill", &script, &[]);
    run.expect_code(0);
    assert!(
        run.elapsed >= Duration::from_secs(1),
        "the kill sequence waits 1 s before SIGKILL, kill took {:?}",
        run.elapsed
    );
    assert_kill_status(&script, pid, "KILLED");
    let log = read_or_empty(sibling(&script, ".killlog"));
    for sig in ["SIGTERM", "SIGKILL"] {
        let msg = format!("Sending {sig} to process {pid}");
        assert!(log.contains(&msg), "no {msg:?} in\n{log}");
    }
    wait_gone(pid);
    wait_gone(child);
    assert!(read_or_empty(&out).contains("got TERM\n"), "{}", read_or_empty(&out));
}

#[test]
fn direct_monitor_and_kill_of_an_ended_job_fail() {
    let t = DirectTest::new("kill-dead");
    let script = t.script("job.sh", &["echo done"], 0o755);
    let out = t.dir.join("job.out");
    let pid = t.submit("direct", &script, &out);
    wait_for_content(&out, "done\n", DEADLINE);
    // Until init reaps it, the job is a zombie, which can still be signalled.
    poll_until(&format!("process {pid} to be reaped"), REAP_DEADLINE, || {
        proc_state(pid).is_none().then_some(())
    });

    let run = t.monitor(&script);
    run.expect_code(1);
    assert!(run.stderr.contains("ps failed"), "{}", run.stderr);
    let stat = read_or_empty(sibling(&script, ".stat"));
    assert!(
        !stat
            .lines()
            .any(|l| l.split_whitespace().nth(2) == Some(&pid.to_string())),
        "{stat}"
    );

    let run = t.kill("direct", &script, &[]);
    run.expect_code(1);
    let msg = format!("Process ID {pid} not found");
    assert!(run.stderr.contains(&msg), "no {msg:?} in {}", run.stderr);
    let log = read_or_empty(sibling(&script, ".killlog"));
    assert!(log.contains(&msg), "{log}");
    assert!(!log.contains("Kill of job"), "{log}");
}

#[test]
fn direct_submit_refuses_a_non_executable_script() {
    let t = DirectTest::new("noexec");
    let script = t.script("job.sh", &["echo ran"], 0o644);
    let out = t.dir.join("outdir").join("job.out");
    let run = t.run_submit("direct", &script, &out);
    run.expect_code(1);
    assert!(
        run.stderr.contains("is not executable") && run.stderr.contains("chmod +x") && run.stderr.contains("use_shell"),
        "{}",
        run.stderr
    );
    assert!(!out.exists(), "{} was created", out.display());
    assert!(!t.dir.join("outdir").exists());
    assert!(!sibling(&script, ".jid").exists());
}

#[test]
fn direct_use_shell_runs_a_non_executable_script() {
    let t = DirectTest::new("use-shell");
    let script = t.script(
        "job.sh",
        &["# troika name=x", "echo \"shell job $$\"", "echo done"],
        0o644,
    );
    // The output directory does not exist yet: troika creates it.
    let out = t.dir.join("outdir").join("job.out");
    let pid = t.submit("direct-shell", &script, &out);
    let output = wait_for_content(&out, "done\n", DEADLINE);
    assert_eq!(output, format!("shell job {pid}\ndone\n"));
    wait_gone(pid);
}
