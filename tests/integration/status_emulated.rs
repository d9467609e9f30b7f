//! `troika status` on PBS, Torque, LSF and Flux. No server of these
//! schedulers can run on the development machines: these tests use the
//! emulators of tests/emulators/, built from the schedulers' documented
//! output, not the real systems. They check the query troika sends and what
//! it makes of the documented answers: every native state of each site
//! type's table, told by one query for all the jobs; a query that fails
//! (UNKNOWN, never an outcome); a job the scheduler does not know beside
//! others; jobs that really ran or were killed.

use std::time::Duration;

use serde_json::Value;

use crate::common::{emulator_dir, wait_until, Case, TroikaRun};

/// A job put in one native state, and what `status` must say of it:
/// `WORD [FILE=TEXT;...] => STATE[/OUTCOME] NATIVE [EXIT SIGNAL]`: the
/// emulator's state word and the files of the job's state directory
/// (`exit_status`, `exit_reason`, ...), then what status says (`-` for no
/// exit code or no signal).
struct Native {
    word: String,
    files: Vec<(String, String)>,
    words: String,
    native: String,
    exit_code: Option<i64>,
    signal: Option<String>,
}

impl Native {
    fn parse(row: &str) -> Native {
        let (setup, said) = row.split_once(" => ").expect("WORD ... => ...");
        let (word, files) = setup.split_once(' ').unwrap_or((setup, ""));
        let files = files
            .split(';')
            .filter(|f| !f.is_empty())
            .map(|f| {
                let (name, text) = f.split_once('=').expect("FILE=TEXT");
                (name.to_string(), text.to_string())
            })
            .collect();
        let said: Vec<&str> = said.split_whitespace().collect();
        let given = |i: usize| said.get(i).filter(|w| **w != "-").map(|w| w.to_string());
        Native {
            word: word.to_string(),
            files,
            words: said[0].to_string(),
            native: said[1].to_string(),
            exit_code: given(2).map(|e| e.parse().unwrap()),
            signal: given(3),
        }
    }
}

/// One emulated scheduler.
struct Emulated {
    site: &'static str,
    /// The command of the status query, as the emulator records its calls.
    query: &'static str,
    /// The name under which a failure of the status query is injected.
    fail_as: &'static str,
    /// A documented failure of the status query: exit status and message.
    failure: (i32, &'static str),
    /// What keeps a submitted job from running (PBS runs jobs at once).
    hold: &'static str,
    /// A job id the scheduler does not know.
    unknown: &'static str,
    /// The emulator's directory of a job (under state/jobs/).
    key: fn(&str) -> String,
    /// Every row of the site type's state table, at least once (see [`Native`]).
    states: &'static [&'static str],
}

const PBS_STATES: &[&str] = &[
    "Q => QUEUED Q",
    "T => QUEUED T",
    "M => QUEUED M",
    "H => HELD H",
    "W => HELD W",
    "R => RUNNING R",
    "B => RUNNING B",
    "S => SUSPENDED S",
    "U => SUSPENDED U",
    "E => COMPLETING E",
    "F exit_status=0 => FINISHED/SUCCEEDED F 0",
    "F exit_status=3 => FINISHED/FAILED F 3",
    "F exit_status=271 => FINISHED/KILLED F - SIGTERM",
    "F exit_status=-1 => FINISHED/FAILED F -1",
    "X exit_status=265 => FINISHED/KILLED X - SIGKILL",
    "F => FINISHED/CANCELLED F",
    "F exit_status=-29 => FINISHED/TIMEOUT F -29",
    "F exit_status=-28 => FINISHED/TIMEOUT F -28",
    "F exit_status=-27 => FINISHED/OUT_OF_MEMORY F -27",
    "F exit_status=-26 => FINISHED/OUT_OF_MEMORY F -26",
    "F exit_status=-20 => FINISHED/NODE_FAIL F -20",
];

