//! The command line, as in troika 0.2.7: global options, then the action and
//! its own options. Parsing only; `app` runs what was asked.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "troika",
    version,
    about = "Submit, monitor and kill jobs on remote systems",
    after_help = "environment variables:\n  TROIKA_CONFIG_FILE    path to the default configuration file",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Increase verbosity level (can be repeated)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Decrease verbosity level (can be repeated)
    #[arg(short = 'q', long = "quiet", action = ArgAction::Count)]
    pub quiet: u8,
    /// Save log output to this file
    #[arg(short = 'l', long = "logfile", value_name = "LOGFILE")]
    pub logfile: Option<PathBuf>,
    /// Append to the log file instead of overwriting
    #[arg(short = 'A', long = "append-log")]
    pub append_log: bool,
    /// Path to the configuration file
    #[arg(short = 'c', long = "config", value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// If true, do not execute, just report
    #[arg(short = 'n', long = "dryrun")]
    pub dryrun: bool,
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Submit a new job
    Submit {
        /// Target site
        site: String,
        /// Job script
        script: PathBuf,
        /// Remote user
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        /// Job output file
        #[arg(short = 'o', long = "output", required = true)]
        output: PathBuf,
        /// Set a directive (NAME=VALUE); overrides the script's
        #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
        define: Vec<OsString>,
    },
    /// Monitor a submitted job
    Monitor {
        site: String,
        script: PathBuf,
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        /// Job output file
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Job ID (default: read from SCRIPT.jid)
        #[arg(short = 'j', long = "jobid")]
        jobid: Option<String>,
    },
    /// Kill a submitted job
    Kill {
        site: String,
        script: PathBuf,
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        #[arg(short = 'j', long = "jobid")]
        jobid: Option<String>,
    },
    /// Check whether the connection works
    CheckConnection {
        site: String,
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        /// Wait at most this many seconds
        #[arg(short = 't', long = "timeout", value_name = "SECONDS")]
        timeout: Option<f64>,
    },
    /// List available sites
    ListSites,
}

impl Action {
    /// The action's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit { .. } => "submit",
            Action::Monitor { .. } => "monitor",
            Action::Kill { .. } => "kill",
            Action::CheckConnection { .. } => "check-connection",
            Action::ListSites => "list-sites",
        }
    }
}
