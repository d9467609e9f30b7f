//! Logging in the record format of troika 0.2.7:
//! `YYYY-MM-DD HH:MM:SS,mmm; <logger>; <LEVEL>; <message>`.
//!
//! Records go to stderr at the level chosen with `-v`/`-q` (WARNING by default)
//! and, when a log file is open, to that file at DEBUG level. The logger is a
//! few atomics and a mutex: no allocation happens for a disabled record.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Debug = 10,
    Info = 20,
    Warning = 30,
    Error = 40,
    Critical = 50,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }
}

static STDERR_LEVEL: AtomicU8 = AtomicU8::new(Level::Warning as u8);
static FILE_ON: AtomicBool = AtomicBool::new(false);
static FILE: Mutex<Option<File>> = Mutex::new(None);

/// Sets the stderr level from the number of `-v` and `-q` flags.
pub fn set_verbosity(verbose: u8, quiet: u8) {
    let level = 30i32 - 10 * i32::from(verbose) + 10 * i32::from(quiet);
    STDERR_LEVEL.store(level.clamp(10, 50) as u8, Ordering::Relaxed);
}

/// Opens `path` as the debug log file (truncated unless `append`), creating
/// its parent directory if needed.
pub fn open_file(path: &Path, append: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent)?;
        }
    }
    // A FIFO without a reader fails at once (ENXIO) rather than block.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    // Writes block again, as on any file (a pipe with a reader).
    crate::util::clear_nonblocking(&file);
    *FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    FILE_ON.store(true, Ordering::Relaxed);
    Ok(())
}

/// Whether a record at `level` would be written anywhere.
#[inline]
pub fn enabled(level: Level) -> bool {
    level as u8 >= STDERR_LEVEL.load(Ordering::Relaxed) || FILE_ON.load(Ordering::Relaxed)
}

/// Writes one record. Use the `debug!`, `info!`, `warning!`, `error!` and
/// `critical!` macros rather than calling this directly.
pub fn write(level: Level, logger: &str, args: fmt::Arguments) {
    let to_stderr = level as u8 >= STDERR_LEVEL.load(Ordering::Relaxed);
    let to_file = FILE_ON.load(Ordering::Relaxed);
    if !to_stderr && !to_file {
        return;
    }
    let mut line = Vec::with_capacity(128);
    timestamp(&mut line);
    let _ = writeln!(line, "; {}; {}; {}", logger, level.name(), args);
    if to_file {
        if let Some(f) = FILE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = f.write_all(&line);
        }
    }
    if to_stderr {
        let _ = std::io::stderr().lock().write_all(&line);
    }
}

/// Local time as `YYYY-MM-DD HH:MM:SS,mmm`.
fn timestamp(out: &mut Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let millis = now.subsec_millis();
    // SAFETY: localtime_r only writes into the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if ok {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            millis
        );
    } else {
        let _ = write!(out, "1970-01-01 00:00:00,{millis:03}");
    }
}

/// The logger name of a module: `troika::site::slurm` -> `troika.site.slurm`.
#[doc(hidden)]
pub fn logger_name(module: &'static str) -> String {
    module.replace("::", ".")
}

#[macro_export]
#[doc(hidden)]
macro_rules! __log {
    ($lvl:expr, $($arg:tt)+) => {{
        let lvl = $lvl;
        if $crate::log::enabled(lvl) {
            $crate::log::write(lvl, &$crate::log::logger_name(module_path!()), format_args!($($arg)+));
        }
    }};
}
/// Logs at DEBUG level.
#[macro_export]
macro_rules! debug { ($($arg:tt)+) => { $crate::__log!($crate::log::Level::Debug, $($arg)+) }; }
/// Logs at INFO level.
#[macro_export]
macro_rules! info { ($($arg:tt)+) => { $crate::__log!($crate::log::Level::Info, $($arg)+) }; }
/// Logs at WARNING level.
#[macro_export]
macro_rules! warning { ($($arg:tt)+) => { $crate::__log!($crate::log::Level::Warning, $($arg)+) }; }
/// Logs at ERROR level.
#[macro_export]
macro_rules! error { ($($arg:tt)+) => { $crate::__log!($crate::log::Level::Error, $($arg)+) }; }
/// Logs at CRITICAL level.
#[macro_export]
macro_rules! critical { ($($arg:tt)+) => { $crate::__log!($crate::log::Level::Critical, $($arg)+) }; }
