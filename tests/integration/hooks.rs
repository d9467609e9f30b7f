//! Hooks and site groups, run through the troika binary with real processes
//! (direct site) and a stand-in `ecflow_client` that records its arguments
//! and `ECF_*` environment (the real client is exercised by `ecflow.rs`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::common::{troika_bin, Case};

/// Writes `rel` in the case's directory, `{dir}` standing for the directory.
fn put(d: &Case, rel: &str, text: &str, mode: u32) -> PathBuf {
    d.write_mode(rel, text.replace("{dir}", &d.dir().display().to_string()), mode)
}

/// A stand-in for `ecflow_client`: appends its arguments and ECF_* variables
/// to `calls`.
const FAKE_ECFLOW_CLIENT: &str = "#!/bin/sh\n\
    echo \"$0 $* name=$ECF_NAME pass=$ECF_PASS host=${ECF_HOST-unset} port=${ECF_PORT-unset} tryno=${ECF_TRYNO-unset}\" >> {dir}/calls\n\
    exit ${FAKE_RC:-0}\n";

/// A hook command that dumps its TROIKA_* environment to `env.<point>`.
const ENV_HOOK: &str = "#!/bin/sh\nenv | grep '^TROIKA_' | sort > {dir}/env.$TROIKA_HOOK\necho \"hook $TROIKA_HOOK\" >> {dir}/order\nexit ${1:-0}\n";

const ECF_SCRIPT: &str =
    "#!/bin/bash\n# troika ecflow_name=/s/f/t\n# troika ecflow_pass=pw\n# troika ecflow_port=4141\nsleep 600\n";

fn wait_until(what: &str, f: impl FnMut() -> bool) {
    crate::common::wait_until(what, Duration::from_secs(20), f)
}

#[test]
fn abort_on_ecflow_after_sigkill_with_the_scripts_client() {
    let d = Case::new("hooks-ecf-kill");
    put(&d, "bin/my_client", FAKE_ECFLOW_CLIENT, 0o755);
    put(&d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n    post_kill: [abort_on_ecflow]\n",
        0o644,
    );
    // The client named by the script is used (0.2.7 crashed on it: Q14).
    put(
        &d,
        "job.sh",
        &ECF_SCRIPT.replace("sleep", "# troika ecflow_client={dir}/bin/my_client\nsleep"),
        0o755,
    );
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .expect_code(0);
    let pid: i32 = d.read_or_empty("job.sh.jid").trim().parse().unwrap();
    d.troika(&["-c", "c.yml", "kill", "l", "job.sh"]).expect_code(0);
    assert_eq!(
        d.read_or_empty("calls"),
        format!(
            "{} --abort=Killed forcefully name=/s/f/t pass=pw host=unset port=4141 tryno=unset\n",
            d.s("bin/my_client")
        )
    );
    wait_until("the job to be gone", || {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
    });

    // A failing client fails the kill, with the client's output logged.
    put(
        &d,
        "job.sh",
        &ECF_SCRIPT.replace("sleep", "# troika ecflow_client={dir}/bin/my_client\nsleep"),
        0o755,
    );
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .expect_code(0);
    let d = d.env("FAKE_RC", "3");
    d.troika(&["-c", "c.yml", "kill", "l", "job.sh"])
        .expect_code(1)
        .stderr_contains("Abort failed")
        .stderr_contains("exit code 3");
}

