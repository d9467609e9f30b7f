//! `hold` and `troika release`: a held job waits on the real Slurm
//! cluster and the real Grid Engine cell until it is released, then runs.

use std::time::Duration;

use serde_json::Value;

use crate::common::{poll_until, service, Case, Service};

/// The state (`STATE` or `STATE/OUTCOME`) troika tells of `job.sh`.
fn state(c: &Case, site: &str) -> String {
    let r = c.troika(&["status", site, "job.sh", "--json"]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    match v["outcome"].as_str() {
        Some(o) => format!("{}/{o}", v["state"].as_str().unwrap()),
        None => v["state"].as_str().unwrap().to_string(),
    }
}

fn held_then_released(site: &str, config: &str, cancel: &'static str) {
    let c = Case::new(&format!("hold-{site}")).config(config);
    c.write("out/.keep", "");
    c.write_exec("job.sh", "#!/bin/bash\n# troika hold=yes\n# troika name=held\ntrue\n");
    c.troika(&["submit", site, "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    let jid = c.read("job.sh.jid").trim().to_string();
    let c = c.at_end(move |_| {
        let _ = std::process::Command::new(cancel).arg(&jid).output();
    });
    poll_until("the job to be seen held", Duration::from_secs(60), || {
        (state(&c, site) == "HELD").then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(state(&c, site), "HELD", "a held job does not start by itself");
    c.troika(&["release", site, "job.sh"]).expect_code(0);
    assert!(c.read("job.sh.releaselog").contains("released"));
    poll_until("the released job to run", Duration::from_secs(180), || {
        let s = state(&c, site);
        matches!(s.as_str(), "RUNNING" | "COMPLETING" | "FINISHED/SUCCEEDED").then_some(())
    });
}

#[test]
fn slurm_held_job_runs_after_release() {
    if !service(Service::Slurm) {
        return;
    }
    held_then_released(
        "slurm",
        "edition: 2026\nledger: ledger\nsites:\n  slurm:\n    type: slurm\n    connection: local\n",
        "scancel",
    );
}

#[test]
fn grid_engine_held_job_runs_after_release() {
    if !service(Service::Sge) {
        return;
    }
    held_then_released(
        "sge",
        "edition: 2026\nledger: ledger\nsites:\n  sge:\n    type: sge\n    connection: local\n",
        "qdel",
    );
}

#[test]
fn release_commands_and_site_types_that_cannot() {
    let c = Case::new("hold-dry").config(
        "edition: 2026\nsites:\n  p: {type: pbs, connection: local}\n  t: {type: torque, connection: local, qrls_command: [my-qrls, -x]}\n  l: {type: lsf, connection: local}\n  f: {type: flux, connection: local}\n  d: {type: direct, connection: local}\n",
    );
    c.write_exec("job.sh", "#!/bin/bash\n# troika hold=true\ntrue\n");
    c.troika(&["-n", "submit", "p", "job.sh", "-o", &c.s("out")])
        .expect_code(0);
    assert!(c.read("job.sh").contains("#PBS -h\n"), "{}", c.read("job.sh"));
    for (site, line) in [
        ("p", "Execute: 'qrls' '7'"),
        ("t", "Execute: 'my-qrls' '-x' '7'"),
        ("l", "Execute: 'bresume' '7'"),
        ("f", "Execute: 'flux' 'job' 'urgency' '7' 'default'"),
    ] {
        c.troika(&["-n", "release", site, "job.sh", "-j", "7"]).expect_code(0);
        let log = c.read("job.sh.releaselog");
        assert!(log.contains(line), "{site}: {log}");
    }
    c.troika(&["release", "d", "job.sh", "-j", "7"])
        .expect_code(1)
        .stderr_contains("This site type cannot release a held job");
    for (site, line) in [("l", "#BSUB -H\n"), ("f", "#flux: --urgency=hold\n")] {
        let name = format!("{site}.sh");
        c.write_exec(&name, "#!/bin/bash\n# troika hold=true\ntrue\n");
        c.troika(&["-n", "submit", site, &name, "-o", &c.s("out")])
            .expect_code(0);
        assert!(c.read(&name).contains(line), "{site}: {}", c.read(&name));
    }
    // hold=no is no hold.
    c.write_exec("no.sh", "#!/bin/bash\n# troika hold=no\ntrue\n");
    c.troika(&["-n", "submit", "p", "no.sh", "-o", &c.s("out")])
        .expect_code(0);
    assert!(!c.read("no.sh").contains("#PBS -h"), "{}", c.read("no.sh"));
}
