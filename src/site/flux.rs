//! Flux: `flux batch`, `flux jobs`, `flux cancel`, `flux job kill`,
//! `#flux:` directives (RFC 36).
//!
//! No Flux instance runs on the machines this is developed on: the tests use
//! an emulator of the `flux` command (tests/emulators/flux/) that answers in
//! the formats of the flux-core manual pages.

use nix::sys::signal::Signal;

use super::batch::{argv, command_failed, BatchSite, Job, KillCommand, Scheduler, ToSubmit};
use super::units::{is_fsd_with_unit, walltime_seconds, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Submission, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::script::translate::{bool_value, Entry, Rule, Table};
use crate::script::NativeSyntax;

pub const KEYS: &[&str] = &["flux_command"];

/// The translation of generic directives to `flux batch` options.
pub const TABLE: Table = Table::new(&[
        Entry::format("cpus_per_task", "-c %s"),
        Entry::format("error_file", "--error=%s"),
        Entry::func("exclusive", exclusive, "`--exclusive` if true or empty, nothing if false"),
        Entry::format("gpus_per_task", "-g %s"),
        Entry {
            // Flux writes standard error to the output file when no --error is given.
            name: "join_output_error",
            rule: Rule::Ignore,
        },
        Entry::format("name", "--job-name=%s"),
        Entry::format("output_file", "--output=%s"),
        Entry::format("priority", "--urgency=%s"),
        Entry::format("queue", "-q %s"),
        Entry::format("total_nodes", "-N %s"),
        Entry::format("total_tasks", "-n %s"),
        Entry::func("walltime", walltime,
                "`-t <N>m` (whole minutes) or `-t <N>s`, converted from any walltime form; a Flux duration with a unit (`90s`, `1.5h`, `2d`) is kept as it is"),
        Entry::format("working_dir", "--cwd=%s"),
    ]);

/// `#flux:` lines (also `# flux:`); output and error files are set by
/// troika. Flux rejects a script whose directives use different prefixes,
/// so the kept lines are rewritten with the generated prefix.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "flux:",
    drop: &["--output", "--error"],
    command: "flux",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "flux",
        keys: KEYS,
        syntax: ScriptSyntax {
            prefix: Some("#flux: "),
            native: Some(NATIVE),
            table: TABLE,
            units: Some(super::units::Style::Flux),
        },
        traits: Traits::default(),
        create: |s| BatchSite::create(s, Flux::new),
    }
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    if v.is_empty() || bool_value(v)? {
        Ok(vec![b"--exclusive".to_vec()])
    } else {
        Ok(vec![])
    }
}

/// `-t`: a Flux duration with a unit as it is, any other walltime form in
/// minutes when whole minutes, else seconds.
fn walltime(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let v = v.trim_ascii();
    if is_fsd_with_unit(v) {
        return Ok(vec![[b"-t ", v].concat()]);
    }
    let fsd = Style::Flux.walltime(walltime_seconds(v)?).map_err(Error::Script)?;
    Ok(vec![format!("-t {fsd}").into_bytes()])
}

/// A Flux instance.
/// Flux's commands: all are subcommands of `flux`.
pub struct Flux {
    flux: Vec<String>,
}

impl Flux {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        // Flux rejects a script that mixes `# flux:` and `#flux:` lines.
        s.rewrite_native = true;
        Ok(Flux {
            flux: s.config.command("flux_command", &["flux"])?,
        })
    }
}

/// The job id printed by `flux batch` (`ƒ2Lq3B5eZ`, `f2Lq3B5eZ` or a
/// number): the only word of the output, kept as text.
pub fn parse_batch_output(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    let id = words.next()?;
    words.next().is_none().then(|| id.to_string())
}

impl Scheduler for Flux {
    fn names(&self) -> Submission<'_> {
        Submission {
            failed: "Flux submission failed",
            command: "flux batch",
            query: "flux jobs",
        }
    }

    /// `flux batch` reads the script from standard input when it is given no
    /// file; with `copy_script` the copy's path is given instead.
    fn submit_argv(&self, _to: &ToSubmit) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["batch"]))
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_batch_output(stdout)
    }

    fn status_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["jobs", "-n", "-o", "{id} {status}", job.jid]))
    }

    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["cancel", job.jid]))
    }

    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["job", "kill", "-s", sig.as_str(), job.jid]))
    }

    /// The job finished long enough ago to be unknown to the job manager.
    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        let t = out.text();
        t.contains("unknown job id") || t.contains("job is inactive")
    }

    /// Pending jobs cannot be signalled: they are cancelled.
    fn not_running(&self, out: &Outcome) -> bool {
        out.text().contains("job is not running")
    }

    fn kill_failed(&self, out: &Outcome, by: KillCommand, _argv: &[String]) -> Error {
        match by {
            KillCommand::Cancel => command_failed("flux cancel", out),
            KillCommand::Signal => command_failed("flux job kill", out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output() {
        assert_eq!(parse_batch_output("ƒ2Lq3B5eZ\n").as_deref(), Some("ƒ2Lq3B5eZ"));
        assert_eq!(parse_batch_output("f2Lq3B5eZ").as_deref(), Some("f2Lq3B5eZ"));
        assert_eq!(parse_batch_output(""), None);
        assert_eq!(parse_batch_output("flux-batch: ERROR: x\n"), None);
    }

    #[test]
    fn walltime_units() {
        let w = |v: &str| String::from_utf8(walltime(v.as_bytes()).unwrap().remove(0)).unwrap();
        assert_eq!(w("01:30:00"), "-t 90m");
        assert_eq!(w("00:00:45"), "-t 45s");
        assert_eq!(w("01:00:30"), "-t 3630s");
        assert_eq!(w("60"), "-t 60m");
        assert_eq!(w("1-00:00:00"), "-t 1440m");
        assert_eq!(w("1.5h"), "-t 1.5h");
        assert_eq!(w("1h30m"), "-t 90m");
        assert_eq!(w("1:75"), "-t 135s");
        assert_eq!(w("0"), "-t 0m");
        assert!(walltime(b"1:2:3:4").is_err());
    }
}