#[test]
fn abort_on_ecflow_in_dry_run_logs_the_command() {
    // Q13: a dry-run kill reports a status, so the hook shows its command.
    let d = Case::new("hooks-ecf-dry");
    put(&d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n    post_kill: [abort_on_ecflow]\n  t:\n    type: direct\n    connection: local\n    post_kill: [abort_on_ecflow]\n",
        0o644,
    );
    put(&d, "job.sh", "#!/bin/bash\n", 0o755);
    put(&d, "job.sh.orig", ECF_SCRIPT, 0o644);
    d.troika(&["-n", "-v", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .expect_code(0)
        .stderr_contains("Execute: 'ecflow_client' '--abort=Killed forcefully'");
    // SIGTERM: the job reports itself, nothing is run.
    d.troika(&["-n", "-v", "-c", "c.yml", "kill", "t", "job.sh", "-j", "999999"])
        .expect_code(0)
        .stderr_lacks("ecflow_client");
    // ecflow_pass missing: a clear error.
    put(&d, "job.sh.orig", "#!/bin/bash\n# troika ecflow_name=/s/f/t\n", 0o644);
    d.troika(&["-n", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .expect_code(1)
        .stderr_contains("abort_on_ecflow could not find ecflow_pass defined in script")
        .stderr_lacks("Unhandled");
}

#[test]
fn abort_on_ecflow_fetches_the_copied_original() {
    // copy_orig_script put the original beside the output; the local one is gone.
    let d = Case::new("hooks-ecf-copy");
    put(&d, "bin/ecflow_client", FAKE_ECFLOW_CLIENT, 0o755);
    put(&d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n    pre_submit: [copy_orig_script]\n    post_kill: [abort_on_ecflow]\n",
        0o644,
    );
    put(&d, "job.sh", ECF_SCRIPT, 0o755);
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .expect_code(0);
    assert_eq!(d.read_or_empty("out/job.sh.orig"), ECF_SCRIPT);
    std::fs::remove_file(d.path("job.sh.orig")).unwrap();
    d.troika(&["-c", "c.yml", "kill", "l", "job.sh", "-o", "out/job.out"])
        .expect_code(0);
    assert!(
        d.read_or_empty("calls")
            .contains("--abort=Killed forcefully name=/s/f/t pass=pw"),
        "{}",
        d.read_or_empty("calls")
    );
    assert_eq!(d.read_or_empty("job.sh.orig"), ECF_SCRIPT);
}

#[test]
fn external_hooks_get_the_action_in_their_environment() {
    let d = Case::new("hooks-external");
    put(&d, "bin/hook", ENV_HOOK, 0o755);
    put(
        &d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n\
         \x20   at_startup: [{command: '{dir}/bin/hook'}]\n\
         \x20   pre_submit: [{command: ['{dir}/bin/hook', '5'], on: site}]\n\
         \x20   post_kill: [{command: ['{dir}/bin/hook']}]\n\
         \x20   at_exit: [{command: ['{dir}/bin/hook'], timeout: 10}]\n",
        0o644,
    );
    put(&d, "job.sh", "#!/bin/bash\nsleep 600\n", 0o755);
    // The pre_submit hook fails (exit 5): logged, the job is still submitted.
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out", "-u", "op"])
        .expect_code(0)
        .stderr_contains("pre_submit hook command")
        .stderr_contains("exited with exit code 5");
    let jid = d.read_or_empty("job.sh.jid").trim().to_string();
    assert_eq!(
        d.read_or_empty("order"),
        "hook at_startup\nhook pre_submit\nhook at_exit\n"
    );
    let exit = d.read_or_empty("env.at_exit");
    for want in [
        "TROIKA_ACTION=submit\n".to_string(),
        "TROIKA_SITE=l\n".into(),
        "TROIKA_SITE_GROUP=\n".into(),
        "TROIKA_SCRIPT=job.sh\n".into(),
        "TROIKA_OUTPUT=out/job.out\n".into(),
        "TROIKA_USER=op\n".into(),
        format!("TROIKA_JOBID={jid}\n"),
        "TROIKA_DRYRUN=0\n".into(),
        "TROIKA_LOGFILE=job.sh.submitlog\n".into(),
        "TROIKA_STATUS=0\n".into(),
        "TROIKA_ERROR=\n".into(),
    ] {
        assert!(exit.contains(&want), "{want:?} not in\n{exit}");
    }
    assert!(d.read_or_empty("env.pre_submit").contains("TROIKA_STATUS=\n"));
    assert!(d.read_or_empty("env.pre_submit").contains("TROIKA_JOBID=\n"));

    d.troika(&["-c", "c.yml", "kill", "l", "job.sh"]).expect_code(0);
    let post = d.read_or_empty("env.post_kill");
    assert!(post.contains(&format!("TROIKA_JOBID={jid}\n")), "{post}");
    assert!(post.contains("TROIKA_CANCEL_STATUS=KILLED\n"), "{post}");
    assert!(post.contains("TROIKA_ACTION=kill\n"), "{post}");
    let exit = d.read_or_empty("env.at_exit");
    assert!(exit.contains("TROIKA_CANCEL_STATUS=KILLED\n"), "{exit}");
    assert!(exit.contains("TROIKA_LOGFILE=job.sh.killlog\n"), "{exit}");

    // Dry-run: hooks run, told so.
    d.troika(&["-n", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .expect_code(0);
    assert!(d.read_or_empty("env.post_kill").contains("TROIKA_DRYRUN=1\n"));
}

#[test]
fn failing_startup_hook_aborts_and_exit_hooks_still_run() {
    let d = Case::new("hooks-startup");
    put(&d, "bin/hook", ENV_HOOK, 0o755);
    put(
        &d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n\
         \x20   at_startup: [{command: ['{dir}/bin/hook', '7']}]\n\
         \x20   at_exit: [{command: '{dir}/bin/hook'}, copy_submit_logfile]\n",
        0o644,
    );
    put(&d, "job.sh", "#!/bin/bash\necho hi\n", 0o755);
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .expect_code(1)
        .stderr_contains("at_startup hook command")
        .stderr_contains("exited with exit code 7");
    assert!(!d.path("job.sh.orig").exists(), "the script must not be generated");
    let exit = d.read_or_empty("env.at_exit");
    assert!(exit.contains("TROIKA_STATUS=1\n"), "{exit}");
    assert!(exit.contains("TROIKA_ERROR=at_startup hook command"), "{exit}");
    // The copied log holds the failure.
    assert!(
        d.read_or_empty("out/job.sh.submitlog").contains("CRITICAL"),
        "{}",
        d.read_or_empty("out/job.sh.submitlog")
    );
}

#[test]
fn exit_hooks_run_after_setup_failures() {
    // Q39: 0.2.7 skipped them on -D errors.
    let d = Case::new("hooks-setup");
    put(
        &d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    at_exit: [copy_submit_logfile]\n",
        0o644,
    );
    put(&d, "job.sh", "#!/bin/bash\necho hi\n", 0o755);
    let r = d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out", "-D", "bad"]);
    r.expect_code(1).stderr_contains("Invalid key-value pair");
    assert_eq!(r.stderr.matches("Invalid key-value pair").count(), 1, "{}", r.stderr);
    let copied = d.read_or_empty("out/job.sh.submitlog");
    assert!(copied.contains("Invalid key-value pair"), "{copied}");
    // A failing exit hook does not change the outcome: copy_kill_logfile without -o.
    put(
        &d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    at_exit: [copy_kill_logfile]\n",
        0o644,
    );
    d.troika(&["-n", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .expect_code(0)
        .stderr_contains("copy_kill_logfile hook requires output argument");
}

#[test]
fn remove_previous_output_and_create_output_dir() {
    let d = Case::new("hooks-output");
    put(&d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    pre_submit: [remove_previous_output, create_output_dir]\n\
         \x20 m:\n    type: direct\n    connection: local\n    pmkdir_command: [mkdir, -p, -m, '700']\n    pre_submit: [create_output_dir]\n",
        0o644,
    );
    std::fs::create_dir_all(d.path("o")).unwrap();
    put(&d, "o/job.out", "old output\n", 0o644);
    put(&d, "o/keep", "x", 0o644);
    put(&d, "job.sh", "#!/bin/bash\necho new\n", 0o755);
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "o/job.out"])
        .expect_code(0);
    wait_until("the job output", || d.read_or_empty("o/job.out") == "new\n");
    assert!(d.path("o/keep").exists());
    // pmkdir_command honoured on a direct site when set.
    d.troika(&["-c", "c.yml", "submit", "m", "job.sh", "-o", "p/q/job.out"])
        .expect_code(0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.path("p/q")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// What remote sites do with `edition: 2026` and without (0.2.7's way):
/// where `remove_previous_output` looks and where `abort_on_ecflow` runs.
#[test]
fn editions_choose_where_remote_hooks_act() {
    let d = Case::new("hooks-editions");
    let site = "sites:\n  r:\n    type: slurm\n    connection: ssh\n    host: hpc-login\n\
                \x20   pre_submit: [remove_previous_output]\n    post_kill: [abort_on_ecflow]\n";
    put(&d, "old.yml", site, 0o644);
    put(&d, "new.yml", &format!("edition: 2026\n{site}"), 0o644);
    put(&d, "job.sh", "#!/bin/bash\necho new\n", 0o755);
    let submit = |cfg| d.troika(&["-n", "-v", "-c", cfg, "submit", "r", "job.sh", "-o", "/o/job.out"]);
    submit("new.yml")
        .expect_code(0)
        .stderr_contains("'hpc-login' 'rm' '-f' '/o/job.out'");
    submit("old.yml").expect_code(0).stderr_lacks("'rm' '-f'");
    // The ecFlow variables of the task come from the original script.
    put(
        &d,
        "job.sh.orig",
        "#!/bin/bash\n# troika ecflow_name=/s/t\n# troika ecflow_pass=pw\n# troika ecflow_host=ecf1\n",
        0o644,
    );
    let kill = |cfg| d.troika(&["-n", "-v", "-c", cfg, "kill", "r", "job.sh", "-j", "42"]);
    kill("new.yml").expect_code(0).stderr_contains(
        "'hpc-login' 'ECF_NAME=/s/t' 'ECF_PASS=pw' 'ECF_HOST=ecf1' 'ecflow_client' \"'--abort=Killed forcefully'\"",
    );
    kill("old.yml")
        .expect_code(0)
        .stderr_contains("Execute: 'ecflow_client' '--abort=Killed forcefully'")
        .stderr_lacks("'ECF_HOST=ecf1'");
}

#[test]
fn check_connection_runs_the_startup_hooks() {
    let d = Case::new("hooks-check");
    put(&d, "bin/hook", ENV_HOOK, 0o755);
    put(&d,
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    at_startup: [check_connection, {command: '{dir}/bin/hook'}]\n\
         \x20 down:\n    type: direct\n    connection: local\n    local_cwd: '{dir}/missing'\n    at_startup: [check_connection]\n",
        0o644,
    );
    put(&d, "job.sh", "#!/bin/bash\n", 0o755);
    d.troika(&["-c", "c.yml", "check-connection", "l"]).expect_code(0);
    assert!(d
        .read_or_empty("env.at_startup")
        .contains("TROIKA_ACTION=check-connection\n"));
    d.troika(&["-c", "c.yml", "submit", "down", "job.sh", "-o", "out"])
        .expect_code(1)
        .stderr_contains("Connection not working. Exiting.");
    assert!(!d.path("job.sh.orig").exists());
}

const GROUP_CONFIG: &str = "sites:
  grp:
    type: group
    connection: local
    sites: [down, up1, up2]
  down: {type: direct, connection: local, local_cwd: '{dir}/missing'}
  up1: {type: direct, connection: local, at_exit: [{command: '{dir}/bin/hook'}]}
  up2: {type: direct, connection: local}
  none: {type: group, sites: [down]}
  nested: {type: group, sites: [grp]}
";

#[test]
fn group_uses_the_first_available_member() {
    let d = Case::new("hooks-group");
    put(&d, "bin/hook", ENV_HOOK, 0o755);
    put(&d, "c.yml", GROUP_CONFIG, 0o644);
    put(&d, "job.sh", "#!/bin/bash\nsleep 600\n", 0o755);
    d.troika(&["-c", "c.yml", "-v", "submit", "grp", "job.sh", "-o", "out/job.out"])
        .expect_code(0)
        .stderr_contains("Site 'down' of group 'grp' is not available")
        .stderr_contains("Site group 'grp': using site 'up1'");
    assert_eq!(d.read_or_empty("job.sh.site"), "up1\n");
    let env = d.read_or_empty("env.at_exit");
    assert!(
        env.contains("TROIKA_SITE=up1\n") && env.contains("TROIKA_SITE_GROUP=grp\n"),
        "{env}"
    );
    // Kill goes to the recorded member.
    put(
        &d,
        "c.yml",
        &GROUP_CONFIG.replace("sites: [down, up1, up2]", "sites: [up2, up1]"),
        0o644,
    );
    d.troika(&["-c", "c.yml", "-v", "kill", "grp", "job.sh"])
        .expect_code(0)
        .stderr_contains("using site 'up1', where the job was submitted");

    d.troika(&["-c", "c.yml", "check-connection", "grp"]).expect_code(0);
    d.troika(&["-c", "c.yml", "submit", "none", "job.sh", "-o", "out/job.out"])
        .expect_code(1)
        .stderr_contains("No site available in the group 'none'");
    d.troika(&["-c", "c.yml", "check-connection", "none"])
        .expect_code(1)
        .stderr_contains("No site available in the group");
    d.troika(&["-c", "c.yml", "submit", "nested", "job.sh", "-o", "out/job.out"])
        .expect_code(1)
        .stderr_contains("groups cannot be nested");
    let list = Command::new(troika_bin())
        .args(["-c", "c.yml", "list-sites"])
        .current_dir(d.dir())
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("grp                          group           local"),
        "{list}"
    );
    assert!(
        list.contains("none                         group           -"),
        "{list}"
    );
}
