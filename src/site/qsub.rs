//! The qsub family (PBS Pro / OpenPBS, Torque, Grid Engine): the commands
//! `qsub`, `qstat`, `qdel` and `qsig`, built once for all of them
//! ([`QScheduler`]), and the directive values they write alike (mail
//! letters, exported variables).

use nix::sys::signal::Signal;

use super::batch::{argv, command_failed, default_check_job_id, query_failed, Job, KillCommand, Scheduler, ToSubmit};
use super::{CancelStatus, SiteSettings, Submission};
use crate::config::SiteConfig;
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::Answer;
use crate::script::translate::Entry;

/// The commands of the family: `qsub`, `qstat`, `qdel` and (PBS and Torque;
/// Grid Engine has none) `qsig`, each configurable.
pub struct QCommands {
    pub qsub: Vec<String>,
    pub qstat: Vec<String>,
    pub qdel: Vec<String>,
    pub qsig: Vec<String>,
}

impl QCommands {
    /// Reads `qsub_command`, `qstat_command`, `qdel_command` and, when
    /// `with_qsig`, `qsig_command`.
    pub fn read(config: &SiteConfig, with_qsig: bool) -> Result<Self> {
        Ok(QCommands {
            qsub: config.command("qsub_command", &["qsub"])?,
            qstat: config.command("qstat_command", &["qstat"])?,
            qdel: config.command("qdel_command", &["qdel"])?,
            qsig: if with_qsig {
                config.command("qsig_command", &["qsig"])?
            } else {
                vec![]
            },
        })
    }
}

/// What a scheduler of the qsub family does its own way. Every type that
/// implements it is a [`Scheduler`]: `qsub` with the script on standard
/// input (or its copy's path), `qstat [OPTIONS] ID`, `qdel ID` and `qsig -s
/// SIGNAL ID`. The methods named as [`Scheduler`]'s mean the same.
pub trait QScheduler {
    /// The configured commands.
    fn q(&self) -> &QCommands;

    /// The first words of a failed submission's message.
    fn failed(&self) -> &'static str {
        "Submission failed"
    }

    /// See [`Scheduler::parse_job_id`].
    fn parse_job_id(&self, stdout: &str) -> Option<String>;

    /// See [`Scheduler::check_job_id`].
    fn check_job_id(&self, jid: &str) -> Result<()> {
        default_check_job_id(jid)
    }

    /// The options of `qstat` before the job id.
    fn status_options(&self) -> &'static [&'static str] {
        &[]
    }

    /// `sig` as `qsig -s` takes it; `None` when the scheduler has no
    /// command that sends a chosen signal (a kill is then one `qdel`).
    fn signal_word(&self, sig: Signal) -> Option<String>;

    /// See [`Scheduler::before_kill`].
    fn before_kill(&self, _site: &SiteSettings, _job: &Job) -> Result<Option<CancelStatus>> {
        Ok(None)
    }

    /// See [`Scheduler::cancelled`].
    fn cancelled(&self, _out: &Outcome) -> CancelStatus {
        CancelStatus::Killed
    }

    /// See [`Scheduler::gone`].
    fn gone(&self, out: &Outcome, by: KillCommand) -> bool;

    /// See [`Scheduler::not_running`].
    fn not_running(&self, _out: &Outcome) -> bool {
        false
    }

    /// See [`Scheduler::kill_failed`].
    fn kill_failed(&self, out: &Outcome, _by: KillCommand) -> Error {
        command_failed("Kill", out)
    }

    /// See [`Scheduler::queue_argv`].
    fn queue_argv(&self, _jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        None
    }

    /// See [`Scheduler::parse_queue`].
    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        Err(query_failed(argv, out))
    }

    /// See [`Scheduler::accounting_argvs`].
    fn accounting_argvs(&self, _jids: &[&str]) -> Vec<Vec<String>> {
        vec![]
    }

    /// See [`Scheduler::parse_accounting`].
    fn parse_accounting(&self, out: &Outcome, argv: &[String]) -> Answer {
        Err(query_failed(argv, out))
    }
}

