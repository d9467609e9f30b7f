//! Documentation generated from the code, so that it cannot drift: the
//! directive table of every site type (`docs/directives.md`).

use std::fmt::Write;

use crate::registry::Registry;
use crate::script::directives::ALIASES;
use crate::script::translate::Rule;
use crate::site::SiteType;

/// `docs/directives.md`: for each site type, how every generic directive is
/// translated.
pub fn directives_markdown(reg: &Registry) -> String {
    let mut s = String::new();
    s.push_str("# Directives\n\n");
    s.push_str("<!-- Generated from the code by `TROIKA_UPDATE_DOCS=1 cargo test --test integration docs`; do not edit. -->\n\n");
    s.push_str(
        "Job scripts carry generic directives, `# troika NAME=VALUE` (the keyword in any case, the name \
         case-sensitive), or get them on the command line with `-D NAME=VALUE`. Each site type translates \
         them into its scheduler's own directives. `-o OUTPUT` always sets `output_file`. A site's \
         `directive_translate` replaces an entry (`%s` is the value) or disables it (`null`); names that a \
         site cannot translate follow its `unknown_directive` setting (`warn` by default).\n\n",
    );
    s.push_str("Aliases: ");
    let aliases: Vec<String> = ALIASES.iter().map(|(a, c)| format!("`{a}` = `{c}`")).collect();
    s.push_str(&aliases.join(", "));
    s.push_str(".\n");
    for t in &reg.sites {
        let _ = write!(s, "\n## `{}`\n\n", t.name);
        s.push_str(&site_markdown(t));
    }
    s
}

/// How one site type writes scripts: its directive prefix, its native
/// directives and its translation table. Used by `docs/directives.md` and
/// by the generated part of the site's own page (`docs/sites/<type>.md`).
pub fn site_markdown(t: &SiteType) -> String {
    let mut s = String::new();
    if t.traits.syntax_from_config {
        // Its syntax comes entirely from each site's configuration.
        s.push_str(
            "The directive prefix, the native directives and the translation table come from each site's \
             configuration (`directive_prefix`, `native_prefix`, `native_drop`, `directives`).\n",
        );
        return s;
    }
    match t.syntax.prefix {
        Some(p) => {
            let _ = writeln!(s, "Generated directives start with `{}`.", p.trim_end());
        }
        None => s.push_str("No directives are generated: `# troika` lines are removed from the script.\n"),
    }
    match &t.syntax.native {
        Some(n) => {
            let _ = write!(
                s,
                "Native `#{}` lines are kept, one per option (the last one wins)",
                n.prefix
            );
            if n.drop.is_empty() {
                s.push_str(".\n");
            } else {
                let d: Vec<String> = n.drop.iter().map(|k| format!("`{k}`")).collect();
                let _ = writeln!(s, "; {} are dropped, as troika sets the output.", d.join(", "));
            }
        }
        None => {
            s.push_str("Other lines, native directives of any scheduler included, stay in the script as they are.\n")
        }
    }
    if t.syntax.table.is_empty() {
        return s;
    }
    s.push_str("\n| directive | translation |\n|---|---|\n");
    let prefix = t.syntax.prefix.unwrap_or("");
    let mut rows: Vec<_> = t.syntax.table.entries().collect();
    rows.sort_by_key(|e| e.name);
    for e in rows {
        let tr = match e.rule {
            Rule::Format(f) => format!("`{}{}`", prefix, f.replace("%s", "<value>").replace("%%", "%")),
            Rule::Func(_, doc) | Rule::Joint(_, doc) => doc.to_string(),
            Rule::Ignore => "(accepted, nothing generated)".to_string(),
        };
        let _ = writeln!(s, "| `{}` | {} |", e.name, tr);
    }
    s
}

/// The generated part of `docs/status.md`: for each site type that tells
/// job states, every native state code and what troika makes of it.
pub fn status_markdown(reg: &Registry) -> String {
    let mut s = String::new();
    for t in reg.sites.iter().filter(|t| !t.traits.states.is_empty()) {
        let _ = writeln!(s, "#### `{}`\n", t.name);
        s.push_str("| native | state | outcome | meaning |\n|---|---|---|---|\n");
        for n in t.traits.states {
            let outcome = match (n.meaning.state, n.meaning.outcome) {
                (crate::job::State::Finished, None) => "from the exit code".to_string(),
                (_, Some(o)) => format!("`{}`", o.as_str()),
                (_, None) => String::new(),
            };
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} | {} |",
                n.code,
                n.meaning.state.as_str(),
                outcome,
                n.doc
            );
        }
        s.push('\n');
    }
    s
}

