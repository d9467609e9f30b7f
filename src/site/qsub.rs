//! The qsub family (PBS Pro / OpenPBS, Torque, Grid Engine): the commands
//! `qsub`, `qstat`, `qdel` and `qsig`, built once for all of them
//! ([`QScheduler`]), the directive values they write alike (mail letters,
//! exported variables), and how `qstat -f` tells job states (PBS, Torque).
//!
//! The last part also holds what the schedulers tested through emulators
//! (PBS, Torque, LSF, Flux) share to read their status queries: an answer
//! that complains only of jobs it does not know still speaks for the others
//! ([`answer_text`]), an id written another way than asked
//! ([`as_asked`]), a state word looked up in a table ([`queue_status`]).

use nix::sys::signal::Signal;

use super::batch::{
    argv, command_failed, default_check_job_id, query_failed, Job, KillCommand, Recovery, Scheduler, StateQueries,
    ToSubmit,
};
use super::queues::{limit_seconds, QueueInfo, QueueState};
use super::{CancelStatus, SiteSettings, Submission};
use crate::config::SiteConfig;
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::state::lookup;
use crate::job::{JobStatus, NativeState, Outcome as JobOutcome, Source};
use crate::script::translate::Entry;
use crate::util::quote;

/// The commands of the family: `qsub`, `qstat`, `qdel` and (PBS and Torque;
/// Grid Engine has none) `qsig`, each configurable.
pub struct QCommands {
    pub qsub: Vec<String>,
    pub qstat: Vec<String>,
    pub qdel: Vec<String>,
    pub qsig: Vec<String>,
    /// Releases a held job.
    pub qrls: Vec<String>,
}

/// The keys of [`QCommands`] with `qsig_command`.
pub const KEYS: &[&str] = &[
    "qsub_command",
    "qstat_command",
    "qdel_command",
    "qsig_command",
    "qrls_command",
];

impl QCommands {
    /// Reads `qsub_command`, `qstat_command`, `qdel_command`,
    /// `qrls_command` and, when `with_qsig`, `qsig_command`.
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
            qrls: config.command("qrls_command", &["qrls"])?,
        })
    }
}

#[cfg(test)]
impl QCommands {
    /// The commands by their plain names, for tests.
    pub fn plain() -> Self {
        let c = |name: &str| vec![name.to_string()];
        QCommands {
            qsub: c("qsub"),
            qstat: c("qstat"),
            qdel: c("qdel"),
            qsig: c("qsig"),
            qrls: c("qrls"),
        }
    }
}

/// What a scheduler of the qsub family does its own way. Every type that
/// implements it is a [`Scheduler`]: `qsub` with the script on standard
/// input (or its copy's path), `qstat [OPTIONS] ID`, `qdel ID` and `qsig -s
/// SIGNAL ID`. The methods named as [`Scheduler`]'s mean the same; job
/// states come from its own [`StateQueries`].
pub trait QScheduler: StateQueries + Recovery + super::queues::QueueQueries {
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

