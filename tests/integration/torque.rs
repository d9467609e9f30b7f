//! The `torque` site against emulators of qsub, qstat, qdel and qsig
//! (tests/emulators/torque/): no Torque server can run on the development
//! machines, so these tests check what troika sends and how it reads the
//! answers in Torque's documented formats, not a real Torque.

use crate::common::{execute_line, Case};

const SITE: &str = "  torque:\n    type: torque\n    connection: local\n";
const JOB: &str = "1.torque-emu";

const SCRIPT: &str = "#!/bin/bash
# troika name=tjob
# troika queue=batch
# troika walltime=02:00:00
# troika tasks_per_node=8
# troika total_nodes=2
# troika memory_per_node=16G
# troika mail_type=end,fail
# troika join_output_error=
#PBS -e /old/err
#PBS -V
echo hi
";

fn generated(emu: &Case) -> String {
    format!(
        "#!/bin/bash\n#PBS -N tjob\n#PBS -q batch\n#PBS -l walltime=02:00:00\n#PBS -l nodes=2:ppn=8\n\
         #PBS -l mem=16gb\n#PBS -m ea\n#PBS -j oe\n#PBS -o {}\n#PBS -V\necho hi\n",
        emu.dir().join("out/job.out").display()
    )
}

fn submit(extra_site: &str) -> (Case, String) {
    let emu = Case::emulated("torque").sites(&format!("{SITE}{extra_site}"));
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    std::fs::create_dir(emu.dir().join("out")).unwrap();
    let out = emu.dir().join("out/job.out").display().to_string();
    emu.troika(&["submit", "torque", &script, "-o", &out]).expect_code(0);
    (emu, script)
}

#[test]
fn submit_pipes_the_script_to_qsub_and_records_the_job_id() {
    let (emu, _) = submit("");
    let expected = generated(&emu);
    assert_eq!(emu.read("job.sh"), expected);
    let calls = emu.all_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].name, "qsub");
    assert!(calls[0].argv.is_empty());
    assert_eq!(calls[0].stdin.as_deref(), Some(expected.as_str()));
    assert_eq!(emu.read("job.sh.jid"), format!("{JOB}\n"));
    assert_eq!(emu.job_state(JOB), "Q");
    assert_eq!(emu.read(&format!("state/jobs/{JOB}/name")).trim(), "tjob");
}

#[test]
fn copy_script_gives_qsub_the_copy() {
    let (emu, _) = submit("    copy_script: true\n");
    let copy = emu.dir().join("out/job.sh");
    assert_eq!(emu.read("out/job.sh"), generated(&emu));
    let calls = emu.all_calls();
    assert_eq!(calls[0].argv, vec![copy.display().to_string()]);
    assert_eq!(calls[0].stdin, None, "nothing on stdin");
    assert_eq!(emu.job_script(JOB), generated(&emu));
}

#[test]
fn dry_run_logs_qsub_only() {
    let emu = Case::emulated("torque").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    let run = emu.troika(&["-n", "-v", "submit", "torque", &script, "-o", "out/job.out"]);
    run.expect_code(0);
    assert_eq!(run.executed(), vec![execute_line(&["qsub"])]);
    assert!(emu.all_calls().is_empty());
}

#[test]
fn monitor_writes_the_qstat_table() {
    let (emu, script) = submit("");
    emu.set_job_state(JOB, "R");
    emu.troika(&["monitor", "torque", &script]).expect_code(0);
    let stat = emu.read("job.sh.stat");
    let lines: Vec<&str> = stat.lines().collect();
    assert!(lines[0].starts_with("Job ID "), "{stat}");
    let row: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!((row[0], row[4], row[5]), (JOB, "R", "batch"), "{stat}");
    assert_eq!(emu.calls("qstat"), vec![vec![JOB.to_string()]]);
}

#[test]
fn monitor_of_an_unknown_job_fails() {
    let (emu, script) = submit("");
    let run = emu.troika(&["monitor", "torque", &script, "-j", "9.torque-emu"]);
    run.expect_code(1);
    assert!(run.stderr.contains("qstat failed with exit code 153"), "{}", run.stderr);
    assert_eq!(emu.read("job.sh.stat"), "qstat: Unknown Job Id 9.torque-emu\n");
}

#[test]
fn kill_without_sequence_runs_qdel() {
    let (emu, script) = submit("");
    let run = emu.troika(&["-vv", "kill", "torque", &script]);
    run.expect_code(0);
    assert_eq!(emu.calls("qdel"), vec![vec![JOB.to_string()]]);
    assert_eq!(run.cancel_status().as_deref(), Some("KILLED"));
    assert_eq!(emu.job_state(JOB), "C");
    // A completed job: nothing left to kill.
    let again = emu.troika(&["-vv", "kill", "torque", &script]);
    again.expect_code(0);
    assert_eq!(again.cancel_status().as_deref(), Some("VANISHED"));
}

#[test]
fn kill_sequence_signals_a_running_job_with_qsig() {
    let (emu, script) = submit("    kill_sequence: [[0, 15], [0, SIGKILL]]\n");
    emu.set_job_state(JOB, "R");
    let run = emu.troika(&["-vv", "kill", "torque", &script]);
    run.expect_code(0);
    assert_eq!(
        emu.calls("qsig"),
        vec![
            vec!["-s".to_string(), "SIGTERM".into(), JOB.into()],
            vec!["-s".to_string(), "SIGKILL".into(), JOB.into()]
        ]
    );
    assert!(emu.calls("qdel").is_empty());
    assert_eq!(emu.job_signals(JOB), vec!["SIGTERM", "SIGKILL"]);
    assert_eq!(run.cancel_status().as_deref(), Some("KILLED"));
}

#[test]
fn kill_sequence_deletes_a_queued_job() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGTERM], [3, SIGKILL]]\n");
    let start = std::time::Instant::now();
    let run = emu.troika(&["-vv", "kill", "torque", &script]);
    run.expect_code(0);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(3),
        "no wait for a queued job"
    );
    assert_eq!(emu.calls("qsig").len(), 1);
    assert_eq!(emu.calls("qdel"), vec![vec![JOB.to_string()]]);
    assert_eq!(run.cancel_status().as_deref(), Some("CANCELLED"));
    assert_eq!(emu.job_state(JOB), "C");
}

#[test]
fn kill_sequence_of_an_unknown_job_is_vanished() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGTERM]]\n");
    let run = emu.troika(&["-vv", "kill", "torque", &script, "-j", "5.torque-emu"]);
    run.expect_code(0);
    assert_eq!(run.cancel_status().as_deref(), Some("VANISHED"));
    assert!(emu.calls("qdel").is_empty());
}

#[test]
fn failed_submission_exits_1_without_jid() {
    let emu = Case::emulated("torque").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    emu.fail(
        "qsub",
        1,
        "qsub: submit error (Unauthorized Request  MSG=group ACL is not satisfied)",
    );
    let run = emu.troika(&["submit", "torque", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Torque submission failed with exit code 1: qsub: submit error"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("job.sh.jid"));
}

#[test]
fn unparseable_qsub_output_exits_1_without_jid() {
    let emu = Case::emulated("torque").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    emu.answer("qsub", "Job submitted\n");
    let run = emu.troika(&["submit", "torque", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Could not parse the job id from the qsub output 'Job submitted'"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("job.sh.jid"));
}
