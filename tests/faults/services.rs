//! Submissions while the real services fail: a wrapped sbatch that fails
//! before or after submitting, slurmctld stopped for 20 s, sge_qmaster
//! stopped and started, sshd restarted and the ssh master killed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::common::{service, Case, Service, SgeEnv, SshEnv};
use crate::{all_submitted, bash, count_logs, names, one_at_a_time, service_script, submit_all, which, Outage};

/// A Slurm site with quick retries.
fn slurm_config(extra: &str) -> String {
    format!(
        "edition: 2026\nledger: ledger\nsites:\n  slurm:\n    type: slurm\n    connection: local\n    status_record: false\n    retry_delay: 0.2\n    retry_max_delay: 2\n{extra}"
    )
}

/// Slurm's jobs whose names are among `names`, from the queue and from
/// accounting (every user's): the ids of each name.
fn slurm_jobs(names: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let wanted: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let text =
        bash("squeue -a -h -t all -o '%i|%j'; sacct -a -X -n -P -S now-7200 -o JobIDRaw,JobName 2>/dev/null || true");
    let mut jobs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some((id, name)) = line.split_once('|') {
            if wanted.contains(name.trim()) {
                jobs.entry(name.trim().to_string())
                    .or_default()
                    .insert(id.trim().to_string());
            }
        }
    }
    jobs
}

