//! Flux: `flux batch`, `flux jobs`, `flux cancel`, `flux job kill`,
//! `#flux:` directives (RFC 36).
//!
//! No Flux instance runs on the machines this is developed on: the tests use
//! an emulator of the `flux` command (tests/emulators/flux/) that answers in
//! the formats of the flux-core manual pages.

use std::path::Path;

use super::kill::{self, Step};
use super::units::{is_fsd_with_unit, walltime_seconds, Style};
use super::{
    submitted_job_id, warn_existing_stat, write_stat, CancelStatus, ScriptSyntax, Site, SiteSettings, SiteType,
    Submission, Traits,
};
use crate::connection::{Command, Outcome};
use crate::error::{Error, Result};
use crate::script::translate::{bool_value, Entry, Rule, Table};
use crate::script::NativeSyntax;

pub const KEYS: &[&str] = &["flux_command"];

/// The translation of generic directives to `flux batch` options.
pub const TABLE: Table = Table {
    entries: &[
        Entry {
            name: "cpus_per_task",
            rule: Rule::Format("-c %s"),
        },
        Entry {
            name: "error_file",
            rule: Rule::Format("--error=%s"),
        },
        Entry {
            name: "exclusive",
            rule: Rule::Func(exclusive, "`--exclusive` if true or empty, nothing if false"),
        },
        Entry {
            name: "gpus_per_task",
            rule: Rule::Format("-g %s"),
        },
        Entry {
            // Flux writes standard error to the output file when no --error is given.
            name: "join_output_error",
            rule: Rule::Ignore,
        },
        Entry {
            name: "name",
            rule: Rule::Format("--job-name=%s"),
        },
        Entry {
            name: "output_file",
            rule: Rule::Format("--output=%s"),
        },
        Entry {
            name: "priority",
            rule: Rule::Format("--urgency=%s"),
        },
        Entry {
            name: "queue",
            rule: Rule::Format("-q %s"),
        },
        Entry {
            name: "total_nodes",
            rule: Rule::Format("-N %s"),
        },
        Entry {
            name: "total_tasks",
            rule: Rule::Format("-n %s"),
        },
        Entry {
            name: "walltime",
            rule: Rule::Func(
                walltime,
                "`-t <N>m` (whole minutes) or `-t <N>s`, converted from any walltime form; a Flux duration with a unit (`90s`, `1.5h`, `2d`) is kept as it is",
            ),
        },
        Entry {
            name: "working_dir",
            rule: Rule::Format("--cwd=%s"),
        },
    ],
};

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
        create: |mut settings| {
            settings.rewrite_native = true;
            Ok(Box::new(FluxSite::new(settings)?))
        },
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
pub struct FluxSite {
    s: SiteSettings,
    flux: Vec<String>,
}

impl FluxSite {
    pub fn new(s: SiteSettings) -> Result<Self> {
        Ok(FluxSite {
            flux: s.config.command("flux_command", &["flux"])?,
            s,
        })
    }

    fn flux(&self, args: &[&str], dryrun: bool) -> Result<Outcome> {
        let cmd = Command::new(self.flux.iter().map(String::as_str).chain(args.iter().copied()));
        self.s.run(cmd, dryrun)
    }

    fn cancel(&self, jid: &str, dryrun: bool) -> Result<Option<CancelStatus>> {
        let out = self.flux(&["cancel", jid], dryrun)?;
        if out.success() {
            return Ok(None);
        }
        if gone(&out) {
            return Ok(Some(CancelStatus::Vanished));
        }
        Err(failed("flux cancel", &out))
    }
}

/// The job id printed by `flux batch` (`ƒ2Lq3B5eZ`, `f2Lq3B5eZ` or a
/// number): the only word of the output, kept as text.
pub fn parse_batch_output(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    let id = words.next()?;
    words.next().is_none().then(|| id.to_string())
}

impl Site for FluxSite {
    fn settings(&self) -> &SiteSettings {
        &self.s
    }

    /// `flux batch` reads the script from standard input when it is given no
    /// file; with `copy_script` the copy's path is given instead.
    fn submit(&self, script: &Path, _user: Option<&str>, output: &Path, dryrun: bool) -> Result<Option<String>> {
        let mut argv = self.flux.clone();
        argv.push("batch".into());
        let out = self.s.run_submission(argv, script, output, dryrun)?;
        let names = Submission {
            failed: "Flux submission failed",
            command: "flux batch",
            query: "flux jobs",
        };
        submitted_job_id(&out, script, &names, parse_batch_output)
    }

    fn monitor(&self, script: &Path, _user: Option<&str>, jid: &str, dryrun: bool) -> Result<()> {
        warn_existing_stat(script);
        let out = self.flux(&["jobs", "-n", "-o", "{id} {status}", jid], dryrun)?;
        write_stat(script, &out, "flux jobs")
    }

    fn kill(&self, _script: &Path, _user: Option<&str>, jid: &str, dryrun: bool) -> Result<CancelStatus> {
        let Some(seq) = &self.s.kill_sequence else {
            return Ok(self.cancel(jid, dryrun)?.unwrap_or(CancelStatus::Killed));
        };
        kill::follow(seq, dryrun, |i, sig| {
            let out = self.flux(&["job", "kill", "-s", sig.as_str(), jid], dryrun)?;
            if i == 0 && !out.success() && !out.dryrun && out.text().contains("job is not running") {
                // Pending jobs cannot be signalled: cancel them.
                crate::debug!("Job {jid} is not running: cancelling it");
                return Ok(Step::Done(self.cancel(jid, dryrun)?.unwrap_or(CancelStatus::Cancelled)));
            }
            Ok(Step::from_outcome(&out, gone(&out), || failed("flux job kill", &out)))
        })
    }
}

/// The job finished long enough ago to be unknown to the job manager.
fn gone(out: &Outcome) -> bool {
    let t = out.text();
    t.contains("unknown job id") || t.contains("job is inactive")
}

fn failed(what: &str, out: &Outcome) -> Error {
    Error::run(format!("{what} failed with {}: {}", out.describe(), out.text().trim()))
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
