//! Small helpers shared by the modules: quoting for log messages, atomic file
//! writes, boolean parsing.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Quotes `s` the way troika 0.2.7 prints command arguments in its logs
/// (`'sbatch'`, `"it's"`): single quotes unless the text contains a single
/// quote and no double quote; backslashes, the quote and control characters
/// are escaped.
pub fn quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Quotes raw bytes for a message: valid UTF-8 is quoted as text, other bytes
/// are shown as `\xNN`.
pub fn quote_bytes(b: &[u8]) -> String {
    quote(&String::from_utf8_lossy(b))
}

/// Shows raw bytes as troika 0.2.7 does in some warnings: `b'abe'`, with
/// `\xNN` for bytes that are not printable ASCII.
pub fn bytes_repr(b: &[u8]) -> String {
    let q = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(b.len() + 3);
    out.push('b');
    out.push(q);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c as char == q => {
                out.push('\\');
                out.push(q);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(q);
    out
}

/// `s` as one word for a POSIX shell: as it is when it holds only
/// characters no shell reads specially, else single-quoted.
pub fn shell_quote_bytes(s: &[u8]) -> Vec<u8> {
    if !s.is_empty() && s.iter().all(|c| c.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(c)) {
        return s.to_vec();
    }
    let mut out = b"'".to_vec();
    for &c in s {
        if c == b'\'' {
            out.extend_from_slice(b"'\"'\"'");
        } else {
            out.push(c);
        }
    }
    out.push(b'\'');
    out
}

/// The name of a program as messages give it: `sbatch` for
/// `/usr/bin/sbatch`.
pub fn program_name(program: impl AsRef<std::ffi::OsStr>) -> String {
    let p = Path::new(program.as_ref());
    p.file_name().unwrap_or(p.as_os_str()).to_string_lossy().into_owned()
}

/// Joins quoted arguments with spaces, as in `Execute: 'sbatch' '-p' 'x'`.
pub fn quote_argv<S: AsRef<std::ffi::OsStr>>(argv: &[S]) -> String {
    let mut out = String::new();
    for (i, a) in argv.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&quote(&a.as_ref().to_string_lossy()));
    }
    out
}

/// A job id of digits as 0.2.7 wrote it after reading it as an integer:
/// without leading zeros (`0042` -> `42`, `000` -> `0`).
pub fn integer_id(digits: &str) -> String {
    let t = digits.trim_start_matches('0');
    if t.is_empty() && !digits.is_empty() {
        "0".to_string()
    } else {
        t.to_string()
    }
}

/// Parses a boolean as troika 0.2.7 did: `1`, `yes`, `true`, `on` or `0`, `no`,
/// `false`, `off`, in any case, without blanks around.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// The longest time troika accepts for anything it waits for (a command's
/// time limit, a step of a kill sequence, a hook or translator): 10^9 seconds,
/// about 31 years. A longer value in a configuration is an error with its
/// location, never a panic or an endless wait.
pub const MAX_SECONDS: u64 = 1_000_000_000;

/// `secs` as a duration when it is a finite number from 0 to [`MAX_SECONDS`].
pub fn duration_secs(secs: f64) -> Option<std::time::Duration> {
    (secs.is_finite() && (0.0..=MAX_SECONDS as f64).contains(&secs)).then(|| std::time::Duration::from_secs_f64(secs))
}

/// What a configuration error says of a duration that [`duration_secs`] refuses.
pub fn duration_limit_words() -> String {
    format!("a number of seconds from 0 to {MAX_SECONDS} (about 31 years)")
}

/// `path` with `suffix` appended to its file name (`job.sh` -> `job.sh.jid`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `path` written as troika 0.2.7 wrote the paths it derived (output
/// directories, copies, `remote_cwd`): without `.` parts, repeated or
/// trailing slashes (`/a/./b//` is `/a/b`, `./job.sh` is `job.sh`); `..` is
/// kept, and a path with nothing left is `.`.
pub fn pure_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        if c != std::path::Component::CurDir {
            out.push(c);
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A path given to a command as an argument, so that no command can read it
/// as an option: a relative path that starts with `-` gets `./` in front
/// (`-d/job.sh` becomes `./-d/job.sh`); any other path is as it is.
pub fn command_path(path: PathBuf) -> PathBuf {
    if path.as_os_str().as_encoded_bytes().starts_with(b"-") {
        Path::new(".").join(path)
    } else {
        path
    }
}

/// The file `name` in `dir`, written as [`pure_path`] writes paths (`.` and
/// `job.sh` give `job.sh`).
pub fn file_in(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    pure_path(&dir.join(name))
}

/// The directory of `path` (see [`pure_path`]), `.` when it has none.
pub fn parent_dir(path: &Path) -> PathBuf {
    pure_path(path.parent().unwrap_or(path))
}

/// Why a file that must be a regular file could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Io(std::io::Error),
    /// It exists but is not a regular file: what it is (`a directory`).
    NotRegular(&'static str),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "{}", crate::error::io_reason(e)),
            OpenError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
        }
    }
}

/// Opens `path` for reading if it is a regular file (after links). Anything
/// else (a FIFO, a device such as `/dev/zero`, a directory) is refused
/// without being read: opening never blocks on a FIFO, and reading never
/// runs forever.
pub fn open_regular(path: &Path) -> std::result::Result<std::fs::File, OpenError> {
    let (file, meta) = open_nonblocking(path)?;
    match file_kind(&meta.file_type()) {
        None => Ok(file),
        Some(kind) => Err(OpenError::NotRegular(kind)),
    }
}