    /// `qrls ID`.
    fn release_argv(&self, job: &Job) -> Option<Vec<String>> {
        Some(argv(&self.q().qrls, &[job.jid]))
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

/// `-W depend=afterok:1:2,afterany:3` (PBS, Torque).
pub fn depend(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let groups = super::depends::parse(v)?;
    Ok(vec![
        format!("-W depend={}", super::depends::colon_lists(&groups)).into_bytes()
    ])
}

/// The `depends_on` row of PBS and Torque.
pub const DEPEND_ROW: Entry = Entry::func("depends_on", depend, "`-W depend=afterok:<id>:<id>,afterany:<id>`");

/// The rows every table of the family has, as troika 0.2.7 wrote them
/// (but the output and error files, which name array tasks each their own
/// way); each scheduler adds its own (`join_output_error`, `walltime`, ...).
fn hold(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "-h")
}

pub const ROWS: &[Entry] = &[
    Entry::format("billing_account", "-A %s"),
    Entry::func(
        "hold",
        hold,
        "`-h` if true (the job waits for `troika release`), nothing if false",
    ),
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
    Entry::format("priority", "-p %s"),
    Entry::format("queue", "-q %s"),
];

/// The `signal_before_end` row of PBS and Torque: an error.
pub const NO_SIGNAL_ROW: Entry = Entry::func(
    "signal_before_end",
    super::signals::no_signal_before_end,
    super::signals::NO_SIGNAL_BEFORE_END,
);

// ---- Job states ----

/// The standard output of a status query about several jobs. A query that
/// does not know some of them says so on standard error, exits with a
/// non-zero status and still answers for the others (`qstat: Unknown Job Id
/// 12.srv`, `Job <12> is not found`): when every line of its standard error
/// is such a complaint (`unknown_job`), the answer holds. Any other failure
/// is `Err`: the query cannot be trusted.
pub fn answer_text(
    out: &Outcome,
    argv: &[String],
    unknown_job: fn(&str) -> bool,
) -> std::result::Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut complaints = stderr.lines().filter(|l| !l.trim().is_empty()).peekable();
    if out.code.is_some() && complaints.peek().is_some() && complaints.all(unknown_job) {
        return Ok(stdout);
    }
    Err(query_failed(argv, out))
}

/// The ids asked in a status query: its arguments after the configured
/// command (`base`) and `options` options.
pub fn asked_ids<'a>(argv: &'a [String], base: &[String], options: usize) -> &'a [String] {
    argv.get(base.len() + options..).unwrap_or_default()
}

/// The arguments of a `qstat` of `jids` after `options`, with `-t` when an
/// array job (`12[]`) is asked: its subjobs too (PBS, Torque).
pub fn qstat_args<'a>(options: &[&'a str], jids: &[&'a str]) -> Vec<&'a str> {
    let subjobs = jids.iter().any(|j| j.contains("[]")).then_some("-t");
    options
        .iter()
        .copied()
        .chain(subjobs)
        .chain(jids.iter().copied())
        .collect()
}

/// The ids asked by a `qstat` of [`qstat_args`] with `options` options.
pub fn qstat_asked<'a>(argv: &'a [String], base: &[String], options: usize) -> &'a [String] {
    asked_ids(argv, base, options + usize::from(argv.iter().any(|a| a == "-t")))
}

/// A subjob (`12[3].server`) as a task of its array job (`12[].server`).
pub fn subjob_as_task(s: JobStatus) -> JobStatus {
    match super::array::split_task(&s.job_id) {
        Some((parent, index)) => s.of_task(&parent, &index),
        None => s,
    }
}

/// The statuses with their ids as they were asked: a scheduler may write an
/// id its own way (`12.server` for `12`, `ƒ2Lq` for `f2Lq`), `key` makes
/// both the same. Statuses of jobs that were not asked are dropped.
pub fn as_asked(found: Vec<JobStatus>, asked: &[String], key: impl Fn(&str) -> String) -> Vec<JobStatus> {
    found
        .into_iter()
        .filter_map(|mut s| {
            if !asked.contains(&s.job_id) {
                let k = key(&s.job_id);
                s.job_id = asked.iter().find(|a| key(a) == k)?.clone();
            }
            Some(s)
        })
        .collect()
}

/// The status of a job whose state word is `code`: its meaning in `table`,
/// or UNKNOWN (the word kept) when the table does not know it.
pub fn queue_status(id: &str, code: &str, table: &[NativeState], scheduler: &str) -> JobStatus {
    match lookup(table, code) {
        Some(m) => JobStatus::new(id, m, Source::Queue).native(code, None),
        None => JobStatus::unknown(id, format!("unknown {scheduler} state {}", quote(code))).native(code, None),
    }
}

/// The signal of an exit status above 128: a shell (or Flux's job shell)
/// reports a process killed by signal N as 128 + N.
pub fn shell_signal(code: i32) -> Option<i32> {
    (129..=192).contains(&code).then(|| code - 128)
}