const TORQUE_STATES: &[&str] = &[
    "Q => QUEUED Q",
    "T => QUEUED T",
    "H => HELD H",
    "W => HELD W",
    "R => RUNNING R",
    "S => SUSPENDED S",
    "E => COMPLETING E",
    "C exit_status=0 => FINISHED/SUCCEEDED C 0",
    "C exit_status=2 => FINISHED/FAILED C 2",
    "C exit_status=271 => FINISHED/KILLED C - SIGTERM",
    "C exit_status=-9 => FINISHED/FAILED C -9",
    "C => FINISHED/CANCELLED C",
    "C exit_status=-11 => FINISHED/TIMEOUT C -11",
    "C exit_status=-12 => FINISHED/TIMEOUT C -12",
    "C exit_status=-10 => FINISHED/OUT_OF_MEMORY C -10",
];

const LSF_STATES: &[&str] = &[
    "PEND => QUEUED PEND",
    "PROV => QUEUED PROV",
    "WAIT => QUEUED WAIT",
    "PSUSP => HELD PSUSP",
    "RUN => RUNNING RUN",
    "USUSP => SUSPENDED USUSP",
    "SSUSP => SUSPENDED SSUSP",
    "UNKWN => UNKNOWN UNKWN",
    "ZOMBI => UNKNOWN ZOMBI",
    "DONE => FINISHED/SUCCEEDED DONE 0",
    "EXIT exit_code=3 => FINISHED/FAILED EXIT 3",
    "EXIT exit_code=137 => FINISHED/KILLED EXIT - SIGKILL",
    "EXIT exit_code=140;exit_reason=TERM_RUNLIMIT: job killed after reaching LSF run time limit. => FINISHED/TIMEOUT EXIT - SIGUSR2",
    "EXIT exit_code=152;exit_reason=TERM_CPULIMIT: job killed after reaching LSF CPU usage limit. => FINISHED/TIMEOUT EXIT - SIGXCPU",
    "EXIT exit_reason=TERM_DEADLINE: job killed after deadline expires. => FINISHED/TIMEOUT EXIT",
    "EXIT exit_code=137;exit_reason=TERM_MEMLIMIT: job killed after reaching LSF memory usage limit. => FINISHED/OUT_OF_MEMORY EXIT - SIGKILL",
    "EXIT exit_code=137;exit_reason=TERM_SWAP: job killed after reaching LSF swap usage limit. => FINISHED/OUT_OF_MEMORY EXIT - SIGKILL",
    "EXIT exit_code=130;exit_reason=TERM_OWNER: job killed by owner. => FINISHED/CANCELLED EXIT - SIGINT",
    "EXIT exit_code=137;exit_reason=TERM_FORCE_OWNER: job killed by owner without time for cleanup. => FINISHED/CANCELLED EXIT - SIGKILL",
    "EXIT exit_reason=TERM_ADMIN: job killed by root or LSF administrator. => FINISHED/CANCELLED EXIT",
    "EXIT exit_reason=TERM_FORCE_ADMIN: job killed by root or LSF administrator without time for cleanup. => FINISHED/CANCELLED EXIT",
    "EXIT exit_reason=TERM_BUCKET_KILL: job killed with bkill -b. => FINISHED/CANCELLED EXIT",
    "EXIT exit_code=143;exit_reason=TERM_PREEMPT: job killed after preemption. => FINISHED/PREEMPTED EXIT - SIGTERM",
];

const FLUX_STATES: &[&str] = &[
    "DEPEND => HELD D",
    "PRIORITY => QUEUED P",
    "SCHED => QUEUED S",
    "PENDING => QUEUED S",
    "RUNNING => RUNNING R",
    "CLEANUP => COMPLETING C",
    "INACTIVE returncode=2 => FINISHED/FAILED I 2",
    "COMPLETED => FINISHED/SUCCEEDED CD 0",
    "FAILED returncode=3 => FINISHED/FAILED F 3",
    "FAILED returncode=-9 => FINISHED/KILLED F - SIGKILL",
    "FAILED returncode=137 => FINISHED/KILLED F - SIGKILL",
    "FAILED returncode=0;exception_type=exec;exception_note=cannot execute job.sh: Permission denied => FINISHED/FAILED F 0",
    "CANCELED => FINISHED/CANCELLED CA",
    "TIMEOUT => FINISHED/TIMEOUT TO - SIGTERM",
];

