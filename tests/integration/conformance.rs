//! The conformance corpus recorded from troika 0.2.7 (`tests/conformance/`),
//! run by its own driver, `run_case.py` (Python 3 standard library only).
//!
//! Every case of `tests/conformance/public` must pass, except
//! - the cases tagged with a quirk that `docs/compatibility.md` marks as
//!   `differs` (deliberate deviations, skipped by the driver), and
//! - the cases listed in `tests/conformance/pending.txt`, which need features
//!   of later issues. They must still fail: when one passes, its line goes;
//! - the cases listed in `tests/conformance/differs.txt`: untagged cases that
//!   a deliberate deviation changes too (the reason starts with the quirk id,
//!   marked `differs` in `docs/compatibility.md`, or with `feature:` when a
//!   feature of troika changes the outcome). They must fail as well.
//!
//! `tests/conformance/variants` holds more cases of the same kinds, made by
//! varying the public ones and recorded from troika 0.2.7 with the driver's
//! `--record`; all of them must pass (quirk-tagged ones are skipped alike).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{repo_root, troika_bin};

/// Parallel cases per driver run.
const JOBS: &str = "4";

fn conformance_dir() -> PathBuf {
    repo_root().join("tests/conformance")
}

/// The cases are named `<area>/<case-dir>`, relative to this directory.
fn public_dir() -> PathBuf {
    conformance_dir().join("public")
}

/// The recorded variants, named alike relative to this directory.
fn variants_dir() -> PathBuf {
    conformance_dir().join("variants")
}

/// All cases of the public corpus, sorted.
fn all_cases() -> Vec<String> {
    cases_in(&public_dir())
}

/// All cases under `root` (`<area>/<case-dir>`), sorted.
fn cases_in(root: &Path) -> Vec<String> {
    let mut cases = Vec::new();
    for area in sorted_subdirs(root) {
        for case in sorted_subdirs(&root.join(&area)) {
            if root.join(&area).join(&case).join("case.json").is_file() {
                cases.push(format!("{area}/{case}"));
            }
        }
    }
    assert!(!cases.is_empty(), "no cases found in {}", root.display());
    cases
}

fn sorted_subdirs(dir: &Path) -> Vec<String> {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("directory entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The quirk ids whose row in the table of `docs/compatibility.md` has a
/// second column starting with `differs`, e.g. `| Q03 | differs | ... |`.
fn deviations() -> Vec<String> {
    let path = repo_root().join("docs/compatibility.md");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nThe conformance test takes the deliberate deviations \
             (quirks marked 'differs') from the table in that file.",
            path.display()
        )
    });
    let mut ids = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, id, decision, ..] = cells[..] {
            if decision.starts_with("differs") {
                ids.push(id.to_string());
            }
        }
    }
    ids
}

/// One line of `tests/conformance/pending.txt`: `<area>/<case-dir>  <reason>`.
struct Pending {
    line_no: usize,
    case: String,
    reason: String,
}

fn pending() -> Vec<Pending> {
    listed("pending.txt")
}

fn differs() -> Vec<Pending> {
    listed("differs.txt")
}

fn listed(file: &str) -> Vec<Pending> {
    let path = conformance_dir().join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(line_no, line)| {
            let (case, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            Pending {
                line_no,
                case: case.to_string(),
                reason: reason.trim().to_string(),
            }
        })
        .collect()
}

/// Runs the driver on `cases` (names relative to `public/`).
fn run_driver(options: &[&str], cases: &[String]) -> Output {
    run_driver_in(&public_dir(), options, cases)
}

/// Runs the driver on `cases`, named relative to `root`.
fn run_driver_in(root: &Path, options: &[&str], cases: &[String]) -> Output {
    let driver = conformance_dir().join("run_case.py");
    Command::new("python3")
        .arg(&driver)
        .arg("--troika")
        .arg(troika_bin())
        .args(["-j", JOBS])
        .args(options)
        .args(cases)
        .current_dir(root)
        // The fake commands record the ECF_* variables they see: only the
        // cases' own may be there.
        .env_remove("ECF_HOST")
        .env_remove("ECF_PORT")
        .env_remove("ECF_NAME")
        .env_remove("ECF_PASS")
        .env_remove("ECF_TRYNO")
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", driver.display()))
}

