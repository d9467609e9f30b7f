//! The sge site against a real Grid Engine cell (Son of Grid Engine 8.1.9)
//! on this machine, started by `tests/services/sge.sh up`: queue `all.q` on
//! this host, scheduling every second.
//!
//! These tests fail when the cell is not reachable, unless
//! TROIKA_TEST_NO_SGE=1 is set.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::troika_bin;

/// How to reach the cell: the environment its commands need.
struct Sge {
    root: String,
    cell: String,
    queue: String,
}

fn sge() -> Option<Sge> {
    if std::env::var_os("TROIKA_TEST_NO_SGE").is_some() {
        eprintln!("skipped: TROIKA_TEST_NO_SGE=1");
        return None;
    }
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let s = Sge {
        root: var("SGE_ROOT", "/var/lib/gridengine"),
        cell: var("SGE_CELL", "default"),
        queue: var("TROIKA_TEST_SGE_QUEUE", "all.q"),
    };
    let out = s.cmd("qstat", &["-f", "-q", &s.queue]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&format!("{}@", s.queue)),
        "the test Grid Engine cell is not reachable: run `tests/services/sge.sh up` (or set TROIKA_TEST_NO_SGE=1)\n{}",
        text(&out)
    );
    Some(s)
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
    fn troika(&self, dir: &Dir, args: &[&str]) -> Output {
        self.command(&troika_bin())
            .arg("-c")
            .arg(dir.path("troika.yml"))
            .args(args)
            .current_dir(&dir.0)
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

/// A scratch directory with the test configuration, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("troika-sge-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        let d = Dir(p);
        d.write("troika.yml", CONFIG, 0o644);
        d
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }
    fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// Submits `job.sh` of `dir` to `site` with output `job.out`; returns the job.
fn submit<'a>(sge: &'a Sge, dir: &Dir, site: &str) -> Job<'a> {
    let out = sge.troika(dir, &["submit", site, &dir.s("job.sh"), "-o", &dir.s("job.out")]);
    assert!(out.status.success(), "submit failed\n{}", text(&out));
    let jid = dir.read("job.sh.jid").trim().to_string();
    assert!(
        !jid.is_empty() && jid.bytes().all(|c| c.is_ascii_digit()),
        "job id file: {jid:?}\n{}",
        text(&out)
    );
    Job { sge, jid }
}

#[test]
fn sge_submit_runs_the_job_with_translated_directives() {
    let Some(sge) = sge() else { return };
    let dir = Dir::new("submit");
    dir.write(
        "job.sh",
        &format!(
            "#!/bin/bash\n# troika name=troika_submit\n# troika walltime=00:05:00\n# troika error_file={}\n\
             echo \"hello from $JOB_ID ($JOB_NAME) in $QUEUE\"\necho 'to stderr' >&2\n",
            dir.s("job.err")
        ),
        0o755,
    );
    let job = submit(&sge, &dir, "sge");
    let script = dir.read("job.sh");
    for line in [
        "#$ -N troika_submit\n".to_string(),
        "#$ -l h_rt=00:05:00\n".to_string(),
        format!("#$ -e {}\n", dir.s("job.err")),
        format!("#$ -o {}\n", dir.s("job.out")),
    ] {
        assert!(
            script.contains(&line),
            "{line:?} not in the generated script:\n{script}"
        );
    }
    let want = format!("hello from {} (troika_submit) in {}\n", job.jid, sge.queue);
    wait_for("the job's output", LIMIT, || dir.read("job.out") == want);
    wait_for("the job's error output", LIMIT, || dir.read("job.err") == "to stderr\n");
    // The job really ran through Grid Engine: it leaves the queue.
    wait_for("the job to leave the queue", LIMIT, || !sge.knows(&job.jid));
}

#[test]
fn sge_submit_with_terse_output_and_joined_streams() {
    let Some(sge) = sge() else { return };
    let dir = Dir::new("terse");
    dir.write("job.sh", "#!/bin/sh\necho out\necho err >&2\n", 0o755);
    let job = submit(&sge, &dir, "sge_terse");
    assert!(dir.read("job.sh").contains("\n#$ -j y\n"), "{}", dir.read("job.sh"));
    wait_for("the joined output", LIMIT, || {
        let o = dir.read("job.out");
        o.contains("out\n") && o.contains("err\n")
    });
    wait_for("the job to leave the queue", LIMIT, || !sge.knows(&job.jid));
}