const SCHEDULERS: &[Emulated] = &[
    Emulated {
        site: "pbs",
        query: "qstat",
        fail_as: "qstat",
        failure: (1, "qstat: cannot connect to server pbs01 (errno=111)"),
        hold: "#PBS -h\n",
        unknown: "99.pbs-emu",
        key: |jid| jid.split('.').next().unwrap().to_string(),
        states: PBS_STATES,
    },
    Emulated {
        site: "torque",
        query: "qstat",
        fail_as: "qstat",
        failure: (
            1,
            "qstat: cannot connect to server torque01 (errno=111) Connection refused",
        ),
        hold: "",
        unknown: "99.torque-emu",
        key: |jid| jid.to_string(),
        states: TORQUE_STATES,
    },
    Emulated {
        site: "lsf",
        query: "bjobs",
        fail_as: "bjobs",
        failure: (255, "batch system daemon not responding ... still trying"),
        hold: "",
        unknown: "99",
        key: |jid| jid.to_string(),
        states: LSF_STATES,
    },
    Emulated {
        site: "flux",
        query: "flux",
        fail_as: "flux-jobs",
        failure: (1, "flux-jobs: ERROR: Unable to connect to Flux"),
        hold: "",
        unknown: "fGone",
        key: |jid| jid.trim_start_matches('ƒ').to_string(),
        states: FLUX_STATES,
    },
];

impl Emulated {
    /// A case with this scheduler's emulators, a site named after it,
    /// edition 2026 and a job ledger. The PBS emulator keeps its server's
    /// state in the case's state directory, and is reached through fakes
    /// that record its calls and apply injected failures.
    fn case(&self) -> Case {
        let mut c = if self.site == "pbs" {
            Case::new("status-emu-pbs")
        } else {
            Case::emulated(self.site)
        };
        if self.site == "pbs" {
            for cmd in ["qsub", "qstat", "qdel", "qsig"] {
                let emulator = emulator_dir(&format!("pbs/{cmd}"));
                c = c.fake(cmd, &format!("exec '{}' \"$@\"", emulator.display()));
            }
            let state = c.state();
            c = c
                .env("TROIKA_PBS_EMULATOR_DIR", state)
                .env("TROIKA_PBS_EMULATOR_KILL_DELAY", "1");
        }
        c.write("out/.keep", "");
        c.config(&format!(
            "edition: 2026\nledger: ledger\nsites:\n  {0}:\n    type: {0}\n    connection: local\n    retry_delay: 0.05\n    retry_max_delay: 0.1\n",
            self.site
        ))
    }

    /// Submits `name` (a script that runs `body`, held if `held`); returns
    /// its job id.
    fn submit(&self, c: &Case, name: &str, body: &str, held: bool) -> String {
        let hold = if held { self.hold } else { "" };
        c.write_exec(name, format!("#!/bin/sh\n{hold}{body}\n"));
        c.troika(&["submit", self.site, name, "-o", &format!("out/{name}.out")])
            .expect_code(0);
        c.read(&format!("{name}.jid")).trim().to_string()
    }

    /// Puts job `jid` in a native state.
    fn set(&self, c: &Case, jid: &str, native: &Native) {
        let key = (self.key)(jid);
        c.set_job_state(&key, &native.word);
        for (file, text) in &native.files {
            c.write(&format!("state/jobs/{key}/{file}"), format!("{text}\n"));
        }
    }

    /// The rows of [`Emulated::states`].
    fn natives(&self) -> Vec<Native> {
        self.states.iter().map(|r| Native::parse(r)).collect()
    }

    /// The calls of the status query.
    fn queries(&self, c: &Case) -> Vec<Vec<String>> {
        c.calls(self.query)
            .into_iter()
            .filter(|a| self.query != "flux" || a.first().is_some_and(|w| w == "jobs"))
            .collect()
    }
}

