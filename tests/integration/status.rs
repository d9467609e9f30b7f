//! `troika status` and `troika jobs`: the normalised state of jobs on real
//! Slurm (with slurmdbd accounting), real Grid Engine and direct sites
//! (locally and over the real sshd), and, with fake scheduler commands, the
//! answers a scheduler gives when it fails.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::common::{poll_until, run_with_timeout, service, Case, Service, SgeEnv, SshEnv, TroikaRun};

/// The status records of each line of `status --json`, by script name.
fn by_script(run: &TroikaRun) -> HashMap<String, Value> {
    run.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            let script = v["script"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
            (script, v)
        })
        .collect()
}

/// `STATE/OUTCOME` (or `STATE`) of a JSON line.
pub(crate) fn words(v: &Value) -> String {
    match v["outcome"].as_str() {
        Some(o) => format!("{}/{o}", v["state"].as_str().unwrap()),
        None => v["state"].as_str().unwrap().to_string(),
    }
}

/// Polls `status --json` on `scripts` until `done` holds for every line.
pub(crate) fn poll_status(
    c: &Case,
    site: &str,
    scripts: &[&str],
    limit: Duration,
    done: impl Fn(&str, &Value) -> bool,
) -> HashMap<String, Value> {
    let mut args = vec!["status", site];
    args.extend_from_slice(scripts);
    args.push("--json");
    let mut last = String::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        poll_until("the jobs' states", limit, || {
            let r = c.troika(&args);
            r.expect_code(0);
            last = r.stdout.clone();
            let m = by_script(&r);
            (m.len() == scripts.len() && m.iter().all(|(k, v)| done(k, v))).then_some(m)
        })
    }));
    result.unwrap_or_else(|_| panic!("states not reached; last answer:\n{last}"))
}

// ---------------------------------------------------------------- emulated

const FAKE_SLURM: &str =
    "edition: 2026\nledger: ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n    retry_delay: 0.05\n    retry_max_delay: 0.1\n";

/// Fake Slurm commands whose answers the test chooses (no Slurm needed).
fn fake_slurm() -> Case {
    Case::new("status-fake")
        .config(FAKE_SLURM)
        .fake("squeue", "cat \"$S/squeue.out\" 2>/dev/null")
        .fake("sacct", "cat \"$S/sacct.out\" 2>/dev/null")
}

#[test]
fn a_failing_squeue_gives_unknown_never_an_outcome() {
    let c = fake_slurm();
    c.write("a.sh", "#!/bin/sh\n");
    c.write("a.sh.jid", "11\n");
    c.fail(
        "squeue",
        1,
        "slurm_load_jobs error: Socket timed out on send/recv operation",
    );
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    r.expect_code(0);
    let v = &by_script(&r)["a.sh"];
    assert_eq!(words(v), "UNKNOWN");
    assert_eq!(v["source"], "inferred");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("squeue failed with exit code 1") && reason.contains("Socket timed out"),
        "{reason}"
    );
    assert!(c.calls("sacct").is_empty(), "no accounting after a failed queue query");
    assert_eq!(c.calls("squeue").len(), 7, "a transient failure is tried 6 times again");
    // The human line says the same.
    let r = c.troika(&["status", "s", "a.sh"]);
    r.expect_code(0);
    assert!(
        r.stdout
            .starts_with("a.sh  11  UNKNOWN  (squeue failed with exit code 1: slurm_load_jobs error: Socket timed out"),
        "{}",
        r.stdout
    );
}

#[test]
fn many_jobs_one_queue_query_then_accounting_for_the_rest() {
    let c = fake_slurm();
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        c.write(&format!("{name}.sh"), "#!/bin/sh\n");
        c.write(&format!("{name}.sh.jid"), format!("{}\n", 21 + i));
    }
    c.write(
        "state/squeue.out",
        "21|RUNNING|None\n22|PENDING|JobHeldUser\n23|PENDING|Priority\n24|COMPLETED|None\n",
    );
    c.write("state/sacct.out", "25|OUT_OF_MEMORY|0:125|None\n");
    let r = c.troika(&["status", "s", "a.sh", "b.sh", "c.sh", "d.sh", "e.sh", "--json"]);
    r.expect_code(0);
    let m = by_script(&r);
    assert_eq!(words(&m["a.sh"]), "RUNNING");
    assert_eq!(words(&m["b.sh"]), "HELD");
    assert_eq!(m["b.sh"]["reason"], "JobHeldUser");
    assert_eq!(words(&m["c.sh"]), "QUEUED");
    assert_eq!(m["c.sh"]["native_state"], "PENDING");
    assert_eq!(words(&m["d.sh"]), "FINISHED/SUCCEEDED");
    assert_eq!(words(&m["e.sh"]), "FINISHED/OUT_OF_MEMORY");
    assert_eq!(m["e.sh"]["source"], "accounting");
    // The order of the scripts given is the order of the lines.
    let order: Vec<String> = r.stdout.lines().map(|l| l[..30].to_string()).collect();
    assert!(order[0].contains("a.sh") && order[4].contains("e.sh"), "{order:?}");
    let squeue = c.calls("squeue");
    assert_eq!(squeue.len(), 1, "one queue query: {squeue:?}");
    assert_eq!(squeue[0], ["-h", "-t", "all", "-o", "%i|%T|%r", "-j", "21,22,23,24,25"]);
    // Accounting only for the jobs the queue did not settle: 24 has no exit
    // code in the queue, 25 is not there.
    assert_eq!(
        c.calls("sacct"),
        vec![vec![
            "-n",
            "-P",
            "-X",
            "-o",
            "JobID,State,ExitCode,Reason,JobIDRaw",
            "-j",
            "24,25"
        ]]
    );
}

