//! The `templated` site: a queueing system described in the configuration.
//! examples/templated-slurm.yml re-creates the built-in `slurm` site; these
//! tests run both on the same scripts, in dry-run mode and against fake
//! Slurm commands (small sh scripts written here, not a real Slurm), and
//! compare the generated scripts and the commands. A templated LSF site is
//! also run against the LSF emulator (tests/emulators/lsf/).

use crate::common::repo_root;
use crate::common::{execute_line, Case, TroikaRun};

/// The example configuration plus a built-in Slurm site to compare with.
fn example_with_reference() -> String {
    let example = std::fs::read_to_string(repo_root().join("examples/templated-slurm.yml")).unwrap();
    // The reference site is appended under `sites:`, the example's last key.
    let last_top_level = example.lines().rfind(|l| !l.is_empty() && !l.starts_with([' ', '#']));
    assert_eq!(last_top_level, Some("sites:"), "the example must end with its sites");
    format!("{example}  reference:\n    type: slurm\n    connection: local\n")
}

const SCRIPT: &str = "#!/bin/bash
# troika name=cmp
# troika partition=par
# troika queue=normal
# troika walltime=00:10:00
# troika total_nodes=2
# troika tasks_per_node=4
# troika cpus_per_task=2
# troika memory_per_node=8G
# troika billing_account=acct
# troika exclusive=
# troika join_output_error=
# troika mail_user=u@x.org
# troika working_dir=/tmp
#SBATCH --constraint=haswell
#SBATCH -o /old/output
#SBATCH --hint=compute_bound
echo \"compare\"
";

/// Two copies of SCRIPT (a/job.sh, b/job.sh) and the configuration.
fn setup(emu: &Case, extra: &str) -> (String, String) {
    let config = example_with_reference().replace("    vanished_patterns:", &format!("{extra}    vanished_patterns:"));
    let config = config.replace(
        "  reference:\n    type: slurm\n    connection: local\n",
        &format!("  reference:\n    type: slurm\n    connection: local\n{extra}"),
    );
    emu.write("config.yml", &config);
    std::fs::create_dir(emu.dir().join("out")).unwrap();
    let a = emu.write("a/job.sh", SCRIPT).display().to_string();
    let b = emu.write("b/job.sh", SCRIPT).display().to_string();
    (a, b)
}

fn warnings(run: &TroikaRun) -> Vec<&str> {
    run.stderr.lines().filter(|l| l.contains("; WARNING; ")).collect()
}

#[test]
fn example_generates_the_same_script_and_commands_as_slurm_in_dry_run() {
    let emu = Case::new("fake");
    let (a, b) = setup(&emu, "");
    let out = emu.dir().join("out/job.out").display().to_string();
    let slurm = emu.troika(&["-n", "-v", "submit", "reference", &a, "-o", &out]);
    let templated = emu.troika(&["-n", "-v", "submit", "slurm-templated", &b, "-o", &out]);
    slurm.expect_code(0);
    templated.expect_code(0);
    let generated = emu.read("a/job.sh");
    assert!(
        generated.contains("#SBATCH --job-name=cmp\n#SBATCH --partition=par\n"),
        "{generated}"
    );
    assert!(generated.contains("#SBATCH --constraint=haswell\n#SBATCH --hint=compute_bound\n"));
    assert!(!generated.contains("/old/output"));
    assert_eq!(emu.read("b/job.sh"), generated, "generated scripts differ");
    assert_eq!(slurm.executed(), vec![execute_line(&["sbatch"])]);
    assert_eq!(templated.executed(), slurm.executed());
    assert_eq!(warnings(&templated), Vec::<&str>::new());
    assert_eq!(warnings(&slurm), Vec::<&str>::new());

    // Monitor (with -u) and kill: the same commands, except that the
    // built-in site asks squeue for the job's state before scancel.
    let monitor = |site: &str, script: &str| {
        let r = emu.troika(&["-n", "-v", "monitor", site, script, "-u", "bob", "-j", "42"]);
        r.expect_code(0);
        r.executed()
    };
    assert_eq!(
        monitor("reference", &a),
        vec![execute_line(&["squeue", "-u", "bob", "-j", "42"])]
    );
    assert_eq!(monitor("slurm-templated", &b), monitor("reference", &a));
    let kill = |site: &str, script: &str| {
        let r = emu.troika(&["-n", "-v", "kill", site, script, "-j", "42"]);
        r.expect_code(0);
        r.executed()
    };
    let slurm_kill = kill("reference", &a);
    assert_eq!(slurm_kill[0], execute_line(&["squeue", "-h", "-o", "%T", "-j", "42"]));
    assert_eq!(kill("slurm-templated", &b), slurm_kill[1..].to_vec());
    assert_eq!(slurm_kill[1..], [execute_line(&["scancel", "42"])]);
}

