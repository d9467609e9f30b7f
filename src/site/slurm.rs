//! Slurm: `sbatch`, `squeue`, `scancel`, `#SBATCH` directives.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::batch::{argv, query_failed, BatchSite, Job, KillCommand, Recovery, Scheduler, StateQueries, ToSubmit};
use super::queues::{key_values, limit_seconds, QueueInfo, QueueQueries, QueueState};
use super::retry::Pattern;
use super::{CancelStatus, ScriptSyntax, SiteSettings, SiteType, Submission, Traits};
use crate::connection::{Command, Outcome};
use crate::error::{Error, Result};
use crate::job::state::lookup;
use crate::job::{Answer, JobStatus, Meaning, NativeState, Outcome as JobOutcome, Source, State};
use crate::script::translate::{bool_value, Entry, Joint, Table};
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &[
    "sbatch_command",
    "squeue_command",
    "scancel_command",
    "sacct_command",
    "scontrol_command",
    "sinfo_command",
];

/// Slurm's job states (`squeue %T`, `sacct State`), flags included.
pub const STATES: &[NativeState] = &[
    NativeState::new("PENDING", State::Queued, "waiting for resources or its priority (Resources, Priority, ...); HELD when the reason is JobHeldUser, JobHeldAdmin, JobHoldMaxRequeue, Dependency, DependencyNeverSatisfied, BeginTime, `job requeued in held state` or `launch failed requeued held`"),
    NativeState::new("CONFIGURING", State::Queued, "allocated, nodes booting"),
    NativeState::new("REQUEUE_FED", State::Queued, "requeued by a federation"),
    NativeState::new("REVOKED", State::Queued, "removed from this cluster of a federation"),
    NativeState::new("REQUEUE_HOLD", State::Held, "requeued and held"),
    NativeState::new("RESV_DEL_HOLD", State::Held, "held after its reservation was deleted"),
    NativeState::new("SPECIAL_EXIT", State::Held, "requeued and held in a special exit state (scontrol requeuehold State=SpecialExit; scontrol release)"),
    NativeState::new("RUNNING", State::Running, "has an allocation"),
    NativeState::new("RESIZING", State::Running, "about to change size"),
    NativeState::new("SIGNALING", State::Running, "being signalled"),
    NativeState::new("SUSPENDED", State::Suspended, "execution suspended, CPUs released"),
    NativeState::new("STOPPED", State::Suspended, "stopped (SIGSTOP), CPUs kept"),
    NativeState::new("COMPLETING", State::Completing, "ended, processes being cleaned up"),
    NativeState::new("STAGE_OUT", State::Completing, "staging out files"),
    NativeState::new("EXPEDITING", State::Completing, "ended; Slurm checks whether to requeue it at once (expedited requeue)"),
    NativeState::new("REQUEUED", State::Requeued, "being requeued"),
    NativeState::finished("COMPLETED", Some(JobOutcome::Succeeded), "ended with exit code 0"),
    NativeState::finished("FAILED", None, "ended with a non-zero exit code (or a signal)"),
    NativeState::finished("CANCELLED", Some(JobOutcome::Cancelled), "cancelled by a user or an administrator"),
    NativeState::finished("TIMEOUT", Some(JobOutcome::Timeout), "reached its time limit"),
    NativeState::finished("DEADLINE", Some(JobOutcome::Timeout), "reached its deadline"),
    NativeState::finished("OUT_OF_MEMORY", Some(JobOutcome::OutOfMemory), "ran out of memory"),
    NativeState::finished("NODE_FAIL", Some(JobOutcome::NodeFail), "a node failed"),
    NativeState::finished("BOOT_FAIL", Some(JobOutcome::NodeFail), "a node failed to boot"),
    NativeState::finished("PREEMPTED", Some(JobOutcome::Preempted), "preempted"),
];

/// Reasons of a PENDING job that is not eligible to start (squeue `%r`;
/// the last two are the words slurmctld gives a job requeued held).
const HOLD_REASONS: &[&str] = &[
    "JobHeldUser",
    "JobHeldAdmin",
    "JobHoldMaxRequeue",
    "Dependency",
    "DependencyNeverSatisfied",
    "BeginTime",
    "job requeued in held state",
    "launch failed requeued held",
];

/// The meaning of a state word of squeue or sacct (`CANCELLED by 0` is
/// CANCELLED), with the reason of a pending job.
fn meaning(state: &str, reason: &str) -> Option<Meaning> {
    let word = state.split_whitespace().next().unwrap_or("");
    let m = lookup(STATES, word)?;
    if word == "PENDING" && HOLD_REASONS.contains(&reason) {
        return Some(Meaning {
            state: State::Held,
            outcome: None,
        });
    }
    Some(m)
}

/// One line of `ID|STATE|REASON` (squeue) or `ID|STATE|EXITCODE|REASON`
/// (sacct): the job's status. A state troika does not know makes the job
/// UNKNOWN, with the state kept.
fn parse_line(line: &str, source: Source, with_exit: bool) -> Option<JobStatus> {
    let fields: Vec<&str> = line.split('|').map(str::trim).collect();
    let (id, state) = (*fields.first()?, *fields.get(1)?);
    if id.is_empty() {
        return None;
    }
    let (exit, reason) = match with_exit {
        true => (fields.get(2).copied(), fields.get(3).copied().unwrap_or("")),
        false => (None, fields.get(2).copied().unwrap_or("")),
    };
    let Some(m) = meaning(state, reason) else {
        let why = format!("unknown Slurm state {}", quote(state));
        return Some(JobStatus::unknown(id, why).native(state, None));
    };
    let mut status = JobStatus::new(id, m, source).native(state, (reason != "None").then_some(reason));
    if let Some((parent, index)) = super::array::split_task(id) {
        status = status.of_task(&parent, &index);
    } else if let Some(raw) = fields.get(4).filter(|r| with_exit && !r.is_empty()) {
        // sacct's JobIDRaw: a heterogeneous job's component (`12+1`) by its own id.
        status.job_id = raw.to_string();
    }
    // ExitCode is `code:signal`.
    let (code, sig) = match exit.and_then(|e| e.split_once(':')) {
        Some((c, s)) => (c.parse().ok(), s.parse().ok()),
        None => (None, None),
    };
    Some(status.exit(code, sig))
}