/// `reason`, then `more`, joined with `; `.
pub fn add_reason(s: &mut JobStatus, more: Option<&str>) {
    let Some(more) = more.map(str::trim).filter(|m| !m.is_empty()) else {
        return;
    };
    s.reason = Some(match s.reason.take() {
        Some(r) => format!("{r}; {more}"),
        None => more.to_string(),
    });
}

/// One job of a `qstat -f` answer (PBS, Torque): `Job Id: ID`, then its
/// attributes as `    name = value` lines; a long value goes on over lines
/// that start with a tab.
#[derive(Debug, Default)]
pub struct QstatJob {
    pub id: String,
    attributes: Vec<(String, String)>,
}

impl QstatJob {
    /// The value of an attribute (`job_state`, `Exit_status`, `comment`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim())
    }
}

/// The jobs of a `qstat -f` answer.
pub fn parse_qstat_full(text: &str) -> Vec<QstatJob> {
    qstat_blocks(text, "Job Id:")
}

/// The blocks of a full `qstat` answer that start with `head` (`Job Id:`,
/// `Queue:`, `Server:`), each with its attributes.
fn qstat_blocks(text: &str, head: &str) -> Vec<QstatJob> {
    let mut jobs: Vec<QstatJob> = Vec::new();
    for line in text.lines() {
        if let Some(id) = line.strip_prefix(head) {
            jobs.push(QstatJob {
                id: id.trim().to_string(),
                attributes: vec![],
            });
            continue;
        }
        let Some(job) = jobs.last_mut() else { continue };
        if let Some(more) = line.strip_prefix('\t') {
            if let Some((_, value)) = job.attributes.last_mut() {
                value.push_str(more);
            }
        } else if let Some((name, value)) = line.trim_start().split_once(" = ") {
            job.attributes.push((name.trim().to_string(), value.to_string()));
        }
    }
    jobs
}

// ---- Queues (PBS, Torque) ----

/// The schedulers whose queues `qstat -Q -f` and `qstat -B -f` describe
/// (PBS, Torque): `impl QstatQueues for X {}` is their queue inquiry.
pub trait QstatQueues: QScheduler {}

impl<T: QstatQueues> super::queues::QueueQueries for T {
    fn queues_argvs(&self) -> Vec<Vec<String>> {
        qstat_queue_argvs(&self.q().qstat)
    }

    fn parse_queues(&self, answers: &[(Vec<String>, Outcome)]) -> std::result::Result<Vec<QueueInfo>, String> {
        parse_qstat_queues(answers)
    }
}

/// The queries of `troika queues` on PBS and Torque: `qstat -Q -f` (every
/// queue's attributes), then `qstat -B -f` (the server's, for
/// `default_queue`).
pub fn qstat_queue_argvs(qstat: &[String]) -> Vec<Vec<String>> {
    vec![argv(qstat, &["-Q", "-f"]), argv(qstat, &["-B", "-f"])]
}

