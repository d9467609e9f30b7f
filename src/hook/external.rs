//! External hooks: a program of the site's administrators run at a hook
//! point, configured as a mapping in a hook list:
//!
//! ```yaml
//! at_exit:
//!   - copy_submit_logfile
//!   - {command: [/opt/ops/notify, --queue, ops], on: local, timeout: 30}
//! ```
//!
//! The program gets what troika knows about the action in `TROIKA_*`
//! environment variables ([`ENV_VARS`]), empty when not applicable. It runs
//! in dry-run mode too, with `TROIKA_DRYRUN=1`, and must then change
//! nothing.

use std::time::Duration;

use super::{HookContext, HookPoint};
use crate::config::{Node, SiteConfig, Value};
use crate::connection::local::LocalConnection;
use crate::connection::{Command, Connection};
use crate::error::{Error, Result};
use crate::util::{quote, quote_argv};

/// The environment of an external hook: name and meaning (for the docs).
#[cfg(test)]
const ENV_VARS: &[(&str, &str)] = &[
    (
        "TROIKA_HOOK",
        "the hook point: `at_startup`, `pre_submit`, `post_kill` or `at_exit`",
    ),
    ("TROIKA_ACTION", "`submit`, `monitor`, `kill` or `check-connection`"),
    ("TROIKA_SITE", "the name of the site the action runs on"),
    (
        "TROIKA_SITE_GROUP",
        "the group named on the command line, when the site was chosen from a `group`",
    ),
    ("TROIKA_SCRIPT", "the job script, as given on the command line"),
    ("TROIKA_OUTPUT", "the job output file (`-o`)"),
    ("TROIKA_USER", "the remote user (`-u`)"),
    (
        "TROIKA_JOBID",
        "the job id (`post_kill`; `at_exit` once known: after a submission, or from `-j`/`.jid` for monitor and kill)",
    ),
    (
        "TROIKA_CANCEL_STATUS",
        "`CANCELLED`, `TERMINATED`, `KILLED` or `VANISHED` (`post_kill`, and `at_exit` of a kill)",
    ),
    ("TROIKA_DRYRUN", "`1` with `-n` (change nothing then), `0` otherwise"),
    ("TROIKA_LOGFILE", "the log file of the action"),
    (
        "TROIKA_STATUS",
        "`at_exit`: the exit status of the action so far, `0` (success) or `1` (failure)",
    ),
    (
        "TROIKA_ERROR",
        "`at_exit`: the failure's message when the action failed",
    ),
];

/// Where an external hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOn {
    /// On this machine, where troika runs (the default).
    Local,
    /// Through the site's connection (on the login node of an ssh site).
    Site,
}

/// An external hook command.
#[derive(Clone, Debug)]
pub struct ExternalHook {
    pub argv: Vec<String>,
    pub on: RunOn,
    /// Time limit; the site's `command_timeout` when not set.
    pub timeout: Option<Duration>,
    /// `file:line:col` of the entry, for messages.
    pub location: String,
}

impl ExternalHook {
    /// Reads `{command: ..., on: ..., timeout: ...}`.
    pub fn from_node(site: &SiteConfig, point: HookPoint, n: &Node) -> Result<ExternalHook> {
        let bad = |at: &Node, msg: String| {
            Error::config(format!(
                "{}: site '{}': {} hook: {msg}",
                site.at(at),
                site.name,
                point.key()
            ))
        };
        let entries = n.entries().unwrap_or(&[]);
        let mut argv = None;
        let mut on = RunOn::Local;
        let mut timeout = None;
        for (k, v) in entries {
            // YAML 1.1 reads a bare `on` as the boolean true.
            let key = match &k.value {
                Value::Bool(true) => "on".to_string(),
                _ => k.key_text(),
            };
            match key.as_str() {
                "command" => {
                    let list: Vec<String> = match &v.value {
                        Value::Str(s) => vec![s.clone()],
                        Value::Seq(items) => items
                            .iter()
                            .map(|i| {
                                i.scalar_text()
                                    .filter(|_| !matches!(i.value, Value::Bool(_)))
                                    .ok_or_else(|| {
                                        bad(
                                            i,
                                            format!("'command' must be a list of strings, found {} in it", i.kind()),
                                        )
                                    })
                            })
                            .collect::<Result<_>>()?,
                        _ => {
                            return Err(bad(
                                v,
                                format!(
                                    "'command' must be a program or a list [program, args...], found {}",
                                    v.kind()
                                ),
                            ))
                        }
                    };
                    if list.first().is_none_or(|p| p.is_empty()) {
                        return Err(bad(v, "'command' must name a program".into()));
                    }
                    argv = Some(list);
                }
                "on" => {
                    on = match v.as_str() {
                        Some("local") => RunOn::Local,
                        Some("site") => RunOn::Site,
                        _ => return Err(bad(v, format!("'on' must be 'local' or 'site', found {v}"))),
                    }
                }
                "timeout" => {
                    let secs = crate::config::seconds_of(v, "'timeout'").map_err(|m| bad(v, m))?;
                    timeout = Some(Duration::from_secs_f64(secs));
                }
                other => {
                    return Err(bad(
                        k,
                        format!("unknown key '{other}' (an external hook has 'command', 'on' and 'timeout')"),
                    ))
                }
            }
        }
        let argv = argv.ok_or_else(|| bad(n, "an external hook needs 'command: [program, args...]'".into()))?;
        Ok(ExternalHook {
            argv,
            on,
            timeout,
            location: site.at(n),
        })
    }