/// The generated part of `docs/arrays.md`: for each batch site type, what
/// `array` and `depends_on` become, and the variable of a task's index.
pub fn arrays_markdown(reg: &Registry) -> String {
    let mut s = String::from("| site type | `array` | task index | `depends_on` |\n|---|---|---|---|\n");
    let doc = |t: &SiteType, name: &str| match t.syntax.table.get(name) {
        Some(Rule::Func(_, d) | Rule::Joint(_, d)) => d.to_string(),
        Some(Rule::Format(f)) => format!("`{f}`"),
        Some(Rule::Ignore) => "(accepted, nothing generated)".to_string(),
        None => "unknown directive".to_string(),
    };
    for t in reg.sites.iter().filter(|t| t.syntax.table.get("array").is_some()) {
        let index = t.traits.array_index.map_or("none".to_string(), |v| format!("`{v}`"));
        let _ = writeln!(
            s,
            "| `{}` | {} | {index} | {} |",
            t.name,
            doc(t, "array"),
            doc(t, "depends_on")
        );
    }
    s
}

/// The generated part of `docs/retries.md`: the words of failures that
/// pass, common to every command and each scheduler's own, and ssh's.
pub fn faults_markdown(reg: &Registry) -> String {
    use crate::error::Reach;
    use crate::site::retry::{Fault, Pattern, COMMON};
    let meaning = |f: Fault| match f {
        Fault::Permanent => "permanent",
        Fault::Transient(Reach::NotStarted) => "transient, not started",
        Fault::Transient(Reach::MaybeDone) => "transient, maybe done",
    };
    let table = |s: &mut String, title: &str, rows: &[Pattern]| {
        let _ = writeln!(s, "#### {title}\n");
        s.push_str("| words | failure |\n|---|---|\n");
        for p in rows {
            let _ = writeln!(s, "| `{}` | {} |", p.words, meaning(p.fault));
        }
        s.push('\n');
    };
    let mut s = String::new();
    table(&mut s, "Every scheduler", COMMON);
    for t in reg.sites.iter().filter(|t| !t.traits.faults.is_empty()) {
        table(&mut s, &format!("`{}`", t.name), t.traits.faults);
    }
    s.push_str("#### ssh (exit status 255)\n\n| words | failure |\n|---|---|\n");
    for (words, reach) in crate::connection::ssh::SIGNS {
        let f = reach.map_or(Fault::Permanent, Fault::Transient);
        let _ = writeln!(s, "| `{words}` | {} |", meaning(f));
    }
    s
}

/// The sizes and limits of the table of `docs/resources.md`.
const MEMORY_INPUTS: &[&str] = &[
    "4G", "4GB", "4gb", "4GiB", "4096M", "4096", "1.5G", "1536M", "512K", "2T", "0",
];
const WALLTIME_INPUTS: &[&str] = &[
    "90",
    "90:00",
    "1h30m",
    "5400s",
    "01:30:00",
    "1:75",
    "45s",
    "36h",
    "1-12:00:00",
    "2-00:00:00",
    "2-0",
    "1-12:30",
    "0",
];

/// The generated part of `docs/resources.md`: for each accepted form of
/// `memory_per_node` and `walltime`, what each built-in scheduler type
/// writes with `translators: [resources]`, computed by the translator and
/// the type's directive table (PBS with `resource_syntax: select`).
pub fn resources_markdown(reg: &Registry) -> String {
    use crate::script::directives::Directives;
    use crate::script::translate::{translate, Overrides, UnknownPolicy};
    use crate::script::translators::resources::Resources;
    use crate::script::Translator;
    let types: Vec<&SiteType> = reg
        .sites
        .iter()
        .filter(|t| t.syntax.units.is_some() && !t.syntax.table.is_empty())
        .collect();
    let cell = |t: &SiteType, name: &str, value: &str| -> String {
        let mut d = Directives::new();
        d.set(name, value.as_bytes().to_vec());
        let style = t.syntax.units.expect("filtered");
        let lines = Resources(style)
            .apply(&mut d)
            .and_then(|()| translate(&d, &t.syntax.table, &Overrides::new(), Some(b""), UnknownPolicy::Ignore));
        match lines {
            Err(_) => "error".into(),
            Ok(l) if l.is_empty() => "(none)".into(),
            Ok(l) => l
                .iter()
                .map(|l| format!("`{}`", String::from_utf8_lossy(l).trim_end()))
                .collect::<Vec<_>>()
                .join(" "),
        }
    };
    let mut s = String::new();
    for (name, inputs) in [("memory_per_node", MEMORY_INPUTS), ("walltime", WALLTIME_INPUTS)] {
        let names: Vec<String> = types.iter().map(|t| format!("`{}`", t.name)).collect();
        let _ = writeln!(s, "\n| `{name}=` | {} |", names.join(" | "));
        let _ = writeln!(s, "|---|{}", "---|".repeat(types.len()));
        for input in inputs {
            let cells: Vec<String> = types.iter().map(|t| cell(t, name, input)).collect();
            let _ = writeln!(s, "| `{input}` | {} |", cells.join(" | "));
        }
    }
    s.trim_start().to_string()
}

