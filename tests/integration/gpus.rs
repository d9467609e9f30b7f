//! GPUs: `total_gpus`, `gpus_per_node` and `gpus_per_task` in each
//! scheduler's words. Neither the test Slurm cluster nor the test Grid Engine
//! cell has GPUs: on them the translation is checked in dry runs, and a real
//! submission shows that the scheduler itself reads the option (it refuses
//! GPUs it does not have, and troika says so with exit status 1). The other
//! schedulers are checked in dry runs.

use crate::common::{service, Case, Service};

/// Submits `script` as `name` to `site` in a dry run; the generated script.
fn dry(c: &Case, site: &str, name: &str, script: &str) -> String {
    c.write_exec(name, script);
    c.troika(&["-n", "submit", site, name, "-o", &c.s("out/job.out")])
        .expect_code(0);
    c.read(name)
}

/// Submits `script` in a dry run and expects a refusal naming `message`;
/// the script is left as it was.
fn refused(c: &Case, site: &str, name: &str, script: &str, message: &str) {
    c.write_exec(name, script);
    c.troika(&["-n", "submit", site, name, "-o", &c.s("out/job.out")])
        .expect_code(1)
        .stderr_contains(message);
    assert_eq!(c.read(name), script, "{site}: the script is left as it was");
}

#[test]
fn slurm_total_gpus_is_gpus() {
    if !service(Service::Slurm) {
        return;
    }
    let c = Case::new("gpus-slurm").config("edition: 2026\nsites:\n  s:\n    type: slurm\n    connection: local\n");
    c.write("out/.keep", "");
    let script = "#!/bin/bash\n# troika total_gpus=2\n# troika gpus_per_task=1\necho hi\n";
    let generated = dry(&c, "s", "job.sh", script);
    assert!(generated.contains("#SBATCH --gpus=2\n"), "{generated}");
    assert!(generated.contains("#SBATCH --gpus-per-task=1\n"), "{generated}");
    assert!(!generated.contains("# troika total_gpus"), "{generated}");
    // A dry run only says, in the log, what it would run; it submits nothing.
    assert!(c.read("job.sh.submitlog").contains("Execute: 'sbatch'"));
    assert!(!c.path("job.sh.jid").exists());
    // For real: sbatch reads --gpus, and this cluster has none to give.
    c.write_exec("real.sh", "#!/bin/bash\n# troika total_gpus=1\necho hi\n");
    c.troika(&["submit", "s", "real.sh", "-o", &c.s("out/real.out")])
        .expect_code(1)
        .stderr_contains("Invalid generic resource (gres) specification");
}

#[test]
fn sge_gpus_are_the_gpu_complex() {
    if !service(Service::Sge) {
        return;
    }
    let c = Case::new("gpus-sge").config(
        "edition: 2026\nsites:\n  g:\n    type: sge\n    connection: local\n  nv:\n    type: sge\n    connection: local\n    gpu_resource: nvgpu\n  bad:\n    type: sge\n    connection: local\n    gpu_resource: 'gpu=2'\n",
    );
    c.write("out/.keep", "");
    let generated = dry(&c, "g", "job.sh", "#!/bin/bash\n# troika gpus_per_task=2\necho hi\n");
    assert!(generated.contains("#$ -l gpu=2\n"), "{generated}");
    let generated = dry(&c, "g", "total.sh", "#!/bin/bash\n# troika total_gpus=1\necho hi\n");
    assert!(generated.contains("#$ -l gpu=1\n"), "{generated}");
    let generated = dry(&c, "nv", "nv.sh", "#!/bin/bash\n# troika total_gpus=4\necho hi\n");
    assert!(generated.contains("#$ -l nvgpu=4\n"), "{generated}");
    refused(
        &c,
        "g",
        "node.sh",
        "#!/bin/bash\n# troika gpus_per_node=4\necho hi\n",
        "Directive 'gpus_per_node': Grid Engine cannot ask for GPUs per node",
    );
    refused(
        &c,
        "g",
        "both.sh",
        "#!/bin/bash\n# troika gpus_per_task=1\n# troika total_gpus=2\necho hi\n",
        "Grid Engine: give one of gpus_per_task and total_gpus, not both",
    );
    c.write_exec("b.sh", "#!/bin/bash\n# troika total_gpus=1\necho hi\n");
    c.troika(&["-n", "submit", "bad", "b.sh", "-o", &c.s("out/job.out")])
        .expect_code(1)
        .stderr_contains("invalid 'gpu_resource' 'gpu=2'");
    // For real: qsub reads -l gpu=1, and this cell has no such complex.
    c.write_exec("real.sh", "#!/bin/bash\n# troika total_gpus=1\necho hi\n");
    c.troika(&["submit", "g", "real.sh", "-o", &c.s("out/real.out")])
        .expect_code(1)
        .stderr_contains("unknown resource \"gpu\"");
}

