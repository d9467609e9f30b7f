//! One driver for every batch scheduler. What differs between schedulers
//! (the argument vectors of submission, status, cancel and signal, the job
//! id's syntax and how it is read, how an answer is classified, the words of
//! messages) is a [`Scheduler`]; the flow of submit, monitor and kill, kill
//! sequences included, is written once here in [`BatchSite`].
//!
//! Adding a scheduler is one file in `src/site/` that implements
//! [`Scheduler`] and gives its [`super::SiteType`] (name, keys, script
//! syntax, `create: |s| BatchSite::create(s, MyScheduler::new)`), and one
//! line in [`super::builtin`].

use std::path::Path;

use nix::sys::signal::Signal;

use super::kill::{self, Step};
use super::{submitted_job_id, warn_existing_stat, write_stat, CancelStatus, Site, SiteSettings, Submission};
use crate::connection::{Command, Input, Outcome};
use crate::error::{Error, Result};
use crate::util::quote;

/// Which command of a kill answered: the plain cancel (`scancel ID`, `qdel
/// ID`) or one that sends a signal (`qsig -s N ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillCommand {
    Cancel,
    Signal,
}

/// What a batch scheduler does its own way. Commands are argument vectors:
/// the configured program (`sbatch_command`, ...) and its arguments.
pub trait Scheduler {
    /// The words of messages: `Slurm submission failed`, `sbatch`, `squeue`
    /// (the last also names the status command in monitor's messages).
    fn names(&self) -> Submission<'static>;

    /// The submission command. The generated script goes on its standard
    /// input or, with `copy_script`, its copy's path is appended.
    fn submit_argv(&self) -> Vec<String>;

    /// Whether the script always goes on standard input, even when
    /// `copy_script` copies it (LSF reads `#BSUB` lines only there).
    fn script_always_on_stdin(&self) -> bool {
        false
    }

    /// The job id in the submission command's standard output.
    fn parse_job_id(&self, stdout: &str) -> Option<String>;

    /// Checks a job id given with `-j` or read from the `.jid` file.
    fn check_job_id(&self, jid: &str) -> Result<()> {
        default_check_job_id(jid)
    }

    /// The status command of `monitor`, whose output goes to `<script>.stat`.
    fn status_argv(&self, user: Option<&str>, jid: &str) -> Vec<String>;

    /// A second status command when the first answer asks for one.
    fn status_again(&self, _user: Option<&str>, _jid: &str, _first: &Outcome) -> Option<Vec<String>> {
        None
    }

    /// The plain cancel command.
    fn cancel_argv(&self, jid: &str) -> Vec<String>;

    /// Whether the scheduler can send a chosen signal to a job; without, a
    /// kill sequence is one plain cancel.
    fn can_signal(&self) -> bool {
        true
    }

    /// The command that sends `sig` to the job.
    fn signal_argv(&self, jid: &str, sig: Signal) -> Vec<String>;

    /// Whether a failed kill command says the job is not there (any more).
    fn gone(&self, out: &Outcome, by: KillCommand) -> bool;

    /// Whether a failed signal says the job does not run yet (queued,
    /// held): it is then cancelled instead.
    fn not_running(&self, _out: &Outcome) -> bool {
        false
    }

    /// The status of a plain cancel that succeeded.
    fn cancelled(&self, _out: &Outcome) -> CancelStatus {
        CancelStatus::Killed
    }

    /// The error of a kill command that failed.
    fn kill_failed(&self, out: &Outcome, by: KillCommand) -> Error;

    /// What a kill does before the plain cancel or the kill sequence
    /// (Slurm removes a job that is still pending); `Some` ends the kill.
    fn before_kill(&self, _site: &SiteSettings, _jid: &str, _dryrun: bool) -> Result<Option<CancelStatus>> {
        Ok(None)
    }
}

/// The job id check of schedulers without a syntax of their own: a word
/// that no command can take for an option.
pub fn default_check_job_id(jid: &str) -> Result<()> {
    if jid.is_empty() || jid.starts_with('-') || jid.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invocation(format!("Invalid job id: {}", quote(jid))));
    }
    Ok(())
}

/// A configured command (program and leading arguments) followed by `args`.
pub fn argv(base: &[String], args: &[&str]) -> Vec<String> {
    base.iter().cloned().chain(args.iter().map(|a| a.to_string())).collect()
}