/// The statuses of a `|`-separated answer.
fn parse_lines(text: &str, source: Source, with_exit: bool) -> Vec<JobStatus> {
    text.lines().filter_map(|l| parse_line(l, source, with_exit)).collect()
}

/// The translation of generic directives to `#SBATCH` options.
#[rustfmt::skip]
pub const TABLE: Table = Table::new(&[
    Entry::func("array", array, "`--array=<ranges>[%<limit>]`; the index is in `SLURM_ARRAY_TASK_ID` and `TROIKA_ARRAY_INDEX`"),
    Entry::format("billing_account", "--account=%s"),
    Entry::format("cpus_per_task", "--cpus-per-task=%s"),
    Entry::func("depends_on", depends_on, "`--dependency=afterok:<id>:<id>,afterany:<id>`"),
    Entry::format("distribution", "--distribution=%s"),
    Entry::func("enable_hyperthreading", hyperthreading, "`--hint=multithread` if true, `--hint=nomultithread` if false"),
    Entry::joint("error_file", error_file, "`--error=<value>`; with `array`, `--error=<value>.%a`: a file per task"),
    Entry::func("exclusive", exclusive, "`--exclusive` if true or empty, nothing if false, `--exclusive=<value>` otherwise"),
    Entry::func("export_vars", export_vars, "`--export=<value>`; `all` and `none` become `ALL` and `NONE`"),
    Entry::format("gpus_per_node", "--gpus-per-node=%s"),
    Entry::format("gpus_per_task", "--gpus-per-task=%s"),
    Entry::func("hold", hold, "`--hold` if true (the job waits for `troika release`), nothing if false"),
    Entry::ignore("join_output_error"),
    Entry::format("licenses", "--licenses=%s"),
    Entry::func("mail_type", mail_type, "`--mail-type=<value>`; `none`, `begin`, `end`, `fail` in upper case, others as given"),
    Entry::format("mail_user", "--mail-user=%s"),
    Entry::format("memory_per_cpu", "--mem-per-cpu=%s"),
    Entry::format("memory_per_node", "--mem=%s"),
    Entry::format("name", "--job-name=%s"),
    Entry::joint("output_file", output_file, "`--output=<value>`; with `array`, `--output=<value>.%a`: a file per task"),
    Entry::format("partition", "--partition=%s"),
    Entry::format("priority", "--priority=%s"),
    Entry::format("queue", "--qos=%s"),
    Entry::format("reservation", "--reservation=%s"),
    Entry::func("signal_before_end", signal_before_end, "`--signal=B:<SIG>@<seconds>`: the batch shell gets the signal (Slurm may send it up to a minute early)"),
    Entry::format("tasks_per_node", "--ntasks-per-node=%s"),
    Entry::format("threads_per_core", "--threads-per-core=%s"),
    Entry::format("tmpdir_size", "--tmp=%s"),
    Entry::format("total_gpus", "--gpus=%s"),
    Entry::format("total_nodes", "--nodes=%s"),
    Entry::format("total_tasks", "--ntasks=%s"),
    Entry::format("walltime", "--time=%s"),
    Entry::format("working_dir", "--chdir=%s"),
]);

/// `#SBATCH` lines; output and error files are set by troika.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "SBATCH",
    drop: &["-o", "--output", "-e", "--error"],
    command: "sbatch",
    option_name_required: true,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "slurm",
        keys: KEYS,
        syntax: ScriptSyntax::batch("#SBATCH ", NATIVE, TABLE, super::units::Style::Slurm),
        traits: Traits {
            front_end: Some(FRONT_END),
            recipes: RECIPES,
            ..Traits::batch(STATES, FAULTS, ARRAY_INDEX, &FOREIGN)
        },
        create: |s| BatchSite::create(s, Slurm::new),
    }
}

/// `troika sbatch`: this scheduler's command line, submitted anywhere.
const FRONT_END: super::FrontEnd = super::FrontEnd {
    command: "sbatch",
    about: "Submit with sbatch's options and #SBATCH lines, to --site or the default site",
    submitted: |id| format!("Submitted batch job {id}\n"),
};

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[
    super::Recipe::new(
        "slurm",
        "Slurm on this machine",
        include_str!("../../recipes/slurm.yml"),
    ),
    super::Recipe::new(
        "slurm-ssh",
        "Slurm through ssh, with shared connections",
        include_str!("../../recipes/slurm-ssh.yml"),
    ),
    super::Recipe::new(
        "slurm-accounting",
        "Slurm with accounting, status records and the job ledger",
        include_str!("../../recipes/slurm-accounting.yml"),
    ),
];

/// The variable of an array task's index.
const ARRAY_INDEX: Option<&str> = Some("SLURM_ARRAY_TASK_ID");

fn array(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let spec = super::array::Spec::parse(v)?;
    let limit = spec.limit_suffix();
    Ok(vec![format!("--array={}{limit}", spec.ranges_text()).into_bytes()])
}

fn output_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "--output=", "%a")
}

fn error_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "--error=", "%a")
}

fn depends_on(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let groups = super::depends::parse(v)?;
    Ok(vec![
        format!("--dependency={}", super::depends::colon_lists(&groups)).into_bytes()
    ])
}

fn hold(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "--hold")
}

fn signal_before_end(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let (sig, secs) = super::signals::signal_before_end(v)?;
    Ok(vec![format!("--signal=B:{sig}@{secs}").into_bytes()])
}

