//! Hostile and malformed input: values that try to run a command, add a line
//! to a job script, crash troika or make it hang. Each payload tries to
//! create a marker file; the marker must never appear, whether the value
//! goes through a local command, a real ssh connection (the test sshd of
//! `tests/services/sshd.sh`) or a generated job script that is then run.
//! Every run must end with exit status 0, 1 or 2: never a panic, never a hang.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{read_or_empty, service_for, test_name, wait_until, Case, Service, SshEnv, TroikaRun};
use crate::ssh::{env as ssh_env, shared_case, site_yaml};

/// Payloads that would create `marker` if a shell read them.
fn payloads(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("x;touch {m};"),
        format!("x && touch {m}"),
        format!("x|touch {m}"),
        format!("x\ntouch {m}"),
        format!("'; touch {m}; '"),
        format!("\"; touch {m}; \""),
    ]
}

/// Fails unless the run ended normally (0, 1 or 2) and said nothing of a
/// panic or an internal error.
fn assert_clean_exit(r: &TroikaRun) {
    assert!(
        matches!(r.code, Some(0..=2)),
        "troika {:?} exited with {:?}\n{}",
        r.args,
        r.code,
        r.stderr
    );
    for bad in ["panicked", "Internal error", "RUST_BACKTRACE"] {
        assert!(!r.stderr.contains(bad), "troika {:?}: {bad}\n{}", r.args, r.stderr);
    }
}

fn assert_no_marker(marker: &Path, what: &str) {
    assert!(
        !marker.exists(),
        "{what}: an injected command ran ({} exists)",
        marker.display()
    );
}

/// `c.yml` in `d`: after `top`, a Slurm site `s` on this machine whose
/// submission command is `sbatch`, with `extra` keys (`key: value, `).
fn slurm_config(d: &Case, top: &str, extra: &str, sbatch: &Path) -> PathBuf {
    d.write(
        "c.yml",
        format!(
            "{top}sites:\n  s: {{type: slurm, connection: local, {extra}sbatch_command: {}}}\n",
            sbatch.display()
        ),
    )
}

/// `troika -c CFG submit r SCRIPT -o OUTPUT EXTRA...` in `d`.
fn submit(d: &Case, cfg: &Path, script: &Path, output: &Path, extra: &[&str]) -> TroikaRun {
    let mut args = vec!["-c", cfg.to_str().unwrap(), "submit", "r", script.to_str().unwrap()];
    args.extend(["-o", output.to_str().unwrap()]);
    args.extend(extra);
    d.troika(&args)
}

/// `troika -c CFG -n submit SITE job.sh -o o` in `d`.
fn dry_submit(d: &Case, cfg: &Path, site: &str) -> TroikaRun {
    d.troika(&["-c", cfg.to_str().unwrap(), "-n", "submit", site, "job.sh", "-o", "o"])
}

const SCRIPT: &str = "#!/bin/bash\n# troika name=x\necho hello\n";

// ---- Command-line values and configuration values that reach commands ----

/// Option-like users and hosts are refused before ssh or scp can read them.
#[test]
fn option_like_user_or_host_never_reaches_ssh() {
    let d = Case::new("hostile-user").fake("ssh", "exit 0").fake("scp", "exit 0");
    let marker = d.path("PWNED");
    let (ssh, scp) = (d.path("bin/ssh"), d.path("bin/scp"));
    let script = d.write_exec("job.sh", SCRIPT);
    let evil = format!("-oProxyCommand=touch {}", marker.display());
    let site = |host: &str, user: &str| {
        format!(
            "sites:\n  r:\n    type: slurm\n    connection: ssh\n    host: '{host}'\n{user}    copy_script: true\n    ssh_command: {}\n    scp_command: {}\n",
            ssh.display(),
            scp.display()
        )
    };
    let cases = [
        (site("hpc", ""), Some(evil.as_str()), "Invalid -u: user '-oProxyCommand"),
        (site(&evil, ""), None, "host '-oProxyCommand"),
        (
            site("hpc", &format!("    user: '{evil}'\n")),
            None,
            "user '-oProxyCommand",
        ),
        (site("hpc", "    user: \"a\\nb\"\n"), None, "control character"),
    ];
    for (cfg, user, msg) in cases {
        let c = d.write("c.yml", &cfg);
        for action in ["submit", "monitor", "kill", "check-connection"] {
            let mut args = vec!["-c", c.to_str().unwrap(), action, "r"];
            if action != "check-connection" {
                args.push(script.to_str().unwrap());
            }
            if action == "submit" {
                args.extend(["-o", "out/job.out"]);
            } else if action != "check-connection" {
                args.extend(["-j", "12"]);
            }
            let joined;
            if let Some(u) = user {
                joined = format!("--user={u}");
                args.push(&joined);
            }
            let r = d.troika(&args);
            assert_clean_exit(&r);
            r.expect_code(1);
            assert!(r.stderr.contains(msg), "{action}: {}", r.stderr);
            assert!(d.calls("ssh").is_empty() && d.calls("scp").is_empty());
        }
    }
    assert_no_marker(&marker, "option-like user or host");
}

