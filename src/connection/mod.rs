//! Connections: how troika runs commands and moves files on a site. Every
//! command is an argument vector, never a shell string.

pub mod exit_record;
pub mod local;
pub mod ssh;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::SiteConfig;
use crate::error::Result;

/// What a command reads on its standard input.
#[derive(Clone, Debug)]
pub enum Input {
    Null,
    Bytes(Vec<u8>),
    /// A local file, streamed (a 100 MB script is never held in memory).
    File(PathBuf),
}

/// Where a command's output stream goes.
#[derive(Clone, Debug)]
pub enum Sink {
    /// Captured and returned in the [`Outcome`].
    Capture,
    /// Written to a file (truncated), on the machine that runs the command.
    File(PathBuf),
    /// Same destination as standard output (stderr only).
    Stdout,
    Null,
}

/// One command to run.
#[derive(Clone, Debug)]
pub struct Command {
    pub argv: Vec<OsString>,
    pub stdin: Input,
    pub stdout: Sink,
    pub stderr: Sink,
    /// Start in a new session and do not wait: the job of the direct site.
    pub detach: bool,
    /// With `detach`: a process waits for the command and writes how it
    /// ended to this file, on the machine that runs it
    /// (`exit_record` says what it holds). The command's process
    /// id stays the one returned.
    pub exit_file: Option<PathBuf>,
    /// Killed and reported as failed after this long.
    pub timeout: Option<Duration>,
    /// Variables added to (or replacing in) the inherited environment. A
    /// connection that runs the command elsewhere passes them along (for
    /// instance through `env NAME=VALUE ...` on the remote side).
    pub env: Vec<(String, String)>,
    /// Runs even in a dry run (external hooks, which are told by
    /// `TROIKA_DRYRUN`).
    pub always: bool,
}

impl Command {
    /// A configured command (program and leading arguments) followed by `args`.
    pub fn with_args(base: &[String], args: &[&str]) -> Self {
        Command::new(base.iter().map(String::as_str).chain(args.iter().copied()))
    }

    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: Input::Null,
            stdout: Sink::Capture,
            stderr: Sink::Capture,
            detach: false,
            exit_file: None,
            timeout: None,
            env: Vec::new(),
            always: false,
        }
    }
    /// Runs the command even in a dry run.
    pub fn always(mut self) -> Self {
        self.always = true;
        self
    }
    /// Appends one argument.
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.argv.push(a.into());
        self
    }
    pub fn stdin(mut self, i: Input) -> Self {
        self.stdin = i;
        self
    }
    pub fn stdout(mut self, s: Sink) -> Self {
        self.stdout = s;
        self
    }
    pub fn stderr(mut self, s: Sink) -> Self {
        self.stderr = s;
        self
    }
    pub fn detach(mut self) -> Self {
        self.detach = true;
        self
    }
    /// Detached, under a process that writes how it ended to `file`.
    pub fn detach_recording_exit(mut self, file: PathBuf) -> Self {
        self.detach = true;
        self.exit_file = Some(file);
        self
    }
    pub fn timeout(mut self, t: Option<Duration>) -> Self {
        self.timeout = t;
        self
    }
    /// Sets one environment variable for the command.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }
}

/// The result of a command. In dry-run mode every command "succeeds" with no
/// output.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Exit status; `None` when killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Process id (set for detached commands).
    pub pid: Option<u32>,
    pub dryrun: bool,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    /// Standard error then standard output, as text, for messages and for
    /// recognising a scheduler's answers.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&[self.stderr.as_slice(), self.stdout.as_slice()].concat()).into_owned()
    }
    pub fn dry() -> Self {
        Outcome {
            code: Some(0),
            dryrun: true,
            ..Default::default()
        }
    }
    /// "exit code N" or "signal N", for messages.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown status".into(),
        }
    }
}

/// A way to reach a site. A connection made for a dry run (`-n`) only
/// logs what it would do (`Execute: ...`): the choice is made once, when it
/// is created ([`ConnectionOptions::dry_run`]).
pub trait Connection {
    /// Whether commands run on this machine.
    fn is_local(&self) -> bool;
    /// Whether this connection only logs what it would do.
    fn dry_run(&self) -> bool;
    /// Runs a command (or only logs it, in a dry run).
    fn execute(&self, cmd: Command) -> Result<Outcome>;
    /// Copies a local file to the site.
    fn send_file(&self, src: &Path, dst: &Path) -> Result<()>;
    /// Copies the job script to the site (`copy_script`). The same as
    /// [`Connection::send_file`] unless a connection treats scripts apart.
    fn send_script(&self, script: &Path, dst: &Path) -> Result<()> {
        self.send_file(script, dst)
    }
    /// Copies a file from the site to this machine.
    fn get_file(&self, src: &Path, dst: &Path) -> Result<()>;
    /// Creates a directory and its parents on the site.
    fn ensure_dir(&self, dir: &Path) -> Result<()>;
    /// Checks that commands can be run, within `timeout`.
    fn check(&self, timeout: Option<Duration>) -> Result<bool> {
        let out = self.execute(Command::new(["true"]).timeout(timeout));
        match out {
            Ok(o) => Ok(o.success()),
            Err(e) => {
                crate::error!("{e}");
                Ok(false)
            }
        }
    }
}

/// What a connection is made for, besides the site's configuration.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectionOptions<'a> {
    /// The user given with `-u`.
    pub user: Option<&'a str>,
    /// A dry run: commands are logged, not run.
    pub dry_run: bool,
    /// Copy messages name destinations as resolved local paths when there
    /// is no `local_cwd` (from the site type's traits).
    pub local_copy_paths: bool,
}

/// Creates a connection from a site's configuration.
pub type ConnectionFactory = fn(&SiteConfig, &ConnectionOptions) -> Result<Box<dyn Connection>>;

/// A registered connection type: its name, configuration keys and factory.
pub struct ConnectionType {
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub create: ConnectionFactory,
}

/// The built-in connection types.
pub fn builtin() -> Vec<ConnectionType> {
    vec![
        ConnectionType {
            name: "local",
            keys: local::KEYS,
            create: local::LocalConnection::create,
        },
        ConnectionType {
            name: "ssh",
            keys: ssh::KEYS,
            create: ssh::SshConnection::create,
        },
    ]
}