fn hyperthreading(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![if bool_value(v)? {
        b"--hint=multithread".to_vec()
    } else {
        b"--hint=nomultithread".to_vec()
    }])
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    if v.is_empty() {
        return Ok(vec![b"--exclusive".to_vec()]);
    }
    Ok(match std::str::from_utf8(v).ok().and_then(crate::util::parse_bool) {
        Some(true) => vec![b"--exclusive".to_vec()],
        Some(false) => vec![],
        None => vec![[b"--exclusive=", v].concat()],
    })
}

fn export_vars(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let value: &[u8] = match v {
        b"all" => b"ALL",
        b"none" => b"NONE",
        other => other,
    };
    Ok(vec![[b"--export=", value].concat()])
}

/// Known mail types in upper case; list items are trimmed.
pub fn mail_types(v: &[u8], known: &[&str]) -> Vec<Vec<u8>> {
    v.split(|&c| c == b',')
        .map(|item| {
            let item = item.trim_ascii();
            let up = item.to_ascii_uppercase();
            if known.iter().any(|k| k.as_bytes() == up.as_slice()) {
                up
            } else {
                crate::warning!("Unknown mail_type value {}", crate::util::bytes_repr(item));
                item.to_vec()
            }
        })
        .collect()
}

fn mail_type(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let items = mail_types(v, &["NONE", "BEGIN", "END", "FAIL"]);
    Ok(vec![[b"--mail-type=".as_slice(), &items.join(&b","[..])].concat()])
}

/// A Slurm cluster.
pub struct Slurm {
    sbatch: Vec<String>,
    squeue: Vec<String>,
    scancel: Vec<String>,
    sacct: Vec<String>,
    scontrol: Vec<String>,
    sinfo: Vec<String>,
}