/// Script names and output paths that look like options or `host:path`
/// reach scp and the scheduler as paths: `./-x.sh`, `./a:b/job.sh`.
#[test]
fn option_like_and_host_like_paths_stay_paths() {
    let d = Case::new("hostile-paths")
        .fake("ssh", "echo 'Submitted batch job 7'")
        .fake("scp", "exit 0");
    let (ssh, scp) = (d.path("bin/ssh"), d.path("bin/scp"));
    let cfg = d.write(
        "c.yml",
        format!(
            "sites:\n  r:\n    type: slurm\n    connection: ssh\n    host: hpc\n    copy_script: true\n    ssh_command: {}\n    scp_command: {}\n",
            ssh.display(),
            scp.display()
        ),
    );
    std::fs::create_dir(d.path("a:b")).unwrap();
    d.write_exec("-x.sh", SCRIPT);
    d.write_exec("a:b/job.sh", SCRIPT);
    for (script, output, local, remote) in [
        ("-x.sh", "-d/x.out", "./-x.sh", "hpc:-d/-x.sh"),
        ("a:b/job.sh", "o/x.out", "./a:b/job.sh", "hpc:o/job.sh"),
    ] {
        d.clear_calls();
        let r = d.troika(&[
            "-c",
            cfg.to_str().unwrap(),
            "submit",
            "r",
            &format!("--output={output}"),
            "--",
            script,
        ]);
        assert_clean_exit(&r);
        r.expect_code(0);
        let scp_args = d.calls("scp").concat();
        assert_eq!(&scp_args[scp_args.len() - 2..], [local, remote], "{script}");
        // The scheduler gets the copy's path, never an option.
        let ssh_args = d.calls("ssh").concat();
        let last = ssh_args.last().unwrap();
        assert!(!last.starts_with('-'), "{script}: sbatch got {last:?}");
    }
}

/// A line break in -o or in a directive value never becomes a line of the
/// job script; the script, .orig and .jid are untouched.
#[test]
fn line_breaks_never_reach_the_job_script() {
    let d = Case::new("hostile-newline").fake("sbatch", "echo 'Submitted batch job 5'");
    let marker = d.path("PWNED");
    let sbatch = d.path("bin/sbatch");
    for p in payloads(&marker).into_iter().filter(|p| p.contains('\n')) {
        for edition in ["", "edition: 2026\n"] {
            let cfg = d.write(
                "c.yml",
                format!(
                    "{edition}sites:\n  s:\n    type: slurm\n    connection: local\n    sbatch_command: {}\n    translators: [extra_directives]\n    extra_directives:\n      queue: {}\n",
                    sbatch.display(),
                    serde_json::to_string(&p).unwrap()
                ),
            );
            let script = d.write_exec("job.sh", SCRIPT);
            let _ = std::fs::remove_file(d.path("job.sh.orig"));
            let r = d.troika(&["-c", cfg.to_str().unwrap(), "submit", "s", "job.sh", "-o", "o.out"]);
            assert_clean_exit(&r);
            r.expect_code(1);
            assert!(r.stderr.contains("line break"), "{}", r.stderr);
            assert_eq!(std::fs::read_to_string(&script).unwrap(), SCRIPT);
            assert!(!d.path("job.sh.orig").exists() && !d.path("job.sh.jid").exists());
            // The same value as -o.
            let cfg = slurm_config(&d, edition, "", &sbatch);
            let r = d.troika(&["-c", cfg.to_str().unwrap(), "submit", "s", "job.sh", "-o", &p]);
            r.expect_code(1);
            assert!(r.stderr.contains("line break in its name"), "{}", r.stderr);
            assert_eq!(std::fs::read_to_string(&script).unwrap(), SCRIPT);
        }
    }
    assert!(d.calls("sbatch").is_empty(), "nothing was submitted");
    assert_no_marker(&marker, "line break");
}

