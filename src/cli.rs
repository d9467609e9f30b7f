//! The command line, as in troika 0.2.7: global options, then the action and
//! its own options. Parsing only; `app` runs what was asked.
//!
//! As with 0.2.7's parser, an option given twice keeps its last value (`-D`
//! accumulates), and a long option may be shortened to any unambiguous prefix
//! (`--conf`, `--dry`); action names are never shortened.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

/// What monitor and kill are given: the job of a site.
#[derive(Debug, Args)]
pub struct JobArgs {
    pub site: String,
    pub script: PathBuf,
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Job output file
    #[arg(short = 'o', long = "output", value_parser = any_path())]
    pub output: Option<PathBuf>,
    /// Job ID (default: read from SCRIPT.jid)
    #[arg(short = 'j', long = "jobid")]
    pub jobid: Option<String>,
}

impl JobArgs {
    /// The job these arguments name.
    pub fn job(&self) -> crate::controller::JobRef<'_> {
        crate::controller::JobRef {
            site: &self.site,
            script: &self.script,
            user: self.user.as_deref(),
            output: self.output.as_deref(),
            jid: self.jobid.as_deref(),
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "troika",
    version,
    about = "Submit, monitor and kill jobs on remote systems",
    after_help = "environment variables:\n  TROIKA_CONFIG_FILE    path to the default configuration file",
    disable_help_subcommand = true,
    args_override_self = true,
    infer_long_args = true
)]
pub struct Cli {
    /// Increase verbosity level (can be repeated)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Decrease verbosity level (can be repeated)
    #[arg(short = 'q', long = "quiet", action = ArgAction::Count)]
    pub quiet: u8,
    /// Save log output to this file
    #[arg(short = 'l', long = "logfile", value_name = "LOGFILE", value_parser = any_path())]
    pub logfile: Option<PathBuf>,
    /// Append to the log file instead of overwriting
    #[arg(short = 'A', long = "append-log")]
    pub append_log: bool,
    /// Path to the configuration file
    // Every value given is opened (0.2.7's parser opened each as it went),
    // the last one is used.
    #[arg(short = 'c', long = "config", value_name = "CONFIG", action = ArgAction::Append, value_parser = any_path())]
    pub config: Vec<PathBuf>,
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
        #[arg(short = 'o', long = "output", required = true, value_parser = clap::value_parser!(OsString))]
        output: OsString,
        /// Set a directive (NAME=VALUE); overrides the script's
        #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
        define: Vec<OsString>,
    },
    /// Monitor a submitted job
    Monitor(JobArgs),
    /// Kill a submitted job
    Kill(JobArgs),
    /// Release a job submitted held (the `hold` directive)
    Release(JobArgs),
    /// Check whether the connection works
    CheckConnection {
        site: String,
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        /// Wait at most this many seconds (an integer, as in 0.2.7)
        #[arg(
            short = 't',
            long = "timeout",
            value_name = "SECONDS",
            allow_negative_numbers = true,
            value_parser = parse_int
        )]
        timeout: Option<i64>,
    },
    /// List available sites
    ListSites,
    /// Report the state of submitted jobs (one query per site)
    Status {
        /// Target site
        site: String,
        /// Job scripts
        scripts: Vec<PathBuf>,
        /// Remote user
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        /// Job output file (with one script: its status record is beside it)
        #[arg(short = 'o', long = "output", value_parser = any_path())]
        output: Option<PathBuf>,
        /// Job ID (with one script; default: read from SCRIPT.jid, else the job ledger)
        #[arg(short = 'j', long = "jobid")]
        jobid: Option<String>,
        /// Every job of the site in the job ledger, with the scripts given
        #[arg(long = "all")]
        all: bool,
        /// With --all: the jobs submitted since TIME (2026-12-03, or 2h, 7d back; default 1d)
        #[arg(long = "since", value_name = "TIME")]
        since: Option<String>,
        /// One JSON object per line
        #[arg(long = "json")]
        json: bool,
    },
    /// List the queues or partitions of a site, with their state and limits
    Queues {
        /// Target site
        site: String,
        /// Only this queue, in detail
        queue: Option<String>,
        /// Remote user
        #[arg(short = 'u', long = "user")]
        user: Option<String>,
        /// One JSON object per line
        #[arg(long = "json")]
        json: bool,
    },
    /// Print the script troika would submit, without submitting it
    Translate {
        /// Job script
        script: PathBuf,
        /// A site of this type with default settings (edition 2026, local)
        #[arg(
            long = "to",
            value_name = "TYPE",
            conflicts_with = "site",
            required_unless_present = "site"
        )]
        to: Option<String>,
        /// A site of the configuration
        #[arg(long = "site", value_name = "SITE")]
        site: Option<String>,
        /// Job output file (default: SCRIPT.out)
        #[arg(short = 'o', long = "output", value_parser = any_path())]
        output: Option<PathBuf>,
        /// Set a directive (NAME=VALUE); overrides the script's
        #[arg(short = 'D', long = "define", value_name = "NAME=VALUE")]
        define: Vec<OsString>,
    },
    /// `troika COMMAND ARGS` for a site type's front end (`troika sbatch`):
    /// its subcommand is added by [`command`] from the registry.
    #[command(skip)]
    FrontEnd { command: &'static str, args: Vec<OsString> },
    /// Check, show or write site configurations
    #[command(subcommand)]
    Config(ConfigAction),
    /// List the job ledger: the jobs submitted
    Jobs {
        /// Only jobs of this site
        #[arg(long = "site")]
        site: Option<String>,
        /// Only jobs submitted since TIME (2026-12-03, 2026-12-03T06:00, or 2h, 1d back)
        #[arg(long = "since", value_name = "TIME")]
        since: Option<String>,
        /// One JSON object per line
        #[arg(long = "json")]
        json: bool,
    },
}

