//! Grid Engine (Son of Grid Engine, Univa/Altair Grid Engine): `qsub`,
//! `qstat -j`, `qdel`, `#$` directives.
//!
//! Grid Engine has no command that sends a chosen signal to a job: `qdel`
//! kills it (SIGKILL; a job submitted with `-notify` gets SIGUSR2 first, the
//! queue's `notify` time before). A configured `kill_sequence` is therefore
//! not followed: the kill is one `qdel`, as in troika 0.2.7.

use nix::sys::signal::Signal;

use super::batch::{BatchSite, Job, KillCommand};
use super::qsub::{QCommands, QScheduler, ROWS};
use super::{CancelStatus, ScriptSyntax, SiteSettings, SiteType, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::script::translate::{Entry, Table};
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &["qsub_command", "qstat_command", "qdel_command"];

/// The translation of generic directives to `#$` options (troika 0.2.7's).
pub const TABLE: Table = Table::joined(
    ROWS,
    &[
        Entry::func("join_output_error", join_output_error, "`-j y` (whatever the value)"),
        Entry::format("walltime", "-l h_rt=%s"),
    ],
);

/// `#$` lines; output, error and join options are set by troika.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "$",
    drop: &["-o", "-e", "-j"],
    command: "qsub",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "sge",
        keys: KEYS,
        syntax: ScriptSyntax {
            prefix: Some("#$ "),
            native: Some(NATIVE),
            table: TABLE,
            units: Some(super::units::Style::Sge),
        },
        traits: Traits::default(),
        create: |s| BatchSite::create(s, Sge::new),
    }
}

fn join_output_error(_: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![b"-j y".to_vec()])
}

fn leading_digits(s: &str) -> Option<&str> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| &s[..n])
}

/// Reads the job id from `qsub` output: `Your job N ("name") has been
/// submitted`, `Your job-array N.1-10:1 ("name") has been submitted`, or
/// with `-terse` `N` (`N.1-10:1`). Other output falls back to its first
/// number, as troika 0.2.7 read it (said at debug level). The id is an
/// integer, as in 0.2.7 (`00321` -> `321`).
pub fn parse_qsub_output(out: &str) -> Option<String> {
    parse_digits(out).map(crate::util::integer_id)
}

fn parse_digits(out: &str) -> Option<&str> {
    for line in out.lines().map(str::trim) {
        let rest = line
            .strip_prefix("Your job-array ")
            .or_else(|| line.strip_prefix("Your job "));
        if let Some(id) = rest.and_then(leading_digits) {
            return Some(id);
        }
        if let Some(id) = leading_digits(line) {
            if line[id.len()..].is_empty() || (line[id.len()..].starts_with('.') && !line.contains(' ')) {
                return Some(id);
            }
        }
    }
    let start = out.find(|c: char| c.is_ascii_digit())?;
    let id = leading_digits(&out[start..])?;
    crate::debug!("Job id {id} taken from unexpected qsub output {}", quote(out.trim()));
    Some(id)
}

/// A Grid Engine cell.
pub struct Sge {
    q: QCommands,
}

impl Sge {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        Ok(Sge {
            q: QCommands::read(&s.config, false)?,
        })
    }
}

impl QScheduler for Sge {
    fn q(&self) -> &QCommands {
        &self.q
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_qsub_output(stdout)
    }

    /// `N`, or `N.TASKS` for tasks of an array job (`12.1-10:2`).
    fn check_job_id(&self, jid: &str) -> Result<()> {
        let ok = match leading_digits(jid) {
            Some(id) => {
                let rest = &jid[id.len()..];
                rest.is_empty()
                    || (rest.len() > 1
                        && rest.starts_with('.')
                        && rest[1..].bytes().all(|c| c.is_ascii_digit() || b"-:,".contains(&c)))
            }
            None => false,
        };
        if !ok {
            return Err(Error::invocation(format!("Invalid job id: {}", quote(jid))));
        }
        Ok(())
    }

    /// `qstat -j ID`.
    fn status_options(&self) -> &'static [&'static str] {
        &["-j"]
    }

    /// Grid Engine cannot send a chosen signal: a kill is one `qdel`.
    fn signal_word(&self, _sig: Signal) -> Option<String> {
        None
    }

    fn before_kill(&self, site: &SiteSettings, job: &Job) -> Result<Option<CancelStatus>> {
        if site.kill_sequence.is_some() {
            crate::debug!(
                "Grid Engine cannot send a chosen signal to a job: kill_sequence is not used, qdel kills job {}",
                job.jid
            );
        }
        Ok(None)
    }

    /// qdel answers on standard output: `root has deleted job 17` (it was
    /// waiting), `root has registered the job 15 for deletion` (it runs,
    /// SIGKILL), `denied: job "16" does not exist` (exit 1).
    fn cancelled(&self, out: &Outcome) -> CancelStatus {
        if String::from_utf8_lossy(&out.stdout).contains("has deleted job") {
            CancelStatus::Cancelled
        } else {
            CancelStatus::Killed
        }
    }

    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        String::from_utf8_lossy(&out.stdout).contains("does not exist")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::translate::Rule;

    #[test]
    fn qsub_output() {
        assert_eq!(
            parse_qsub_output("Your job 555 (\"job 2\") has been submitted\n").as_deref(),
            Some("555")
        );
        assert_eq!(parse_qsub_output("3\n").as_deref(), Some("3"));
        assert_eq!(
            parse_qsub_output("Your job-array 8.1-10:1 (\"arr\") has been submitted\n").as_deref(),
            Some("8")
        );
        assert_eq!(parse_qsub_output("8.1-10:1\n").as_deref(), Some("8"));
        assert_eq!(parse_qsub_output("submitted as 42 today\n").as_deref(), Some("42"));
        assert_eq!(
            parse_qsub_output("Your job 00321 (\"j\") has been submitted\n").as_deref(),
            Some("321")
        );
        assert_eq!(parse_qsub_output("000\n").as_deref(), Some("0"));
        assert_eq!(parse_qsub_output("no id here\n"), None);
        assert_eq!(parse_qsub_output(""), None);
    }

    #[test]
    fn table_has_troika_0_2_7_rows() {
        assert_eq!(TABLE.entries().count(), 11);
        assert!(matches!(TABLE.get("walltime"), Some(Rule::Format("-l h_rt=%s"))));
        assert_eq!(join_output_error(b"1").unwrap(), vec![b"-j y".to_vec()]);
    }
}