impl<T: QScheduler> Scheduler for T {
    fn names(&self) -> Submission<'_> {
        Submission {
            failed: self.failed(),
            command: "qsub",
            query: "qstat",
        }
    }

    fn submit_argv(&self, _to: &ToSubmit) -> Result<Vec<String>> {
        Ok(self.q().qsub.clone())
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        QScheduler::parse_job_id(self, stdout)
    }

    fn check_job_id(&self, jid: &str) -> Result<()> {
        QScheduler::check_job_id(self, jid)
    }

    fn status_argv(&self, job: &Job) -> Result<Vec<String>> {
        let mut args = self.status_options().to_vec();
        args.push(job.jid);
        Ok(argv(&self.q().qstat, &args))
    }

    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.q().qdel, &[job.jid]))
    }

    fn can_signal(&self) -> bool {
        self.signal_word(Signal::SIGTERM).is_some()
    }

    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>> {
        match self.signal_word(sig) {
            Some(word) => Ok(argv(&self.q().qsig, &["-s", &word, job.jid])),
            None => self.cancel_argv(job),
        }
    }

    fn gone(&self, out: &Outcome, by: KillCommand) -> bool {
        QScheduler::gone(self, out, by)
    }

    fn not_running(&self, out: &Outcome) -> bool {
        QScheduler::not_running(self, out)
    }

    fn cancelled(&self, out: &Outcome) -> CancelStatus {
        QScheduler::cancelled(self, out)
    }

    fn kill_failed(&self, out: &Outcome, by: KillCommand, _argv: &[String]) -> Error {
        QScheduler::kill_failed(self, out, by)
    }

    fn before_kill(&self, site: &SiteSettings, job: &Job) -> Result<Option<CancelStatus>> {
        QScheduler::before_kill(self, site, job)
    }

    fn queue_argv(&self, jids: &[&str], user: Option<&str>) -> Option<Vec<String>> {
        QScheduler::queue_argv(self, jids, user)
    }

    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        QScheduler::parse_queue(self, out, argv)
    }

    fn accounting_argvs(&self, jids: &[&str]) -> Vec<Vec<String>> {
        QScheduler::accounting_argvs(self, jids)
    }

    fn parse_accounting(&self, out: &Outcome, argv: &[String]) -> Answer {
        QScheduler::parse_accounting(self, out, argv)
    }
}

/// `export_vars` for PBS and Grid Engine: `all` exports everything (`-V`),
/// `none` nothing, anything else is a list for `-v`. Only lowercase `all`
/// and `none` are special, as in troika 0.2.7.
pub fn export_vars(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(match v {
        b"all" => vec![b"-V".to_vec()],
        b"none" => vec![],
        other => vec![[b"-v ", other].concat()],
    })
}

/// `mail_type` of the family: items are trimmed; `begin`, `end`, `fail`
/// and `none` (any case) become `b`, `e`, `a` and `n`; other items are kept
/// as given, with a warning; all are joined without separator.
pub fn mail_letters(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in v.split(|&c| c == b',') {
        let item = item.trim_ascii();
        let letter: &[u8] = match item.to_ascii_lowercase().as_slice() {
            b"begin" => b"b",
            b"end" => b"e",
            b"fail" => b"a",
            b"none" => b"n",
            _ => {
                crate::warning!("Unknown mail_type value {}", crate::util::bytes_repr(item));
                item
            }
        };
        out.extend_from_slice(letter);
    }
    out
}

/// `mail_type` as `-m <letters>`.
pub fn mail_type(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![[b"-m ".as_slice(), &mail_letters(v)].concat()])
}

/// The rows every table of the family has, as troika 0.2.7 wrote them;
/// each scheduler adds its own (`join_output_error`, `walltime`, ...).
pub const ROWS: &[Entry] = &[
    Entry::format("billing_account", "-A %s"),
    Entry::format("error_file", "-e %s"),
    Entry::func(
        "export_vars",
        export_vars,
        "`-V` if `all`, nothing if `none`, `-v <value>` otherwise",
    ),
    Entry::func(
        "mail_type",
        mail_type,
        "`-m <letters>`: `begin`, `end`, `fail`, `none` (any case) become `b`, `e`, `a`, `n`, \
             joined without separator; other values are kept as given, with a warning",
    ),
    Entry::format("mail_user", "-M %s"),
    Entry::format("name", "-N %s"),
    Entry::format("output_file", "-o %s"),
    Entry::format("priority", "-p %s"),
    Entry::format("queue", "-q %s"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_and_export() {
        assert_eq!(mail_letters(b"begin, END,fail,none"), b"bean");
        assert_eq!(mail_letters(b"begin,all"), b"ball");
        assert_eq!(mail_type(b"end,fail").unwrap(), vec![b"-m ea".to_vec()]);
        assert_eq!(export_vars(b"all").unwrap(), vec![b"-V".to_vec()]);
        assert!(export_vars(b"none").unwrap().is_empty());
        assert_eq!(export_vars(b"ALL").unwrap(), vec![b"-v ALL".to_vec()]);
    }
}
