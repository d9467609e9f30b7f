//! The local connection: commands run on this machine.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{Command, Connection, ConnectionOptions, Input, Outcome, Sink};
use crate::config::SiteConfig;
use crate::error::{io_reason, Error, Result};
use crate::util::{quote, quote_argv};

pub const KEYS: &[&str] = &["local_cwd"];

/// Runs commands locally, in `local_cwd` when configured.
#[derive(Debug, Default)]
pub struct LocalConnection {
    pub cwd: Option<PathBuf>,
    /// Whether copy messages name the destination as a resolved local path
    /// (see `py_path`): so did 0.2.7 for a `direct` site without
    /// `local_cwd`.
    pub resolved_dst: bool,
    /// Commands are logged, not run.
    pub dry_run: bool,
}

impl LocalConnection {
    pub fn create(site: &SiteConfig, opts: &ConnectionOptions) -> Result<Box<dyn Connection>> {
        let cwd = site.opt_str("local_cwd")?.map(PathBuf::from);
        let resolved_dst = cwd.is_none() && opts.local_copy_paths;
        Ok(Box::new(LocalConnection {
            cwd,
            resolved_dst,
            dry_run: opts.dry_run,
        }))
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        match &self.cwd {
            Some(cwd) if p.is_relative() => crate::util::pure_path(&cwd.join(p)),
            _ => crate::util::pure_path(p),
        }
    }

    /// Copies `src` to `dst`; `resolved` says which of the two paths the
    /// message names as resolved local paths.
    fn copy(&self, src: &Path, dst: &Path, resolved: (bool, bool)) -> Result<()> {
        let dst = self.resolve(dst);
        let msg = format!("Copying {} to {}", py_path(src, resolved.0), py_path(&dst, resolved.1));
        if self.dry_run {
            crate::info!("{msg}");
            return Ok(());
        }
        crate::debug!("{msg}");
        if src == dst {
            return Ok(());
        }
        let data = std::fs::read(src).map_err(|e| Error::io("Cannot read", src, e))?;
        let mode = std::fs::metadata(src)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
            .unwrap_or(0o644);
        crate::util::write_atomic(&dst, &data, mode).map_err(|e| match e {
            Error::Io(_) => e.map_message(|m| {
                format!(
                    "Cannot copy {} to {}: {m}",
                    quote(&src.display().to_string()),
                    quote(&dst.display().to_string())
                )
            }),
            other => other,
        })
    }
}

impl Connection for LocalConnection {
    fn is_local(&self) -> bool {
        true
    }

    fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn execute(&self, cmd: Command) -> Result<Outcome> {
        if self.dry_run && !cmd.always {
            crate::info!("Execute: {}", quote_argv(&cmd.argv));
            return Ok(Outcome::dry());
        }
        crate::debug!("Executing {}", quote_argv(&cmd.argv));
        // Output files are paths on the site: relative ones are relative to local_cwd.
        let mut cmd = cmd;
        for sink in [&mut cmd.stdout, &mut cmd.stderr] {
            if let Sink::File(p) = sink {
                *p = self.resolve(p);
            }
        }
        if let Some(p) = &mut cmd.exit_file {
            *p = self.resolve(p);
        }
        run(&cmd, self.cwd.as_deref())
    }

    fn send_file(&self, src: &Path, dst: &Path) -> Result<()> {
        self.copy(src, dst, (false, self.resolved_dst))
    }

    fn send_script(&self, script: &Path, dst: &Path) -> Result<()> {
        self.copy(script, dst, (true, self.resolved_dst))
    }

    fn get_file(&self, src: &Path, dst: &Path) -> Result<()> {
        self.copy(&self.resolve(src), dst, (false, false))
    }

    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        let dir = self.resolve(dir);
        let msg = format!("Ensuring directory {} exists", quote(&dir.display().to_string()));
        if self.dry_run {
            crate::info!("{msg}");
            return Ok(());
        }
        crate::debug!("{msg}");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("Cannot create directory", &dir, e))
    }
}

/// A path as a copy message names it. troika 0.2.7 wrote Python path objects
/// there, `PosixPath('...')` for the job script and for a local direct site's
/// output directory, `PurePosixPath('...')` for the others; those who read
/// the logs compare them with its logs, so troika writes them the same way
/// (quirk Q26 in docs/compatibility.md).
pub fn py_path(p: &Path, resolved: bool) -> String {
    let class = if resolved { "PosixPath" } else { "PurePosixPath" };
    format!("{class}({})", quote(&p.display().to_string()))
}