/// The queues of the answers of [`qstat_queue_argvs`], as PBS Pro's and
/// Torque's qstat(1B) write them: `Queue: NAME` blocks of `name = value`
/// attributes. `enabled` (accepts jobs) and `started` (runs them) make the
/// state; `resources_max.walltime` and `resources_max.mem` the limits;
/// `resources_available.nodect` the nodes; `resources_available.ncpus`
/// less `resources_assigned.ncpus` the slots. The default queue is the
/// server's `default_queue`; a server that does not answer `-B` names none.
pub fn parse_qstat_queues(answers: &[(Vec<String>, Outcome)]) -> std::result::Result<Vec<QueueInfo>, String> {
    let [(argv0, queues), (_, server)] = answers else {
        return Err("no answer".into());
    };
    if !queues.success() {
        return Err(query_failed(argv0, queues));
    }
    let default = match server.success() {
        true => qstat_blocks(&String::from_utf8_lossy(&server.stdout), "Server:")
            .iter()
            .find_map(|s| s.get("default_queue").map(str::to_string)),
        false => None,
    };
    let count = |b: &QstatJob, k: &str| b.get(k).and_then(|n| n.parse::<u64>().ok());
    let mut out = Vec::new();
    for block in qstat_blocks(&String::from_utf8_lossy(&queues.stdout), "Queue:") {
        let yes = |k: &str| block.get(k).is_some_and(|v| v.eq_ignore_ascii_case("True"));
        let state = match (yes("enabled"), yes("started")) {
            (true, true) => QueueState::Up,
            (false, true) => QueueState::Drained,
            (true, false) => QueueState::Inactive,
            (false, false) => QueueState::Down,
        };
        let native = format!(
            "enabled={} started={}",
            block.get("enabled").unwrap_or("-"),
            block.get("started").unwrap_or("-")
        );
        let mut q = QueueInfo::new(block.id.clone(), state, native);
        q.default = default.as_deref() == Some(block.id.as_str());
        q.max_walltime = block.get("resources_max.walltime").and_then(pbs_seconds);
        q.max_memory_mb = block.get("resources_max.mem").and_then(pbs_size_mb);
        q.nodes = count(&block, "resources_available.nodect");
        q.slots = count(&block, "resources_available.ncpus");
        q.slots_free = q
            .slots
            .map(|n| n.saturating_sub(count(&block, "resources_assigned.ncpus").unwrap_or(0)));
        q.details = block
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.trim().to_string()))
            .collect();
        out.push(q);
    }
    Ok(out)
}

/// A PBS or Torque duration: `[[HH:]MM:]SS` (a bare number is seconds).
fn pbs_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.parse::<u64>() {
        Ok(secs) => Some(secs),
        Err(_) => limit_seconds(t),
    }
}

/// A PBS or Torque size (`4gb`, `512mb`, `1048576kb`, `100w`; a bare number
/// is bytes, a word 8 bytes, units multiples of 1024) in MiB, rounded down.
fn pbs_size_mb(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..digits].parse().ok()?;
    let (shift, unit) = match t[digits..].chars().next() {
        Some('k') => (10, &t[digits + 1..]),
        Some('m') => (20, &t[digits + 1..]),
        Some('g') => (30, &t[digits + 1..]),
        Some('t') => (40, &t[digits + 1..]),
        Some('p') => (50, &t[digits + 1..]),
        _ => (0, &t[digits..]),
    };
    let bytes = match unit {
        "" | "b" => n.checked_shl(shift)?,
        "w" => n.checked_shl(shift)?.checked_mul(8)?,
        _ => return None,
    };
    Some(bytes >> 20)
}

