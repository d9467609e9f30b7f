//! `troika queues`: the real Slurm cluster (partitions debug, short and
//! closed of tests/services/slurm.sh), the real Grid Engine cell, the same
//! through ssh, and fake answers for the states the test systems do not
//! show.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{service, Case, Service, SgeEnv, SshEnv};

/// The queues of `--json`, by name.
pub fn by_name(stdout: &str) -> BTreeMap<String, Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .map(|v| (v["name"].as_str().unwrap().to_string(), v))
        .collect()
}

fn assert_slurm_partitions(q: &BTreeMap<String, Value>, site: &str) {
    let debug = &q["debug"];
    assert_eq!(debug["site"], site);
    assert_eq!(debug["state"], "up");
    assert_eq!(debug["native_state"], "UP");
    assert_eq!(debug["default"], true);
    assert_eq!(debug["max_walltime"], Value::Null, "unlimited");
    assert_eq!(debug["nodes"], 1);
    assert!(debug["slots"].as_u64().unwrap() >= 1);
    assert!(debug["slots_free"].as_u64().unwrap() <= debug["slots"].as_u64().unwrap());
    let short = &q["short"];
    assert_eq!(short["state"], "up");
    assert_eq!(short["default"], false);
    assert_eq!(short["max_walltime"], 1800);
    assert_eq!(short["max_memory_mb"], 2048);
    let closed = &q["closed"];
    assert_eq!(closed["state"], "drained");
    assert_eq!(closed["native_state"], "DRAIN");
    assert_eq!(closed["max_walltime"], 86400);
}

#[test]
fn slurm_partitions() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("queues-slurm").config("edition: 2026\nsites:\n  hpc:\n    type: slurm\n    connection: local\n");
    let r = c.troika(&["queues", "hpc", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 3, "{}", r.stdout);
    assert_slurm_partitions(&q, "hpc");
    assert_eq!(q["short"]["details"]["MaxTime"], "00:30:00");
    // The table: a header, one line per partition.
    let r = c.troika(&["queues", "hpc"]);
    r.expect_code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("QUEUE  ") && lines[0].contains("MAX_WALLTIME"),
        "{}",
        r.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("short ") && l.contains(" 00:30:00 ") && l.ends_with("2G")),
        "{}",
        r.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("closed ") && l.contains(" drained ")),
        "{}",
        r.stdout
    );
    // One partition in detail.
    let r = c.troika(&["queues", "hpc", "short"]);
    r.expect_code(0);
    assert!(
        r.stdout
            .starts_with("name: short\nstate: up (UP)\ndefault: no\nmax_walltime: 00:30:00\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n  MaxMemPerNode: 2048\n"), "{}", r.stdout);
    // A name that is not there.
    c.troika(&["queues", "hpc", "shortt"])
        .expect_code(1)
        .stderr_contains("Site 'hpc' has no queue 'shortt' (did you mean 'short'?); its queues: debug, short, closed");
}

#[test]
fn slurm_partitions_through_ssh() {
    if !service(Service::Slurm) || !service(Service::Sshd) {
        return;
    }
    let e = SshEnv::from_env();
    let c = Case::new("queues-ssh").config(&format!(
        "edition: 2026\nsites:\n  r:\n    type: slurm\n    connection: ssh\n    host: {}\n    user: {}\n    ssh_options: [-F, {}]\n",
        e.host, e.user, e.config
    ));
    let r = c.troika(&["queues", "r", "--json"]);
    r.expect_code(0);
    assert_slurm_partitions(&by_name(&r.stdout), "r");
}

