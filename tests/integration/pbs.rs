//! The pbs site against an EMULATOR of a PBS Pro / OpenPBS server: no PBS
//! server can run on these machines. `tests/emulators/pbs/` holds qsub,
//! qstat, qdel and qsig as small shell scripts that answer with the output
//! and exit status of the real commands (documented, and from OpenPBS's
//! error table), run the jobs for real and keep the server's state in
//! `TROIKA_PBS_EMULATOR_DIR` (see `tests/emulators/pbs/lib.sh` for what is
//! and is not emulated). Each test has a server of its own.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{describe, emulator_dir, wait_until, Case};

/// The sites of these tests, on the emulated server.
const SITES: &str = "sites:
  pbs:
    type: pbs
    connection: local
    retry_delay: 0.05
    retry_max_delay: 0.1
  pbs_select:
    type: pbs
    connection: local
    resource_syntax: select
  pbs_sequence:
    type: pbs
    connection: local
    kill_sequence: [[0, USR1], [0.5, TERM], [1, KILL]]
  pbs_copy:
    type: pbs
    connection: local
    copy_script: true
    translators: [join_output_error]
";

/// troika's kill of vanished and queued jobs comes with edition 2026.
const EDITION: &str = "edition: 2026\n";

/// A case with a server of its own and [`SITES`], with [`EDITION`].
fn case(tag: &str) -> Case {
    let c = server(Case::new(&format!("pbs-{tag}")));
    configure(&c, EDITION);
    c
}

/// Writes the configuration: `top` (the edition, or nothing: 0.2.7's
/// configuration), then [`SITES`].
fn configure(c: &Case, top: &str) {
    c.write("config.yml", format!("{top}{SITES}"));
}

/// Gives `c` an emulated PBS server of its own, in `server/`: the
/// emulator's commands on PATH, a kill delay of 1 s; the server's jobs that
/// are still there are deleted when the case ends.
pub fn server(c: Case) -> Case {
    let dir = c.path("server");
    std::fs::create_dir_all(&dir).unwrap();
    c.emulators("pbs")
        .env("TROIKA_PBS_EMULATOR_DIR", dir)
        .env("TROIKA_PBS_EMULATOR_KILL_DELAY", "1")
        .at_end(|c| {
            let Ok(out) = c.command(emulator_dir("pbs/qstat")).output() else {
                return;
            };
            for line in String::from_utf8_lossy(&out.stdout).lines().skip(2) {
                if let Some(jid) = line.split_whitespace().next() {
                    let _ = c.command(emulator_dir("pbs/qdel")).arg(jid).output();
                }
            }
        })
}

/// A command of the emulator, on the case's server.
fn cmd(c: &Case, program: &str, args: &[&str]) -> Output {
    c.command(emulator_dir(&format!("pbs/{program}")))
        .args(args)
        .output()
        .unwrap()
}

