//! The `troika` program: parse the command line, set up logging, load the
//! configuration, run the action, map the outcome to an exit status
//! (0 success, 1 failure, 2 usage error).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::{Action, JobArgs};
use crate::config::Config;
use crate::controller::{default_log_file, Controller};
use crate::error::{Error, ExitStatus, Result};
use crate::registry::Registry;

/// Runs troika with the built-in registry and the process arguments.
pub fn main() -> i32 {
    main_with(Registry::builtin())
}

/// Runs troika with `registry` (built-ins plus an organisation's own sites,
/// connections, translators and hooks) and the process arguments.
///
/// A panic is a bug of troika's; should one happen, it is logged as a
/// CRITICAL record (in the log file too) that says so, and the exit status
/// is 1, as for any failure, rather than Rust's 101.
pub fn main_with(registry: Registry) -> i32 {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        crate::critical!("Internal error (a bug in troika, please report it): {what}{at}");
    }));
    let args = std::env::args_os().collect();
    std::panic::catch_unwind(move || run(registry, args)).unwrap_or(ExitStatus::Failure.code())
}

/// Runs troika with explicit arguments (the first is the program name).
pub fn run(registry: Registry, args: Vec<OsString>) -> i32 {
    run_status(registry, args).code()
}

/// A link to troika called `troika-COMMAND` (`troika-sbatch`), for the front
/// end of a site type, is `troika COMMAND`.
fn front_end_args(registry: &Registry, mut args: Vec<OsString>) -> Vec<OsString> {
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if let Some(cmd) = name.and_then(|n| n.strip_prefix("troika-")) {
        if registry.front_end(cmd).is_some() {
            let cmd = OsString::from(cmd);
            args.insert(1, cmd);
        }
    }
    args
}

fn run_status(registry: Registry, args: Vec<OsString>) -> ExitStatus {
    let args = front_end_args(&registry, args);
    let cli = match crate::cli::parse(&registry, &args) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let Some(action) = cli.action else {
        eprintln!("usage: troika [-h] [-V] [-v] [-q] [-l LOGFILE] [-A] [-c CONFIG] [-n] action ...");
        eprintln!("troika: error: please specify an action");
        return ExitStatus::Usage;
    };
    crate::log::set_verbosity(cli.verbose, cli.quiet);
    for c in &cli.config {
        // A directory opens on Linux, but 0.2.7's parser could not read it.
        // A FIFO is opened without waiting for a writer.
        let opened = match crate::util::open_nonblocking(c) {
            Ok((_, meta)) if meta.is_dir() => Err(std::io::Error::from_raw_os_error(21)),
            Ok(_) => Ok(()),
            Err(crate::util::OpenError::Io(e)) => Err(e),
            Err(crate::util::OpenError::NotRegular(_)) => Err(std::io::Error::from_raw_os_error(21)),
        };
        if let Err(e) = opened {
            eprintln!("usage: troika [-h] [-V] [-v] [-q] [-l LOGFILE] [-A] [-c CONFIG] [-n] action ...");
            eprintln!(
                "troika: error: argument -c/--config: can't open '{}': {}",
                c.display(),
                crate::error::python_io_error(&e, &c.display().to_string())
            );
            return ExitStatus::Usage;
        }
    }
    // A submission locks its script before anything is written, even the
    // log file beside it: a second troika submitting the same script stops
    // here and changes nothing.
    let lock = match &action {
        Action::Submit { script, .. } => match crate::script::SubmitLock::acquire(script) {
            Ok(l) => Some(l),
            Err(e) => {
                crate::critical!("{e}");
                return ExitStatus::Failure;
            }
        },
        _ => None,
    };
    let logfile = cli.logfile.clone().or_else(|| match &action {
        Action::Submit { script, .. }
        | Action::Monitor(JobArgs { script, .. })
        | Action::Kill(JobArgs { script, .. })
        | Action::Release(JobArgs { script, .. }) => Some(default_log_file(script, action.name())),
        _ => None,
    });
    if let Some(lf) = &logfile {
        match crate::log::open_file(lf, cli.append_log) {
            Ok(()) => crate::debug!("Writing logs to {}", crate::util::quote(&lf.display().to_string())),
            Err(e) => crate::error!(
                "Cannot open log file: {}",
                crate::error::python_io_error(&e, &lf.display().to_string())
            ),
        }
    }
    match execute(
        &registry,
        cli.config.last().map(PathBuf::as_path),
        cli.dryrun,
        logfile,
        action,
        lock,
    ) {
        Ok(()) => ExitStatus::Success,
        // Already logged before the exit hooks ran.
        Err(Error::Reported(_)) => ExitStatus::Failure,
        Err(e) => {
            crate::critical!("{e}");
            ExitStatus::Failure
        }
    }
}

