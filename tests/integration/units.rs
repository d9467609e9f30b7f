//! The units library end to end: the same walltime and memory values, with
//! `translators: [resources]`, on every built-in scheduler type, each
//! written in its scheduler's syntax. Torque, LSF and Flux run against their
//! emulators (tests/emulators/); Slurm, PBS, Grid Engine and templated sites
//! are dry runs (`-n`), which write the generated script all the same.

use crate::common::Case;

const SCRIPT: &str = "#!/bin/bash\n# troika walltime=1h30m\n# troika memory_per_node=1.5G\necho\n";

/// Submits SCRIPT to a site `s` of `site_yaml` (its keys after `type`);
/// returns the generated script's directive lines.
fn header(emu: &Case, site_yaml: &str, dry: bool) -> Vec<String> {
    emu.write_sites(&format!(
        "  s:\n{site_yaml}    connection: local\n    translators: [resources]\n"
    ));
    let script = emu.write_exec("job.sh", SCRIPT).display().to_string();
    let mut args = vec!["submit", "s", &script, "-o", "out/job.out"];
    if dry {
        args.insert(0, "-n");
    }
    emu.troika(&args).expect_code(0);
    emu.read("job.sh")
        .lines()
        .filter(|l| l.starts_with('#') && !l.starts_with("#!") && !l.contains("out/job.out"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_same_values_on_every_scheduler_type() {
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "slurm",
            "    type: slurm\n",
            &["#SBATCH --time=01:30:00", "#SBATCH --mem=1536M"],
        ),
        (
            "pbs",
            "    type: pbs\n    resource_syntax: select\n",
            &["#PBS -l walltime=01:30:00", "#PBS -l select=1:mem=1536mb"],
        ),
        // Flux has no memory directive (a warning). Grid Engine asks for
        // memory with edition 2026 or, as here, memory_resource.
        (
            "sge",
            "    type: sge\n    memory_resource: h_vmem\n",
            &["#$ -l h_rt=01:30:00", "#$ -l h_vmem=1536M"],
        ),
        ("flux", "    type: flux\n", &["#flux: -t 90m"]),
        (
            "torque",
            "    type: torque\n",
            &["#PBS -l walltime=01:30:00", "#PBS -l mem=1536mb"],
        ),
        ("lsf", "    type: lsf\n", &["#BSUB -W 1:30", "#BSUB -M 1536MB"]),
        (
            "templated",
            "    type: templated\n    directive_prefix: '#T '\n    submit_command: [sub]\n    \
             monitor_command: [st]\n    kill_command: [k]\n    \
             directives: {walltime: 'time=%s', memory_per_node: 'mem=%s', output_file: null}\n",
            &["#T time=1h30m", "#T mem=1.5G"],
        ),
    ];
    for (name, site, want) in cases {
        let emulated = ["torque", "lsf", "flux"].contains(&name);
        let emu = if emulated {
            Case::emulated(name)
        } else {
            Case::new(&format!("units-{name}"))
        };
        assert_eq!(header(&emu, site, !emulated), want, "{name}");
        if emulated {
            assert_eq!(emu.all_calls().len(), 1, "{name}: one submission");
        }
    }
}

/// Without translators, LSF and Torque convert sizes on their own, and now
/// take the same forms.
#[test]
fn lsf_and_torque_sizes_without_translators() {
    for (name, want) in [("lsf", "#BSUB -M 1536MB"), ("torque", "#PBS -l mem=1536mb")] {
        let emu = Case::emulated(name);
        emu.write_sites(&format!("  s:\n    type: {name}\n    connection: local\n"));
        let script = emu.write_exec("job.sh", SCRIPT).display().to_string();
        emu.troika(&["submit", "s", &script, "-o", "out/job.out"])
            .expect_code(0);
        assert!(
            emu.read("job.sh").lines().any(|l| l == want),
            "{name}: {}",
            emu.read("job.sh")
        );
    }
}

/// With edition 2026 (the site key `normalise_units`), the same values work
/// without naming a translator: what the units library reads is written the
/// scheduler's way; a bare number (whose unit each scheduler reads its own
/// way) and a word it does not read (`UNLIMITED`) are left as written. A
/// 0.2.7 configuration, or `normalise_units: false`, passes every value as
/// written. Dry runs: the generated script is written all the same.
#[test]
fn edition_2026_normalises_units_without_translators() {
    let sites = "  slurm: {type: slurm, connection: local}\n  \
                 pbs: {type: pbs, connection: local, resource_syntax: select}\n  \
                 sge: {type: sge, connection: local}\n  \
                 torque: {type: torque, connection: local}\n  \
                 lsf: {type: lsf, connection: local}\n  \
                 flux: {type: flux, connection: local}\n  \
                 raw: {type: slurm, connection: local, normalise_units: false}\n";
    let c = Case::new("units-2026").config(&format!("edition: 2026\nsites:\n{sites}"));
    let run = |c: &Case, site: &str, directives: &str| -> Vec<String> {
        let name = format!("{site}.sh");
        c.write_exec(&name, format!("#!/bin/bash\n{directives}echo\n"));
        c.troika(&["-n", "submit", site, &name, "-o", &c.s("out/job.out")])
            .expect_code(0);
        c.read(&name)
            .lines()
            .filter(|l| {
                l.starts_with('#') && !l.starts_with("#!") && !l.starts_with("# troika") && !l.contains("out/job.out")
            })
            .map(str::to_string)
            .collect()
    };
    let given = "# troika walltime=1h30m\n# troika memory_per_node=1.5G\n";
    for (site, want) in [
        ("slurm", &["#SBATCH --time=01:30:00", "#SBATCH --mem=1536M"][..]),
        ("pbs", &["#PBS -l walltime=01:30:00", "#PBS -l select=1:mem=1536mb"]),
        ("sge", &["#$ -l h_rt=01:30:00", "#$ -l h_vmem=1536M"]),
        ("torque", &["#PBS -l walltime=01:30:00", "#PBS -l mem=1536mb"]),
        ("lsf", &["#BSUB -W 1:30", "#BSUB -M 1536MB"]),
        ("flux", &["#flux: -t 90m"]),
        ("raw", &["#SBATCH --time=1h30m", "#SBATCH --mem=1.5G"]),
    ] {
        assert_eq!(run(&c, site, given), want, "{site}");
    }
    let two_days = "# troika walltime=2-00:00:00\n# troika memory_per_node=4GiB\n";
    assert_eq!(run(&c, "sge", two_days), ["#$ -l h_rt=48:00:00", "#$ -l h_vmem=4G"]);
    assert_eq!(
        run(&c, "slurm", two_days),
        ["#SBATCH --time=2-00:00:00", "#SBATCH --mem=4G"]
    );
    // Bare numbers and words the units library does not read.
    let as_written = "# troika walltime=40\n# troika memory_per_node=4000\n";
    assert_eq!(
        run(&c, "slurm", as_written),
        ["#SBATCH --time=40", "#SBATCH --mem=4000"]
    );
    assert_eq!(run(&c, "sge", "# troika walltime=40\n"), ["#$ -l h_rt=40"]);
    assert_eq!(
        run(&c, "slurm", "# troika walltime=UNLIMITED\n"),
        ["#SBATCH --time=UNLIMITED"]
    );

    let old = Case::new("units-0.2.7").config("sites:\n  slurm: {type: slurm, connection: local}\n");
    assert_eq!(
        run(&old, "slurm", given),
        ["#SBATCH --time=1h30m", "#SBATCH --mem=1.5G"]
    );
}