#[test]
fn grid_engine_queues() {
    if !service(Service::Sge) {
        return;
    }
    let e = SgeEnv::from_env();
    let c = Case::new("queues-sge").config("edition: 2026\nsites:\n  sge:\n    type: sge\n    connection: local\n");
    let r = c.troika(&["queues", "sge", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    let all = &q[&e.queue];
    assert_eq!(all["state"], "up", "{}", r.stdout);
    assert_eq!(all["default"], false);
    assert_eq!(all["nodes"], 1);
    assert_eq!(all["slots"], 4);
    assert_eq!(all["max_walltime"], Value::Null);
    assert_eq!(all["details"]["h_rt"], "INFINITY");
    let r = c.troika(&["queues", "sge", &e.queue]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("slots: 4\n") && r.stdout.contains("  hostlist: "),
        "{}",
        r.stdout
    );
}

/// Fake answers: the states the test systems do not show, and failures.
#[test]
fn states_and_failures_from_fake_answers() {
    let c = Case::new("queues-fake")
        .config("edition: 2026\nsites:\n  s:\n    type: slurm\n    connection: local\n    retries: 0\n  g:\n    type: sge\n    connection: local\n  p:\n    type: lsf\n    connection: local\n  d:\n    type: direct\n    connection: local\n")
        .fake("scontrol", "cat \"$S/scontrol.out\"")
        .fake("sinfo", "echo 'down|0/0/16/16'")
        .fake("qstat", "cat \"$S/qstat.out\"")
        .fake("qconf", "cat \"$S/qconf.out\"");
    c.write(
        "state/scontrol.out",
        "PartitionName=down Default=NO MaxTime=2-00:00:00 State=DOWN TotalCPUs=16 TotalNodes=2 MaxMemPerNode=UNLIMITED\n\
         PartitionName=idle Default=NO MaxTime=60 State=INACTIVE TotalCPUs=16 TotalNodes=2 MaxMemPerCPU=1024\n",
    );
    let r = c.troika(&["queues", "s", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q["down"]["state"], "down");
    assert_eq!(q["down"]["max_walltime"], 172800);
    assert_eq!(q["down"]["slots_free"], 0);
    assert_eq!(q["down"]["max_memory_mb"], Value::Null);
    assert_eq!(q["idle"]["state"], "inactive");
    assert_eq!(q["idle"]["max_walltime"], 3600);
    assert_eq!(q["idle"]["slots_free"], Value::Null, "sinfo did not name it");
    // Grid Engine: a queue with every instance disabled is drained, one
    // whose hosts are unknown is down; the limits of its configuration.
    c.write(
        "state/qstat.out",
        "queuename                      qtype resv/used/tot. load_avg arch          states\n\
         ---------------------------------------------------------------------------------\n\
         night.q@n1                     BIP   0/2/4          0.50     lx-amd64      d\n\
         night.q@n2                     BIP   0/0/4          0.10     lx-amd64      d\n\
         ---------------------------------------------------------------------------------\n\
         gpu.q@g1                       BIP   0/0/2          -NA-     lx-amd64      au\n\
         ---------------------------------------------------------------------------------\n\
         all.q@n1                       BIP   1/1/8          0.50     lx-amd64\n\
         \x20   365 0.55500 tok        root         r     12/03/2026 13:56:55     1\n",
    );
    c.write(
        "state/qconf.out",
        "qname                 night.q\nhostlist              n1 n2\nh_rt                  08:00:00\nh_vmem                4G\n\
         qname                 gpu.q\nhostlist              g1\nh_rt                  INFINITY\nh_vmem                INFINITY\n\
         qname                 all.q\nhostlist              n1\nh_rt                  INFINITY\nh_vmem                INFINITY\n",
    );
    let r = c.troika(&["queues", "g", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q["night.q"]["state"], "drained");
    assert_eq!(q["night.q"]["native_state"], "d,d");
    assert_eq!(q["night.q"]["nodes"], 2);
    assert_eq!(q["night.q"]["slots"], 8);
    assert_eq!(q["night.q"]["slots_free"], 6);
    assert_eq!(q["night.q"]["max_walltime"], 28800);
    assert_eq!(q["night.q"]["max_memory_mb"], 4096);
    assert_eq!(q["gpu.q"]["state"], "down");
    assert_eq!(q["all.q"]["state"], "up");
    assert_eq!(q["all.q"]["slots_free"], 6);
    // A query that fails is an error with the scheduler's words.
    c.fail(
        "scontrol",
        1,
        "slurm_load_partitions: Unable to contact slurm controller (connect failure)",
    );
    c.troika(&["queues", "s"])
        .expect_code(1)
        .stderr_contains("Unable to contact slurm controller");
    // LSF asks bqueues, which this machine does not have.
    c.troika(&["queues", "p"]).expect_code(1).stderr_contains("bqueues");
    // Site types that cannot tell.
    c.troika(&["queues", "d"])
        .expect_code(1)
        .stderr_contains("This site type has no queues to list");
}
