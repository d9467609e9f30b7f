//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The troika binary built by cargo for these tests.
pub fn troika_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_troika"))
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---- Scratch directories, running troika, polling (used by slurm.rs and direct.rs) ----

/// A fresh directory under the system temporary directory, removed on drop.
/// When the test fails (the thread is panicking) it is kept, and its path
/// printed, so that the scripts, logs and job outputs can be inspected.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// `<tmp>/troika-it-<name>-<pid>-<n>`, created empty.
    pub fn new(name: &str) -> ScratchDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("troika-it-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        ScratchDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }

    /// Writes `name` in the directory with `mode`; returns its path.
    pub fn write(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.join(name);
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", p.display()));
        p
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: keeping {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The outcome of one troika run.
pub struct TroikaRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
    pub args: Vec<String>,
}

impl TroikaRun {
    /// Panics, showing the run, unless troika exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "troika {:?} exited with {:?}, expected {code}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
}

impl TroikaRun {
    /// Panics, showing stderr, unless it contains `s`.
    pub fn stderr_contains(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "{s:?} not in stderr of troika {:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Panics, showing stderr, if it contains `s`.
    pub fn stderr_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stderr.contains(s),
            "{s:?} in stderr of troika {:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// The commands troika ran or would run: its `Execute: ...` log lines.
    pub fn executed(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.split_once("; INFO; Execute: ").map(|(_, c)| c.to_string()))
            .collect()
    }

    /// The cancel status of a kill (needs -vv).
    pub fn cancel_status(&self) -> Option<String> {
        self.stderr
            .lines()
            .find(|l| l.contains("Kill of job "))
            .and_then(|l| l.rsplit_once(": "))
            .map(|(_, s)| s.trim().to_string())
    }
}

/// `args` as troika logs them in `Execute:` lines.
pub fn execute_line(args: &[&str]) -> String {
    args.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ")
}

/// Runs troika with `args` in `dir` (its working directory), with
/// TROIKA_CONFIG_FILE unset.
pub fn troika_in(dir: &Path, args: &[&str]) -> TroikaRun {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut cmd = isolated(std::process::Command::new(troika_bin()), dir);
    cmd.args(&args);
    run_troika(&mut cmd, args, None)
}

/// `cmd` in `dir`, with no TROIKA_CONFIG_FILE, ECF_HOST or ECF_PORT from
/// outside, no standard input.
fn isolated(mut cmd: std::process::Command, dir: &Path) -> std::process::Command {
    cmd.current_dir(dir)
        .env_remove("TROIKA_CONFIG_FILE")
        .env_remove("ECF_HOST")
        .env_remove("ECF_PORT")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs `cmd` (troika with `args`) to its end; with a `limit`, a run that
/// has not ended by then is killed and the test fails: troika hangs.
fn run_troika(cmd: &mut std::process::Command, args: Vec<String>, limit: Option<std::time::Duration>) -> TroikaRun {
    let start = std::time::Instant::now();
    let (code, stdout, stderr) = match limit {
        Some(limit) => run_with_timeout(cmd, limit).unwrap_or_else(|e| panic!("troika {args:?} hangs: {e}")),
        None => {
            let out = cmd
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", Path::new(cmd.get_program()).display()));
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    TroikaRun {
        code,
        stdout,
        stderr,
        elapsed: start.elapsed(),
        args,
    }
}

/// Calls `f` every 50 ms until it returns `Some`, for at most `timeout`;
/// panics with `what` (and the last `describe()`) when the time is up.
pub fn poll_until<T>(what: &str, timeout: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if std::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Waits until `f` returns true, for at most `timeout` (see [`poll_until`]).
pub fn wait_until(what: &str, timeout: std::time::Duration, mut f: impl FnMut() -> bool) {
    poll_until(what, timeout, || f().then_some(()))
}

/// A finished process's status and output, for assertion messages.
pub fn describe(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The content of a file, empty when it cannot be read (not there yet).
pub fn read_or_empty(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Waits until file `p` contains `needle`; returns the content.
pub fn wait_for_content(p: &Path, needle: &str, timeout: std::time::Duration) -> String {
    poll_until(&format!("{} to contain {needle:?}", p.display()), timeout, || {
        let s = read_or_empty(p);
        s.contains(needle).then_some(s)
    })
}

/// The job id troika wrote to `<script>.jid`, checked to be `N\n`.
pub fn read_jid(script: &Path) -> String {
    let p = PathBuf::from(format!("{}.jid", script.display()));
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    let id = s
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{}: no final newline: {s:?}", p.display()));
    assert!(
        !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()),
        "{}: not a number: {s:?}",
        p.display()
    );
    id.to_string()
}

/// `<script><suffix>`, e.g. `sibling(script, ".killlog")`.
pub fn sibling(script: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", script.display()))
}

/// Runs a Slurm client command (squeue, scontrol, scancel): (exit code, stdout, stderr).
pub fn slurm_cmd(prog: &str, args: &[&str]) -> (Option<i32>, String, String) {
    run_with_timeout(
        std::process::Command::new(prog).args(args),
        std::time::Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The job's record on one line, `Key=value ...`: `scontrol show job -o`'s;
/// once slurmctld has forgotten the ended job (MinJobAge), the same keys
/// from accounting (JobId, JobName, TimeLimit, WorkDir, NumNodes, JobState,
/// ExitCode), asked until slurmdbd has it, for at most 30 s.
pub fn slurm_job_record(id: &str) -> String {
    poll_until(
        &format!("a record of Slurm job {id}"),
        std::time::Duration::from_secs(30),
        || {
            let (code, out, err) = slurm_cmd("scontrol", &["show", "job", "-o", id]);
            if code == Some(0) {
                return Some(out);
            }
            assert!(err.contains("Invalid job id"), "scontrol show job {id} failed: {err}");
            let fields = "JobID,JobName,Timelimit,WorkDir,NNodes,State,ExitCode";
            let (code, out, _) = slurm_cmd("sacct", &["-n", "-X", "-P", "-o", fields, "-j", id]);
            let v: Vec<&str> = out.lines().next().filter(|_| code == Some(0))?.split('|').collect();
            // sacct's `CANCELLED by 0` is scontrol's `CANCELLED`.
            let state = v[5].split_whitespace().next()?;
            Some(format!(
                "JobId={} JobName={} TimeLimit={} WorkDir={} NumNodes={} JobState={state} ExitCode={}",
                v[0], v[1], v[2], v[3], v[4], v[6]
            ))
        },
    )
}

/// The value of `Key=` in a one-line `Key=value ...` record.
pub fn record_field(record: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    record
        .split_whitespace()
        .find_map(|t| t.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key}= in {record}"))
        .to_string()
}

/// Runs a command, killing it after `timeout`: (exit code, stdout, stderr).
pub fn run_with_timeout(
    cmd: &mut std::process::Command,
    timeout: std::time::Duration,
) -> Result<(Option<i32>, String, String), String> {
    use std::process::Stdio;
    let name = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    // Read both pipes in threads so that a large output cannot block the child.
    let read = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = read(child.stdout.take().map(|r| Box::new(r) as _));
    let err = read(child.stderr.take().map(|r| Box::new(r) as _));
    // Its end is awaited in a thread that leaves it unreaped (WNOWAIT): its
    // pid stays its own until `child.wait()`, so the kill cannot reach
    // another process; and a quick command is not made to wait for a poll.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (ended, end) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use nix::sys::wait::{waitid, Id, WaitPidFlag};
        while waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) == Err(nix::errno::Errno::EINTR) {}
        let _ = ended.send(());
    });
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = end.recv_timeout(timeout) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{name} did not finish within {timeout:?}"));
    }
    let status = child.wait().map_err(|e| format!("cannot wait for {name}: {e}"))?;
    Ok((
        status.code(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    ))
}

// ---- The test services of tests/services/: found, skipped or required ----

/// A service of `tests/services/` that some tests need.
///
/// [`service`] says whether the running test may use it. When it cannot be
/// reached the test is skipped, loudly (a `SKIPPED` line on standard error,
/// and the list of skipped tests at the end of the run, also kept in
/// `target/tmp/skipped-services.txt`), unless `TROIKA_TEST_REQUIRE_SERVICES=1`
/// (set by `tests/run-all.sh`): then the test fails, with the command that
/// starts the service. `TROIKA_TEST_NO_<SERVICE>=1` skips the service's tests
/// even when it is reachable (an error with `TROIKA_TEST_REQUIRE_SERVICES=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The one-node Slurm cluster: `sinfo` on PATH answers with a usable node.
    Slurm,
    /// The OpenSSH server on 127.0.0.1: `ssh -F $TROIKA_TEST_SSH_CONFIG` logs in.
    Sshd,
    /// The Grid Engine cell: `qstat` (with `SGE_ROOT`, `SGE_CELL`) shows the queue.
    Sge,
    /// ecFlow: `ecflow_server` and `ecflow_client` on PATH (the test starts its own server).
    Ecflow,
}

/// The variable `tests/run-all.sh` sets: every service must be there.
pub const REQUIRE_SERVICES: &str = "TROIKA_TEST_REQUIRE_SERVICES";

impl Service {
    const ALL: [Service; 4] = [Service::Slurm, Service::Sshd, Service::Sge, Service::Ecflow];

    pub fn name(self) -> &'static str {
        match self {
            Service::Slurm => "Slurm",
            Service::Sshd => "sshd",
            Service::Sge => "Grid Engine",
            Service::Ecflow => "ecFlow",
        }
    }

    /// The script that starts it.
    pub fn script(self) -> &'static str {
        match self {
            Service::Slurm => "tests/services/slurm.sh",
            Service::Sshd => "tests/services/sshd.sh",
            Service::Sge => "tests/services/sge.sh",
            Service::Ecflow => "tests/services/ecflow.sh",
        }
    }

    /// The variable that turns its tests off.
    pub fn off_variable(self) -> &'static str {
        match self {
            Service::Slurm => "TROIKA_TEST_NO_SLURM",
            Service::Sshd => "TROIKA_TEST_NO_SSHD",
            Service::Sge => "TROIKA_TEST_NO_SGE",
            Service::Ecflow => "TROIKA_TEST_NO_ECFLOW",
        }
    }

    /// Whether it can be used now: `Err(why)` when it cannot.
    fn check(self) -> Result<(), String> {
        let t = std::time::Duration::from_secs(20);
        match self {
            Service::Slurm => {
                let (code, out, err) =
                    run_with_timeout(std::process::Command::new("sinfo").args(["-h", "-o", "%t"]), t)?;
                if code != Some(0) {
                    return Err(format!("sinfo exited with {code:?}: {}", err.trim()));
                }
                let states: Vec<&str> = out.split_whitespace().collect();
                // `plnd`: idle, its CPUs planned for a pending job (a busy
                // queue); still a working node.
                if !states
                    .iter()
                    .any(|s| matches!(*s, "idle" | "mix" | "alloc" | "comp" | "plnd"))
                {
                    return Err(format!("no usable node (sinfo node states: {states:?})"));
                }
                Ok(())
            }
            Service::Sshd => {
                let e = SshEnv::from_env();
                let (code, _, err) = run_with_timeout(
                    std::process::Command::new("ssh").args([
                        "-F",
                        &e.config,
                        "-o",
                        "BatchMode=yes",
                        &format!("{}@{}", e.user, e.host),
                        "true",
                    ]),
                    t,
                )?;
                match code {
                    Some(0) => Ok(()),
                    _ => Err(format!(
                        "ssh -F {} {}@{} exited with {code:?}: {}",
                        e.config,
                        e.user,
                        e.host,
                        err.trim()
                    )),
                }
            }
            Service::Sge => {
                let s = SgeEnv::from_env();
                let (code, out, err) = run_with_timeout(
                    std::process::Command::new("qstat")
                        .args(["-f", "-q", &s.queue])
                        .env("SGE_ROOT", &s.root)
                        .env("SGE_CELL", &s.cell),
                    t,
                )?;
                if code == Some(0) && out.contains(&format!("{}@", s.queue)) {
                    Ok(())
                } else {
                    Err(format!(
                        "qstat -f -q {} exited with {code:?}: {}{}",
                        s.queue,
                        out.trim(),
                        err.trim()
                    ))
                }
            }
            Service::Ecflow => {
                for program in ["ecflow_server", "ecflow_client"] {
                    let (code, _, err) = run_with_timeout(std::process::Command::new(program).arg("--version"), t)?;
                    if code != Some(0) {
                        return Err(format!("{program} --version exited with {code:?}: {}", err.trim()));
                    }
                }
                Ok(())
            }
        }
    }
}

/// How the tests reach the sshd of `tests/services/sshd.sh` (its `env` output).
pub struct SshEnv {
    pub config: String,
    pub host: String,
    pub user: String,
    pub user2: String,
}

impl SshEnv {
    pub fn from_env() -> SshEnv {
        SshEnv {
            config: var_or("TROIKA_TEST_SSH_CONFIG", "/var/tmp/troika-test/sshd/ssh_config"),
            host: var_or("TROIKA_TEST_SSH_HOST", "troika-test"),
            user: var_or("TROIKA_TEST_SSH_USER", "troika-ssh1"),
            user2: var_or("TROIKA_TEST_SSH_USER2", "troika-ssh2"),
        }
    }
}

/// How the tests reach the Grid Engine cell of `tests/services/sge.sh`.
pub struct SgeEnv {
    pub root: String,
    pub cell: String,
    pub queue: String,
}

impl SgeEnv {
    pub fn from_env() -> SgeEnv {
        SgeEnv {
            root: var_or("SGE_ROOT", "/var/lib/gridengine"),
            cell: var_or("SGE_CELL", "default"),
            queue: var_or("TROIKA_TEST_SGE_QUEUE", "all.q"),
        }
    }
}

fn var_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

pub fn flag(key: &str) -> bool {
    std::env::var_os(key).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The running test's name (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// Whether the running test may use `svc`; see [`Service`]. Returns false
/// after announcing the skip; panics when the service is required and
/// missing.
pub fn service(svc: Service) -> bool {
    service_for(svc, &test_name())
}

/// [`service`] for a named part of a test (`what`, e.g. `"ecflow::x (Slurm tasks)"`).
pub fn service_for(svc: Service, what: &str) -> bool {
    use std::sync::OnceLock;
    static CHECKS: [OnceLock<Result<(), String>>; 4] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    static FRESH: OnceLock<()> = OnceLock::new();
    FRESH.get_or_init(|| {
        let _ = std::fs::remove_file(skips_file()); // the list of an earlier run
    });
    let required = flag(REQUIRE_SERVICES);
    let reason = if flag(svc.off_variable()) {
        assert!(
            !required,
            "{} is set, but {REQUIRE_SERVICES}=1 requires every service",
            svc.off_variable()
        );
        format!("{}=1", svc.off_variable())
    } else {
        let i = Service::ALL.iter().position(|s| *s == svc).unwrap();
        let check = CHECKS[i].get_or_init(|| {
            let r = svc.check();
            if let Err(e) = &r {
                if !required {
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr().lock(), "{} is not usable: {e}", svc.name());
                }
            }
            r
        });
        match check {
            Ok(()) => return true,
            Err(e) if required => panic!(
                "{} is not usable ({REQUIRE_SERVICES}=1): {e}\nStart it with `{} up`",
                svc.name(),
                svc.script()
            ),
            Err(_) => format!("no {}: run {} up", svc.name(), svc.script()),
        }
    };
    record_skip(&format!("SKIPPED ({reason}): {what}"));
    false
}

/// Prints `line` past the test harness's capture, and keeps it for the
/// summary printed when the test binary exits.
fn record_skip(line: &str) {
    use std::io::Write;
    use std::sync::Mutex;
    static SKIPS: Mutex<Vec<String>> = Mutex::new(Vec::new());
    extern "C" fn summary() {
        let mut skips = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
        skips.sort();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "\n{} test(s) SKIPPED for want of a service (list in {}):",
            skips.len(),
            skips_file().display()
        );
        for s in skips.iter() {
            let _ = writeln!(err, "  {s}");
        }
        let _ = writeln!(
            err,
            "Start the services (tests/services/*.sh up), or run tests/run-all.sh, to run them."
        );
    }
    extern "C" {
        fn atexit(f: extern "C" fn()) -> std::os::raw::c_int;
    }
    // Not through eprintln!: libtest would capture it and show it only on failure.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    let mut skips = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    if skips.is_empty() {
        // SAFETY: `summary` is a plain function that only locks a static and writes to stderr.
        unsafe {
            atexit(summary);
        }
    }
    skips.push(line.to_string());
    let _ = std::fs::write(skips_file(), skips.join("\n") + "\n");
}

