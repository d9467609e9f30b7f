//! `troika queues` on PBS, Torque, LSF and Flux. No server of these
//! schedulers can run on the development machines: these tests use the
//! emulators of tests/emulators/, built from the schedulers' documented
//! output (qstat(1B) `-Q -f` and `-B -f` of PBS Pro and Torque, bqueues(1)
//! and bparams(1) of LSF, flux-queue(1) and flux-resource(1)), not the real
//! systems. For each site type: every queue with its normalised state for
//! each of the four states, its limits in seconds and MiB, the default flag;
//! one queue in detail; a query that fails (exit 1, with the scheduler's
//! words).

use serde_json::Value;

use crate::common::{emulator_dir, Case};
use crate::queues::by_name;

/// A case with the emulators of `site` and a site of that type named after
/// it. The PBS emulator keeps its server's state in the case's state
/// directory and is reached through fakes that record its calls and apply
/// injected failures (as in status_emulated.rs).
fn case(site: &str) -> Case {
    let mut c = if site == "pbs" {
        let mut c = Case::new("queues-emu-pbs");
        for cmd in ["qsub", "qstat", "qdel", "qsig"] {
            let emulator = emulator_dir(&format!("pbs/{cmd}"));
            c = c.fake(cmd, &format!("exec '{}' \"$@\"", emulator.display()));
        }
        let state = c.state();
        c.env("TROIKA_PBS_EMULATOR_DIR", state)
    } else {
        Case::emulated(site)
    };
    c = c.config(&format!(
        "edition: 2026\nsites:\n  {site}:\n    type: {site}\n    connection: local\n    retries: 0\n"
    ));
    c.write("state/jobs/.keep", "");
    c
}

/// The four states of a queue of PBS or Torque (`queues/NAME` of the
/// emulator: qstat -Q -f attributes), with limits.
fn qstat_queues(c: &Case) {
    c.write(
        "state/queues/workq",
        "resources_max.walltime = 48:00:00\nresources_max.mem = 4gb\nresources_available.nodect = 2\nresources_available.ncpus = 16\nresources_assigned.ncpus = 4\n",
    );
    c.write(
        "state/queues/closing",
        "resources_max.walltime = 3600\nresources_max.mem = 1048576kb\nenabled = False\n",
    );
    c.write("state/queues/paused", "started = False\n");
    c.write("state/queues/off", "enabled = False\nstarted = False\n");
    c.write("state/default_queue", "workq\n");
}

