//! `array` and `depends_on`: an array of five tasks runs five times with
//! five indices on the real Slurm cluster and the real Grid Engine cell,
//! and `troika status` tells each task and the whole; a job that depends on
//! a failing job never runs under `afterok` (Slurm), and waits for the end
//! of another under `afterany` (Slurm, Grid Engine). The other schedulers
//! are checked in dry runs (their directive lines) and, for LSF's and PBS's
//! per-task status, against commands answering with the output their
//! documentation gives for an array: no server of PBS, Torque, LSF or Flux
//! can run here.

use std::time::Duration;

use serde_json::Value;

use crate::common::{poll_until, service, Case, Service};

const SLURM: &str = "edition: 2026\nledger: ledger\nsites:\n  slurm:\n    type: slurm\n    connection: local\n";
const SGE: &str = "edition: 2026\nledger: ledger\nsites:\n  sge:\n    type: sge\n    connection: local\n";

/// `troika status SITE SCRIPT --json`, read.
fn status(c: &Case, site: &str, script: &str) -> Value {
    let r = c.troika(&["status", site, script, "--json"]);
    r.expect_code(0);
    serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// `STATE` or `STATE/OUTCOME`.
fn words(v: &Value) -> String {
    match v["outcome"].as_str() {
        Some(o) => format!("{}/{o}", v["state"].as_str().unwrap()),
        None => v["state"].as_str().unwrap().to_string(),
    }
}

/// An array of five tasks, at most two at once; task 2 fails with exit
/// code 3. Each task writes its index, read from TROIKA_ARRAY_INDEX, to its
/// own output file; status tells the five tasks and the failed whole.
fn five_tasks(site: &str, config: &str, cancel: &'static str) {
    let c = Case::new(&format!("array-{site}"))
        .config(config)
        .remove_jobs_at_end(cancel);
    c.write("out/.keep", "");
    c.write_exec(
        "job.sh",
        "#!/bin/sh\n# troika array=1-5%2\n# troika name=five\necho \"index $TROIKA_ARRAY_INDEX\"\n[ \"$TROIKA_ARRAY_INDEX\" = 2 ] && exit 3\nexit 0\n",
    );
    c.troika(&["submit", site, "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    let v = poll_until("the five tasks to end", Duration::from_secs(240), || {
        let v = status(&c, site, "job.sh");
        let tasks = v["tasks"].as_array().map_or(0, Vec::len);
        // The exit codes come from accounting, which may lag the queue.
        (v["state"] == "FINISHED" && tasks == 5 && !v["exit_code"].is_null()).then_some(v)
    });
    check_five(&c, site, &v);
}

/// The answer about the five tasks once they all ended.
fn check_five(c: &Case, site: &str, v: &Value) {
    assert_eq!(words(v), "FINISHED/FAILED", "{v}");
    assert_eq!(v["exit_code"], 3, "{v}");
    assert!(v["reason"].as_str().unwrap().starts_with("5 tasks: "), "{v}");
    let tasks = v["tasks"].as_array().unwrap();
    for (i, t) in tasks.iter().enumerate() {
        let index = (i + 1).to_string();
        assert_eq!(t["index"], index.as_str(), "{v}");
        let want = if index == "2" {
            "FINISHED/FAILED"
        } else {
            "FINISHED/SUCCEEDED"
        };
        assert_eq!(words(t), want, "{t}");
        assert_eq!(t["exit_code"], if index == "2" { 3 } else { 0 }, "{t}");
        // Each task ran once, with its own index, into its own file.
        assert_eq!(c.read(&format!("out/job.out.{index}")), format!("index {index}\n"));
    }
    assert!(!c.exists("out/job.out"), "the tasks write their own files only");
    // The human-readable answer: the whole, then a line per task.
    let r = c.troika(&["status", site, "job.sh"]);
    r.expect_code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", r.stdout);
    assert!(
        lines[2].starts_with("job.sh[2]  ") && lines[2].contains("FINISHED/FAILED  exit 3"),
        "{}",
        r.stdout
    );
}

#[test]
fn slurm_array_of_five_tasks_runs_five_indices() {
    if !service(Service::Slurm) {
        return;
    }
    five_tasks("slurm", SLURM, "scancel");
}

/// The tasks of a Slurm array leave the queue one by one, MinJobAge after
/// each one's end: tasks 1 (exit 0) and 2 (exit 3) end at once, 3 and 4
/// when the test lets them, after the queue forgot 1 and 2. While the
/// queue shows 3 and 4 ended and nothing of 1 and 2, the answer is still
/// the four tasks and the failure of 2 (accounting has them); once the
/// queue forgot them all, accounting tells each.
#[test]
fn slurm_array_tasks_purged_one_by_one_are_told_from_accounting() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("array-purged").config(SLURM).remove_jobs_at_end("scancel");
    c.write("out/.keep", "");
    let go = c.s("go");
    c.write_exec(
        "job.sh",
        format!(
            "#!/bin/sh\n# troika array=1-4\ncase $TROIKA_ARRAY_INDEX in\n1) exit 0;;\n2) exit 3;;\nesac\nwhile [ ! -e {go} ]; do sleep 0.2; done\nexit 0\n"
        ),
    );
    c.troika(&["submit", "slurm", "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    let jid = c.read("job.sh.jid").trim().to_string();
    // The ids of the array's tasks squeue still shows, ended or not.
    let shown = || -> Vec<String> {
        let out = std::process::Command::new("squeue")
            .args(["-h", "-r", "-t", "all", "-o", "%i", "-j", &jid])
            .output()
            .unwrap();
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    };
    let both = [format!("{jid}_3"), format!("{jid}_4")];
    poll_until("tasks 1 and 2 to leave the queue", Duration::from_secs(120), || {
        (shown() == both).then_some(())
    });
    c.write("go", "");
    let check = |v: &Value| {
        assert_eq!(words(v), "FINISHED/FAILED", "{v}");
        assert_eq!(v["exit_code"], 3, "{v}");
        let tasks = v["tasks"].as_array().unwrap();
        let got: Vec<(String, String)> = tasks
            .iter()
            .map(|t| (t["index"].as_str().unwrap().to_string(), words(t)))
            .collect();
        assert_eq!(
            got,
            [
                ("1", "FINISHED/SUCCEEDED"),
                ("2", "FINISHED/FAILED"),
                ("3", "FINISHED/SUCCEEDED"),
                ("4", "FINISHED/SUCCEEDED")
            ]
            .map(|(i, w)| (i.to_string(), w.to_string())),
            "{v}"
        );
    };
    // 3 and 4 ended and still in the queue: the window this test is for.
    let mut seen_window = false;
    poll_until("tasks 3 and 4 to end", Duration::from_secs(60), || {
        let v = status(&c, "slurm", "job.sh");
        if v["state"] != "FINISHED" {
            return None;
        }
        let in_queue = shown() == both;
        check(&v);
        seen_window |= in_queue;
        Some(())
    });
    // Slurm keeps an ended task at least MinJobAge (2 s here): the first
    // answer after the end came within it, unless this machine stalled.
    if !seen_window {
        eprintln!("tasks 3 and 4 left the queue before troika was asked: the window was missed");
    }
    poll_until("the queue to forget the array", Duration::from_secs(120), || {
        shown().is_empty().then_some(())
    });
    // slurmdbd may lag slurmctld: accounting tells each task in the end.
    let v = poll_until("accounting to tell every task", Duration::from_secs(60), || {
        let v = status(&c, "slurm", "job.sh");
        let tasks = v["tasks"].as_array().unwrap();
        tasks
            .iter()
            .all(|t| t["source"] == "accounting" && !t["exit_code"].is_null())
            .then_some(v)
    });
    check(&v);
}

#[test]
fn grid_engine_array_of_five_tasks_runs_five_indices() {
    if !service(Service::Sge) {
        return;
    }
    five_tasks("sge", SGE, "qdel");
}

/// On Slurm: `first.sh` fails; `ok.sh` waits for its success (afterok),
/// `any.sh` for its end (afterany), `notok.sh` for its failure (afternotok).
/// The dependencies name the script (its .jid) and the job id.
#[test]
fn slurm_afterok_on_a_failing_job_never_runs() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("depends-slurm").config(SLURM);
    c.write("out/.keep", "");
    c.write_exec("first.sh", "#!/bin/sh\nsleep 2\nexit 1\n");
    c.troika(&["submit", "slurm", "first.sh", "-o", &c.s("out/first.out")])
        .expect_code(0);
    let first = c.read("first.sh.jid").trim().to_string();
    let deps = [
        ("ok.sh", format!("afterok:{}", c.s("first.sh"))),
        ("any.sh", format!("afterany:{first}")),
        ("notok.sh", format!("afternotok:{first}")),
    ];
    for (script, dep) in &deps {
        c.write_exec(script, format!("#!/bin/sh\n# troika depends_on={dep}\necho ran\n"));
        c.troika(&["submit", "slurm", script, "-o", &c.s(&format!("out/{script}.out"))])
            .expect_code(0);
        assert!(
            c.read(script)
                .contains(&format!("#SBATCH --dependency=afterok:{first}\n"))
                || !dep.starts_with("afterok"),
            "{}",
            c.read(script)
        );
    }
    let ok_jid = c.read("ok.sh.jid").trim().to_string();
    let c = c.at_end(move |_| {
        let _ = std::process::Command::new("scancel").arg(&ok_jid).output();
    });
    for script in ["any.sh", "notok.sh"] {
        poll_until(&format!("{script} to run"), Duration::from_secs(180), || {
            (words(&status(&c, "slurm", script)) == "FINISHED/SUCCEEDED").then_some(())
        });
    }
    assert_eq!(words(&status(&c, "slurm", "first.sh")), "FINISHED/FAILED");
    // The first job ended long enough ago for the others to run: the
    // afterok one waits for good.
    std::thread::sleep(Duration::from_secs(3));
    let v = status(&c, "slurm", "ok.sh");
    assert_eq!(words(&v), "HELD", "{v}");
    assert!(v["reason"].as_str().unwrap_or("").contains("Dependency"), "{v}");
    assert!(!c.exists("out/ok.sh.out"), "the afterok job never ran");
    c.troika(&["kill", "slurm", "ok.sh"]).expect_code(0);
}

/// On Grid Engine: `-hold_jid` is `afterany`; `afterok` is refused, with
/// what to use instead, before anything is submitted.
#[test]
fn grid_engine_afterany_waits_for_the_end() {
    if !service(Service::Sge) {
        return;
    }
    let c = Case::new("depends-sge").config(SGE);
    c.write("out/.keep", "");
    c.write_exec("first.sh", "#!/bin/sh\nsleep 4\ndate +%s.%N\nexit 1\n");
    c.troika(&["submit", "sge", "first.sh", "-o", &c.s("out/first.out")])
        .expect_code(0);
    c.write_exec(
        "then.sh",
        format!(
            "#!/bin/sh\n# troika depends_on=afterany:{}\ndate +%s.%N\n",
            c.s("first.sh")
        ),
    );
    c.write_exec(
        "ok.sh",
        format!("#!/bin/sh\n# troika depends_on={}\ntrue\n", c.s("first.sh")),
    );
    c.troika(&["submit", "sge", "ok.sh", "-o", &c.s("out/ok.out")])
        .expect_code(1)
        .stderr_contains("Grid Engine cannot wait for how a job ended (afterok), only for its end: use afterany:");
    assert!(!c.exists("ok.sh.jid"));
    c.troika(&["submit", "sge", "then.sh", "-o", &c.s("out/then.out")])
        .expect_code(0);
    let first = c.read("first.sh.jid").trim().to_string();
    assert!(
        c.read("then.sh").contains(&format!("#$ -hold_jid {first}\n")),
        "{}",
        c.read("then.sh")
    );
    poll_until("then.sh to run", Duration::from_secs(180), || {
        (words(&status(&c, "sge", "then.sh")) == "FINISHED/SUCCEEDED").then_some(())
    });
    let time = |f: &str| -> f64 { c.read(f).trim().parse().unwrap() };
    assert!(
        time("out/then.out") >= time("out/first.out"),
        "the dependent job ran after the first ended"
    );
}

/// The directive lines of the other schedulers, and what they refuse.
#[test]
fn arrays_and_dependencies_on_every_scheduler() {
    let c = Case::new("arrays-dry").config(
        "edition: 2026\nsites:\n  p: {type: pbs, connection: local}\n  t: {type: torque, connection: local}\n  l: {type: lsf, connection: local}\n  f: {type: flux, connection: local}\n  g: {type: sge, connection: local}\n  s: {type: slurm, connection: local}\n",
    );
    c.write("dep.sh.jid", "77.server\n");
    c.write("dep.sh", "#!/bin/sh\n");
    let script = "#!/bin/sh\n# troika array=1-9:4%2\n# troika name=sweep\n# troika depends_on=afterok:12:13,afterany:14\necho $TROIKA_ARRAY_INDEX\n";
    for (site, lines) in [
        (
            "s",
            &[
                "#SBATCH --array=1-9:4%2\n",
                "#SBATCH --dependency=afterok:12:13,afterany:14\n",
                "#SBATCH --output=OUT.%a\n",
                "TROIKA_ARRAY_INDEX=${SLURM_ARRAY_TASK_ID-}; export TROIKA_ARRAY_INDEX\n",
            ][..],
        ),
        (
            "p",
            &[
                "#PBS -J 1-9:4%2\n",
                "#PBS -W depend=afterok:12:13,afterany:14\n",
                "#PBS -o OUT.^array_index^\n",
                "TROIKA_ARRAY_INDEX=${PBS_ARRAY_INDEX-}; export TROIKA_ARRAY_INDEX\n",
            ],
        ),
        (
            "t",
            &[
                "#PBS -t 1,5,9%2\n",
                "#PBS -W depend=afterok:12:13,afterany:14\n",
                "#PBS -o OUT\n",
                "TROIKA_ARRAY_INDEX=${PBS_ARRAYID-}; export TROIKA_ARRAY_INDEX\n",
            ],
        ),
        (
            "l",
            &[
                "#BSUB -J \"sweep[1-9:4]%2\"\n",
                "#BSUB -w \"done(12) && done(13) && ended(14)\"\n",
                "#BSUB -o OUT.%I\n",
                "TROIKA_ARRAY_INDEX=${LSB_JOBINDEX-}; export TROIKA_ARRAY_INDEX\n",
            ],
        ),
    ] {
        let name = format!("{site}.sh");
        c.write_exec(&name, script);
        c.troika(&["-n", "submit", site, &name, "-o", &c.s("OUT")])
            .expect_code(0);
        let text = c.read(&name).replace(&c.s("OUT"), "OUT");
        for l in lines {
            assert!(text.contains(l), "{site}: {l:?} in\n{text}");
        }
        assert!(!text.contains("-J sweep\n"), "{text}");
    }
    // A PBS array script on Slurm: its body reads PBS's variables.
    c.write_exec("pbs-on-slurm.sh", "#!/bin/sh\n#PBS -J 1-3\necho $PBS_ARRAY_INDEX\n");
    c.troika(&["-n", "submit", "s", "pbs-on-slurm.sh", "-o", &c.s("OUT")])
        .expect_code(0);
    let text = c.read("pbs-on-slurm.sh");
    for l in [
        "#SBATCH --array=1-3\n",
        "TROIKA_ARRAY_INDEX=${SLURM_ARRAY_TASK_ID-}; export TROIKA_ARRAY_INDEX\n",
        "PBS_ARRAY_INDEX=$TROIKA_ARRAY_INDEX; export PBS_ARRAY_INDEX\n",
        "PBS_ARRAYID=$TROIKA_ARRAY_INDEX; export PBS_ARRAYID\n",
    ] {
        assert!(text.contains(l), "{l:?} in\n{text}");
    }
    // Flux has no arrays; its dependencies are one option per job.
    c.write_exec("f.sh", script);
    c.troika(&["-n", "submit", "f", "f.sh", "-o", &c.s("OUT")])
        .expect_code(1)
        .stderr_contains("Flux has no job arrays");
    c.write_exec(
        "f2.sh",
        format!("#!/bin/sh\n# troika depends_on=afternotok:{}\n", c.s("dep.sh")),
    );
    c.troika(&["-n", "submit", "f", "f2.sh", "-o", &c.s("OUT")])
        .expect_code(0);
    assert!(
        c.read("f2.sh").contains("#flux: --dependency=afternotok:77.server\n"),
        "{}",
        c.read("f2.sh")
    );
    // Grid Engine: one range from 1, and steps and limits its own way.
    c.write_exec("g.sh", "#!/bin/sh\n# troika array=2-10:2%3\n");
    c.troika(&["-n", "submit", "g", "g.sh", "-o", &c.s("OUT")])
        .expect_code(0);
    let g = c.read("g.sh");
    assert!(
        g.contains("#$ -t 2-10:2\n#$ -tc 3\n") && g.contains("#$ -o ") && g.contains("OUT.$TASK_ID\n"),
        "{g}"
    );
    for (bad, why) in [
        ("1,3", "Grid Engine takes one range"),
        ("0-4", "Grid Engine numbers tasks from 1"),
        ("5-1", "ends before it starts"),
    ] {
        c.write_exec("bad.sh", format!("#!/bin/sh\n# troika array={bad}\n"));
        c.troika(&["-n", "submit", "g", "bad.sh", "-o", &c.s("OUT")])
            .expect_code(1)
            .stderr_contains(why);
    }
    // A script that was never submitted is no dependency.
    c.write_exec("d.sh", format!("#!/bin/sh\n# troika depends_on={}\n", c.s("never.sh")));
    c.troika(&["-n", "submit", "s", "d.sh", "-o", &c.s("OUT")])
        .expect_code(1)
        .stderr_contains("there is no script");
}

/// LSF's status of an array job, from the emulator answering `bjobs` the
/// way LSF's documentation shows an array: a line per element, with its
/// index.
#[test]
fn lsf_array_status_per_task_and_in_total() {
    let c = Case::emulated("lsf").sites("  lsf: {type: lsf, connection: local}\n");
    c.write_exec("job.sh", "#!/bin/sh\n");
    c.answer(
        "bjobs",
        "512|1|DONE|-|-\n512|2|EXIT|3|-\n512|3|RUN|-|-\n512|4|PEND|-|-\n",
    );
    let r = c.troika(&["status", "lsf", "job.sh", "-j", "512", "--json"]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(words(&v), "RUNNING", "{v}");
    assert_eq!(
        v["reason"], "4 tasks: 1 FINISHED/SUCCEEDED, 1 FINISHED/FAILED, 1 RUNNING, 1 QUEUED",
        "{v}"
    );
    let ids: Vec<&str> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["512[1]", "512[2]", "512[3]", "512[4]"]);
    assert_eq!(v["tasks"][1]["exit_code"], 3);
    // One element asked by its own id.
    let r = c.troika(&["status", "lsf", "job.sh", "-j", "512[2]", "--json"]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        (words(&v).as_str(), v["job_id"].as_str()),
        ("FINISHED/FAILED", Some("512[2]")),
        "{v}"
    );
    // All ended: the first failure speaks for the whole.
    c.answer("bjobs", "512|1|DONE|-|-\n512|2|EXIT|3|-\n");
    let r = c.troika(&["status", "lsf", "job.sh", "-j", "512", "--json"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        (words(&v).as_str(), v["exit_code"].as_i64()),
        ("FINISHED/FAILED", Some(3)),
        "{v}"
    );
}

/// PBS's status of an array job: with `-t`, `qstat -x -f` lists the array
/// (`B` while subjobs run) and each subjob (`X` once ended, with its
/// `Exit_status`), as PBS's documentation shows; a fake `qstat` answers so.
#[test]
fn pbs_array_status_per_subjob() {
    let c = Case::new("pbs-array")
        .sites("  pbs: {type: pbs, connection: local}\n")
        .fake("qstat", "exit 1");
    c.write_exec("job.sh", "#!/bin/sh\n");
    let job = |id: &str, state: &str, more: &str| {
        format!("Job Id: {id}\n    Job_Name = sweep\n    job_state = {state}\n{more}\n")
    };
    c.answer(
        "qstat",
        &[
            job(
                "88[].pbs01",
                "B",
                "    array = True\n    array_indices_submitted = 1-3\n",
            ),
            job("88[1].pbs01", "X", "    Exit_status = 0\n    array_index = 1\n"),
            job("88[2].pbs01", "X", "    Exit_status = 2\n    array_index = 2\n"),
            job("88[3].pbs01", "R", "    array_index = 3\n"),
        ]
        .concat(),
    );
    let r = c.troika(&["status", "pbs", "job.sh", "-j", "88[].pbs01", "--json"]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(c.calls("qstat").last().unwrap(), &["-x", "-f", "-t", "88[].pbs01"]);
    assert_eq!(words(&v), "RUNNING", "{v}");
    assert_eq!(v["job_id"], "88[].pbs01");
    assert_eq!(
        v["reason"], "3 tasks: 1 FINISHED/SUCCEEDED, 1 FINISHED/FAILED, 1 RUNNING",
        "{v}"
    );
    assert_eq!(v["tasks"][1]["job_id"], "88[2].pbs01");
    assert_eq!(v["tasks"][1]["exit_code"], 2);
    // A job that is no array is asked without -t.
    c.answer("qstat", &job("89.pbs01", "R", ""));
    let r = c.troika(&["status", "pbs", "job.sh", "-j", "89.pbs01", "--json"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(words(&v), "RUNNING", "{v}");
    assert!(v.get("tasks").is_none(), "{v}");
    assert_eq!(c.calls("qstat").last().unwrap(), &["-x", "-f", "89.pbs01"]);
}

/// Torque's status of an array job: `qstat -f -t` lists each subjob, as
/// Torque's documentation shows (`C` once completed, with `exit_status`); a
/// fake `qstat` answers so.
#[test]
fn torque_array_status_per_subjob() {
    let c = Case::new("torque-array")
        .sites("  torque: {type: torque, connection: local}\n")
        .fake("qstat", "exit 1");
    c.write_exec("job.sh", "#!/bin/sh\n");
    let job = |id: &str, state: &str, more: &str| {
        format!("Job Id: {id}\n    Job_Name = sweep-{state}\n    job_state = {state}\n{more}\n")
    };
    c.answer(
        "qstat",
        &[
            job("61[1].torque1", "C", "    exit_status = 0\n    job_array_id = 1\n"),
            job("61[2].torque1", "C", "    exit_status = 0\n    job_array_id = 2\n"),
        ]
        .concat(),
    );
    let r = c.troika(&["status", "torque", "job.sh", "-j", "61[].torque1", "--json"]);
    r.expect_code(0);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(c.calls("qstat").last().unwrap(), &["-f", "-t", "61[].torque1"]);
    assert_eq!(words(&v), "FINISHED/SUCCEEDED", "{v}");
    assert_eq!(v["exit_code"], 0, "{v}");
    assert_eq!(v["reason"], "2 tasks: 2 FINISHED/SUCCEEDED", "{v}");
    let ids: Vec<&str> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["61[1].torque1", "61[2].torque1"]);
}