/// `troika status SITE SCRIPTS... --json`: one JSON object per script, in order.
fn status(c: &Case, site: &str, scripts: &[&str], more: &[&str]) -> (TroikaRun, Vec<Value>) {
    let mut args = vec!["status", site];
    args.extend_from_slice(scripts);
    args.extend_from_slice(more);
    args.push("--json");
    let run = c.troika(&args);
    run.expect_code(0);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), scripts.len(), "{}", run.stdout);
    (run, lines)
}

/// `STATE/OUTCOME`, or `STATE`.
fn state_words(v: &Value) -> String {
    let state = v["state"].as_str().unwrap_or("?");
    match v["outcome"].as_str() {
        Some(o) => format!("{state}/{o}"),
        None => state.to_string(),
    }
}

/// Every native state of the scheduler's table, one job in each, told by
/// one `status` call that asks the scheduler once.
fn every_native_state(s: &Emulated) {
    let c = s.case();
    let natives = s.natives();
    let names: Vec<String> = (0..natives.len()).map(|i| format!("s{i}.sh")).collect();
    let mut ids = Vec::new();
    for (name, native) in names.iter().zip(&natives) {
        let jid = s.submit(&c, name, "sleep 1000", true);
        s.set(&c, &jid, native);
        ids.push(jid);
    }
    c.clear_calls();
    let scripts: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_, lines) = status(&c, s.site, &scripts, &[]);
    for ((v, native), jid) in lines.iter().zip(&natives).zip(&ids) {
        let what = format!("{} {} {:?}: {v}", s.site, native.word, native.files);
        assert_eq!(state_words(v), native.words, "{what}");
        assert_eq!(v["job_id"], jid.as_str(), "{what}");
        assert_eq!(v["native_state"], native.native, "{what}");
        assert_eq!(v["source"], "queue", "{what}");
        assert_eq!(v["exit_code"].as_i64(), native.exit_code, "{what}");
        assert_eq!(v["signal"].as_str(), native.signal.as_deref(), "{what}");
    }
    // One query, for every job.
    let queries = s.queries(&c);
    assert_eq!(queries.len(), 1, "{} {queries:?}", s.site);
    let asked = &queries[0][queries[0].len() - ids.len()..];
    assert_eq!(asked, ids, "{}", s.site);
}

#[test]
fn pbs_every_native_state_in_one_status_call() {
    every_native_state(&SCHEDULERS[0]);
}

#[test]
fn torque_every_native_state_in_one_status_call() {
    every_native_state(&SCHEDULERS[1]);
}

#[test]
fn lsf_every_native_state_in_one_status_call() {
    every_native_state(&SCHEDULERS[2]);
}

#[test]
fn flux_every_native_state_in_one_status_call() {
    every_native_state(&SCHEDULERS[3]);
}