/// `message failed with exit code N: output`, the error of a command.
pub fn command_failed(what: &str, out: &Outcome) -> Error {
    Error::run(format!("{what} failed with {}: {}", out.describe(), out.text().trim()))
}

/// A site run by a batch scheduler.
pub struct BatchSite<S> {
    s: SiteSettings,
    sched: S,
}

impl<S: Scheduler + 'static> BatchSite<S> {
    /// The site factory of a scheduler's type: `create: |s| BatchSite::create(s, Slurm::new)`.
    /// `new` reads the scheduler's own keys (and may adjust the settings,
    /// such as the directive table).
    pub fn create(mut s: SiteSettings, new: fn(&mut SiteSettings) -> Result<S>) -> Result<Box<dyn Site>> {
        let sched = new(&mut s)?;
        Ok(Box::new(BatchSite { s, sched }))
    }
}

impl<S: Scheduler> BatchSite<S> {
    fn run(&self, argv: Vec<String>, dryrun: bool) -> Result<Outcome> {
        self.s.run(Command::new(argv), dryrun)
    }

    /// The plain cancel: its success status, VANISHED for a job that is
    /// gone, or its error.
    fn cancel(&self, jid: &str, dryrun: bool) -> Result<CancelStatus> {
        let out = self.run(self.sched.cancel_argv(jid), dryrun)?;
        if out.dryrun || out.success() {
            return Ok(self.sched.cancelled(&out));
        }
        if self.sched.gone(&out, KillCommand::Cancel) {
            crate::debug!("Job {jid} is not known to the scheduler");
            return Ok(CancelStatus::Vanished);
        }
        Err(self.sched.kill_failed(&out, KillCommand::Cancel))
    }
}

impl<S: Scheduler> Site for BatchSite<S> {
    fn settings(&self) -> &SiteSettings {
        &self.s
    }

    fn check_job_id(&self, jid: &str) -> Result<()> {
        self.sched.check_job_id(jid)
    }

    fn submit(&self, script: &Path, _user: Option<&str>, output: &Path, dryrun: bool) -> Result<Option<String>> {
        let out = if self.sched.script_always_on_stdin() {
            if self.s.copy_script {
                let target = self.s.copy_target(script, output);
                self.s.connection.send_script(script, &target, dryrun)?;
            }
            let cmd = Command::new(self.sched.submit_argv()).stdin(Input::File(script.to_path_buf()));
            self.s.run(cmd, dryrun)?
        } else {
            self.s
                .run_submission(self.sched.submit_argv(), script, output, dryrun)?
        };
        submitted_job_id(&out, script, &self.sched.names(), |o| self.sched.parse_job_id(o))
    }

    fn monitor(&self, script: &Path, user: Option<&str>, jid: &str, dryrun: bool) -> Result<()> {
        warn_existing_stat(script);
        let mut out = self.run(self.sched.status_argv(user, jid), dryrun)?;
        if let Some(again) = self.sched.status_again(user, jid, &out) {
            out = self.run(again, dryrun)?;
        }
        write_stat(script, &out, self.sched.names().query)
    }

    fn kill(&self, _script: &Path, _user: Option<&str>, jid: &str, dryrun: bool) -> Result<CancelStatus> {
        if let Some(status) = self.sched.before_kill(&self.s, jid, dryrun)? {
            return Ok(status);
        }
        let seq = match &self.s.kill_sequence {
            Some(seq) if self.sched.can_signal() => seq,
            _ => return self.cancel(jid, dryrun),
        };
        kill::follow(seq, dryrun, |i, sig| {
            let out = self.run(self.sched.signal_argv(jid, sig), dryrun)?;
            let gone = self.sched.gone(&out, KillCommand::Signal);
            if i == 0 && !out.dryrun && !out.success() && !gone && self.sched.not_running(&out) {
                // Queued or held: there is no process to signal, remove it.
                let cancel = self.sched.cancel_argv(jid);
                let program = cancel
                    .first()
                    .and_then(|p| Path::new(p).file_name())
                    .unwrap_or_default()
                    .to_string_lossy();
                crate::debug!("Job {jid} is not running: cancelling it with {program}");
                return Ok(Step::Done(match self.cancel(jid, dryrun)? {
                    CancelStatus::Killed => CancelStatus::Cancelled,
                    other => other,
                }));
            }
            Ok(Step::from_outcome(&out, gone, || {
                self.sched.kill_failed(&out, KillCommand::Signal)
            }))
        })
    }
}
