//! The `lsf` site against emulators of bsub, bjobs and bkill
//! (tests/emulators/lsf/): no LSF cluster can run on the development
//! machines, so these tests check what troika sends and how it reads the
//! answers in the documented formats of LSF, not a real LSF.

use crate::common::{execute_line, Case};

const SITE: &str = "  lsf:\n    type: lsf\n    connection: local\n";

const SCRIPT: &str = r#"#!/bin/bash
# troika name=lsfjob
# troika queue=short
# troika walltime=01:30:30
# troika total_tasks=8
# troika tasks_per_node=4
# troika memory_per_node=4G
# troika mail_type=begin,end
# troika mail_user=u@x.org
# troika billing_account=proj1
# troika exclusive=yes
#BSUB -o /old/out.log
#BSUB -R "select[mem>100]"
#BSUB -eo /old/err.log
echo "hello"
"#;

fn submitted(emu: &Case) -> String {
    let out = emu.dir().join("out/job.out").display().to_string();
    format!(
        "#!/bin/bash\n#BSUB -J lsfjob\n#BSUB -q short\n#BSUB -W 1:31\n#BSUB -n 8\n#BSUB -R \"span[ptile=4]\"\n\
         #BSUB -M 4GB\n#BSUB -B\n#BSUB -N\n#BSUB -u u@x.org\n#BSUB -P proj1\n#BSUB -x\n#BSUB -o {out}\n\
         #BSUB -R \"select[mem>100]\"\necho \"hello\"\n"
    )
}

/// Submits SCRIPT; returns the emulator and the script path.
fn submit(extra_site: &str) -> (Case, String) {
    let emu = Case::emulated("lsf").sites(&format!("{SITE}{extra_site}"));
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    // The output directory exists, as the scheduler needs it (copy_script too).
    std::fs::create_dir(emu.dir().join("out")).unwrap();
    let out = emu.dir().join("out/job.out").display().to_string();
    emu.troika(&["-v", "submit", "lsf", &script, "-o", &out]).expect_code(0);
    (emu, script)
}

#[test]
fn submit_sends_the_script_on_stdin_and_records_the_job_id() {
    let (emu, _) = submit("");
    let expected = submitted(&emu);
    assert_eq!(emu.read("job.sh"), expected, "generated script");
    assert_eq!(emu.read("job.sh.orig"), SCRIPT);
    // `bsub < script`: no arguments, the script on standard input.
    let calls = emu.all_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].name, "bsub");
    assert!(calls[0].argv.is_empty(), "{calls:?}");
    assert_eq!(calls[0].stdin.as_deref(), Some(expected.as_str()));
    // Job <1> is submitted to queue <short>.
    assert_eq!(emu.read("job.sh.jid"), "1\n");
    assert_eq!(emu.job_state("1"), "PEND");
    assert_eq!(emu.read("state/jobs/1/queue").trim(), "short");
}

#[test]
fn dry_run_logs_bsub_and_runs_nothing() {
    let emu = Case::emulated("lsf").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    let out = emu.dir().join("out/job.out").display().to_string();
    let run = emu.troika(&["-n", "-v", "submit", "lsf", &script, "-o", &out]);
    run.expect_code(0);
    assert_eq!(run.executed(), vec![execute_line(&["bsub"])]);
    assert!(emu.all_calls().is_empty());
    assert!(!emu.exists("job.sh.jid"));
    assert_eq!(emu.read("job.sh"), submitted(&emu));
}

#[test]
fn copy_script_copies_beside_the_output_and_still_uses_stdin() {
    let (emu, _) = submit("    copy_script: true\n");
    assert_eq!(emu.read("out/job.sh"), submitted(&emu));
    let calls = emu.all_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].argv.is_empty());
    assert_eq!(calls[0].stdin.as_deref(), Some(submitted(&emu).as_str()));
}

#[test]
fn monitor_writes_the_bjobs_table() {
    let (emu, script) = submit("");
    emu.troika(&["monitor", "lsf", &script]).expect_code(0);
    let stat = emu.read("job.sh.stat");
    let lines: Vec<&str> = stat.lines().collect();
    assert!(lines[0].starts_with("JOBID   USER    STAT  QUEUE"), "{stat}");
    assert_eq!(lines[1].split_whitespace().take(4).nth(2), Some("PEND"), "{stat}");
    assert_eq!(emu.calls("bjobs"), vec![vec!["-w".to_string(), "1".into()]]);

    emu.set_job_state("1", "RUN");
    emu.troika(&["monitor", "lsf", &script, "-j", "1"]).expect_code(0);
    assert!(emu.read("job.sh.stat").lines().nth(1).unwrap().contains(" RUN "));
}

