//! The real Grid Engine cell with status records (edition 2026): a job that
//! ended is answered from its record while qstat has forgotten it, and from
//! `qacct` once the record is deleted; a job killed at its 1-minute walltime
//! (SIGKILL: its record has a start and no end) is a TIMEOUT from accounting.

use std::time::Duration;

use crate::common::{service, Service};
use crate::status::{poll_status, sge_case, submit_all, words};

#[test]
fn sge_jobs_answered_from_their_records_then_accounting() {
    if !service(Service::Sge) {
        return;
    }
    let c = sge_case("status-sge-record", "");
    let jobs: &[(&str, &str)] = &[
        ("ok.sh", "#!/bin/bash\ntrue\n"),
        ("fail.sh", "#!/bin/bash\nexit 3\n"),
        ("timeout.sh", "#!/bin/bash\n# troika walltime=00:01:00\nsleep 600\n"),
    ];
    submit_all(&c, "sge", jobs);
    assert!(
        c.read("timeout.sh").contains("#$ -l h_rt=00:01:00\n"),
        "{}",
        c.read("timeout.sh")
    );
    // ok.sh and fail.sh end at once: qstat no longer lists them, their
    // records tell.
    let m = poll_status(&c, "sge", &["ok.sh", "fail.sh"], Duration::from_secs(120), |_, v| {
        v["state"] == "FINISHED"
    });
    assert_eq!(words(&m["ok.sh"]), "FINISHED/SUCCEEDED", "{}", m["ok.sh"]);
    assert_eq!(m["ok.sh"]["source"], "status-record");
    assert_eq!(words(&m["fail.sh"]), "FINISHED/FAILED", "{}", m["fail.sh"]);
    assert_eq!(m["fail.sh"]["source"], "status-record");
    assert_eq!(m["fail.sh"]["exit_code"], 3);
    // Without the record: Grid Engine's accounting.
    std::fs::remove_file(c.path("out/fail.sh.out.status")).unwrap();
    let m = poll_status(&c, "sge", &["fail.sh"], Duration::from_secs(60), |_, v| {
        v["state"] == "FINISHED"
    });
    assert_eq!(m["fail.sh"]["source"], "accounting", "{}", m["fail.sh"]);
    assert_eq!(words(&m["fail.sh"]), "FINISHED/FAILED");
    assert_eq!(m["fail.sh"]["exit_code"], 3);
    // The 1-minute job runs, then Grid Engine kills it at h_rt.
    let m = poll_status(&c, "sge", &["timeout.sh"], Duration::from_secs(60), |_, v| {
        words(v) == "RUNNING"
    });
    assert_eq!(m["timeout.sh"]["native_state"], "r");
    let m = poll_status(&c, "sge", &["timeout.sh"], Duration::from_secs(180), |_, v| {
        v["state"] == "FINISHED"
    });
    assert_eq!(words(&m["timeout.sh"]), "FINISHED/TIMEOUT", "{}", m["timeout.sh"]);
    assert_eq!(m["timeout.sh"]["source"], "accounting");
    let reason = m["timeout.sh"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("h_rt"), "{}", m["timeout.sh"]);
}