#[test]
fn example_kill_sequence_runs_the_same_scancel_commands() {
    let emu = Case::new("fake");
    let (a, b) = setup(&emu, "    kill_sequence: [[0, SIGTERM], [0, 9]]\n");
    let kill = |site: &str, script: &str| {
        let r = emu.troika(&["-n", "-v", "kill", site, script, "-j", "42"]);
        r.expect_code(0);
        r.executed()
    };
    let slurm = kill("reference", &a);
    assert_eq!(
        slurm[1..],
        [
            execute_line(&["scancel", "42", "-f", "-s", "15"]),
            execute_line(&["scancel", "42", "-f", "-s", "9"])
        ]
    );
    assert_eq!(kill("slurm-templated", &b), slurm[1..].to_vec());
}

#[test]
fn example_copy_script_passes_the_copy_like_slurm() {
    let emu = Case::new("fake");
    let (a, b) = setup(&emu, "    copy_script: true\n");
    let out = emu.dir().join("out/job.out").display().to_string();
    let slurm = emu.troika(&["-n", "-v", "submit", "reference", &a, "-o", &out]);
    let templated = emu.troika(&["-n", "-v", "submit", "slurm-templated", &b, "-o", &out]);
    slurm.expect_code(0);
    templated.expect_code(0);
    let copy = emu.dir().join("out/job.sh").display().to_string();
    assert_eq!(slurm.executed(), vec![execute_line(&["sbatch", &copy])]);
    assert_eq!(templated.executed(), slurm.executed());
}

/// A case with fake sbatch, squeue and scancel that record their calls and
/// answer as Slurm does.
fn fake_slurm() -> Case {
    Case::new("fake")
        .fake_reading_stdin("sbatch", "echo 'Submitted batch job 42'")
        .fake(
            "squeue",
            "if [ \"$1\" = -h ]; then echo RUNNING; exit 0; fi\n\
             echo '             JOBID PARTITION     NAME     USER ST       TIME  NODES NODELIST(REASON)'\n\
             echo '                42       par      cmp      bob  R       0:05      2 node[1-2]'",
        )
        .fake("scancel", "")
}

#[test]
fn example_and_slurm_run_the_same_fake_commands() {
    let emu = fake_slurm();
    let (a, b) = setup(&emu, "");
    let out = emu.dir().join("out/job.out").display().to_string();
    let mut results = Vec::new();
    for (site, script) in [("reference", &a), ("slurm-templated", &b)] {
        emu.clear_calls();
        emu.troika(&["submit", site, script, "-o", &out]).expect_code(0);
        emu.troika(&["monitor", site, script, "-u", "bob"]).expect_code(0);
        let kill = emu.troika(&["-vv", "kill", site, script]);
        kill.expect_code(0);
        let dir = std::path::Path::new(script.as_str()).parent().unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        results.push((
            emu.all_calls(),
            read("job.sh"),
            read("job.sh.jid"),
            read("job.sh.stat"),
            kill.cancel_status(),
        ));
    }
    let (slurm, templated) = (&results[0], &results[1]);
    assert_eq!(templated.1, slurm.1, "generated scripts");
    assert_eq!(slurm.2, "42\n");
    assert_eq!(templated.2, slurm.2, "job ids");
    assert!(slurm.3.contains("node[1-2]"), "{}", slurm.3);
    assert_eq!(templated.3, slurm.3, "status files");
    assert_eq!(templated.4.as_deref(), Some("KILLED"));
    assert_eq!(templated.4, slurm.4);
    // The calls: the built-in site's extra state query aside, identical,
    // standard input included.
    let without_state_query: Vec<_> = slurm
        .0
        .iter()
        .filter(|c| !(c.name == "squeue" && c.argv.first().map(String::as_str) == Some("-h")))
        .cloned()
        .collect();
    assert_eq!(without_state_query.len() + 1, slurm.0.len());
    assert_eq!(templated.0, without_state_query);
    assert_eq!(templated.0[0].stdin.as_deref(), Some(templated.1.as_str()));
}