#[test]
fn pbs_torque_lsf_and_flux_write_their_options() {
    let c = Case::new("gpus-dry").config(
        "edition: 2026\nsites:\n  p: {type: pbs, connection: local, resource_syntax: select}\n  t: {type: torque, connection: local}\n  l: {type: lsf, connection: local}\n  f: {type: flux, connection: local}\n",
    );
    c.write("out/.keep", "");
    let per_node = "#!/bin/bash\n# troika total_nodes=2\n# troika gpus_per_node=4\necho hi\n";
    let total = "#!/bin/bash\n# troika total_tasks=4\n# troika total_nodes=2\n# troika total_gpus=8\necho hi\n";
    for (site, script, line) in [
        ("p", per_node, "#PBS -l select=2:ngpus=4\n"),
        ("p", total, "#PBS -l select=2:ncpus=2:mpiprocs=2:ngpus=4\n"),
        ("t", per_node, "#PBS -l nodes=2:gpus=4\n"),
        ("t", total, "#PBS -l nodes=2:gpus=4\n"),
        ("l", per_node, "#BSUB -gpu \"num=4\"\n"),
        ("l", total, "#BSUB -gpu \"num=2/task\"\n"),
        ("f", total, "#flux: -g 2\n"),
    ] {
        let generated = dry(&c, site, &format!("{site}.sh"), script);
        assert!(generated.contains(line), "{site}: {line:?} in\n{generated}");
    }
    let per_task =
        "#!/bin/bash\n# troika tasks_per_node=2\n# troika total_nodes=2\n# troika gpus_per_task=1\necho hi\n";
    for (site, line) in [
        ("p", "#PBS -l select=2:ncpus=2:mpiprocs=2:ngpus=2\n"),
        ("t", "#PBS -l nodes=2:ppn=2:gpus=2\n"),
        ("l", "#BSUB -gpu \"num=1/task\"\n"),
        ("f", "#flux: -g 1\n"),
    ] {
        let generated = dry(&c, site, &format!("{site}-task.sh"), per_task);
        assert!(generated.contains(line), "{site}: {line:?} in\n{generated}");
    }
    let uneven = "#!/bin/bash\n# troika total_nodes=2\n# troika total_tasks=2\n# troika total_gpus=3\necho hi\n";
    for (site, message) in [
        ("p", "PBS select: total_gpus=3 cannot be divided evenly among 2 chunks"),
        ("t", "Torque: total_gpus=3 cannot be divided evenly among 2 nodes"),
        ("l", "LSF: total_gpus=3 cannot be divided evenly among total_tasks=2"),
        ("f", "Flux: total_gpus=3 cannot be divided evenly among total_tasks=2"),
    ] {
        refused(&c, site, &format!("{site}-uneven.sh"), uneven, message);
    }
    refused(
        &c,
        "f",
        "f-node.sh",
        per_node,
        "Directive 'gpus_per_node': Flux cannot ask for GPUs per node",
    );
    refused(
        &c,
        "t",
        "t-task.sh",
        "#!/bin/bash\n# troika gpus_per_task=1\necho hi\n",
        "Directive 'gpus_per_task': Torque: gpus_per_task needs tasks_per_node",
    );
}
