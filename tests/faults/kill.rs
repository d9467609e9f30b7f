//! Kills that meet faults: the state query fails, the job already ended,
//! the submission is still running.

use std::time::Duration;

use crate::common::{service, Case, Service};
use crate::{bash, one_at_a_time, which};

/// A Slurm site whose squeue always fails the way an overloaded
/// slurmctld makes it fail; sbatch and scancel are the real ones.
fn failing_squeue(edition: bool) -> Case {
    let config = format!(
        "{}sites:\n  slurm:\n    type: slurm\n    connection: local\n    retry_delay: 0.1\n    retry_max_delay: 0.2\n    retries: 2\n",
        if edition { "edition: 2026\n" } else { "" }
    );
    Case::new("faults-kill").config(&config).fake(
        "squeue",
        "echo 'slurm_load_jobs error: Socket timed out on send/recv operation' >&2\nexit 1",
    )
}

fn slurm_state(jid: &str) -> String {
    bash(&format!("squeue -h -t all -o %T -j {jid},{jid} 2>/dev/null | head -1"))
}

/// kill while every state query fails: the cancel is sent all the same
/// (with `edition: 2026`), and the job ends. A configuration without an
/// edition stops as 0.2.7 did, and the job keeps running.
#[test]
fn kill_while_the_state_query_fails() {
    if !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    for edition in [true, false] {
        let c = failing_squeue(edition);
        c.write("out/.keep", "");
        c.write_exec("job.sh", "#!/bin/bash\nsleep 300\n");
        c.troika(&["submit", "slurm", "job.sh", "-o", &c.s("out/job.out")])
            .expect_code(0);
        let jid = c.read("job.sh.jid").trim().to_string();
        crate::wait("the job to run", Duration::from_secs(60), || {
            slurm_state(&jid) == "RUNNING"
        });
        let r = c.troika(&["kill", "slurm", "job.sh"]);
        if edition {
            r.expect_code(0)
                .stderr_contains("cancelling job")
                .stderr_contains("without knowing its state");
            crate::wait("the job to be cancelled", Duration::from_secs(60), || {
                matches!(slurm_state(&jid).as_str(), "CANCELLED" | "")
            });
            // The state query before the cancel (the report after the kill
            // asks again, and may retry too).
            let log = c.read("job.sh.killlog");
            let before_cancel = log.split("Kill of job").next().unwrap_or_default();
            assert!(log.contains("Kill of job"), "{log}");
            assert_eq!(
                before_cancel.matches("attempt ").count(),
                2,
                "two retries of squeue before the cancel: {log}"
            );
        } else {
            r.expect_code(1).stderr_contains("Socket timed out");
            assert_eq!(slurm_state(&jid), "RUNNING", "0.2.7 never sent the cancel");
            bash(&format!("scancel {jid}"));
        }
    }
}

/// kill of a job that ended, twice in a row: VANISHED both times, exit 0.
#[test]
fn kill_of_an_ended_job_twice() {
    if !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let c = Case::new("faults-kill-ended")
        .config("edition: 2026\nsites:\n  slurm:\n    type: slurm\n    connection: local\n");
    c.write("out/.keep", "");
    c.write_exec("job.sh", "#!/bin/bash\ntrue\n");
    c.troika(&["submit", "slurm", "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    let jid = c.read("job.sh.jid").trim().to_string();
    crate::wait("the job to leave the queue", Duration::from_secs(120), || {
        slurm_state(&jid).is_empty()
    });
    for _ in 0..2 {
        c.troika(&["kill", "slurm", "job.sh"]).expect_code(0);
        let log = c.read("job.sh.killlog");
        assert!(log.contains(&format!("Kill of job {jid}: VANISHED")), "{log}");
    }
}

/// kill during the submission of the same script: the kill says that a
/// submission is under way and that there is no job id yet; the submission
/// goes on and ends with its job.
#[test]
fn kill_during_the_submission() {
    if !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let real = which("sbatch");
    let c = Case::new("faults-kill-during")
        .config("edition: 2026\nsites:\n  slurm:\n    type: slurm\n    connection: local\n");
    // sbatch waits for the test to let it go, once the kill has answered
    // (30 s at most, should the test fail before).
    let go = c.path("go");
    let c = c.fake(
        "sbatch",
        &format!(
            "i=0; while [ ! -e '{}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done\nexec '{real}' \"$@\"",
            go.display()
        ),
    );
    c.write("out/.keep", "");
    c.write_exec("job.sh", "#!/bin/bash\ntrue\n");
    std::thread::scope(|s| {
        let submit = s.spawn(|| c.troika(&["submit", "slurm", "job.sh", "-o", &c.s("out/job.out")]));
        crate::wait("the submission to start", Duration::from_secs(10), || {
            c.read_or_empty("state/calls.log").contains("sbatch")
        });
        c.troika(&["kill", "slurm", "job.sh"])
            .expect_code(1)
            .stderr_contains("being submitted");
        std::fs::write(&go, "").unwrap();
        submit.join().unwrap().expect_code(0);
    });
    assert!(!c.read("job.sh.jid").trim().is_empty());
}
