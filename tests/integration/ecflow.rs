//! ecFlow end to end: a real ecFlow server (started by
//! `tests/services/ecflow.sh up` in a scratch state directory, on a free
//! port) runs suites whose `ECF_JOB_CMD`, `ECF_KILL_CMD` and
//! `ECF_STATUS_CMD` call the troika binary under test, on a direct site and
//! on the real Slurm cluster of `tests/services/slurm.sh up`.
//!
//! 1. 20 short tasks (10 direct, 10 Slurm) run to completion.
//! 2. 5 long tasks start; `ecflow_client --status` makes troika write their
//!    `.stat` files; `ecflow_client --kill` makes troika kill them, and ecFlow
//!    must show each aborted, through the job's own trap (SIGTERM) or
//!    through the `abort_on_ecflow` hook (SIGKILL, a pending job cancelled).
//!
//! Without ecFlow installed the test is skipped, and without Slurm every
//! task runs on the direct site, loudly, or the test fails under
//! `TROIKA_TEST_REQUIRE_SERVICES=1` (see `common::Service`). It fails when
//! an installed ecFlow cannot be started.

use std::time::{Duration, Instant};

use crate::common::{read_or_empty, service, service_for, sibling, test_name, Service};
use crate::ecflow_kit::{diagnostics, setup, suite_def, write};

const DEADLINE: Duration = Duration::from_secs(60);
const QUICK: &str = "troika_quick";
const LONG: &str = "troika_long";

/// The troika configuration used by the suites.
const CONFIG: &str = "\
sites:
  direct:
    type: direct
    connection: local
    post_kill: [abort_on_ecflow]
  direct-kill9:
    type: direct
    connection: local
    kill_sequence: [[0, KILL]]
    post_kill: [abort_on_ecflow]
  slurm:
    type: slurm
    connection: local
    command_timeout: 60
    kill_sequence: [[0, TERM]]
    post_kill: [abort_on_ecflow]
    directive_translate: &ecf {ecflow_name: null, ecflow_pass: null, ecflow_host: null, ecflow_port: null, ecflow_tryno: null}
  slurm-kill9:
    type: slurm
    connection: local
    command_timeout: 60
    kill_sequence: [[0, KILL]]
    post_kill: [abort_on_ecflow]
    directive_translate: *ecf
";