/// Where the skips of the last run that needed a service are listed.
pub fn skips_file() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skipped-services.txt")
}

// ---- One test case: a scratch directory, fake or emulated commands, troika runs ----

/// One call of a fake or emulated command, from `state/calls.log` (written
/// by `emu_record` of tests/emulators/lib.sh).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub argv: Vec<String>,
    pub stdin: Option<String>,
}

/// A test case: a scratch directory (kept when the test fails) holding the
/// configuration, the scripts, the fake commands (`bin/`, first on troika's
/// PATH) and the state of the scheduler emulators (`state/`, given to them
/// as `TROIKA_EMU_STATE`; see tests/emulators/lib.sh).
///
/// ```text
/// let c = Case::new("tag").sites(SITE).script("#!/bin/sh\n").fake("sbatch", "echo 'Submitted batch job 1'");
/// c.troika(&["submit", "s", &c.s("job.sh"), "-o", "out"]).expect_code(0).stderr_contains("...");
/// assert_eq!(c.calls("sbatch"), vec![vec![...]]);
/// ```
///
/// Each run gets `-c config.yml` when that file exists.
pub struct Case {
    dir: ScratchDir,
    /// Directories put first on PATH.
    path: Vec<PathBuf>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    /// The program run instead of troika (see [`Case::binary`]).
    binary: Option<PathBuf>,
    /// How long a run may take (see [`Case::time_limit`]).
    time_limit: Option<std::time::Duration>,
    /// What to do when the case ends (see [`Case::at_end`]).
    at_end: Vec<EndAction>,
}