/// The generated part of `docs/foreign.md`: for each scheduler, the
/// options troika reads in its lines in a script sent elsewhere (and on the
/// command line of its front end), and what they become.
pub fn foreign_markdown(reg: &Registry) -> String {
    use crate::script::foreign::{Conv, Takes};
    let conv = |c: &Conv| {
        match c {
        Conv::To(n) => format!("`{n}`"),
        Conv::Flag(n, v) => format!("`{n}` = `{v}`"),
        Conv::Func(_, doc) => doc.to_string(),
        Conv::Resources => "a list `KEY=VALUE,...`, each resource as in the table below".to_string(),
        Conv::Output => {
            "the output file: dropped in a script (troika sets it from `-o`); on the command line of a front end, the output file".to_string()
        }
        Conv::Ignore(why) => format!("read and dropped: {why}"),
    }
    };
    let mut s = String::new();
    for t in &reg.sites {
        let Some(f) = t.traits.foreign else { continue };
        let _ = writeln!(
            s,
            "#### {} (`#{}` lines, site type `{}`)
",
            f.scheduler, f.prefix, t.name
        );
        s.push_str("| option | takes | generic directive |\n|---|---|---|\n");
        for o in f.all_options() {
            let names: Vec<String> = o.names.iter().map(|n| format!("`{n}`")).collect();
            let takes = match o.takes {
                Takes::Nothing => "nothing",
                Takes::Value => "a value",
                Takes::Two => "two values",
            };
            let mut what = conv(&o.conv);
            if matches!(o.conv, Conv::Flag(..)) && o.names.iter().any(|n| n.starts_with("--")) {
                what.push_str(" (`--OPTION=VALUE` gives the value)");
            }
            let _ = writeln!(s, "| {} | {takes} | {what} |", names.join(", "));
        }
        if !f.resources.is_empty() {
            s.push_str("\n| resource | generic directive |\n|---|---|\n");
            for r in f.resources {
                let _ = writeln!(s, "| `{}` | {} |", r.key, conv(&r.conv));
            }
        }
        s.push('\n');
    }
    s
}

/// Markers of the generated part of a hand-written page.
pub const BEGIN_GENERATED: &str = "<!-- BEGIN GENERATED -->";
pub const END_GENERATED: &str = "<!-- END GENERATED -->";

