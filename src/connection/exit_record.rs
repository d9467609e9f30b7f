//! The exit record of a detached local command: the process that starts it
//! stays, waits for it, and writes how it ended to a small file. This is the
//! accounting of the direct site: it tells the exit code or the signal of a
//! job that wrote no status record (a Python script, a job killed with
//! `SIGKILL`).
//!
//! The spawned process forks once more: the child leads a session of its own
//! and becomes the command (its pid is the job id, its process group is what
//! `kill` signals); the parent is the waiter. It sees the end of the command
//! without reaping it (`waitid` with `WNOWAIT`), so that the command stays
//! visible to `ps` (a zombie) until the record is written, writes the record
//! (a temporary file, then a rename), then reaps it and exits.
//!
//! The record is one `key=value` a line: `pid=` (the command's), `start=`
//! and `end=` (seconds since the epoch), then `exit=CODE`, or
//! `signal=NUMBER` when a signal ended it.
//!
//! Between `fork` and `_exit` the waiter makes system calls only: no
//! allocation, no lock (troika may run other threads when it spawns).

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

fn cstring(p: &Path) -> std::io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a path holds a NUL byte"))
}

/// Prepares `c` (whose own `pre_exec` steps have run before) so that the
/// process it spawns leaves the command to a child and waits for it,
/// writing its record to `file`. Returns where the command's pid is read
/// once the spawn returned ([`read_pid`]).
pub fn install(c: &mut std::process::Command, file: &Path) -> std::io::Result<OwnedFd> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = cstring(Path::new(&tmp))?;
    let file = cstring(file)?;
    let null = CString::new("/dev/null").expect("no NUL");
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and belong to no one else.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let report = std::os::fd::AsRawFd::as_raw_fd(&write_end);
    // SAFETY: the closure makes system calls only (see the module's doc).
    unsafe {
        c.pre_exec(move || {
            let _keep = &write_end;
            let start = now();
            // A record left by an earlier job of this output is no answer
            // about this one.
            libc::unlink(file.as_ptr());
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => {
                    // The command: a session (and process group) of its own.
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                }
                pid => wait_and_record(pid, report, start, &file, &tmp, &null),
            }
        });
    }
    Ok(read_end)
}

/// The command's pid, from the descriptor [`install`] returned (read once
/// the spawn returned: the waiter has written it by then).
pub fn read_pid(fd: OwnedFd) -> Option<u32> {
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|p| *p > 0)
}

fn now() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec
}

/// A fixed buffer written without allocating.
struct Buf {
    bytes: [u8; 160],
    len: usize,
}

impl Buf {
    fn push(&mut self, s: &[u8]) {
        for &b in s {
            if self.len < self.bytes.len() {
                self.bytes[self.len] = b;
                self.len += 1;
            }
        }
    }

    fn number(&mut self, n: i64) {
        if n < 0 {
            self.push(b"-");
        }
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    fn line(&mut self, key: &[u8], n: i64) {
        self.push(key);
        self.push(b"=");
        self.number(n);
        self.push(b"\n");
    }

    fn write_to(&self, fd: RawFd) -> bool {
        let mut done = 0;
        while done < self.len {
            // SAFETY: the slice is within the buffer.
            let n = unsafe { libc::write(fd, self.bytes[done..self.len].as_ptr().cast(), self.len - done) };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return false;
            }
            done += n as usize;
        }
        true
    }
}

