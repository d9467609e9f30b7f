//! The `abort_on_ecflow` post-kill hook: tells ecFlow that a killed job
//! will not report itself.
//!
//! A job run by ecFlow reports its own end (`ecflow_client --complete` or,
//! from a trap, `--abort`). A job that never started, was killed with
//! SIGKILL, or disappeared cannot: for those the hook calls
//! `ecflow_client --abort=<reason>` on the job's behalf, with the task's
//! `ECF_*` variables read from `# troika ecflow_...` directives of the
//! original script (`<script>.orig`).

use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::HookContext;
use crate::connection::local::LocalConnection;
use crate::connection::{Command, Connection};
use crate::error::{Error, Result};
use crate::site::CancelStatus;
use crate::util::{quote, with_suffix};

/// Directives read by the hook and the variables they set; `true` when
/// required.
pub const VARIABLES: &[(&str, &str, bool)] = &[
    ("ecflow_name", "ECF_NAME", true),
    ("ecflow_pass", "ECF_PASS", true),
    ("ecflow_host", "ECF_HOST", false),
    ("ecflow_port", "ECF_PORT", false),
    ("ecflow_tryno", "ECF_TRYNO", false),
];

/// The abort reason given to ecFlow for a cancel status; `None` when the
/// job reports itself (it was sent a signal it can catch).
pub fn abort_reason(status: CancelStatus) -> Option<&'static str> {
    match status {
        CancelStatus::Cancelled => Some("Cancelled before starting"),
        CancelStatus::Killed => Some("Killed forcefully"),
        CancelStatus::Vanished => Some("Vanished unexpectedly"),
        CancelStatus::Terminated => None,
    }
}

pub fn abort_on_ecflow(ctx: &HookContext) -> Result<()> {
    let status = ctx
        .cancel_status
        .ok_or_else(|| Error::run("abort_on_ecflow: the cancel status of the job is unknown"))?;
    let Some(reason) = abort_reason(status) else {
        crate::debug!("abort_on_ecflow: the job was {}, it reports itself", status.as_str());
        return Ok(());
    };
    let script = ctx
        .script
        .ok_or_else(|| Error::invocation("abort_on_ecflow hook requires a script"))?;
    let orig = with_suffix(script, ".orig");
    let source = original_script(ctx, &orig)?;
    let scan = {
        let f = std::fs::File::open(&source).map_err(|e| Error::io("abort_on_ecflow: cannot read", &source, e))?;
        crate::script::parse::scan(BufReader::new(f), None, &source.display().to_string())?
    };
    let text = |name: &str| -> Result<Option<String>> {
        scan.directives
            .get(name)
            .map(|v| {
                String::from_utf8(v.to_vec()).map_err(|_| {
                    Error::run(format!(
                        "abort_on_ecflow: the value of {name} in {} is not valid UTF-8",
                        quote(&source.display().to_string())
                    ))
                })
            })
            .transpose()
    };
    let mut env = Vec::new();
    for (directive, var, required) in VARIABLES {
        match text(directive)? {
            Some(v) => env.push((var.to_string(), v)),
            None if *required => {
                return Err(Error::run(format!(
                    "abort_on_ecflow could not find {directive} defined in script {}: add '# troika {directive}=%{var}%' to the task's script",
                    quote(&source.display().to_string())
                )))
            }
            None => {}
        }
    }
    let client = text("ecflow_client")?
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "ecflow_client".to_string());
    let mut cmd = Command::new([client.clone(), format!("--abort={reason}")]);
    cmd.env = env.clone();
    let settings = ctx.site.settings();
    let cmd = cmd.timeout(settings.command_timeout);
    let shown: Vec<String> = env
        .iter()
        .map(|(k, v)| {
            if k == "ECF_PASS" {
                format!("{k}=***")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let has_host = env.iter().any(|(k, _)| k == "ECF_HOST");
    let local;
    // With `edition: 2026` a script that names its ecFlow host has the client
    // run on the site (0.2.7 meant to, but always ran it here).
    let on_site = has_host && settings.config.behaviour().ecflow_abort_on_site;
    let conn: &dyn Connection = if settings.connection.is_local() || on_site {
        crate::debug!(
            "abort_on_ecflow running {} on the site with {}",
            quote(&client),
            shown.join(" ")
        );
        settings.connection.as_ref()
    } else {
        crate::debug!(
            "abort_on_ecflow running {} locally with {}",
            quote(&client),
            shown.join(" ")
        );
        local = LocalConnection {
            dry_run: ctx.dryrun,
            ..LocalConnection::default()
        };
        &local
    };
    let out = conn.execute(cmd)?;
    if out.dryrun {
        return Ok(());
    }
    if !out.success() {
        for (what, t) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if !t.is_empty() {
                crate::error!(
                    "ecflow_client {what} for script {}:\n{}",
                    script.display(),
                    String::from_utf8_lossy(t).trim()
                );
            }
        }
        return Err(Error::run(format!(
            "Abort failed: {} --abort exited with {}",
            quote(&client),
            out.describe()
        )));
    }
    Ok(())
}

/// The original script to read: `<script>.orig`, or else its copy beside
/// the output file on the site (`copy_orig_script`), fetched back.
fn original_script(ctx: &HookContext, orig: &Path) -> Result<PathBuf> {
    if orig.exists() {
        return Ok(orig.to_path_buf());
    }
    let Some(output) = ctx.output else {
        return Err(Error::run(format!(
            "abort_on_ecflow: the original script {} does not exist (and without -o OUTPUT its copy cannot be looked for)",
            quote(&orig.display().to_string())
        )));
    };
    let remote = ctx.site.settings().copy_target(orig, output);
    let conn = &ctx.site.settings().connection;
    conn.get_file(&remote, orig)
        .map_err(|e| Error::run(format!("Could not copy back original script: {e}")))?;
    crate::debug!(
        "Original script copied back from output directory: {}",
        quote(&remote.display().to_string())
    );
    if ctx.dryrun {
        if conn.is_local() {
            return Ok(remote);
        }
        return Err(Error::run(format!(
            "abort_on_ecflow: in dry-run the copy {} is not fetched, so the ecFlow variables cannot be read",
            quote(&remote.display().to_string())
        )));
    }
    Ok(orig.to_path_buf())
}
