//! An ecFlow suite on the real Slurm while slurmctld restarts, twice: no
//! task may abort. `TROIKA_TEST_ECFLOW_TASKS` sets the number of tasks
//! (100 by default; 1000 for the long run).

use std::time::{Duration, Instant};

use crate::common::{read_or_empty, service, sibling, Service};
use crate::ecflow_kit::{setup, suite_def, write};
use crate::{one_at_a_time, service_script, stop_process};

const SUITE: &str = "troika_restarts";

const CONFIG: &str = "\
edition: 2026
sites:
  slurm:
    type: slurm
    connection: local
    command_timeout: 60
    status_record: false
    retry_delay: 2
    retry_max_delay: 10
    directive_translate: {ecflow_name: null, ecflow_pass: null, ecflow_host: null, ecflow_port: null, ecflow_tryno: null}
";

#[test]
fn ecflow_suite_rides_out_slurmctld_restarts() {
    if !service(Service::Ecflow) || !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let n: usize = std::env::var("TROIKA_TEST_ECFLOW_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let started = Instant::now();
    let (scratch, cfg, server) = setup("faults-ecflow", CONFIG);
    let dir = scratch.path().to_path_buf();
    let tasks: Vec<(String, String)> = (0..n).map(|i| (format!("t{i:04}"), "slurm".to_string())).collect();
    for (task, _) in &tasks {
        write(
            &dir.join(format!("files/{task}.ecf")),
            "%include <head.h>\necho \"task %ECF_NAME% done\"\n%include <tail.h>\n",
        );
        server
            .jobs
            .borrow_mut()
            .push(("slurm".into(), dir.join(format!("ecf/{SUITE}/{task}.job1"))));
    }
    // At most 20 tasks submitted or running at a time, as a suite would.
    let def =
        suite_def(SUITE, &dir, &cfg, &tasks).replacen("\n  task ", "\n  limit slots 20\n  inlimit slots\n  task ", 1);
    let def_path = dir.join("restarts.def");
    write(&def_path, &def);
    server.suites.borrow_mut().push(SUITE.to_string());
    server.client(&[&format!("--load={}", def_path.display())]);
    server.client(&[&format!("--begin={SUITE}")]);
    let limit = Duration::from_secs(300 + 2 * n as u64);
    // Two restarts of slurmctld: after a third of the tasks completed, a
    // short one (sbatch waits for the controller itself), and after two
    // thirds a long one (sbatch gives up after about 30 s: troika retries).
    for (i, share, outage) in [(1, n / 3, 5), (2, 2 * n / 3, 40)] {
        server.wait_for(
            SUITE,
            &format!("{share} tasks to complete"),
            false,
            |t| t.values().filter(|s| s.state == "complete").count() >= share,
            &dir,
            limit,
        );
        stop_process("slurmctld");
        eprintln!("slurmctld stopped ({i} of 2) after {:?}", started.elapsed());
        std::thread::sleep(Duration::from_secs(outage));
        service_script("slurm", "up");
        eprintln!("slurmctld started again after {:?}", started.elapsed());
    }
    let states = server.wait_for(
        SUITE,
        &format!("{n} tasks to complete"),
        false,
        |t| t.len() == n && t.values().all(|s| s.state == "complete"),
        &dir,
        limit,
    );
    assert_eq!(states.len(), n);
    let mut retried = 0;
    for (task, _) in &tasks {
        let job = dir.join(format!("ecf/{SUITE}/{task}.job1"));
        let sub = read_or_empty(sibling(&job, ".sub"));
        assert!(!sub.contains("CRITICAL"), "{task}: {sub}");
        retried += usize::from(sub.contains("failed transiently"));
    }
    eprintln!(
        "{n} ecFlow tasks on Slurm with slurmctld restarted twice: all complete, {retried} submissions retried, in {:?}",
        started.elapsed()
    );
    assert!(retried > 0, "no submission met the long outage");
    drop(server);
    drop(scratch);
}