/// Shell metacharacters in every value of the command line, on a direct
/// site that runs the job for real, locally and over the test sshd: the job
/// runs, the values stay values.
#[test]
fn metacharacters_in_names_and_values_run_nothing() {
    let local = Case::new("hostile-meta");
    let mut sites = vec![(local, "sites:\n  r: {type: direct, connection: local}\n".to_string())];
    if service_for(Service::Sshd, &format!("{} (over ssh)", test_name())) {
        let e = SshEnv::from_env();
        let d = shared_case("hostile-meta");
        let mut yaml = String::from("sites:\n");
        let scp = format!("    copy_script: true\n    scp_options: [-F, {}, -O]\n", e.config);
        yaml.push_str(&site_yaml(&e, "r", "direct", &scp));
        sites.push((d, yaml));
    }
    for (d, yaml) in &sites {
        let marker = d.path("PWNED");
        let cfg = d.write("c.yml", yaml);
        for (i, p) in payloads(&marker).into_iter().filter(|p| !p.contains('\n')).enumerate() {
            // The payload in the script's name, its output path and a -D value.
            let name = format!("j{i}{}.sh", p.replace('/', "_"));
            let script = d.write_exec(&name, "#!/bin/bash\n# troika name=x\necho ran\n");
            // Where the remote user may write (copy_script puts the script there).
            let outdir = d.path("out");
            let _ = std::fs::create_dir(&outdir);
            std::fs::set_permissions(&outdir, std::fs::Permissions::from_mode(0o777)).unwrap();
            let out = outdir.join(format!("out{i}{}.txt", p.replace('/', "_")));
            let define = format!("name={p}");
            let r = submit(d, &cfg, &script, &out, &["-D", &define]);
            assert_clean_exit(&r);
            r.expect_code(0);
            wait_until("the job's output", Duration::from_secs(10), || {
                read_or_empty(&out).contains("ran")
            });
            // Monitor and kill with the payload as a job id are refused.
            for action in ["monitor", "kill"] {
                let r = d.troika(&[
                    "-c",
                    cfg.to_str().unwrap(),
                    action,
                    "r",
                    script.to_str().unwrap(),
                    "-j",
                    &p,
                ]);
                assert_clean_exit(&r);
                r.expect_code(1);
            }
            assert_no_marker(&marker, &format!("{p:?} in {yaml}"));
        }
    }
}

/// With scp's legacy protocol the remote shell reads remote paths: they are
/// quoted, and a script named with `;` or `$(...)` arrives under its name.
#[test]
fn legacy_scp_paths_are_quoted_for_the_remote_shell() {
    let Some(e) = ssh_env() else { return };
    let d = shared_case("hostile-scp");
    let marker = d.path("PWNED");
    let cfg = d.write(
        "c.yml",
        format!(
            "sites:\n{}",
            site_yaml(
                &e,
                "r",
                "slurm",
                &format!(
                    "    copy_script: true\n    scp_options: [-F, {}, -O]\n    sbatch_command: [sh, -c, echo Submitted batch job 3, sbatch]\n",
                    e.config
                )
            )
        ),
    );
    let outdir = d.path("out");
    std::fs::create_dir(&outdir).unwrap();
    std::fs::set_permissions(&outdir, std::fs::Permissions::from_mode(0o777)).unwrap();
    for p in payloads(&marker).into_iter().filter(|p| !p.contains('\n')) {
        let name = format!("{}.sh", p.replace('/', "_"));
        let script = d.write_exec(&name, SCRIPT);
        let r = submit(&d, &cfg, &script, &outdir.join("x.out"), &[]);
        assert_clean_exit(&r);
        r.expect_code(0);
        assert!(outdir.join(&name).exists(), "{name:?} was not copied under its name");
        assert_no_marker(&marker, &format!("scp -O with {p:?}"));
    }
}

// ---- Durations, files that are not files, sizes ----