impl Slurm {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        Ok(Slurm {
            sbatch: s.config.command("sbatch_command", &["sbatch"])?,
            squeue: s.config.command("squeue_command", &["squeue"])?,
            scancel: s.config.command("scancel_command", &["scancel"])?,
            sacct: s.config.command("sacct_command", &["sacct"])?,
            scontrol: s.config.command("scontrol_command", &["scontrol"])?,
            sinfo: s.config.command("sinfo_command", &["sinfo"])?,
        })
    }

    /// `squeue -h -o %T -j ID`: the job's state, `None` when Slurm does not
    /// know the job any more.
    fn state(&self, s: &SiteSettings, jid: &str) -> Result<Option<String>> {
        let out = s.run_retried(Command::with_args(&self.squeue, &["-h", "-o", "%T", "-j", jid]))?;
        if out.dryrun {
            return Ok(Some(String::new()));
        }
        // On failure both streams, as 0.2.7 read them: Slurm's messages may
        // come on either. The state is standard output.
        let text = out.text();
        crate::debug!("squeue output for job {jid}: {}", quote(text.trim()));
        if !out.success() {
            if text.contains("Invalid job id specified") {
                crate::debug!("Job {jid} is unknown to Slurm");
                return Ok(None);
            }
            return Err(Error::run(format!(
                "Get State failed with {} (squeue): {}",
                out.describe(),
                text.trim()
            )));
        }
        // The whole answer is the state: several lines (an array job, say)
        // are no single state, and the job gets a plain scancel (as in 0.2.7).
        Ok(Some(String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }
}

/// Reads the job id from `sbatch` output (`Submitted batch job N`, or `N`
/// / `N;cluster` with `--parsable`), as an integer (`0042` -> `42`, as 0.2.7).
pub fn parse_sbatch_output(out: &str) -> Option<String> {
    out.lines().map(str::trim).find_map(|l| {
        let rest = l.strip_prefix("Submitted batch job ").unwrap_or(l);
        let id = rest.split(';').next().unwrap_or("");
        (!id.is_empty() && id.bytes().all(|c| c.is_ascii_digit())).then(|| crate::util::integer_id(id))
    })
}

impl Scheduler for Slurm {
    fn names(&self) -> Submission<'_> {
        Submission {
            failed: "Slurm submission failed",
            command: "sbatch",
            query: "squeue",
        }
    }

    fn submit_argv(&self, _to: &ToSubmit) -> Result<Vec<String>> {
        Ok(self.sbatch.clone())
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_sbatch_output(stdout)
    }

    fn check_job_id(&self, jid: &str) -> Result<()> {
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
        // Plain ids, array tasks (123_4) and heterogeneous components (123+1).
        let ok = match jid.split_once(['_', '+']) {
            Some((a, b)) => digits(a) && digits(b),
            None => digits(jid),
        };
        if !ok {
            return Err(Error::invocation(format!("Invalid job id: {}", quote(jid))));
        }
        Ok(())
    }

    /// Without -u, troika 0.2.7 passes the literal text `$USER`.
    fn status_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.squeue, &["-u", job.user.unwrap_or("$USER"), "-j", job.jid]))
    }

    /// Slurm rejects the user `$USER`: asked again without -u.
    fn status_again(&self, job: &Job, first: &Outcome) -> Option<Vec<String>> {
        let jid = job.jid;
        if job.user.is_none() && String::from_utf8_lossy(&first.stderr).contains("Invalid user: $USER") {
            crate::debug!("squeue rejected the user '$USER': asking again without -u");
            return Some(argv(&self.squeue, &["-j", jid]));
        }
        None
    }

    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.scancel, &[job.jid]))
    }

    /// `scontrol release ID`.
    fn release_argv(&self, job: &Job) -> Option<Vec<String>> {
        Some(argv(&self.scontrol, &["release", job.jid]))
    }

    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>> {
        Ok(argv(&self.scancel, &[job.jid, "-f", "-s", &(sig as i32).to_string()]))
    }

    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        out.text().contains("Invalid job id specified")
    }

    /// The job's state first: a job Slurm does not know is VANISHED, and a
    /// pending one is removed with `scancel -t PENDING` (CANCELLED), as in
    /// 0.2.7; a job that started meanwhile gets the kill sequence.
    fn before_kill(&self, s: &SiteSettings, job: &Job) -> Result<Option<CancelStatus>> {
        let dryrun = s.dry_run();
        let jid = job.jid;
        let state = match self.state(s, jid) {
            Ok(state) => state,
            Err(e) if s.config.behaviour().kill_without_state => {
                // The job may be running: the cancel goes out all the same.
                crate::warning!("{}: cancelling job {jid} without knowing its state", e.detail());
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let Some(state) = state else {
            return Ok(Some(CancelStatus::Vanished));
        };
        if state.is_empty() && !dryrun {
            crate::debug!("Job {jid} is no longer in the queue");
            return Ok(Some(CancelStatus::Vanished));
        }
        if state != "PENDING" {
            return Ok(None);
        }
        let cancel = argv(&self.scancel, &["-t", "PENDING", jid]);
        let out = s.run_retried(Command::new(cancel.clone()))?;
        if !out.success() && !out.dryrun {
            if self.gone(&out, KillCommand::Cancel) {
                crate::debug!("Job {jid} left the queue before scancel -t PENDING");
                return Ok(Some(CancelStatus::Vanished));
            }
            return Err(self.kill_failed(&out, KillCommand::Cancel, &cancel));
        }
        match self.state(s, jid)?.as_deref() {
            None | Some("") | Some("CANCELLED") => Ok(Some(CancelStatus::Cancelled)),
            Some("PENDING") => Err(Error::run(format!("Failed to cancel PENDING job {jid}"))),
            Some(other) => {
                crate::debug!("Job {jid} is now {other}, following the kill sequence");
                Ok(None)
            }
        }
    }
}

/// Slurm's words of failures that pass (seen on the test cluster with
/// slurmctld stopped, and in Slurm's error codes `slurm_strerror`).
const FAULTS: &[Pattern] = &[
    Pattern::not_started("Unable to contact slurm controller"),
    Pattern::not_started("Slurm backup controller in standby mode"),
    Pattern::not_started("Munge encode failed"),
    Pattern::not_started("Slurm temporarily unable to accept job"),
    Pattern::maybe_done("Socket timed out on send/recv operation"),
    Pattern::maybe_done("Zero Bytes were transmitted or received"),
    Pattern::maybe_done("Unexpected message received"),
    Pattern::maybe_done("Transport endpoint is not connected"),
    Pattern::maybe_done("Communication connection failure"),
];

impl Recovery for Slurm {
    /// `--comment=TAG` (the job name stays the user's); after the
    /// script's own comment, which the option would replace.
    fn tag_args(&self, tag: &str, script: &[u8]) -> Option<Vec<String>> {
        Some(vec![match script_comment(script) {
            Some(mine) if !mine.is_empty() => format!("--comment={mine} {tag}"),
            _ => format!("--comment={tag}"),
        }])
    }

    /// `squeue -h -t all -o %i|%k` for the user's jobs, then `sacct -n -X -P
    /// -o JobID,Comment` since a minute before the first attempt (Slurm
    /// keeps comments in accounting with `AccountingStoreFlags=job_comment`).
    fn find_argvs(&self, user: Option<&str>, since: Duration) -> Vec<Vec<String>> {
        let who: Vec<&str> = match user {
            Some(u) => vec!["-u", u],
            None => vec!["--me"],
        };
        let mut queue = vec!["-h", "-t", "all", "-o", "%i|%k"];
        queue.extend(&who);
        let start = format!("now-{}", since.as_secs() + 60);
        let mut acct = vec!["-n", "-X", "-P", "-o", "JobID,Comment", "-S", &start];
        if let Some(u) = user {
            acct.extend(["-u", u]);
        }
        vec![argv(&self.squeue, &queue), argv(&self.sacct, &acct)]
    }

    /// Lines of `ID|COMMENT`; the tasks of an array job (`12_3`, `12_[4-9]`)
    /// are the array's id once.
    fn parse_found(&self, out: &Outcome, argv: &[String], tag: &str) -> std::result::Result<Vec<String>, String> {
        if !out.success() {
            return Err(query_failed(argv, out));
        }
        let mut ids: Vec<String> = Vec::new();
        for (id, _) in String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('|'))
            .filter(|(_, c)| {
                let c = c.trim();
                c == tag || c.strip_suffix(tag).is_some_and(|mine| mine.ends_with(' '))
            })
        {
            let id = super::array::split_task(id.trim()).map_or_else(|| id.trim().to_string(), |(p, _)| p);
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// The comment a script sets (`#SBATCH --comment=TEXT`, `--comment TEXT`,
/// quoted or not; the last one wins), read as sbatch reads its directives:
/// the `#SBATCH` lines before the first command.
fn script_comment(script: &[u8]) -> Option<String> {
    let mut found = None;
    for line in String::from_utf8_lossy(script).lines().skip(1) {
        let line = line.trim();
        let Some(options) = line.strip_prefix("#SBATCH") else {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            break;
        };
        let words = shell_words(options);
        let mut words = words.iter();
        while let Some(w) = words.next() {
            if let Some(v) = w.strip_prefix("--comment=") {
                found = Some(v.to_string());
            } else if w == "--comment" {
                found = words.next().cloned();
            }
        }
    }
    found
}

/// Words split at blanks, quotes (`"a b"`, `'a b'`) kept together and
/// taken away, as sbatch splits a directive line.
fn shell_words(text: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => (quote, any) = (Some(c), true),
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

impl QueueQueries for Slurm {
    /// `scontrol show partition -o` (one line of `KEY=VALUE` per
    /// partition), then `sinfo -h -o %R|%C` (CPUs allocated/idle/other/total).
    fn queues_argvs(&self) -> Vec<Vec<String>> {
        vec![
            argv(&self.scontrol, &["show", "partition", "-o"]),
            argv(&self.sinfo, &["-h", "-o", "%R|%C"]),
        ]
    }

    fn parse_queues(&self, answers: &[(Vec<String>, Outcome)]) -> std::result::Result<Vec<QueueInfo>, String> {
        let [(argv0, parts), (_, cpus)] = answers else {
            return Err("no answer".into());
        };
        if !parts.success() {
            return Err(query_failed(argv0, parts));
        }
        // Idle CPUs by partition; the count is only missing when sinfo fails.
        let idle: std::collections::HashMap<String, u64> = match cpus.success() {
            true => String::from_utf8_lossy(&cpus.stdout)
                .lines()
                .filter_map(|l| l.split_once('|'))
                .filter_map(|(p, c)| Some((p.trim().to_string(), c.split('/').nth(1)?.trim().parse().ok()?)))
                .collect(),
            false => Default::default(),
        };
        let mut queues = Vec::new();
        for line in String::from_utf8_lossy(&parts.stdout).lines() {
            let kv = key_values(line);
            let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
            let Some(name) = get("PartitionName") else { continue };
            let native = get("State").unwrap_or("");
            let state = match native {
                "UP" => QueueState::Up,
                "DRAIN" => QueueState::Drained,
                "INACTIVE" => QueueState::Inactive,
                _ => QueueState::Down,
            };
            let mut q = QueueInfo::new(name, state, native);
            q.default = get("Default") == Some("YES");
            q.max_walltime = get("MaxTime").and_then(limit_seconds);
            q.nodes = get("TotalNodes").and_then(|n| n.parse().ok());
            q.slots = get("TotalCPUs").and_then(|n| n.parse().ok());
            q.slots_free = idle.get(name).copied();
            q.max_memory_mb = get("MaxMemPerNode").and_then(|m| m.parse().ok());
            q.details = kv.into_iter().filter(|(k, _)| k != "PartitionName").collect();
            queues.push(q);
        }
        Ok(queues)
    }
}

impl StateQueries for Slurm {
    /// `squeue -h -t all -o %i|%T|%r -j IDS`; one id is given twice, for
    /// squeue fails on a single id it does not know but not on a list.
    fn queue_argv(&self, jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        let mut ids = jids.join(",");
        if jids.len() == 1 {
            ids = format!("{ids},{ids}");
        }
        Some(argv(&self.squeue, &["-h", "-t", "all", "-o", "%i|%T|%r", "-j", &ids]))
    }

    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        if !out.success() {
            return Err(query_failed(argv, out));
        }
        Ok(parse_lines(&String::from_utf8_lossy(&out.stdout), Source::Queue, false))
    }

    /// `sacct -n -P -X -o JobID,State,ExitCode,Reason,JobIDRaw -j IDS`: the
    /// tasks of an array job by their JobID (`12_3`), other jobs by JobIDRaw.
    fn accounting_argvs(&self, jids: &[&str]) -> Vec<Vec<String>> {
        vec![argv(
            &self.sacct,
            &[
                "-n",
                "-P",
                "-X",
                "-o",
                "JobID,State,ExitCode,Reason,JobIDRaw",
                "-j",
                &jids.join(","),
            ],
        )]
    }

    fn parse_accounting(&self, out: &Outcome, argv: &[String]) -> Answer {
        if !out.success() {
            return Err(query_failed(argv, out));
        }
        Ok(parse_lines(
            &String::from_utf8_lossy(&out.stdout),
            Source::Accounting,
            true,
        ))
    }
}

// ---- Foreign directives: `#SBATCH` lines read elsewhere ----

use crate::script::foreign::{self as fd, Conv, Foreign, Opt, Takes};

/// Conversion results of foreign options.
type Pairs = std::result::Result<Vec<(&'static str, String)>, String>;

/// `#SBATCH` options as generic directives, for a script sent to another
/// scheduler and for `troika sbatch`.
pub const FOREIGN: Foreign = Foreign {
    scheduler: "Slurm",
    prefix: "SBATCH",
    array_index: ARRAY_INDEX,
    shared: &[],
    options: &[
        Opt::to(&["-J", "--job-name"], "name"),
        Opt::func(&["-t", "--time"], fd::generic_walltime, "walltime, as `HH:MM:SS`"),
        Opt::func(
            &["-N", "--nodes"],
            nodes,
            "total_nodes (a range `2-4` is not translated)",
        ),
        Opt::to(&["-n", "--ntasks"], "total_tasks"),
        Opt::to(&["--ntasks-per-node"], "tasks_per_node"),
        Opt::to(&["-c", "--cpus-per-task"], "cpus_per_task"),
        Opt::func(
            &["--mem"],
            |v| fd::generic_memory("memory_per_node", v),
            "memory_per_node (a plain number is megabytes)",
        ),
        Opt::func(
            &["--mem-per-cpu"],
            |v| fd::generic_memory("memory_per_cpu", v),
            "memory_per_cpu (a plain number is megabytes)",
        ),
        Opt::to(&["-p", "--partition"], "partition"),
        Opt::to(&["-q", "--qos"], "queue"),
        Opt::to(&["-A", "--account"], "billing_account"),
        Opt::to(&["--mail-user"], "mail_user"),
        Opt::func(
            &["--mail-type"],
            foreign_mail_type,
            "mail_type: `NONE`, `BEGIN`, `END`, `FAIL` in lower case (`ALL` is `begin,end,fail`)",
        ),
        Opt::to(&["-D", "--chdir"], "working_dir"),
        Opt::func(
            &["--export"],
            foreign_export,
            "export_vars: `ALL` and `NONE` become `all` and `none`",
        ),
        Opt::flag(&["--exclusive"], "exclusive", "true"),
        Opt::flag(&["-H", "--hold"], "hold", "true"),
        Opt::new(&["-o", "--output"], Takes::Value, Conv::Output),
        Opt::to(&["-e", "--error"], "error_file"),
        Opt::func(
            &["-a", "--array"],
            |v| Ok(vec![("array", fd::check_array(v)?)]),
            "array",
        ),
        Opt::func(
            &["-d", "--dependency"],
            |v| Ok(vec![("depends_on", fd::check_depends(v)?)]),
            "depends_on (`afterok`, `afterany`, `afternotok`)",
        ),
        Opt::to(&["-G", "--gpus"], "total_gpus"),
        Opt::to(&["--gpus-per-node"], "gpus_per_node"),
        Opt::to(&["--gpus-per-task"], "gpus_per_task"),
    ],
    resources: &[],
};

fn nodes(v: &str) -> Pairs {
    fd::count(v, "the node count")?;
    Ok(vec![("total_nodes", v.trim().to_string())])
}

fn foreign_mail_type(v: &str) -> Pairs {
    let mut out = Vec::new();
    for item in v.split(',') {
        match item.trim().to_ascii_uppercase().as_str() {
            "ALL" => out.extend(["begin", "end", "fail"]),
            t @ ("NONE" | "BEGIN" | "END" | "FAIL") => out.push(match t {
                "NONE" => "none",
                "BEGIN" => "begin",
                "END" => "end",
                _ => "fail",
            }),
            other => return Err(format!("the mail type {} is not translated", quote(other))),
        }
    }
    Ok(vec![("mail_type", out.join(","))])
}

fn foreign_export(v: &str) -> Pairs {
    Ok(vec![(
        "export_vars",
        match v {
            "ALL" => "all".into(),
            "NONE" => "none".into(),
            other => other.into(),
        },
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbatch_output() {
        assert_eq!(
            parse_sbatch_output("Submitted batch job 1234\n").as_deref(),
            Some("1234")
        );
        assert_eq!(
            parse_sbatch_output("sbatch: warning: x\nSubmitted batch job 42\n").as_deref(),
            Some("42")
        );
        assert_eq!(parse_sbatch_output("12\n").as_deref(), Some("12"));
        assert_eq!(parse_sbatch_output("12;cluster\n").as_deref(), Some("12"));
        assert_eq!(parse_sbatch_output("Submitted batch job 0042\n").as_deref(), Some("42"));
        assert_eq!(parse_sbatch_output("Job submitted somewhere\n"), None);
        assert_eq!(parse_sbatch_output(""), None);
    }

    #[test]
    fn tagged_jobs_are_found_in_squeue_and_sacct_answers() {
        let slurm = Slurm {
            sbatch: vec!["sbatch".into()],
            squeue: vec!["squeue".into()],
            scancel: vec!["scancel".into()],
            sacct: vec!["sacct".into()],
            scontrol: vec!["scontrol".into()],
            sinfo: vec!["sinfo".into()],
        };
        let answer = |code: i32, stdout: &str, stderr: &str| Outcome {
            code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            ..Default::default()
        };
        let argv = vec!["squeue".to_string()];
        let text =
            "8904|troika-1ab6243cde19bcd806b5\n8905|\n8906|a comment|with a bar\n8907|troika-1ab6243cde19bcd806b5x\n";
        let found = slurm.parse_found(&answer(0, text, ""), &argv, "troika-1ab6243cde19bcd806b5");
        assert_eq!(found.unwrap(), ["8904"]);
        let down = answer(
            1,
            "",
            "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
        );
        let e = slurm.parse_found(&down, &argv, "t").unwrap_err();
        assert!(
            e.starts_with("squeue failed with exit code 1: slurm_load_jobs error: Unable"),
            "{e}"
        );
        // The queries: the user's jobs, then accounting since a minute before.
        let q = slurm.find_argvs(None, std::time::Duration::from_secs(30));
        assert_eq!(q[0], ["squeue", "-h", "-t", "all", "-o", "%i|%k", "--me"]);
        assert_eq!(q[1], ["sacct", "-n", "-X", "-P", "-o", "JobID,Comment", "-S", "now-90"]);
        let q = slurm.find_argvs(Some("bob"), std::time::Duration::from_secs(0));
        assert_eq!(&q[0][5..], ["%i|%k", "-u", "bob"]);
        assert_eq!(&q[1][7..], ["now-60", "-u", "bob"]);
        assert_eq!(slurm.tag_args("troika-1", b"").unwrap(), ["--comment=troika-1"]);
        // After the script's own comment, which is kept; found by its end.
        let script = b"#!/bin/bash\n#SBATCH --comment=\"nightly run\"\n#SBATCH -N 1\ntrue\n";
        assert_eq!(
            slurm.tag_args("troika-1", script).unwrap(),
            ["--comment=nightly run troika-1"]
        );
        let text = "8910|nightly run troika-1ab6243cde19bcd806b5\n8911|nightlytroika-1ab6243cde19bcd806b5\n";
        let found = slurm.parse_found(&answer(0, text, ""), &argv, "troika-1ab6243cde19bcd806b5");
        assert_eq!(found.unwrap(), ["8910"]);
    }

    /// The comment of a script, as sbatch reads it.
    #[test]
    fn the_comment_of_a_script() {
        let c = |text: &str| script_comment(text.as_bytes());
        assert_eq!(c("#!/bin/sh\n#SBATCH --comment=plain\n"), Some("plain".into()));
        assert_eq!(c("#!/bin/sh\n#SBATCH -J x --comment 'a b' -N 1\n"), Some("a b".into()));
        assert_eq!(
            c("#!/bin/sh\n#SBATCH --comment=\"a b\"\n#SBATCH --comment=last\n"),
            Some("last".into())
        );
        assert_eq!(c("#!/bin/sh\n# a remark\n\n#SBATCH --comment=x\n"), Some("x".into()));
        // After the first command sbatch reads no directive.
        assert_eq!(c("#!/bin/sh\necho hi\n#SBATCH --comment=late\n"), None);
        assert_eq!(c("#!/bin/sh\n#SBATCH --commentary=x\n"), None);
        assert_eq!(c("#!/bin/sh\n#SBATCH --comment=\"\"\n"), Some(String::new()));
        assert_eq!(c(""), None);
    }

    /// The answers of the test cluster with slurmctld stopped, and one
    /// that lasts.
    #[test]
    fn controller_down_is_transient() {
        use crate::error::Reach;
        use crate::site::retry::{classify, Fault};
        let failed = |stderr: &str| Outcome {
            code: Some(1),
            stderr: stderr.as_bytes().to_vec(),
            ..Default::default()
        };
        for (stderr, fault) in [
            (
                "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)",
                Fault::Transient(Reach::NotStarted),
            ),
            (
                "slurm_load_jobs error: Unable to contact slurm controller (connect failure)",
                Fault::Transient(Reach::NotStarted),
            ),
            (
                "scancel: error: Kill job error on job id 1: Unable to contact slurm controller (connect failure)",
                Fault::Transient(Reach::NotStarted),
            ),
            (
                "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
                Fault::Transient(Reach::MaybeDone),
            ),
            (
                "sbatch: error: invalid partition specified: nosuch\nsbatch: error: Batch job submission failed: Invalid partition name specified",
                Fault::Permanent,
            ),
            ("slurm_load_jobs error: Invalid job id specified", Fault::Permanent),
        ] {
            assert_eq!(classify(&failed(stderr), FAULTS), fault, "{stderr}");
        }
    }

    /// Every row of the table through the real reader, as squeue
    /// (`ID|STATE|REASON`) and as sacct (`JobID|State|ExitCode|Reason|JobIDRaw`)
    /// print it.
    #[test]
    fn every_state_is_read() {
        let words = |n: &NativeState, exit: &str| match n.meaning.outcome {
            Some(o) => format!("{}/{}", n.meaning.state.as_str(), o.as_str()),
            None if n.meaning.state == State::Finished => match exit {
                "0:0" => "FINISHED/SUCCEEDED".to_string(),
                // squeue: no exit code.
                "" => "FINISHED/FAILED".to_string(),
                e if e.ends_with(":0") => "FINISHED/FAILED".to_string(),
                _ => "FINISHED/KILLED".to_string(),
            },
            None => n.meaning.state.as_str().to_string(),
        };
        let mut cases: Vec<(&str, String)> = Vec::new();
        let mut queue = String::new();
        let mut acct = String::new();
        for (i, n) in STATES.iter().enumerate() {
            queue.push_str(&format!("{}|{}|None\n", 100 + i, n.code));
            cases.push((n.code, words(n, "")));
        }
        for (i, n) in STATES.iter().enumerate() {
            let exit = if n.code == "FAILED" { "3:0" } else { "0:0" };
            acct.push_str(&format!("{0}|{1}|{exit}|None|{0}\n", 200 + i, n.code));
            cases.push((n.code, words(n, exit)));
        }
        // FAILED by a signal: `0:9`; CANCELLED as sacct says it.
        acct.push_str("300|FAILED|0:9|None|300\n300.batch|CANCELLED|0:9||300.batch\n");
        cases.push(("FAILED", "FINISHED/KILLED".into()));
        acct.push_str("301|CANCELLED by 1000|0:15|None|301\n");
        cases.push(("CANCELLED", "FINISHED/CANCELLED".into()));
        let mut got = parse_lines(&queue, Source::Queue, false);
        let from_acct = parse_lines(&acct, Source::Accounting, true);
        // The step line (without -X) is its own record: it never answers for the job.
        assert_eq!(from_acct.iter().filter(|s| s.job_id == "300.batch").count(), 1);
        got.extend(from_acct.into_iter().filter(|s| s.job_id != "300.batch"));
        let rows: Vec<(&str, &str)> = cases.iter().map(|(r, w)| (*r, w.as_str())).collect();
        crate::site::qsub::table_test::check(STATES, &rows, &got);
        for (i, s) in got.iter().enumerate() {
            let n = &STATES[i % STATES.len()];
            if i < 2 * STATES.len() {
                assert_eq!(s.native_state.as_deref(), Some(n.code));
                assert_eq!(s.reason, None, "None is no reason");
                assert_eq!(s.source, [Source::Queue, Source::Accounting][i / STATES.len()]);
            }
            if i < STATES.len() {
                assert_eq!((s.exit_code, s.signal), (None, None));
            }
        }
        let n = STATES.len();
        let failed = STATES.iter().position(|r| r.code == "FAILED").unwrap();
        assert_eq!((got[n + failed].exit_code, got[n + failed].signal), (Some(3), None));
        let completed = STATES.iter().position(|r| r.code == "COMPLETED").unwrap();
        assert_eq!(got[n + completed].exit_code, Some(0));
        assert_eq!((got[2 * n].exit_code, got[2 * n].signal), (Some(0), Some(9)));
        assert_eq!(got[2 * n + 1].native_state.as_deref(), Some("CANCELLED by 1000"));
        assert_eq!(got[2 * n + 1].signal, Some(15));
        // A state troika does not know: UNKNOWN, the word kept.
        let odd = parse_lines("400|LAUNCHING|None\n", Source::Queue, false);
        assert_eq!(odd[0].state, State::Unknown);
        assert_eq!(odd[0].native_state.as_deref(), Some("LAUNCHING"));
        assert_eq!(odd[0].reason.as_deref(), Some("unknown Slurm state 'LAUNCHING'"));
    }

    /// PENDING is HELD for the reasons that keep a job from starting until
    /// something happens (a release, a dependency, a time), QUEUED for
    /// the others; the reason is kept.
    #[test]
    fn pending_reasons() {
        for (reason, words) in [
            ("JobHeldUser", "HELD"),
            ("JobHeldAdmin", "HELD"),
            ("JobHoldMaxRequeue", "HELD"),
            ("Dependency", "HELD"),
            ("DependencyNeverSatisfied", "HELD"),
            ("BeginTime", "HELD"),
            ("job requeued in held state", "HELD"),
            ("launch failed requeued held", "HELD"),
            ("Priority", "QUEUED"),
            ("Resources", "QUEUED"),
            ("QOSMaxJobsPerUserLimit", "QUEUED"),
            ("ReqNodeNotAvail, UnavailableNodes:vm", "QUEUED"),
        ] {
            for (line, source, exit) in [
                (format!("7|PENDING|{reason}"), Source::Queue, false),
                (format!("7|PENDING|0:0|{reason}|7"), Source::Accounting, true),
            ] {
                let s = parse_line(&line, source, exit).unwrap();
                assert_eq!(s.state_words(), words, "{line}");
                assert_eq!(s.reason.as_deref(), Some(reason), "{line}");
                assert_eq!(s.native_state.as_deref(), Some("PENDING"));
            }
        }
        // The reason of other states says nothing of a hold.
        let s = parse_line("8|RUNNING|JobHeldUser", Source::Queue, false).unwrap();
        assert_eq!(s.state, State::Running);
    }

    /// Answers as the test cluster printed them: `sbatch -H`, a suspended
    /// job (`scontrol suspend`), `scontrol hold` of a job waiting for its
    /// begin time, a dependency, exit 3, a batch shell killed by SIGKILL,
    /// `scontrol requeuehold` (plain and State=SpecialExit), `scontrol
    /// requeue`; then sacct of some of them (sacct gives the reason
    /// the job had when it ended, or BeginTime for the held one).
    #[test]
    fn answers_seen_on_a_real_cluster_are_read() {
        let squeue = "34938|FAILED|NonZeroExitCode\n34939|FAILED|JobLaunchFailure\n34937|PENDING|Dependency\n\
                      34936|PENDING|JobHeldAdmin\n34934|PENDING|JobHeldUser\n34940|RUNNING|None\n34935|SUSPENDED|None\n\
                      34935|COMPLETING|job requeued in held state\n34935|PENDING|job requeued in held state\n\
                      34946|SPECIAL_EXIT|job requeued in held state\n34941|PENDING|BeginTime\n34940|CANCELLED|None\n";
        let got: Vec<(String, String)> = parse_lines(squeue, Source::Queue, false)
            .iter()
            .map(|s| (s.job_id.clone(), s.state_words()))
            .collect();
        let want = [
            ("34938", "FINISHED/FAILED"),
            ("34939", "FINISHED/FAILED"),
            ("34937", "HELD"),
            ("34936", "HELD"),
            ("34934", "HELD"),
            ("34940", "RUNNING"),
            ("34935", "SUSPENDED"),
            ("34935", "COMPLETING"),
            ("34935", "HELD"),
            ("34946", "HELD"),
            ("34941", "HELD"),
            ("34940", "FINISHED/CANCELLED"),
        ];
        assert_eq!(got, want.map(|(i, w)| (i.to_string(), w.to_string())));
        let sacct = "34934|CANCELLED by 0|0:0|JobHeldUser|34934\n34935|RUNNING|0:0|None|34935\n\
                     34936|PENDING|0:0|BeginTime|34936\n34937|PENDING|0:0|Dependency|34937\n34938|FAILED|3:0|None|34938\n\
                     34939|FAILED|0:9|None|34939\n34940|CANCELLED by 0|0:0|Dependency|34940\n";
        let got: Vec<String> = parse_lines(sacct, Source::Accounting, true)
            .iter()
            .map(|s| {
                let words = s.state_words();
                format!("{} {words} {:?} {:?} {:?}", s.job_id, s.exit_code, s.signal, s.reason)
            })
            .collect();
        assert_eq!(
            got,
            [
                "34934 FINISHED/CANCELLED Some(0) None Some(\"JobHeldUser\")",
                "34935 RUNNING Some(0) None None",
                "34936 HELD Some(0) None Some(\"BeginTime\")",
                "34937 HELD Some(0) None Some(\"Dependency\")",
                "34938 FINISHED/FAILED Some(3) None None",
                "34939 FINISHED/KILLED Some(0) Some(9) None",
                "34940 FINISHED/CANCELLED Some(0) None Some(\"Dependency\")",
            ]
        );
        // An array's tasks by JobID (`12_3`), a heterogeneous job's
        // component by JobIDRaw.
        let s = parse_line("34950_2|COMPLETED|0:0|None|34952", Source::Accounting, true).unwrap();
        assert_eq!(
            (s.job_id.as_str(), s.task.as_ref().map(|t| t.id.as_str())),
            ("34950", Some("34950_2"))
        );
        let s = parse_line("34960+1|FAILED|2:0|None|34961", Source::Accounting, true).unwrap();
        assert_eq!((s.job_id.as_str(), s.exit_code), ("34961", Some(2)));
    }

    #[test]
    fn table_has_the_29_standard_directives() {
        // And hold, signal_before_end, array, depends_on.
        assert_eq!(TABLE.entries().count(), 33);
    }

    #[test]
    fn value_functions() {
        assert_eq!(exclusive(b"").unwrap(), vec![b"--exclusive".to_vec()]);
        assert_eq!(exclusive(b"no").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(exclusive(b"user").unwrap(), vec![b"--exclusive=user".to_vec()]);
        assert_eq!(
            mail_type(b"begin, end,all").unwrap(),
            vec![b"--mail-type=BEGIN,END,all".to_vec()]
        );
        assert_eq!(export_vars(b"none").unwrap(), vec![b"--export=NONE".to_vec()]);
        assert!(hyperthreading(b"").is_err());
    }
}
