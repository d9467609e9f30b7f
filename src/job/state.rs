//! The job state model every scheduler shares: a normalised [`State`], an
//! [`Outcome`] once the job has finished, and the scheduler's own words kept
//! beside them ([`JobStatus`]). A query that failed is [`State::Unknown`]
//! with the reason, never an outcome.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The id is known, the scheduler has not shown the job yet.
    Submitted,
    Queued,
    /// Waiting and not eligible to start (held by a user or an
    /// administrator, or waiting for a dependency or a start time).
    Held,
    Running,
    Suspended,
    /// Ended, the scheduler is still cleaning up.
    Completing,
    /// Put back in the queue by the scheduler.
    Requeued,
    /// Final: see the [`Outcome`].
    Finished,
    /// The query failed, or said nothing that can be trusted.
    Unknown,
}

/// How a finished job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code 0.
    Succeeded,
    /// Exit code above 0.
    Failed,
    /// Ended by a signal.
    Killed,
    Cancelled,
    /// Ended at its time limit.
    Timeout,
    OutOfMemory,
    /// A node of the job failed (or did not boot).
    NodeFail,
    Preempted,
    /// Gone from the queue, and no record says how it ended.
    Vanished,
}

impl State {
    pub const ALL: [State; 9] = [
        State::Submitted,
        State::Queued,
        State::Held,
        State::Running,
        State::Suspended,
        State::Completing,
        State::Requeued,
        State::Finished,
        State::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Submitted => "SUBMITTED",
            State::Queued => "QUEUED",
            State::Held => "HELD",
            State::Running => "RUNNING",
            State::Suspended => "SUSPENDED",
            State::Completing => "COMPLETING",
            State::Requeued => "REQUEUED",
            State::Finished => "FINISHED",
            State::Unknown => "UNKNOWN",
        }
    }
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Succeeded,
        Outcome::Failed,
        Outcome::Killed,
        Outcome::Cancelled,
        Outcome::Timeout,
        Outcome::OutOfMemory,
        Outcome::NodeFail,
        Outcome::Preempted,
        Outcome::Vanished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "SUCCEEDED",
            Outcome::Failed => "FAILED",
            Outcome::Killed => "KILLED",
            Outcome::Cancelled => "CANCELLED",
            Outcome::Timeout => "TIMEOUT",
            Outcome::OutOfMemory => "OUT_OF_MEMORY",
            Outcome::NodeFail => "NODE_FAIL",
            Outcome::Preempted => "PREEMPTED",
            Outcome::Vanished => "VANISHED",
        }
    }

    /// The outcome of an exit code and signal, when nothing better is known.
    pub fn of_exit(exit_code: Option<i32>, signal: Option<i32>) -> Outcome {
        match (exit_code, signal) {
            (_, Some(s)) if s > 0 => Outcome::Killed,
            (Some(0), _) => Outcome::Succeeded,
            _ => Outcome::Failed,
        }
    }
}

/// What a state word of a scheduler means: the state and, for a final
/// one, the outcome (`None`: read from the exit code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meaning {
    pub state: State,
    pub outcome: Option<Outcome>,
}

/// One row of a scheduler's state table: a native code, what it means, and
/// a few words for the docs.
#[derive(Clone, Copy, Debug)]
pub struct NativeState {
    pub code: &'static str,
    pub meaning: Meaning,
    pub doc: &'static str,
}

impl NativeState {
    /// A row whose code means `state`.
    pub const fn new(code: &'static str, state: State, doc: &'static str) -> NativeState {
        NativeState {
            code,
            meaning: Meaning { state, outcome: None },
            doc,
        }
    }

    /// A row of a final code with its outcome (`None`: from the exit code).
    pub const fn finished(code: &'static str, outcome: Option<Outcome>, doc: &'static str) -> NativeState {
        NativeState {
            code,
            meaning: Meaning {
                state: State::Finished,
                outcome,
            },
            doc,
        }
    }
}

/// The meaning of `code` in `table`.
pub fn lookup(table: &[NativeState], code: &str) -> Option<Meaning> {
    table.iter().find(|n| n.code == code).map(|n| n.meaning)
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The scheduler's queue (`squeue`, `qstat`, `ps`, ...).
    Queue,
    /// The scheduler's accounting (`sacct`, `qacct`, ...).
    Accounting,
    /// The status record the job wrote itself.
    StatusRecord,
    /// Deduced: the job is in no record (VANISHED), or a query failed.
    Inferred,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Queue => "queue",
            Source::Accounting => "accounting",
            Source::StatusRecord => "status-record",
            Source::Inferred => "inferred",
        }
    }
}