/// `troika config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Check every site of the configuration and report every problem (exit 1 if any)
    Check {
        /// Path to the configuration file
        #[arg(short = 'c', long = "config", value_name = "CONFIG", value_parser = any_path())]
        config: Option<PathBuf>,
        /// Also check that each site answers and has the programs of its commands
        #[arg(long = "connect")]
        connect: bool,
    },
    /// Show a site as troika uses it: every key, its value and where the value comes from
    Show {
        site: String,
        /// Path to the configuration file
        #[arg(short = 'c', long = "config", value_name = "CONFIG", value_parser = any_path())]
        config: Option<PathBuf>,
    },
    /// Write out a site configuration recipe
    New {
        /// The recipe (see --list)
        #[arg(long = "recipe", value_name = "NAME", required_unless_present = "list")]
        recipe: Option<String>,
        /// Write it to FILE (never over an existing file) rather than to standard output
        #[arg(short = 'o', long = "output", value_name = "FILE", value_parser = any_path())]
        output: Option<PathBuf>,
        /// List the recipes
        #[arg(long = "list", conflicts_with = "recipe")]
        list: bool,
    },
}

/// The command line's definition: the actions of [`Cli`], and a subcommand
/// for the front end of each registered site type (`troika sbatch`).
pub fn command(registry: &crate::registry::Registry) -> clap::Command {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    for (_, front) in registry.front_ends() {
        cmd = cmd.subcommand(
            clap::Command::new(front.command)
                .about(front.about)
                .disable_help_flag(true)
                .arg(
                    clap::Arg::new(FRONT_END_ARGS)
                        .help(format!("[--site SITE] [{} options] SCRIPT", front.command))
                        .value_name("ARGS")
                        .trailing_var_arg(true)
                        .allow_hyphen_values(true)
                        .num_args(0..)
                        .value_parser(clap::value_parser!(OsString)),
                ),
        );
    }
    cmd
}

const FRONT_END_ARGS: &str = "args";

/// Reads the command line with [`command`].
pub fn parse(registry: &crate::registry::Registry, args: &[OsString]) -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let mut cmd = command(registry);
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    let front = matches.subcommand_name().and_then(|name| registry.front_end(name));
    let front_end = match front {
        Some((_, f)) => {
            let args = matches
                .remove_subcommand()
                .and_then(|(_, mut sub)| sub.remove_many::<OsString>(FRONT_END_ARGS))
                .map(Iterator::collect);
            Some(Action::FrontEnd {
                command: f.command,
                args: args.unwrap_or_default(),
            })
        }
        None => None,
    };
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    if front_end.is_some() {
        cli.action = front_end;
    }
    Ok(cli)
}

impl Action {
    /// The action's name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit { .. } => "submit",
            Action::Monitor(_) => "monitor",
            Action::Kill(_) => "kill",
            Action::Release(_) => "release",
            Action::CheckConnection { .. } => "check-connection",
            Action::ListSites => "list-sites",
            Action::Status { .. } => "status",
            Action::Jobs { .. } => "jobs",
            Action::Queues { .. } => "queues",
            Action::Translate { .. } => "translate",
            Action::FrontEnd { command, .. } => command,
            Action::Config(_) => "config",
        }
    }
}

/// A path, the empty one included (0.2.7 took `-o ''` as given).
fn any_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().map(PathBuf::from)
}

/// An integer as Python's `int()` reads it: blanks around it, a sign,
/// underscores between digits.
fn parse_int(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    let ok = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(format!("invalid int value: '{s}'"));
    }
    t.replace('_', "")
        .parse()
        .map_err(|_| format!("invalid int value: '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_python_integers() {
        assert_eq!(parse_int(" +7 "), Ok(7));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int("1_000"), Ok(1000));
        for bad in ["1.5", "nan", "", "_1", "1__0", "inf"] {
            assert!(parse_int(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeated_options_keep_the_last_value_and_long_options_shorten() {
        let cli = Cli::try_parse_from([
            "troika", "--conf", "a.yml", "--dry", "-n", "-c", "b.yml", "submit", "s", "j.sh", "--out", "/a/1", "-o",
            "/b/2", "-u", "x", "--us", "y",
        ])
        .unwrap();
        assert!(cli.dryrun);
        assert_eq!(cli.config, [PathBuf::from("a.yml"), PathBuf::from("b.yml")]);
        match cli.action {
            Some(Action::Submit { output, user, .. }) => {
                assert_eq!(output, "/b/2");
                assert_eq!(user.as_deref(), Some("y"));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["troika", "check-conn", "s"]).is_err());
        assert!(Cli::try_parse_from(["troika", "monitor", "s", "j.sh", "-o", ""]).is_ok());
    }
}
