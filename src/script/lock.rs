//! One submission of a script at a time, and a way back when it fails.
//!
//! A submission reads the script, writes the generated one in its place and
//! keeps the original as `<script>.orig`. Two troika processes doing that to
//! the same script at once would leave a generated script in `.orig`; so the
//! script is locked (`flock`, which NFS clients forward to the server) from
//! before it is read until the process ends, and so is the generated script
//! before it takes the original's place: whoever comes second finds one of
//! them locked, and fails without touching anything.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::util::{parent_dir, quote};

/// The locks a submission holds; released when dropped (or at exit).
#[derive(Default)]
pub struct SubmitLock {
    files: Vec<File>,
}

/// How `flock` answered.
enum Locked {
    Yes,
    Busy,
    /// The file system has no locks: the submission goes on without.
    Unsupported(std::io::Error),
}

fn try_lock(file: &File) -> Locked {
    // SAFETY: flock on a descriptor owned by `file`.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Locked::Yes;
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Locked::Busy
    } else {
        Locked::Unsupported(e)
    }
}

fn busy(path: &Path) -> Error {
    Error::run(format!(
        "Another troika process is submitting {} now: this one stops and changes nothing (submit a script once at a time)",
        quote(&path.display().to_string())
    ))
}

impl SubmitLock {
    /// Locks the script at `path` for one submission; an error when another
    /// process holds it. A script that cannot be opened gives an empty lock:
    /// the submission reports that with its usual words.
    pub fn acquire(path: &Path) -> Result<SubmitLock> {
        // The script may be replaced between opening and locking it (by a
        // submission that has just ended): then the lock is taken again on
        // the file now at the path.
        for _ in 0..3 {
            let Ok(file) = crate::util::open_regular(path) else {
                return Ok(SubmitLock::default());
            };
            match try_lock(&file) {
                Locked::Yes => {}
                Locked::Busy => return Err(busy(path)),
                Locked::Unsupported(e) => {
                    crate::debug!(
                        "Cannot lock {}: {}; going on without a lock",
                        quote(&path.display().to_string()),
                        crate::error::io_reason(&e)
                    );
                    return Ok(SubmitLock::default());
                }
            }
            let same = match (file.metadata(), std::fs::metadata(path)) {
                (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                _ => false,
            };
            if same {
                return Ok(SubmitLock { files: vec![file] });
            }
        }
        Err(busy(path))
    }

    /// Locks the file at `path` too (the generated script, before it
    /// replaces the original) and keeps it locked as long as this lock. It
    /// is opened for reading only: a file open for writing cannot be run
    /// (the direct site runs the script).
    pub fn hold(&mut self, path: &Path) -> Result<()> {
        let Ok(file) = File::open(path) else {
            return Ok(());
        };
        match try_lock(&file) {
            Locked::Yes => self.files.push(file),
            Locked::Busy => return Err(Error::run("the generated script is locked by another process")),
            Locked::Unsupported(_) => {}
        }
        Ok(())
    }
}

/// What a submission replaced, so that one that fails before the scheduler
/// took the job can put the script and its `.orig` back as they were. When
/// dropped without [`Replaced::restore`], the copy of the previous `.orig`
/// is removed.
pub struct Replaced {
    pub script: PathBuf,
    pub orig: PathBuf,
    /// The previous `.orig` under a temporary name, if there was one.
    pub(crate) old_orig: Option<tempfile::TempPath>,
}

/// A temporary hard link to `src` in `dir` (a copy where the file system
/// has no hard links), removed when dropped.
pub(crate) fn temp_link(src: &Path, dir: &Path) -> std::io::Result<tempfile::TempPath> {
    let link = tempfile::Builder::new()
        .prefix(".troika.")
        .suffix(".tmp")
        .make_in(dir, |p| std::fs::hard_link(src, p));
    match link {
        Ok(t) => Ok(t.into_temp_path()),
        Err(_) => {
            let t = tempfile::Builder::new()
                .prefix(".troika.")
                .suffix(".tmp")
                .tempfile_in(dir)?
                .into_temp_path();
            std::fs::copy(src, &t)?;
            Ok(t)
        }
    }
}

impl Replaced {
    /// Keeps the previous `.orig` of `script` aside, before it is replaced.
    pub(crate) fn new(script: &Path, orig: &Path) -> Result<Replaced> {
        let old_orig = match std::fs::symlink_metadata(orig) {
            Ok(m) if m.is_file() => {
                Some(temp_link(orig, &parent_dir(orig)).map_err(|e| Error::io("Cannot keep a copy of", orig, e))?)
            }
            _ => None,
        };
        Ok(Replaced {
            script: script.to_path_buf(),
            orig: orig.to_path_buf(),
            old_orig,
        })
    }

    /// Puts the previous `.orig` back (or removes the new one when there
    /// was none).
    pub(crate) fn restore_orig(self) -> Result<()> {
        match self.old_orig {
            Some(t) => t
                .persist(&self.orig)
                .map_err(|e| Error::io("Cannot restore", &self.orig, e.error))?,
            None => match std::fs::remove_file(&self.orig) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("Cannot remove", &self.orig, e)),
            },
        }
        Ok(())
    }

    /// Puts the original script back in place of the generated one, and
    /// the previous `.orig` back.
    pub fn restore(self) -> Result<()> {
        let original =
            temp_link(&self.orig, &parent_dir(&self.script)).map_err(|e| Error::io("Cannot read", &self.orig, e))?;
        original
            .persist(&self.script)
            .map_err(|e| Error::io("Cannot restore", &self.script, e.error))?;
        self.restore_orig()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_the_same_script_fails() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("job.sh");
        std::fs::write(&p, "echo\n").unwrap();
        let first = SubmitLock::acquire(&p).unwrap();
        assert_eq!(first.files.len(), 1);
        let e = SubmitLock::acquire(&p)
            .err()
            .expect("the second lock must fail")
            .to_string();
        assert!(e.contains("Another troika process is submitting"), "{e}");
        drop(first);
        assert!(SubmitLock::acquire(&p).is_ok(), "free again once dropped");
        // A missing script: no lock, no error (the submission says why).
        assert!(SubmitLock::acquire(&d.path().join("none.sh")).unwrap().files.is_empty());
    }

    #[test]
    fn restore_puts_both_files_back() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("job.sh");
        let orig = d.path().join("job.sh.orig");
        for old_orig in [Some("older\n"), None] {
            std::fs::write(&script, "original\n").unwrap();
            let _ = std::fs::remove_file(&orig);
            if let Some(o) = old_orig {
                std::fs::write(&orig, o).unwrap();
            }
            let r = Replaced::new(&script, &orig).unwrap();
            std::fs::rename(&script, &orig).unwrap();
            std::fs::write(&script, "generated\n").unwrap();
            r.restore().unwrap();
            assert_eq!(std::fs::read_to_string(&script).unwrap(), "original\n");
            match old_orig {
                Some(o) => assert_eq!(std::fs::read_to_string(&orig).unwrap(), o),
                None => assert!(!orig.exists()),
            }
            let left: Vec<_> = std::fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left.len(), if old_orig.is_some() { 2 } else { 1 }, "{left:?}");
        }
    }
}
