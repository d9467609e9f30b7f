//! The `flux` site against an emulator of the flux command
//! (tests/emulators/flux/flux): no Flux instance can run on the development
//! machines, so these tests check what troika sends and how it reads the
//! answers in the formats of the flux-core manual pages, not a real Flux.

use crate::common::{execute_line, Case};

const SITE: &str = "  flux:\n    type: flux\n    connection: local\n";
/// The emulator's first job id (F58 of its first job number).
const JOB: &str = "ƒVtB5VXe";
const KEY: &str = "VtB5VXe";

const SCRIPT: &str = "#!/bin/bash
# troika name=fjob
# troika total_nodes=2
# troika total_tasks=8
# troika walltime=01:30:00
# troika queue=pbatch
# troika exclusive=true
# flux: --setattr=foo=bar
#flux: --output=/old/out
echo hi
";

fn generated(emu: &Case) -> String {
    format!(
        "#!/bin/bash\n#flux: --job-name=fjob\n#flux: -N 2\n#flux: -n 8\n#flux: -t 90m\n#flux: -q pbatch\n\
         #flux: --exclusive\n#flux: --output={}\n#flux: --setattr=foo=bar\necho hi\n",
        emu.dir().join("out/job.out").display()
    )
}

fn submit(extra_site: &str) -> (Case, String) {
    let emu = Case::emulated("flux").sites(&format!("{SITE}{extra_site}"));
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    std::fs::create_dir(emu.dir().join("out")).unwrap();
    let out = emu.dir().join("out/job.out").display().to_string();
    emu.troika(&["submit", "flux", &script, "-o", &out]).expect_code(0);
    (emu, script)
}

#[test]
fn submit_pipes_the_script_to_flux_batch_and_keeps_the_id_as_text() {
    let (emu, _) = submit("");
    let expected = generated(&emu);
    // The native `# flux:` line is rewritten with the generated prefix: the
    // emulator, like flux batch (RFC 36), rejects mixed sentinels.
    assert_eq!(emu.read("job.sh"), expected);
    let calls = emu.all_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].argv, vec!["batch"]);
    assert_eq!(calls[0].stdin.as_deref(), Some(expected.as_str()));
    assert_eq!(emu.read("job.sh.jid"), format!("{JOB}\n"));
    assert_eq!(emu.job_state(KEY), "PENDING");
}

#[test]
fn the_emulator_rejects_mixed_directive_prefixes() {
    // What the rewrite above avoids, shown on the emulator itself.
    let emu = Case::emulated("flux");
    let script = emu.write("mixed.sh", "#!/bin/sh\n#flux: -N 2\n# flux: -n 4\necho\n");
    let out = std::process::Command::new(crate::common::repo_root().join("tests/emulators/flux/flux"))
        .args(["batch".as_ref(), script.as_os_str()])
        .env("TROIKA_EMU_STATE", emu.state())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mismatched directive sentinel"));
}

#[test]
fn copy_script_gives_flux_batch_the_copy() {
    let (emu, _) = submit("    copy_script: true\n");
    let copy = emu.dir().join("out/job.sh").display().to_string();
    assert_eq!(emu.read("out/job.sh"), generated(&emu));
    let calls = emu.all_calls();
    assert_eq!(calls[0].argv, vec!["batch".to_string(), copy]);
    assert_eq!(calls[0].stdin, None);
    assert_eq!(emu.job_script(KEY), generated(&emu));
}

#[test]
fn dry_run_logs_flux_batch_only() {
    let emu = Case::emulated("flux").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    let run = emu.troika(&["-n", "-v", "submit", "flux", &script, "-o", "out/job.out"]);
    run.expect_code(0);
    assert_eq!(run.executed(), vec![execute_line(&["flux", "batch"])]);
    assert!(emu.all_calls().is_empty());
}

#[test]
fn monitor_writes_id_and_status() {
    let (emu, script) = submit("");
    emu.troika(&["monitor", "flux", &script]).expect_code(0);
    assert_eq!(emu.read("job.sh.stat"), format!("{JOB} PENDING\n"));
    assert_eq!(emu.calls("flux")[1], vec!["jobs", "-n", "-o", "{id} {status}", JOB]);
    emu.set_job_state(KEY, "COMPLETED");
    emu.troika(&["monitor", "flux", &script, "-j", JOB]).expect_code(0);
    assert_eq!(emu.read("job.sh.stat"), format!("{JOB} COMPLETED\n"));
}