#[test]
fn failing_accounting_and_unknown_words_are_unknown() {
    let c = fake_slurm();
    c.write("a.sh", "#!/bin/sh\n");
    c.write("a.sh.jid", "31\n");
    c.write("b.sh", "#!/bin/sh\n");
    c.write("b.sh.jid", "32\n");
    c.write("state/squeue.out", "32|WEIRD_NEW_STATE|None\n");
    c.fail(
        "sacct",
        1,
        "sacct: error: Problem talking to the database: Connection refused",
    );
    let r = c.troika(&["status", "s", "a.sh", "b.sh", "--json"]);
    r.expect_code(0);
    let m = by_script(&r);
    assert_eq!(words(&m["a.sh"]), "UNKNOWN");
    assert!(m["a.sh"]["reason"]
        .as_str()
        .unwrap()
        .contains("Problem talking to the database"));
    assert_eq!(words(&m["b.sh"]), "UNKNOWN");
    assert_eq!(m["b.sh"]["native_state"], "WEIRD_NEW_STATE");
    // A job in no source, whose submission time nothing tells (-j, no
    // ledger record, a .jid file of another job): UNKNOWN, not VANISHED.
    c.clear_calls();
    std::fs::remove_file(c.path("state/fail/sacct")).unwrap();
    c.write("state/sacct.out", "");
    let r = c.troika(&["status", "s", "a.sh", "-j", "33", "--json"]);
    r.expect_code(0);
    let v = &by_script(&r)["a.sh"];
    assert_eq!(words(v), "UNKNOWN");
    assert!(
        v["reason"].as_str().unwrap().contains("no submission time known"),
        "{v}"
    );
    // Its .jid file tells when it was submitted: long ago, VANISHED.
    c.write("a.sh.jid", "33\n");
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(c.path("a.sh.jid"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let r = c.troika(&["status", "s", "a.sh", "-j", "33", "--json"]);
    assert_eq!(words(&by_script(&r)["a.sh"]), "FINISHED/VANISHED");
    // A moment ago: not seen yet.
    c.write("a.sh.jid", "33\n");
    let r = c.troika(&["status", "s", "a.sh", "-j", "33", "--json"]);
    assert_eq!(words(&by_script(&r)["a.sh"]), "SUBMITTED");
}

#[test]
fn bad_requests_exit_1_and_say_why() {
    let c = fake_slurm();
    c.write("a.sh", "#!/bin/sh\n");
    c.write("b.sh", "#!/bin/sh\n");
    c.troika(&["status", "s", "a.sh"])
        .expect_code(1)
        .stderr_contains("No job id for 'a.sh': no 'a.sh.jid' and no record in the job ledger (give it with -j)");
    c.troika(&["status", "s", "a.sh", "b.sh", "-j", "1"])
        .expect_code(1)
        .stderr_contains("-j and -o name the job of one script");
    c.troika(&["status", "s"]).expect_code(1).stderr_contains("--all");
    c.troika(&["status", "s", "a.sh", "-j", "1;rm"])
        .expect_code(1)
        .stderr_contains("Invalid job id");
    c.troika(&["status", "nosite", "a.sh", "-j", "1"])
        .expect_code(1)
        .stderr_contains("nosite");
    c.troika(&["jobs", "--since", "yesterday"])
        .expect_code(1)
        .stderr_contains("invalid time 'yesterday'");
    assert!(c.calls("squeue").is_empty());
}

// ---------------------------------------------------------------- ledger

#[test]
fn the_ledger_records_submissions_and_stands_in_for_lost_jid_files() {
    let c = fake_slurm().fake(
        "sbatch",
        "n=$(cat \"$S/n\" 2>/dev/null || echo 40); n=$((n+1)); echo $n >\"$S/n\"; echo \"Submitted batch job $n\"",
    );
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.write("b.sh", "#!/bin/sh\necho b\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    c.troika(&["submit", "s", "b.sh", "-o", "out/b.1"]).expect_code(0);
    let r = c.troika(&["jobs", "--json"]);
    r.expect_code(0);
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert_eq!(lines[0]["job_id"], "41");
    assert_eq!(lines[0]["site"], "s");
    assert_eq!(lines[0]["script"], c.s("a.sh"));
    assert_eq!(lines[0]["output"], c.s("out/a.1"));
    assert_eq!(lines[0]["digest"].as_str().unwrap().len(), 64);
    assert_eq!(lines[1]["job_id"], "42");
    assert_eq!(c.troika(&["jobs", "--site", "other"]).stdout, "");
    assert_eq!(c.troika(&["jobs", "--since", "1h"]).stdout.lines().count(), 2);
    assert_eq!(c.troika(&["jobs", "--since", "2999-01-01"]).stdout, "");
    // The .jid file is lost: status and monitor find the job in the ledger.
    std::fs::remove_file(c.path("a.sh.jid")).unwrap();
    c.write("state/squeue.out", "41|RUNNING|None\n");
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    r.expect_code(0);
    assert_eq!(by_script(&r)["a.sh"]["job_id"], "41");
    c.troika(&["monitor", "s", "a.sh"])
        .expect_code(0)
        .stderr_lacks("Could not read the job id");
    assert!(
        c.read("a.sh.stat").starts_with("troika:  41  RUNNING"),
        "{}",
        c.read("a.sh.stat")
    );
    // --all: every job of the site in the ledger, the scripts given first.
    let r = c.troika(&["status", "s", "b.sh", "--all", "--json"]);
    r.expect_code(0);
    let ids: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["job_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["42", "41"]);
}

#[test]
fn an_unwritable_ledger_warns_and_the_submission_stands() {
    let c = Case::new("status-ledger-fault")
        .fake("sbatch", "echo 'Submitted batch job 7'")
        .script("#!/bin/sh\necho a\n");
    // A file where the ledger's directory should be: even root cannot
    // create the directory.
    c.write("blocker", "");
    c.write(
        "config.yml",
        "edition: 2026\nledger: blocker/ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n",
    );
    c.troika(&["submit", "s", "job.sh", "-o", "out"])
        .expect_code(0)
        .stderr_contains("WARNING; Job 7 is not in the job ledger: Cannot open the job ledger 'blocker/ledger/");
    assert_eq!(c.read("job.sh.jid"), "7\n");
    // A 0.2.7 configuration sees nothing of it.
    c.write(
        "config.yml",
        "ledger: blocker/ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n",
    );
    c.troika(&["submit", "s", "job.sh", "-o", "out"])
        .expect_code(0)
        .stderr_lacks("ledger");
}

// ---------------------------------------------------------------- Slurm

/// A case with a Grid Engine site `sge` (edition 2026, a ledger, and the
/// site keys `extra`), its jobs deleted at the end, and `out/` made: Grid
/// Engine puts a job whose output directory is missing in error (Eqw).
pub(crate) fn sge_case(name: &str, extra: &str) -> Case {
    let e = SgeEnv::from_env();
    let c = Case::new(name)
        .config(&format!(
            "edition: 2026\nledger: ledger\nsites:\n  sge:\n    type: sge\n    connection: local\n    command_timeout: 60\n{extra}"
        ))
        .env("SGE_ROOT", &e.root)
        .env("SGE_CELL", &e.cell)
        .remove_jobs_at_end("qdel");
    c.write("out/.keep", "");
    c
}

/// Writes and submits each `(name, text)` of `jobs` to `site`, its output
/// in `out/NAME.out`.
pub(crate) fn submit_all(c: &Case, site: &str, jobs: &[(&str, &str)]) {
    for (name, text) in jobs {
        c.write(name, text);
        c.troika(&["submit", site, name, "-o", &c.s(&format!("out/{name}.out"))])
            .expect_code(0);
    }
}

/// The Slurm tests that need accounting run one at a time: one of them
/// stops slurmdbd.
static ACCOUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

const SLURM: &str = "edition: 2026\nledger: ledger\nsites:\n  slurm:\n    type: slurm\n    connection: local\n    command_timeout: 60\n";

/// Every fate of a job on the real Slurm, told by one `status` call each
/// time: queue, status record, then (record deleted) accounting.
#[test]
fn slurm_jobs_fates_from_queue_record_and_accounting() {
    if !service(Service::Slurm) {
        return;
    }
    let _accounting = ACCOUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let c = Case::new("status-slurm").config(SLURM).remove_jobs_at_end("scancel");
    // Slurm fails a job whose output directory is missing.
    c.write("out/.keep", "");
    let jobs: &[(&str, &str)] = &[
        ("ok.sh", "#!/bin/bash\ntrue\n"),
        ("fail.sh", "#!/bin/bash\nexit 3\n"),
        ("sig.sh", "#!/bin/bash\nkill -KILL $$\n"),
        ("run.sh", "#!/bin/bash\nsleep 300\n"),
        ("held.sh", "#!/bin/bash\n#SBATCH --hold\ntrue\n"),
        ("cancel.sh", "#!/bin/bash\n#SBATCH --hold\ntrue\n"),
        ("timeout.sh", "#!/bin/bash\n# troika walltime=00:01:00\nsleep 600\n"),
    ];
    let mut ids = Vec::new();
    for (name, text) in jobs {
        c.write(name, text);
        c.troika(&["submit", "slurm", name, "-o", &c.s(&format!("out/{name}.out"))])
            .expect_code(0);
        ids.push(c.read(&format!("{name}.jid")).trim().to_string());
    }
    c.troika(&["kill", "slurm", "cancel.sh"]).expect_code(0);
    // Queued: a job that needs every CPU of the node (8) while run.sh has
    // one waits for resources. It is removed at once, not to hold up the
    // other tests' jobs.
    poll_status(&c, "slurm", &["run.sh"], Duration::from_secs(60), |_, v| {
        words(v) == "RUNNING"
    });
    c.write(
        "queued.sh",
        "#!/bin/bash
#SBATCH --cpus-per-task=8
true
",
    );
    c.troika(&["submit", "slurm", "queued.sh", "-o", &c.s("out/queued.out")])
        .expect_code(0);
    let m = poll_status(&c, "slurm", &["queued.sh"], Duration::from_secs(30), |_, v| {
        v["state"] != "SUBMITTED"
    });
    c.troika(&["kill", "slurm", "queued.sh"]).expect_code(0);
    assert_eq!(words(&m["queued.sh"]), "QUEUED", "{}", m["queued.sh"]);
    assert_eq!(m["queued.sh"]["native_state"], "PENDING");
    let names: Vec<&str> = jobs.iter().map(|(n, _)| *n).collect();
    let m = poll_status(&c, "slurm", &names, Duration::from_secs(240), |name, v| match name {
        "run.sh" => words(v) == "RUNNING",
        "held.sh" => words(v) == "HELD",
        _ => v["state"] == "FINISHED",
    });
    assert_eq!(words(&m["ok.sh"]), "FINISHED/SUCCEEDED");
    assert_eq!(m["ok.sh"]["exit_code"], 0);
    assert_eq!(words(&m["fail.sh"]), "FINISHED/FAILED");
    assert_eq!(m["fail.sh"]["exit_code"], 3);
    assert_eq!(words(&m["sig.sh"]), "FINISHED/KILLED");
    assert_eq!(m["sig.sh"]["signal"], "SIGKILL");
    assert_eq!(m["held.sh"]["native_state"], "PENDING");
    assert_eq!(m["held.sh"]["reason"], "JobHeldUser");
    assert_eq!(words(&m["cancel.sh"]), "FINISHED/CANCELLED");
    assert_eq!(words(&m["timeout.sh"]), "FINISHED/TIMEOUT");
    assert_eq!(m["run.sh"]["source"], "queue");
    // Slurm forgets ended jobs after MinJobAge: the record tells, and
    // without it accounting.
    let gone = || {
        let out = std::process::Command::new("squeue")
            .args(["-h", "-t", "all", "-o", "%i", "-j", &format!("{},{}", ids[0], ids[1])])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().is_empty().then_some(())
    };
    poll_until("Slurm to forget the ended jobs", Duration::from_secs(600), gone);
    let m = poll_status(&c, "slurm", &["ok.sh", "fail.sh"], Duration::from_secs(30), |_, v| {
        v["state"] == "FINISHED"
    });
    assert_eq!(m["ok.sh"]["source"], "status-record");
    assert_eq!(words(&m["fail.sh"]), "FINISHED/FAILED");
    std::fs::remove_file(c.path("out/fail.sh.out.status")).unwrap();
    let m = poll_status(&c, "slurm", &["fail.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "FINISHED"
    });
    assert_eq!(m["fail.sh"]["source"], "accounting");
    assert_eq!(m["fail.sh"]["exit_code"], 3);
    assert_eq!(m["fail.sh"]["native_state"], "FAILED");
}

/// Fault injection on the real accounting: with slurmdbd stopped, a job
/// that only accounting knows is UNKNOWN with sacct's words, never an
/// outcome; once slurmdbd is back (`tests/services/slurm.sh up`), its
/// outcome is told again.
#[test]
fn slurm_accounting_down_is_unknown_then_told_again() {
    if !service(Service::Slurm) || std::env::var("TROIKA_TEST_SLURM_ACCOUNTING").as_deref() != Ok("1") {
        return;
    }
    let up = || {
        let script = crate::common::repo_root().join("tests/services/slurm.sh");
        let out = std::process::Command::new(script).arg("up").output().unwrap();
        assert!(
            out.status.success(),
            "slurm.sh up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // slurmdbd is stopped below: no other test may need accounting then.
    let _accounting = ACCOUNTING.lock().unwrap_or_else(|e| e.into_inner());
    // No status record: once Slurm forgets the job, only accounting knows it.
    let c = Case::new("status-acct-down")
        .config("edition: 2026\nledger: ledger\nsites:\n  slurm:\n    type: slurm\n    connection: local\n    status_record: false\n    retry_delay: 0.05\n    retry_max_delay: 0.1\n")
        .at_end(move |_| {
            let script = crate::common::repo_root().join("tests/services/slurm.sh");
            let _ = std::process::Command::new(script).arg("up").output();
        });
    c.write("out/.keep", "");
    c.write("fail.sh", "#!/bin/bash\nexit 3\n");
    c.troika(&["submit", "slurm", "fail.sh", "-o", &c.s("out/fail.out")])
        .expect_code(0);
    // Accounting knows the job from its submission: wait for its end.
    let m = poll_status(&c, "slurm", &["fail.sh"], Duration::from_secs(120), |_, v| {
        v["source"] == "accounting" && v["state"] == "FINISHED"
    });
    if words(&m["fail.sh"]) != "FINISHED/FAILED" {
        // What accounting holds for this id, every record of it.
        let jid = c.read("fail.sh.jid");
        let sacct = std::process::Command::new("sacct")
            .args([
                "-D",
                "-P",
                "-o",
                "JobIDRaw,JobName,State,ExitCode,Submit,End,WorkDir",
                "-j",
                jid.trim(),
            ])
            .output()
            .unwrap();
        panic!(
            "accounting told {} for fail.sh (exit 3); sacct -D:\n{}{}",
            m["fail.sh"],
            String::from_utf8_lossy(&sacct.stdout),
            String::from_utf8_lossy(&sacct.stderr)
        );
    }
    let _ = std::process::Command::new("pkill").args(["-x", "slurmdbd"]).status();
    let m = poll_status(&c, "slurm", &["fail.sh"], Duration::from_secs(30), |_, v| {
        v["state"] == "UNKNOWN"
    });
    let reason = m["fail.sh"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("sacct failed with exit code 1"), "{reason}");
    assert!(
        reason.contains("Connection refused") || reason.contains("database"),
        "{reason}"
    );
    up();
    let m = poll_status(&c, "slurm", &["fail.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "FINISHED"
    });
    assert_eq!(words(&m["fail.sh"]), "FINISHED/FAILED");
    assert_eq!(m["fail.sh"]["exit_code"], 3);
}

// ---------------------------------------------------------------- Grid Engine

#[test]
fn sge_jobs_fates_from_queue_and_accounting() {
    if !service(Service::Sge) {
        return;
    }
    let c = sge_case("status-sge", "    status_record: false\n");
    let jobs: &[(&str, &str)] = &[
        ("ok.sh", "#!/bin/sh\ntrue\n"),
        ("fail.sh", "#!/bin/sh\nexit 3\n"),
        ("run.sh", "#!/bin/sh\nsleep 300\n"),
        ("held.sh", "#!/bin/sh\n#$ -h\ntrue\n"),
        // Pending (qw) until a start time far away.
        ("queued.sh", "#!/bin/sh\n#$ -a 209912312359\ntrue\n"),
        ("timeout.sh", "#!/bin/sh\n# troika walltime=0:0:2\nsleep 300\n"),
    ];
    submit_all(&c, "sge", jobs);
    let names: Vec<&str> = jobs.iter().map(|(n, _)| *n).collect();
    let m = poll_status(&c, "sge", &names, Duration::from_secs(120), |name, v| match name {
        "run.sh" => words(v) == "RUNNING",
        "held.sh" => words(v) == "HELD",
        "queued.sh" => words(v) == "QUEUED",
        _ => v["state"] == "FINISHED",
    });
    assert_eq!(m["queued.sh"]["native_state"], "qw");
    assert_eq!(words(&m["ok.sh"]), "FINISHED/SUCCEEDED");
    assert_eq!(m["ok.sh"]["source"], "accounting");
    assert_eq!(words(&m["fail.sh"]), "FINISHED/FAILED");
    assert_eq!(m["fail.sh"]["exit_code"], 3);
    assert_eq!(words(&m["timeout.sh"]), "FINISHED/TIMEOUT");
    assert!(
        m["timeout.sh"]["reason"].as_str().unwrap().contains("h_rt"),
        "{}",
        m["timeout.sh"]
    );
    assert_eq!(m["held.sh"]["native_state"], "hqw");
    assert_eq!(m["run.sh"]["native_state"], "r");
    // Killed while running: qdel's SIGKILL, as accounting tells it.
    c.troika(&["kill", "sge", "run.sh"]).expect_code(0);
    // Cancelled while held: Grid Engine keeps no record of a job deleted
    // before it ran; the ledger has troika's kill.
    c.troika(&["kill", "sge", "held.sh"]).expect_code(0);
    let m = poll_status(&c, "sge", &["run.sh", "held.sh"], Duration::from_secs(60), |name, v| {
        v["state"] == "FINISHED" && (name != "run.sh" || v["source"] == "accounting")
    });
    assert_eq!(words(&m["run.sh"]), "FINISHED/KILLED");
    assert_eq!(m["run.sh"]["signal"], "SIGKILL");
    assert_eq!(words(&m["held.sh"]), "FINISHED/CANCELLED");
    assert!(
        m["held.sh"]["reason"].as_str().unwrap().contains("troika kill at"),
        "{}",
        m["held.sh"]
    );
}

/// Runs a scheduler's command: (exit code, stdout, stderr).
fn run_cmd(c: &Case, prog: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args).current_dir(c.dir());
    run_with_timeout(&mut cmd, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{prog}: {e}"))
}

/// Suspension, holds and errors on the real Grid Engine: `qmod -sj` makes
/// a running job SUSPENDED (`s`) and `qmod -usj` RUNNING again; `qhold` of
/// a running job leaves it RUNNING (`hr`: the hold is for a next run); a
/// job whose working directory is missing is in error (`Eqw`): HELD, with
/// the reason, and so it stays once held too (`Ehqw`).
#[test]
fn sge_suspended_held_and_error_jobs() {
    if !service(Service::Sge) {
        return;
    }
    let c = sge_case("status-sge-suspend", "    status_record: false\n");
    let jobs: &[(&str, &str)] = &[
        ("run.sh", "#!/bin/sh\nsleep 300\n"),
        ("error.sh", "#!/bin/sh\n#$ -wd /nonexistent-troika-dir\ntrue\n"),
    ];
    submit_all(&c, "sge", jobs);
    let names = ["run.sh", "error.sh"];
    let m = poll_status(&c, "sge", &names, Duration::from_secs(120), |name, v| match name {
        "run.sh" => v["native_state"] == "r",
        _ => v["native_state"] == "Eqw",
    });
    assert_eq!(words(&m["run.sh"]), "RUNNING");
    assert_eq!(words(&m["error.sh"]), "HELD");
    let reason = m["error.sh"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("error state") && reason.contains("qmod -cj"),
        "{reason}"
    );
    let qmod = |args: &[&str]| {
        let (code, out, err) = run_cmd(&c, "qmod", args);
        assert_eq!(code, Some(0), "qmod {args:?}: {out}{err}");
    };
    let run = c.read("run.sh.jid").trim().to_string();
    let error = c.read("error.sh.jid").trim().to_string();
    qmod(&["-sj", &run]);
    let m = poll_status(&c, "sge", &names, Duration::from_secs(60), |name, v| {
        name != "run.sh" || v["native_state"] == "s"
    });
    assert_eq!(words(&m["run.sh"]), "SUSPENDED");
    assert_eq!(m["run.sh"]["reason"], "suspended (qmod -sj)");
    assert_eq!(m["run.sh"]["source"], "queue");
    qmod(&["-usj", &run]);
    for (prog, id) in [("qhold", &run), ("qhold", &error)] {
        let (code, out, err) = run_cmd(&c, prog, &[id]);
        assert_eq!(code, Some(0), "{prog} {id}: {out}{err}");
    }
    let m = poll_status(&c, "sge", &names, Duration::from_secs(60), |name, v| match name {
        "run.sh" => v["native_state"] == "hr",
        _ => v["native_state"] == "Ehqw",
    });
    assert_eq!(words(&m["run.sh"]), "RUNNING");
    assert_eq!(m["run.sh"]["reason"], "on hold for a next run");
    assert_eq!(words(&m["error.sh"]), "HELD");
    assert!(m["error.sh"]["reason"].as_str().unwrap().starts_with("error state"));
    // Deleted: gone from the queue (`dr` lasts about a second), then
    // accounting tells qdel's SIGKILL.
    c.troika(&["kill", "sge", "run.sh"]).expect_code(0);
    let m = poll_status(&c, "sge", &["run.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "COMPLETING" || v["source"] == "accounting"
    });
    if m["run.sh"]["state"] == "COMPLETING" {
        assert_eq!(m["run.sh"]["reason"], "being deleted (qdel)");
    } else {
        assert_eq!(words(&m["run.sh"]), "FINISHED/KILLED");
    }
}

/// A suspended job on the real Slurm (`scontrol suspend`, which needs
/// root or the SlurmUser): SUSPENDED, then RUNNING again once resumed.
#[test]
fn slurm_suspended_job() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("status-slurm-suspend")
        .config(SLURM)
        .remove_jobs_at_end("scancel");
    c.write("out/.keep", "");
    c.write("run.sh", "#!/bin/bash\nsleep 300\n");
    c.troika(&["submit", "slurm", "run.sh", "-o", &c.s("out/run.sh.out")])
        .expect_code(0);
    let m = poll_status(&c, "slurm", &["run.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "RUNNING"
    });
    assert_eq!(m["run.sh"]["native_state"], "RUNNING");
    let id = c.read("run.sh.jid").trim().to_string();
    let (code, out, err) = run_cmd(&c, "scontrol", &["suspend", &id]);
    if code != Some(0) && format!("{out}{err}").contains("denied") {
        eprintln!("scontrol suspend is not allowed here (not root or SlurmUser): {out}{err}");
        return;
    }
    assert_eq!(code, Some(0), "scontrol suspend {id}: {out}{err}");
    let m = poll_status(&c, "slurm", &["run.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "SUSPENDED"
    });
    assert_eq!(m["run.sh"]["native_state"], "SUSPENDED");
    assert_eq!(m["run.sh"]["source"], "queue");
    let (code, out, err) = run_cmd(&c, "scontrol", &["resume", &id]);
    assert_eq!(code, Some(0), "scontrol resume {id}: {out}{err}");
    let m = poll_status(&c, "slurm", &["run.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "RUNNING"
    });
    assert_eq!(m["run.sh"]["native_state"], "RUNNING");
    // Held by root: PENDING, JobHeldAdmin.
    c.write("held.sh", "#!/bin/bash\n#SBATCH --begin=now+1hour\ntrue\n");
    c.troika(&["submit", "slurm", "held.sh", "-o", &c.s("out/held.sh.out")])
        .expect_code(0);
    let held = c.read("held.sh.jid").trim().to_string();
    let (code, out, err) = run_cmd(&c, "scontrol", &["hold", &held]);
    assert_eq!(code, Some(0), "scontrol hold {held}: {out}{err}");
    let m = poll_status(&c, "slurm", &["held.sh"], Duration::from_secs(60), |_, v| {
        v["reason"] == "JobHeldAdmin"
    });
    assert_eq!(words(&m["held.sh"]), "HELD");
    assert_eq!(m["held.sh"]["native_state"], "PENDING");
}

// ---------------------------------------------------------------- direct

/// Direct jobs, locally and over the real sshd: `ps` while they run, their
/// status record once they ended.
#[test]
fn direct_jobs_fates_local_and_over_ssh() {
    let mut sites =
        String::from("edition: 2026\nledger: ledger\nsites:\n  local:\n    type: direct\n    connection: local\n");
    let ssh = service(Service::Sshd);
    if ssh {
        let e = SshEnv::from_env();
        sites.push_str(&format!(
            "  remote:\n    type: direct\n    connection: ssh\n    host: {}\n    user: {}\n    ssh_options: [-F, {}]\n",
            e.host, e.user, e.config
        ));
    }
    let c = Case::new("status-direct").config(&sites);
    let mut site_names = vec!["local"];
    if ssh {
        site_names.push("remote");
    }
    for site in site_names {
        // Over ssh the output is on the remote side: a shared scratch path.
        let out = |name: &str| format!("/tmp/troika-status-direct-{site}-{}/{name}.out", std::process::id());
        let jobs: &[(&str, &str)] = &[
            ("ok.sh", "#!/bin/sh\ntrue\n"),
            ("fail.sh", "#!/bin/sh\nexit 3\n"),
            ("run.sh", "#!/bin/sh\nsleep 300\n"),
        ];
        let names: Vec<String> = jobs.iter().map(|(n, _)| format!("{site}-{n}")).collect();
        for ((_, text), name) in jobs.iter().zip(&names) {
            c.write_exec(name, text);
            c.troika(&["submit", site, name, "-o", &out(name)]).expect_code(0);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let m = poll_status(&c, site, &refs, Duration::from_secs(30), |name, v| {
            if name.ends_with("run.sh") {
                words(v) == "RUNNING"
            } else {
                v["state"] == "FINISHED"
            }
        });
        assert_eq!(words(&m[&names[0]]), "FINISHED/SUCCEEDED", "{site}");
        assert_eq!(m[&names[0]]["source"], "status-record");
        assert_eq!(m[&names[1]]["exit_code"], 3, "{site}");
        assert_eq!(m[&names[2]]["source"], "queue");
        // Killed: the job traps TERM and writes it down.
        c.troika(&["kill", site, &names[2]]).expect_code(0);
        let m = poll_status(&c, site, &refs[2..], Duration::from_secs(30), |_, v| {
            v["state"] == "FINISHED"
        });
        assert_eq!(words(&m[&names[2]]), "FINISHED/KILLED", "{site}");
        assert_eq!(m[&names[2]]["signal"], "SIGTERM");
    }
}

/// The sites of the accounting tests: local, and over the real sshd when it
/// runs (the script copied and run itself, not by a shell: a Python script).
fn direct_sites(head: &str, extra: &str) -> (String, Vec<&'static str>) {
    let mut sites = format!("{head}sites:\n  local:\n    type: direct\n    connection: local\n{extra}");
    let mut names = vec!["local"];
    if service(Service::Sshd) {
        let e = SshEnv::from_env();
        sites.push_str(&format!(
            "  remote:\n    type: direct\n    connection: ssh\n    host: {}\n    user: {}\n    ssh_options: [-F, {}]\n    use_shell: false\n    copy_script: true\n{extra}",
            e.host, e.user, e.config
        ));
        names.push("remote");
    }
    (sites, names)
}

/// Runs `argv` where the site's jobs run: here, or over ssh on the remote
/// host.
fn on_site(site: &str, argv: &[&str]) {
    let status = if site == "remote" {
        let e = SshEnv::from_env();
        std::process::Command::new("ssh")
            .args(["-F", &e.config, "-l", &e.user, &e.host])
            .args(argv)
            .status()
    } else {
        std::process::Command::new(argv[0]).args(&argv[1..]).status()
    };
    assert!(status.unwrap().success(), "{argv:?} on {site}");
}

/// The accounting of direct jobs, locally and over the real sshd: the
/// process that started a job wrote how it ended, whatever the job was and
/// however it ended (a Python script, `kill -9`, a status record deleted).
#[test]
fn direct_accounting_local_and_over_ssh() {
    let (sites, names) = direct_sites("edition: 2026\nledger: ledger\n", "");
    let c = Case::new("status-direct-acct").config(&sites);
    for site in names {
        let out = |name: &str| format!("/tmp/troika-status-acct-{site}-{}/{name}.out", std::process::id());
        let jobs: &[(&str, &str)] = &[
            (
                "py",
                "#!/usr/bin/env python3\nimport sys\nprint('python')\nsys.exit(3)\n",
            ),
            ("nine", "#!/bin/sh\nsleep 300\n"),
            ("gone", "#!/bin/sh\nexit 4\n"),
        ];
        let names: Vec<String> = jobs.iter().map(|(n, _)| format!("{site}-{n}")).collect();
        for ((_, text), name) in jobs.iter().zip(&names) {
            c.write_exec(name, text);
            c.troika(&["submit", site, name, "-o", &out(name)]).expect_code(0);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let m = poll_status(&c, site, &refs, Duration::from_secs(30), |name, v| {
            if name.ends_with("nine") {
                words(v) == "RUNNING"
            } else {
                v["state"] == "FINISHED"
            }
        });
        // A Python script writes no status record: accounting answers.
        let py = &m[&names[0]];
        assert_eq!(
            (words(py), &py["exit_code"]),
            ("FINISHED/FAILED".into(), &Value::from(3)),
            "{site}: {py}"
        );
        assert_eq!(py["source"], "accounting", "{site}");
        assert!(py["reason"].as_str().unwrap().starts_with("ended at 20"), "{py}");
        assert_eq!(m[&names[2]]["source"], "status-record", "{site}");

        // Killed with SIGKILL, which no trap sees; its status record deleted.
        let pid = c.read(&format!("{}.jid", names[1])).trim().to_string();
        on_site(site, &["kill", "-9", &pid]);
        on_site(site, &["rm", "--", &format!("{}.status", out(&names[2]))]);
        let m = poll_status(&c, site, &refs[1..], Duration::from_secs(30), |_, v| {
            v["state"] == "FINISHED"
        });
        let nine = &m[&names[1]];
        assert_eq!(words(nine), "FINISHED/KILLED", "{site}: {nine}");
        assert_eq!(
            (&nine["signal"], &nine["source"]),
            (&Value::from("SIGKILL"), &Value::from("accounting"))
        );
        let gone = &m[&names[2]];
        assert_eq!(words(gone), "FINISHED/FAILED", "{site}: {gone}");
        assert_eq!(
            (&gone["exit_code"], &gone["source"]),
            (&Value::from(4), &Value::from("accounting"))
        );

        // The human line, as `status` prints it.
        let r = c.troika(&["status", site, &names[1]]);
        r.expect_code(0);
        assert!(
            r.stdout
                .contains(&format!("{pid}  FINISHED/KILLED  signal SIGKILL  (ended at 20"))
                && r.stdout.contains("; accounting)"),
            "{}",
            r.stdout
        );
    }
}

/// `kill` of a direct job with accounting: the job's process group is
/// signalled, the process that waits for it is not, and writes the signal.
#[test]
fn direct_accounting_records_a_troika_kill() {
    let (sites, names) = direct_sites(
        "edition: 2026\nledger: ledger\n",
        "    kill_sequence: [[0, SIGINT], [2, SIGKILL]]\n",
    );
    let c = Case::new("status-direct-acct-kill").config(&sites);
    for site in names {
        let out = format!("/tmp/troika-status-acct-kill-{site}-{}/job.out", std::process::id());
        let name = format!("{site}-py");
        // A Python job that ignores nothing: SIGINT ends it locally; over
        // ssh the remote shell starts it with SIGINT ignored, so SIGKILL
        // ends it.
        c.write_exec(&name, "#!/usr/bin/env python3\nimport time\ntime.sleep(300)\n");
        c.troika(&["submit", site, &name, "-o", &out]).expect_code(0);
        poll_status(&c, site, &[&name], Duration::from_secs(30), |_, v| {
            words(v) == "RUNNING"
        });
        c.troika(&["kill", site, &name]).expect_code(0);
        // Over ssh the remote shell writes the exit record a moment after
        // the job's end: until then the answer is inferred from the kill.
        let m = poll_status(&c, site, &[&name], Duration::from_secs(30), |_, v| {
            v["state"] == "FINISHED" && v["source"] == "accounting"
        });
        let v = &m[&name];
        assert_eq!(words(v), "FINISHED/KILLED", "{site}: {v}");
        let want = if site == "local" { "SIGINT" } else { "SIGKILL" };
        assert_eq!(v["signal"], want, "{site}: {v}");
    }
}

/// Without accounting (a 0.2.7 configuration, or `accounting: false`) the
/// job is started as before: the same command line, no exit record, and a
/// job that wrote no status record has VANISHED once it ended.
#[test]
fn direct_without_accounting_is_as_before() {
    for (head, extra) in [
        ("ledger: ledger\n", ""),
        ("edition: 2026\nledger: ledger\n", "    accounting: false\n"),
    ] {
        let extra = format!("{extra}    vanish_grace: 1\n");
        let (mut sites, _) = direct_sites(head, &extra);
        // A remote site for the command line only (a dry run asks nothing).
        sites.push_str(&format!(
            "  far:\n    type: direct\n    connection: ssh\n    host: nowhere.invalid\n{extra}"
        ));
        let c = Case::new("status-direct-noacct").config(&sites);
        c.write_exec("py", "#!/usr/bin/env python3\nimport sys\nsys.exit(3)\n");
        let out = c.s("out/py.out");
        let r = c.troika(&["-v", "-n", "submit", "far", "py", "-o", "/tmp/far/py.out"]);
        r.expect_code(0);
        let launch = r
            .executed()
            .into_iter()
            .find(|l| l.contains("setsid"))
            .expect("a launch command");
        assert!(
            launch.ends_with(r#"'sh' '-c' '\'out=$1; shift; setsid "$@" >"$out" 2>&1 </dev/null & echo $!\'' 'troika' '/tmp/far/py.out' 'bash' '/tmp/far/py'"#),
            "{launch}"
        );
        c.troika(&["submit", "local", "py", "-o", &out]).expect_code(0);
        let m = poll_status(&c, "local", &["py"], Duration::from_secs(30), |_, v| {
            v["state"] == "FINISHED"
        });
        assert_eq!(words(&m["py"]), "FINISHED/VANISHED", "{head}{extra}: {}", m["py"]);
        assert!(!c.exists("out/py.out.exit"), "{head}{extra}");
    }
    // With accounting, the remote launch names the exit record.
    let c = Case::new("status-direct-acct-argv")
        .config("edition: 2026\nsites:\n  far:\n    type: direct\n    connection: ssh\n    host: nowhere.invalid\n");
    c.write_exec("py", "#!/bin/sh\n");
    let r = c.troika(&["-v", "-n", "submit", "far", "py", "-o", "/tmp/far/py.out"]);
    r.expect_code(0);
    let launch = r
        .executed()
        .into_iter()
        .find(|l| l.contains("setsid"))
        .expect("a launch command");
    assert!(
        launch.ends_with(r#"'troika' '/tmp/far/py.out.exit' '/tmp/far/py.out' 'bash' '/tmp/far/py'"#),
        "{launch}"
    );
}

// ------------------------------------------------- kill, VANISHED, ledger
// (issue 12: kill's words, the rules of VANISHED, the ledger's rotation)

/// The log of `action` on `script` (`a.sh.killlog`): where INFO goes at the
/// normal verbosity.
fn action_log(c: &Case, script: &str, action: &str) -> String {
    c.read(&format!("{script}.{action}log"))
}

/// Asserts that `text` contains each of `needles`.
fn has(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "{n:?} not in:\n{text}");
    }
}

/// [`fake_slurm`] that submits (ids from 41 on) and cancels: `scancel`
/// makes the job CANCELLED in the queue unless `state/scancel.keep` exists.
fn fake_slurm_kill(config: &str) -> Case {
    let c = Case::new("status-kill")
        .config(config)
        .fake("squeue", "cat \"$S/squeue.out\" 2>/dev/null")
        .fake("sacct", "cat \"$S/sacct.out\" 2>/dev/null")
        .fake(
            "sbatch",
            "n=$(cat \"$S/n\" 2>/dev/null || echo 40); n=$((n+1)); echo $n >\"$S/n\"; echo \"Submitted batch job $n\"",
        )
        .fake(
            "scancel",
            "if [ ! -e \"$S/scancel.keep\" ]; then sed 's/RUNNING/CANCELLED/' \"$S/squeue.out\" >\"$S/q\"; mv \"$S/q\" \"$S/squeue.out\"; fi",
        );
    // Accounting has nothing (the test cluster's slurmdbd is not asked).
    c.write("state/sacct.out", "");
    c.write("state/squeue.out", "");
    c
}

#[test]
fn kill_reports_the_model_words_and_status_later_agrees() {
    let c = fake_slurm_kill(FAKE_SLURM);
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    c.write("state/squeue.out", "41|RUNNING|None\n");
    // A running job cancelled with scancel: Slurm says CANCELLED, and so
    // does kill, at the normal verbosity, in the words of `status`.
    c.troika(&["kill", "s", "a.sh"]).expect_code(0);
    let log = action_log(&c, "a.sh", "kill");
    has(
        &log,
        &["; INFO; troika kill:  41  FINISHED/CANCELLED  (slurm CANCELLED; queue)"],
    );
    // The debug line keeps the hooks' word (0.2.7's); the INFO line is the model's.
    has(&log, &["; DEBUG; Kill of job 41: KILLED"]);
    assert!(
        !log.lines().any(|l| l.contains("; INFO; ") && l.contains("KILLED")),
        "{log}"
    );
    // Slurm forgets the job, accounting has nothing: the ledger's kill.
    c.write("state/squeue.out", "");
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    r.expect_code(0);
    let v = &by_script(&r)["a.sh"];
    assert_eq!(words(v), "FINISHED/CANCELLED");
    assert!(v["reason"].as_str().unwrap().starts_with("troika kill at "), "{v}");
    assert!(v["reason"].as_str().unwrap().ends_with(": CANCELLED"), "{v}");
    // The scheduler still shows the job running just after the cancel: the
    // kill's outcome, with what the scheduler says.
    c.write("b.sh", "#!/bin/sh\necho b\n");
    c.troika(&["submit", "s", "b.sh", "-o", "out/b.1"]).expect_code(0);
    c.write("state/squeue.out", "42|RUNNING|None\n");
    c.write("state/scancel.keep", "");
    c.troika(&["kill", "s", "b.sh"]).expect_code(0);
    has(
        &action_log(&c, "b.sh", "kill"),
        &[
            "troika kill:  42  FINISHED/CANCELLED  (slurm RUNNING, troika kill at ",
            ": CANCELLED; the scheduler still shows it RUNNING; inferred)",
        ],
    );
    c.write("state/squeue.out", "");
    let r = c.troika(&["status", "s", "b.sh", "--json"]);
    assert_eq!(words(&by_script(&r)["b.sh"]), "FINISHED/CANCELLED");
    // With a kill sequence that ends with SIGKILL: KILLED, both.
    c.write("config.yml", format!("{FAKE_SLURM}    kill_sequence: [[0, 9]]\n"));
    c.write("d.sh", "#!/bin/sh\necho d\n");
    c.troika(&["submit", "s", "d.sh", "-o", "out/d.1"]).expect_code(0);
    c.write("state/squeue.out", "43|RUNNING|None\n");
    c.troika(&["kill", "s", "d.sh"]).expect_code(0);
    has(
        &action_log(&c, "d.sh", "kill"),
        &["troika kill:  43  FINISHED/KILLED  (slurm RUNNING, troika kill at "],
    );
    c.write("state/squeue.out", "");
    let r = c.troika(&["status", "s", "d.sh", "--json"]);
    assert_eq!(words(&by_script(&r)["d.sh"]), "FINISHED/KILLED");
}

#[test]
fn kill_of_a_0_2_7_configuration_keeps_its_words_and_the_ledger_the_models() {
    let c = fake_slurm_kill("ledger: ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n");
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    c.write("state/squeue.out", "41|RUNNING|None\n");
    c.clear_calls();
    c.troika(&["kill", "s", "a.sh"]).expect_code(0);
    let log = action_log(&c, "a.sh", "kill");
    has(&log, &["; DEBUG; Kill of job 41: KILLED"]);
    assert!(!log.contains("troika kill:") && !log.contains("FINISHED"), "{log}");
    // No query after the kill: the commands are 0.2.7's.
    assert!(c.calls("sacct").is_empty());
    c.write("state/squeue.out", "");
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    assert_eq!(words(&by_script(&r)["a.sh"]), "FINISHED/CANCELLED");
}

#[test]
fn kill_finds_the_job_in_the_ledger_when_the_jid_file_is_lost() {
    let c = fake_slurm_kill(FAKE_SLURM);
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    std::fs::remove_file(c.path("a.sh.jid")).unwrap();
    c.write("state/squeue.out", "41|RUNNING|None\n");
    c.clear_calls();
    c.troika(&["kill", "s", "a.sh"]).expect_code(0);
    has(
        &action_log(&c, "a.sh", "kill"),
        &["job 41 from the job ledger", "troika kill:  41  FINISHED/CANCELLED"],
    );
    assert_eq!(c.calls("scancel").last().unwrap().last().unwrap(), "41");
    // A 0.2.7 configuration does not read the ledger.
    c.write(
        "config.yml",
        "ledger: ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n",
    );
    c.troika(&["kill", "s", "a.sh"])
        .expect_code(1)
        .stderr_contains("a.sh.jid");
}

#[test]
fn a_status_record_that_cannot_be_read_is_unknown_not_vanished() {
    let c = fake_slurm_kill(&format!("{FAKE_SLURM}    vanish_grace: 0.01\n"));
    // A tail that fails while state/tail.fail exists (written by hand: the
    // emulators' library runs tail itself).
    c.write_exec(
        "bin/tail",
        "#!/bin/sh\nif [ -e \"$TROIKA_EMU_STATE/tail.fail\" ]; then echo \"tail: error reading 'out/a.1.status': Input/output error\" >&2; exit 1; fi\nexec /usr/bin/tail \"$@\"\n",
    );
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    c.write("state/tail.fail", "");
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    r.expect_code(0);
    let v = &by_script(&r)["a.sh"];
    assert_eq!(words(v), "UNKNOWN");
    assert_eq!(
        v["reason"],
        "its status record could not be read: tail failed with exit code 1: tail: error reading 'out/a.1.status': Input/output error"
    );
    // Read, and not there: VANISHED (the grace period is 0).
    std::fs::remove_file(c.path("state/tail.fail")).unwrap();
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    let v = &by_script(&r)["a.sh"];
    assert_eq!(words(v), "FINISHED/VANISHED");
    assert_eq!(v["reason"], "not in the queue, no status record, not in accounting");
    // Read, and there.
    c.write("out/a.1.status", "start=1\nend=2\nexit=0\n");
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    assert_eq!(words(&by_script(&r)["a.sh"]), "FINISHED/SUCCEEDED");
}

#[test]
fn status_json_names_the_site_and_when_it_was_observed_and_asks_as_the_user() {
    let c = fake_slurm();
    c.write("a.sh", "#!/bin/sh\n");
    c.write("a.sh.jid", "31\n");
    c.write("state/squeue.out", "31|RUNNING|None\n");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = c.troika(&["status", "s", "a.sh", "--json"]);
    r.expect_code(0);
    let v = &by_script(&r)["a.sh"];
    assert_eq!(v["site"], "s");
    let at = v["observed_at"].as_str().unwrap();
    // 2026-12-03T16:10:35Z, within the run.
    let shape: String = at
        .chars()
        .map(|ch| if ch.is_ascii_digit() { '9' } else { ch })
        .collect();
    assert_eq!(shape, "9999-99-99T99:99:99Z", "{at}");
    let secs = |t: &str| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", t, "+%s"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().parse::<u64>().unwrap()
    };
    let seen = secs(at);
    assert!(seen >= before && seen <= before + 60, "{at} vs {before}");
}

#[test]
fn status_u_user_asks_the_site_as_that_user() {
    let c = Case::new("status-user")
        .config("edition: 2026\nledger: ledger\nsites:\n  s:\n    type: slurm\n    connection: ssh\n    host: h\n")
        .fake("ssh", "echo '31|RUNNING|None'");
    c.write("a.sh", "#!/bin/sh\n");
    c.write("a.sh.jid", "31\n");
    let r = c.troika(&["status", "s", "a.sh", "-u", "someone", "--json"]);
    r.expect_code(0);
    let v = &by_script(&r)["a.sh"];
    assert_eq!((words(v).as_str(), v["site"].as_str()), ("RUNNING", Some("s")));
    let calls = c.calls("ssh");
    assert_eq!(calls.len(), 1, "one query: {calls:?}");
    assert!(calls[0].iter().any(|a| a == "someone@h"), "{calls:?}");
    assert!(calls[0].iter().any(|a| a.contains("squeue")), "{calls:?}");
    // Without -u, the connection's own user.
    c.clear_calls();
    c.troika(&["status", "s", "a.sh", "--json"]).expect_code(0);
    assert!(!c.calls("ssh")[0].iter().any(|a| a.contains("someone")));
}

#[test]
fn monitor_logs_the_normalised_state_with_edition_2026_only() {
    let c = fake_slurm();
    c.write("a.sh", "#!/bin/sh\n");
    c.write("a.sh.jid", "31\n");
    c.write("state/squeue.out", "31|PENDING|JobHeldUser\n");
    c.troika(&["monitor", "s", "a.sh"]).expect_code(0);
    has(&action_log(&c, "a.sh", "monitor"), &["; INFO; Job 31: HELD"]);
    assert!(c
        .read("a.sh.stat")
        .starts_with("troika:  31  HELD  (slurm PENDING, JobHeldUser; queue)\n"));
    std::fs::remove_file(c.path("a.sh.monitorlog")).unwrap();
    c.write(
        "config.yml",
        "ledger: ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n",
    );
    c.troika(&["monitor", "s", "a.sh"]).expect_code(0);
    assert!(!action_log(&c, "a.sh", "monitor").contains("HELD"));
    assert!(!c.read("a.sh.stat").contains("troika:"));
}

#[test]
fn status_record_true_turns_records_on_for_a_0_2_7_configuration() {
    let c = Case::new("status-record-027").fake_reading_stdin("sbatch", "echo 'Submitted batch job 5'");
    let submitted = |c: &Case| {
        let calls = c.all_calls();
        calls
            .iter()
            .rev()
            .find(|k| k.name == "sbatch")
            .unwrap()
            .stdin
            .clone()
            .unwrap()
    };
    c.write("config.yml", "sites:\n  s:\n    type: slurm\n    connection: local\n");
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    assert!(!submitted(&c).contains(".status"), "{}", submitted(&c));
    c.write(
        "config.yml",
        "sites:\n  s:\n    type: slurm\n    connection: local\n    status_record: true\n",
    );
    c.write("a.sh", "#!/bin/sh\necho a\n");
    c.troika(&["submit", "s", "a.sh", "-o", "out/a.1"]).expect_code(0);
    let script = submitted(&c);
    assert!(script.contains("\ntroika_status_file=out/a.1.status\n"), "{script}");
    assert!(script.contains("trap 'troika_status_rc=$?;"), "{script}");
}

#[test]
fn the_default_ledger_is_under_xdg_state_home_else_local_state() {
    let c = Case::new("status-ledger-place").fake("sbatch", "echo 'Submitted batch job 5'");
    c.write(
        "config.yml",
        "edition: 2026\nsites:\n  s:\n    type: slurm\n    connection: local\n",
    );
    c.write("a.sh", "#!/bin/sh\necho a\n");
    let day = |dir: &str| -> Vec<String> {
        match std::fs::read_dir(c.path(dir)) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".jsonl"))
                .collect(),
            Err(_) => vec![],
        }
    };
    let submit = |xdg: Option<&str>| {
        let mut cmd = c.command(crate::common::troika_bin());
        cmd.env("HOME", c.path("home"));
        match xdg {
            Some(x) => cmd.env("XDG_STATE_HOME", c.path(x)),
            None => cmd.env_remove("XDG_STATE_HOME"),
        };
        let out = cmd
            .args(["-c", &c.s("config.yml"), "submit", "s", "a.sh", "-o", "out/a.1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    submit(Some("xdg"));
    assert_eq!(day("xdg/troika/ledger").len(), 1);
    assert!(day("home/.local/state/troika/ledger").is_empty());
    submit(None);
    assert_eq!(day("home/.local/state/troika/ledger").len(), 1);
    let text = std::fs::read_to_string(
        c.path("home/.local/state/troika/ledger")
            .join(&day("home/.local/state/troika/ledger")[0]),
    )
    .unwrap();
    assert!(text.contains(&format!("\"script\":\"{}\"", c.s("a.sh"))), "{text}");
}

#[test]
fn concurrent_submissions_never_tear_or_lose_a_ledger_line() {
    const WRITERS: usize = 8;
    const EACH: usize = 500;
    let c = Case::new("status-ledger-concurrent").fake("sbatch", "echo \"Submitted batch job $$\"");
    c.write(
        "config.yml",
        "edition: 2026\nledger: ledger\nsites:\n  s:\n    type: slurm\n    connection: local\n",
    );
    let bin = crate::common::troika_bin();
    let mut children = Vec::new();
    for w in 0..WRITERS {
        c.write(&format!("w{w}.sh"), "#!/bin/sh\necho w\n");
        let mut cmd = c.command("sh");
        cmd.args([
            "-c",
            &format!(
                "i=0; while [ $i -lt {EACH} ]; do \"$0\" -c config.yml submit s w{w}.sh -o out/w{w}.$i >/dev/null 2>&1 || exit 1; i=$((i+1)); done"
            ),
            &bin.display().to_string(),
        ]);
        children.push(cmd.spawn().unwrap());
    }
    for mut ch in children {
        assert!(ch.wait().unwrap().success(), "a submission failed");
    }
    let mut per_script: HashMap<String, usize> = HashMap::new();
    let mut lines = 0;
    for e in std::fs::read_dir(c.path("ledger")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.ends_with('\n'));
            for l in text.lines() {
                let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("torn line ({e}): {l}"));
                *per_script.entry(v["script"].as_str().unwrap().to_string()).or_default() += 1;
                lines += 1;
            }
        }
    }
    assert_eq!(lines, WRITERS * EACH);
    for w in 0..WRITERS {
        assert_eq!(per_script[&c.s(&format!("w{w}.sh"))], EACH, "w{w}.sh");
    }
    // Each script's index has all of its records too (the day may have
    // turned during the run: count over the days).
    let r = c.troika(&["jobs", "--json"]);
    assert_eq!(r.stdout.lines().count(), WRITERS * EACH);
}

#[test]
fn status_all_reads_a_recent_window_unless_told_more() {
    let c = fake_slurm();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let rec = |t: u64, script: &str, jid: &str| {
        format!(
            "{{\"time\":{t},\"site\":\"s\",\"user\":null,\"script\":\"{}\",\"digest\":\"\",\"job_id\":\"{jid}\",\"output\":\"/nonexistent/o\"}}\n",
            c.s(script)
        )
    };
    let day = |t: u64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{t}"), "+%F"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let old = now - 5 * 86_400;
    c.write(&format!("ledger/{}.jsonl", day(old)), rec(old, "old.sh", "51"));
    c.write(&format!("ledger/{}.jsonl", day(now)), rec(now - 60, "new.sh", "52"));
    c.write("state/squeue.out", "51|RUNNING|None\n52|RUNNING|None\n");
    let ids = |r: &TroikaRun| -> Vec<String> {
        r.stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["job_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let r = c.troika(&["status", "s", "--all", "--json"]);
    r.expect_code(0);
    assert_eq!(ids(&r), ["52"]);
    let r = c.troika(&["status", "s", "--all", "--since", "7d", "--json"]);
    r.expect_code(0);
    let mut got = ids(&r);
    got.sort();
    assert_eq!(got, ["51", "52"]);
    c.troika(&["status", "s", "x.sh", "--since", "7d"])
        .expect_code(1)
        .stderr_contains("--since chooses the jobs of --all");
    assert_eq!(c.troika(&["jobs", "--since", "1h"]).stdout.lines().count(), 1);
}
