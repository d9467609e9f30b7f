//! Scripts written for another scheduler (foreign directives), `troika
//! translate` and the front ends `troika qsub` / `troika sbatch`.
//!
//! The submissions run on the REAL Slurm cluster and Grid Engine cell of
//! this machine (`tests/services/`; skipped, loudly, without them, or
//! failing under `TROIKA_TEST_REQUIRE_SERVICES=1`); the one to PBS runs on
//! the PBS EMULATOR (tests/emulators/pbs/), no PBS server running here.
//! What needs no scheduler (translation, messages, dry runs) runs anywhere.

use std::process::Command;
use std::time::Duration;

use crate::common::{
    poll_until, read_or_empty, record_field, service, slurm_cmd, slurm_job_record, wait_until, Case, Service, SgeEnv,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Sites of edition 2026 on this machine's schedulers (not contacted by the
/// tests that only translate).
const CONFIG: &str = "edition: 2026
sites:
  slurm:
    type: slurm
    connection: local
    command_timeout: 60
  slurm_fail:
    type: slurm
    connection: local
    unknown_directive: fail
  slurm_off:
    type: slurm
    connection: local
    foreign_directives: false
  sge:
    type: sge
    connection: local
  pbs:
    type: pbs
    connection: local
";

/// A PBS script: its name, limit and resources on one line.
const PBS_SCRIPT: &str =
    "#!/bin/bash\n#PBS -N troika_fpbs -l walltime=00:02:00 -l select=1:ncpus=2\necho \"ran as $SLURM_JOB_NAME\"\n";

/// A Slurm script.
const SLURM_SCRIPT: &str =
    "#!/bin/bash\n#SBATCH --job-name=troika_fslurm\n#SBATCH --time=00:05:00\n#SBATCH -N 1 --ntasks=2\necho \"ran as $JOB_NAME\"\n";

fn case(tag: &str) -> Case {
    Case::new(&format!("foreign-{tag}")).config(CONFIG)
}

/// The partition the Slurm jobs of the tests ask for, as a directive line.
fn partition_line() -> String {
    std::env::var("TROIKA_TEST_SLURM_PARTITION")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|p| format!("# troika partition={p}\n"))
        .unwrap_or_default()
}

/// A script with the test partition after its shebang.
fn with_partition(script: &str) -> String {
    let (shebang, rest) = script.split_once('\n').unwrap();
    format!("{shebang}\n{}{rest}", partition_line())
}

/// The `Key=` of a job's record (`scontrol show job -o`, or accounting
/// once the job has ended and was forgotten).
fn job_field(id: &str, key: &str) -> String {
    record_field(&slurm_job_record(id), key)
}

/// Cancels a Slurm job when dropped.
struct SlurmJob(String);

impl Drop for SlurmJob {
    fn drop(&mut self) {
        let _ = slurm_cmd("scancel", &[&self.0]);
    }
}

/// Deletes a Grid Engine job when dropped.
struct SgeJob(String);

impl Drop for SgeJob {
    fn drop(&mut self) {
        let _ = Command::new("qdel").arg(&self.0).output();
    }
}

/// No line of `script` is read by a scheduler as another scheduler's.
fn assert_no_foreign(script: &str, prefixes: &[&str]) {
    for l in script.lines() {
        for p in prefixes {
            assert!(!l.starts_with(p), "{l:?} left in the generated script:\n{script}");
        }
    }
}