/// What is known of a job: its normalised state, and the scheduler's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub job_id: String,
    pub state: State,
    pub outcome: Option<Outcome>,
    pub exit_code: Option<i32>,
    /// The number of the signal that ended the job.
    pub signal: Option<i32>,
    /// The scheduler's state word (`PENDING`, `qw`, `PEND`, ...).
    pub native_state: Option<String>,
    /// The scheduler's reason or comment, or why the state is UNKNOWN.
    pub reason: Option<String>,
    pub source: Source,
    /// When the answer was read, in seconds since the epoch.
    pub observed_at: u64,
    /// When this is one task of an array job (whose id is `job_id`): its
    /// index and its own id (`4242_3`).
    pub task: Option<Task>,
    /// The tasks of an array job, by index, when this status sums them up.
    pub tasks: Vec<JobStatus>,
}

/// What makes a status one task's: its index (`3`, or a range of tasks
/// still waiting, `4-9%2`) and the id the scheduler gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    pub index: String,
    pub id: String,
}

/// Which state of a task speaks for an array still alive: the first of
/// these that a task is in.
const ALIVE_ORDER: [State; 8] = [
    State::Running,
    State::Completing,
    State::Suspended,
    State::Requeued,
    State::Queued,
    State::Held,
    State::Submitted,
    State::Unknown,
];

/// How many tasks an index stands for (`3` one, `4-9:2` three).
fn task_count(index: &str) -> u64 {
    crate::site::array::Spec::parse(index.as_bytes())
        .map(|s| s.ranges.iter().map(|r| (r.end - r.start) / r.step + 1).sum())
        .unwrap_or(1)
}