/// Out-of-range durations are configuration errors with their location.
#[test]
fn out_of_range_durations_are_configuration_errors() {
    let d = Case::new("hostile-durations");
    d.write_exec("job.sh", SCRIPT);
    let cases = [
        (
            "command_timeout: 1.0e+300",
            "c.yml:5:22: site 's': 'command_timeout' must be a positive number of seconds, at most 1000000000",
        ),
        (
            "command_timeout: .inf",
            "'command_timeout' must be a positive number of seconds",
        ),
        (
            "ssh_connect_timeout: 1.0e+20\n    host: h",
            "'ssh_connect_timeout' must be a positive number of seconds, at most",
        ),
        ("kill_sequence: [[1.0e+300, 9]]", "invalid wait time 1e+300"),
        (
            "kill_sequence: [[9223372036854775807, 9]]",
            "invalid wait time 9223372036854775807",
        ),
        (
            "at_exit: [{command: [/bin/true], timeout: 1.0e+300}]",
            "'timeout' must be a positive number of seconds, at most 1000000000 (about 31 years), found 1e+300",
        ),
        (
            "translators: [{command: [cat], timeout: 1.0e+300}]",
            "at most 1000000000 (about 31 years), found 1e+300",
        ),
    ];
    for (key, msg) in cases {
        let cfg = d.write(
            "c.yml",
            format!(
                "sites:\n  s:\n    type: slurm\n    connection: {}\n    {key}\n",
                if key.contains("ssh") { "ssh" } else { "local" }
            ),
        );
        let r = dry_submit(&d, &cfg, "s");
        assert_clean_exit(&r);
        r.expect_code(1);
        assert!(r.stderr.contains(msg), "{key}: {}", r.stderr);
    }
    // -t beyond the longest wait is no limit (0.2.7 took any integer).
    let cfg = d.write("c.yml", "sites:\n  s: {type: direct, connection: local}\n");
    for t in ["9223372036854775807", "1000000001", "-9223372036854775808"] {
        let r = d.troika(&["-c", cfg.to_str().unwrap(), "check-connection", "s", "-t", t]);
        assert_clean_exit(&r);
        r.expect_code(0);
    }
}

/// A script that is not a regular file is refused at once; a configuration
/// or job id file that is a FIFO or /dev/zero does not hang either.
#[test]
fn special_files_are_refused_without_hanging() {
    let d = Case::new("hostile-special").time_limit(Duration::from_secs(20));
    let cfg = d.write("c.yml", "sites:\n  s: {type: direct, connection: local}\n");
    let fifo = d.path("fifo.sh");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/dev/zero", d.path("zero.sh")).unwrap();
    std::fs::create_dir(d.path("dir.sh")).unwrap();
    for (name, kind) in [
        ("fifo.sh", "a named pipe (FIFO), not a regular file"),
        ("zero.sh", "a character device, not a regular file"),
        ("dir.sh", "is a directory"),
    ] {
        let r = d.troika(&["-c", cfg.to_str().unwrap(), "submit", "s", name, "-o", "o"]);
        assert_clean_exit(&r);
        r.expect_code(1);
        assert!(r.stderr.contains(kind), "{name}: {}", r.stderr);
    }
    // Configuration: a FIFO without a writer reads as empty; /dev/zero is too large.
    for (c, msg) in [("fifo.sh", "No 'sites' defined"), ("zero.sh", "larger than 64 MiB")] {
        let r = d.troika(&["-c", c, "list-sites"]);
        assert_clean_exit(&r);
        r.expect_code(1);
        assert!(r.stderr.contains(msg), "-c {c}: {}", r.stderr);
    }
    // A log file that is a FIFO without a reader is reported, not waited for.
    let r = d.troika(&["-l", "fifo.sh", "list-sites"]);
    assert_clean_exit(&r);
    r.expect_code(0);
    assert!(r.stderr.contains("Cannot open log file"), "{}", r.stderr);
    // Job id files.
    d.write_exec("job.sh", SCRIPT);
    for target in [fifo.clone(), PathBuf::from("/dev/zero")] {
        let jid = d.path("job.sh.jid");
        let _ = std::fs::remove_file(&jid);
        std::os::unix::fs::symlink(&target, &jid).unwrap();
        let r = d.troika(&["-c", cfg.to_str().unwrap(), "monitor", "s", "job.sh"]);
        assert_clean_exit(&r);
        r.expect_code(1);
    }
}