/// Something to do when a [`Case`] ends.
type EndAction = Box<dyn Fn(&Case) + Send + Sync>;

impl Case {
    /// An empty case. `bin/` (on PATH) and `state/` are made when first
    /// written to: until then the directory holds only what the test put there.
    pub fn new(tag: &str) -> Case {
        let dir = ScratchDir::new(tag);
        let bin = dir.join("bin");
        Case {
            dir,
            path: vec![bin],
            env: vec![],
            args: vec![],
            binary: None,
            time_limit: None,
            at_end: vec![],
        }
    }

    /// A case with the emulated commands of `system` (tests/emulators/<system>) on PATH.
    pub fn emulated(system: &str) -> Case {
        Case::new(&format!("emu-{system}")).emulators(system)
    }

    /// Puts the emulators of `system` on PATH (after `bin/`).
    pub fn emulators(mut self, system: &str) -> Case {
        let emulators = emulator_dir(system);
        assert!(emulators.is_dir(), "no emulators at {}", emulators.display());
        self.path.push(emulators);
        self
    }

    /// Writes `config.yml`.
    pub fn config(self, yaml: &str) -> Case {
        self.write("config.yml", yaml);
        self
    }

    /// Writes `config.yml`: `sites:` followed by `sites_yaml` (indented by the caller).
    pub fn sites(self, sites_yaml: &str) -> Case {
        self.write_sites(sites_yaml);
        self
    }

