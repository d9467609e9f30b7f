//! The ssh connection against a real OpenSSH server on 127.0.0.1, started by
//! `tests/services/sshd.sh up` (users troika-ssh1 and troika-ssh2, client
//! config with the host alias `troika-test`), and through it the direct site
//! and the real Slurm cluster.
//!
//! Without a reachable server the tests are skipped, loudly, or fail under
//! `TROIKA_TEST_REQUIRE_SERVICES=1` (see `common::Service`).

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use troika::plugin::{Command, Connection, ConnectionOptions, Registry, SiteConfig};

use crate::common::{describe, read_or_empty, service, troika_bin, wait_until, Case, ScratchDir, Service};

pub use crate::common::SshEnv as Env;

/// The sshd's environment, or None when the test is to be skipped (see
/// [`crate::common::Service`]).
pub fn env() -> Option<Env> {
    service(Service::Sshd).then(Env::from_env)
}

/// A scratch directory the remote users can write to.
pub fn scratch(tag: &str) -> ScratchDir {
    let d = ScratchDir::new(&format!("ssh-{tag}"));
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

/// A case whose directory the remote users can write to.
pub fn shared_case(tag: &str) -> Case {
    Case::new(&format!("ssh-{tag}")).dir_mode(0o777)
}

pub fn site_yaml(e: &Env, name: &str, typ: &str, extra: &str) -> String {
    format!(
        "  {name}:\n    type: {typ}\n    connection: ssh\n    host: {}\n    user: {}\n    ssh_options: [-F, {}]\n{extra}",
        e.host, e.user, e.config
    )
}

fn troika(args: &[&str]) -> Output {
    std::process::Command::new(troika_bin()).args(args).output().unwrap()
}

/// An ssh connection made as a site's would be, from `yaml`.
fn ssh(yaml: &str) -> Box<dyn Connection> {
    let ssh = Registry::builtin()
        .connection_type("ssh")
        .expect("ssh is built in")
        .create;
    let options = ConnectionOptions {
        user: None,
        dry_run: false,
        local_copy_paths: false,
    };
    ssh(&SiteConfig::from_yaml("t", yaml).unwrap(), &options).unwrap()
}

fn connection(e: &Env, extra: &str) -> Box<dyn Connection> {
    ssh(&format!(
        "host: {}\nuser: {}\nssh_options: [-F, {}]\n{extra}",
        e.host, e.user, e.config
    ))
}

/// Every argument arrives on the remote side exactly as given.
#[test]
fn ssh_quoting_catalogue() {
    let Some(e) = env() else { return };
    let conn = connection(&e, "");
    let catalogue = [
        "plain",
        "with space",
        "  leading and trailing  ",
        "it's",
        "\"double\"",
        "$HOME",
        "${USER}",
        "`id`",
        "$(id)",
        "a;b",
        "a && b",
        "*",
        "?",
        "[ab]",
        "~",
        "back\\slash",
        "",
        "new\nline",
        "tab\there",
        "#comment",
        "ünïcödé",
        "-n",
        "a|b>c<d",
    ];
    let mut argv: Vec<OsString> = vec!["printf".into(), "%s\\0".into()];
    argv.extend(catalogue.iter().map(OsString::from));
    let out = conn.execute(Command::new(argv)).unwrap();
    assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<String> = out
        .stdout
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    assert_eq!(&got[..catalogue.len()], &catalogue[..]);
    // The remote working directory is quoted too.
    let d = scratch("cwd");
    let odd = d.join("odd dir $x 'q'");
    std::fs::create_dir(&odd).unwrap();
    std::fs::set_permissions(&odd, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conn = connection(
        &e,
        &format!("remote_cwd: \"{}\"\n", odd.display().to_string().replace('"', "\\\"")),
    );
    let out = conn.execute(Command::new(["pwd"])).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), odd.display().to_string());
}

/// The top of a configuration in `edition` (None: a 0.2.7 configuration).
fn edition_line(edition: Option<&str>) -> String {
    edition.map(|e| format!("edition: {e}\n")).unwrap_or_default()
}

/// Whether the log of an action shows ssh calls with troika's own options
/// (edition 2026) or 0.2.7's command lines only.
fn assert_ssh_options(log: &Path, edition: Option<&str>) {
    let log = read_or_empty(log);
    assert!(log.contains("'ssh' '-F'"), "no ssh call logged: {log}");
    let ours = [
        "'-oBatchMode=yes'",
        "'-oServerAliveInterval=15'",
        "'-oControlMaster=auto'",
    ];
    for o in ours {
        assert_eq!(
            log.contains(o),
            edition.is_some(),
            "{o} with edition {edition:?}: {log}"
        );
    }
}

