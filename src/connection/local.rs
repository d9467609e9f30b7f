//! The local connection: commands run on this machine.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{Command, Connection, Input, Outcome, Sink};
use crate::config::SiteConfig;
use crate::error::{io_reason, Error, Result};
use crate::util::{quote, quote_argv};

pub const KEYS: &[&str] = &["local_cwd"];

/// Runs commands locally, in `local_cwd` when configured.
#[derive(Debug, Default)]
pub struct LocalConnection {
    pub cwd: Option<PathBuf>,
}

impl LocalConnection {
    pub fn create(site: &SiteConfig, _user: Option<&str>) -> Result<Box<dyn Connection>> {
        let cwd = site.opt_str("local_cwd")?.map(PathBuf::from);
        Ok(Box::new(LocalConnection { cwd }))
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        match &self.cwd {
            Some(cwd) if p.is_relative() => cwd.join(p),
            _ => p.to_path_buf(),
        }
    }

    fn copy(&self, src: &Path, dst: &Path, dryrun: bool) -> Result<()> {
        let dst = self.resolve(dst);
        let msg = format!(
            "Copying {} to {}",
            quote(&src.display().to_string()),
            quote(&dst.display().to_string())
        );
        if dryrun {
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
            Error::Unexpected(m) => Error::Unexpected(format!(
                "Cannot copy {} to {}: {m}",
                quote(&src.display().to_string()),
                quote(&dst.display().to_string())
            )),
            other => other,
        })
    }
}

impl Connection for LocalConnection {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn is_local(&self) -> bool {
        true
    }

    fn execute(&self, cmd: Command, dryrun: bool) -> Result<Outcome> {
        if dryrun {
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
        run(&cmd, self.cwd.as_deref())
    }

    fn send_file(&self, src: &Path, dst: &Path, dryrun: bool) -> Result<()> {
        self.copy(src, dst, dryrun)
    }

    fn get_file(&self, src: &Path, dst: &Path, dryrun: bool) -> Result<()> {
        self.copy(&self.resolve(src), dst, dryrun)
    }

    fn ensure_dir(&self, dir: &Path, dryrun: bool) -> Result<()> {
        let dir = self.resolve(dir);
        let msg = format!("Ensuring directory {} exists", quote(&dir.display().to_string()));
        if dryrun {
            crate::info!("{msg}");
            return Ok(());
        }
        crate::debug!("{msg}");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("Cannot create directory", &dir, e))
    }
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
    let mut child = c
        .spawn()
        .map_err(|e| Error::run(format!("Cannot execute {}: {}", quote(&name), io_reason(&e))))?;
    crate::debug!("Child PID: {}", child.id());
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
    let out_reader = child.stdout.take().map(spawn_reader);
    let err_reader = child.stderr.take().map(spawn_reader);
    let status = wait(&mut child, cmd.timeout, &name)?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out_reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
    let stderr = err_reader.map(|r| r.join().unwrap_or_default()).unwrap_or_default();
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

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Waits for `child`, killing its process group after `timeout`.
fn wait(child: &mut Child, timeout: Option<Duration>, name: &str) -> Result<std::process::ExitStatus> {
    let Some(timeout) = timeout else {
        return child
            .wait()
            .map_err(|e| Error::run(format!("Cannot wait for {name}: {}", io_reason(&e))));
    };
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| Error::run(format!("Cannot wait for {name}: {}", io_reason(&e))))?
        {
            return Ok(st);
        }
        if start.elapsed() >= timeout {
            let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM);
            std::thread::sleep(Duration::from_millis(200));
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Err(Error::run(format!(
                "Command {} timed out after {} s and was killed",
                quote(name),
                fmt_secs(timeout)
            )));
        }
        std::thread::sleep(
            pause
                .min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_micros(100)),
        );
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s:.1}")
    }
}

/// `argv` for messages.
pub fn display_argv(argv: &[OsString]) -> String {
    quote_argv(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_added_to_the_inherited_one() {
        let cmd = Command::new(["sh", "-c", "echo \"$TROIKA_T1 ${PATH:+path}\""]).env("TROIKA_T1", "a b");
        let out = LocalConnection::default().execute(cmd, false).unwrap();
        assert!(out.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b path\n");
    }

    #[test]
    fn dry_run_runs_nothing() {
        let out = LocalConnection::default()
            .execute(Command::new(["false"]).env("X", "1"), true)
            .unwrap();
        assert!(out.dryrun && out.success());
    }
}