    /// [`Case::sites`] on a case already built (a new configuration).
    pub fn write_sites(&self, sites_yaml: &str) -> PathBuf {
        self.write("config.yml", format!("sites:\n{sites_yaml}"))
    }

    /// Writes the executable `job.sh`.
    pub fn script(self, text: &str) -> Case {
        self.write_exec("job.sh", text);
        self
    }

    /// A fake command `bin/<name>` (first on PATH): records its call in
    /// `state/calls.log` (see [`Case::calls`]), applies what [`Case::fail`]
    /// and [`Case::answer`] asked for, then runs the sh `body`, which may use
    /// `$S` (the state directory) and the functions of tests/emulators/lib.sh.
    pub fn fake(self, name: &str, body: &str) -> Case {
        self.fake_script(name, "", body)
    }

    /// [`Case::fake`] for a command that reads a script on its standard
    /// input, recorded with its call.
    pub fn fake_reading_stdin(self, name: &str, body: &str) -> Case {
        self.fake_script(name, "cat >\"$S/stdin.$$\"\nemu_record_stdin \"$S/stdin.$$\"\n", body)
    }

    fn fake_script(self, name: &str, stdin: &str, body: &str) -> Case {
        let lib = emulator_dir("lib.sh");
        self.write_exec(
            &format!("bin/{name}"),
            format!(
                "#!/bin/sh\n. '{}'\nemu_record '{name}' \"$@\"\n{stdin}emu_injected '{name}'\n{body}\n",
                lib.display()
            ),
        );
        self
    }