    /// How the hook appears in messages.
    pub fn describe(&self) -> String {
        let on = match self.on {
            RunOn::Local => "local",
            RunOn::Site => "site",
        };
        format!("command {} ({on})", quote_argv(&self.argv))
    }

    /// The `TROIKA_*` variables for `ctx` at `point`.
    pub fn environment(point: HookPoint, ctx: &HookContext) -> Vec<(String, String)> {
        let path = |p: Option<&std::path::Path>| p.map(|p| p.display().to_string()).unwrap_or_default();
        let opt = |s: Option<&str>| s.unwrap_or_default().to_string();
        let at_exit = point == HookPoint::AtExit;
        let vars = [
            ("TROIKA_HOOK", point.key().to_string()),
            ("TROIKA_ACTION", ctx.action.to_string()),
            ("TROIKA_SITE", ctx.site_name().to_string()),
            ("TROIKA_SITE_GROUP", opt(ctx.group)),
            ("TROIKA_SCRIPT", path(ctx.script)),
            ("TROIKA_OUTPUT", path(ctx.output)),
            ("TROIKA_USER", opt(ctx.user)),
            ("TROIKA_JOBID", opt(ctx.jid)),
            (
                "TROIKA_CANCEL_STATUS",
                ctx.cancel_status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            ),
            ("TROIKA_DRYRUN", if ctx.dryrun { "1" } else { "0" }.to_string()),
            ("TROIKA_LOGFILE", path(ctx.logfile)),
            (
                "TROIKA_STATUS",
                match (at_exit, ctx.failed) {
                    (false, _) => String::new(),
                    (true, false) => "0".into(),
                    (true, true) => "1".into(),
                },
            ),
            ("TROIKA_ERROR", if at_exit { opt(ctx.error) } else { String::new() }),
        ];
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Runs the command; an error when it cannot be run or exits non-zero.
    pub fn run(&self, point: HookPoint, ctx: &HookContext) -> Result<()> {
        let settings = ctx.site.settings();
        let mut cmd = Command::new(&self.argv)
            .timeout(self.timeout.or(settings.command_timeout))
            .always();
        cmd.env = Self::environment(point, ctx);
        crate::debug!("Running {} hook {} ({})", point.key(), self.describe(), self.location);
        // Hooks run in dry-run mode too: they are told by TROIKA_DRYRUN.
        let out = match self.on {
            RunOn::Local => LocalConnection::default().execute(cmd)?,
            RunOn::Site => settings.connection.execute(cmd)?,
        };
        if out.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let mut msg = format!("{} exited with {}", quote(&self.argv[0]), out.describe());
        if !err.trim().is_empty() {
            msg.push_str(&format!(": {}", err.trim()));
        }
        Err(Error::run(msg))
    }
}

/// The table of [`ENV_VARS`] in Markdown, as `docs/hooks.md` shows it.
#[cfg(test)]
pub fn env_table_markdown() -> String {
    let mut s = String::from("| variable | value |\n|---|---|\n");
    for (name, doc) in ENV_VARS {
        s.push_str(&format!("| `{name}` | {doc} |\n"));
    }
    s
}