/// Waits until Slurm shows every name, then asserts each once, with the
/// id troika recorded; then cancels those still queued.
fn each_job_once_in_slurm(ids: &BTreeMap<String, String>) {
    let names: Vec<String> = ids.keys().cloned().collect();
    let start = Instant::now();
    let jobs = loop {
        let jobs = slurm_jobs(&names);
        if jobs.len() == names.len() || start.elapsed() > Duration::from_secs(180) {
            break jobs;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let missing: Vec<&String> = names.iter().filter(|n| !jobs.contains_key(*n)).collect();
    assert!(missing.is_empty(), "jobs lost: {missing:?}");
    let twice: Vec<_> = jobs.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "jobs submitted twice: {twice:?}");
    for (n, id) in ids {
        assert!(jobs[n].contains(id), "{n}: troika kept {id}, Slurm has {:?}", jobs[n]);
    }
    // The jobs still queued would keep the node busy for the tests after.
    let all: Vec<&String> = ids.values().collect();
    let _ = std::process::Command::new("scancel").args(&all).output();
}

/// A wrapper sbatch that fails 1 time in 10 before submitting ("Unable to
/// contact slurm controller") and 1 time in 10 after ("Socket timed out"),
/// as the real one does when slurmctld is down or overloaded: every
/// submission ends with exactly one job.
#[test]
fn slurm_wrapped_sbatch_failing_before_and_after_submitting() {
    if !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let n: usize = std::env::var("TROIKA_TEST_FAULT_SUBMISSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let real = which("sbatch");
    let c = Case::new("faults-sbatch").config(&slurm_config("")).fake(
        "sbatch",
        &format!(
            r#"r=$(( $(od -An -N2 -tu2 /dev/urandom) % 10 ))
if [ "$r" = 0 ]; then
    echo before >>"$S/faults"
    echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2
    exit 1
fi
if [ "$r" = 1 ]; then
    echo after >>"$S/faults"
    '{real}' "$@" >/dev/null || exit
    echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
    exit 1
fi
exec '{real}' "$@""#
        ),
    );
    let names = names("fltwrap", n);
    let start = Instant::now();
    let runs = submit_all(&c, "slurm", &names, "true", 4, &|_| {});
    let took = start.elapsed();
    let ids = all_submitted(&c, &runs);
    each_job_once_in_slurm(&ids);
    let faults = c.read_or_empty("state/faults");
    let before = faults.lines().filter(|l| *l == "before").count();
    let after = faults.lines().filter(|l| *l == "after").count();
    let adopted = count_logs(&c, &names, "carries this submission's tag");
    eprintln!(
        "{n} submissions in {took:.1?}: {before} failed before submitting, {after} after; {adopted} jobs adopted, 0 lost, 0 twice"
    );
    // The faults did happen (about n/10 each), and each one after
    // submitting was ridden out by adopting the job, not by a new one.
    assert!(
        before >= n / 25 && after >= n / 25,
        "too few faults: {before} before, {after} after"
    );
    assert_eq!(adopted, after, "each job submitted before a lost answer is adopted");
}

/// A script's own comment on the real Slurm: kept, troika's tag after it,
/// and a job whose answer was lost is found by its tag all the same.
#[test]
fn slurm_script_comment_kept_and_its_job_found_by_the_tag() {
    if !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let real = which("sbatch");
    let c = Case::new("faults-comment")
        .config(&slurm_config(""))
        .remove_jobs_at_end("scancel")
        .fake(
            "sbatch",
            &format!(
                r#"if [ ! -e "$S/once" ]; then
    touch "$S/once"
    '{real}' "$@" >/dev/null || exit
    echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
    exit 1
fi
exec '{real}' "$@""#
            ),
        );
    c.write("out/.keep", "");
    c.write_exec("job.sh", "#!/bin/bash\n#SBATCH --comment=\"nightly run\"\nsleep 120\n");
    c.troika(&["submit", "slurm", "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    let jid = c.read("job.sh.jid").trim().to_string();
    assert_eq!(c.calls("sbatch").len(), 1, "adopted, not submitted again");
    let log = c.read("job.sh.submitlog");
    assert!(
        log.contains(&format!("Job {jid} carries this submission's tag")),
        "{log}"
    );
    let out = std::process::Command::new("squeue")
        .args(["-h", "-t", "all", "-o", "%k", "-j", &jid])
        .output()
        .unwrap();
    let comment = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let tag = comment
        .strip_prefix("nightly run troika-")
        .unwrap_or_else(|| panic!("{comment:?}"));
    assert!(
        tag.len() == 20 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{comment:?}"
    );
}

/// slurmctld stopped for 20 s in the middle of 50 submissions: every
/// submission succeeds once the controller is back, each job once.
#[test]
fn slurm_controller_stopped_during_submissions() {
    if !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let c = Case::new("faults-slurmctld").config(&slurm_config("    retries: 10\n"));
    let names = names("fltctld", 50);
    let outage = Outage::default();
    let runs = submit_all(&c, "slurm", &names, "true", 2, &|i| {
        if i >= 10 {
            outage.begin("slurmctld", "slurm", 20, i);
        }
    });
    outage.end();
    let ids = all_submitted(&c, &runs);
    each_job_once_in_slurm(&ids);
    let slow = runs.values().filter(|r| r.elapsed > Duration::from_secs(5)).count();
    let retried = count_logs(&c, &names, "failed transiently");
    eprintln!("50 submissions: {slow} waited for the controller, {retried} retried");
    assert!(slow > 0, "no submission met the outage");
}

/// sge_qmaster stopped, then started again, during submissions: qsub fails
/// at once ("unable to send message to qmaster"), troika tries again, and
/// every job exists once.
#[test]
fn sge_qmaster_stopped_during_submissions() {
    if !service(Service::Sge) {
        return;
    }
    let _one = one_at_a_time();
    let e = SgeEnv::from_env();
    let c = Case::new("faults-qmaster").config(&format!(
        "edition: 2026\nsites:\n  sge:\n    type: sge\n    connection: local\n    status_record: false\n    retries: 12\n    retry_delay: 0.5\n    retry_max_delay: 5\n    extra_directives:\n      queue: {}\n",
        e.queue
    ));
    let names = names("fltsge", 20);
    let outage = Outage::default();
    let runs = submit_all(&c, "sge", &names, "sleep 120", 2, &|i| {
        if i >= 4 {
            outage.begin("sge_qmaster", "sge", 5, i);
        }
    });
    outage.end();
    let ids = all_submitted(&c, &runs);
    // Grid Engine's names: `qstat -r` gives each job's full name.
    let text = bash("qstat -u '*' -r");
    let mut jobs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.chars().all(|ch| ch.is_ascii_digit()) && !first.is_empty() {
            current = Some(first.to_string());
        } else if let Some(name) = line.trim().strip_prefix("Full jobname:") {
            if let Some(id) = current.take() {
                jobs.entry(name.trim().to_string()).or_default().push(id);
            }
        }
    }
    let all: Vec<&String> = ids.values().collect();
    let _ = std::process::Command::new("qdel").args(&all).output();
    let retried = count_logs(&c, &names, "failed transiently");
    eprintln!("20 submissions to Grid Engine: {retried} retried through the outage");
    assert!(retried > 0, "no submission met the outage");
    for (n, id) in &ids {
        assert_eq!(
            jobs.get(n),
            Some(&vec![id.clone()]),
            "{n}: Grid Engine has {:?}",
            jobs.get(n)
        );
    }
}

/// sshd stopped and started again, and the shared ssh connection's master
/// killed, during submissions to Slurm through ssh.
#[test]
fn ssh_server_restarted_and_master_killed_during_submissions() {
    if !service(Service::Sshd) || !service(Service::Slurm) {
        return;
    }
    let _one = one_at_a_time();
    let e = SshEnv::from_env();
    let c = Case::new("faults-ssh").dir_mode(0o777).config(&format!(
        "edition: 2026\nsites:\n  r:\n    type: slurm\n    connection: ssh\n    host: {}\n    user: {}\n    ssh_options: [-F, {}]\n    status_record: false\n    retries: 10\n    retry_delay: 0.5\n    retry_max_delay: 3\n",
        e.host, e.user, e.config
    ));
    std::fs::create_dir_all(c.path("out")).unwrap();
    bash(&format!("chmod 777 '{}'", c.s("out")));
    let names = names("fltssh", 24);
    let outage = std::sync::Mutex::new(None::<std::thread::JoinHandle<()>>);
    let kill_master = || {
        let _ = std::process::Command::new("pkill")
            .args(["-f", r"^ssh: .*\[mux\]"])
            .status();
    };
    let runs = submit_all(&c, "r", &names, "true", 1, &|i| match i {
        5 => {
            service_script("sshd", "down");
            kill_master();
            eprintln!("sshd stopped and the master killed after submission {i}");
            *outage.lock().unwrap() = Some(std::thread::spawn(|| {
                std::thread::sleep(Duration::from_secs(3));
                service_script("sshd", "up");
                eprintln!("sshd started again");
            }));
        }
        15 => {
            kill_master();
            eprintln!("the master killed after submission {i}");
        }
        _ => {}
    });
    if let Some(t) = outage.lock().unwrap().take() {
        t.join().unwrap();
    }
    let ids = all_submitted(&c, &runs);
    each_job_once_in_slurm(&ids);
    let retried = count_logs(&c, &names, "failed transiently");
    eprintln!("24 submissions through ssh: {retried} retried");
    assert!(retried > 0, "no submission met the stopped sshd");
}
