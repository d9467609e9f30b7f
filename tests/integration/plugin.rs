//! The plugin API: `examples/custom_troika.rs`, an organisation's own
//! `troika` with a site type (`echo`), a connection (`env-local`), a hook
//! (`announce`) and a translator (`org_account`), is built and run, and each
//! extension is seen at work next to the built-ins.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::common::{repo_root, troika_bin};

/// The example binary, built with cargo (a no-op when `cargo test` already
/// built it): running cargo keeps it current when only this test binary was
/// asked for.
fn custom_troika() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo_root()).args([
            "build",
            "--quiet",
            "--example",
            "custom_troika",
            "--message-format=json",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd.output().expect("cannot run cargo");
        assert!(
            out.status.success(),
            "cargo build --example custom_troika failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "custom_troika")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo did not report the custom_troika executable")
    })
}

const CONFIG: &str = r#"sites:
  demo:
    type: echo
    connection: env-local
    env: {ORG_BANNER: hello from env-local}
    echo_command: [sh, -c, 'printf "banner=%s\n" "$ORG_BANNER"; cat']
    translators: [org_account, resources]
    org_account: acct42
    resource_format: slurm
    at_startup: [announce]
    at_exit: [announce]
"#;

const SCRIPT: &str = "#!/bin/bash\n# troika name=demo\n# troika walltime=90m\necho hi\n";

fn run(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .arg("-c")
        .arg(dir.join("config.yml"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("config.yml"), CONFIG).unwrap();
    fs::write(dir.path().join("job.sh"), SCRIPT).unwrap();
    dir
}

#[test]
fn custom_binary_uses_each_extension() {
    let dir = setup();
    let d = dir.path();
    let out = run(custom_troika(), d, &["-v", "submit", "demo", "job.sh", "-o", "job.out"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    // The site type: its table wrote `#ECHO` lines, its submit printed the job.
    // The translator: the account came from the site's `org_account`; the
    // built-in `resources` ran next to it.
    let expected =
        "#!/bin/bash\n#ECHO name=demo\n#ECHO walltime=01:30:00\n#ECHO output=job.out\n#ECHO account=acct42\necho hi\n";
    assert_eq!(fs::read_to_string(d.join("job.sh")).unwrap(), expected);
    // The connection: the command saw the variable from the site's `env`.
    assert_eq!(stdout, format!("banner=hello from env-local\n{expected}"));
    let jid = fs::read_to_string(d.join("job.sh.jid")).unwrap();
    assert!(jid.starts_with("echo-"), "{jid}");
    // The hook ran at start-up and at exit.
    assert_eq!(stderr.matches("announce: submit on site demo\n").count(), 2, "{stderr}");
    // The extensions' keys are known: no warning about them.
    assert!(!stderr.contains("unknown key"), "{stderr}");

    // Monitor goes through the site type too.
    let out = run(custom_troika(), d, &["monitor", "demo", "job.sh"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        fs::read_to_string(d.join("job.sh.stat")).unwrap(),
        format!("{} DONE\n", jid.trim())
    );
}

#[test]
fn dry_run_shows_the_connection_at_work() {
    let dir = setup();
    let out = run(
        custom_troika(),
        dir.path(),
        &["-n", "-v", "submit", "demo", "job.sh", "-o", "job.out"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Execute: 'env' 'ORG_BANNER=hello from env-local' 'sh' '-c'"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn failures_reach_the_hook_and_the_translator_yields_to_the_script() {
    let dir = setup();
    let d = dir.path();
    let cfg = CONFIG.replace("printf \"banner=%s\\n\" \"$ORG_BANNER\"; cat", "exit 3");
    fs::write(d.join("config.yml"), cfg).unwrap();
    fs::write(d.join("job.sh"), "# troika billing_account=own\necho\n").unwrap();
    let out = run(custom_troika(), d, &["submit", "demo", "job.sh", "-o", "job.out"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("echo queue failed with exit code 3"), "{stderr}");
    assert!(stderr.contains("announce: submit on site demo failed"), "{stderr}");
    // The script's own account wins over the translator's default.
    let script = fs::read_to_string(d.join("job.sh")).unwrap();
    assert!(script.contains("#ECHO account=own\n"), "{script}");
    assert!(!script.contains("acct42"), "{script}");
}

#[test]
fn the_stock_binary_knows_none_of_them() {
    let dir = setup();
    let out = run(
        &troika_bin(),
        dir.path(),
        &["submit", "demo", "job.sh", "-o", "job.out"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Site 'demo' has unknown type 'echo'"), "{stderr}");
    // The stock binary knows the built-ins but not the organisation's
    // translator or connection.
    fs::write(
        dir.path().join("config.yml"),
        "sites:\n  demo:\n    type: slurm\n    connection: env-local\n",
    )
    .unwrap();
    let out = run(
        &troika_bin(),
        dir.path(),
        &["submit", "demo", "job.sh", "-o", "job.out"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unknown connection 'env-local'"));
    fs::write(
        dir.path().join("config.yml"),
        "sites:\n  demo:\n    type: slurm\n    connection: local\n    translators: [org_account]\n",
    )
    .unwrap();
    let out = run(
        &troika_bin(),
        dir.path(),
        &["submit", "demo", "job.sh", "-o", "job.out"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Implementation 'org_account' not found"));
}
