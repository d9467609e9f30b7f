//! The pbs site against an EMULATOR of a PBS Pro / OpenPBS server: no PBS
//! server can run on these machines. `tests/emulators/pbs/` holds qsub,
//! qstat, qdel and qsig as small shell scripts that answer with the output
//! and exit status of the real commands (documented, and from OpenPBS's
//! error table), run the jobs for real and keep the server's state in
//! `TROIKA_PBS_EMULATOR_DIR` (see `tests/emulators/pbs/lib.sh` for what is
//! and is not emulated). Each test has a server of its own.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{describe, repo_root, troika_bin, wait_until};

fn emulator(cmd: &str) -> PathBuf {
    repo_root().join("tests/emulators/pbs").join(cmd)
}

/// A scratch directory with a configuration for the emulated server in
/// `server/`, removed at the end (the server's running jobs deleted first).
struct Pbs {
    dir: PathBuf,
}

impl Pbs {
    fn new(tag: &str) -> Pbs {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("troika-pbs-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("server")).unwrap();
        let cmds = ["qsub", "qstat", "qdel", "qsig"]
            .map(|c| format!("    {c}_command: {}\n", emulator(c).display()))
            .concat();
        let config = format!(
            "sites:\n  pbs:\n    type: pbs\n    connection: local\n{cmds}\
             \x20 pbs_select:\n    type: pbs\n    connection: local\n    resource_syntax: select\n{cmds}\
             \x20 pbs_sequence:\n    type: pbs\n    connection: local\n    kill_sequence: [[0, USR1], [0.5, TERM], [1, KILL]]\n{cmds}\
             \x20 pbs_copy:\n    type: pbs\n    connection: local\n    copy_script: true\n    translators: [join_output_error]\n{cmds}"
        );
        // troika's kill of vanished and queued jobs comes with edition 2026;
        // troika-0.2.7.yml is the same configuration without it.
        std::fs::write(dir.join("troika.yml"), format!("edition: 2026\n{config}")).unwrap();
        std::fs::write(dir.join("troika-0.2.7.yml"), config).unwrap();
        Pbs { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    fn env(&self, c: &mut std::process::Command) {
        c.env("TROIKA_PBS_EMULATOR_DIR", self.path("server"))
            .env("TROIKA_PBS_EMULATOR_KILL_DELAY", "1")
            .current_dir(&self.dir);
    }

    /// troika with this test's configuration.
    fn troika(&self, args: &[&str]) -> Output {
        self.troika_with("troika.yml", args)
    }

    fn troika_with(&self, config: &str, args: &[&str]) -> Output {
        let mut c = std::process::Command::new(troika_bin());
        self.env(&mut c);
        c.arg("-c").arg(self.path(config)).args(args).output().unwrap()
    }

    /// An emulator command.
    fn cmd(&self, program: &str, args: &[&str]) -> Output {
        let mut c = std::process::Command::new(emulator(program));
        self.env(&mut c);
        c.args(args).output().unwrap()
    }

    /// `qstat -x -f ID`: the job's attributes (`job_state`, `Exit_status`, ...).
    fn attributes(&self, jid: &str) -> Vec<(String, String)> {
        let out = self.cmd("qstat", &["-x", "-f", jid]);
        assert!(out.status.success(), "qstat -x -f {jid}\n{}", describe(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().split_once(" = "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn attribute(&self, jid: &str, key: &str) -> Option<String> {
        self.attributes(jid).into_iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn wait_state(&self, jid: &str, state: &str) {
        wait_until(&format!("job {jid} in state {state}"), Duration::from_secs(30), || {
            self.attribute(jid, "job_state").as_deref() == Some(state)
        });
    }

    /// Submits `job.sh` to `site` with output `job.out`; returns the job id.
    fn submit(&self, site: &str) -> String {
        let out = self.troika(&["submit", site, &self.s("job.sh"), "-o", &self.s("job.out")]);
        assert!(out.status.success(), "submit failed\n{}", describe(&out));
        let jid = self.read("job.sh.jid").trim().to_string();
        assert!(jid.ends_with(".pbs-emu"), "job id file: {jid:?}\n{}", describe(&out));
        jid
    }
}

impl Drop for Pbs {
    fn drop(&mut self) {
        let out = self.cmd("qstat", &[]);
        for line in String::from_utf8_lossy(&out.stdout).lines().skip(2) {
            if let Some(jid) = line.split_whitespace().next() {
                let _ = self.cmd("qdel", &[jid]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn pbs_emulated_submit_runs_the_job_with_translated_directives() {
    let pbs = Pbs::new("submit");
    pbs.write(
        "job.sh",
        "#!/bin/bash\n# troika name=troika_pbs\n# troika walltime=00:05:00\n# troika export_vars=TROIKA_TEST_X=exported\n\
         # troika mail_type=begin,end\necho \"job $PBS_JOBID ($PBS_JOBNAME) X=$TROIKA_TEST_X\"\necho oops >&2\n",
    );
    let jid = pbs.submit("pbs");
    assert_eq!(jid, "1.pbs-emu");
    let script = pbs.read("job.sh");
    for line in [
        "#PBS -N troika_pbs\n".to_string(),
        "#PBS -l walltime=00:05:00\n".to_string(),
        "#PBS -v TROIKA_TEST_X=exported\n".to_string(),
        "#PBS -m be\n".to_string(),
        format!("#PBS -o {}\n", pbs.s("job.out")),
    ] {
        assert!(script.contains(&line), "{line:?} not in\n{script}");
    }
    pbs.wait_state(&jid, "F");
    assert_eq!(pbs.attribute(&jid, "Exit_status").as_deref(), Some("0"));
    assert_eq!(
        pbs.attribute(&jid, "Resource_List.walltime").as_deref(),
        Some("00:05:00")
    );
    assert_eq!(pbs.read("job.out"), "job 1.pbs-emu (troika_pbs) X=exported\n");
    // Without -e the error stream goes to <workdir>/<name>.e<seq>, as in PBS.
    assert_eq!(pbs.read("troika_pbs.e1"), "oops\n");
}

#[test]
fn pbs_emulated_copy_script_passes_the_copy_and_joins_streams() {
    let pbs = Pbs::new("copy");
    pbs.write("job.sh", "#!/bin/sh\necho out\necho err >&2\n");
    std::fs::create_dir_all(pbs.path("out")).unwrap();
    let out = pbs.troika(&["submit", "pbs_copy", &pbs.s("job.sh"), "-o", &pbs.s("out/job.out")]);
    assert!(out.status.success(), "{}", describe(&out));
    let jid = pbs.read("job.sh.jid").trim().to_string();
    // The copy beside the output went to qsub as its argument: its name is the job's.
    assert_eq!(pbs.read("out/job.sh"), pbs.read("job.sh"));
    assert_eq!(pbs.attribute(&jid, "Job_Name").as_deref(), Some("job.sh"));
    assert_eq!(pbs.attribute(&jid, "Join_Path").as_deref(), Some("oe"));
    pbs.wait_state(&jid, "F");
    assert_eq!(pbs.read("out/job.out"), "out\nerr\n");
}

#[test]
fn pbs_emulated_select_resources_reach_qsub() {
    let pbs = Pbs::new("select");
    let job = "#!/bin/sh\n# troika total_nodes=2\n# troika tasks_per_node=4\n# troika cpus_per_task=2\n\
               # troika memory_per_node=8G\n# troika exclusive=true\n# troika name=sel\necho ok\n";
    pbs.write("job.sh", job);
    let jid = pbs.submit("pbs_select");
    let script = pbs.read("job.sh");
    assert!(
        script.starts_with(&format!(
            "#!/bin/sh\n#PBS -l select=2:ncpus=8:mpiprocs=4:mem=8gb\n#PBS -l place=scatter:excl\n#PBS -N sel\n#PBS -o {}\n",
            pbs.s("job.out")
        )),
        "{script}"
    );
    // The emulated qsub checks the syntax of select and place, as PBS does.
    assert_eq!(
        pbs.attribute(&jid, "Resource_List.select").as_deref(),
        Some("2:ncpus=8:mpiprocs=4:mem=8gb")
    );
    assert_eq!(
        pbs.attribute(&jid, "Resource_List.place").as_deref(),
        Some("scatter:excl")
    );
    pbs.wait_state(&jid, "F");

    // Without resource_syntax: select, as troika 0.2.7: unknown directives.
    pbs.write("job.sh", job);
    let out = pbs.troika(&["submit", "pbs", &pbs.s("job.sh"), "-o", &pbs.s("job.out")]);
    assert!(out.status.success(), "{}", describe(&out));
    for name in [
        "total_nodes",
        "tasks_per_node",
        "cpus_per_task",
        "memory_per_node",
        "exclusive",
    ] {
        assert!(
            stderr(&out).contains(&format!("Unknown directive '{name}'")),
            "{}",
            describe(&out)
        );
    }
    assert!(!pbs.read("job.sh").contains("select="), "{}", pbs.read("job.sh"));

    // A combination PBS cannot express: an error naming the directives, nothing submitted.
    pbs.write(
        "job.sh",
        "#!/bin/sh\n# troika total_nodes=3\n# troika total_tasks=2\necho x\n",
    );
    let out = pbs.troika(&["submit", "pbs_select", &pbs.s("job.sh"), "-o", &pbs.s("job.out")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains(
            "Directive 'total_nodes': PBS select: total_tasks=2 with total_nodes=3 leaves a node without a task"
        ),
        "{}",
        describe(&out)
    );
    assert!(!pbs.path("server/jobs/3").exists(), "a job was submitted");
}

#[test]
fn pbs_emulated_monitor_then_kill_a_held_job_with_qdel() {
    let pbs = Pbs::new("held");
    // A native directive: the job is held, it stays in the queue.
    pbs.write("job.sh", "#!/bin/sh\n#PBS -h\necho ran\n");
    let jid = pbs.submit("pbs");
    assert!(pbs.read("job.sh").contains("\n#PBS -h\n"));
    pbs.wait_state(&jid, "H");

    let out = pbs.troika(&["monitor", "pbs", &pbs.s("job.sh")]);
    assert!(out.status.success(), "{}", describe(&out));
    let stat = pbs.read("job.sh.stat");
    assert!(stat.starts_with("Job id            Name             User"), "{stat}");
    let row: Vec<&str> = stat.lines().nth(2).unwrap_or("").split_whitespace().collect();
    assert_eq!(row.first(), Some(&jid.as_str()), "{stat}");
    assert_eq!(row.get(4), Some(&"H"), "{stat}");

    let out = pbs.troika(&["-vv", "kill", "pbs", &pbs.s("job.sh")]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("Kill of job {jid}: KILLED")),
        "{}",
        describe(&out)
    );
    assert_eq!(pbs.attribute(&jid, "job_state").as_deref(), Some("F"));
    assert_eq!(pbs.read("job.out"), "", "a held job must not run");

    // Now finished: qstat refuses it, monitor reports the failure with its output.
    let out = pbs.troika(&["monitor", "pbs", &pbs.s("job.sh")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("qstat failed with exit code 35"),
        "{}",
        describe(&out)
    );
    assert!(pbs.read("job.sh.stat").contains("Job has finished, use -x or -H"));
}

#[test]
fn pbs_emulated_kill_sequence_of_a_held_job_falls_back_to_qdel() {
    let pbs = Pbs::new("held-seq");
    pbs.write("job.sh", "#!/bin/sh\n#PBS -h\necho ran\n");
    let jid = pbs.submit("pbs_sequence");
    pbs.wait_state(&jid, "H");
    let out = pbs.troika(&["-vv", "kill", "pbs_sequence", &pbs.s("job.sh")]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = stderr(&out);
    // qsig refuses a job that does not run; qdel removes it.
    assert!(err.contains("is not running: cancelling it with qdel"), "{err}");
    assert!(err.contains(&format!("Kill of job {jid}: CANCELLED")), "{err}");
    assert_eq!(pbs.attribute(&jid, "job_state").as_deref(), Some("F"));
}

#[test]
fn pbs_emulated_kill_sequence_signals_a_running_job() {
    let pbs = Pbs::new("running-seq");
    pbs.write(
        "job.sh",
        "#!/bin/bash\ntrap 'echo got USR1' USR1\ntrap 'echo got TERM; exit 5' TERM\necho started\n\
         while :; do sleep 0.1; done\n",
    );
    let jid = pbs.submit("pbs_sequence");
    pbs.wait_state(&jid, "R");
    std::thread::sleep(Duration::from_millis(300)); // the traps are set
    let start = Instant::now();
    let out = pbs.troika(&["-vv", "kill", "pbs_sequence", &pbs.s("job.sh")]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = stderr(&out);
    // USR1, then TERM (the job exits), then KILL fails: the job was terminated.
    assert!(err.contains(&format!("Kill of job {jid}: TERMINATED")), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(1500), "{:?}", start.elapsed());
    pbs.wait_state(&jid, "F");
    assert_eq!(pbs.attribute(&jid, "Exit_status").as_deref(), Some("5"));
    assert_eq!(pbs.read("job.out"), "started\ngot USR1\ngot TERM\n");
}

#[test]
fn pbs_emulated_qdel_kills_a_running_job_that_ignores_term() {
    let pbs = Pbs::new("running-qdel");
    pbs.write(
        "job.sh",
        "#!/bin/sh\ntrap '' TERM\necho started\nwhile :; do sleep 0.1; done\n",
    );
    let jid = pbs.submit("pbs");
    pbs.wait_state(&jid, "R");
    let out = pbs.troika(&["-vv", "kill", "pbs", &pbs.s("job.sh")]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("Kill of job {jid}: KILLED")),
        "{}",
        describe(&out)
    );
    // SIGTERM is ignored; SIGKILL follows after the kill delay: 256 + 9.
    pbs.wait_state(&jid, "F");
    assert_eq!(pbs.attribute(&jid, "Exit_status").as_deref(), Some("265"));
    assert_eq!(pbs.read("job.out"), "started\n");
}

#[test]
fn pbs_emulated_unknown_and_finished_jobs_vanish() {
    let pbs = Pbs::new("vanished");
    pbs.write("job.sh", "#!/bin/sh\necho done\n");
    let out = pbs.troika(&["-vv", "kill", "pbs", &pbs.s("job.sh"), "-j", "99.pbs-emu"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("Kill of job 99.pbs-emu: VANISHED"),
        "{}",
        describe(&out)
    );
    let out = pbs.troika(&["-vv", "kill", "pbs_sequence", &pbs.s("job.sh"), "-j", "99.pbs-emu"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains("Kill of job 99.pbs-emu: VANISHED"),
        "{}",
        describe(&out)
    );

    let jid = pbs.submit("pbs");
    pbs.wait_state(&jid, "F");
    let out = pbs.troika(&["-vv", "kill", "pbs_sequence", &pbs.s("job.sh")]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("Kill of job {jid}: VANISHED")),
        "{}",
        describe(&out)
    );
    // A 0.2.7 configuration: as in 0.2.7, any qdel or qsig failure fails the kill.
    for site in ["pbs", "pbs_sequence"] {
        let out = pbs.troika_with("troika-0.2.7.yml", &["kill", site, &pbs.s("job.sh")]);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        assert!(
            stderr(&out).contains("Kill failed with exit code"),
            "{}",
            describe(&out)
        );
    }

    let out = pbs.troika(&["monitor", "pbs", &pbs.s("job.sh"), "-j", "99.pbs-emu"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(pbs.read("job.sh.stat").contains("qstat: Unknown Job Id 99.pbs-emu"));

    // A job id that qdel would take for an option is refused.
    std::fs::write(pbs.path("job.sh.jid"), "-W\n").unwrap();
    let out = pbs.troika(&["kill", "pbs", &pbs.s("job.sh")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr(&out).contains("Invalid job id: '-W'"), "{}", describe(&out));
}

#[test]
fn pbs_emulated_submit_failures_report_qsub_errors() {
    let pbs = Pbs::new("fail");
    pbs.write("job.sh", "#!/bin/sh\n# troika queue=nosuch\necho x\n");
    let out = pbs.troika(&["submit", "pbs", &pbs.s("job.sh"), "-o", &pbs.s("job.out")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("Submission failed with exit code 170: qsub: Unknown queue"),
        "{}",
        describe(&out)
    );
    assert!(!pbs.path("job.sh.jid").exists());

    // The server does not answer.
    std::fs::remove_dir_all(pbs.path("server")).unwrap();
    pbs.write("job.sh", "#!/bin/sh\necho x\n");
    let out = pbs.troika(&["submit", "pbs", &pbs.s("job.sh"), "-o", &pbs.s("job.out")]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        stderr(&out).contains("exit code 162: qsub: cannot connect to server pbs-emu (errno=15010)"),
        "{}",
        describe(&out)
    );
}

/// The emulator itself: the documented answers of the real commands.
#[test]
fn pbs_emulator_answers_like_pbs() {
    let pbs = Pbs::new("emulator");
    let jid = String::from_utf8(pbs.cmd("qsub", &["-h", "-N", "e"]).stdout).unwrap();
    assert_eq!(jid, "1.pbs-emu\n");
    let out = pbs.cmd("qsig", &["-s", "TERM", "1"]);
    assert_eq!(out.status.code(), Some(168));
    assert_eq!(stderr(&out), "qsig: Request invalid for state of job 1.pbs-emu\n");
    let out = pbs.cmd("qdel", &["7.pbs-emu"]);
    assert_eq!(out.status.code(), Some(153));
    assert_eq!(stderr(&out), "qdel: Unknown Job Id 7.pbs-emu\n");
    let out = pbs.cmd(
        "qsub",
        &["-l", "select=0:ncpus=2", Path::new("/dev/null").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(166));
    assert_eq!(
        stderr(&out),
        "qsub: Illegal attribute or resource value Resource_List.select\n"
    );
    assert!(pbs.cmd("qdel", &["1"]).status.success());
    let out = pbs.cmd("qstat", &["1"]);
    assert_eq!(out.status.code(), Some(35));
    assert_eq!(
        stderr(&out),
        "qstat: 1.pbs-emu Job has finished, use -x or -H to obtain historical job information\n"
    );
}