    /// Sets an environment variable for troika.
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Case {
        self.env
            .push((key.to_string(), value.as_ref().to_string_lossy().into_owned()));
        self
    }

    /// The arguments of [`Case::run`].
    pub fn args(mut self, args: &[&str]) -> Case {
        self.args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Puts `dir` on PATH too.
    pub fn add_path(&mut self, dir: PathBuf) {
        self.path.push(dir);
    }

    /// Runs `program` instead of troika: a troika of its own, built with the
    /// plugin API (e.g. the example `custom_troika`).
    pub fn binary(mut self, program: impl Into<PathBuf>) -> Case {
        self.binary = Some(program.into());
        self
    }

    /// Each run must end within `limit`: one that does not is killed, and
    /// the test fails (troika hangs).
    pub fn time_limit(mut self, limit: std::time::Duration) -> Case {
        self.time_limit = Some(limit);
        self
    }

    /// Sets the mode of the case's directory (0o777: other users, such as
    /// the remote users of the test sshd, may write there).
    pub fn dir_mode(self, mode: u32) -> Case {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.dir(), std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", self.dir().display()));
        self
    }

    /// Calls `end` when the case is dropped, whether the test passed or
    /// not, before its directory is removed: to stop what the test started.
    pub fn at_end(mut self, end: impl Fn(&Case) + Send + Sync + 'static) -> Case {
        self.at_end.push(Box::new(end));
        self
    }

    /// Removes, with `program` (`scancel`, `qdel`), every job whose `.jid`
    /// is in the case's directory when the test ends, failed or not.
    pub fn remove_jobs_at_end(self, program: &'static str) -> Case {
        self.at_end(move |c| {
            let ids: Vec<String> = std::fs::read_dir(c.dir())
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".jid"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .map(|s| s.trim().to_string())
                .collect();
            if !ids.is_empty() {
                let _ = std::process::Command::new(program).args(&ids).output();
            }
        })
    }

    /// Runs troika with the arguments of [`Case::args`].
    pub fn run(&self) -> TroikaRun {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.troika(&args)
    }

    /// Runs troika (or the [`Case::binary`]) as [`Case::command`] does, with
    /// `args` after `-c config.yml` when that file exists; within the
    /// [`Case::time_limit`] if there is one.
    pub fn troika(&self, args: &[&str]) -> TroikaRun {
        let mut all: Vec<String> = vec![];
        let config = self.path("config.yml");
        if config.exists() {
            all.extend(["-c".to_string(), config.display().to_string()]);
        }
        all.extend(args.iter().map(|s| s.to_string()));
        let mut cmd = self.command(self.binary.clone().unwrap_or_else(troika_bin));
        cmd.args(&all);
        run_troika(&mut cmd, all, self.time_limit)
    }

    /// `program` as the case runs troika: in the case's directory, with the
    /// case's PATH and environment, no TROIKA_CONFIG_FILE and no ECF_HOST
    /// or ECF_PORT from outside, no standard input.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut path = std::env::join_paths(&self.path).unwrap();
        if let Some(p) = std::env::var_os("PATH") {
            path.push(":");
            path.push(p);
        }
        let mut cmd = isolated(std::process::Command::new(program), self.dir());
        cmd.env("PATH", path)
            .env("TROIKA_EMU_STATE", self.state())
            .env_remove("FLUX_F58_FORCE_ASCII")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the case's directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// [`Case::path`] as a string, for troika's arguments.
    pub fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    /// Writes a file (0644), its directories too; returns its path.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        self.write_mode(rel, content, 0o644)
    }