/// Opens `path` for reading without waiting for a FIFO's writer, then makes
/// reads blocking again (a FIFO without a writer reads as empty). A regular
/// file needs no change: `O_NONBLOCK` does nothing to it.
pub fn open_nonblocking(path: &Path) -> std::result::Result<(std::fs::File, std::fs::Metadata), OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        clear_nonblocking(&file);
    }
    Ok((file, meta))
}

/// Makes reads and writes of `file` block again after an open with
/// `O_NONBLOCK` (which only served not to wait for a FIFO's other end).
pub fn clear_nonblocking(file: &std::fs::File) {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: fcntl on a descriptor owned by `file`.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// What a file is when it is not a regular file (`a directory`).
fn file_kind(ft: &std::fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    Some(if ft.is_file() {
        return None;
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "a special file"
    })
}

/// The largest file of one word that troika reads back: a `.jid` (job id)
/// or `.site` (group member) file.
pub const MAX_ID_FILE_BYTES: u64 = 4096;

/// Reads a whole file of at most `limit` bytes (a configuration, a job id
/// file); `Ok(None)` when it is larger. A pipe or a device is read up to the
/// limit (`-c <(make-config)` works, `/dev/zero` does not run forever); a
/// directory is refused.
pub fn read_limited(path: &Path, limit: u64) -> std::result::Result<Option<Vec<u8>>, OpenError> {
    use std::io::Read;
    let (file, meta) = open_nonblocking(path)?;
    if meta.is_dir() {
        return Err(OpenError::NotRegular("a directory"));
    }
    let mut data = Vec::new();
    file.take(limit + 1).read_to_end(&mut data).map_err(OpenError::Io)?;
    Ok((data.len() as u64 <= limit).then_some(data))
}

/// Writes `data` to `path` atomically (see [`AtomicFile`]).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.fill(mode, |w| w.write_all(data))?;
    f.commit()
}

/// A file replaced atomically: a temporary file in the same directory is
/// written, given its mode and renamed over the target. Readers see the old
/// content or the new one, never a part; dropped before `commit`, nothing
/// is left behind.
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(parent_dir(path))
            .map_err(|e| Error::io("Cannot create a temporary file for", path, e))?;
        Ok(AtomicFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The path of the temporary file (to lock it, for instance).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes the content through a buffer, then sets `mode`.
    pub fn fill(
        &mut self,
        mode: u32,
        fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
    ) -> Result<()> {
        let file = self.tmp.as_file();
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, file);
        fill(&mut w)
            .and_then(|()| w.flush())
            .map_err(|e| Error::io("Cannot write", &self.path, e))?;
        drop(w);
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("Cannot set the mode of", &self.path, e))
    }

    /// Renames the new content over the target.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.tmp
            .persist(&path)
            .map_err(|e| Error::io("Cannot replace", &path, e.error))?;
        Ok(())
    }
}

/// Formats a float the way Python's `str()` does for common values
/// (`2.0`, `1.5`, `1e+20`).
pub fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == f.trunc() && f.abs() < 1e16 {
        return format!("{f:.1}");
    }
    let s = format!("{f}");
    if f.abs() >= 1e16 {
        let e = format!("{f:e}");
        // Rust: 1e20 -> "1e20"; Python: "1e+20"
        return match e.split_once('e') {
            Some((m, x)) if !x.starts_with('-') => format!("{m}e+{x}"),
            _ => e,
        };
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_paths_and_parents() {
        for (given, pure) in [
            ("./job.sh", "job.sh"),
            ("/a/./b//c/", "/a/b/c"),
            ("a/../b", "a/../b"),
            (".", "."),
            ("", "."),
        ] {
            assert_eq!(pure_path(Path::new(given)), Path::new(pure), "{given}");
        }
        for (given, parent) in [
            ("job.out", "."),
            ("./job.out", "."),
            ("/a/./b//j.out", "/a/b"),
            ("a/b/", "a"),
            ("/", "/"),
        ] {
            assert_eq!(parent_dir(Path::new(given)), Path::new(parent), "{given}");
        }
    }

    #[test]
    fn quote_like_python_repr() {
        assert_eq!(quote("sbatch"), "'sbatch'");
        assert_eq!(quote("$USER"), "'$USER'");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(quote("a\\b\n"), "'a\\\\b\\n'");
        assert_eq!(quote_argv(&["a", "b c"]), "'a' 'b c'");
    }

    #[test]
    fn bytes_like_python() {
        assert_eq!(bytes_repr(b"abe"), "b'abe'");
        assert_eq!(bytes_repr(b" end"), "b' end'");
        assert_eq!(bytes_repr(b"it's"), "b\"it's\"");
        assert_eq!(bytes_repr(b"\xff\n"), "b'\\xff\\n'");
    }

    #[test]
    fn floats_like_python() {
        assert_eq!(py_float(2.0), "2.0");
        assert_eq!(py_float(1.5), "1.5");
        assert_eq!(py_float(1e20), "1e+20");
        assert_eq!(py_float(-0.25), "-0.25");
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool(""), None);
        assert_eq!(parse_bool("maybe"), None);
        for strict in ["y", "t", "f", "n", "yes ", " no"] {
            assert_eq!(parse_bool(strict), None, "{strict:?}");
        }
    }

    #[test]
    fn atomic_write_sets_mode_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jid");
        write_atomic(&p, b"12\n", 0o640).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"12\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left");
    }
}