/// The first number of an index, to order tasks.
fn first_index(index: &str) -> u64 {
    let digits: String = index.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(u64::MAX)
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl JobStatus {
    /// A status read from `source`.
    pub fn new(job_id: &str, meaning: Meaning, source: Source) -> JobStatus {
        JobStatus {
            job_id: job_id.to_string(),
            state: meaning.state,
            outcome: meaning.outcome,
            exit_code: None,
            signal: None,
            native_state: None,
            reason: None,
            source,
            observed_at: now(),
            task: None,
            tasks: Vec::new(),
        }
    }

    /// This status as that of task `index` of array job `parent` (its own
    /// id being the one it was read with).
    pub fn of_task(mut self, parent: &str, index: &str) -> JobStatus {
        let id = std::mem::replace(&mut self.job_id, parent.to_string());
        self.task = Some(Task {
            index: index.to_string(),
            id,
        });
        self
    }

    /// The status of array job `parent` from those of its tasks: alive while
    /// one task is (RUNNING when one runs, and so on); once all finished,
    /// SUCCEEDED when all did, else the outcome and exit code of the first
    /// task that did not. The reason counts the tasks in each state.
    pub fn of_tasks(parent: &str, mut tasks: Vec<JobStatus>) -> JobStatus {
        tasks.sort_by_key(|t| t.task.as_ref().map_or(u64::MAX, |t| first_index(&t.index)));
        let alive = ALIVE_ORDER.into_iter().find(|s| tasks.iter().any(|t| t.state == *s));
        let failed = tasks.iter().find(|t| t.outcome != Some(Outcome::Succeeded));
        let source = tasks.first().map_or(Source::Inferred, |t| t.source);
        let mut s = match alive {
            Some(state) => JobStatus::new(parent, Meaning { state, outcome: None }, source),
            None => {
                let mut s = JobStatus::new(
                    parent,
                    Meaning {
                        state: State::Finished,
                        outcome: Some(failed.and_then(|t| t.outcome).unwrap_or(Outcome::Succeeded)),
                    },
                    source,
                );
                match failed {
                    Some(t) => (s.exit_code, s.signal) = (t.exit_code, t.signal),
                    None => s.exit_code = Some(0),
                }
                s
            }
        };
        let mut counts: Vec<(String, u64)> = Vec::new();
        for t in &tasks {
            let n = task_count(t.task.as_ref().map_or("", |t| t.index.as_str()));
            let words = t.state_words();
            match counts.iter_mut().find(|(w, _)| *w == words) {
                Some(c) => c.1 += n,
                None => counts.push((words, n)),
            }
        }
        let total: u64 = counts.iter().map(|c| c.1).sum();
        let each: Vec<String> = counts.iter().map(|(w, n)| format!("{n} {w}")).collect();
        s.reason = Some(format!("{total} tasks: {}", each.join(", ")));
        s.tasks = tasks;
        s
    }

    /// Adds the tasks of `other` (accounting's) that this status (the
    /// queue's) does not show, or shows ended without an exit code, and
    /// sums the tasks up again.
    pub fn with_tasks_of(self, other: &JobStatus) -> JobStatus {
        let mut tasks = self.tasks;
        for t in &other.tasks {
            let index = t.task.as_ref().map(|t| &t.index);
            match tasks.iter_mut().find(|q| q.task.as_ref().map(|t| &t.index) == index) {
                Some(q) if q.state == State::Finished && q.exit_code.is_none() => *q = t.clone(),
                Some(_) => {}
                None => tasks.push(t.clone()),
            }
        }
        JobStatus::of_tasks(&self.job_id, tasks)
    }

    /// UNKNOWN, and why.
    pub fn unknown(job_id: &str, why: impl Into<String>) -> JobStatus {
        let mut s = JobStatus::new(
            job_id,
            Meaning {
                state: State::Unknown,
                outcome: None,
            },
            Source::Inferred,
        );
        s.reason = Some(why.into());
        s
    }

    /// FINISHED/VANISHED: in no queue and no record.
    pub fn vanished(job_id: &str, why: impl Into<String>) -> JobStatus {
        let mut s = JobStatus::new(
            job_id,
            Meaning {
                state: State::Finished,
                outcome: Some(Outcome::Vanished),
            },
            Source::Inferred,
        );
        s.reason = Some(why.into());
        s
    }

    pub fn native(mut self, state: &str, reason: Option<&str>) -> JobStatus {
        self.native_state = Some(state.to_string());
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            self.reason = Some(r.to_string());
        }
        self
    }

    pub fn exit(mut self, exit_code: Option<i32>, signal: Option<i32>) -> JobStatus {
        self.exit_code = exit_code;
        self.signal = signal.filter(|s| *s > 0);
        if self.state == State::Finished && self.outcome.is_none() {
            self.outcome = Some(Outcome::of_exit(exit_code, self.signal));
        }
        self
    }

    /// `FINISHED/FAILED`, `RUNNING`.
    pub fn state_words(&self) -> String {
        match self.outcome {
            Some(o) => format!("{}/{}", self.state.as_str(), o.as_str()),
            None => self.state.as_str().to_string(),
        }
    }

    /// One human-readable line: `job.sh  4242  FINISHED/FAILED  exit 3
    /// (slurm FAILED, NonZeroExitCode; accounting)`.
    pub fn line(&self, script: &str, scheduler: &str) -> String {
        let mut s = format!("{script}  {}  {}", self.job_id, self.state_words());
        if let Some(code) = self.exit_code {
            let _ = write!(s, "  exit {code}");
        }
        if let Some(sig) = self.signal {
            let _ = write!(s, "  signal {}", signal_name(sig));
        }
        let mut words = Vec::new();
        if let Some(n) = &self.native_state {
            words.push(format!("{scheduler} {n}"));
        }
        if let Some(r) = &self.reason {
            words.push(r.clone());
        }
        let _ = write!(s, "  ({}; {})", words.join(", "), self.source.as_str());
        s.replace("(; ", "(")
    }

    /// The lines of an array job's tasks, after its own: `job.sh[3]  4242_3
    /// FINISHED/FAILED ...`.
    pub fn task_lines(&self, script: &str, scheduler: &str) -> Vec<String> {
        self.tasks
            .iter()
            .map(|t| {
                let (index, id) = t.task.as_ref().map_or(("", t.job_id.as_str()), |k| (&k.index, &k.id));
                let mut shown = t.clone();
                shown.job_id = id.to_string();
                shown.line(&format!("{script}[{index}]"), scheduler)
            })
            .collect()
    }

    /// One JSON object (one line), its keys in a fixed order.
    pub fn json(&self, script: &str, site: &str) -> String {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            script: &'a str,
            job_id: &'a str,
            site: &'a str,
            #[serde(flatten)]
            words: Words<'a>,
            observed_at: String,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            tasks: Vec<TaskLine<'a>>,
        }
        #[derive(serde::Serialize)]
        struct TaskLine<'a> {
            index: &'a str,
            job_id: &'a str,
            #[serde(flatten)]
            words: Words<'a>,
        }
        let tasks = self
            .tasks
            .iter()
            .map(|t| TaskLine {
                index: t.task.as_ref().map_or("", |k| k.index.as_str()),
                job_id: t.task.as_ref().map_or(t.job_id.as_str(), |k| k.id.as_str()),
                words: Words::of(t),
            })
            .collect();
        let line = Line {
            script,
            job_id: &self.job_id,
            site,
            words: Words::of(self),
            observed_at: iso_time(self.observed_at),
            tasks,
        };
        serde_json::to_string(&line).expect("a status is JSON")
    }
}