/// `page` with the text between its [`BEGIN_GENERATED`] and
/// [`END_GENERATED`] lines replaced by `generated`; `None` when the page
/// lacks the markers.
pub fn replace_generated(page: &str, generated: &str) -> Option<String> {
    let begin = page.find(BEGIN_GENERATED)?;
    let body = begin + BEGIN_GENERATED.len();
    let end = body + page[body..].find(END_GENERATED)?;
    let mut out = String::with_capacity(page.len() + generated.len());
    out.push_str(&page[..body]);
    out.push('\n');
    out.push_str(generated);
    if !generated.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&page[end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn repo_root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn directive_tables_match_the_code() {
        let generated = directives_markdown(&Registry::builtin());
        let path = repo_root().join("docs/directives.md");
        if std::env::var_os("TROIKA_UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/directives.md is out of date: run `TROIKA_UPDATE_DOCS=1 cargo test --lib docs`"
        );
        // The Slurm table documents every standard directive with its option.
        assert!(generated.contains("| `walltime` | `#SBATCH --time=<value>` |"));
        assert!(generated.contains("| `name` | `#SBATCH --job-name=<value>` |"));
    }

    /// Every site page `docs/sites/<type>.md` carries its type's generated
    /// table between `<!-- BEGIN GENERATED -->` and `<!-- END GENERATED -->`.
    #[test]
    fn site_pages_match_the_code() {
        let reg = Registry::builtin();
        let update = std::env::var_os("TROIKA_UPDATE_DOCS").is_some();
        let mut stale = Vec::new();
        let mut checked = Vec::new();
        for t in &reg.sites {
            let path = repo_root().join("docs/sites").join(format!("{}.md", t.name));
            let Ok(page) = std::fs::read_to_string(&path) else {
                continue;
            };
            let generated = site_markdown(t);
            let expected = replace_generated(&page, &generated)
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
            "out of date: {stale:?}: run `TROIKA_UPDATE_DOCS=1 cargo test --lib docs`"
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

    /// Checks that `page` carries `generated` between its generated-block
    /// markers (rewrites it with `TROIKA_UPDATE_DOCS=1`); returns `generated`.
    fn page_matches(page: &str, generated: String) -> String {
        let path = repo_root().join(page);
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = replace_generated(&text, &generated).expect("generated-block markers");
        if std::env::var_os("TROIKA_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        assert!(
            std::fs::read_to_string(&path).unwrap() == expected,
            "{page} is out of date: run `TROIKA_UPDATE_DOCS=1 cargo test --lib docs`"
        );
        generated
    }

    /// `docs/resources.md` carries, between its generated-block markers, what
    /// every scheduler type writes for each accepted size and limit.
    #[test]
    fn resources_table_matches_the_code() {
        let generated = page_matches("docs/resources.md", resources_markdown(&Registry::builtin()));
        for row in [
            "| `1.5G` | `--mem=1536M` | `-l select=1:mem=1536mb` | `-l h_vmem=1536M` | `-l mem=1536mb` | `-M 1536MB` | (none) |",
            "| `1h30m` | `--time=01:30:00` | `-l walltime=01:30:00` | `-l h_rt=01:30:00` | `-l walltime=01:30:00` | `-W 1:30` | `-t 90m` |",
        ] {
            assert!(generated.contains(row), "{row}\n{generated}");
        }
    }

    /// `docs/arrays.md` carries what each scheduler writes for arrays and
    /// dependencies.
    #[test]
    fn array_table_matches_the_code() {
        let generated = page_matches("docs/arrays.md", arrays_markdown(&Registry::builtin()));
        for row in ["| `slurm` | `--array=", "`SGE_TASK_ID`", "| `flux` | an error"] {
            assert!(generated.contains(row), "{row}\n{generated}");
        }
    }

    /// `docs/status.md` carries the state tables of the code.
    #[test]
    fn status_tables_match_the_code() {
        let generated = page_matches("docs/status.md", status_markdown(&Registry::builtin()));
        for row in [
            "| `PENDING` | `QUEUED` |",
            "| `TIMEOUT` | `FINISHED` | `TIMEOUT` |",
            "| `hqw` | `HELD` |",
            "| `Z` | `COMPLETING` |",
        ] {
            assert!(generated.contains(row), "{row}\n{generated}");
        }
    }

    /// `docs/retries.md` carries the tables of failure words of the code.
    #[test]
    fn fault_tables_match_the_code() {
        let generated = page_matches("docs/retries.md", faults_markdown(&Registry::builtin()));
        for row in [
            "| `Socket timed out on send/recv operation` | transient, maybe done |",
            "| `unable to send message to qmaster` | transient, not started |",
            "| `Connection refused` | transient, not started |",
            "| `Permission denied` | permanent |",
        ] {
            assert!(generated.contains(row), "{row}\n{generated}");
        }
    }

    /// `docs/foreign.md` carries the foreign option tables of the code.
    #[test]
    fn foreign_tables_match_the_code() {
        let generated = page_matches("docs/foreign.md", foreign_markdown(&Registry::builtin()));
        for row in [
            "| `-J`, `--job-name` | a value | `name` |",
            "| `-N` | a value | `name` |",
            "| `-hold_jid` | a value | depends_on `afterany:ID[:ID...]` |",
            "| `walltime` | walltime, as `HH:MM:SS` |",
            "| `nodes` | `N:ppn=P[:gpus=G]`",
        ] {
            assert!(generated.contains(row), "{row}\n{generated}");
        }
    }

    #[test]
    fn generated_block_is_replaced() {
        let page = "# T\n\nintro\n<!-- BEGIN GENERATED -->\nold\n<!-- END GENERATED -->\nrest\n";
        assert_eq!(
            replace_generated(page, "new\n").unwrap(),
            "# T\n\nintro\n<!-- BEGIN GENERATED -->\nnew\n<!-- END GENERATED -->\nrest\n"
        );
        assert!(replace_generated("no markers", "x").is_none());
    }
}