fn open_sink(s: &Sink) -> std::io::Result<Stdio> {
    Ok(match s {
        Sink::Capture => Stdio::piped(),
        Sink::Null => Stdio::null(),
        Sink::Stdout => Stdio::piped(),
        Sink::File(p) => Stdio::from(File::create(p)?),
    })
}

/// Runs `cmd` on this machine with `cwd`, honouring its timeout. Shared by
/// the connections that run a local program (ssh, scp).
pub fn run(cmd: &Command, cwd: Option<&Path>) -> Result<Outcome> {
    let prog = cmd.argv.first().ok_or_else(|| Error::run("empty command"))?;
    let name = prog.to_string_lossy().into_owned();
    let mut c = std::process::Command::new(prog);
    c.args(&cmd.argv[1..]);
    c.envs(cmd.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.stdin(match &cmd.stdin {
        Input::Null => Stdio::null(),
        Input::Bytes(_) => Stdio::piped(),
        Input::File(p) => Stdio::from(File::open(p).map_err(|e| Error::io("Cannot read", p, e))?),
    });
    let same_file = matches!((&cmd.stdout, &cmd.stderr), (Sink::File(_), Sink::Stdout));
    let stdout_file = match &cmd.stdout {
        Sink::File(p) => Some(File::create(p).map_err(|e| Error::io("Cannot write", p, e))?),
        _ => None,
    };
    match &stdout_file {
        Some(f) => {
            c.stdout(Stdio::from(
                f.try_clone()
                    .map_err(|e| Error::run(format!("Cannot run {name}: {}", io_reason(&e))))?,
            ));
        }
        None => {
            c.stdout(open_sink(&cmd.stdout).map_err(|e| Error::run(format!("Cannot run {name}: {}", io_reason(&e))))?);
        }
    }
    if same_file {
        let f = stdout_file
            .as_ref()
            .and_then(|f| f.try_clone().ok())
            .ok_or_else(|| Error::run("cannot share the output file"))?;
        c.stderr(Stdio::from(f));
    } else {
        c.stderr(open_sink(&cmd.stderr).map_err(|e| Error::io("Cannot write", Path::new(&name), e))?);
    }
    if cmd.detach {
        // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            c.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    } else {
        // Own process group, so that a timeout can stop the command and its children.
        c.process_group(0);
    }
    let report = match (&cmd.exit_file, cmd.detach) {
        (Some(file), true) => Some(
            super::exit_record::install(&mut c, file)
                .map_err(|e| Error::run(format!("Cannot run {name}: {}", io_reason(&e))))?,
        ),
        _ => None,
    };
    let mut child = c.spawn().map_err(|e| spawn_error(&e, &name, cwd))?;
    crate::debug!("Child PID: {}", child.id());
    if let Some(report) = report {
        // The process spawned waits for the command, its child: the job's
        // pid is the child's. `c` holds the pipe's other end.
        drop(c);
        let pid = super::exit_record::read_pid(report)
            .ok_or_else(|| Error::run(format!("Cannot run {name}: the process id of the job is unknown")))?;
        crate::debug!("Process {} waits for process {pid}", child.id());
        return Ok(Outcome {
            code: Some(0),
            pid: Some(pid),
            ..Default::default()
        });
    }
    if cmd.detach {
        return Ok(Outcome {
            code: Some(0),
            pid: Some(child.id()),
            ..Default::default()
        });
    }
    let writer = match (&cmd.stdin, child.stdin.take()) {
        (Input::Bytes(b), Some(mut pipe)) => {
            let b = b.clone();
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&b);
            }))
        }
        _ => None,
    };
    let (status, stdout, stderr) = collect(&mut child, cmd.timeout, &name)?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let outcome = Outcome {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        pid: Some(child.id()),
        dryrun: false,
    };
    if !outcome.stdout.is_empty() {
        crate::debug!(
            "{name} stdout:\n{}",
            String::from_utf8_lossy(&outcome.stdout).trim_end()
        );
    }
    if !outcome.stderr.is_empty() {
        crate::debug!(
            "{name} stderr:\n{}",
            String::from_utf8_lossy(&outcome.stderr).trim_end()
        );
    }
    Ok(outcome)
}