fn check_qstat_queues(c: &Case, site: &str) {
    let r = c.troika(&["queues", site, "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 4, "{}", r.stdout);
    let workq = &q["workq"];
    assert_eq!(workq["site"], site);
    assert_eq!(workq["state"], "up");
    assert_eq!(workq["native_state"], "enabled=True started=True");
    assert_eq!(workq["default"], true);
    assert_eq!(workq["max_walltime"], 48 * 3600);
    assert_eq!(workq["max_memory_mb"], 4096);
    assert_eq!(workq["nodes"], 2);
    assert_eq!(workq["slots"], 16);
    assert_eq!(workq["slots_free"], 12);
    assert_eq!(workq["details"]["queue_type"], "Execution");
    let closing = &q["closing"];
    assert_eq!(closing["state"], "drained");
    assert_eq!(closing["default"], false);
    assert_eq!(closing["max_walltime"], 3600);
    assert_eq!(closing["max_memory_mb"], 1024);
    assert_eq!(q["paused"]["state"], "inactive");
    assert_eq!(q["paused"]["max_walltime"], Value::Null);
    assert_eq!(q["paused"]["slots"], Value::Null);
    assert_eq!(q["off"]["state"], "down");
    assert_eq!(q["off"]["native_state"], "enabled=False started=False");
    // The commands asked.
    let calls = c.calls("qstat");
    assert!(calls.iter().any(|a| a == &["-Q", "-f"]), "{calls:?}");
    assert!(calls.iter().any(|a| a == &["-B", "-f"]), "{calls:?}");
    // One queue in detail.
    let r = c.troika(&["queues", site, "closing"]);
    r.expect_code(0);
    assert!(
        r.stdout.starts_with(
            "name: closing\nstate: drained (enabled=False started=True)\ndefault: no\nmax_walltime: 01:00:00\n"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n  resources_max.mem: 1048576kb\n"), "{}", r.stdout);
}

#[test]
fn pbs_queues() {
    let c = case("pbs");
    qstat_queues(&c);
    check_qstat_queues(&c, "pbs");
    // Without its state directory the emulated server does not answer.
    c.fail("qstat", 162, "qstat: cannot connect to server pbs-emu (errno=15010)");
    c.troika(&["queues", "pbs"])
        .expect_code(1)
        .stderr_contains("qstat: cannot connect to server pbs-emu (errno=15010)");
}

#[test]
fn torque_queues() {
    let c = case("torque");
    qstat_queues(&c);
    check_qstat_queues(&c, "torque");
    // Without queue files: Torque's batch queue, the default.
    let c = case("torque");
    let r = c.troika(&["queues", "torque", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 1, "{}", r.stdout);
    assert_eq!(q["batch"]["state"], "up");
    assert_eq!(q["batch"]["default"], true);
    c.fail(
        "qstat",
        1,
        "qstat: cannot connect to server torque01 (errno=111) Connection refused",
    );
    c.troika(&["queues", "torque"])
        .expect_code(1)
        .stderr_contains("cannot connect to server torque01 (errno=111) Connection refused");
}

#[test]
fn flux_queues() {
    let c = case("flux");
    // No named queues: one anonymous queue, the default.
    let r = c.troika(&["queues", "flux", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 1, "{}", r.stdout);
    assert_eq!(q["default"]["state"], "up");
    assert_eq!(q["default"]["default"], true);
    assert_eq!(q["default"]["nodes"], 1);
    assert_eq!(q["default"]["slots"], 4);
    assert_eq!(q["default"]["max_walltime"], Value::Null);
    // Named queues in the four states.
    c.write("state/queues/batch", "nodes=4\ncores=64\nfree=40\n");
    c.write("state/queues/debug", "submission=disabled\ntimelimit=1800.0\nfree=0\n");
    c.write("state/queues/night", "scheduling=stopped\ntimelimit=28800.0\n");
    c.write("state/queues/old", "submission=disabled\nscheduling=stopped\n");
    c.write("state/default_queue", "batch\n");
    let r = c.troika(&["queues", "flux", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 4, "{}", r.stdout);
    assert_eq!(q["batch"]["state"], "up");
    assert_eq!(q["batch"]["native_state"], "enabled,started");
    assert_eq!(q["batch"]["default"], true);
    assert_eq!(q["batch"]["nodes"], 4);
    assert_eq!(q["batch"]["slots"], 64);
    assert_eq!(q["batch"]["slots_free"], 40);
    assert_eq!(q["debug"]["state"], "drained");
    assert_eq!(q["debug"]["default"], false);
    assert_eq!(q["debug"]["max_walltime"], 1800);
    assert_eq!(q["debug"]["slots_free"], 0);
    assert_eq!(q["night"]["state"], "inactive");
    assert_eq!(q["night"]["max_walltime"], 28800);
    assert_eq!(q["old"]["state"], "down");
    assert_eq!(q["old"]["native_state"], "disabled,stopped");
    let r = c.troika(&["queues", "flux", "debug"]);
    r.expect_code(0);
    assert!(
        r.stdout
            .starts_with("name: debug\nstate: drained (disabled,started)\ndefault: no\nmax_walltime: 00:30:00\n"),
        "{}",
        r.stdout
    );
    c.fail("flux-queue", 1, "flux-queue: ERROR: Unable to connect to Flux");
    c.troika(&["queues", "flux"])
        .expect_code(1)
        .stderr_contains("flux-queue: ERROR: Unable to connect to Flux");
}

#[test]
fn lsf_queues() {
    let c = case("lsf");
    // No queue files: LSF's normal queue, the default.
    let r = c.troika(&["queues", "lsf", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 1, "{}", r.stdout);
    assert_eq!(q["normal"]["state"], "up");
    assert_eq!(q["normal"]["default"], true);
    // The four states of bqueues, with limits.
    c.write(
        "state/queues/normal",
        "max=16\npend=2\nrun=3\nsusp=1\nrunlimit=360.0\nmemlimit=4 G\nhosts=hostA hostB\ndescription=For normal jobs.\n",
    );
    c.write("state/queues/night", "status=Open:Inact\nrunlimit=720.0\n");
    c.write("state/queues/drain", "status=Closed:Active\n");
    c.write("state/queues/off", "status=Closed:Inact\n");
    c.write("state/default_queue", "normal\n");
    let r = c.troika(&["queues", "lsf", "--json"]);
    r.expect_code(0);
    let q = by_name(&r.stdout);
    assert_eq!(q.len(), 4, "{}", r.stdout);
    let normal = &q["normal"];
    assert_eq!(normal["site"], "lsf");
    assert_eq!(normal["state"], "up");
    assert_eq!(normal["native_state"], "Open:Active");
    assert_eq!(normal["default"], true);
    assert_eq!(normal["max_walltime"], 360 * 60);
    assert_eq!(normal["max_memory_mb"], 4096);
    assert_eq!(normal["nodes"], 2);
    assert_eq!(normal["slots"], 16);
    assert_eq!(normal["slots_free"], 12);
    assert_eq!(normal["details"]["NJOBS"], "6");
    assert_eq!(normal["details"]["description"], "For normal jobs.");
    assert_eq!(normal["details"]["HOSTS"], "hostA hostB");
    assert_eq!(q["night"]["state"], "inactive");
    assert_eq!(q["night"]["default"], false);
    assert_eq!(q["night"]["max_walltime"], 720 * 60);
    assert_eq!(q["night"]["nodes"], Value::Null);
    assert_eq!(q["drain"]["state"], "drained");
    assert_eq!(q["drain"]["max_walltime"], Value::Null);
    assert_eq!(q["drain"]["slots"], Value::Null);
    assert_eq!(q["off"]["state"], "down");
    assert_eq!(q["off"]["native_state"], "Closed:Inact");
    // The commands asked.
    let calls = c.calls("bqueues");
    assert!(calls.iter().any(|a| a == &["-w"]), "{calls:?}");
    assert!(calls.iter().any(|a| a == &["-l"]), "{calls:?}");
    assert!(c.calls("bparams").iter().any(|a| a.is_empty()));
    // The table.
    let r = c.troika(&["queues", "lsf"]);
    r.expect_code(0);
    assert!(r.stdout.starts_with("QUEUE "), "{}", r.stdout);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["normal", "up", "yes", "06:00:00", "2", "16", "12", "4G"]),
        "{}",
        r.stdout
    );
    // One queue in detail.
    let r = c.troika(&["queues", "lsf", "drain"]);
    r.expect_code(0);
    assert!(
        r.stdout
            .starts_with("name: drain\nstate: drained (Closed:Active)\ndefault: no\nmax_walltime: unlimited\n"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n  USERS: all\n"), "{}", r.stdout);
    // A queue the site does not have.
    c.troika(&["queues", "lsf", "nightt"])
        .expect_code(1)
        .stderr_contains("Site 'lsf' has no queue 'nightt' (did you mean 'night'?); its queues: ");
    // The long form and the parameters are extras; the listing is not.
    c.fail("bparams", 255, "LSF is down. Please wait ...");
    let r = c.troika(&["queues", "lsf", "--json"]);
    r.expect_code(0);
    assert_eq!(by_name(&r.stdout)["normal"]["default"], false);
    c.fail("bqueues", 255, "LSF is down. Please wait ...");
    c.troika(&["queues", "lsf"])
        .expect_code(1)
        .stderr_contains("LSF is down. Please wait ...");
}