#[test]
fn sge_monitor_and_kill_a_held_job() {
    let Some(sge) = sge() else { return };
    let dir = Dir::new("held");
    // A native directive: the job is held, it waits until released or deleted.
    dir.write(
        "job.sh",
        "#!/bin/sh\n#$ -h\n# troika name=troika_held\necho ran\n",
        0o755,
    );
    let job = submit(&sge, &dir, "sge");
    wait_for("the job to be held", LIMIT, || sge.state(&job.jid) == "hqw");

    let out = sge.troika(&dir, &["monitor", "sge", &dir.s("job.sh")]);
    assert!(out.status.success(), "monitor failed\n{}", text(&out));
    let stat = dir.read("job.sh.stat");
    assert!(
        stat.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["job_number:", &job.jid]),
        "{stat}"
    );
    assert!(stat.contains("troika_held"), "{stat}");

    let out = sge.troika(&dir, &["-vv", "kill", "sge", &dir.s("job.sh")]);
    assert!(out.status.success(), "kill failed\n{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Kill of job {}: CANCELLED", job.jid)), "{err}");
    assert!(!sge.knows(&job.jid), "the job is still known after the kill");
    assert_eq!(dir.read("job.out"), "", "a held job must not run");
}

#[test]
fn sge_kill_a_running_job_with_qdel_whatever_the_kill_sequence() {
    let Some(sge) = sge() else { return };
    let dir = Dir::new("running");
    dir.write(
        "job.sh",
        "#!/bin/bash\ntrap 'echo got TERM; exit 3' TERM\necho started\nsleep 300 &\nwait\necho finished\n",
        0o755,
    );
    let job = submit(&sge, &dir, "sge_sequence");
    wait_for("the job to start", LIMIT, || dir.read("job.out").contains("started"));
    assert_eq!(sge.state(&job.jid), "r");

    let start = Instant::now();
    let out = sge.troika(&dir, &["-vv", "kill", "sge_sequence", &dir.s("job.sh")]);
    assert!(out.status.success(), "kill failed\n{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Kill of job {}: KILLED", job.jid)), "{err}");
    assert!(err.contains("kill_sequence is not used"), "{err}");
    // One qdel: no waiting for the sequence's 2 s step.
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "kill took {:?}",
        start.elapsed()
    );
    wait_for("the job to leave the queue", LIMIT, || !sge.knows(&job.jid));
    // qdel sends SIGKILL: the job's TERM trap never runs.
    assert_eq!(dir.read("job.out"), "started\n");
}

#[test]
fn sge_unknown_job_monitor_fails_and_kill_reports_vanished() {
    let Some(sge) = sge() else { return };
    let dir = Dir::new("unknown");
    dir.write("job.sh", "#!/bin/sh\necho x\n", 0o755);
    let jid = "987654";
    assert!(!sge.knows(jid));

    let out = sge.troika(&dir, &["monitor", "sge", &dir.s("job.sh"), "-j", jid]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("qstat failed with exit code 1"),
        "{}",
        text(&out)
    );
    assert!(
        dir.read("job.sh.stat").contains("Following jobs do not exist"),
        "{}",
        dir.read("job.sh.stat")
    );

    let out = sge.troika(&dir, &["-vv", "kill", "sge", &dir.s("job.sh"), "-j", jid]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Kill of job {jid}: VANISHED")),
        "{}",
        text(&out)
    );

    let out = sge.troika(&dir, &["kill", "sge", &dir.s("job.sh"), "-j", "12abc"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid job id: '12abc'"),
        "{}",
        text(&out)
    );
}

#[test]
fn sge_submit_failure_reports_qsub_error() {
    let Some(sge) = sge() else { return };
    let dir = Dir::new("fail");
    dir.write("job.sh", "#!/bin/sh\n# troika queue=nosuch.q\necho x\n", 0o755);
    let out = sge.troika(&dir, &["submit", "sge", &dir.s("job.sh"), "-o", &dir.s("job.out")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Submission failed with exit code 1"), "{err}");
    assert!(err.contains("unknown queue \"nosuch.q\""), "{err}");
    assert!(!dir.path("job.sh.jid").exists());
}
