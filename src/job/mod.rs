//! What became of jobs: the shared state model ([`state`]), the status
//! record a job writes about itself ([`record`]), the ledger of submissions
//! ([`ledger`]), and [`resolve`], the one flow that asks the queue, then the
//! status records, then accounting, for any number of jobs at once.

pub mod ledger;
pub mod record;
pub mod state;

use std::collections::HashMap;
use std::path::Path;

pub use state::{JobStatus, Meaning, NativeState, Outcome, Source, State};

use record::Record;

/// A job whose status is asked.
#[derive(Clone, Debug)]
pub struct Query<'a> {
    pub jid: &'a str,
    /// The job's output file, when known: its status record is beside it.
    pub output: Option<&'a Path>,
    /// When the job was submitted (seconds since the epoch), when known.
    pub submitted_at: Option<u64>,
    /// How troika's kill of the job ended, and when, when it killed it.
    pub killed: Option<(&'a str, u64)>,
}

/// The answer of a query about several jobs: what it says of each job it
/// knows, or why it cannot be trusted.
pub type Answer = std::result::Result<Vec<JobStatus>, String>;

/// The status records read at once (`None` for a file that is not there),
/// or why they could not be read.
pub type Records = std::result::Result<Vec<Option<Record>>, String>;

/// A query of several jobs by id.
pub type Ask<'a> = &'a dyn Fn(&[&str]) -> Answer;

/// Where [`resolve`] looks, in this order.
pub struct Sources<'a> {
    /// The scheduler's queue, asked once for all jobs.
    pub queue: Ask<'a>,
    /// The status records of these output files, read at once (`None`
    /// for a file that is not there), or why they could not be read.
    pub records: &'a dyn Fn(&[&Path]) -> Records,
    /// The scheduler's accounting, asked once for the jobs still unknown.
    pub accounting: Option<Ask<'a>>,
    /// How long a job may be missing from every source after its
    /// submission before it is VANISHED (until then it is SUBMITTED).
    pub grace_secs: u64,
}

/// The status of each job of `jobs`, in order: the queue first; for a job
/// the queue does not show, or shows finished without an exit code, its
/// status record, then accounting. A job in none of them is SUBMITTED
/// within the grace period after its submission, VANISHED after it, and
/// UNKNOWN when its submission time is not known. A failed query (the
/// queue, the records, accounting) makes the jobs it was asked about
/// UNKNOWN (with the reason), unless another source says how they ended.
pub fn resolve(jobs: &[Query], src: &Sources) -> Vec<JobStatus> {
    let ids: Vec<&str> = jobs.iter().map(|q| q.jid).collect();
    let (mut found, queue_failed) = index((src.queue)(&ids));

    // Status records of the jobs not settled by the queue.
    // Alive in the queue, or ended with its exit code. A job that is
    // completing may have written its end already: its record is read.
    // The queue shows the tasks of an array that wait or run, and those
    // that ended until the scheduler purges them one by one (Slurm's
    // MinJobAge): accounting has those that ended, so an array is never
    // settled by the queue alone.
    let settled = |s: Option<&JobStatus>| {
        s.is_some_and(|s| match s.state {
            _ if !s.tasks.is_empty() => false,
            State::Finished => s.exit_code.is_some(),
            State::Completing => false,
            _ => true,
        })
    };
    let want: Vec<usize> = (0..jobs.len())
        .filter(|&i| !settled(found.get(jobs[i].jid)) && jobs[i].output.is_some())
        .collect();
    let owned: Vec<std::path::PathBuf> = want
        .iter()
        .map(|&i| record::path_for(jobs[i].output.expect("filtered")))
        .collect();
    let paths: Vec<&Path> = owned.iter().map(|p| p.as_path()).collect();
    let mut records: HashMap<usize, Record> = HashMap::new();
    let mut records_failed: HashMap<usize, String> = HashMap::new();
    if !paths.is_empty() {
        match (src.records)(&paths) {
            Ok(read) => {
                for (i, r) in want.iter().zip(read) {
                    if let Some(r) = r {
                        records.insert(*i, r);
                    }
                }
            }
            Err(why) => records_failed.extend(want.iter().map(|&i| (i, why.clone()))),
        }
    }

    // Accounting for the jobs neither the queue nor a record settled. A
    // record of a failure does not settle it: the scheduler may know why
    // (TIMEOUT, OUT_OF_MEMORY, CANCELLED), where the record has a signal or
    // an exit code only.
    let ask: Vec<&str> = (0..jobs.len())
        .filter(|&i| {
            queue_failed.is_none()
                && !settled(found.get(jobs[i].jid))
                && !records.get(&i).is_some_and(|r| r.ended() && r.exit_code == Some(0))
        })
        .map(|i| jobs[i].jid)
        .collect();
    let (accounted, accounting_failed) = match (src.accounting, ask.is_empty()) {
        (Some(acct), false) => index(acct(&ask)),
        _ => (HashMap::new(), None),
    };

    let now = state::now();
    jobs.iter()
        .enumerate()
        .map(|(i, q)| {
            let mut queued = found.remove(q.jid);
            let record = records.get(&i);
            let mut accounted = accounted.get(q.jid).cloned();
            // The tasks the queue still shows, and those only accounting
            // has: one answer for the array, whichever source speaks.
            if let (Some(s), Some(a)) = (&queued, &accounted) {
                if !s.tasks.is_empty() {
                    let all = s.clone().with_tasks_of(a);
                    (queued, accounted) = (Some(all.clone()), Some(all));
                }
            }
            let ctx = Context {
                queue_failed: &queue_failed,
                records_failed: records_failed.get(&i),
                accounting_failed: &accounting_failed,
                has_accounting: src.accounting.is_some(),
                now,
                grace: src.grace_secs,
            };
            decide(q, queued, record, accounted.as_ref(), &ctx)
        })
        .collect()
}