/// Why a command could not start. A missing `local_cwd` makes the start
/// fail with the same error as a missing program: it is named instead.
fn spawn_error(e: &std::io::Error, name: &str, cwd: Option<&Path>) -> Error {
    if let Some(dir) = cwd {
        let why = match std::fs::metadata(dir) {
            Err(d) => Some(io_reason(&d)),
            Ok(m) if !m.is_dir() => Some("not a directory".to_string()),
            Ok(_) => None,
        };
        if let Some(why) = why {
            return Error::run(format!(
                "Cannot run {} in local_cwd {}: {why}",
                quote(name),
                quote(&dir.display().to_string())
            ));
        }
    }
    Error::run(format!("Cannot execute {}: {}", quote(name), io_reason(e)))
}

/// Reads the child's captured output and waits for it to exit, all in this
/// thread: `poll` on the output pipes and, where the kernel has it (Linux 5.3),
/// a pidfd that becomes readable when the child exits. No reader or watchdog
/// threads, and no polling interval between the child's exit and ours. After
/// `timeout` the child's process group gets SIGTERM, then SIGKILL 200 ms later.
/// The child is reaped last, so its process group cannot be reused while it
/// may still be signalled.
fn collect(
    child: &mut Child,
    timeout: Option<Duration>,
    name: &str,
) -> Result<(std::process::ExitStatus, Vec<u8>, Vec<u8>)> {
    let pidfd = pidfd_open(child.id());
    collect_with(child, timeout, name, pidfd)
}

/// [`collect`] with the pidfd given (`None`: as on kernels without pidfds).
fn collect_with(
    child: &mut Child,
    timeout: Option<Duration>,
    name: &str,
    pidfd: Option<OwnedFd>,
) -> Result<(std::process::ExitStatus, Vec<u8>, Vec<u8>)> {
    // A limit too far away for the clock is no limit.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let mut out = Stream::new(child.stdout.take().map(OwnedFd::from));
    let mut err = Stream::new(child.stderr.take().map(OwnedFd::from));
    let mut exited = false;
    loop {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(3);
        for s in [&out, &err] {
            if let Some(fd) = &s.fd {
                fds.push(pollfd(fd.as_raw_fd()));
            }
        }
        let streams = fds.len();
        if let (Some(p), false) = (&pidfd, exited) {
            fds.push(pollfd(p.as_raw_fd()));
        }
        if streams == 0 && (exited || pidfd.is_none()) {
            break;
        }
        let wait_ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(kill_after_timeout(child, name, timeout.unwrap_or_default()));
                }
                left.as_millis().clamp(1, i32::MAX as u128) as i32
            }
        };
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::run(format!("Cannot wait for {name}: {}", io_reason(&e))));
        }
        for p in fds.iter().filter(|p| p.revents != 0) {
            if out.fd.as_ref().is_some_and(|f| f.as_raw_fd() == p.fd) {
                out.read_some();
            } else if err.fd.as_ref().is_some_and(|f| f.as_raw_fd() == p.fd) {
                err.read_some();
            } else {
                exited = true;
            }
        }
    }
    // Every output stream is closed. Without a pidfd the child may still be
    // about to exit: wait for it with short sleeps, within the time limit.
    let mut pause = Duration::from_micros(50);
    loop {
        let st = if exited {
            Some(child.wait())
        } else {
            child.try_wait().transpose()
        };
        match st {
            Some(Ok(st)) => return Ok((st, out.data, err.data)),
            Some(Err(e)) => return Err(Error::run(format!("Cannot wait for {name}: {}", io_reason(&e)))),
            None => {}
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                return Err(kill_after_timeout(child, name, timeout.unwrap_or_default()));
            }
            pause = pause.min(d.saturating_duration_since(Instant::now()));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// One captured output stream of a child.
struct Stream {
    fd: Option<OwnedFd>,
    data: Vec<u8>,
}

impl Stream {
    fn new(fd: Option<OwnedFd>) -> Self {
        Stream { fd, data: Vec::new() }
    }

    /// Reads what `poll` said is there; closes the stream at its end.
    fn read_some(&mut self) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [0u8; 64 * 1024];
        // SAFETY: reads into a valid buffer of the given length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            self.data.extend_from_slice(&buf[..n as usize]);
        } else if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            self.fd = None;
        }
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// A file descriptor that becomes readable when process `pid` exits; `None`
/// where the kernel has no pidfd_open (before Linux 5.3).
#[cfg(target_os = "linux")]
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: a plain system call; on success it returns a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: `fd` is a valid descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: u32) -> Option<OwnedFd> {
    None
}