#[test]
fn reasons_are_the_schedulers_words() {
    // PBS: the job's comment, folded by qstat -f over two lines.
    let pbs = &SCHEDULERS[0];
    let c = pbs.case();
    let jid = pbs.submit(&c, "held.sh", "true", true);
    let comment = "Not Running: Host set host=node01 has too few free resources, and the queue workq is at its limit";
    c.write(
        &format!("state/jobs/{}/comment", (pbs.key)(&jid)),
        format!("{comment}\n"),
    );
    let (run, lines) = status(&c, "pbs", &["held.sh"], &[]);
    assert_eq!(lines[0]["reason"], comment, "{}", run.stdout);
    let human = c.troika(&["status", "pbs", "held.sh"]);
    assert!(
        human
            .stdout
            .starts_with(&format!("held.sh  {jid}  HELD  (pbs H, {comment}; queue)")),
        "{}",
        human.stdout
    );
    // PBS: a negative exit status names its JOB_EXEC code.
    c.set_job_state(&(pbs.key)(&jid), "F");
    c.write(&format!("state/jobs/{}/exit_status", (pbs.key)(&jid)), "-29\n");
    std::fs::remove_file(c.path(&format!("state/jobs/{}/comment", (pbs.key)(&jid)))).unwrap();
    let (_, lines) = status(&c, "pbs", &["held.sh"], &[]);
    assert_eq!(
        lines[0]["reason"],
        "Exit_status=-29: JOB_EXEC_KILL_WALLTIME: exceeded its walltime"
    );
    // LSF: the termination reason; Flux: the exception.
    for (s, row, reason) in [
        (
            &SCHEDULERS[2],
            "EXIT exit_code=140;exit_reason=TERM_RUNLIMIT: job killed after reaching LSF run time limit. => FINISHED/TIMEOUT EXIT",
            "TERM_RUNLIMIT: job killed after reaching LSF run time limit.",
        ),
        (
            &SCHEDULERS[3],
            "TIMEOUT exception_type=timeout;exception_note=resource allocation expired => FINISHED/TIMEOUT TO",
            "timeout: resource allocation expired",
        ),
    ] {
        let c = s.case();
        let jid = s.submit(&c, "job.sh", "true", true);
        s.set(&c, &jid, &Native::parse(row));
        let (_, lines) = status(&c, s.site, &["job.sh"], &[]);
        assert_eq!(state_words(&lines[0]), "FINISHED/TIMEOUT", "{}", s.site);
        assert_eq!(lines[0]["reason"], reason, "{}", s.site);
    }
}

#[test]
fn a_failing_query_gives_unknown_never_an_outcome() {
    for s in SCHEDULERS {
        let c = s.case();
        let jid = s.submit(&c, "a.sh", "true", true);
        // Finished, as far as the scheduler would say if it answered.
        let done = s
            .natives()
            .into_iter()
            .find(|n| n.words == "FINISHED/SUCCEEDED")
            .unwrap();
        s.set(&c, &jid, &done);
        let (code, message) = s.failure;
        c.fail(s.fail_as, code, message);
        let (run, lines) = status(&c, s.site, &["a.sh"], &[]);
        let v = &lines[0];
        assert_eq!(state_words(v), "UNKNOWN", "{}: {v}", s.site);
        assert_eq!(v["outcome"], Value::Null, "{}", s.site);
        assert_eq!(v["exit_code"], Value::Null, "{}", s.site);
        assert_eq!(v["source"], "inferred", "{}", s.site);
        let reason = v["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!("{} failed with exit code {code}: ", s.query)) && reason.contains(message),
            "{}: {reason}",
            s.site
        );
        let human = c.troika(&["status", s.site, "a.sh"]);
        assert!(
            human
                .stdout
                .starts_with(&format!("a.sh  {jid}  UNKNOWN  ({} failed", s.query)),
            "{}: {}\n{}",
            s.site,
            human.stdout,
            run.stderr
        );
        // Answering again, the scheduler tells.
        std::fs::remove_file(c.path(&format!("state/fail/{}", s.fail_as))).unwrap();
        let (_, lines) = status(&c, s.site, &["a.sh"], &[]);
        assert_eq!(state_words(&lines[0]), "FINISHED/SUCCEEDED", "{}", s.site);
    }
}

#[test]
fn a_job_the_scheduler_does_not_know_leaves_the_others_answered() {
    for s in SCHEDULERS {
        let c = s.case();
        let jid = s.submit(&c, "known.sh", "true", true);
        let first = &s.natives()[0];
        s.set(&c, &jid, first);
        c.write("gone.sh", "#!/bin/sh\n");
        // Its id was written an hour ago: past the grace of a new job.
        let written = c.write("gone.sh.jid", format!("{}\n", s.unknown));
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(written)
            .and_then(|f| f.set_modified(hour_ago))
            .unwrap();
        c.clear_calls();
        let (_, lines) = status(&c, s.site, &["known.sh", "gone.sh"], &[]);
        assert_eq!(state_words(&lines[0]), first.words, "{}: {}", s.site, lines[0]);
        // Not in the queue, no record.
        assert_eq!(state_words(&lines[1]), "FINISHED/VANISHED", "{}: {}", s.site, lines[1]);
        assert_eq!(lines[1]["job_id"], s.unknown);
        assert_eq!(s.queries(&c).len(), 1, "{}", s.site);
    }
}