#[test]
fn monitor_of_an_unknown_job_fails_with_the_bjobs_message() {
    let (emu, script) = submit("");
    let run = emu.troika(&["monitor", "lsf", &script, "-j", "77"]);
    run.expect_code(1);
    assert!(run.stderr.contains("bjobs failed with exit code 255"), "{}", run.stderr);
    assert_eq!(emu.read("job.sh.stat"), "Job <77> is not found\n");
}

#[test]
fn kill_without_sequence_runs_bkill() {
    let (emu, script) = submit("");
    let run = emu.troika(&["-vv", "kill", "lsf", &script]);
    run.expect_code(0);
    assert_eq!(emu.calls("bkill"), vec![vec!["1".to_string()]]);
    assert_eq!(emu.job_state("1"), "EXIT");
    assert_eq!(run.cancel_status().as_deref(), Some("KILLED"));
    // The job has finished: a second kill finds nothing to do.
    let again = emu.troika(&["-vv", "kill", "lsf", &script]);
    again.expect_code(0);
    assert_eq!(again.cancel_status().as_deref(), Some("VANISHED"));
}

#[test]
fn kill_sequence_sends_bkill_signal_names() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGTERM], [1, 9]]\n");
    emu.set_job_state("1", "RUN");
    let start = std::time::Instant::now();
    let run = emu.troika(&["-vv", "kill", "lsf", &script]);
    run.expect_code(0);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "the second step waits 1 s"
    );
    // `bkill -l` names: no SIG prefix (the emulator rejects SIGTERM).
    assert_eq!(
        emu.calls("bkill"),
        vec![
            vec!["-s".to_string(), "TERM".into(), "1".into()],
            vec!["-s".to_string(), "KILL".into(), "1".into()]
        ]
    );
    assert_eq!(emu.job_signals("1"), vec!["TERM", "KILL"]);
    assert_eq!(run.cancel_status().as_deref(), Some("KILLED"));
}

#[test]
fn kill_sequence_of_a_finished_job_is_vanished() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGTERM], [5, SIGKILL]]\n");
    emu.set_job_state("1", "DONE");
    let start = std::time::Instant::now();
    let run = emu.troika(&["-vv", "kill", "lsf", &script]);
    run.expect_code(0);
    assert_eq!(run.cancel_status().as_deref(), Some("VANISHED"));
    assert_eq!(emu.calls("bkill").len(), 1, "no further step");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn bkill_failure_is_reported() {
    let (emu, script) = submit("");
    emu.fail("bkill", 255, "User permission denied. Job <1> is not killed");
    let run = emu.troika(&["kill", "lsf", &script]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("bkill failed with exit code 255: User permission denied"),
        "{}",
        run.stderr
    );
}

#[test]
fn failed_submission_exits_1_without_jid() {
    let emu = Case::emulated("lsf").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    emu.fail("bsub", 255, "Request aborted by esub. Job not submitted.");
    let run = emu.troika(&["submit", "lsf", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("LSF submission failed with exit code 255: Request aborted by esub"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("job.sh.jid"));
}

#[test]
fn unparseable_bsub_output_exits_1_without_jid() {
    let emu = Case::emulated("lsf").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    emu.answer("bsub", "Job submitted somewhere\n");
    let run = emu.troika(&["submit", "lsf", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Could not parse the job id from the bsub output 'Job submitted somewhere'"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("job.sh.jid"));
}

#[test]
fn invalid_job_ids_are_refused_before_any_command() {
    let (emu, script) = submit("");
    for bad in ["abc", "1[2", "12 3"] {
        let run = emu.troika(&["monitor", "lsf", &script, "-j", bad]);
        run.expect_code(1);
        assert!(run.stderr.contains("Invalid job id"), "{bad}: {}", run.stderr);
    }
    emu.troika(&["monitor", "lsf", &script, "-j", "1[3]"]);
    assert_eq!(emu.calls("bjobs"), vec![vec!["-w".to_string(), "1[3]".into()]]);
}

#[test]
fn bad_directive_values_fail_the_submission() {
    let emu = Case::emulated("lsf").sites(SITE);
    let script = emu
        .write("job.sh", "#!/bin/sh\n# troika walltime=1h30\necho\n")
        .display()
        .to_string();
    let run = emu.troika(&["submit", "lsf", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Directive 'walltime': invalid wall-clock limit '1h30'"),
        "{}",
        run.stderr
    );
    assert!(emu.all_calls().is_empty());
}
