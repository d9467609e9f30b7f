//! The plugin API: `examples/custom_troika.rs`, an organisation's own
//! `troika` with a site type (`echo`), a connection (`env-local`), a hook
//! (`announce`) and a translator (`org_account`), is built and run, and each
//! extension is seen at work next to the built-ins.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{repo_root, Case};

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

/// A case with [`CONFIG`] and [`SCRIPT`], for the stock troika unless
/// given a [`Case::binary`].
fn case() -> Case {
    let c = Case::new("plugin").config(CONFIG);
    c.write("job.sh", SCRIPT);
    c
}

#[test]
fn custom_binary_uses_each_extension() {
    let c = case().binary(custom_troika());
    let r = c.troika(&["-v", "submit", "demo", "job.sh", "-o", "job.out"]);
    r.expect_code(0);

    // The site type: its table wrote `#ECHO` lines, its submit printed the job.
    // The translator: the account came from the site's `org_account`; the
    // built-in `resources` ran next to it.
    let expected =
        "#!/bin/bash\n#ECHO name=demo\n#ECHO walltime=01:30:00\n#ECHO output=job.out\n#ECHO account=acct42\necho hi\n";
    assert_eq!(c.read("job.sh"), expected);
    // The connection: the command saw the variable from the site's `env`.
    assert_eq!(r.stdout, format!("banner=hello from env-local\n{expected}"));
    let jid = c.read("job.sh.jid");
    assert!(jid.starts_with("echo-"), "{jid}");
    // The hook ran at start-up and at exit.
    assert_eq!(
        r.stderr.matches("announce: submit on site demo\n").count(),
        2,
        "{}",
        r.stderr
    );
    // The extensions' keys are known: no warning about them.
    r.stderr_lacks("unknown key");

    // Monitor goes through the site type too.
    c.troika(&["monitor", "demo", "job.sh"]).expect_code(0);
    assert_eq!(c.read("job.sh.stat"), format!("{} DONE\n", jid.trim()));
}

#[test]
fn dry_run_shows_the_connection_at_work() {
    let c = case().binary(custom_troika());
    let r = c.troika(&["-n", "-v", "submit", "demo", "job.sh", "-o", "job.out"]);
    r.expect_code(0)
        .stderr_contains("Execute: 'env' 'ORG_BANNER=hello from env-local' 'sh' '-c'");
    assert!(r.stdout.is_empty());
}

#[test]
fn failures_reach_the_hook_and_the_translator_yields_to_the_script() {
    let c = case().binary(custom_troika());
    c.write(
        "config.yml",
        CONFIG.replace("printf \"banner=%s\\n\" \"$ORG_BANNER\"; cat", "exit 3"),
    );
    c.write("job.sh", "# troika billing_account=own\necho\n");
    c.troika(&["submit", "demo", "job.sh", "-o", "job.out"])
        .expect_code(1)
        .stderr_contains("echo queue failed with exit code 3")
        .stderr_contains("announce: submit on site demo failed");
    // The script's own account wins over the translator's default.
    let script = c.read("job.sh");
    assert!(script.contains("#ECHO account=own\n"), "{script}");
    assert!(!script.contains("acct42"), "{script}");
}

#[test]
fn the_stock_binary_knows_none_of_them() {
    let c = case();
    let submit = || c.troika(&["submit", "demo", "job.sh", "-o", "job.out"]);
    submit()
        .expect_code(1)
        .stderr_contains("Site 'demo' has unknown type 'echo'");
    // The stock binary knows the built-ins but not the organisation's
    // translator or connection.
    c.write_sites("  demo:\n    type: slurm\n    connection: env-local\n");
    submit().stderr_contains("Unknown connection 'env-local'");
    c.write_sites("  demo:\n    type: slurm\n    connection: local\n    translators: [org_account]\n");
    submit().stderr_contains("Implementation 'org_account' not found");
}