#[test]
fn submit_fails_clearly_when_the_job_id_pattern_does_not_match() {
    let emu = fake_slurm();
    let (_, b) = setup(&emu, "");
    emu.answer("sbatch", "sbatch: queued\n");
    let run = emu.troika(&["submit", "slurm-templated", &b, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "Could not find the job id in the sbatch output 'sbatch: queued' (job_id_pattern of site 'slurm-templated': 'Submitted batch job {jobid}')"
        ),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("b/job.sh.jid"));
    emu.fail(
        "sbatch",
        1,
        "sbatch: error: Batch job submission failed: Invalid account",
    );
    let run = emu.troika(&["submit", "slurm-templated", &b, "-o", "out/job.out"]);
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("Submission failed with exit code 1: sbatch: error: Batch job submission failed"),
        "{}",
        run.stderr
    );
    assert!(!emu.exists("b/job.sh.jid"));
}

const LSF_SITE: &str = "  tlsf:
    type: templated
    connection: local
    directive_prefix: '#BSUB '
    native_prefix: BSUB
    native_drop: [-o, -e, -oo, -eo]
    directives: {name: '-J %s', queue: '-q %s', output_file: '-o %s', join_output_error: null}
    submit_command: [bsub]
    job_id_pattern: 'Job <{jobid}> is submitted'
    monitor_command: [bjobs, -w, '{jobid}']
    kill_command: [bkill, '{jobid}']
    signal_command: [bkill, -s, '{signal_name}', '{jobid}']
    vanished_patterns: [No matching job found, Job has already finished]
    kill_sequence: [[0, SIGTERM], [0, SIGKILL]]
";

#[test]
fn a_templated_lsf_site_works_with_the_lsf_emulator() {
    let emu = Case::emulated("lsf").sites(LSF_SITE);
    let script = emu
        .write(
            "job.sh",
            "#!/bin/sh\n# troika name=t1\n#BSUB -q night\n#BSUB -o old.out\necho\n",
        )
        .display()
        .to_string();
    emu.troika(&["submit", "tlsf", &script, "-o", "job.out"]).expect_code(0);
    assert_eq!(
        emu.read("job.sh"),
        "#!/bin/sh\n#BSUB -J t1\n#BSUB -o job.out\n#BSUB -q night\necho\n"
    );
    assert_eq!(emu.read("job.sh.jid"), "1\n");
    assert_eq!(emu.read("state/jobs/1/queue").trim(), "night");
    emu.troika(&["monitor", "tlsf", &script]).expect_code(0);
    assert!(emu.read("job.sh.stat").contains(" PEND "));
    emu.set_job_state("1", "RUN");
    let kill = emu.troika(&["-vv", "kill", "tlsf", &script]);
    kill.expect_code(0);
    assert_eq!(kill.cancel_status().as_deref(), Some("KILLED"));
    assert_eq!(emu.job_signals("1"), vec!["TERM", "KILL"]);
    let again = emu.troika(&["-vv", "kill", "tlsf", &script]);
    again.expect_code(0);
    assert_eq!(again.cancel_status().as_deref(), Some("VANISHED"));
}

