//! The conformance corpus recorded from troika 0.2.7 (`tests/conformance/`),
//! run by its own driver, `run_case.py` (Python 3 standard library only).
//!
//! Every case of `tests/conformance/public` must pass, except
//! - the cases tagged with a quirk that `docs/compatibility.md` marks as
//!   `differs` (deliberate deviations, skipped by the driver), and
//! - the cases listed in `tests/conformance/pending.txt`, which need features
//!   of later issues. They must still fail: when one passes, its line goes.
//!
//! The cases listed in `tests/conformance/untagged.txt` fall under a quirk
//! marked `differs` without being tagged with it: they run with the checks
//! that the deviation changes skipped, and must pass every other check.

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

/// All cases of the public corpus, sorted.
fn all_cases() -> Vec<String> {
    let mut cases = Vec::new();
    for area in sorted_subdirs(&public_dir()) {
        for case in sorted_subdirs(&public_dir().join(&area)) {
            if public_dir().join(&area).join(&case).join("case.json").is_file() {
                cases.push(format!("{area}/{case}"));
            }
        }
    }
    assert!(!cases.is_empty(), "no cases found in {}", public_dir().display());
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
    let path = conformance_dir().join("pending.txt");
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

/// One line of `tests/conformance/untagged.txt`:
/// `<area>/<case-dir>  <quirk>  <check>[,<check>...]  <reason>`.
struct Untagged {
    line_no: usize,
    case: String,
    quirk: String,
    checks: String,
    reason: String,
}

fn untagged() -> Vec<Untagged> {
    let path = conformance_dir().join("untagged.txt");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(line_no, line)| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let word = |i: usize| words.get(i).copied().unwrap_or("").to_string();
            Untagged {
                line_no,
                case: word(0),
                quirk: word(1),
                checks: word(2),
                reason: words.get(3..).unwrap_or(&[]).join(" "),
            }
        })
        .collect()
}

/// Runs the driver on `cases` (names relative to `public/`).
fn run_driver(options: &[&str], cases: &[String]) -> Output {
    let driver = conformance_dir().join("run_case.py");
    Command::new("python3")
        .arg(&driver)
        .arg("--troika")
        .arg(troika_bin())
        .args(["-j", JOBS])
        .args(options)
        .args(cases)
        .current_dir(public_dir())
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
    let pending: BTreeSet<String> = pending().into_iter().map(|p| p.case).collect();
    let untagged = untagged();
    let cases: Vec<String> = all_cases()
        .into_iter()
        .filter(|case| !pending.contains(case) && !untagged.iter().any(|u| u.case == *case))
        .collect();

    let skip_quirks = deviations.join(",");
    let mut options = vec!["-q"];
    if !deviations.is_empty() {
        options.extend(["--skip-quirks", &skip_quirks]);
    }
    let output = run_driver(&options, &cases);
    let stdout = String::from_utf8_lossy(&output.stdout);

    eprintln!(
        "conformance: {} ({} pending in tests/conformance/pending.txt, deviations: {})",
        summary(&stdout),
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
fn untagged_deviations_pass_their_other_checks() {
    let deviations = deviations();
    let pending: BTreeSet<String> = pending().into_iter().map(|p| p.case).collect();
    let cases: BTreeSet<String> = all_cases().into_iter().collect();
    let mut problems = Vec::new();
    for u in untagged() {
        let at = format!("untagged.txt:{}: {}", u.line_no, u.case);
        if !cases.contains(&u.case) {
            problems.push(format!("{at}: no such case in tests/conformance/public"));
            continue;
        }
        if !deviations.contains(&u.quirk) {
            problems.push(format!(
                "{at}: {} is not marked 'differs' in docs/compatibility.md",
                u.quirk
            ));
        }
        if pending.contains(&u.case) {
            problems.push(format!("{at}: also listed in pending.txt"));
        }
        if u.checks.is_empty() || u.reason.is_empty() {
            problems.push(format!("{at}: expected '<case> <quirk> <checks> <reason>'"));
            continue;
        }
        let output = run_driver(&["-q", "--skip", &u.checks], std::slice::from_ref(&u.case));
        if !output.status.success() {
            problems.push(format!("{at} fails with {} skipped\n{}", u.checks, report(&output)));
            continue;
        }
        // The skipped checks must be the only difference: the case fails without skipping them.
        if run_driver(&["-q"], std::slice::from_ref(&u.case)).status.success() {
            problems.push(format!("{at}: passes every check: delete its line"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn pending_list_is_honest() {
    // Unknown names are reported by `pending_list_names_cases_with_reasons`.
    let existing: BTreeSet<String> = all_cases().into_iter().collect();
    let cases: Vec<String> = pending()
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
        "the driver did not run every pending case\n{}",
        report(&output)
    );

    let passing: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    eprintln!(
        "conformance: {} pending cases, {} of them pass",
        cases.len(),
        passing.len()
    );
    assert!(
        passing.is_empty(),
        "these cases pass now: remove them from tests/conformance/pending.txt\n  {}",
        passing.join("\n  ")
    );
}

#[test]
fn pending_list_names_cases_with_reasons() {
    let cases: BTreeSet<String> = all_cases().into_iter().collect();
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for p in pending() {
        let at = format!("pending.txt:{}: {}", p.line_no, p.case);
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