#[test]
fn monitor_of_an_unknown_job_fails() {
    let (emu, script) = submit("");
    let run = emu.troika(&["monitor", "flux", &script, "-j", "fNoSuchJob"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("flux jobs failed with exit code 1"),
        "{}",
        run.stderr
    );
    assert!(emu.read("job.sh.stat").contains("unknown job id"));
}

#[test]
fn kill_without_sequence_cancels() {
    let (emu, script) = submit("");
    let run = emu.troika(&["-vv", "kill", "flux", &script]);
    run.expect_code(0);
    assert_eq!(emu.calls("flux")[1], vec!["cancel", JOB]);
    assert_eq!(run.cancel_status().as_deref(), Some("KILLED"));
    assert_eq!(emu.job_state(KEY), "CANCELED");
    let again = emu.troika(&["-vv", "kill", "flux", &script]);
    again.expect_code(0);
    assert_eq!(again.cancel_status().as_deref(), Some("VANISHED"));
}

#[test]
fn kill_sequence_signals_a_running_job() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGINT], [1, KILL]]\n");
    emu.set_job_state(KEY, "RUNNING");
    let run = emu.troika(&["-vv", "kill", "flux", &script]);
    run.expect_code(0);
    let calls = emu.calls("flux");
    assert_eq!(
        calls[1..].to_vec(),
        vec![
            vec!["job", "kill", "-s", "SIGINT", JOB],
            vec!["job", "kill", "-s", "SIGKILL", JOB]
        ]
    );
    assert_eq!(emu.job_signals(KEY), vec!["SIGINT", "SIGKILL"]);
    assert_eq!(run.cancel_status().as_deref(), Some("KILLED"));
}

#[test]
fn kill_sequence_cancels_a_pending_job() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGTERM], [4, SIGKILL]]\n");
    let start = std::time::Instant::now();
    let run = emu.troika(&["-vv", "kill", "flux", &script]);
    run.expect_code(0);
    assert!(start.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(
        emu.calls("flux")[1..].to_vec(),
        vec![vec!["job", "kill", "-s", "SIGTERM", JOB], vec!["cancel", JOB]]
    );
    assert_eq!(run.cancel_status().as_deref(), Some("CANCELLED"));
    assert_eq!(emu.job_state(KEY), "CANCELED");
}

#[test]
fn kill_sequence_of_an_unknown_job_is_vanished() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGTERM]]\n");
    let run = emu.troika(&["-vv", "kill", "flux", &script, "-j", "fGone"]);
    run.expect_code(0);
    assert_eq!(run.cancel_status().as_deref(), Some("VANISHED"));
}

#[test]
fn failed_submission_exits_1_without_jid() {
    let emu = Case::emulated("flux").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    emu.fail("flux-batch", 1, "flux-batch: ERROR: [Errno 19] No such device");
    let run = emu.troika(&["submit", "flux", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Flux submission failed with exit code 1: flux-batch: ERROR"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("job.sh.jid"));
}

#[test]
fn unparseable_flux_batch_output_exits_1_without_jid() {
    let emu = Case::emulated("flux").sites(SITE);
    let script = emu.write("job.sh", SCRIPT).display().to_string();
    emu.answer("flux-batch", "submitted as fABC\n");
    let run = emu.troika(&["submit", "flux", &script, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Could not parse the job id from the flux batch output 'submitted as fABC'"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("job.sh.jid"));
}

#[test]
fn kill_sequence_without_sigkill_reports_terminated() {
    let (emu, script) = submit("    kill_sequence: [[0, SIGUSR1], [0, SIGTERM]]\n");
    emu.set_job_state(KEY, "RUNNING");
    let run = emu.troika(&["-vv", "kill", "flux", &script]);
    run.expect_code(0);
    assert_eq!(emu.job_signals(KEY), vec!["SIGUSR1", "SIGTERM"]);
    assert_eq!(run.cancel_status().as_deref(), Some("TERMINATED"));
}
