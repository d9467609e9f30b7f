//! `signal_before_end`: the job gets its signal before its wall-clock
//! limit on the real Slurm cluster and the real Grid Engine cell (SIGUSR1
//! at the soft limit); LSF and Flux write their options (their emulators do
//! not keep time); PBS and Torque refuse it clearly.

use std::time::Duration;

use crate::common::{service, wait_until, Case, Service};

#[test]
fn a_slurm_job_gets_its_signal_before_its_limit() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("sbe-slurm").config("edition: 2026\nsites:\n  s:\n    type: slurm\n    connection: local\n");
    c.write("out/.keep", "");
    let marker = c.path("out/signalled");
    // Two minutes of wall-clock, the signal 100 s before the end: about 20 s
    // in (Slurm may send it up to a minute early), long before the limit.
    c.write_exec(
        "job.sh",
        format!(
            "#!/bin/bash\n# troika walltime=00:02:00\n# troika signal_before_end=USR2@100\n\
             trap 'echo \"USR2 after $SECONDS s\" >{m}; exit 0' USR2\nsleep 115 &\nwait\necho no signal >{m}\n",
            m = marker.display()
        ),
    );
    c.troika(&["submit", "s", "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    let generated = c.read("job.sh");
    assert!(generated.contains("#SBATCH --signal=B:USR2@100\n"), "{generated}");
    let jid = c.read("job.sh.jid").trim().to_string();
    let c = c.at_end(move |_| {
        let _ = std::process::Command::new("scancel").arg(&jid).output();
    });
    wait_until("the job's USR2", Duration::from_secs(100), || marker.exists());
    let said = c.read("out/signalled");
    let secs: u64 = said
        .strip_prefix("USR2 after ")
        .and_then(|r| r.strip_suffix(" s\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the job was not signalled: {said:?}"));
    assert!(secs < 100, "signalled {secs} s in, within its 120 s limit");
}

/// Grid Engine sends SIGUSR1 at the soft limit: a job of 40 s asking for
/// it 25 s before the end gets it about 15 s in.
#[test]
fn a_grid_engine_job_gets_usr1_before_its_limit() {
    if !service(Service::Sge) {
        return;
    }
    let c = Case::new("sbe-sge").config("edition: 2026\nsites:\n  g:\n    type: sge\n    connection: local\n");
    c.write("out/.keep", "");
    let marker = c.path("out/signalled");
    c.write_exec(
        "job.sh",
        format!(
            "#!/bin/bash\n# troika walltime=40\n# troika signal_before_end=USR1@25\n\
             trap 'echo \"USR1 after $SECONDS s\" >{m}; exit 0' USR1\nsleep 38 &\nwait\necho no signal >{m}\n",
            m = marker.display()
        ),
    );
    c.troika(&["submit", "g", "job.sh", "-o", &c.s("out/job.out")])
        .expect_code(0);
    assert!(c.read("job.sh").contains("#$ -l s_rt=15\n"), "{}", c.read("job.sh"));
    let jid = c.read("job.sh.jid").trim().to_string();
    let c = c.at_end(move |_| {
        let _ = std::process::Command::new("qdel").arg(&jid).output();
    });
    wait_until("the job's USR1", Duration::from_secs(100), || marker.exists());
    let said = c.read("out/signalled");
    let secs: u64 = said
        .strip_prefix("USR1 after ")
        .and_then(|r| r.strip_suffix(" s\n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the job was not signalled: {said:?}"));
    assert!(secs < 38, "signalled {secs} s in, before its 40 s limit");
}

#[test]
fn lsf_and_flux_write_their_options_and_the_qsub_family_refuses() {
    let c = Case::new("sbe-dry").config(
        "edition: 2026\nsites:\n  l: {type: lsf, connection: local}\n  f: {type: flux, connection: local}\n  p: {type: pbs, connection: local}\n  t: {type: torque, connection: local}\n  g: {type: sge, connection: local}\n",
    );
    let script = "#!/bin/bash\n# troika walltime=01:00:00\n# troika signal_before_end=SIGUSR1@90\necho hi\n";
    for (site, lines) in [
        ("l", &["#BSUB -wa USR1\n", "#BSUB -wt 2\n"][..]),
        ("f", &["#flux: --signal=USR1@90s\n"][..]),
    ] {
        let name = format!("{site}.sh");
        c.write_exec(&name, script);
        c.troika(&["-n", "submit", site, &name, "-o", &c.s("out")])
            .expect_code(0);
        let generated = c.read(&name);
        for l in lines {
            assert!(generated.contains(l), "{site}: {l:?} in\n{generated}");
        }
    }
    for site in ["p", "t"] {
        let name = format!("{site}.sh");
        c.write_exec(&name, script);
        c.troika(&["-n", "submit", site, &name, "-o", &c.s("out")])
            .expect_code(1)
            .stderr_contains(
                "Directive 'signal_before_end': this scheduler cannot send a signal before the wall-clock limit",
            );
        assert_eq!(c.read(&name), script, "{site}: the script is left as it was");
    }
    // Grid Engine: SIGUSR1 at the soft limit, from the walltime.
    c.write_exec("g.sh", script);
    c.troika(&["-n", "submit", "g", "g.sh", "-o", &c.s("out")])
        .expect_code(0);
    assert!(c.read("g.sh").contains("#$ -l s_rt=3510\n"), "{}", c.read("g.sh"));
    for (directives, why) in [
        (
            "# troika walltime=60\n# troika signal_before_end=USR2@10\n",
            "not USR2: use USR1@10",
        ),
        ("# troika signal_before_end=USR1@10\n", "give a walltime too"),
        (
            "# troika walltime=60\n# troika signal_before_end=USR1@60\n",
            "would come before the job starts",
        ),
    ] {
        let text = format!("#!/bin/bash\n{directives}");
        c.write_exec("g2.sh", &text);
        c.troika(&["-n", "submit", "g", "g2.sh", "-o", &c.s("out")])
            .expect_code(1)
            .stderr_contains(why);
        assert_eq!(c.read("g2.sh"), text);
    }
    // A malformed value, on a scheduler that can.
    c.write_exec("bad.sh", "#!/bin/bash\n# troika signal_before_end=USR2\n");
    c.troika(&["-n", "submit", "l", "bad.sh", "-o", &c.s("out")])
        .expect_code(1)
        .stderr_contains("invalid signal_before_end 'USR2': no '@' (expected SIGNAL@SECONDS, such as USR2@60)");
}
