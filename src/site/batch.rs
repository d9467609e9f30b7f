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
use std::time::Duration;

use nix::sys::signal::Signal;

use super::kill::{self, Step};
use super::queues::{QueueInfo, QueueQueries};
use super::retry::{self, Fault, Tries};
use super::{submitted_job_id, warn_existing_stat, write_stat, CancelStatus, Site, SiteSettings, Submission};
use crate::connection::{Command, Input, Outcome};
use crate::error::{Error, Reach, Result};
use crate::job::{Answer, JobStatus, Query};
use crate::util::quote;

/// Which command of a kill answered: the plain cancel (`scancel ID`, `qdel
/// ID`) or one that sends a signal (`qsig -s N ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillCommand {
    Cancel,
    Signal,
}

/// The job a command is about.
pub struct Job<'a> {
    pub script: &'a Path,
    pub user: Option<&'a str>,
    pub jid: &'a str,
}

/// What a submission command is given.
pub struct ToSubmit<'a> {
    /// The generated script, or its copy beside the output file.
    pub script: &'a str,
    pub output: &'a Path,
    pub user: Option<&'a str>,
}

/// How the script reaches the submission command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptInput {
    /// On standard input; with `copy_script`, the copy's path as an argument.
    Stdin,
    /// Its path as an argument.
    Argument,
    /// Always on standard input, even with `copy_script` (LSF reads `#BSUB`
    /// lines only there).
    AlwaysStdin,
}

/// What a batch scheduler does its own way. Commands are argument vectors:
/// the configured program (`sbatch_command`, ...) and its arguments.
pub trait Scheduler: StateQueries + Recovery + QueueQueries {
    /// The words of messages: `Slurm submission failed`, `sbatch`, `squeue`
    /// (the last also names the status command in monitor's messages).
    fn names(&self) -> Submission<'_>;

    /// The submission command. When the script is given as an argument,
    /// its path is appended unless [`Scheduler::places_script`].
    fn submit_argv(&self, to: &ToSubmit) -> Result<Vec<String>>;

    /// How the script reaches the submission command.
    fn script_input(&self) -> ScriptInput {
        ScriptInput::Stdin
    }

    /// Whether [`Scheduler::submit_argv`] puts the script's path in the
    /// command itself.
    fn places_script(&self) -> bool {
        false
    }

    /// The job id in the submission command's standard output.
    fn parse_job_id(&self, stdout: &str) -> Option<String>;

    /// The job id from the submission command's answer (`None` in a dry
    /// run), or the error that says why there is none.
    fn read_submission(&self, out: &Outcome, script: &Path, _argv: &[String]) -> Result<Option<String>> {
        submitted_job_id(out, script, &self.names(), |o| self.parse_job_id(o))
    }

    /// Checks a job id given with `-j` or read from the `.jid` file.
    fn check_job_id(&self, jid: &str) -> Result<()> {
        default_check_job_id(jid)
    }

    /// The status command of `monitor`, whose output goes to `<script>.stat`.
    fn status_argv(&self, job: &Job) -> Result<Vec<String>>;

    /// A second status command when the first answer asks for one.
    fn status_again(&self, _job: &Job, _first: &Outcome) -> Option<Vec<String>> {
        None
    }

    /// The name of the status command in messages.
    fn status_name(&self, _argv: &[String]) -> String {
        self.names().query.to_string()
    }

    /// The plain cancel command.
    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>>;

    /// The command that releases a held job; `None`: the scheduler cannot.
    fn release_argv(&self, _job: &Job) -> Option<Vec<String>> {
        None
    }

    /// Whether the scheduler can send a chosen signal to a job; without, a
    /// kill sequence is one plain cancel.
    fn can_signal(&self) -> bool {
        true
    }

    /// The command that sends `sig` to the job.
    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>>;

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

    /// The error of a kill command (`argv`) that failed.
    fn kill_failed(&self, out: &Outcome, _by: KillCommand, _argv: &[String]) -> Error {
        command_failed("Kill", out)
    }

    /// What a kill does before the plain cancel or the kill sequence
    /// (Slurm removes a job that is still pending); `Some` ends the kill.
    fn before_kill(&self, _site: &SiteSettings, _job: &Job) -> Result<Option<CancelStatus>> {
        Ok(None)
    }
}

/// How a scheduler tells job states to `troika status`: one query of its
/// queue for many jobs, and its accounting for jobs that left the queue.
/// Every method has a default (the scheduler cannot tell: its jobs are
/// UNKNOWN), so `impl StateQueries for X {}` is a start.
pub trait StateQueries {
    /// One query of the queue about these jobs, whose answer
    /// [`StateQueries::parse_queue`] reads (`None`: the scheduler cannot tell
    /// job states, they are UNKNOWN).
    fn queue_argv(&self, _jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        None
    }