#[test]
fn script_as_argument_and_optional_groups() {
    let emu = Case::new("fake");
    emu.write_sites(
        "  t:
    type: templated
    connection: local
    directive_prefix: null
    submit_command: [submit, --out, '{output}']
    script_input: argument
    monitor_command: [status, [--user, '{user}'], '{jobid}']
    kill_command: [cancel, --user, '{user}', '{jobid}']
  t2:
    type: templated
    connection: local
    directive_prefix: '#X '
    submit_command: [submit, '--file={script}', '{{literal}}']
    script_input: argument
    monitor_command: [status]
    kill_command: [cancel]
",
    );
    let script = emu
        .write("job.sh", "#!/bin/sh\n# troika name=x\necho\n")
        .display()
        .to_string();
    let run = emu.troika(&["-n", "-v", "submit", "t", &script, "-o", "o.out"]);
    run.expect_code(0);
    assert_eq!(
        run.executed(),
        vec![execute_line(&["submit", "--out", "o.out", &script])]
    );
    assert_eq!(emu.read("job.sh"), "#!/bin/sh\necho\n", "no prefix: no directives");
    let run = emu.troika(&["-n", "-v", "submit", "t2", &script, "-o", "o.out"]);
    run.expect_code(0);
    assert_eq!(
        run.executed(),
        vec![execute_line(&["submit", &format!("--file={script}"), "{literal}"])]
    );
    let run = emu.troika(&["-n", "-v", "monitor", "t", &script, "-j", "7"]);
    run.expect_code(0);
    assert_eq!(run.executed(), vec![execute_line(&["status", "7"])]);
    let run = emu.troika(&["-n", "-v", "monitor", "t", &script, "-j", "7", "-u", "ann"]);
    assert_eq!(run.executed(), vec![execute_line(&["status", "--user", "ann", "7"])]);
    let run = emu.troika(&["-n", "-v", "kill", "t", &script, "-j", "7"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("'kill_command' needs {user}: pass -u USER"),
        "{}",
        run.stderr
    );
}

#[test]
fn configuration_errors_name_the_site_and_the_place() {
    let emu = Case::new("fake");
    let script = emu.write("job.sh", "#!/bin/sh\necho\n").display().to_string();
    let base = "  t:\n    type: templated\n    connection: local\n    directive_prefix: '#X '\n";
    let cases: &[(&str, &str)] = &[
        ("", "a templated site needs 'submit_command'"),
        (
            "    submit_command: [s]\n    monitor_command: [m, '{signal}']\n    kill_command: [k]\n",
            "config.yml:7:26: site 't': 'monitor_command': placeholder {signal} in '{signal}' cannot be used in this command (it knows {jobid}, {user}, {script})",
        ),
        (
            "    submit_command: [s]\n    monitor_command: [m]\n    kill_command: [k]\n    kill_sequence: [[0, 15]]\n",
            "'kill_sequence' needs 'signal_command'",
        ),
        (
            "    submit_command: [s]\n    monitor_command: [m]\n    kill_command: [k]\n    job_id_pattern: 'Job {id}'\n",
            "invalid 'job_id_pattern': 'Job {id}' has no {jobid}",
        ),
        (
            "    submit_command: [s, '{jobid}']\n    monitor_command: [m]\n    kill_command: [k]\n",
            "'submit_command': placeholder {jobid} in '{jobid}' cannot be used",
        ),
        (
            "    submit_command: [s]\n    monitor_command: [m]\n    kill_command: [k]\n    script_input: pipe\n",
            "invalid 'script_input' 'pipe': expected 'stdin' or 'argument'",
        ),
        (
            "    submit_command: [s]\n    monitor_command: [m]\n    kill_command: [k]\n    directives: [a]\n",
            "'directives' must be a mapping",
        ),
    ];
    for (extra, message) in cases {
        emu.write_sites(&format!("{base}{extra}"));
        let run = emu.troika(&["-n", "monitor", "t", &script, "-j", "1"]);
        run.expect_code(1);
        assert!(run.stderr.contains(message), "expected {message:?} in:\n{}", run.stderr);
    }
    emu.write_sites("  t:\n    type: templated\n    connection: local\n    submit_command: [s]\n");
    let run = emu.troika(&["-n", "monitor", "t", &script, "-j", "1"]);
    run.expect_code(1);
    assert!(run.stderr.contains("needs 'directive_prefix'"), "{}", run.stderr);
}
