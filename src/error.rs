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
    /// What troika 0.2.7 ended with an unhandled Python exception, and is
    /// reported with those words (log scrapers look for them).
    #[error("Unhandled exception: {0}")]
    Unexpected(String),
    /// An ordinary operating-system error on a file troika reads or writes
    /// (a missing directory, a full disk, a read-only file). 0.2.7 reported
    /// these as unhandled exceptions, and so does troika for a configuration
    /// without an edition; with `edition: 2026` they are not worded as a
    /// crash (see `set_edition`).
    #[error("{prefix}{0}", prefix = io_prefix())]
    Io(String),
    /// A command whose effect is not known: its answer could not be read. A
    /// submission that ends so may have reached the scheduler, so nothing it
    /// wrote is rolled back.
    #[error("{0}")]
    Uncertain(String),
    /// A command that failed in a way that may pass: its connection could
    /// not be made, or it ran out of time. `Reach` says whether it may have
    /// done its work before it failed.
    #[error("{0}")]
    Transient(String, Reach),
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
            Error::Config(s)
            | Error::Invocation(s)
            | Error::Script(s)
            | Error::Run(s)
            | Error::Unexpected(s)
            | Error::Io(s)
            | Error::Uncertain(s)
            | Error::Transient(s, _) => s,
            Error::Reported(e) => e.detail(),
        }
    }

    /// An I/O error on `path`, with what troika was doing.
    pub fn io(what: impl fmt::Display, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Io(format!("{what} '{}': {}", path.display(), io_reason(&err)))
    }

    /// Whether the error leaves unknown what a command did (see
    /// [`Error::Uncertain`]).
    pub fn is_uncertain(&self) -> bool {
        match self {
            Error::Uncertain(_) | Error::Transient(_, Reach::MaybeDone) => true,
            Error::Reported(e) => e.is_uncertain(),
            _ => false,
        }
    }

    /// How far a command that failed transiently got; `None` when the
    /// failure is not transient.
    pub fn transient(&self) -> Option<Reach> {
        match self {
            Error::Transient(_, r) => Some(*r),
            Error::Reported(e) => e.transient(),
            _ => None,
        }
    }

    /// The same error, of the same kind, with `words` in front of its
    /// message (`Translator 'x': ...`). An error already reported is left
    /// as it is.
    pub fn context(self, words: impl fmt::Display) -> Self {
        match self {
            Error::Reported(_) => self,
            e => e.map_message(|m| format!("{words}: {m}")),
        }
    }

    /// The same error with `f` applied to its message, of the same kind.
    pub fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            Error::Config(s) => Error::Config(f(s)),
            Error::Invocation(s) => Error::Invocation(f(s)),
            Error::Script(s) => Error::Script(f(s)),
            Error::Run(s) => Error::Run(f(s)),
            Error::Unexpected(s) => Error::Unexpected(f(s)),
            Error::Io(s) => Error::Io(f(s)),
            Error::Uncertain(s) => Error::Uncertain(f(s)),
            Error::Transient(s, r) => Error::Transient(f(s), r),
            Error::Reported(e) => Error::Reported(Box::new(e.map_message(f))),
        }
    }
}

/// How far a command that failed transiently got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// It never started, or never reached the scheduler: running it again
    /// cannot do its work twice (a connection refused).
    NotStarted,
    /// It may have done its work before it failed (its answer was lost, it
    /// timed out): a submission must be looked up before it is repeated.
    MaybeDone,
}

/// Whether I/O errors are worded as 0.2.7 worded them ("Unhandled
/// exception: ..."), which is so until a configuration with an edition says
/// otherwise.
static IO_AS_CRASH: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Chooses the words of I/O errors for the configuration's edition: 0.2.7's
/// ("Unhandled exception: ") without one, none with `edition: 2026`.
pub fn set_edition(edition: crate::config::Edition) {
    IO_AS_CRASH.store(
        !edition.behaviour().plain_io_errors,
        std::sync::atomic::Ordering::Relaxed,
    );
}

fn io_prefix() -> &'static str {
    if IO_AS_CRASH.load(std::sync::atomic::Ordering::Relaxed) {
        "Unhandled exception: "
    } else {
        ""
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

/// [`Error::context`] on a result.
pub trait Context<T> {
    /// Puts `words` in front of the error's message, keeping its kind.
    fn context(self, words: impl fmt::Display) -> Result<T>;
}

impl<T> Context<T> for Result<T> {
    fn context(self, words: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.context(words))
    }
}

/// How troika exits: the status a workflow manager sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The action did what was asked.
    Success = 0,
    /// Anything failed: configuration, script, command, connection.
    Failure = 1,
    /// The command line could not be parsed (as argparse did for 0.2.7).
    Usage = 2,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }
}