#[test]
fn foreign_pbs_script_runs_on_real_slurm_with_its_name_and_limit() {
    if !service(Service::Slurm) {
        return;
    }
    let c = case("pbs-on-slurm");
    c.write_exec("job.sh", with_partition(PBS_SCRIPT));
    let run = c.troika(&["submit", "slurm", &c.s("job.sh"), "-o", &c.s("job.out")]);
    run.expect_code(0);
    let jid = read_or_empty(c.path("job.sh.jid")).trim().to_string();
    let _job = SlurmJob(jid.clone());
    let script = read_or_empty(c.path("job.sh"));
    assert_no_foreign(&script, &["#PBS"]);
    for line in [
        "#SBATCH --job-name=troika_fpbs\n",
        "#SBATCH --time=00:02:00\n",
        "#SBATCH --nodes=1\n",
        "#SBATCH --cpus-per-task=2\n",
        "# (troika: translated) PBS -N troika_fpbs -l walltime=00:02:00 -l select=1:ncpus=2\n",
    ] {
        assert!(script.contains(line), "{line:?} not in\n{script}");
    }
    // Slurm has what the PBS line said.
    let rec = slurm_job_record(&jid);
    assert_eq!(record_field(&rec, "JobName"), "troika_fpbs");
    assert_eq!(record_field(&rec, "TimeLimit"), "00:02:00");
    assert_eq!(record_field(&rec, "NumNodes").split('-').next().unwrap(), "1");
    // Not in accounting: asked of slurmctld, which keeps the ended job for
    // MinJobAge (2 s here) at least.
    assert_eq!(record_field(&rec, "CPUs/Task"), "2", "{rec}");
    wait_until("the job's output", LIMIT, || {
        read_or_empty(c.path("job.out")).contains("ran as troika_fpbs\n")
    });
}

#[test]
fn foreign_slurm_script_runs_on_real_sge_with_its_name() {
    if !service(Service::Sge) {
        return;
    }
    let SgeEnv { root, cell, .. } = SgeEnv::from_env();
    let c = case("slurm-on-sge").env("SGE_ROOT", &root).env("SGE_CELL", &cell);
    c.write_exec("job.sh", SLURM_SCRIPT);
    let run = c.troika(&["submit", "sge", &c.s("job.sh"), "-o", &c.s("job.out")]);
    run.expect_code(0);
    // Grid Engine has no node count: the rest is translated, that is reported.
    run.stderr_contains("Unknown directive 'total_nodes'");
    let jid = read_or_empty(c.path("job.sh.jid")).trim().to_string();
    let _job = SgeJob(jid.clone());
    let script = read_or_empty(c.path("job.sh"));
    assert_no_foreign(&script, &["#SBATCH"]);
    for line in ["#$ -N troika_fslurm\n", "#$ -l h_rt=00:05:00\n"] {
        assert!(script.contains(line), "{line:?} not in\n{script}");
    }
    wait_until("the job's output", LIMIT, || {
        read_or_empty(c.path("job.out")).contains("ran as troika_fslurm\n")
    });
}

#[test]
fn foreign_untranslatable_directive_is_named_under_fail_and_warn() {
    let c = case("untranslatable");
    let text = "#!/bin/sh\n#PBS -N x\n#PBS -W group_list=g -r n\necho\n";
    c.write_exec("job.sh", text);
    let msg = "Foreign directive '#PBS -W group_list=g' (line 3) has no translation to slurm";
    // fail: nothing is submitted (a dry run would show the sbatch), the script is as it was.
    let run = c.troika(&["-n", "submit", "slurm_fail", &c.s("job.sh"), "-o", &c.s("job.out")]);
    run.expect_code(1).stderr_contains(msg).stderr_lacks("Execute:");
    run.stderr_contains("Foreign directive '#PBS -r n' (line 3)");
    assert_eq!(read_or_empty(c.path("job.sh")), text);
    assert!(!c.path("job.sh.orig").exists());
    // warn (the default): the rest is translated and submitted.
    let run = c.troika(&["-n", "submit", "slurm", &c.s("job.sh"), "-o", &c.s("job.out")]);
    run.expect_code(0).stderr_contains(&format!("WARNING; {msg}"));
    let script = read_or_empty(c.path("job.sh"));
    assert!(script.contains("#SBATCH --job-name=x\n"), "{script}");
    assert!(
        script.contains("# (troika: not translated) PBS -W group_list=g -r n\n"),
        "{script}"
    );
    assert_no_foreign(&script, &["#PBS"]);
    // translate says the same.
    c.write_exec("job.sh", text);
    let run = c.troika(&["translate", "--site", "slurm_fail", &c.s("job.sh")]);
    run.expect_code(1).stderr_contains(msg);
    assert_eq!(run.stdout, "");
}

