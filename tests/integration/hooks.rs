//! Hooks and site groups, run through the troika binary with real processes
//! (direct site) and a stand-in `ecflow_client` that records its arguments
//! and `ECF_*` environment (the real client is exercised by `ecflow.rs`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{read_or_empty, troika_bin, ScratchDir};

/// A scratch directory with a `bin/` that comes first on troika's PATH;
/// `{dir}` in written files stands for the directory.
struct Dir(ScratchDir);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = ScratchDir::new(&format!("hooks-{name}"));
        std::fs::create_dir_all(d.join("bin")).unwrap();
        Dir(d)
    }
    fn root(&self) -> &std::path::Path {
        self.0.path()
    }
    fn p(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn s(&self, rel: &str) -> String {
        self.p(rel).display().to_string()
    }
    fn write(&self, rel: &str, text: &str, mode: u32) -> PathBuf {
        self.0
            .write(rel, &text.replace("{dir}", &self.root().display().to_string()), mode)
    }
    fn read(&self, rel: &str) -> String {
        read_or_empty(self.p(rel))
    }
    /// Runs troika in the directory, with its bin/ first on PATH.
    fn troika(&self, args: &[&str]) -> Run {
        let path = format!("{}:{}", self.s("bin"), std::env::var("PATH").unwrap_or_default());
        let out = Command::new(troika_bin())
            .args(args)
            .current_dir(self.root())
            .env("PATH", path)
            .env_remove("TROIKA_CONFIG_FILE")
            // The hooks set ECF_* from the script; none may come from outside.
            .env_remove("ECF_HOST")
            .env_remove("ECF_PORT")
            .output()
            .unwrap();
        Run {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

struct Run {
    code: Option<i32>,
    stderr: String,
}

impl Run {
    fn code(&self, c: i32) -> &Self {
        assert_eq!(self.code, Some(c), "stderr:\n{}", self.stderr);
        self
    }
    fn has(&self, s: &str) -> &Self {
        assert!(self.stderr.contains(s), "{s:?} not in stderr:\n{}", self.stderr);
        self
    }
    fn lacks(&self, s: &str) -> &Self {
        assert!(!self.stderr.contains(s), "{s:?} in stderr:\n{}", self.stderr);
        self
    }
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

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn abort_on_ecflow_after_sigkill_with_the_scripts_client() {
    let d = Dir::new("ecf-kill");
    d.write("bin/my_client", FAKE_ECFLOW_CLIENT, 0o755);
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n    post_kill: [abort_on_ecflow]\n",
        0o644,
    );
    // The client named by the script is used (0.2.7 crashed on it: Q14).
    d.write(
        "job.sh",
        &ECF_SCRIPT.replace("sleep", "# troika ecflow_client={dir}/bin/my_client\nsleep"),
        0o755,
    );
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .code(0);
    let pid: i32 = d.read("job.sh.jid").trim().parse().unwrap();
    d.troika(&["-c", "c.yml", "kill", "l", "job.sh"]).code(0);
    assert_eq!(
        d.read("calls"),
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
    d.write(
        "job.sh",
        &ECF_SCRIPT.replace("sleep", "# troika ecflow_client={dir}/bin/my_client\nsleep"),
        0o755,
    );
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .code(0);
    let r = Command::new(troika_bin())
        .args(["-c", "c.yml", "kill", "l", "job.sh"])
        .current_dir(d.root())
        .env("FAKE_RC", "3")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("Abort failed") && err.contains("exit code 3"), "{err}");
}

#[test]
fn abort_on_ecflow_in_dry_run_logs_the_command() {
    // Q13: a dry-run kill reports a status, so the hook shows its command.
    let d = Dir::new("ecf-dry");
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n    post_kill: [abort_on_ecflow]\n  t:\n    type: direct\n    connection: local\n    post_kill: [abort_on_ecflow]\n",
        0o644,
    );
    d.write("job.sh", "#!/bin/bash\n", 0o755);
    d.write("job.sh.orig", ECF_SCRIPT, 0o644);
    d.troika(&["-n", "-v", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .code(0)
        .has("Execute: 'ecflow_client' '--abort=Killed forcefully'");
    // SIGTERM: the job reports itself, nothing is run.
    d.troika(&["-n", "-v", "-c", "c.yml", "kill", "t", "job.sh", "-j", "999999"])
        .code(0)
        .lacks("ecflow_client");
    // ecflow_pass missing: a clear error.
    d.write("job.sh.orig", "#!/bin/bash\n# troika ecflow_name=/s/f/t\n", 0o644);
    d.troika(&["-n", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .code(1)
        .has("abort_on_ecflow could not find ecflow_pass defined in script")
        .lacks("Unhandled");
}

#[test]
fn abort_on_ecflow_fetches_the_copied_original() {
    // copy_orig_script put the original beside the output; the local one is gone.
    let d = Dir::new("ecf-copy");
    d.write("bin/ecflow_client", FAKE_ECFLOW_CLIENT, 0o755);
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n    pre_submit: [copy_orig_script]\n    post_kill: [abort_on_ecflow]\n",
        0o644,
    );
    d.write("job.sh", ECF_SCRIPT, 0o755);
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .code(0);
    assert_eq!(d.read("out/job.sh.orig"), ECF_SCRIPT);
    std::fs::remove_file(d.p("job.sh.orig")).unwrap();
    d.troika(&["-c", "c.yml", "kill", "l", "job.sh", "-o", "out/job.out"])
        .code(0);
    assert!(
        d.read("calls")
            .contains("--abort=Killed forcefully name=/s/f/t pass=pw"),
        "{}",
        d.read("calls")
    );
    assert_eq!(d.read("job.sh.orig"), ECF_SCRIPT);
}

#[test]
fn external_hooks_get_the_action_in_their_environment() {
    let d = Dir::new("external");
    d.write("bin/hook", ENV_HOOK, 0o755);
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    kill_sequence: [[0, KILL]]\n\
         \x20   at_startup: [{command: '{dir}/bin/hook'}]\n\
         \x20   pre_submit: [{command: ['{dir}/bin/hook', '5'], on: site}]\n\
         \x20   post_kill: [{command: ['{dir}/bin/hook']}]\n\
         \x20   at_exit: [{command: ['{dir}/bin/hook'], timeout: 10}]\n",
        0o644,
    );
    d.write("job.sh", "#!/bin/bash\nsleep 600\n", 0o755);
    // The pre_submit hook fails (exit 5): logged, the job is still submitted.
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out", "-u", "op"])
        .code(0)
        .has("pre_submit hook command")
        .has("exited with exit code 5");
    let jid = d.read("job.sh.jid").trim().to_string();
    assert_eq!(d.read("order"), "hook at_startup\nhook pre_submit\nhook at_exit\n");
    let exit = d.read("env.at_exit");
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
    assert!(d.read("env.pre_submit").contains("TROIKA_STATUS=\n"));
    assert!(d.read("env.pre_submit").contains("TROIKA_JOBID=\n"));

    d.troika(&["-c", "c.yml", "kill", "l", "job.sh"]).code(0);
    let post = d.read("env.post_kill");
    assert!(post.contains(&format!("TROIKA_JOBID={jid}\n")), "{post}");
    assert!(post.contains("TROIKA_CANCEL_STATUS=KILLED\n"), "{post}");
    assert!(post.contains("TROIKA_ACTION=kill\n"), "{post}");
    let exit = d.read("env.at_exit");
    assert!(exit.contains("TROIKA_CANCEL_STATUS=KILLED\n"), "{exit}");
    assert!(exit.contains("TROIKA_LOGFILE=job.sh.killlog\n"), "{exit}");

    // Dry-run: hooks run, told so.
    d.troika(&["-n", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .code(0);
    assert!(d.read("env.post_kill").contains("TROIKA_DRYRUN=1\n"));
}

#[test]
fn failing_startup_hook_aborts_and_exit_hooks_still_run() {
    let d = Dir::new("startup");
    d.write("bin/hook", ENV_HOOK, 0o755);
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n\
         \x20   at_startup: [{command: ['{dir}/bin/hook', '7']}]\n\
         \x20   at_exit: [{command: '{dir}/bin/hook'}, copy_submit_logfile]\n",
        0o644,
    );
    d.write("job.sh", "#!/bin/bash\necho hi\n", 0o755);
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out"])
        .code(1)
        .has("at_startup hook command")
        .has("exited with exit code 7");
    assert!(!d.p("job.sh.orig").exists(), "the script must not be generated");
    let exit = d.read("env.at_exit");
    assert!(exit.contains("TROIKA_STATUS=1\n"), "{exit}");
    assert!(exit.contains("TROIKA_ERROR=at_startup hook command"), "{exit}");
    // The copied log holds the failure.
    assert!(
        d.read("out/job.sh.submitlog").contains("CRITICAL"),
        "{}",
        d.read("out/job.sh.submitlog")
    );
}

#[test]
fn exit_hooks_run_after_setup_failures() {
    // Q39: 0.2.7 skipped them on -D errors.
    let d = Dir::new("setup");
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    at_exit: [copy_submit_logfile]\n",
        0o644,
    );
    d.write("job.sh", "#!/bin/bash\necho hi\n", 0o755);
    let r = d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "out/job.out", "-D", "bad"]);
    r.code(1).has("Invalid key-value pair");
    assert_eq!(r.stderr.matches("Invalid key-value pair").count(), 1, "{}", r.stderr);
    let copied = d.read("out/job.sh.submitlog");
    assert!(copied.contains("Invalid key-value pair"), "{copied}");
    // A failing exit hook does not change the outcome: copy_kill_logfile without -o.
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    at_exit: [copy_kill_logfile]\n",
        0o644,
    );
    d.troika(&["-n", "-c", "c.yml", "kill", "l", "job.sh", "-j", "999999"])
        .code(0)
        .has("copy_kill_logfile hook requires output argument");
}

#[test]
fn remove_previous_output_and_create_output_dir() {
    let d = Dir::new("output");
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    pre_submit: [remove_previous_output, create_output_dir]\n\
         \x20 m:\n    type: direct\n    connection: local\n    pmkdir_command: [mkdir, -p, -m, '700']\n    pre_submit: [create_output_dir]\n",
        0o644,
    );
    std::fs::create_dir_all(d.p("o")).unwrap();
    d.write("o/job.out", "old output\n", 0o644);
    d.write("o/keep", "x", 0o644);
    d.write("job.sh", "#!/bin/bash\necho new\n", 0o755);
    d.troika(&["-c", "c.yml", "submit", "l", "job.sh", "-o", "o/job.out"])
        .code(0);
    wait_until("the job output", || d.read("o/job.out") == "new\n");
    assert!(d.p("o/keep").exists());
    // pmkdir_command honoured on a direct site when set.
    d.troika(&["-c", "c.yml", "submit", "m", "job.sh", "-o", "p/q/job.out"])
        .code(0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.p("p/q")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}

/// What remote sites do with `edition: 2026` and without (0.2.7's way):
/// where `remove_previous_output` looks and where `abort_on_ecflow` runs.
#[test]
fn editions_choose_where_remote_hooks_act() {
    let d = Dir::new("editions");
    let site = "sites:\n  r:\n    type: slurm\n    connection: ssh\n    host: hpc-login\n\
                \x20   pre_submit: [remove_previous_output]\n    post_kill: [abort_on_ecflow]\n";
    d.write("old.yml", site, 0o644);
    d.write("new.yml", &format!("edition: 2026\n{site}"), 0o644);
    d.write("job.sh", "#!/bin/bash\necho new\n", 0o755);
    let submit = |cfg| d.troika(&["-n", "-v", "-c", cfg, "submit", "r", "job.sh", "-o", "/o/job.out"]);
    submit("new.yml").code(0).has("'hpc-login' 'rm' '-f' '/o/job.out'");
    submit("old.yml").code(0).lacks("'rm' '-f'");
    // The ecFlow variables of the task come from the original script.
    d.write(
        "job.sh.orig",
        "#!/bin/bash\n# troika ecflow_name=/s/t\n# troika ecflow_pass=pw\n# troika ecflow_host=ecf1\n",
        0o644,
    );
    let kill = |cfg| d.troika(&["-n", "-v", "-c", cfg, "kill", "r", "job.sh", "-j", "42"]);
    kill("new.yml").code(0).has(
        "'hpc-login' 'ECF_NAME=/s/t' 'ECF_PASS=pw' 'ECF_HOST=ecf1' 'ecflow_client' \"'--abort=Killed forcefully'\"",
    );
    kill("old.yml")
        .code(0)
        .has("Execute: 'ecflow_client' '--abort=Killed forcefully'")
        .lacks("'ECF_HOST=ecf1'");
}

#[test]
fn check_connection_runs_the_startup_hooks() {
    let d = Dir::new("check");
    d.write("bin/hook", ENV_HOOK, 0o755);
    d.write(
        "c.yml",
        "sites:\n  l:\n    type: direct\n    connection: local\n    at_startup: [check_connection, {command: '{dir}/bin/hook'}]\n\
         \x20 down:\n    type: direct\n    connection: local\n    local_cwd: '{dir}/missing'\n    at_startup: [check_connection]\n",
        0o644,
    );
    d.write("job.sh", "#!/bin/bash\n", 0o755);
    d.troika(&["-c", "c.yml", "check-connection", "l"]).code(0);
    assert!(d.read("env.at_startup").contains("TROIKA_ACTION=check-connection\n"));
    d.troika(&["-c", "c.yml", "submit", "down", "job.sh", "-o", "out"])
        .code(1)
        .has("Connection not working. Exiting.");
    assert!(!d.p("job.sh.orig").exists());
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
    let d = Dir::new("group");
    d.write("bin/hook", ENV_HOOK, 0o755);
    d.write("c.yml", GROUP_CONFIG, 0o644);
    d.write("job.sh", "#!/bin/bash\nsleep 600\n", 0o755);
    d.troika(&["-c", "c.yml", "-v", "submit", "grp", "job.sh", "-o", "out/job.out"])
        .code(0)
        .has("Site 'down' of group 'grp' is not available")
        .has("Site group 'grp': using site 'up1'");
    assert_eq!(d.read("job.sh.site"), "up1\n");
    let env = d.read("env.at_exit");
    assert!(
        env.contains("TROIKA_SITE=up1\n") && env.contains("TROIKA_SITE_GROUP=grp\n"),
        "{env}"
    );
    // Kill goes to the recorded member.
    d.write(
        "c.yml",
        &GROUP_CONFIG.replace("sites: [down, up1, up2]", "sites: [up2, up1]"),
        0o644,
    );
    d.troika(&["-c", "c.yml", "-v", "kill", "grp", "job.sh"])
        .code(0)
        .has("using site 'up1', where the job was submitted");

    d.troika(&["-c", "c.yml", "check-connection", "grp"]).code(0);
    d.troika(&["-c", "c.yml", "submit", "none", "job.sh", "-o", "out/job.out"])
        .code(1)
        .has("No site available in the group 'none'");
    d.troika(&["-c", "c.yml", "check-connection", "none"])
        .code(1)
        .has("No site available in the group");
    d.troika(&["-c", "c.yml", "submit", "nested", "job.sh", "-o", "out/job.out"])
        .code(1)
        .has("groups cannot be nested");
    let list = Command::new(troika_bin())
        .args(["-c", "c.yml", "list-sites"])
        .current_dir(d.root())
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

#[test]
fn hooks_doc_covers_every_hook_and_variable() {
    let doc = std::fs::read_to_string(crate::common::repo_root().join("docs/hooks.md")).unwrap();
    for h in troika::hook::builtin() {
        assert!(
            doc.contains(&format!("### `{}`", h.name)),
            "docs/hooks.md: no section for {}",
            h.name
        );
    }
    let table = troika::hook::external::env_table_markdown();
    assert!(
        doc.contains(&table),
        "docs/hooks.md: the environment table differs from the code; it should read:\n{table}"
    );
}