#[test]
fn ecflow_runs_kills_and_monitors_jobs_through_troika() {
    if !service(Service::Ecflow) {
        return;
    }
    // Without Slurm, its half of the tasks runs on the direct site.
    let slurm = service_for(Service::Slurm, &format!("{} (Slurm tasks)", test_name()));
    let started = Instant::now();
    let (scratch, cfg, server) = setup("ecflow", CONFIG);
    let dir = scratch.path().to_path_buf();
    let slurm_site = |s: &str| if slurm { s.to_string() } else { "direct".to_string() };

    // 1. Twenty short tasks, half direct, half on Slurm.
    let mut quick = Vec::new();
    for i in 1..=10 {
        quick.push((format!("d{i:02}"), "direct".to_string()));
        quick.push((format!("s{i:02}"), slurm_site("slurm")));
    }
    for (task, site) in &quick {
        write(
            &dir.join(format!("files/{task}.ecf")),
            &format!("%include <head.h>\necho \"task %ECF_NAME% on {site}: done\"\n%include <tail.h>\n"),
        );
        server
            .jobs
            .borrow_mut()
            .push((site.clone(), dir.join(format!("ecf/{QUICK}/{task}.job1"))));
    }
    server.suites.borrow_mut().push(QUICK.to_string());
    let def = dir.join("quick.def");
    write(&def, &suite_def(QUICK, &dir, &cfg, &quick));
    server.client(&[&format!("--load={}", def.display())]);
    server.client(&[&format!("--begin={QUICK}")]);
    let tasks = server.wait_for(
        QUICK,
        "20 tasks to complete",
        false,
        |t| t.len() == quick.len() && t.values().all(|s| s.state == "complete"),
        &dir,
        DEADLINE,
    );
    assert_eq!(tasks.len(), 20);
    for (task, site) in &quick {
        let job = dir.join(format!("ecf/{QUICK}/{task}.job1"));
        let out = read_or_empty(dir.join(format!("ecf/{QUICK}/{task}.1")));
        assert!(
            out.contains(&format!("task /{QUICK}/{task} on {site}: done")),
            "{task}: job output {out:?}"
        );
        let jid = read_or_empty(sibling(&job, ".jid"));
        assert!(
            !jid.trim().is_empty() && jid.trim().bytes().all(|c| c.is_ascii_digit()),
            "{task}: job id {jid:?}"
        );
        let orig = std::fs::read_to_string(sibling(&job, ".orig")).unwrap();
        assert!(
            orig.contains(&format!("# troika ecflow_name=/{QUICK}/{task}")),
            "{orig}"
        );
        let generated = std::fs::read_to_string(&job).unwrap();
        assert!(
            !generated.contains("# troika"),
            "{task}: directives left in {generated}"
        );
        if site.starts_with("slurm") {
            assert!(generated.contains("#SBATCH --output="), "{task}: {generated}");
        }
        let sub = std::fs::read_to_string(sibling(&job, ".sub")).unwrap();
        assert!(!sub.contains("WARNING") && !sub.contains("CRITICAL"), "{task}: {sub}");
    }
    eprintln!("20 tasks complete after {:?}", started.elapsed());

    // 2. Long tasks: started, monitored, killed.
    // (name, site, extra script lines, abort reasons accepted)
    let mut long: Vec<(&str, String, &str, &[&str])> = vec![
        ("dterm", "direct".into(), "", &["trap"]),
        ("dkill", "direct-kill9".into(), "", &["Killed forcefully"]),
    ];
    if slurm {
        long.push(("sterm", "slurm".into(), "", &["trap"]));
        // The batch script may still run its exit trap as Slurm ends the
        // job: either abort reaches ecFlow first.
        long.push(("skill", "slurm-kill9".into(), "", &["Killed forcefully", "trap"]));
        // Held in the queue: cancelled before it starts.
        long.push((
            "spend",
            "slurm".into(),
            "#SBATCH --begin=now+3600\n",
            &["Cancelled before starting"],
        ));
    }
    // In the background so that the shell's traps run at once; waited
    // for by its pid, whose status is the sleep's: a sleep killed before
    // the shell (SIGKILL to every process of the job, in no set order)
    // must fail the task, where a bare `wait` returns 0 and the tail would
    // report it complete.
    for (task, site, extra, _) in &long {
        write(
            &dir.join(format!("files/{task}.ecf")),
            &format!(
                "%include <head.h>\n{extra}echo \"task %ECF_NAME% started\"\nsleep 600 &\nwait $!\n%include <tail.h>\n"
            ),
        );
        server
            .jobs
            .borrow_mut()
            .push((site.clone(), dir.join(format!("ecf/{LONG}/{task}.job1"))));
    }
    let pairs: Vec<(String, String)> = long.iter().map(|(t, s, _, _)| (t.to_string(), s.clone())).collect();
    server.suites.borrow_mut().push(LONG.to_string());
    let def = dir.join("long.def");
    write(&def, &suite_def(LONG, &dir, &cfg, &pairs));
    server.client(&[&format!("--load={}", def.display())]);
    server.client(&[&format!("--begin={LONG}")]);
    let job = |task: &str| dir.join(format!("ecf/{LONG}/{task}.job1"));
    server.wait_for(
        LONG,
        "the long tasks to run (the pending one to be submitted)",
        false,
        |t| {
            long.iter().all(|(name, _, extra, _)| {
                let want = if extra.is_empty() { "active" } else { "submitted" };
                t.get(*name).is_some_and(|s| s.state == want) && sibling(&job(name), ".jid").exists()
            })
        },
        &dir,
        DEADLINE,
    );

    // Status requests: ecFlow runs ECF_STATUS_CMD, troika writes <job>.stat.
    for (task, ..) in &long {
        server.client(&["--status", &format!("/{LONG}/{task}")]);
    }
    for (task, site, ..) in &long {
        let stat = sibling(&job(task), ".stat");
        let jid = std::fs::read_to_string(sibling(&job(task), ".jid")).unwrap();
        let jid = jid.trim();
        let start = Instant::now();
        let text = loop {
            let text = read_or_empty(&stat);
            if text.contains(jid) {
                break text;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{task}: no status with job {jid} in {} after {:?}: {text:?}\n{}",
                stat.display(),
                start.elapsed(),
                diagnostics(&dir, LONG)
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if site.starts_with("slurm") {
            assert!(text.contains("JOBID"), "{task}: squeue output expected: {text}");
        } else {
            assert!(
                text.contains(&job(task).display().to_string()),
                "{task}: ps output expected: {text}"
            );
        }
    }

    // Kill requests: ecFlow runs ECF_KILL_CMD, troika kills; every task must
    // end up aborted, with the reason of the path it took.
    for (task, ..) in &long {
        server.client(&["--kill", &format!("/{LONG}/{task}")]);
    }
    let tasks = server.wait_for(
        LONG,
        "the killed tasks to abort",
        true,
        |t| {
            long.iter()
                .all(|(name, ..)| t.get(*name).is_some_and(|s| s.state == "aborted"))
        },
        &dir,
        DEADLINE,
    );
    for (task, _, _, reasons) in &long {
        let st = &tasks[*task];
        assert!(
            reasons.contains(&st.abort_reason.as_str()),
            "{task}: aborted with reason {:?}, expected one of {reasons:?}\n{}",
            st.abort_reason,
            diagnostics(&dir, LONG)
        );
        let kill_out = read_or_empty(sibling(&job(task), ".kill"));
        assert!(!kill_out.contains("CRITICAL"), "{task}: troika kill failed: {kill_out}");
        let killlog = read_or_empty(sibling(&job(task), ".killlog"));
        let hook_called = killlog.contains("'ecflow_client' '--abort=");
        let expect_hook = !reasons.contains(&"trap");
        let expect_hook = expect_hook || *task == "skill";
        assert_eq!(
            hook_called, expect_hook,
            "{task}: abort_on_ecflow call in the kill log: {hook_called}, expected {expect_hook}\n{killlog}"
        );
    }
    eprintln!("ecFlow test done in {:?}", started.elapsed());
    drop(server);
    drop(scratch);
}