/// What PBS or Torque meant by a negative exit status: the server or the
/// MoM could not run the job, or ended it for a limit.
pub type ExecCode = (i32, &'static str, Option<JobOutcome>);

/// A finished job of PBS or Torque, told by its exit status (`attr`:
/// `Exit_status`, `exit_status`): 0 and above up to 255 is the script's exit
/// code; 256 + N is a signal N the server sent (qdel, qsig, a limit); a
/// negative status is one of `codes` (FAILED when it names no outcome); no
/// exit status at all: the job never ran (CANCELLED, deleted before it
/// started).
pub fn finish_by_exit_status(mut s: JobStatus, job: &QstatJob, attr: &str, codes: &[ExecCode]) -> JobStatus {
    let raw = job.get(attr);
    let status = raw.and_then(|v| v.parse::<i32>().ok());
    let comment = job.get("comment");
    match status {
        None => {
            s.outcome = Some(JobOutcome::Cancelled);
            s.reason = Some(match raw {
                Some(v) => format!("{attr} {}: not a number", quote(v)),
                None => format!("no {attr}: deleted before it ran"),
            });
            add_reason(&mut s, comment);
            s
        }
        Some(n) if n > 256 => {
            s.reason = Some(format!("{attr}={n}: signal {}", n - 256));
            add_reason(&mut s, comment);
            s.exit(None, Some(n - 256))
        }
        Some(n) if n >= 0 => {
            add_reason(&mut s, comment);
            s.exit(Some(n), None)
        }
        Some(n) => {
            let known = codes.iter().find(|(c, _, _)| *c == n);
            s.outcome = Some(known.and_then(|k| k.2).unwrap_or(JobOutcome::Failed));
            s.reason = Some(match known {
                Some((_, what, _)) => format!("{attr}={n}: {what}"),
                None => format!("{attr}={n}: the job could not run"),
            });
            add_reason(&mut s, comment);
            s.exit(Some(n), None)
        }
    }
}

/// The statuses of a `qstat -f` answer (PBS, Torque): `job_state` in
/// `table`, the `comment` as the reason, and for a finished job its exit
/// status ([`finish_by_exit_status`]).
pub fn parse_qstat_states(
    text: &str,
    table: &[NativeState],
    scheduler: &str,
    exit_attr: &str,
    codes: &[ExecCode],
) -> Vec<JobStatus> {
    parse_qstat_full(text)
        .into_iter()
        .map(|job| {
            let code = job.get("job_state").unwrap_or("");
            let s = queue_status(&job.id, code, table, scheduler);
            match s.state {
                crate::job::State::Finished => finish_by_exit_status(s, &job, exit_attr, codes),
                crate::job::State::Unknown => s,
                _ => {
                    let reason = job.get("comment");
                    s.native(code, reason)
                }
            }
        })
        .collect()
}

/// The sequence number of a PBS or Torque job id (`12` of `12.server`), to
/// match an id given short with the full one `qstat` writes.
pub fn sequence_number(id: &str) -> String {
    id.split('.').next().unwrap_or(id).to_string()
}

/// Whether a line of `qstat`'s standard error is about a job the server
/// does not know (`qstat: Unknown Job Id 12.srv`, Torque `qstat: Unknown
/// Job Id Error 12.srv`).
pub fn unknown_qstat_job(line: &str) -> bool {
    line.contains("Unknown Job Id")
}

/// What the tests of the schedulers' state tables share.
#[cfg(test)]
pub mod table_test {
    use crate::connection::Outcome;
    use crate::job::state::lookup;
    use crate::job::{JobStatus, NativeState};

    /// A command's answer: its exit status, standard output and error.
    pub fn answer(code: i32, stdout: &str, stderr: &str) -> Outcome {
        Outcome {
            code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
            ..Default::default()
        }
    }

    /// Checks `got`, the statuses read for `cases` (in order: the row of
    /// `table` each one exercises, and the `STATE/OUTCOME` expected), and
    /// that every row of `table` was exercised.
    pub fn check(table: &[NativeState], cases: &[(&str, &str)], got: &[JobStatus]) {
        assert_eq!(got.len(), cases.len(), "{got:#?}");
        for ((row, words), s) in cases.iter().zip(got) {
            let m = lookup(table, row).unwrap_or_else(|| panic!("no row {row:?}"));
            assert_eq!(s.state_words(), *words, "row {row:?}: {s:?}");
            assert_eq!(s.state, m.state, "row {row:?}");
            if m.outcome.is_some() {
                assert_eq!(s.outcome, m.outcome, "row {row:?}");
            }
            assert!(s.native_state.is_some(), "row {row:?}: no native state");
        }
        for n in table {
            assert!(
                cases.iter().any(|(row, _)| *row == n.code),
                "row {:?} is not tested",
                n.code
            );
        }
    }
}

// ---- Foreign directives: the options the family's qsub shares ----

use crate::script::foreign::{self as fd, Conv, Opt, Takes};

/// Conversion results of foreign options.
pub type Pairs = std::result::Result<Vec<(&'static str, String)>, String>;

/// The options every qsub of the family takes alike, read in a script sent
/// to another scheduler and by `troika qsub` (each scheduler's own options
/// come first).
pub const FOREIGN_SHARED: &[Opt] = &[
    Opt::to(&["-N"], "name"),
    Opt::to(&["-A"], "billing_account"),
    Opt::to(&["-e"], "error_file"),
    Opt::flag(&["-h"], "hold", "true"),
    Opt::to(&["-M"], "mail_user"),
    Opt::func(
        &["-m"],
        foreign_mail_letters,
        "mail_type: `b`, `e`, `a`, `n` become `begin`, `end`, `fail`, `none`",
    ),
    Opt::new(&["-o"], Takes::Value, Conv::Output),
    Opt::to(&["-q"], "queue"),
    Opt::flag(&["-V"], "export_vars", "all"),
    Opt::to(&["-v"], "export_vars"),
];

/// `-m` letters as generic mail types.
pub fn foreign_mail_letters(v: &str) -> Pairs {
    let mut out = Vec::new();
    for c in v.trim().chars() {
        out.push(match c {
            'b' => "begin",
            'e' => "end",
            'a' => "fail",
            'n' => "none",
            other => return Err(format!("the mail letter '{other}' is not translated")),
        });
    }
    Ok(vec![("mail_type", out.join(","))])
}

/// `-W depend=afterok:ID[:ID]...` (PBS and Torque) as `depends_on`; any
/// other `-W` attribute has no translation.
pub fn foreign_w(v: &str) -> Pairs {
    match v.split_once('=') {
        Some(("depend", d)) => Ok(vec![("depends_on", fd::check_depends(d)?)]),
        _ => Err("only `-W depend=...` is translated".into()),
    }
}

/// `-j oe`/`-j eo` (PBS, Torque) or `-j y` (Grid Engine) as
/// `join_output_error`; `-j n` is nothing.
pub fn foreign_join(v: &str) -> Pairs {
    match v.trim() {
        "oe" | "eo" | "y" | "yes" | "true" => Ok(vec![("join_output_error", "true".into())]),
        "n" | "no" | "false" => Ok(vec![]),
        other => Err(format!("the join {} is not translated", quote(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qstat_full_blocks_and_continued_values() {
        let text = "Job Id: 12.srv\n    Job_Name = a = b\n    job_state = H\n    comment = job held, too many \n\tfailed attempts to run\n\nJob Id: 13.srv\n    job_state = F\n    Exit_status = 0\n";
        let jobs = parse_qstat_full(text);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].id, "12.srv");
        assert_eq!(jobs[0].get("Job_Name"), Some("a = b"));
        assert_eq!(
            jobs[0].get("comment"),
            Some("job held, too many failed attempts to run")
        );
        assert_eq!(jobs[1].get("Exit_status"), Some("0"));
        assert_eq!(jobs[1].get("comment"), None);
        assert!(parse_qstat_full("garbage\n    job_state = R\n").is_empty());
    }

    /// `qstat -Q -f` and `qstat -B -f` as qstat(1B) of PBS Pro and Torque
    /// document them: one block per queue, the four states from `enabled`
    /// and `started`, limits in PBS's units.
    #[test]
    fn qstat_queue_blocks() {
        use table_test::answer;
        let queues = "Queue: workq\n    queue_type = Execution\n    total_jobs = 2\n    state_count = Transit:0 Queued:1 Held:0 Waiting:0 Running:1 Exiting:0 Begun:0\n    resources_max.walltime = 48:00:00\n    resources_max.mem = 4gb\n    resources_available.ncpus = 16\n    resources_available.nodect = 2\n    resources_assigned.ncpus = 4\n    enabled = True\n    started = True\n\n\
                      Queue: closing\n    queue_type = Execution\n    resources_max.walltime = 3600\n    resources_max.mem = 1048576kb\n    enabled = False\n    started = True\n\n\
                      Queue: paused\n    queue_type = Execution\n    enabled = True\n    started = False\n\n\
                      Queue: off\n    queue_type = Route\n    enabled = False\n    started = False\n";
        let server = "Server: srv\n    server_state = Active\n    default_queue = workq\n";
        let argvs = qstat_queue_argvs(&["qstat".to_string()]);
        assert_eq!(argvs[0], ["qstat", "-Q", "-f"]);
        assert_eq!(argvs[1], ["qstat", "-B", "-f"]);
        let answers = vec![
            (argvs[0].clone(), answer(0, queues, "")),
            (argvs[1].clone(), answer(0, server, "")),
        ];
        let q = parse_qstat_queues(&answers).unwrap();
        let names: Vec<(&str, &str)> = q.iter().map(|q| (q.name.as_str(), q.state.as_str())).collect();
        assert_eq!(
            names,
            [
                ("workq", "up"),
                ("closing", "drained"),
                ("paused", "inactive"),
                ("off", "down")
            ]
        );
        assert!(q[0].default && !q[1].default);
        assert_eq!(q[0].native_state, "enabled=True started=True");
        assert_eq!(q[0].max_walltime, Some(48 * 3600));
        assert_eq!(q[0].max_memory_mb, Some(4096));
        assert_eq!((q[0].nodes, q[0].slots, q[0].slots_free), (Some(2), Some(16), Some(12)));
        assert_eq!(q[1].max_walltime, Some(3600));
        assert_eq!(q[1].max_memory_mb, Some(1024));
        assert_eq!((q[2].max_walltime, q[2].slots), (None, None));
        assert!(q[3].details.contains(&("queue_type".into(), "Route".into())));
        // A server that does not answer -B names no default queue; one
        // that does not answer -Q fails with its words.
        let no_server = vec![answers[0].clone(), (argvs[1].clone(), answer(1, "", "no"))];
        assert!(parse_qstat_queues(&no_server).unwrap().iter().all(|q| !q.default));
        let down = vec![
            (
                argvs[0].clone(),
                answer(162, "", "qstat: cannot connect to server srv (errno=15010)"),
            ),
            answers[1].clone(),
        ];
        assert!(parse_qstat_queues(&down)
            .unwrap_err()
            .contains("cannot connect to server srv"));
        assert_eq!(pbs_size_mb("2048"), Some(0));
        assert_eq!(pbs_size_mb("2mw"), Some(16));
        assert_eq!(pbs_size_mb("1TB"), Some(1 << 20));
        assert_eq!(pbs_size_mb("4x"), None);
        assert_eq!(pbs_seconds("01:30"), Some(90));
    }

    #[test]
    fn answers_that_complain_only_of_unknown_jobs_hold() {
        let out = |code: Option<i32>, stdout: &str, stderr: &str| Outcome {
            code,
            stdout: stdout.into(),
            stderr: stderr.into(),
            ..Default::default()
        };
        let argv = vec!["/usr/bin/qstat".to_string(), "-f".into(), "1".into()];
        let ok = answer_text(
            &out(Some(153), "Job Id: 2.s\n", "qstat: Unknown Job Id 1.s\n"),
            &argv,
            unknown_qstat_job,
        );
        assert_eq!(ok.as_deref(), Ok("Job Id: 2.s\n"));
        let bad = answer_text(
            &out(Some(162), "", "qstat: cannot connect to server s (errno=15010)\n"),
            &argv,
            unknown_qstat_job,
        );
        assert_eq!(
            bad.unwrap_err(),
            "qstat failed with exit code 162: qstat: cannot connect to server s (errno=15010)"
        );
        // Silent failures and deaths by a signal are no answer either.
        assert!(answer_text(&out(Some(1), "", ""), &argv, unknown_qstat_job).is_err());
        let mut killed = out(None, "", "qstat: Unknown Job Id 1.s\n");
        killed.signal = Some(9);
        assert!(answer_text(&killed, &argv, unknown_qstat_job).is_err());
        assert_eq!(asked_ids(&argv, &argv[..1], 1), ["1"]);
        assert!(asked_ids(&argv, &argv, 2).is_empty());
    }

    #[test]
    fn ids_written_another_way_are_the_ones_asked() {
        let st = |id: &str| JobStatus::unknown(id, "x");
        let asked = vec!["12".to_string(), "13.srv".to_string()];
        let got = as_asked(vec![st("12.srv"), st("13.srv"), st("14.srv")], &asked, sequence_number);
        let ids: Vec<&str> = got.iter().map(|s| s.job_id.as_str()).collect();
        assert_eq!(ids, ["12", "13.srv"]);
        assert_eq!(shell_signal(137), Some(9));
        assert_eq!(shell_signal(128), None);
        assert_eq!(shell_signal(200), None);
    }

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