/// `qstat -x -f ID`: the job's attributes (`job_state`, `Exit_status`, ...).
fn attributes(c: &Case, jid: &str) -> Vec<(String, String)> {
    let out = cmd(c, "qstat", &["-x", "-f", jid]);
    assert!(out.status.success(), "qstat -x -f {jid}\n{}", describe(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn attribute(c: &Case, jid: &str, key: &str) -> Option<String> {
    attributes(c, jid).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn wait_state(c: &Case, jid: &str, state: &str) {
    wait_until(&format!("job {jid} in state {state}"), Duration::from_secs(30), || {
        attribute(c, jid, "job_state").as_deref() == Some(state)
    });
}

/// Submits `job.sh` to `site` with output `job.out`; returns the job id.
fn submit(c: &Case, site: &str) -> String {
    let run = c.troika(&["submit", site, &c.s("job.sh"), "-o", &c.s("job.out")]);
    run.expect_code(0);
    let jid = c.read_or_empty("job.sh.jid").trim().to_string();
    assert!(jid.ends_with(".pbs-emu"), "job id file: {jid:?}\n{}", run.stderr);
    jid
}

#[test]
fn pbs_emulated_submit_runs_the_job_with_translated_directives() {
    let c = case("submit");
    c.write_exec(
        "job.sh",
        "#!/bin/bash\n# troika name=troika_pbs\n# troika walltime=00:05:00\n# troika export_vars=TROIKA_TEST_X=exported\n\
         # troika mail_type=begin,end\necho \"job $PBS_JOBID ($PBS_JOBNAME) X=$TROIKA_TEST_X\"\necho oops >&2\n",
    );
    let jid = submit(&c, "pbs");
    assert_eq!(jid, "1.pbs-emu");
    let script = c.read_or_empty("job.sh");
    for line in [
        "#PBS -N troika_pbs\n".to_string(),
        "#PBS -l walltime=00:05:00\n".to_string(),
        "#PBS -v TROIKA_TEST_X=exported\n".to_string(),
        "#PBS -m be\n".to_string(),
        format!("#PBS -o {}\n", c.s("job.out")),
    ] {
        assert!(script.contains(&line), "{line:?} not in\n{script}");
    }
    wait_state(&c, &jid, "F");
    assert_eq!(attribute(&c, &jid, "Exit_status").as_deref(), Some("0"));
    assert_eq!(
        attribute(&c, &jid, "Resource_List.walltime").as_deref(),
        Some("00:05:00")
    );
    assert_eq!(c.read_or_empty("job.out"), "job 1.pbs-emu (troika_pbs) X=exported\n");
    // Without -e the error stream goes to <workdir>/<name>.e<seq>, as in PBS.
    assert_eq!(c.read_or_empty("troika_pbs.e1"), "oops\n");
}

#[test]
fn pbs_emulated_copy_script_passes_the_copy_and_joins_streams() {
    let c = case("copy");
    c.write_exec("job.sh", "#!/bin/sh\necho out\necho err >&2\n");
    std::fs::create_dir_all(c.path("out")).unwrap();
    c.troika(&["submit", "pbs_copy", &c.s("job.sh"), "-o", &c.s("out/job.out")])
        .expect_code(0);
    let jid = c.read_or_empty("job.sh.jid").trim().to_string();
    // The copy beside the output went to qsub as its argument: its name is the job's.
    assert_eq!(c.read_or_empty("out/job.sh"), c.read_or_empty("job.sh"));
    assert_eq!(attribute(&c, &jid, "Job_Name").as_deref(), Some("job.sh"));
    assert_eq!(attribute(&c, &jid, "Join_Path").as_deref(), Some("oe"));
    wait_state(&c, &jid, "F");
    assert_eq!(c.read_or_empty("out/job.out"), "out\nerr\n");
}

#[test]
fn pbs_emulated_select_resources_reach_qsub() {
    let c = case("select");
    let job = "#!/bin/sh\n# troika total_nodes=2\n# troika tasks_per_node=4\n# troika cpus_per_task=2\n\
               # troika memory_per_node=8G\n# troika exclusive=true\n# troika name=sel\necho ok\n";
    c.write_exec("job.sh", job);
    let jid = submit(&c, "pbs_select");
    let script = c.read_or_empty("job.sh");
    assert!(
        script.starts_with(&format!(
            "#!/bin/sh\n#PBS -l select=2:ncpus=8:mpiprocs=4:mem=8gb\n#PBS -l place=scatter:excl\n#PBS -N sel\n#PBS -o {}\n",
            c.s("job.out")
        )),
        "{script}"
    );
    // The emulated qsub checks the syntax of select and place, as PBS does.
    assert_eq!(
        attribute(&c, &jid, "Resource_List.select").as_deref(),
        Some("2:ncpus=8:mpiprocs=4:mem=8gb")
    );
    assert_eq!(
        attribute(&c, &jid, "Resource_List.place").as_deref(),
        Some("scatter:excl")
    );
    wait_state(&c, &jid, "F");

    // Without resource_syntax: select, as troika 0.2.7: unknown directives.
    c.write_exec("job.sh", job);
    let run = c.troika(&["submit", "pbs", &c.s("job.sh"), "-o", &c.s("job.out")]);
    run.expect_code(0);
    for name in [
        "total_nodes",
        "tasks_per_node",
        "cpus_per_task",
        "memory_per_node",
        "exclusive",
    ] {
        run.stderr_contains(&format!("Unknown directive '{name}'"));
    }
    assert!(
        !c.read_or_empty("job.sh").contains("select="),
        "{}",
        c.read_or_empty("job.sh")
    );

    // A combination PBS cannot express: an error naming the directives, nothing submitted.
    c.write_exec(
        "job.sh",
        "#!/bin/sh\n# troika total_nodes=3\n# troika total_tasks=2\necho x\n",
    );
    c.troika(&["submit", "pbs_select", &c.s("job.sh"), "-o", &c.s("job.out")])
        .expect_code(1)
        .stderr_contains(
            "Directive 'total_nodes': PBS select: total_tasks=2 with total_nodes=3 leaves a node without a task",
        );
    assert!(!c.exists("server/jobs/3"), "a job was submitted");
}

#[test]
fn pbs_emulated_monitor_then_kill_a_held_job_with_qdel() {
    let c = case("held");
    // A native directive: the job is held, it stays in the queue.
    c.write_exec("job.sh", "#!/bin/sh\n#PBS -h\necho ran\n");
    let jid = submit(&c, "pbs");
    assert!(c.read_or_empty("job.sh").contains("\n#PBS -h\n"));
    wait_state(&c, &jid, "H");

    c.troika(&["monitor", "pbs", &c.s("job.sh")]).expect_code(0);
    let stat = c.read_or_empty("job.sh.stat");
    // Edition 2026: the normalised state first, then qstat's answer.
    let (first, table) = stat.split_once('\n').unwrap_or_default();
    assert!(first.starts_with(&format!("troika:  {jid}  ")), "{stat}");
    assert!(table.starts_with("Job id            Name             User"), "{stat}");
    let row: Vec<&str> = table.lines().nth(2).unwrap_or("").split_whitespace().collect();
    assert_eq!(row.first(), Some(&jid.as_str()), "{stat}");
    assert_eq!(row.get(4), Some(&"H"), "{stat}");

    c.troika(&["-vv", "kill", "pbs", &c.s("job.sh")])
        .expect_code(0)
        .stderr_contains(&format!("Kill of job {jid}: KILLED"));
    assert_eq!(attribute(&c, &jid, "job_state").as_deref(), Some("F"));
    assert_eq!(c.read_or_empty("job.out"), "", "a held job must not run");

    // Now finished: qstat refuses it, monitor reports the failure with its output.
    c.troika(&["monitor", "pbs", &c.s("job.sh")])
        .expect_code(1)
        .stderr_contains("qstat failed with exit code 35");
    assert!(c
        .read_or_empty("job.sh.stat")
        .contains("Job has finished, use -x or -H"));
}

#[test]
fn pbs_emulated_kill_sequence_of_a_held_job_falls_back_to_qdel() {
    let c = case("held-seq");
    c.write_exec("job.sh", "#!/bin/sh\n#PBS -h\necho ran\n");
    let jid = submit(&c, "pbs_sequence");
    wait_state(&c, &jid, "H");
    // qsig refuses a job that does not run; qdel removes it.
    c.troika(&["-vv", "kill", "pbs_sequence", &c.s("job.sh")])
        .expect_code(0)
        .stderr_contains("is not running: cancelling it with qdel")
        .stderr_contains(&format!("Kill of job {jid}: CANCELLED"));
    assert_eq!(attribute(&c, &jid, "job_state").as_deref(), Some("F"));
}

#[test]
fn pbs_emulated_kill_sequence_signals_a_running_job() {
    let c = case("running-seq");
    let ready = c.path("ready");
    c.write_exec(
        "job.sh",
        format!(
            "#!/bin/bash\ntrap 'echo got USR1' USR1\ntrap 'echo got TERM; exit 5' TERM\necho started\n\
             touch '{}'\nwhile :; do sleep 0.1; done\n",
            ready.display()
        ),
    );
    let jid = submit(&c, "pbs_sequence");
    wait_state(&c, &jid, "R");
    wait_until("the traps to be set", Duration::from_secs(30), || ready.exists());
    let start = Instant::now();
    // USR1, then TERM (the job exits), then KILL fails: the job was terminated.
    c.troika(&["-vv", "kill", "pbs_sequence", &c.s("job.sh")])
        .expect_code(0)
        .stderr_contains(&format!("Kill of job {jid}: TERMINATED"));
    assert!(start.elapsed() >= Duration::from_millis(1500), "{:?}", start.elapsed());
    wait_state(&c, &jid, "F");
    assert_eq!(attribute(&c, &jid, "Exit_status").as_deref(), Some("5"));
    assert_eq!(c.read_or_empty("job.out"), "started\ngot USR1\ngot TERM\n");
}

#[test]
fn pbs_emulated_qdel_kills_a_running_job_that_ignores_term() {
    let c = case("running-qdel");
    c.write_exec(
        "job.sh",
        "#!/bin/sh\ntrap '' TERM\necho started\nwhile :; do sleep 0.1; done\n",
    );
    let jid = submit(&c, "pbs");
    wait_state(&c, &jid, "R");
    c.troika(&["-vv", "kill", "pbs", &c.s("job.sh")])
        .expect_code(0)
        .stderr_contains(&format!("Kill of job {jid}: KILLED"));
    // SIGTERM is ignored; SIGKILL follows after the kill delay: 256 + 9.
    wait_state(&c, &jid, "F");
    assert_eq!(attribute(&c, &jid, "Exit_status").as_deref(), Some("265"));
    assert_eq!(c.read_or_empty("job.out"), "started\n");
}

#[test]
fn pbs_emulated_unknown_and_finished_jobs_vanish() {
    let c = case("vanished");
    c.write_exec("job.sh", "#!/bin/sh\necho done\n");
    for site in ["pbs", "pbs_sequence"] {
        c.troika(&["-vv", "kill", site, &c.s("job.sh"), "-j", "99.pbs-emu"])
            .expect_code(0)
            .stderr_contains("Kill of job 99.pbs-emu: VANISHED");
    }

    let jid = submit(&c, "pbs");
    wait_state(&c, &jid, "F");
    c.troika(&["-vv", "kill", "pbs_sequence", &c.s("job.sh")])
        .expect_code(0)
        .stderr_contains(&format!("Kill of job {jid}: VANISHED"));
    // A 0.2.7 configuration: as in 0.2.7, any qdel or qsig failure fails the kill.
    configure(&c, "");
    for site in ["pbs", "pbs_sequence"] {
        c.troika(&["kill", site, &c.s("job.sh")])
            .expect_code(1)
            .stderr_contains("Kill failed with exit code");
    }
    configure(&c, EDITION);

    c.troika(&["monitor", "pbs", &c.s("job.sh"), "-j", "99.pbs-emu"])
        .expect_code(1);
    assert!(c
        .read_or_empty("job.sh.stat")
        .contains("qstat: Unknown Job Id 99.pbs-emu"));

    // A job id that qdel would take for an option is refused.
    c.write("job.sh.jid", "-W\n");
    c.troika(&["kill", "pbs", &c.s("job.sh")])
        .expect_code(1)
        .stderr_contains("Invalid job id: '-W'");
}

#[test]
fn pbs_emulated_submit_failures_report_qsub_errors() {
    let c = case("fail");
    c.write_exec("job.sh", "#!/bin/sh\n# troika queue=nosuch\necho x\n");
    c.troika(&["submit", "pbs", &c.s("job.sh"), "-o", &c.s("job.out")])
        .expect_code(1)
        .stderr_contains("Submission failed with exit code 170: qsub: Unknown queue");
    assert!(!c.exists("job.sh.jid"));

    // The server does not answer.
    std::fs::remove_dir_all(c.path("server")).unwrap();
    c.write_exec("job.sh", "#!/bin/sh\necho x\n");
    c.troika(&["submit", "pbs", &c.s("job.sh"), "-o", &c.s("job.out")])
        .expect_code(1)
        .stderr_contains("exit code 162: qsub: cannot connect to server pbs-emu (errno=15010)")
        .stderr_contains("(7 attempts in ");
}

/// The emulator itself: the documented answers of the real commands.
#[test]
fn pbs_emulator_answers_like_pbs() {
    let c = case("emulator");
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let jid = String::from_utf8(cmd(&c, "qsub", &["-h", "-N", "e"]).stdout).unwrap();
    assert_eq!(jid, "1.pbs-emu\n");
    let out = cmd(&c, "qsig", &["-s", "TERM", "1"]);
    assert_eq!(out.status.code(), Some(168));
    assert_eq!(stderr(&out), "qsig: Request invalid for state of job 1.pbs-emu\n");
    let out = cmd(&c, "qdel", &["7.pbs-emu"]);
    assert_eq!(out.status.code(), Some(153));
    assert_eq!(stderr(&out), "qdel: Unknown Job Id 7.pbs-emu\n");
    let out = cmd(&c, "qsub", &["-l", "select=0:ncpus=2", "/dev/null"]);
    assert_eq!(out.status.code(), Some(166));
    assert_eq!(
        stderr(&out),
        "qsub: Illegal attribute or resource value Resource_List.select\n"
    );
    assert!(cmd(&c, "qdel", &["1"]).status.success());
    let out = cmd(&c, "qstat", &["1"]);
    assert_eq!(out.status.code(), Some(35));
    assert_eq!(
        stderr(&out),
        "qstat: 1.pbs-emu Job has finished, use -x or -H to obtain historical job information\n"
    );
}