/// Directive lines are at most 1 MiB; a longer line of the body goes
/// through byte for byte.
#[test]
fn long_lines() {
    let d = Case::new("hostile-long");
    let cfg = d.write("c.yml", "sites:\n  s: {type: slurm, connection: local}\n");
    let long = "x".repeat(3 << 20);
    let body_line = format!("echo {long}\n");
    let comment = format!("# a comment {long}\r\n\0\u{fffd}\n");
    for (script, kept) in [
        (format!("#!/bin/bash\n# troika name={long}\necho\n"), None),
        (format!("#!/bin/bash\n#SBATCH --comment={long}\necho\n"), None),
        (format!("#!/bin/bash{long}\necho\n"), None),
        (
            format!("#!/bin/bash\n# troika name=x\n{body_line}# troika queue=q\n"),
            Some(&body_line),
        ),
        (format!("#!/bin/bash\n{comment}"), Some(&comment)),
    ] {
        let p = d.write_exec("job.sh", &script);
        let r = dry_submit(&d, &cfg, "s");
        assert_clean_exit(&r);
        match kept {
            Some(line) => {
                r.expect_code(0);
                let generated = std::fs::read_to_string(&p).unwrap();
                assert!(generated.ends_with(line.as_str()), "the long body line is kept");
                assert!(generated.starts_with("#!/bin/bash\n#SBATCH "), "{}", &generated[..100]);
            }
            None => {
                r.expect_code(1);
                assert!(
                    r.stderr
                        .contains("a directive or shebang line may have at most 1048576 bytes"),
                    "{}",
                    &r.stderr[..r.stderr.len().min(500)]
                );
                assert_eq!(std::fs::read_to_string(&p).unwrap(), script, "the script is untouched");
            }
        }
    }
}

/// Script bytes of every kind, for every site type: no crash.
#[test]
fn script_bytes_catalogue() {
    let d = Case::new("hostile-bytes");
    let types = ["direct", "slurm", "pbs", "sge", "torque", "lsf", "flux"];
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\0\0\0".to_vec(),
        b"#!/bin/sh\r\n# troika name=a\r\n#SBATCH -N 1\r\n#PBS -q x\r\n".to_vec(),
        b"# troika name=\xff\xfe\n#$ -N \xc3\x28\n".to_vec(),
        b"# troika =x\n".to_vec(),
        b"# troika 9x=1\n".to_vec(),
        b"#troika\x0bname=v\x0c\n".to_vec(),
        b"#BSUB\n#BSUB \n#flux:\n#flux: -N\0\n".to_vec(),
        b"#SBATCH =\n".to_vec(),
        b"# troika name=a\n".repeat(1000),
        b"\n\n\n#!/bin/bash\n# troika walltime=99999999999999999999999\n# troika memory_per_node=1e999G\n".to_vec(),
        b"# troika total_tasks=-1\n# troika tasks_per_node=0\n# troika exclusive=maybe\n".to_vec(),
    ];
    for t in types {
        let cfg = d.write(
            "c.yml",
            format!("sites:\n  s: {{type: {t}, connection: local, translators: [resources]}}\n  p: {{type: {t}, connection: local}}\n"));
        for (i, b) in bodies.iter().enumerate() {
            for site in ["s", "p"] {
                let p = d.path("job.sh");
                std::fs::write(&p, b).unwrap();
                let r = dry_submit(&d, &cfg, site);
                assert_clean_exit(&r);
                if r.code == Some(1) {
                    assert_eq!(
                        &std::fs::read(&p).unwrap(),
                        b,
                        "{t}/{site} body {i}: a failed run leaves the script"
                    );
                }
            }
        }
    }
}

// ---- Configurations ----