fn usage_error(e: clap::Error) -> ExitStatus {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            }
        }
        ErrorKind::InvalidSubcommand => {
            let name = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            eprintln!(
                "troika: error: argument action: invalid choice: '{name}' (choose from 'submit', 'monitor', 'kill', 'check-connection', 'list-sites')"
            );
            ExitStatus::Usage
        }
        ErrorKind::MissingRequiredArgument => {
            let missing: Vec<String> = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v
                    .iter()
                    .map(|a| match a.split_whitespace().next().unwrap_or(a) {
                        "--output" => "-o/--output".to_string(),
                        other => other.trim_matches(|c| c == '<' || c == '>').to_lowercase(),
                    })
                    .collect(),
                _ => vec![],
            };
            let _ = e.print();
            eprintln!(
                "troika: error: the following arguments are required: {}",
                missing.join(", ")
            );
            ExitStatus::Usage
        }
        _ => {
            let _ = e.print();
            ExitStatus::Usage
        }
    }
}

/// Where the configuration comes from: `-c`, `TROIKA_CONFIG_FILE`,
/// `<prefix>/etc/troika.yml` (prefix: the directory above the binary's), or
/// the built-in default.
pub fn load_config(option: Option<&Path>) -> Result<Config> {
    load_config_as(option, None)
}

/// The configuration, found as [`load_config`] finds it; read for a check when `problems`
/// is given (`troika config check`).
pub fn load_config_as(option: Option<&Path>, problems: Option<crate::config::Problems>) -> Result<Config> {
    if let Some(p) = option {
        crate::debug!("Using configuration file {}", p.display());
        return Config::load_as(p, problems);
    }
    // Set but empty is an error, as in 0.2.7: it names no file (and the
    // built-in configuration would hide the mistake).
    if let Some(env) = std::env::var_os("TROIKA_CONFIG_FILE") {
        let p = PathBuf::from(env);
        crate::debug!("Using configuration file {} (TROIKA_CONFIG_FILE)", p.display());
        return Config::load_as(&p, problems).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{m} (from TROIKA_CONFIG_FILE)")),
            other => other,
        });
    }
    let prefix_file = std::env::current_exe().ok().and_then(|exe| {
        exe.parent()
            .and_then(Path::parent)
            .map(|p| p.join("etc").join("troika.yml"))
    });
    if let Some(p) = &prefix_file {
        if p.is_file() {
            crate::debug!("Using configuration file {}", p.display());
            return Config::load_as(p, problems);
        }
    }
    let searched = match &prefix_file {
        Some(p) => format!("-c, TROIKA_CONFIG_FILE and {}", p.display()),
        None => "-c and TROIKA_CONFIG_FILE".to_string(),
    };
    crate::debug!("No configuration file found ({searched}): using the built-in configuration");
    Ok(match problems {
        None => Config::builtin(searched),
        Some(p) => Config::read(
            crate::config::BUILTIN_CONFIG,
            crate::config::Source::Builtin { searched },
            Some(p),
        )?,
    })
}

/// Writes `text` to standard output; a closed pipe (`| head`) is not an
/// error.
fn print_all(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::run(format!(
            "Cannot write to standard output: {}",
            crate::error::io_reason(&e)
        ))),
        _ => Ok(()),
    }
}