/// The waiter: reports the command's pid, lets go of every descriptor,
/// waits for the command's end, writes the record, reaps it. Never
/// returns.
///
/// SAFETY: to be called in a child of `fork` only.
unsafe fn wait_and_record(
    pid: libc::pid_t,
    report: RawFd,
    start: i64,
    file: &CString,
    tmp: &CString,
    null: &CString,
) -> ! {
    let mut b = Buf {
        bytes: [0; 160],
        len: 0,
    };
    b.number(pid as i64);
    b.push(b"\n");
    b.write_to(report);
    // Nothing of troika's stays open here (its locks, its output pipes),
    // nor the job's output file.
    let n = libc::open(null.as_ptr(), libc::O_RDWR);
    if n >= 0 {
        for fd in 0..3 {
            libc::dup2(n, fd);
        }
    }
    if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur.min(65536) as RawFd
        } else {
            1024
        };
        for fd in 3..max {
            libc::close(fd);
        }
    }
    libc::prctl(libc::PR_SET_NAME, c"troika-wait".as_ptr() as libc::c_ulong, 0, 0, 0);
    let mut info: libc::siginfo_t = std::mem::zeroed();
    loop {
        let r = libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT);
        if r == 0 {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            libc::_exit(1);
        }
    }
    let status = info.si_status() as i64;
    let mut b = Buf {
        bytes: [0; 160],
        len: 0,
    };
    b.line(b"pid", pid as i64);
    b.line(b"start", start);
    b.line(b"end", now());
    match info.si_code {
        libc::CLD_EXITED => b.line(b"exit", status),
        _ => b.line(b"signal", status),
    }
    let fd = libc::open(
        tmp.as_ptr(),
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
        0o644 as libc::c_uint,
    );
    if fd >= 0 {
        let written = b.write_to(fd);
        if libc::close(fd) == 0 && written {
            libc::rename(tmp.as_ptr(), file.as_ptr());
        } else {
            libc::unlink(tmp.as_ptr());
        }
    }
    libc::waitpid(pid, std::ptr::null_mut(), 0);
    libc::_exit(0)
}

#[cfg(test)]
mod tests {
    use crate::connection::local::LocalConnection;
    use crate::connection::{Command, Connection, Sink};

    /// Starts `script` under a waiter; returns the job's pid and where its
    /// record will be.
    fn start(dir: &std::path::Path, name: &str, script: &str) -> (u32, std::path::PathBuf) {
        let out = dir.join(format!("{name}.out"));
        let record = dir.join(format!("{name}.exit"));
        let cmd = Command::new(["sh", "-c", script])
            .stdout(Sink::File(out))
            .stderr(Sink::Stdout)
            .detach_recording_exit(record.clone());
        let pid = LocalConnection::default().execute(cmd).unwrap().pid.unwrap();
        (pid, record)
    }

    fn wait_for(record: &std::path::Path) -> String {
        for _ in 0..200 {
            if let Ok(t) = std::fs::read_to_string(record) {
                return t;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("no record at {}", record.display());
    }

    #[test]
    fn the_waiter_writes_the_exit_code_or_the_signal() {
        let d = tempfile::tempdir().unwrap();
        let (pid, record) = start(d.path(), "three", "echo hi; exit 3");
        let text = wait_for(&record);
        assert!(text.starts_with(&format!("pid={pid}\nstart=")), "{text}");
        assert!(text.ends_with("\nexit=3\n"), "{text}");
        assert_eq!(std::fs::read_to_string(d.path().join("three.out")).unwrap(), "hi\n");

        // The job leads its own process group; signalling it leaves the
        // waiter, which writes the signal (not 128 + 9).
        let (pid, record) = start(d.path(), "nine", "sleep 60");
        let p = nix::unistd::Pid::from_raw(pid as i32);
        assert_eq!(nix::unistd::getpgid(Some(p)).unwrap(), p);
        nix::sys::signal::killpg(p, nix::sys::signal::Signal::SIGKILL).unwrap();
        let text = wait_for(&record);
        assert!(
            text.starts_with(&format!("pid={pid}\n")) && text.ends_with("\nsignal=9\n"),
            "{text}"
        );
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn a_command_that_cannot_start_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let cmd = Command::new(["/nonexistent/troika-test"])
            .stdout(Sink::File(d.path().join("x.out")))
            .detach_recording_exit(d.path().join("x.exit"));
        let e = LocalConnection::default().execute(cmd).unwrap_err().to_string();
        assert!(e.contains("troika-test"), "{e}");
    }
}