    /// What the queue's answer says of each job it shows; `Err` when it
    /// cannot be trusted (the command failed: the jobs are then UNKNOWN).
    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        Err(query_failed(argv, out))
    }

    /// The accounting queries about jobs the queue does not show (several
    /// when the scheduler's accounting answers one job at a time).
    fn accounting_argvs(&self, _jids: &[&str]) -> Vec<Vec<String>> {
        vec![]
    }

    /// What an accounting answer says of each job it knows.
    fn parse_accounting(&self, out: &Outcome, argv: &[String]) -> Answer {
        Err(query_failed(argv, out))
    }
}

/// How a submission whose answer was lost is found again (which words of a
/// scheduler mean a failure that passes are in its type's
/// [`super::Traits::faults`]). Every method has a default (a submission that
/// may have reached the scheduler is then never repeated), so `impl
/// Recovery for X {}` is a start.
pub trait Recovery {
    /// Submission arguments that put `tag` on the job, so that a submission
    /// whose answer was lost can be found ([`Scheduler::find_argvs`]).
    /// `None`: the scheduler cannot be asked so, and a submission that may
    /// have reached it is never repeated.
    /// `script` is the generated script, for a scheduler whose tag takes
    /// the place of something the script may set itself.
    fn tag_args(&self, _tag: &str, _script: &[u8]) -> Option<Vec<String>> {
        None
    }

    /// Queries that list the user's jobs with their tags: the queue first
    /// (its answer decides), then accounting for jobs that already ended.
    /// `since` is how long ago the first attempt started.
    fn find_argvs(&self, _user: Option<&str>, _since: Duration) -> Vec<Vec<String>> {
        vec![]
    }