#[test]
fn foreign_directives_are_off_for_a_0_2_7_configuration_and_by_the_site_key() {
    let text = "#!/bin/sh\n#PBS -N x\n# troika name=y\necho\n";
    for (config, site) in [
        (CONFIG.replace("edition: 2026\n", ""), "slurm"),
        (CONFIG.to_string(), "slurm_off"),
    ] {
        let c = case("off").config(&config);
        c.write_exec("job.sh", text);
        c.troika(&["-n", "submit", site, &c.s("job.sh"), "-o", &c.s("job.out")])
            .expect_code(0)
            .stderr_lacks("Foreign");
        let script = read_or_empty(c.path("job.sh"));
        assert!(script.contains("\n#PBS -N x\n"), "{script}");
        assert!(script.contains("#SBATCH --job-name=y\n"), "{script}");
    }
    // The key turns it on for a 0.2.7 configuration.
    let c = case("on-027").config(
        &CONFIG
            .replace("edition: 2026\n", "")
            .replace("    foreign_directives: false\n", "    foreign_directives: true\n"),
    );
    c.write_exec("job.sh", "#!/bin/sh\n#PBS -N x\necho\n");
    c.troika(&["-n", "submit", "slurm_off", &c.s("job.sh"), "-o", &c.s("job.out")])
        .expect_code(0);
    assert!(read_or_empty(c.path("job.sh")).contains("#SBATCH --job-name=x\n"));
}

#[test]
fn foreign_script_directives_and_defines_win_over_foreign_lines() {
    let c = case("precedence");
    c.write_exec(
        "job.sh",
        "#!/bin/sh\n#PBS -N pbs -q q1 -l walltime=1:00:00\n# troika name=own\necho\n",
    );
    let run = c.troika(&[
        "translate",
        "--site",
        "slurm",
        &c.s("job.sh"),
        "-D",
        "queue=q2",
        "-o",
        "/o",
    ]);
    run.expect_code(0);
    let s = &run.stdout;
    assert!(s.contains("#SBATCH --job-name=own\n"), "{s}");
    assert!(s.contains("#SBATCH --qos=q2\n"), "{s}");
    assert!(s.contains("#SBATCH --time=01:00:00\n"), "{s}");
    assert!(!s.contains("=pbs"), "{s}");
}