#[test]
fn ids_given_another_way_are_answered_as_given() {
    // PBS and Torque: the sequence number alone; Flux: F58 with an ASCII f.
    let sequence: fn(&str) -> String = |j| j.split('.').next().unwrap().to_string();
    let ascii: fn(&str) -> String = |j| format!("f{}", j.trim_start_matches('ƒ'));
    for (s, short) in [
        (&SCHEDULERS[0], sequence),
        (&SCHEDULERS[1], sequence),
        (&SCHEDULERS[3], ascii),
    ] {
        let c = s.case();
        let jid = s.submit(&c, "job.sh", "true", true);
        let first = &s.natives()[0];
        s.set(&c, &jid, first);
        let other = short(&jid);
        assert_ne!(other, jid);
        let (_, lines) = status(&c, s.site, &["job.sh"], &["-j", &other]);
        assert_eq!(lines[0]["job_id"], other.as_str(), "{}", s.site);
        assert_eq!(state_words(&lines[0]), first.words, "{}: {}", s.site, lines[0]);
    }
}

/// Jobs that really ran on the PBS emulator: one that failed, one killed
/// by qdel while it ran.
#[test]
fn pbs_jobs_that_ran_and_were_killed() {
    let s = &SCHEDULERS[0];
    let c = s.case();
    let failed = s.submit(&c, "fail.sh", "exit 3", false);
    let running = s.submit(&c, "run.sh", "sleep 300", false);
    let state = |jid: &str| c.read_or_empty(&format!("state/jobs/{}/state", (s.key)(jid)));
    wait_until("the PBS jobs to run and end", Duration::from_secs(30), || {
        state(&failed).trim() == "F" && state(&running).trim() == "R"
    });
    let (_, lines) = status(&c, "pbs", &["fail.sh", "run.sh"], &[]);
    assert_eq!(state_words(&lines[0]), "FINISHED/FAILED", "{}", lines[0]);
    assert_eq!(lines[0]["exit_code"], 3);
    assert_eq!(lines[0]["source"], "queue");
    assert_eq!(state_words(&lines[1]), "RUNNING", "{}", lines[1]);
    c.troika(&["kill", "pbs", "run.sh"]).expect_code(0);
    wait_until("qdel to end the job", Duration::from_secs(30), || {
        state(&running).trim() == "F"
    });
    let (_, lines) = status(&c, "pbs", &["run.sh"], &[]);
    assert_eq!(state_words(&lines[0]), "FINISHED/KILLED", "{}", lines[0]);
    assert_eq!(lines[0]["signal"], "SIGTERM", "{}", lines[0]);
}

/// troika's kill of a running job, then its status: Torque (qdel: exit
/// status 271), LSF (bkill: TERM_OWNER), Flux (flux cancel: CANCELED).
#[test]
fn running_jobs_killed_by_troika() {
    for (s, running, words, signal) in [
        (&SCHEDULERS[1], "R", "FINISHED/KILLED", "SIGTERM"),
        (&SCHEDULERS[2], "RUN", "FINISHED/CANCELLED", "SIGINT"),
        (&SCHEDULERS[3], "RUNNING", "FINISHED/CANCELLED", "SIGTERM"),
    ] {
        let c = s.case();
        let jid = s.submit(&c, "job.sh", "true", true);
        c.set_job_state(&(s.key)(&jid), running);
        c.troika(&["kill", s.site, "job.sh"]).expect_code(0);
        let (_, lines) = status(&c, s.site, &["job.sh"], &[]);
        assert_eq!(state_words(&lines[0]), words, "{}: {}", s.site, lines[0]);
        assert_eq!(lines[0]["signal"], signal, "{}: {}", s.site, lines[0]);
        assert_eq!(lines[0]["source"], "queue", "{}: {}", s.site, lines[0]);
    }
}