/// The answers by job id, or why there are none. The tasks of an array job
/// are summed up under the array's id ([`JobStatus::of_tasks`]), and each
/// is also found under its own id (`4242_3`).
fn index(answer: Answer) -> (HashMap<String, JobStatus>, Option<String>) {
    let list = match answer {
        Ok(list) => list,
        Err(why) => return (HashMap::new(), Some(why)),
    };
    let mut found = HashMap::new();
    let mut arrays: Vec<(String, Vec<JobStatus>)> = Vec::new();
    for s in list {
        let Some(task) = &s.task else {
            found.insert(s.job_id.clone(), s);
            continue;
        };
        let mut own = s.clone();
        own.job_id = task.id.clone();
        own.task = None;
        found.insert(task.id.clone(), own);
        match arrays.iter_mut().find(|(id, _)| *id == s.job_id) {
            Some((_, tasks)) => tasks.push(s),
            None => arrays.push((s.job_id.clone(), vec![s])),
        }
    }
    // The tasks speak for the array, rather than a line of its own (PBS
    // `B`: some subjob began).
    for (id, tasks) in arrays {
        found.insert(id.clone(), JobStatus::of_tasks(&id, tasks));
    }
    (found, None)
}

/// What [`decide`] knows of the queries.
struct Context<'a> {
    queue_failed: &'a Option<String>,
    /// Why the job's status record could not be read.
    records_failed: Option<&'a String>,
    accounting_failed: &'a Option<String>,
    has_accounting: bool,
    now: u64,
    grace: u64,
}