/// `troika translate --to TYPE` of a PBS and a Slurm script: the lines of
/// each type, and nothing written beside the script.
#[test]
fn translate_to_every_scheduler_type() {
    let c = Case::new("foreign-translate");
    let pbs = "#!/bin/bash\n#PBS -N fx -l walltime=01:30:00 -l select=2:ncpus=8:mpiprocs=4:mem=4gb\n#PBS -q qq -W depend=afterok:12 -m ae -M me@x\necho hi\n";
    let slurm = "#!/bin/bash\n#SBATCH -J fx --time=90 -N 2 --ntasks-per-node=4 -c 2\n#SBATCH --mem=4G -p pp --mail-user=me@x\necho hi\n";
    c.write_exec("pbs.sh", pbs);
    c.write_exec("slurm.sh", slurm);
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "slurm",
            "pbs.sh",
            &[
                "#SBATCH --job-name=fx",
                "#SBATCH --time=01:30:00",
                "#SBATCH --nodes=2",
                "#SBATCH --ntasks-per-node=4",
                "#SBATCH --cpus-per-task=2",
                "#SBATCH --mem=4G",
                "#SBATCH --qos=qq",
                "#SBATCH --mail-type=FAIL,END",
                "#SBATCH --mail-user=me@x",
            ],
        ),
        ("sge", "slurm.sh", &["#$ -N fx", "#$ -l h_rt=01:30:00", "#$ -M me@x"]),
        (
            "pbs",
            "slurm.sh",
            &["#PBS -N fx", "#PBS -l walltime=01:30:00", "#PBS -M me@x"],
        ),
        (
            "torque",
            "slurm.sh",
            &[
                "#PBS -N fx",
                "#PBS -l walltime=01:30:00",
                "#PBS -l nodes=2:ppn=4",
                "#PBS -l mem=4gb",
            ],
        ),
        (
            "lsf",
            "pbs.sh",
            &["#BSUB -J fx", "#BSUB -W 1:30", "#BSUB -q qq", "#BSUB -u me@x"],
        ),
        (
            "flux",
            "slurm.sh",
            &["#flux: --job-name=fx", "#flux: -t 90m", "#flux: -N 2", "#flux: -c 2"],
        ),
    ];
    for (ty, script, want) in cases {
        let run = c.troika(&["translate", "--to", ty, &c.s(script), "-o", "/tmp/x.out"]);
        run.expect_code(0);
        for w in *want {
            assert!(
                run.stdout.lines().any(|l| l == *w),
                "{w:?} not in troika translate --to {ty} {script}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        assert_no_foreign(&run.stdout, if *script == "pbs.sh" { &["#PBS"] } else { &["#SBATCH"] });
        assert!(run.stdout.ends_with("echo hi\n"), "{}", run.stdout);
    }
    // Nothing was changed or written beside the scripts.
    assert_eq!(read_or_empty(c.path("pbs.sh")), pbs);
    assert_eq!(read_or_empty(c.path("slurm.sh")), slurm);
    let mut names: Vec<String> = std::fs::read_dir(c.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["pbs.sh", "slurm.sh"]);
    // The scheduler's own lines stay as they are.
    let run = c.troika(&["translate", "--to", "slurm", &c.s("slurm.sh"), "-o", "/o"]);
    assert!(
        run.stdout
            .contains("#SBATCH -J fx --time=90 -N 2 --ntasks-per-node=4 -c 2\n"),
        "{}",
        run.stdout
    );
    // Bad input.
    c.troika(&["translate", "--to", "nope", &c.s("pbs.sh")])
        .expect_code(1)
        .stderr_contains("Unknown site type 'nope' (known types: direct, slurm,");
    c.troika(&["translate", "--site", "nope", &c.s("pbs.sh")])
        .expect_code(1)
        .stderr_contains("Unknown site 'nope'");
    c.troika(&["translate", "--to", "slurm", &c.s("missing.sh")])
        .expect_code(1)
        .stderr_contains("Cannot read script");
}

#[test]
fn qsub_front_end_submits_to_the_real_slurm_default_site() {
    if !service(Service::Slurm) {
        return;
    }
    let c = case("qsub-slurm").config(&format!("default_site: slurm\n{CONFIG}"));
    c.write_exec(
        "job.sh",
        with_partition("#!/bin/bash\n#PBS -l walltime=00:04:00\necho \"ran as $SLURM_JOB_NAME\"\n"),
    );
    let run = c.troika(&["qsub", "-N", "troika_fqsub", "-l", "select=1:ncpus=1", "job.sh"]);
    run.expect_code(0);
    let jid = run.stdout.trim().to_string();
    assert!(
        !jid.is_empty() && jid.bytes().all(|b| b.is_ascii_digit()) && run.stdout == format!("{jid}\n"),
        "qsub prints the bare id: {:?}\n{}",
        run.stdout,
        run.stderr
    );
    let _job = SlurmJob(jid.clone());
    assert_eq!(job_field(&jid, "JobName"), "troika_fqsub");
    assert_eq!(job_field(&jid, "TimeLimit"), "00:04:00");
    // The default output file: beside the script.
    wait_until("the job's output", LIMIT, || {
        read_or_empty(c.path("job.sh.out")).contains("ran as troika_fqsub\n")
    });
    // troika knows the job.
    let status = poll_until("troika status to find the job", LIMIT, || {
        let run = c.troika(&["status", "slurm", &c.s("job.sh")]);
        (run.code == Some(0) && run.stdout.contains(&jid)).then_some(run.stdout)
    });
    assert!(status.contains(&jid), "{status}");
}

/// Bad input to the front ends: exit 1, said clearly, nothing submitted
/// (a dry run would log the submission).
#[test]
fn front_ends_refuse_bad_input() {
    let c = case("front-bad");
    c.write_exec("job.sh", "#!/bin/sh\necho\n");
    c.troika(&["-n", "qsub", "--site", "slurm", "-W", "group_list=g", "job.sh"])
        .expect_code(1)
        .stderr_contains("troika qsub: option '-W group_list=g' is not accepted")
        .stderr_lacks("Execute:");
    c.troika(&["-n", "qsub", "--site", "slurm", "-N", "x"])
        .expect_code(1)
        .stderr_contains("no job script given");
    c.troika(&["-n", "sbatch", "--site", "slurm", "job.sh", "arg"])
        .expect_code(1)
        .stderr_contains("arguments after the script 'job.sh' are not passed to it: 'arg'");
    c.troika(&["-n", "sbatch", "job.sh"])
        .expect_code(1)
        .stderr_contains("No site given: pass --site SITE, set TROIKA_DEFAULT_SITE");
    c.troika(&["-n", "sbatch", "--site", "nope", "job.sh"])
        .expect_code(1)
        .stderr_contains("Unknown site 'nope'");
    assert_eq!(read_or_empty(c.path("job.sh")), "#!/bin/sh\necho\n");
    let help = c.troika(&["sbatch", "--help"]);
    help.expect_code(0);
    assert!(
        help.stdout.starts_with("usage: troika sbatch [--site SITE]"),
        "{}",
        help.stdout
    );
    // A dry run through the default site of the environment: the sbatch it would run.
    let run = c
        .command(crate::common::troika_bin())
        .env("TROIKA_DEFAULT_SITE", "slurm")
        .args(["-c", &c.s("config.yml"), "-n", "sbatch", "-J", "dry", "job.sh"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", crate::common::describe(&run));
    assert!(run.stdout.is_empty());
    assert!(read_or_empty(c.path("job.sh")).contains("#SBATCH --job-name=dry\n"));
}

#[test]
fn sbatch_front_end_as_a_link_submits_to_the_real_sge() {
    if !service(Service::Sge) {
        return;
    }
    let SgeEnv { root, cell, .. } = SgeEnv::from_env();
    let c = case("sbatch-sge").env("SGE_ROOT", &root).env("SGE_CELL", &cell);
    let link = c.path("bin-link/troika-sbatch");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(crate::common::troika_bin(), &link).unwrap();
    c.write_exec(
        "job.sh",
        "#!/bin/bash\n#SBATCH --time=00:05:00\necho \"ran as $JOB_NAME\"\n",
    );
    let out = c
        .command(&link)
        .env("TROIKA_CONFIG_FILE", c.path("config.yml"))
        .args(["--site", "sge", "-J", "troika_fsbatch", "-o", &c.s("my.out"), "job.sh"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", crate::common::describe(&out));
    let jid = stdout
        .strip_prefix("Submitted batch job ")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("not sbatch's answer: {stdout:?}"))
        .to_string();
    let _job = SgeJob(jid.clone());
    let script = read_or_empty(c.path("job.sh"));
    assert!(script.contains("#$ -N troika_fsbatch\n"), "{script}");
    assert!(script.contains("#$ -l h_rt=00:05:00\n"), "{script}");
    wait_until("the job's output", LIMIT, || {
        read_or_empty(c.path("my.out")).contains("ran as troika_fsbatch\n")
    });
}

/// A Slurm script through `troika sbatch` to the PBS EMULATOR (no PBS
/// server here): the options and `#SBATCH` lines become `#PBS` lines.
#[test]
fn sbatch_front_end_on_emulated_pbs() {
    let c = crate::pbs::server(case("sbatch-pbs"));
    c.write_exec("job.sh", "#!/bin/sh\n#SBATCH --time=00:05:00\necho ran\n");
    let run = c.troika(&["sbatch", "--site=pbs", "--job-name=fe", "job.sh"]);
    run.expect_code(0);
    assert!(run.stdout.starts_with("Submitted batch job "), "{}", run.stdout);
    let script = read_or_empty(c.path("job.sh"));
    assert!(
        script.contains("#PBS -N fe\n") && script.contains("#PBS -l walltime=00:05:00\n"),
        "{script}"
    );
    assert_no_foreign(&script, &["#SBATCH"]);
    wait_until("the job's output", LIMIT, || {
        read_or_empty(c.path("job.sh.out")).contains("ran\n")
    });
}
