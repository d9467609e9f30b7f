//! The built-in hooks.

use std::path::{Path, PathBuf};

use super::{HookContext, HookPoint, HookType};
use crate::connection::Command;
use crate::error::{Error, Result};
use crate::util::{quote, with_suffix};

/// The built-in hooks, with the points where each may be listed.
pub fn builtin() -> Vec<HookType> {
    vec![
        HookType {
            name: "check_connection",
            points: &[HookPoint::AtStartup],
            run: check_connection,
        },
        HookType {
            name: "create_output_dir",
            points: &[HookPoint::PreSubmit],
            run: create_output_dir,
        },
        HookType {
            name: "copy_orig_script",
            points: &[HookPoint::PreSubmit],
            run: copy_orig_script,
        },
        HookType {
            name: "remove_previous_output",
            points: &[HookPoint::PreSubmit],
            run: remove_previous_output,
        },
        HookType {
            name: "abort_on_ecflow",
            points: &[HookPoint::PostKill],
            run: super::ecflow::abort_on_ecflow,
        },
        HookType {
            name: "copy_submit_logfile",
            points: &[HookPoint::AtExit],
            run: copy_submit_logfile,
        },
        HookType {
            name: "copy_kill_logfile",
            points: &[HookPoint::AtExit],
            run: copy_kill_logfile,
        },
    ]
}

/// `at_startup`: stops the action when the site's connection does not work.
fn check_connection(ctx: &HookContext) -> Result<()> {
    if ctx.site.settings().connection.check(None)? {
        return Ok(());
    }
    crate::error!("The connection check of site '{}' failed", ctx.site_name());
    Err(Error::run("Connection not working. Exiting."))
}

fn required_output<'a>(ctx: &HookContext<'a>, hook: &str) -> Result<&'a Path> {
    ctx.output
        .ok_or_else(|| Error::invocation(format!("{hook} hook requires output argument (-o OUTPUT)")))
}

/// `pre_submit`: creates the directory of the output file on the site.
fn create_output_dir(ctx: &HookContext) -> Result<()> {
    let output = required_output(ctx, "create_output_dir")?;
    ctx.site.create_output_dir(output)?;
    Ok(())
}

/// Creates the output directory and copies the local file `src` into it.
fn copy_to_output_dir(ctx: &HookContext, output: &Path, src: &Path) -> Result<()> {
    let dir = ctx.site.create_output_dir(output)?;
    let target: PathBuf = crate::util::file_in(&dir, src.file_name().unwrap_or_default());
    ctx.site.settings().send_file(src, &target)
}

/// `pre_submit`: copies the original script (`<script>.orig`) beside the
/// output file on the site.
fn copy_orig_script(ctx: &HookContext) -> Result<()> {
    let output = required_output(ctx, "copy_orig_script")?;
    let script = ctx
        .script
        .ok_or_else(|| Error::invocation("copy_orig_script hook requires a script"))?;
    copy_to_output_dir(ctx, output, &with_suffix(script, ".orig"))
}

/// `pre_submit`: removes the output file of a previous run, so that what is
/// there after the submission belongs to the new job. The file is removed
/// here (in dry-run, only reported when it exists); with `edition: 2026` a
/// site on another host runs `rm -f OUTPUT` there instead (0.2.7 looked for
/// the file on this machine whatever the connection).
fn remove_previous_output(ctx: &HookContext) -> Result<()> {
    let output = required_output(ctx, "remove_previous_output")?;
    let conn = &ctx.site.settings().connection;
    if !conn.is_local() && ctx.site.settings().config.behaviour().remove_output_on_site {
        let out = ctx
            .site
            .settings()
            .run(Command::new(["rm", "-f"]).arg(crate::util::command_path(output.to_path_buf())))?;
        if !out.dryrun && !out.success() {
            return Err(Error::run(format!(
                "Cannot remove the previous output {}: rm failed with {}: {}",
                quote(&output.display().to_string()),
                out.describe(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        return Ok(());
    }
    if std::fs::symlink_metadata(output).is_err() {
        return Ok(());
    }
    if ctx.dryrun {
        crate::info!("removing:\n{}", output.display());
        return Ok(());
    }
    crate::debug!("Removing the previous output {}", quote(&output.display().to_string()));
    match std::fs::remove_file(output) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("Cannot remove the previous output", output, e)),
    }
}

/// Copies the action's log file beside the output file on the site.
fn copy_logfile(ctx: &HookContext, hook: &str) -> Result<()> {
    let output = required_output(ctx, hook)?;
    let log = ctx
        .logfile
        .ok_or_else(|| Error::run(format!("{hook}: there is no log file to copy")))?;
    copy_to_output_dir(ctx, output, log)
}

/// `at_exit`: after a submission, copies the log file beside the output.
fn copy_submit_logfile(ctx: &HookContext) -> Result<()> {
    if ctx.action != "submit" {
        return Ok(());
    }
    copy_logfile(ctx, "copy_submit_logfile")
}

/// `at_exit`: after a kill, copies the log file beside the output (which
/// must be given with `-o`).
fn copy_kill_logfile(ctx: &HookContext) -> Result<()> {
    if ctx.action != "kill" {
        return Ok(());
    }
    copy_logfile(ctx, "copy_kill_logfile")
}