/// Malformed YAML and wrong types for every key of every site type and
/// connection: a configuration error or a working run, never a crash, and
/// never an injected command.
#[test]
fn configuration_catalogue() {
    let d = Case::new("hostile-config").time_limit(Duration::from_secs(20));
    let marker = d.path("PWNED");
    d.write_exec("job.sh", SCRIPT);
    let malformed = [
        "sites: [",
        "sites:\n  s: {type: slurm\n",
        "\t- x",
        "sites:\n  s:\n    type: slurm\n    type: pbs\n",
        "a: &a [*a]\n",
        "sites: !!python/object:os.system {}\n",
        "sites:\n  s: !custom {}\n",
        "--- \n--- \n",
        "sites: {s: {type: slurm, connection: local}}\n...\n%YAML 1.1\n---\n",
        "\u{feff}sites: 1\n",
        "sites:\n  ? [a, b]\n  : {type: slurm}\n",
        "sites:\n  s: &x {<<: *x}\n",
        "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
        "edition: 2027\nsites: {}\n",
        "sites:\n  s: 2024-01-01\n",
        "sites:\n  s: {type: 2024-01-01, connection: local}\n",
    ];
    for text in malformed {
        let cfg = d.write("c.yml", text);
        let r = dry_submit(&d, &cfg, "s");
        assert_clean_exit(&r);
        r.expect_code(1);
    }
    // Every key of every site type and connection, with values of every kind.
    let registry = troika::Registry::builtin();
    let values = [
        "null",
        "[[1, [2]]]",
        "{a: {b: c}}",
        "1.0e+300",
        "-1",
        "99999999999999999999999",
        "2024-01-01",
        "''",
        "'-oProxyCommand=touch MARKER'",
        "\"a\\nb\"",
        "'$(touch MARKER)'",
        "[touch, MARKER]",
    ];
    let mut runs = 0;
    for site_type in &registry.sites {
        for conn in ["local", "ssh"] {
            let keys: Vec<&str> = troika::plugin::COMMON_KEYS
                .iter()
                .chain(site_type.keys)
                .chain(registry.connection_type(conn).unwrap().keys)
                .copied()
                .filter(|k| !["type", "connection"].contains(k))
                .collect();
            for key in keys {
                for v in values {
                    let v = v.replace("MARKER", &marker.display().to_string());
                    let cfg = d.write(
                        "c.yml",
                        format!(
                            "sites:\n  s:\n    type: {}\n    connection: {conn}\n    host: h\n    {key}: {v}\n",
                            site_type.name
                        ),
                    );
                    // A dry run: commands are only written, never run.
                    let r = dry_submit(&d, &cfg, "s");
                    assert_clean_exit(&r);
                    runs += 1;
                    std::fs::write(d.path("job.sh"), SCRIPT).unwrap();
                }
            }
        }
    }
    assert!(runs > 500, "{runs} runs");
    assert_no_marker(&marker, "configuration catalogue");
}

// ---- Files left behind ----