fn decide(
    q: &Query,
    queued: Option<JobStatus>,
    record: Option<&Record>,
    accounted: Option<&JobStatus>,
    c: &Context,
) -> JobStatus {
    let (now, grace) = (c.now, c.grace);
    // The queue shows the job alive: that is its state (a job that wrote
    // its end while the scheduler cleans up has ended).
    let ended = record.is_some_and(Record::ended);
    if let Some(s) = &queued {
        if s.state != State::Finished && !(s.state == State::Completing && ended) {
            return s.clone();
        }
    }
    // The job's own record of its end.
    if let Some(r) = record.filter(|r| r.ended()) {
        // Ended by a signal, and the scheduler has not recorded the end
        // yet: why it ended (a time limit, a cancel) is still to come.
        let sched_alive = queued.as_ref().or(accounted).filter(|s| s.state != State::Finished);
        if let (Some(_), Some(sched)) = (r.signal, sched_alive) {
            let mut s = sched.clone();
            s.state = State::Completing;
            s.outcome = None;
            return s.exit(None, r.signal);
        }
        let mut s = JobStatus::new(
            q.jid,
            Meaning {
                state: State::Finished,
                outcome: None,
            },
            Source::StatusRecord,
        );
        // The scheduler's word is more precise than an exit code
        // (TIMEOUT, CANCELLED, OUT_OF_MEMORY): keep it.
        if let Some(sched) = queued.as_ref().or(accounted) {
            s.native_state = sched.native_state.clone();
            s.reason = sched.reason.clone();
            if !matches!(
                sched.outcome,
                None | Some(Outcome::Succeeded | Outcome::Failed | Outcome::Killed)
            ) {
                s.outcome = sched.outcome;
            }
        }
        return s.exit(r.exit_code, r.signal);
    }
    if let Some(why) = c.queue_failed {
        return JobStatus::unknown(q.jid, why.clone());
    }
    // The tasks of an ended array the queue still shows may not be all of
    // them: without accounting's word, how the array ended is not known.
    if let (None, Some(s), Some(why)) = (accounted, &queued, c.accounting_failed) {
        if !s.tasks.is_empty() {
            return JobStatus::unknown(
                q.jid,
                format!(
                    "the queue shows {} of its tasks, which may not be all; {why}",
                    s.tasks.len()
                ),
            );
        }
    }
    // Accounting knows the exit code the queue's last word lacks.
    if let Some(s) = accounted.cloned().or(queued) {
        return s;
    }
    if let Some(why) = c.accounting_failed {
        return JobStatus::unknown(q.jid, why.clone());
    }
    // The record may say how the job ended: no outcome without it.
    if let Some(why) = c.records_failed {
        return JobStatus::unknown(q.jid, format!("its status record could not be read: {why}"));
    }
    // troika killed it, and no source says more.
    if let Some((how, at)) = q.killed {
        let outcome = match how {
            "CANCELLED" => Some(Outcome::Cancelled),
            // TERMINATED: written by earlier versions.
            "KILLED" | "TERMINATED" => Some(Outcome::Killed),
            _ => None,
        };
        if let Some(outcome) = outcome {
            let mut s = JobStatus::new(
                q.jid,
                Meaning {
                    state: State::Finished,
                    outcome: Some(outcome),
                },
                Source::Inferred,
            );
            s.reason = Some(format!("troika kill at {}: {how}", state::iso_time(at)));
            return s;
        }
    }
    let started = record.and_then(|r| r.start);
    let nowhere = match (c.has_accounting, q.output.is_some()) {
        (true, true) => "not in the queue, no status record, not in accounting",
        (true, false) => "not in the queue, not in accounting (no output file known, so no status record)",
        (false, true) => "not in the queue, no status record",
        (false, false) => "not in the queue (no output file known, so no status record)",
    };
    match q.submitted_at {
        Some(t) if started.is_none() && now.saturating_sub(t) < grace => {
            let mut s = JobStatus::new(
                q.jid,
                Meaning {
                    state: State::Submitted,
                    outcome: None,
                },
                Source::Inferred,
            );
            s.reason = Some(format!("not seen yet, submitted {}s ago", now.saturating_sub(t)));
            s
        }
        // Started lately and gone from the queue without writing its end
        // (killed at its walltime, SIGKILL): accounting may not have it
        // yet (Grid Engine writes it after the job's end, slurmdbd a
        // moment later). Not an outcome until the grace has passed.
        _ if started.is_some_and(|st| now.saturating_sub(st) < grace) => JobStatus::unknown(
            q.jid,
            format!(
                "started at {}, ended without writing its end (killed?); {nowhere} yet: accounting may tell soon",
                state::iso_time(started.unwrap_or_default())
            ),
        ),
        // Without a submission time, a job not seen yet cannot be told
        // from one that vanished, unless its record says it started.
        None if started.is_none() => JobStatus::unknown(
            q.jid,
            format!("{nowhere}; no submission time known (no job ledger record, no .jid file), so it may not have shown yet"),
        ),
        _ => JobStatus::vanished(
            q.jid,
            match started {
                Some(t) => format!(
                    "started at {}, ended without writing its end (killed?); {nowhere}",
                    state::iso_time(t)
                ),
                None => nowhere.to_string(),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fin(jid: &str, native: &str, outcome: Option<Outcome>, exit: Option<i32>) -> JobStatus {
        JobStatus::new(jid, NativeState::finished("X", outcome, "").meaning, Source::Queue)
            .native(native, None)
            .exit(exit, None)
    }

    fn run(jobs: &[Query], queue: Answer, records: Vec<Option<Record>>, acct: Option<Answer>) -> Vec<JobStatus> {
        let asked = std::cell::RefCell::new(Vec::new());
        let q = |ids: &[&str]| {
            asked.borrow_mut().push(format!("queue {}", ids.join(",")));
            queue.clone()
        };
        let r = |paths: &[&Path]| {
            asked.borrow_mut().push(format!("records {}", paths.len()));
            Ok(records.clone())
        };
        let a = |ids: &[&str]| {
            asked.borrow_mut().push(format!("accounting {}", ids.join(",")));
            acct.clone().unwrap()
        };
        let src = Sources {
            queue: &q,
            records: &r,
            accounting: acct.as_ref().map(|_| &a as &dyn Fn(&[&str]) -> Answer),
            grace_secs: 60,
        };
        resolve(jobs, &src)
    }

    fn q<'a>(jid: &'a str, out: Option<&'a Path>, at: Option<u64>) -> Query<'a> {
        Query {
            jid,
            output: out,
            submitted_at: at,
            killed: None,
        }
    }

    #[test]
    fn the_queue_answers_first() {
        let running = JobStatus::new("1", NativeState::new("R", State::Running, "").meaning, Source::Queue);
        let got = run(&[q("1", None, None)], Ok(vec![running.clone()]), vec![], None);
        assert_eq!(got, vec![running]);
    }

    #[test]
    fn a_failed_query_is_unknown_never_an_outcome() {
        let out = Path::new("/o/x.1");
        let got = run(
            &[q("1", Some(out), None), q("2", None, Some(0))],
            Err("squeue failed with exit code 1: Socket timed out".into()),
            vec![None],
            Some(Ok(vec![])),
        );
        assert!(got.iter().all(|s| s.state == State::Unknown), "{got:?}");
        assert!(got[0].reason.as_deref().unwrap().contains("Socket timed out"));
        // Unless the job's own record says how it ended.
        let rec = Record::parse("start=1\nend=2\nexit=3\n");
        let got = run(&[q("1", Some(out), None)], Err("down".into()), vec![Some(rec)], None);
        assert_eq!(got[0].state_words(), "FINISHED/FAILED");
        assert_eq!(got[0].exit_code, Some(3));
        assert_eq!(got[0].source, Source::StatusRecord);
    }

    #[test]
    fn records_then_accounting_then_vanished() {
        let out = Path::new("/o/x.1");
        let acct = fin("2", "TIMEOUT", Some(Outcome::Timeout), Some(0));
        let got = run(
            &[q("1", Some(out), None), q("2", Some(out), None), q("3", None, Some(0))],
            Ok(vec![]),
            vec![Some(Record::parse("start=1\nend=2\nexit=0\n")), None],
            Some(Ok(vec![acct.clone()])),
        );
        assert_eq!(got[0].state_words(), "FINISHED/SUCCEEDED");
        assert_eq!(got[1], acct);
        assert_eq!(got[2].state_words(), "FINISHED/VANISHED");
        // Accounting that fails: UNKNOWN.
        let got = run(
            &[q("3", None, Some(0))],
            Ok(vec![]),
            vec![],
            Some(Err("sacct: slurmdbd down".into())),
        );
        assert_eq!(got[0].state, State::Unknown);
    }

    /// Task `index` of array 7, ended with `exit`.
    fn task(index: &str, exit: i32) -> JobStatus {
        let outcome = if exit == 0 { Outcome::Succeeded } else { Outcome::Failed };
        let mut t = fin(
            "7",
            if exit == 0 { "COMPLETED" } else { "FAILED" },
            Some(outcome),
            Some(exit),
        );
        t.task = Some(state::Task {
            index: index.into(),
            id: format!("7_{index}"),
        });
        t
    }

    /// An ended array whose first tasks the scheduler purged from its queue
    /// (Slurm's MinJobAge counts per task): the queue shows tasks 3 to 5,
    /// which all succeeded; accounting has the five and the failure of 2.
    #[test]
    fn an_ended_array_is_told_by_every_task_not_those_left_in_the_queue() {
        let shown = vec![task("3", 0), task("4", 0), task("5", 0)];
        let all: Vec<JobStatus> = [0, 3, 0, 0, 0]
            .iter()
            .enumerate()
            .map(|(i, &e)| task(&(i + 1).to_string(), e))
            .collect();
        let got = run(&[q("7", None, Some(0))], Ok(shown.clone()), vec![], Some(Ok(all)));
        assert_eq!(got[0].state_words(), "FINISHED/FAILED", "{got:?}");
        assert_eq!(got[0].exit_code, Some(3));
        assert_eq!(got[0].tasks.len(), 5, "{got:?}");
        assert_eq!(
            got[0].reason.as_deref(),
            Some("5 tasks: 4 FINISHED/SUCCEEDED, 1 FINISHED/FAILED")
        );
        // Accounting that fails: the queue's three tasks are no outcome.
        let got = run(
            &[q("7", None, Some(0))],
            Ok(shown.clone()),
            vec![],
            Some(Err("sacct: slurmdbd down".into())),
        );
        assert_eq!(got[0].state, State::Unknown, "{got:?}");
        assert!(got[0].reason.as_deref().unwrap().contains("3 of its tasks"), "{got:?}");
        // A site without accounting: the queue is all there is.
        let got = run(&[q("7", None, Some(0))], Ok(shown), vec![], None);
        assert_eq!(got[0].state_words(), "FINISHED/SUCCEEDED", "{got:?}");
        assert_eq!(got[0].tasks.len(), 3);
    }

    /// A record that started and has no end, for a job in no queue and no
    /// accounting: UNKNOWN while accounting may still be writing (the grace
    /// after its start), VANISHED after.
    #[test]
    fn a_started_job_without_end_waits_for_accounting_then_vanishes() {
        let out = Path::new("/o/x.1");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let lately = Record::parse(&format!("start={}\n", now - 5));
        let got = run(
            &[q("1", Some(out), Some(now - 70))],
            Ok(vec![]),
            vec![Some(lately)],
            Some(Ok(vec![])),
        );
        assert_eq!(got[0].state, State::Unknown, "{got:?}");
        assert!(
            got[0].reason.as_deref().unwrap().contains("accounting may tell soon"),
            "{got:?}"
        );
        let long_ago = Record::parse(&format!("start={}\n", now - 61));
        let got = run(
            &[q("1", Some(out), Some(now - 70))],
            Ok(vec![]),
            vec![Some(long_ago)],
            Some(Ok(vec![])),
        );
        assert_eq!(got[0].state_words(), "FINISHED/VANISHED", "{got:?}");
        assert!(got[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("ended without writing its end"));
    }

    #[test]
    fn a_job_troika_killed_and_nobody_knows_is_cancelled() {
        let mut job = q("5", None, Some(0));
        job.killed = Some(("CANCELLED", 100));
        let got = run(&[job], Ok(vec![]), vec![], Some(Ok(vec![])));
        assert_eq!(got[0].state_words(), "FINISHED/CANCELLED");
        assert_eq!(
            got[0].reason.as_deref(),
            Some("troika kill at 1970-01-01T00:01:40Z: CANCELLED")
        );
    }

    #[test]
    fn a_completing_job_that_wrote_its_end_has_finished() {
        let out = Path::new("/o/x.1");
        let zombie = JobStatus::new("1", NativeState::new("Z", State::Completing, "").meaning, Source::Queue);
        let rec = Record::parse("start=1\nend=2\nexit=0\n");
        let got = run(
            &[q("1", Some(out), None)],
            Ok(vec![zombie.clone()]),
            vec![Some(rec)],
            None,
        );
        assert_eq!(got[0].state_words(), "FINISHED/SUCCEEDED");
        let got = run(&[q("1", Some(out), None)], Ok(vec![zombie.clone()]), vec![None], None);
        assert_eq!(got[0], zombie);
    }

    #[test]
    fn a_recorded_failure_still_asks_accounting_why() {
        let out = Path::new("/o/x.1");
        let acct = fin("1", "TIMEOUT", Some(Outcome::Timeout), Some(0));
        let got = run(
            &[q("1", Some(out), None)],
            Ok(vec![]),
            vec![Some(Record::parse("start=1\nend=2\nsignal=TERM\n"))],
            Some(Ok(vec![acct])),
        );
        assert_eq!(got[0].state_words(), "FINISHED/TIMEOUT");
        assert_eq!((got[0].signal, got[0].source), (Some(15), Source::StatusRecord));
    }

    #[test]
    fn a_signal_the_scheduler_has_not_recorded_yet_is_completing() {
        let out = Path::new("/o/x.1");
        let running = JobStatus::new(
            "1",
            NativeState::new("R", State::Running, "").meaning,
            Source::Accounting,
        )
        .native("RUNNING", None);
        let got = run(
            &[q("1", Some(out), None)],
            Ok(vec![]),
            vec![Some(Record::parse("start=1\nend=2\nsignal=TERM\n"))],
            Some(Ok(vec![running])),
        );
        assert_eq!(got[0].state_words(), "COMPLETING");
        assert_eq!(
            (got[0].signal, got[0].native_state.as_deref()),
            (Some(15), Some("RUNNING"))
        );
    }

    #[test]
    fn a_recent_job_not_seen_yet_is_submitted() {
        let got = run(&[q("9", None, Some(state::now()))], Ok(vec![]), vec![], None);
        assert_eq!(got[0].state, State::Submitted);
    }

    #[test]
    fn the_scheduler_word_beats_an_exit_code() {
        let out = Path::new("/o/x.1");
        let queued = fin("1", "TIMEOUT", Some(Outcome::Timeout), None);
        let got = run(
            &[q("1", Some(out), None)],
            Ok(vec![queued]),
            vec![Some(Record::parse("start=1\nend=2\nsignal=TERM\n"))],
            None,
        );
        assert_eq!(got[0].state_words(), "FINISHED/TIMEOUT");
        assert_eq!(got[0].signal, Some(15));
        assert_eq!(got[0].native_state.as_deref(), Some("TIMEOUT"));
    }

    #[test]
    fn a_record_read_that_failed_is_unknown_never_vanished() {
        let out = Path::new("/o/x.1");
        let q_none = |_: &[&str]| -> Answer { Ok(vec![]) };
        let failed = |_: &[&Path]| -> Records {
            Err("tail failed with exit code 255: ssh: connect to host h: Connection refused".into())
        };
        let src = Sources {
            queue: &q_none,
            records: &failed,
            accounting: Some(&q_none),
            grace_secs: 60,
        };
        // Long after its submission, in no queue and not in accounting.
        let got = resolve(&[q("1", Some(out), Some(0)), q("2", None, Some(0))], &src);
        assert_eq!(got[0].state_words(), "UNKNOWN");
        assert_eq!(
            got[0].reason.as_deref(),
            Some("its status record could not be read: tail failed with exit code 255: ssh: connect to host h: Connection refused")
        );
        // A job without an output file had no record to read.
        assert_eq!(got[1].state_words(), "FINISHED/VANISHED");
        // Accounting still answers for a job whose record could not be read.
        let acct = fin("1", "COMPLETED", Some(Outcome::Succeeded), Some(0));
        let a = |_: &[&str]| -> Answer { Ok(vec![acct.clone()]) };
        let src = Sources {
            accounting: Some(&a),
            ..src
        };
        assert_eq!(resolve(&[q("1", Some(out), Some(0))], &src)[0], acct);
    }

    #[test]
    fn without_a_submission_time_a_missing_job_is_unknown() {
        let out = Path::new("/o/x.1");
        let got = run(&[q("1", Some(out), None)], Ok(vec![]), vec![None], Some(Ok(vec![])));
        assert_eq!(got[0].state_words(), "UNKNOWN");
        assert_eq!(
            got[0].reason.as_deref(),
            Some("not in the queue, no status record, not in accounting; no submission time known (no job ledger record, no .jid file), so it may not have shown yet")
        );
        // Its record says it started: it existed, and is gone.
        let got = run(
            &[q("1", Some(out), None)],
            Ok(vec![]),
            vec![Some(Record::parse("start=5\n"))],
            Some(Ok(vec![])),
        );
        assert_eq!(got[0].state_words(), "FINISHED/VANISHED");
        assert!(got[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("started at 1970-01-01T00:00:05Z"));
    }
}
