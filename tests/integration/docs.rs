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
