//! Generated documentation is up to date.

use crate::common::repo_root;

#[test]
fn directive_tables_match_the_code() {
    let generated = troika::docs::directives_markdown(&troika::Registry::builtin());
    let path = repo_root().join("docs/directives.md");
    if std::env::var_os("TROIKA_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/directives.md is out of date: run `TROIKA_UPDATE_DOCS=1 cargo test --test integration docs`"
    );
    // The Slurm table documents every standard directive with its option.
    assert!(generated.contains("| `walltime` | `#SBATCH --time=<value>` |"));
    assert!(generated.contains("| `name` | `#SBATCH --job-name=<value>` |"));
}

/// Every site page `docs/sites/<type>.md` carries its type's generated
/// table between `<!-- BEGIN GENERATED -->` and `<!-- END GENERATED -->`.
#[test]
fn site_pages_match_the_code() {
    let reg = troika::Registry::builtin();
    let update = std::env::var_os("TROIKA_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    let mut checked = Vec::new();
    for t in &reg.sites {
        let path = repo_root().join("docs/sites").join(format!("{}.md", t.name));
        let Ok(page) = std::fs::read_to_string(&path) else {
            continue;
        };
        let generated = troika::docs::site_markdown(t);
        let expected = troika::docs::replace_generated(&page, &generated)
            .unwrap_or_else(|| panic!("{}: no generated-block markers", path.display()));
        if expected != page {
            if update {
                std::fs::write(&path, &expected).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
        checked.push(t.name);
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}: run `TROIKA_UPDATE_DOCS=1 cargo test --test integration docs`"
    );
    for name in ["pbs", "sge", "torque", "lsf", "flux", "templated"] {
        assert!(checked.contains(&name), "docs/sites/{name}.md is missing");
    }
    // The pages hold the tables of the code.
    let lsf = std::fs::read_to_string(repo_root().join("docs/sites/lsf.md")).unwrap();
    assert!(
        lsf.contains("| `tasks_per_node` | `#BSUB -R \"span[ptile=<value>]\"` |"),
        "{lsf}"
    );
    let pbs = std::fs::read_to_string(repo_root().join("docs/sites/pbs.md")).unwrap();
    assert!(pbs.contains("| `walltime` | `#PBS -l walltime=<value>` |"), "{pbs}");
    assert!(
        pbs.contains("| `total_nodes` | Only with `resource_syntax: select`"),
        "{pbs}"
    );
    let sge = std::fs::read_to_string(repo_root().join("docs/sites/sge.md")).unwrap();
    assert!(sge.contains("| `walltime` | `#$ -l h_rt=<value>` |"), "{sge}");
    let torque = std::fs::read_to_string(repo_root().join("docs/sites/torque.md")).unwrap();
    assert!(torque.contains("| `total_nodes` | one `-l nodes=<total_nodes>:ppn=<tasks_per_node>"));
}

/// `docs/resources.md` carries, between its generated-block markers, what
/// every scheduler type writes for each accepted size and limit.
#[test]
fn resources_table_matches_the_code() {
    let path = repo_root().join("docs/resources.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let generated = troika::docs::resources_markdown(&troika::Registry::builtin());
    let expected = troika::docs::replace_generated(&page, &generated).expect("generated-block markers");
    if std::env::var_os("TROIKA_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap() == expected,
        "docs/resources.md is out of date: run `TROIKA_UPDATE_DOCS=1 cargo test --test integration docs`"
    );
    for row in [
        "| `1.5G` | `--mem=1536M` | `-l select=1:mem=1536mb` | (none) | `-l mem=1536mb` | `-M 1536MB` | (none) |",
        "| `1h30m` | `--time=01:30:00` | `-l walltime=01:30:00` | `-l h_rt=01:30:00` | `-l walltime=01:30:00` | `-W 1:30` | `-t 90m` |",
    ] {
        assert!(generated.contains(row), "{row}\n{generated}");
    }
}