/// The tests that use the second remote user one at a time: one of them
/// checks that no shared connection (master) of that user runs, which
/// another's multiplexed calls would start.
static USER2: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Submit, monitor and kill on the direct site through ssh, with the script
/// piped (use_shell) or copied with scp, and -u as the second user; with
/// troika's ssh options (edition 2026) and with 0.2.7's command lines.
#[test]
fn ssh_direct_submit_monitor_kill() {
    let Some(e) = env() else { return };
    let _user2 = USER2.lock().unwrap_or_else(|e| e.into_inner());
    let user2 = Some(e.user2.as_str());
    for (copy, user, edition) in [
        (false, None, Some("2026")),
        (true, None, None),
        (false, user2, Some("2026")),
        (false, user2, None),
    ] {
        let d = scratch("direct");
        let extra = if copy { "    copy_script: true\n" } else { "" };
        let cfg = d.write(
            "c.yml",
            &format!(
                "{}sites:\n{}",
                edition_line(edition),
                site_yaml(&e, "r", "direct", extra)
            ),
            0o644,
        );
        let script = d.write(
            "job.sh",
            "#!/bin/bash\n# troika name=x\necho \"user=$(whoami)\"\nsleep 60\necho END\n",
            0o755,
        );
        let out_file = d.join("out dir/j $1 'x'.out");
        let mut args = vec![
            "-c",
            cfg.to_str().unwrap(),
            "submit",
            "r",
            script.to_str().unwrap(),
            "-o",
            out_file.to_str().unwrap(),
        ];
        if let Some(u) = user {
            args.extend(["-u", u]);
        }
        let o = troika(&args);
        assert!(o.status.success(), "{}", describe(&o));
        assert_ssh_options(&d.join("job.sh.submitlog"), edition);
        let jid = read_or_empty(d.join("job.sh.jid")).trim().to_string();
        let pid: u32 = jid.parse().unwrap_or_else(|_| panic!("jid {jid:?}"));
        wait_until("job output", Duration::from_secs(10), || {
            read_or_empty(&out_file).contains("user=")
        });
        assert_eq!(
            read_or_empty(&out_file).trim(),
            format!("user={}", user.unwrap_or(&e.user))
        );
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "the remote pid is the job's"
        );
        let mut margs = vec!["-c", cfg.to_str().unwrap(), "monitor", "r", script.to_str().unwrap()];
        if let Some(u) = user {
            margs.extend(["-u", u]);
        }
        let o = troika(&margs);
        assert!(o.status.success(), "{}", describe(&o));
        assert!(
            read_or_empty(d.join("job.sh.stat")).contains(&jid),
            "stat: {}",
            read_or_empty(d.join("job.sh.stat"))
        );
        let mut kargs = vec!["-c", cfg.to_str().unwrap(), "kill", "r", script.to_str().unwrap()];
        if let Some(u) = user {
            kargs.extend(["-u", u]);
        }
        let o = troika(&kargs);
        assert!(o.status.success(), "{}", describe(&o));
        wait_until("the job to end", Duration::from_secs(10), || {
            !Path::new(&format!("/proc/{pid}")).exists()
        });
        assert!(read_or_empty(d.join("job.sh.killlog")).contains(&format!("Kill of job {jid}: TERMINATED")));
        // The job is gone: a second kill says so.
        let o = troika(&kargs);
        assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("not found"),
            "{}",
            describe(&o)
        );
    }
}

/// Submit, monitor and kill on the real Slurm cluster through ssh.
#[test]
fn ssh_slurm_submit_monitor_kill() {
    let Some(e) = env() else { return };
    if !service(Service::Slurm) {
        return;
    }
    for (copy, edition) in [(false, Some("2026")), (true, None)] {
        let d = scratch("slurm");
        let extra = if copy { "    copy_script: true\n" } else { "" };
        let cfg = d.write(
            "c.yml",
            &format!(
                "{}sites:\n{}",
                edition_line(edition),
                site_yaml(&e, "r", "slurm", extra)
            ),
            0o644,
        );
        let script = d.write(
            "job.sh",
            "#!/bin/bash\n# troika name=over-ssh\necho \"ran as $(whoami)\"\nsleep 60\n",
            0o755,
        );
        let out_dir = d.join("out");
        std::fs::create_dir(&out_dir).unwrap();
        std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let out_file = out_dir.join("job.out");
        let cfg_s = cfg.to_str().unwrap();
        let script_s = script.to_str().unwrap();
        let o = troika(&[
            "-c",
            cfg_s,
            "submit",
            "r",
            script_s,
            "-o",
            out_file.to_str().unwrap(),
            "-D",
            "walltime=00:02:00",
        ]);
        assert!(o.status.success(), "{}", describe(&o));
        assert_ssh_options(&d.join("job.sh.submitlog"), edition);
        let jid = read_or_empty(d.join("job.sh.jid")).trim().to_string();
        assert!(jid.parse::<u64>().is_ok(), "jid {jid:?}");
        let show = std::process::Command::new("scontrol")
            .args(["show", "job", &jid])
            .output()
            .unwrap();
        let show = String::from_utf8_lossy(&show.stdout).into_owned();
        assert!(show.contains("JobName=over-ssh"), "{show}");
        assert!(show.contains(&format!("UserId={}", e.user)), "{show}");
        assert!(show.contains("TimeLimit=00:02:00"), "{show}");
        if copy {
            assert!(
                out_dir.join("job.sh").exists(),
                "the script is copied beside the output"
            );
        }
        wait_until("the job to run", Duration::from_secs(30), || {
            read_or_empty(&out_file).contains("ran as")
        });
        assert_eq!(read_or_empty(&out_file).trim(), format!("ran as {}", e.user));
        let o = troika(&["-c", cfg_s, "monitor", "r", script_s]);
        assert!(o.status.success(), "{}", describe(&o));
        assert!(
            read_or_empty(d.join("job.sh.stat")).contains(&jid),
            "stat: {}",
            read_or_empty(d.join("job.sh.stat"))
        );
        let o = troika(&["-c", cfg_s, "kill", "r", script_s]);
        assert!(o.status.success(), "{}", describe(&o));
        assert!(read_or_empty(d.join("job.sh.killlog")).contains(&format!("Kill of job {jid}: KILLED")));
        wait_until("the job to leave the queue", Duration::from_secs(20), || {
            let q = std::process::Command::new("squeue")
                .args(["-h", "-j", &jid])
                .output()
                .unwrap();
            String::from_utf8_lossy(&q.stdout).trim().is_empty()
        });
    }
}

