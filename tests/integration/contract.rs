//! One contract, every emulated scheduler: the same scenarios run against
//! PBS, Torque, LSF and Flux, each described by a row of [`SCHEDULERS`].
//!
//! These run against emulators built from the schedulers' documented output
//! (tests/emulators/), not against the real systems: they check what troika
//! sends and how it reads the documented answers. Where a scheduler's
//! behaviour differs from the others, the row says so.
//!
//! The scenarios: a failed submission (the command exits 1 with a message:
//! troika exits 1 and shows it); an unparseable job id (exit 1, the message
//! says the job may have been submitted, no `.jid`); a kill of a job the
//! scheduler no longer knows; a kill sequence on a running job (the signals
//! in order); a kill sequence on a job that does not run (the fallback).

use std::time::Duration;

use crate::common::{emulator_dir, wait_until, Case};

/// A command and its arguments for (signal, job id).
type SignalCall = (&'static str, fn(&str, &str) -> Vec<String>);
/// A command and its arguments for a job id.
type JobCall = (&'static str, fn(&str) -> Vec<String>);

/// How one scheduler is driven and what troika is expected to do with it.
struct Scheduler {
    /// The site type, also the site's name.
    site: &'static str,
    /// PBS: its emulator keeps its own server state and cannot be told to
    /// fail; fakes in `bin/` record each call and apply the injected
    /// failures, then run the emulator.
    wrapped: &'static [&'static str],
    /// The name under which a failure or an answer of the submission is injected.
    submit: &'static str,
    /// A job id the scheduler does not know.
    unknown_job: &'static str,
    /// A line that keeps a submitted job from running (PBS runs jobs at once).
    hold_line: &'static str,
    /// What troika says before the submission command's own message.
    submit_failed: &'static str,
    /// Makes the submitted job run.
    make_running: fn(&Case, &str),
    /// The command that receives signals, and its arguments for a signal.
    signal: SignalCall,
    /// The signal names troika passes for SIGTERM then SIGKILL.
    signal_names: [&'static str; 2],
    /// The command and arguments that delete a job that does not run, when
    /// troika falls back to it; None when the signals themselves end it.
    delete: Option<JobCall>,
    /// The cancel status of a kill sequence on a job that does not run.
    not_running_status: &'static str,
}

fn v(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| s.to_string()).collect()
}

const SCHEDULERS: &[Scheduler] = &[
    Scheduler {
        site: "pbs",
        wrapped: &["qsub", "qstat", "qdel", "qsig"],
        submit: "qsub",
        unknown_job: "99.pbs-emu",
        hold_line: "#PBS -h\n",
        // Without the scheduler's name, unlike the others.
        submit_failed: "Submission failed with exit code 1: ",
        make_running: |c, jid| {
            wait_until(&format!("job {jid} running"), Duration::from_secs(30), || {
                crate::pbs::attribute(c, jid, "job_state").as_deref() == Some("R")
            })
        },
        // Signal numbers, which qsig takes as well as names.
        signal: ("qsig", |sig, jid| v(&["-s", sig, jid])),
        signal_names: ["15", "9"],
        delete: Some(("qdel", |jid| v(&[jid]))),
        not_running_status: "CANCELLED",
    },
    Scheduler {
        site: "torque",
        wrapped: &[],
        submit: "qsub",
        unknown_job: "5.torque-emu",
        hold_line: "",
        submit_failed: "Torque submission failed with exit code 1: ",
        make_running: |c, jid| c.set_job_state(jid, "R"),
        signal: ("qsig", |sig, jid| v(&["-s", sig, jid])),
        signal_names: ["SIGTERM", "SIGKILL"],
        delete: Some(("qdel", |jid| v(&[jid]))),
        not_running_status: "CANCELLED",
    },
    Scheduler {
        site: "lsf",
        wrapped: &[],
        submit: "bsub",
        unknown_job: "77",
        hold_line: "",
        submit_failed: "LSF submission failed with exit code 1: ",
        make_running: |c, jid| c.set_job_state(jid, "RUN"),
        // `bkill -l` names: no SIG prefix.
        signal: ("bkill", |sig, jid| v(&["-s", sig, jid])),
        signal_names: ["TERM", "KILL"],
        // bkill -s TERM ends a pending job (LSF signals pending jobs by
        // ending them for TERM, INT and KILL): the sequence runs to its end,
        // the job is found finished and reported TERMINATED, no fallback.
        delete: None,
        not_running_status: "TERMINATED",
    },
    Scheduler {
        site: "flux",
        wrapped: &[],
        submit: "flux-batch",
        unknown_job: "fGone",
        hold_line: "",
        submit_failed: "Flux submission failed with exit code 1: ",
        make_running: |c, jid| c.set_job_state(flux_key(jid), "RUNNING"),
        signal: ("flux", |sig, jid| v(&["job", "kill", "-s", sig, jid])),
        signal_names: ["SIGTERM", "SIGKILL"],
        delete: Some(("flux", |jid| v(&["cancel", jid]))),
        not_running_status: "CANCELLED",
    },
];

/// The Flux emulator keeps a job under its id without the `ƒ`.
fn flux_key(jid: &str) -> &str {
    jid.trim_start_matches('ƒ')
}

impl Scheduler {
    /// A case with this scheduler's emulators and a site named after it,
    /// with `site_extra` settings (edition 2026: kills of vanished and
    /// queued jobs).
    fn case(&self, tag: &str, site_extra: &str) -> Case {
        let tag = format!("contract-{}-{tag}", self.site);
        let mut c = if self.wrapped.is_empty() {
            Case::emulated(self.site)
        } else {
            Case::new(&tag)
        };
        for cmd in self.wrapped {
            let emulator = emulator_dir(&format!("{}/{cmd}", self.site));
            c = c.fake(cmd, &format!("exec '{}' \"$@\"", emulator.display()));
        }
        if self.site == "pbs" {
            c = crate::pbs::server(c);
        }
        c.config(&format!(
            "edition: 2026\nsites:\n  {0}:\n    type: {0}\n    connection: local\n{site_extra}",
            self.site
        ))
    }

    /// Submits `job.sh` (a job that runs until killed, held when asked);
    /// returns the job id.
    fn submit(&self, c: &Case, held: bool) -> String {
        let hold = if held { self.hold_line } else { "" };
        c.write_exec(
            "job.sh",
            format!("#!/bin/sh\n{hold}trap '' TERM\nwhile :; do sleep 0.1; done\n"),
        );
        c.troika(&["submit", self.site, &c.s("job.sh"), "-o", &c.s("job.out")])
            .expect_code(0);
        c.read("job.sh.jid").trim().to_string()
    }

    /// The calls that sent signals, in order.
    fn signal_calls(&self, c: &Case) -> Vec<Vec<String>> {
        let (cmd, _) = self.signal;
        c.calls(cmd)
            .into_iter()
            .filter(|a| a.iter().any(|w| w == "-s"))
            .collect()
    }
}

#[test]
fn failed_submission_exits_1_and_shows_the_message() {
    for s in SCHEDULERS {
        let c = s.case("fail", "");
        c.write_exec("job.sh", "#!/bin/sh\necho x\n");
        c.fail(s.submit, 1, "submission refused: over quota");
        c.troika(&["submit", s.site, &c.s("job.sh"), "-o", &c.s("job.out")])
            .expect_code(1)
            .stderr_contains(&format!("{}submission refused: over quota", s.submit_failed));
        assert!(!c.exists("job.sh.jid"), "{}: a job id without a job", s.site);
    }
}

#[test]
fn unparseable_job_id_exits_1_and_says_the_job_may_exist() {
    for s in SCHEDULERS {
        let c = s.case("garbage", "");
        c.write_exec("job.sh", "#!/bin/sh\necho x\n");
        c.answer(s.submit, "accepted, more or less\n");
        c.troika(&["submit", s.site, &c.s("job.sh"), "-o", &c.s("job.out")])
            .expect_code(1)
            .stderr_contains("Could not parse the job id")
            .stderr_contains("'accepted, more or less'")
            .stderr_contains("the job may have been submitted");
        assert!(!c.exists("job.sh.jid"), "{}: a job id without a job", s.site);
    }
}

#[test]
fn kill_of_a_gone_job_is_vanished() {
    for s in SCHEDULERS {
        for extra in ["", "    kill_sequence: [[0, SIGTERM], [0, SIGKILL]]\n"] {
            let c = s.case("gone", extra);
            c.write_exec("job.sh", "#!/bin/sh\necho x\n");
            let run = c.troika(&["-vv", "kill", s.site, &c.s("job.sh"), "-j", s.unknown_job]);
            run.expect_code(0);
            assert_eq!(
                run.cancel_status().as_deref(),
                Some("VANISHED"),
                "{} {extra:?}\n{}",
                s.site,
                run.stderr
            );
        }
    }
}

#[test]
fn kill_sequence_sends_the_signals_in_order() {
    for s in SCHEDULERS {
        let c = s.case("sequence", "    kill_sequence: [[0, SIGTERM], [0.5, SIGKILL]]\n");
        let jid = s.submit(&c, false);
        (s.make_running)(&c, &jid);
        let run = c.troika(&["-vv", "kill", s.site, &c.s("job.sh")]);
        run.expect_code(0);
        let (_, args) = s.signal;
        assert_eq!(
            s.signal_calls(&c),
            vec![args(s.signal_names[0], &jid), args(s.signal_names[1], &jid)],
            "{}\n{}",
            s.site,
            run.stderr
        );
        assert_eq!(
            run.cancel_status().as_deref(),
            Some("KILLED"),
            "{}\n{}",
            s.site,
            run.stderr
        );
    }
}

#[test]
fn kill_sequence_of_a_job_that_does_not_run_deletes_it() {
    for s in SCHEDULERS {
        let c = s.case("queued", "    kill_sequence: [[0, SIGTERM], [3, SIGKILL]]\n");
        let jid = s.submit(&c, true);
        let start = std::time::Instant::now();
        let run = c.troika(&["-vv", "kill", s.site, &c.s("job.sh")]);
        run.expect_code(0);
        if let Some((cmd, args)) = s.delete {
            assert!(
                start.elapsed() < Duration::from_secs(3),
                "{}: no wait for a job that does not run\n{}",
                s.site,
                run.stderr
            );
            assert!(
                c.calls(cmd).contains(&args(&jid)),
                "{}: no {cmd} {:?} in {:?}\n{}",
                s.site,
                args(&jid),
                c.calls(cmd),
                run.stderr
            );
        } else {
            let (_, args) = s.signal;
            assert_eq!(
                s.signal_calls(&c),
                vec![args(s.signal_names[0], &jid), args(s.signal_names[1], &jid)],
                "{}\n{}",
                s.site,
                run.stderr
            );
        }
        assert_eq!(
            run.cancel_status().as_deref(),
            Some(s.not_running_status),
            "{}\n{}",
            s.site,
            run.stderr
        );
    }
}