    /// The ids of the jobs tagged `tag` in the answer of a find query
    /// (`argv`), or why the answer cannot be trusted.
    fn parse_found(&self, out: &Outcome, argv: &[String], _tag: &str) -> std::result::Result<Vec<String>, String> {
        Err(query_failed(argv, out))
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

/// Why a status query cannot be trusted: `squeue failed with exit code 1:
/// Socket timed out ...`.
pub fn query_failed(argv: &[String], out: &Outcome) -> String {
    let name = argv.first().map(crate::util::program_name).unwrap_or_default();
    format!("{name} failed with {}: {}", out.describe(), out.text().trim())
}

/// A configured command (program and leading arguments) followed by `args`.
pub fn argv(base: &[String], args: &[&str]) -> Vec<String> {
    base.iter().cloned().chain(args.iter().map(|a| a.to_string())).collect()
}

/// `message failed with exit code N: output`, the error of a command.
pub fn command_failed(what: &str, out: &Outcome) -> Error {
    Error::run(format!("{what} failed with {}: {}", out.describe(), out.text().trim()))
}

/// What a look-up of a submission's tag found.
enum Found {
    Job(String),
    None,
    /// The queue could not be asked: whether the job exists is not known.
    Unknown(String),
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
    /// Runs a command that can be repeated (a query, a cancel, a signal).
    fn run(&self, argv: Vec<String>) -> Result<Outcome> {
        self.s.run_retried(Command::new(argv))
    }

    /// The job that carries `tag`, from the scheduler's queue, else its
    /// accounting. Found nowhere counts only when the queue answered.
    fn find(&self, tag: &str, since: Duration) -> Found {
        let user = self.s.user.as_deref();
        let mut why = None;
        for (i, argv) in self.sched.find_argvs(user, since).into_iter().enumerate() {
            let answer = self
                .s
                .run(Command::new(argv.clone()))
                .map_err(|e| e.detail().to_string())
                .and_then(|out| self.sched.parse_found(&out, &argv, tag));
            match answer {
                Ok(ids) => {
                    if ids.len() > 1 {
                        crate::warning!("Jobs {} all carry the tag {tag}: keeping the first", ids.join(", "));
                    }
                    if let Some(id) = ids.into_iter().next() {
                        return Found::Job(id);
                    }
                }
                Err(failed) => {
                    crate::debug!("Looking up the tag {tag} with {}: {failed}", quote(&argv[0]));
                    if i == 0 {
                        why = Some(failed);
                    }
                }
            }
        }
        match why {
            Some(w) => Found::Unknown(w),
            None => Found::None,
        }
    }

    /// After an attempt that may have submitted the job: the job that
    /// carries `tag` (adopted), `None` when the queue answered without it,
    /// or why it cannot be known.
    fn adopt(&self, tag: &str, tries: &Tries) -> std::result::Result<Option<String>, String> {
        match self.find(tag, tries.elapsed()) {
            Found::Job(jid) => {
                crate::info!(
                    "Job {jid} carries this submission's tag {tag}: an earlier attempt submitted it, its answer was lost"
                );
                Ok(Some(jid))
            }
            Found::None => {
                crate::info!("No job carries the tag {tag}: the job was not submitted");
                Ok(None)
            }
            Found::Unknown(why) => Err(why),
        }
    }

    /// The plain cancel: its success status, VANISHED for a job that is
    /// gone, or its error.
    fn cancel(&self, job: &Job) -> Result<CancelStatus> {
        self.cancel_with(job, self.sched.cancel_argv(job)?)
    }

    /// [`Self::cancel`] with the cancel command already made.
    fn cancel_with(&self, job: &Job, argv: Vec<String>) -> Result<CancelStatus> {
        let out = self.run(argv.clone())?;
        if out.dryrun || out.success() {
            return Ok(self.sched.cancelled(&out));
        }
        if self.sched.gone(&out, KillCommand::Cancel) {
            crate::debug!("Job {} is not known to the scheduler", job.jid);
            return Ok(CancelStatus::Vanished);
        }
        Err(self.sched.kill_failed(&out, KillCommand::Cancel, &argv))
    }
}

impl<S: Scheduler> Site for BatchSite<S> {
    fn settings(&self) -> &SiteSettings {
        &self.s
    }

    fn check_job_id(&self, jid: &str) -> Result<()> {
        self.sched.check_job_id(jid)
    }

    fn submit(&self, script: &Path, output: &Path) -> Result<Option<String>> {
        let user = self.s.user.as_deref();
        let input = self.sched.script_input();
        let mut path = script.display().to_string();
        let mut by_argument = input == ScriptInput::Argument;
        if self.s.copy_script {
            let target = self.s.copy_target(script, output);
            self.s.send_script(script, &target)?;
            path = target.display().to_string();
            by_argument = input != ScriptInput::AlwaysStdin;
        }
        let mut argv = self.sched.submit_argv(&ToSubmit {
            script: &path,
            output,
            user,
        })?;
        // A tag finds the job again should the submission's answer be lost.
        let tag = match self.s.retry.retries > 0 && !self.s.dry_run() {
            true => {
                // Read again only for the tag: it was written just before.
                let text = std::fs::read(script).unwrap_or_default();
                Some(retry::new_tag()).and_then(|t| self.sched.tag_args(&t, &text).map(|a| (t, a)))
            }
            false => None,
        };
        if let Some((_, args)) = &tag {
            argv.extend(args.iter().cloned());
        }
        if by_argument && !self.sched.places_script() {
            argv.push(path);
        }
        let stdin = if by_argument {
            Input::Null
        } else {
            Input::File(script.to_path_buf())
        };
        let cmd = Command::new(argv.clone()).stdin(stdin);
        let tag = tag.map(|(t, _)| t);
        let name = self.sched.names().command;
        let mut tries = Tries::new(&self.s.retry);
        // Whether an earlier attempt may have reached the scheduler.
        let mut maybe_submitted = false;
        let uncertain = |why: &str, tries: &Tries, tag: &str| {
            Error::Uncertain(format!(
                "{name} may have submitted the job, and it could not be checked ({why}; {}): check with {} (tag {tag}) before submitting again",
                tries.summary(),
                self.sched.names().query
            ))
        };
        loop {
            if let (true, Some(tag)) = (maybe_submitted, &tag) {
                match self.adopt(tag, &tries) {
                    Ok(Some(jid)) => return Ok(Some(jid)),
                    Ok(None) => maybe_submitted = false,
                    Err(why) if tries.again("Looking up the submission", &why) => continue,
                    Err(why) => return Err(uncertain(&why, &tries, tag)),
                }
            }
            let result = self.s.run(cmd.clone());
            let fault = retry::fault_of(&result, self.s.faults);
            let reach = match fault {
                Some(Fault::Transient(reach)) if tries.enabled() => reach,
                _ => return result.and_then(|out| self.sched.read_submission(&out, script, &argv)),
            };
            if reach == Reach::MaybeDone && tag.is_none() {
                // No way to know whether the job exists: never submit twice.
                let why = retry::reason(&result);
                return Err(Error::Uncertain(format!(
                    "{name} failed ({why}), perhaps after the job was submitted, and this scheduler's jobs cannot be looked up by tag: check with {} before submitting again",
                    self.sched.names().query
                )));
            }
            maybe_submitted |= reach == Reach::MaybeDone;
            if tries.again(name, &retry::reason(&result)) {
                continue;
            }
            let summary = tries.summary();
            let err = match result {
                Ok(out) => match self.sched.read_submission(&out, script, &argv) {
                    Err(e) => e,
                    Ok(_) => Error::run(format!("{name} failed")),
                },
                Err(e) => e,
            };
            let err = err.map_message(|m| format!("{m} ({summary}, each failed transiently)"));
            // The last attempt may have submitted the job: one more look.
            return match (maybe_submitted, &tag) {
                (true, Some(tag)) => match self.adopt(tag, &tries) {
                    Ok(Some(jid)) => Ok(Some(jid)),
                    Ok(None) => Err(err),
                    Err(why) => Err(uncertain(&why, &tries, tag)),
                },
                _ => Err(err),
            };
        }
    }

    fn monitor(&self, script: &Path, jid: &str) -> Result<()> {
        let user = self.s.user.as_deref();
        warn_existing_stat(script);
        let job = Job { script, user, jid };
        let argv = self.sched.status_argv(&job)?;
        let name = self.sched.status_name(&argv);
        let mut out = self.run(argv)?;
        if let Some(again) = self.sched.status_again(&job, &out) {
            out = self.run(again)?;
        }
        write_stat(script, &out, &name)
    }

    fn status(&self, jobs: &[Query]) -> Vec<JobStatus> {
        let user = self.s.user.as_deref();
        let queue = |ids: &[&str]| match self.sched.queue_argv(ids, user) {
            Some(argv) => self.s.ask(argv, |o, a| self.sched.parse_queue(o, a)),
            None => Err("this site type cannot tell job states".into()),
        };
        let accounting = |ids: &[&str]| {
            let mut all = Vec::new();
            for argv in self.sched.accounting_argvs(ids) {
                all.extend(self.s.ask(argv, |o, a| self.sched.parse_accounting(o, a))?);
            }
            Ok(all)
        };
        self.s.resolve(jobs, &queue, Some(&accounting))
    }

    fn release(&self, script: &Path, jid: &str) -> Result<()> {
        let job = Job {
            script,
            user: self.s.user.as_deref(),
            jid,
        };
        let Some(argv) = self.sched.release_argv(&job) else {
            return Err(Error::run("This site type cannot release a held job"));
        };
        let out = self.run(argv)?;
        if !out.dryrun && !out.success() {
            return Err(command_failed(&format!("Release of job {jid}"), &out));
        }
        Ok(())
    }

    fn queues(&self) -> Result<Vec<QueueInfo>> {
        let argvs = self.sched.queues_argvs();
        if argvs.is_empty() {
            return Err(Error::run("This site type cannot list its queues"));
        }
        let mut answers = Vec::new();
        for argv in argvs {
            let out = self.run(argv.clone())?;
            if out.dryrun {
                return Ok(vec![]);
            }
            answers.push((argv, out));
        }
        self.sched
            .parse_queues(&answers)
            .map_err(|why| Error::run(format!("Cannot list the queues: {why}")))
    }

    fn kill(&self, script: &Path, jid: &str) -> Result<CancelStatus> {
        let dryrun = self.s.dry_run();
        let user = self.s.user.as_deref();
        let job = Job { script, user, jid };
        if let Some(status) = self.sched.before_kill(&self.s, &job)? {
            return Ok(status);
        }
        let seq = match &self.s.kill_sequence {
            Some(seq) if self.sched.can_signal() => seq,
            _ => return self.cancel(&job),
        };
        kill::follow(seq, dryrun, |i, sig| {
            let argv = self.sched.signal_argv(&job, sig)?;
            let out = self.run(argv.clone())?;
            let gone = self.sched.gone(&out, KillCommand::Signal);
            if i == 0 && !out.dryrun && !out.success() && !gone && self.sched.not_running(&out) {
                // Queued or held: there is no process to signal, remove it.
                let cancel = self.sched.cancel_argv(&job)?;
                let program = cancel.first().map(crate::util::program_name).unwrap_or_default();
                crate::debug!("Job {jid} is not running: cancelling it with {program}");
                return Ok(Step::Done(match self.cancel_with(&job, cancel)? {
                    CancelStatus::Killed => CancelStatus::Cancelled,
                    other => other,
                }));
            }
            Ok(Step::from_outcome(&out, gone, || {
                self.sched.kill_failed(&out, KillCommand::Signal, &argv)
            }))
        })
    }
}