    /// Writes an executable file (0755).
    pub fn write_exec(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        self.write_mode(rel, content, 0o755)
    }

    pub fn write_mode(&self, rel: &str, content: impl AsRef<[u8]>, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// A file's content; panics when it cannot be read.
    pub fn read(&self, rel: &str) -> String {
        let p = self.path(rel);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    /// A file's content, empty when it cannot be read.
    pub fn read_or_empty(&self, rel: &str) -> String {
        read_or_empty(self.path(rel))
    }

    /// A file's bytes; panics when it cannot be read.
    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        let p = self.path(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Forgets the calls recorded so far.
    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.state().join("calls.log"));
    }

    /// Every call of a fake or emulated command so far.
    pub fn all_calls(&self) -> Vec<Call> {
        let log = read_or_empty(self.state().join("calls.log"));
        let mut calls: Vec<Call> = Vec::new();
        let mut stdin: Option<String> = None;
        for line in log.split_inclusive('\n') {
            if let Some(s) = stdin.as_mut() {
                if line == "--- end stdin\n" {
                    calls.last_mut().expect("stdin after a call").stdin = stdin.take();
                } else {
                    s.push_str(line);
                }
                continue;
            }
            let line = line.strip_suffix('\n').unwrap_or(line);
            if let Some(name) = line.strip_prefix("=== ") {
                calls.push(Call {
                    name: name.to_string(),
                    argv: vec![],
                    stdin: None,
                });
            } else if line == "--- stdin" {
                stdin = Some(String::new());
            } else if let Some((_, v)) = line.split_once("]=") {
                calls
                    .last_mut()
                    .expect("argument after a call")
                    .argv
                    .push(v.to_string());
            }
        }
        calls
    }

    /// The calls of `name`, as argument vectors.
    pub fn calls(&self, name: &str) -> Vec<Vec<String>> {
        self.all_calls()
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.argv)
            .collect()
    }