fn execute(
    registry: &Registry,
    config: Option<&Path>,
    dryrun: bool,
    logfile: Option<PathBuf>,
    action: Action,
    lock: Option<crate::script::SubmitLock>,
) -> Result<()> {
    if let Action::Config(what) = action {
        return crate::controller::config_action(registry, config, what, print_all);
    }
    let config = load_config(config)?;
    let mut ctl = Controller::new(registry, config, dryrun)?;
    ctl.logfile = logfile;
    match action {
        Action::Submit {
            site,
            script,
            user,
            output,
            define,
        } => {
            let defines: Vec<Vec<u8>> = define.iter().map(|d| d.as_encoded_bytes().to_vec()).collect();
            ctl.submit(&site, &script, user.as_deref(), Path::new(&output), &defines, lock)
                .map(|_| ())
        }
        Action::Translate {
            script,
            to,
            site,
            output,
            define,
        } => {
            let defines: Vec<Vec<u8>> = define.iter().map(|d| d.as_encoded_bytes().to_vec()).collect();
            // Streamed: every directive is read and checked before the first byte is written.
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
            ctl.translate(
                &crate::controller::Translation {
                    to: to.as_deref(),
                    site: site.as_deref(),
                    script: &script,
                    defines: &defines,
                    output: output.as_deref(),
                },
                &mut out,
            )
        }
        Action::FrontEnd { command, args } => print_all(&ctl.front_end(command, &args)?),
        Action::Status {
            site,
            scripts,
            user,
            output,
            jobid,
            all,
            since,
            json,
        } => {
            let reports = ctl.status(&crate::controller::StatusRequest {
                site: &site,
                scripts: &scripts,
                user: user.as_deref(),
                jid: jobid.as_deref(),
                output: output.as_deref(),
                all,
                since: since.as_deref(),
            })?;
            let mut out = String::new();
            for r in &reports {
                out.push_str(&match json {
                    true => r.status.json(&r.script, &r.site),
                    false => r.status.line(&r.script, &r.scheduler),
                });
                out.push('\n');
                if !json {
                    for l in r.status.task_lines(&r.script, &r.scheduler) {
                        out.push_str(&l);
                        out.push('\n');
                    }
                }
            }
            print_all(&out)
        }
        Action::Queues {
            site,
            queue,
            user,
            json,
        } => {
            let queues = ctl.queues(&site, user.as_deref(), queue.as_deref())?;
            let out = match (json, &queue) {
                (true, _) => queues.iter().map(|q| q.json(&site) + "\n").collect(),
                (false, Some(_)) => queues.iter().map(|q| q.detail()).collect(),
                (false, None) => crate::site::queues::table(&queues),
            };
            print_all(&out)
        }
        Action::Jobs { site, since, json } => {
            let mut out = String::new();
            for e in ctl.jobs(site.as_deref(), since.as_deref())? {
                out.push_str(&if json { e.json() } else { e.line() });
                out.push('\n');
            }
            print_all(&out)
        }
        Action::Monitor(j) => ctl.monitor(&j.job()),
        Action::Kill(j) => ctl.kill(&j.job()).map(|_| ()),
        Action::Release(j) => ctl.release(&j.job()),
        Action::CheckConnection { site, user, timeout } => {
            // 0.2.7 accepted any integer (and ignored it): zero or a
            // negative timeout means no time limit, and so does one beyond
            // troika's longest wait.
            let timeout = timeout
                .and_then(|t| u64::try_from(t).ok())
                .filter(|t| (1..=crate::util::MAX_SECONDS).contains(t))
                .map(Duration::from_secs);
            if ctl.check_connection(&site, user.as_deref(), timeout)? {
                println!("OK");
                Ok(())
            } else {
                Err(Error::run(format!("Connection failed for site '{site}'")))
            }
        }
        // Handled before the configuration is loaded.
        Action::Config(_) => Ok(()),
        Action::ListSites => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            ctl.list_sites(&mut lock)
        }
    }
}