/// A missing local_cwd is named; ordinary I/O errors are not worded as a
/// crash with edition 2026, and keep 0.2.7's words without it.
#[test]
fn clear_messages_for_missing_directories_and_io_errors() {
    let d = Case::new("hostile-io").fake("sbatch", "echo 'Submitted batch job 5'");
    d.write_exec("job.sh", SCRIPT);
    let sbatch = d.path("bin/sbatch");
    let cfg = d.write(
        "c.yml",
        format!(
            "sites:\n  s: {{type: slurm, connection: local, local_cwd: {}, sbatch_command: {}}}\n",
            d.path("gone").display(),
            sbatch.display()
        ),
    );
    let r = d.troika(&["-c", cfg.to_str().unwrap(), "submit", "s", "job.sh", "-o", "o"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains(&format!(
            "in local_cwd '{}': No such file or directory",
            d.path("gone").display()
        )),
        "{}",
        r.stderr
    );
    // The .jid cannot be written (a directory is in its place).
    std::fs::create_dir_all(d.path("job.sh.jid/x")).unwrap();
    for (edition, words) in [("", true), ("edition: 2026\n", false)] {
        std::fs::write(d.path("job.sh"), SCRIPT).unwrap();
        let cfg = slurm_config(&d, edition, "", &sbatch);
        let r = d.troika(&["-c", cfg.to_str().unwrap(), "submit", "s", "job.sh", "-o", "o"]);
        r.expect_code(1);
        assert!(
            r.stderr
                .contains("Job 5 was submitted, but its id could not be kept: Cannot replace 'job.sh.jid'"),
            "{}",
            r.stderr
        );
        assert_eq!(
            r.stderr.contains("Unhandled exception"),
            words,
            "{edition:?}: {}",
            r.stderr
        );
    }
}

/// Two submissions of one script at once: one wins, the other fails and
/// changes nothing; .orig always holds the original.
#[test]
fn concurrent_submissions_of_one_script() {
    let d = Case::new("hostile-race");
    let (started, go) = (d.path("started"), d.path("go"));
    // The first sbatch waits for the test, which lets it go once the
    // second submission has ended (30 s at most, should the test fail
    // before); each takes a second, so that the eight below overlap (one
    // after another, each would submit the script its predecessor
    // generated, as a user submitting twice does).
    let d = d.fake(
        "sbatch",
        &format!(
            "touch '{}'; i=0; while [ ! -e '{}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; sleep 1; echo \"Submitted batch job $$\"",
            started.display(),
            go.display()
        ),
    );
    let sbatch = d.path("bin/sbatch");
    let cfg = slurm_config(&d, "", "", &sbatch);
    let script = d.write_exec("job.sh", SCRIPT);
    let args = ["-c", cfg.to_str().unwrap(), "submit", "s", "job.sh", "-o", "o"];
    // One while another is in sbatch.
    let first = std::thread::scope(|s| {
        let first = s.spawn(|| d.troika(&args));
        wait_until("the first sbatch", Duration::from_secs(10), || started.exists());
        let second = d.troika(&args);
        assert_clean_exit(&second);
        second.expect_code(1);
        assert!(
            second.stderr.contains("Another troika process is submitting"),
            "{}",
            second.stderr
        );
        std::fs::write(&go, "").unwrap();
        first.join().unwrap()
    });
    first.expect_code(0);
    assert_eq!(std::fs::read_to_string(d.path("job.sh.orig")).unwrap(), SCRIPT);
    assert!(std::fs::read_to_string(&script)
        .unwrap()
        .contains("#SBATCH --job-name=x"));
    let log = read_or_empty(d.path("job.sh.submitlog"));
    assert!(!log.contains("Another troika"), "the winner's log is its own:\n{log}");
    // Eight at once, three times: .orig is always the original.
    for round in 0..3 {
        std::fs::write(&script, SCRIPT).unwrap();
        d.clear_calls();
        let runs: Vec<TroikaRun> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8).map(|_| s.spawn(|| d.troika(&args))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let won = runs.iter().filter(|r| r.code == Some(0)).count();
        for r in &runs {
            assert_clean_exit(r);
        }
        assert!(won >= 1, "round {round}: none won");
        assert_eq!(d.calls("sbatch").concat().len(), 0, "sbatch takes the script on stdin");
        assert_eq!(
            std::fs::read_to_string(d.path("job.sh.orig")).unwrap(),
            SCRIPT,
            "round {round}"
        );
    }
}

/// With edition 2026 a submission that fails before the scheduler took the
/// job leaves the script, .orig and .jid as they were; a timeout (the job
/// may have been submitted) leaves the generated script; without an
/// edition, 0.2.7's behaviour (the generated script stays).
#[test]
fn failed_submission_puts_files_back() {
    let d = Case::new("hostile-rollback")
        .fake(
            "sbatch-fail",
            "echo 'sbatch: error: Invalid partition name specified' >&2; exit 1",
        )
        .fake("sbatch-slow", "sleep 5; echo 'Submitted batch job 9'");
    let (failing, slow) = (d.path("bin/sbatch-fail"), d.path("bin/sbatch-slow"));
    let script = d.path("job.sh");
    for (edition, cmd, restored) in [
        ("edition: 2026\n", &failing, true),
        ("", &failing, false),
        ("edition: 2026\n", &slow, false),
    ] {
        std::fs::write(&script, SCRIPT).unwrap();
        std::fs::write(d.path("job.sh.orig"), "previous original\n").unwrap();
        std::fs::write(d.path("job.sh.jid"), "41\n").unwrap();
        let cfg = slurm_config(&d, edition, "command_timeout: 1, ", cmd);
        let r = d.troika(&["-c", cfg.to_str().unwrap(), "submit", "s", "job.sh", "-o", "o"]);
        assert_clean_exit(&r);
        r.expect_code(1);
        assert_eq!(
            read_or_empty(d.path("job.sh.jid")),
            "41\n",
            "the .jid is never touched by a failure"
        );
        let now = read_or_empty(&script);
        if restored {
            assert_eq!(now, SCRIPT);
            assert_eq!(read_or_empty(d.path("job.sh.orig")), "previous original\n");
        } else {
            assert!(
                now.contains("#SBATCH --job-name=x"),
                "{edition:?} {}: {now}",
                cmd.display()
            );
            assert_eq!(read_or_empty(d.path("job.sh.orig")), SCRIPT);
        }
        let leftovers: Vec<String> = std::fs::read_dir(d.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