/// Stops a command that ran out of time, with its process group, and reaps it.
fn kill_after_timeout(child: &mut Child, name: &str, timeout: Duration) -> Error {
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    Error::Transient(
        format!(
            "Command {} timed out after {} s and was killed",
            quote(name),
            fmt_secs(timeout)
        ),
        crate::error::Reach::MaybeDone,
    )
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Option<Duration>) -> Result<Outcome> {
        run(&Command::new(["sh", "-c", script]).timeout(timeout), None)
    }

    const LONG: Option<Duration> = Some(Duration::from_secs(300));

    #[test]
    fn copy_messages_name_paths_as_python_path_objects() {
        assert_eq!(py_path(Path::new("job.sh"), true), "PosixPath('job.sh')");
        assert_eq!(
            py_path(Path::new("/o/it's.orig"), false),
            "PurePosixPath(\"/o/it's.orig\")"
        );
    }

    #[test]
    fn status_and_output() {
        for timeout in [LONG, None] {
            let out = sh("echo out; echo err >&2; exit 3", timeout).unwrap();
            assert_eq!(out.code, Some(3));
            assert_eq!(out.stdout, b"out\n");
            assert_eq!(out.stderr, b"err\n");
        }
        let out = sh("kill -TERM $$", LONG).unwrap();
        assert_eq!((out.code, out.signal), (None, Some(libc::SIGTERM)));
    }

    #[test]
    fn large_output_on_both_streams() {
        // More than a pipe holds, interleaved: neither stream may block the other.
        let script = "i=0; while [ $i -lt 2000 ]; do echo 0123456789012345678901234567890123456789; \
                      echo abcdefghijabcdefghijabcdefghijabcdefghij >&2; i=$((i+1)); done";
        let out = sh(script, LONG).unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stdout.len(), 2000 * 41);
        assert_eq!(out.stderr.len(), 2000 * 41);
        assert!(out.stderr.starts_with(b"abcdefghij"));
    }

    #[test]
    fn stdin_bytes_reach_the_command() {
        let cmd = Command::new(["cat"])
            .stdin(Input::Bytes(b"hello\n".to_vec()))
            .timeout(LONG);
        assert_eq!(run(&cmd, None).unwrap().stdout, b"hello\n");
    }

    /// Without a pidfd (kernels before 5.3): a command that closes its output
    /// and goes on running is still waited for, and still timed out.
    #[test]
    fn without_pidfd() {
        let spawn = |script: &str| {
            std::process::Command::new("sh")
                .args(["-c", script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut c = spawn("echo x; exec >&- 2>&-; sleep 0.3; exit 4");
        let (st, out, _) = collect_with(&mut c, LONG, "sh", None).unwrap();
        assert_eq!((st.code(), out.as_slice()), (Some(4), &b"x\n"[..]));
        let mut c = spawn("exec >&- 2>&-; sleep 60");
        let e = collect_with(&mut c, Some(Duration::from_millis(300)), "sh", None).unwrap_err();
        assert!(e.to_string().contains("timed out after 0.3 s"), "{e}");
    }

    /// Running, or gone (a zombie counts as gone: it waits for its reaper).
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(s) => !s
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    #[test]
    fn timeout_kills_the_command_and_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 60 & echo $! >'{}'; wait", pidfile.display());
        let err = sh(&script, Some(Duration::from_millis(300))).unwrap_err().to_string();
        assert!(err.contains("timed out after 0.3 s and was killed"), "{err}");
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The background child was in the command's process group.
        let mut tries = 0;
        while alive(pid) && tries < 100 {
            std::thread::sleep(Duration::from_millis(50));
            tries += 1;
        }
        assert!(!alive(pid), "the command's child {pid} survived the timeout");
    }

    /// A background child that keeps the output pipe open past the command's
    /// exit is stopped at the time limit instead of hanging the caller.
    #[test]
    fn output_held_open_by_a_child() {
        let err = sh("sleep 60 & echo started", Some(Duration::from_millis(300)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("timed out"), "{err}");
    }

    #[test]
    fn environment_is_added_to_the_inherited_one() {
        let cmd = Command::new(["sh", "-c", "echo \"$TROIKA_T1 ${PATH:+path}\""]).env("TROIKA_T1", "a b");
        let out = LocalConnection::default().execute(cmd).unwrap();
        assert!(out.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b path\n");
    }

    #[test]
    fn dry_run_runs_nothing_but_what_must_run() {
        let dry = LocalConnection {
            dry_run: true,
            ..LocalConnection::default()
        };
        let out = dry.execute(Command::new(["false"]).env("X", "1")).unwrap();
        assert!(out.dryrun && out.success());
        // External hooks run in a dry run too.
        let out = dry.execute(Command::new(["false"]).always()).unwrap();
        assert!(!out.dryrun && !out.success());
    }
}