/// The driver's closing line, e.g. `150/150 passed (24 skipped by --skip-quirks)`.
fn summary(stdout: &str) -> &str {
    stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no output)")
}

fn report(output: &Output) -> String {
    format!(
        "--- driver stdout\n{}--- driver stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn conformance_corpus() {
    let deviations = deviations();
    let (pending, differs) = (pending(), differs());
    let listed: BTreeSet<String> = pending.iter().chain(&differs).map(|p| p.case.clone()).collect();
    let cases: Vec<String> = all_cases().into_iter().filter(|case| !listed.contains(case)).collect();

    let skip_quirks = deviations.join(",");
    let mut options = vec!["-q"];
    if !deviations.is_empty() {
        options.extend(["--skip-quirks", &skip_quirks]);
    }
    let output = run_driver(&options, &cases);
    let stdout = String::from_utf8_lossy(&output.stdout);

    eprintln!(
        "conformance: {} ({} listed in differs.txt, {} pending; deviations: {})",
        summary(&stdout),
        differs.len(),
        pending.len(),
        if deviations.is_empty() {
            "none".to_string()
        } else {
            deviations.join(" ")
        },
    );
    assert!(
        output.status.success(),
        "conformance cases failed ({}); a case that needs a later feature goes to \
         tests/conformance/pending.txt, a deliberate deviation to docs/compatibility.md\n{}",
        output.status,
        report(&output)
    );
}

#[test]
fn conformance_variants() {
    let deviations = deviations();
    let cases = cases_in(&variants_dir());
    let skip_quirks = deviations.join(",");
    let mut options = vec!["-q"];
    if !deviations.is_empty() {
        options.extend(["--skip-quirks", &skip_quirks]);
    }
    let output = run_driver_in(&variants_dir(), &options, &cases);
    eprintln!(
        "conformance variants: {}",
        summary(&String::from_utf8_lossy(&output.stdout))
    );
    assert!(
        output.status.success(),
        "recorded variants failed ({})\n{}",
        output.status,
        report(&output)
    );
}

#[test]
fn pending_list_is_honest() {
    assert_all_fail("pending.txt", pending());
}

#[test]
fn differs_list_is_honest() {
    let deviations = deviations();
    let list = differs();
    for d in &list {
        let id = d
            .reason
            .split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        assert!(
            deviations.iter().any(|q| q == id) || id == "feature",
            "differs.txt:{}: the reason must start with a quirk id marked `differs` in docs/compatibility.md, \
             or with `feature:` for a case that a feature of troika changes: {}",
            d.line_no,
            d.reason
        );
    }
    assert_all_fail("differs.txt", list);
}

/// Runs the listed cases and fails if any of them passes.
fn assert_all_fail(file: &str, list: Vec<Pending>) {
    // Unknown names are reported by `lists_name_cases_with_reasons`.
    let existing: BTreeSet<String> = all_cases().into_iter().collect();
    let cases: Vec<String> = list
        .into_iter()
        .map(|p| p.case)
        .filter(|case| existing.contains(case))
        .collect();
    if cases.is_empty() {
        return;
    }
    // Without -q the driver prints `PASS <case> (...)` for every passing case.
    let output = run_driver(&[], &cases);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let ran = stdout
        .lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "));
    assert_eq!(
        ran.count(),
        cases.len(),
        "the driver did not run every case of {file}\n{}",
        report(&output)
    );
    let passing: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    eprintln!(
        "conformance: {} cases in {file}, {} of them pass",
        cases.len(),
        passing.len()
    );
    assert!(
        passing.is_empty(),
        "these cases pass now: remove them from tests/conformance/{file}\n  {}",
        passing.join("\n  ")
    );
}

#[test]
fn lists_name_cases_with_reasons() {
    let cases: BTreeSet<String> = all_cases().into_iter().collect();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    let tagged = pending().into_iter().map(|p| ("pending.txt", p));
    for (file, p) in tagged.chain(differs().into_iter().map(|p| ("differs.txt", p))) {
        let at = format!("{file}:{}: {}", p.line_no, p.case);
        if !cases.contains(&p.case) {
            problems.push(format!("{at}: no such case in tests/conformance/public"));
        }
        if p.reason.is_empty() {
            problems.push(format!("{at}: no reason given"));
        }
        if !seen.insert(p.case.clone()) {
            problems.push(format!("{at}: listed twice"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