/// Nothing listening: a clear error and exit 1 at once. A listener that
/// never speaks: failure within the connect timeout.
#[test]
fn ssh_server_down_or_silent() {
    let Some(e) = env() else { return };
    let d = scratch("down");
    // A port with nothing behind it: bind, note the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let cfg = d.write(
        "c.yml",
        &format!(
            "sites:\n  down: {{type: slurm, connection: ssh, host: 127.0.0.1, ssh_options: [-F, {c}, -p, '{port}']}}\n  silent: {{type: slurm, connection: ssh, host: 127.0.0.1, ssh_connect_timeout: 2, ssh_options: [-F, {c}, -p, '{silent_port}']}}\n",
            c = e.config
        ),
        0o644,
    );
    let script = d.write("job.sh", "#!/bin/bash\necho hi\n", 0o755);
    let cfg_s = cfg.to_str().unwrap();
    let start = Instant::now();
    let o = troika(&[
        "-c",
        cfg_s,
        "submit",
        "down",
        script.to_str().unwrap(),
        "-o",
        "/tmp/x.out",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Connection to 127.0.0.1 failed") && err.contains("Connection refused"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!d.join("job.sh.jid").exists());
    let o = troika(&["-c", cfg_s, "check-connection", "down"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    // The silent listener accepts (kernel backlog) and never answers.
    let start = Instant::now();
    let o = troika(&["-c", cfg_s, "check-connection", "silent"]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    // -t is honoured even when the site's own timeout is longer.
    let cfg2 = d.write(
        "c2.yml",
        &format!("sites:\n  silent: {{type: slurm, connection: ssh, host: 127.0.0.1, ssh_options: [-F, {}, -p, '{silent_port}']}}\n", e.config),
        0o644,
    );
    let start = Instant::now();
    let o = troika(&["-c", cfg2.to_str().unwrap(), "check-connection", "-t", "1", "silent"]);
    assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    drop(silent);
}

/// With multiplexing a master is left running for later calls; without it
/// none is.
#[test]
fn ssh_multiplexed_or_not() {
    let Some(e) = env() else { return };
    let _user2 = USER2.lock().unwrap_or_else(|e| e.into_inner());
    // Where docs/ssh.md says the sockets are.
    let uid = nix::unistd::getuid().as_raw();
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| std::path::PathBuf::from(d).join("troika"))
        .filter(|d| d.as_os_str().len() + 42 < 108 && d.is_dir())
        .unwrap_or_else(|| std::path::PathBuf::from(format!("/tmp/troika-{uid}")));
    let control = format!("-oControlPath={}/%C", dir.display());
    let dest = format!("{}@{}", e.user2, e.host);
    let check = || {
        std::process::Command::new("ssh")
            .args(["-F", &e.config, &control, "-O", "check", &dest])
            .output()
            .map(|o| o.status.success())
            .unwrap()
    };
    let stop = || {
        let _ = std::process::Command::new("ssh")
            .args(["-F", &e.config, &control, "-O", "exit", &dest])
            .output();
    };
    stop();
    let yaml = |m: bool| {
        format!(
            "host: {}\nuser: {}\nssh_options: [-F, {}]\nssh_multiplex: {m}\n",
            e.host, e.user2, e.config
        )
    };
    let plain = ssh(&yaml(false));
    assert!(plain.execute(Command::new(["true"])).unwrap().success());
    assert!(!check(), "no master without multiplexing");
    let muxed = ssh(&yaml(true));
    let t0 = Instant::now();
    assert!(muxed.execute(Command::new(["true"])).unwrap().success());
    let first = t0.elapsed();
    assert!(check(), "a master runs after a multiplexed call");
    let t1 = Instant::now();
    for _ in 0..5 {
        assert!(muxed.execute(Command::new(["true"])).unwrap().success());
    }
    eprintln!(
        "ssh: first call {first:?}, then {:?} per multiplexed call",
        t1.elapsed() / 5
    );
    stop();
}
