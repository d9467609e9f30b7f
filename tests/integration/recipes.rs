//! The recipes of `recipes/`: each passes `troika config check`, is what `troika config new
//! --recipe NAME` writes, and runs a job against the real service (Slurm, Grid Engine, the
//! test sshd) or the emulator (PBS, Torque, LSF, Flux).
//!
//! A recipe is used as written, with two substitutions where the test machine must differ
//! from a real installation, and nothing else:
//! - `host: NAME` lines (the ssh recipes) become the test sshd's host alias, user and ssh
//!   configuration file (`host:`, `user:`, `ssh_options: [-F, FILE]`), see [`on_test_sshd`];
//!   in `group-failover`, the first login node becomes a port where nothing listens, so that
//!   the group must fail over to the second;
//! - the emulated schedulers' commands are found on PATH (the emulators' directory first),
//!   so their recipes are not changed at all.

use std::time::Duration;

use crate::common::{read_or_empty, repo_root, service, wait_for_content, Case, Service, SgeEnv};

const JOB_DEADLINE: Duration = Duration::from_secs(60);

const SCRIPT: &str = "#!/bin/bash\n# troika name=recipe\n# troika walltime=00:05:00\necho hello\necho done\n";

/// The text of `recipes/NAME.yml`, checked to be what `troika config new` writes.
fn recipe(name: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("recipes").join(format!("{name}.yml"))).unwrap();
    let c = Case::new("recipe-new");
    let out = c
        .troika(&["config", "new", "--recipe", name])
        .expect_code(0)
        .stdout
        .clone();
    assert_eq!(out, text, "troika config new --recipe {name}");
    text
}

/// `text` with each `host: NAME` line replaced by the test sshd's host, user and ssh
/// configuration; `down` names a host whose line gets a port where nothing listens.
fn on_test_sshd(text: &str, down: Option<&str>) -> String {
    let e = crate::common::SshEnv::from_env();
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        match trimmed
            .strip_prefix("host: ")
            .map(|h| h.split_whitespace().next().unwrap_or(""))
        {
            Some(h) if Some(h) == down => out.push_str(&format!(
                "{indent}host: 127.0.0.1\n{indent}ssh_options: [-F, {}, -p, '1']\n",
                e.config
            )),
            Some(_) => out.push_str(&format!(
                "{indent}host: {}\n{indent}user: {}\n{indent}ssh_options: [-F, {}]\n",
                e.host, e.user, e.config
            )),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Writes `text` as the case's configuration and checks it: no problem.
fn checked(c: &Case, text: &str) {
    c.write("config.yml", text);
    let run = c.troika(&["config", "check"]);
    run.expect_code(0);
    assert!(run.stdout.contains(", no problem\n"), "{}", run.stdout);
}

/// Submits `job.sh` to `site` with output `out/job.out` (a directory of its own, which the
/// remote users of the test sshd may write to: a copied script goes beside the output);
/// returns the job id.
fn submit(c: &Case, site: &str) -> String {
    submit_script(c, site, SCRIPT)
}

/// Submits `text` as `job.sh`, its output in `out/job.out`; returns the job id.
fn submit_script(c: &Case, site: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let script = c.write_exec("job.sh", text);
    std::fs::create_dir_all(c.path("out")).unwrap();
    std::fs::set_permissions(c.path("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = c.path("out/job.out");
    c.troika(&[
        "submit",
        site,
        &script.display().to_string(),
        "-o",
        &out.display().to_string(),
    ])
    .expect_code(0);
    read_or_empty(c.path("job.sh.jid")).trim().to_string()
}

/// Submits a job that waits for the test, monitors it while it waits (an
/// ended job may have left the queue already, Grid Engine's at once, and
/// `monitor` then fails), then lets it end.
fn runs(c: &Case, site: &str) {
    // In out/, which the remote users of the test sshd may read.
    let go = c.path("out/go");
    let script = format!(
        "{SCRIPT}while [ ! -e '{}' ]; do sleep 0.1; done\necho really done\n",
        go.display()
    );
    let jid = submit_script(c, site, &script);
    assert!(!jid.is_empty());
    wait_for_content(&c.path("out/job.out"), "done\n", JOB_DEADLINE);
    let job = c.s("job.sh");
    c.troika(&["monitor", site, &job, "-o", &c.s("out/job.out")])
        .expect_code(0);
    std::fs::write(&go, "").unwrap();
    wait_for_content(&c.path("out/job.out"), "really done\n", JOB_DEADLINE);
}

/// Submits to an emulated scheduler, monitors and kills the job.
fn emulated(c: &Case, site: &str) {
    let jid = submit(c, site);
    assert!(!jid.is_empty());
    let script = c.s("job.sh");
    c.troika(&["monitor", site, &script, "-o", &c.s("out/job.out")])
        .expect_code(0);
    c.troika(&["kill", site, &script, "-o", &c.s("out/job.out")])
        .expect_code(0);
}

#[test]
fn recipes_are_listed_and_written_without_overwriting() {
    let c = Case::new("recipe-list");
    let list = c.troika(&["config", "new", "--list"]).expect_code(0).stdout.clone();
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("recipes"))
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_suffix(".yml")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    let mut listed: Vec<String> = list
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, names, "every file of recipes/ is embedded, and only they");
    let out = c.s("troika.yml");
    c.troika(&["config", "new", "--recipe", "slurm", "-o", &out])
        .expect_code(0);
    assert_eq!(read_or_empty(&out), recipe("slurm"));
    c.write("troika.yml", "mine\n");
    c.troika(&["config", "new", "--recipe", "slurm", "-o", &out])
        .expect_code(1)
        .stderr_contains("exists already");
    assert_eq!(read_or_empty(&out), "mine\n");
    c.troika(&["config", "new", "--recipe", "slurmm"])
        .expect_code(1)
        .stderr_contains("did you mean 'slurm'?");
}

#[test]
fn recipe_direct() {
    let c = Case::new("recipe-direct");
    checked(&c, &recipe("direct"));
    runs(&c, "workstation");
}

#[test]
fn recipe_pbs() {
    let c = crate::pbs::server(Case::new("recipe-pbs"));
    checked(&c, &recipe("pbs"));
    emulated(&c, "pbs");
}

#[test]
fn recipe_torque() {
    let c = Case::emulated("torque");
    checked(&c, &recipe("torque"));
    emulated(&c, "torque");
}

#[test]
fn recipe_lsf() {
    let c = Case::emulated("lsf");
    checked(&c, &recipe("lsf"));
    emulated(&c, "lsf");
}

#[test]
fn recipe_flux() {
    let c = Case::emulated("flux");
    checked(&c, &recipe("flux"));
    emulated(&c, "flux");
}

#[test]
fn recipe_slurm() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("recipe-slurm");
    checked(&c, &recipe("slurm"));
    c.troika(&["config", "check", "--connect"]).expect_code(0);
    runs(&c, "hpc");
}

#[test]
fn recipe_slurm_accounting() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("recipe-slurm-accounting").env("XDG_STATE_HOME", "state");
    let text = recipe("slurm-accounting").replace("ledger: ~/.local/state/troika/ledger", "ledger: ledger");
    checked(&c, &text);
    runs(&c, "hpc");
    // The job's status record, then Slurm's accounting: COMPLETED, exit code 0.
    let status = crate::common::poll_until("a COMPLETED status", JOB_DEADLINE, || {
        let run = c.troika(&["status", "hpc", &c.s("job.sh"), "-o", &c.s("out/job.out")]);
        run.stdout.contains("COMPLETED").then(|| run.stdout.clone())
    });
    assert!(status.contains("COMPLETED"), "{status}");
    let jobs = c.troika(&["jobs", "--site", "hpc"]).expect_code(0).stdout.clone();
    assert!(jobs.contains("job.sh"), "the ledger has the job: {jobs}");
}