/// What a JSON line says of a job or a task: its state and the scheduler's words.
#[derive(serde::Serialize)]
struct Words<'a> {
    state: &'a str,
    outcome: Option<&'a str>,
    exit_code: Option<i32>,
    signal: Option<String>,
    native_state: Option<&'a str>,
    reason: Option<&'a str>,
    source: &'a str,
}

impl<'a> Words<'a> {
    fn of(s: &'a JobStatus) -> Words<'a> {
        Words {
            state: s.state.as_str(),
            outcome: s.outcome.map(Outcome::as_str),
            exit_code: s.exit_code,
            signal: s.signal.map(signal_name),
            native_state: s.native_state.as_deref(),
            reason: s.reason.as_deref(),
            source: s.source.as_str(),
        }
    }
}

/// `SIGTERM` for 15, the number as text when it names no signal.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| sig.to_string())
}

/// A signal number from `TERM`, `SIGTERM` or `15`.
pub fn signal_number(word: &str) -> Option<i32> {
    let w = word.trim();
    if let Ok(n) = w.parse::<i32>() {
        return (n > 0).then_some(n);
    }
    let name = if w.starts_with("SIG") {
        w.to_string()
    } else {
        format!("SIG{w}")
    };
    name.parse::<nix::sys::signal::Signal>().ok().map(|s| s as i32)
}

/// `2026-12-03T16:10:35Z`.
pub fn iso_time(secs: u64) -> String {
    let t = libc::time_t::try_from(secs).unwrap_or(libc::time_t::MAX);
    // SAFETY: gmtime_r only writes into the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::gmtime_r(&t, &mut tm).is_null() } {
        return "1970-01-01T00:00:00Z".to_string();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_796_314_235), "2026-12-03T16:10:35Z");
        assert_eq!(iso_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("NOPE"), None);
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(99), "99");
    }

    #[test]
    fn outcome_from_exit() {
        let f = |c, s| {
            JobStatus::new("1", NativeState::finished("X", None, "").meaning, Source::Queue)
                .exit(c, s)
                .outcome
        };
        assert_eq!(f(Some(0), None), Some(Outcome::Succeeded));
        assert_eq!(f(Some(3), None), Some(Outcome::Failed));
        assert_eq!(f(Some(0), Some(9)), Some(Outcome::Killed));
        assert_eq!(f(None, None), Some(Outcome::Failed));
    }

    #[test]
    fn lines_and_json() {
        let s = JobStatus::new("4242", NativeState::finished("F", None, "").meaning, Source::Accounting)
            .native("FAILED", Some("NonZeroExitCode"))
            .exit(Some(3), None);
        assert_eq!(
            s.line("forecast.sh", "slurm"),
            "forecast.sh  4242  FINISHED/FAILED  exit 3  (slurm FAILED, NonZeroExitCode; accounting)"
        );
        let v: serde_json::Value = serde_json::from_str(&s.json("forecast.sh", "hpc")).unwrap();
        assert_eq!(v["state"], "FINISHED");
        assert_eq!(v["outcome"], "FAILED");
        assert_eq!(v["exit_code"], 3);
        assert_eq!(v["signal"], serde_json::Value::Null);
        assert_eq!(v["source"], "accounting");
        let u = JobStatus::unknown("7", "squeue failed with exit code 1: Socket timed out");
        assert_eq!(
            u.line("j.sh", "slurm"),
            "j.sh  7  UNKNOWN  (squeue failed with exit code 1: Socket timed out; inferred)"
        );
    }
}