    fn job_file(&self, key: &str, file: &str) -> PathBuf {
        self.state().join("jobs").join(key).join(file)
    }

    /// A job's state as the emulator keeps it.
    pub fn job_state(&self, key: &str) -> String {
        std::fs::read_to_string(self.job_file(key, "state"))
            .unwrap_or_else(|e| panic!("no job {key}: {e}"))
            .trim()
            .to_string()
    }

    pub fn set_job_state(&self, key: &str, state: &str) {
        std::fs::write(self.job_file(key, "state"), format!("{state}\n")).unwrap();
    }

    /// The signals the emulator delivered to a job.
    pub fn job_signals(&self, key: &str) -> Vec<String> {
        read_or_empty(self.job_file(key, "signals"))
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The script the scheduler received.
    pub fn job_script(&self, key: &str) -> String {
        std::fs::read_to_string(self.job_file(key, "script")).unwrap_or_else(|e| panic!("no job {key}: {e}"))
    }

    /// Makes the fake or emulated command `name` fail with `code`, printing `stderr`.
    pub fn fail(&self, name: &str, code: i32, stderr: &str) {
        self.write(&format!("state/fail/{name}"), format!("{code}\n{stderr}\n"));
    }

    /// Makes the fake or emulated command `name` print `stdout` (and exit 0) instead of its answer.
    pub fn answer(&self, name: &str, stdout: &str) {
        self.write(&format!("state/stdout/{name}"), stdout);
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        for end in std::mem::take(&mut self.at_end) {
            end(self);
        }
    }
}

/// `tests/emulators/<rel>`.
pub fn emulator_dir(rel: &str) -> PathBuf {
    repo_root().join("tests/emulators").join(rel)
}