#[test]
fn recipe_sge() {
    if !service(Service::Sge) {
        return;
    }
    let SgeEnv { root, cell, .. } = SgeEnv::from_env();
    let c = Case::new("recipe-sge").env("SGE_ROOT", root).env("SGE_CELL", cell);
    checked(&c, &recipe("sge"));
    runs(&c, "sge");
}

#[test]
fn recipe_slurm_ssh() {
    if !service(Service::Sshd) || !service(Service::Slurm) {
        return;
    }
    let c = Case::new("recipe-slurm-ssh").dir_mode(0o777);
    checked(&c, &on_test_sshd(&recipe("slurm-ssh"), None));
    c.troika(&["config", "check", "--connect"]).expect_code(0);
    runs(&c, "hpc");
}

#[test]
fn recipe_group_failover() {
    if !service(Service::Sshd) || !service(Service::Slurm) {
        return;
    }
    let c = Case::new("recipe-group").dir_mode(0o777);
    checked(&c, &on_test_sshd(&recipe("group-failover"), Some("hpc-login1")));
    runs(&c, "hpc");
    // The first login node is down: the job went to the second, and monitor goes there too.
    assert_eq!(read_or_empty(c.path("job.sh.site")).trim(), "hpc-login2");
    // With --connect, the node that is down is a problem.
    let run = c.troika(&["config", "check", "--connect"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("site 'hpc-login1': the site cannot be reached"),
        "{}",
        run.stdout
    );
}

/// The ECF_JOB_CMD, ECF_STATUS_CMD and ECF_KILL_CMD lines of the recipe's comments, run as
/// ecFlow runs them (`sh -c`, its variables replaced), on the recipe's Slurm site.
#[test]
fn recipe_ecflow_command_lines() {
    if !service(Service::Slurm) {
        return;
    }
    let text = recipe("ecflow");
    let c = Case::new("recipe-ecflow");
    checked(&c, &text);
    let line = |var: &str| -> String {
        let l = text
            .lines()
            .find_map(|l| l.trim_start_matches('#').trim().strip_prefix(&format!("edit {var} ")))
            .unwrap_or_else(|| panic!("no {var} line"));
        let bin = crate::common::troika_bin().display().to_string();
        l.trim()
            .trim_matches('\'')
            .replacen("troika", &bin, 1)
            .replace("CFG", &c.s("config.yml"))
            .replace("SITE", "hpc")
            .replace("%ECF_JOBOUT%", &c.s("task.1"))
            .replace("%ECF_JOB%", &c.s("task.job1"))
    };
    c.write_exec(
        "task.job1",
        "#!/bin/bash\n# troika ecflow_name=/s/t\n# troika ecflow_pass=abc\n# troika ecflow_tryno=1\necho started\nsleep 300\n",
    );
    let sh = |cmd: String| {
        let st = c.command("sh").arg("-c").arg(&cmd).status().unwrap();
        assert!(st.success(), "{cmd}: {}", read_or_empty(c.path("task.job1.sub")));
    };
    sh(line("ECF_JOB_CMD"));
    wait_for_content(&c.path("task.1"), "started\n", JOB_DEADLINE);
    sh(line("ECF_STATUS_CMD"));
    assert!(c.path("task.job1.stat").exists());
    sh(line("ECF_KILL_CMD"));
}

/// The `ecflow` recipe under a real ecFlow server: a suite whose `ECF_JOB_CMD`,
/// `ECF_KILL_CMD` and `ECF_STATUS_CMD` are the recipe's lines (`troika` the binary under
/// test, `CFG` the recipe, `SITE` its site) runs a task on Slurm to completion, then a long
/// one that `ecflow_client --kill` kills: ecFlow sees it aborted.
#[test]
fn recipe_ecflow_with_a_real_server() {
    use crate::ecflow_kit::{setup, write};
    if !service(Service::Ecflow) || !service(Service::Slurm) {
        return;
    }
    let text = recipe("ecflow");
    let (scratch, cfg, server) = setup("recipe-ecflow-server", &text);
    let dir = scratch.path().to_path_buf();
    let c = Case::new("recipe-ecflow-check");
    checked(&c, &text);
    let bin = crate::common::troika_bin().display().to_string();
    let edit = |var: &str| -> String {
        let l = text
            .lines()
            .find_map(|l| l.trim_start_matches('#').trim().strip_prefix(&format!("edit {var} ")))
            .unwrap_or_else(|| panic!("no {var} line"));
        format!(
            "  edit {var} {}\n",
            l.trim()
                .replacen("troika -c CFG", &format!("{bin} -c {}", cfg.display()), 1)
                .replace("SITE", "hpc")
        )
    };
    const SUITE: &str = "troika_recipe";
    let mut def = format!(
        "suite {SUITE}\n  edit ECF_HOME '{home}'\n  edit ECF_FILES '{files}'\n  edit ECF_INCLUDE '{files}'\n  edit ECF_TRIES '1'\n  edit TEST_ECF_HOST '127.0.0.1'\n",
        home = dir.join("ecf").display(),
        files = dir.join("files").display(),
    );
    for var in ["ECF_JOB_CMD", "ECF_KILL_CMD", "ECF_STATUS_CMD"] {
        def.push_str(&edit(var));
    }
    def.push_str("  task quick\n  task long\nendsuite\n");
    write(
        &dir.join("files/quick.ecf"),
        "%include <head.h>\necho \"task %ECF_NAME%: done\"\n%include <tail.h>\n",
    );
    write(
        &dir.join("files/long.ecf"),
        "%include <head.h>\necho started\nsleep 300\n%include <tail.h>\n",
    );
    for task in ["quick", "long"] {
        server
            .jobs
            .borrow_mut()
            .push(("hpc".to_string(), dir.join(format!("ecf/{SUITE}/{task}.job1"))));
    }
    server.suites.borrow_mut().push(SUITE.to_string());
    let def_file = dir.join("suite.def");
    write(&def_file, &def);
    server.client(&[&format!("--load={}", def_file.display())]);
    server.client(&[&format!("--begin={SUITE}")]);
    server.wait_for(
        SUITE,
        "the quick task to complete and the long one to run",
        false,
        |t| t.get("quick").is_some_and(|s| s.state == "complete") && t.get("long").is_some_and(|s| s.state == "active"),
        &dir,
        JOB_DEADLINE,
    );
    let out = read_or_empty(dir.join(format!("ecf/{SUITE}/quick.1")));
    assert!(out.contains(&format!("task /{SUITE}/quick: done")), "{out}");
    let long = format!("/{SUITE}/long");
    server.client(&["--status", &long]);
    let stat = dir.join(format!("ecf/{SUITE}/long.job1.stat"));
    crate::common::poll_until("the .stat of ECF_STATUS_CMD", JOB_DEADLINE, || {
        stat.exists().then_some(())
    });
    server.client(&["--kill", &long]);
    server.wait_for(
        SUITE,
        "the long task to be aborted",
        true,
        |t| t.get("long").is_some_and(|s| s.state == "aborted"),
        &dir,
        JOB_DEADLINE,
    );
}
