//! The error taxonomy of troika. Every failure maps to one of these kinds; the
//! binary prints it as one log record and exits with status 1 (usage errors,
//! handled by the command line parser, exit with 2).

use std::fmt;

/// A troika error. The `Display` form starts with the kind, as operators grep
/// for these words in the logs of their workflow managers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file or a site entry is invalid.
    #[error("Configuration error: {0}")]
    Config(String),
    /// The command line names something that does not exist or is malformed
    /// (unknown site, invalid `-D`, unreadable script, invalid job id).
    #[error("Invocation error: {0}")]
    Invocation(String),
    /// The script could not be parsed or translated.
    #[error("{0}")]
    Script(String),
    /// An external command or an action failed (submission, kill, ...).
    #[error("{0}")]
    Run(String),
    /// An operating-system error that troika has no more specific advice for
    /// (for instance copying into a directory that does not exist).
    #[error("Unhandled exception: {0}")]
    Unexpected(String),
    /// An error that was already logged (before the exit hooks ran, so that
    /// a copied log file holds it); the program only sets the exit status.
    #[error("{0}")]
    Reported(Box<Error>),
}

impl Error {
    pub fn config(msg: impl fmt::Display) -> Self {
        Error::Config(msg.to_string())
    }
    pub fn invocation(msg: impl fmt::Display) -> Self {
        Error::Invocation(msg.to_string())
    }
    pub fn run(msg: impl fmt::Display) -> Self {
        Error::Run(msg.to_string())
    }
    /// The message without the kind's words.
    pub fn detail(&self) -> &str {
        match self {
            Error::Config(s) | Error::Invocation(s) | Error::Script(s) | Error::Run(s) | Error::Unexpected(s) => s,
            Error::Reported(e) => e.detail(),
        }
    }

    /// An I/O error on `path`, with what troika was doing.
    pub fn io(what: impl fmt::Display, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Unexpected(format!("{what} '{}': {}", path.display(), io_reason(&err)))
    }
}

/// The reason of an I/O error without Rust's "(os error N)" suffix.
pub fn io_reason(err: &std::io::Error) -> String {
    let s = err.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// An I/O error on `path` as Python words it: `[Errno 21] Is a directory: 'path'`.
pub fn python_io_error(err: &std::io::Error, path: &str) -> String {
    match err.raw_os_error() {
        Some(n) => format!("[Errno {n}] {}: {}", io_reason(err), crate::util::quote(path)),
        None => format!("{}: {}", io_reason(err), crate::util::quote(path)),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
