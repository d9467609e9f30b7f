//! Retries and duplicate avoidance, against fake scheduler commands that
//! fail as the real ones do (their words are those of Slurm and Grid
//! Engine seen on the test systems; tests/faults has the real services).

use crate::common::Case;

/// A Slurm site with quick retries (`retries: 3`), or none (0.2.7).
fn slurm(edition: bool) -> Case {
    let top = if edition { "edition: 2026\nledger: ledger\n" } else { "" };
    Case::new("retries").config(&format!(
        "{top}sites:\n  s:\n    type: slurm\n    connection: local\n    status_record: false\n    command_timeout: 3\n    retry_delay: 0.01\n    retry_max_delay: 0.02\n{}",
        if edition { "    retries: 3\n" } else { "" }
    ))
}

const SCRIPT: &str = "#!/bin/bash\n# troika name=r\ntrue\n";

/// sbatch: keeps the tag of its `--comment=`, counts its calls, then
/// follows the line of `$S/plan` for this call: `ok` (prints a job id),
/// `before` (fails without a job), `after` (takes the job, then says its
/// answer was lost), `hang` (sleeps), `bad` (a permanent error).
const SBATCH: &str = r#"n=$(( $(cat "$S/n" 2>/dev/null || echo 0) + 1 )); echo $n >"$S/n"
cat >/dev/null
for a in "$@"; do case $a in --comment=*) echo "${a#--comment=}" >"$S/tag" ;; esac; done
case $(sed -n "${n}p" "$S/plan") in
ok) echo "Submitted batch job $((100 + n))" ;;
before) echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2; exit 1 ;;
after) echo "$((100 + n))|$(cat "$S/tag")" >>"$S/queue"; echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2; exit 1 ;;
hang) echo "$((100 + n))|$(cat "$S/tag")" >>"$S/queue"; sleep 60 ;;
bad) echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1 ;;
esac"#;

/// squeue and sacct: the jobs of `$S/queue` (`ID|COMMENT` lines), or the
/// failure of `$S/down`.
const SQUEUE: &str = r#"if [ -f "$S/down" ]; then cat "$S/down" >&2; exit 1; fi
cat "$S/queue" 2>/dev/null
exit 0"#;

fn case(edition: bool, plan: &[&str]) -> Case {
    let c = slurm(edition)
        .fake("sbatch", SBATCH)
        .fake("squeue", SQUEUE)
        .fake("sacct", SQUEUE);
    c.write("state/plan", plan.join("\n") + "\n");
    c.write_exec("job.sh", SCRIPT);
    c
}

fn submit(c: &Case) -> crate::common::TroikaRun {
    c.troika(&["submit", "s", "job.sh", "-o", &c.s("job.out")])
}

fn sbatch_calls(c: &Case) -> usize {
    c.calls("sbatch").len()
}

#[test]
fn failures_before_submitting_are_retried() {
    let c = case(true, &["before", "before", "ok"]);
    submit(&c).expect_code(0);
    assert_eq!(c.read("job.sh.jid"), "103\n");
    assert_eq!(sbatch_calls(&c), 3);
    assert!(
        c.calls("squeue").is_empty(),
        "nothing to look up when no attempt got through"
    );
    let log = c.read("job.sh.submitlog");
    assert_eq!(log.matches("sbatch failed transiently").count(), 2, "{log}");
    assert!(
        log.contains("Unable to contact slurm controller (connect failure)); attempt 2 of 4 in "),
        "{log}"
    );
    // Each attempt carries the same tag.
    let tags: Vec<String> = c
        .calls("sbatch")
        .iter()
        .map(|a| a.iter().find(|w| w.starts_with("--comment=troika-")).cloned().unwrap())
        .collect();
    assert!(tags.windows(2).all(|w| w[0] == w[1]), "{tags:?}");
}

#[test]
fn a_job_whose_answer_was_lost_is_adopted_not_submitted_again() {
    let c = case(true, &["after", "ok"]);
    submit(&c).expect_code(0);
    assert_eq!(c.read("job.sh.jid"), "101\n", "the job of the first attempt");
    assert_eq!(sbatch_calls(&c), 1, "never a second sbatch");
    let log = c.read("job.sh.submitlog");
    assert!(log.contains("Job 101 carries this submission's tag troika-"), "{log}");
    // The look-up asked the user's jobs with their comments.
    assert_eq!(c.calls("squeue")[0], ["-h", "-t", "all", "-o", "%i|%k", "--me"]);
    // And the ledger knows the job.
    let r = c.troika(&["jobs", "--json"]);
    r.expect_code(0);
    assert!(r.stdout.contains("\"job_id\":\"101\""), "{}", r.stdout);
}

#[test]
fn a_submission_not_found_by_its_tag_is_tried_again() {
    // The answer was lost but the job was not created: the queue answers
    // without the tag, so troika submits again, once.
    let c = case(true, &["after", "ok"]);
    c.write("state/queue", "");
    let c = c.fake(
        "sbatch",
        &SBATCH.replace(
            r#"echo "$((100 + n))|$(cat "$S/tag")" >>"$S/queue"; echo "sbatch: error"#,
            r#"echo "sbatch: error"#,
        ),
    );
    submit(&c).expect_code(0);
    assert_eq!(c.read("job.sh.jid"), "102\n");
    assert_eq!(sbatch_calls(&c), 2);
    assert!(c.read("job.sh.submitlog").contains("No job carries the tag troika-"));
}

#[test]
fn a_submission_that_cannot_be_checked_fails_as_uncertain() {
    // The answer was lost and neither queue nor accounting can be asked:
    // no second sbatch, an error that says what to check, the generated
    // script kept.
    let c = case(true, &["after", "ok"]);
    c.write(
        "state/down",
        "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n",
    );
    let r = submit(&c);
    r.expect_code(1)
        .stderr_contains(
            "sbatch may have submitted the job, and it could not be checked (squeue failed with exit code 1",
        )
        .stderr_contains("check with squeue (tag troika-");
    assert_eq!(sbatch_calls(&c), 1);
    assert_eq!(
        c.calls("squeue").len(),
        3,
        "sbatch once and 3 look-ups: the 4 attempts of retries: 3"
    );
    assert!(!c.exists("job.sh.jid"));
    assert!(c.exists("job.sh.orig"), "the job may exist: the generated script stays");
    assert_ne!(c.read("job.sh"), SCRIPT);
}

#[test]
fn retries_run_out_with_the_attempts_said_and_the_files_put_back() {
    let c = case(true, &["before", "before", "before", "before", "ok"]);
    let r = submit(&c);
    r.expect_code(1)
        .stderr_contains("Slurm submission failed with exit code 1: sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure) (4 attempts in ")
        .stderr_contains("each failed transiently)");
    assert_eq!(sbatch_calls(&c), 4);
    assert!(!c.exists("job.sh.jid"));
    assert_eq!(c.read("job.sh"), SCRIPT, "not submitted: the script is put back");
}

#[test]
fn the_last_attempt_is_looked_up_before_giving_up() {
    // Every attempt loses its answer, the last one after creating the job:
    // the final look-up finds it.
    let c = case(true, &["before", "before", "before", "after"]);
    submit(&c).expect_code(0);
    assert_eq!(c.read("job.sh.jid"), "104\n");
    assert_eq!(sbatch_calls(&c), 4);
}

#[test]
fn permanent_failures_are_not_retried() {
    let c = case(true, &["bad", "ok"]);
    submit(&c)
        .expect_code(1)
        .stderr_contains("Invalid partition name specified");
    assert_eq!(sbatch_calls(&c), 1);
    assert!(!c.read("job.sh.submitlog").contains("transiently"));
}

#[test]
fn a_hanging_sbatch_is_killed_and_its_job_looked_up() {
    let c = case(true, &["hang", "ok"]);
    submit(&c).expect_code(0);
    assert_eq!(c.read("job.sh.jid"), "101\n", "the job of the hanging attempt");
    assert_eq!(sbatch_calls(&c), 1);
    let log = c.read("job.sh.submitlog");
    assert!(
        log.contains("Command 'sbatch' timed out after 3 s and was killed"),
        "{log}"
    );
}

#[test]
fn without_an_edition_every_failure_is_final_and_nothing_is_added() {
    let c = case(false, &["before", "ok"]);
    submit(&c)
        .expect_code(1)
        .stderr_contains("Slurm submission failed with exit code 1: sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)")
        .stderr_lacks("attempts");
    assert_eq!(sbatch_calls(&c), 1);
    assert!(
        c.calls("sbatch")[0].iter().all(|a| !a.starts_with("--comment")),
        "0.2.7's command line: {:?}",
        c.calls("sbatch")
    );
}

#[test]
fn a_scheduler_without_look_up_never_repeats_a_submission_that_may_have_worked() {
    // PBS: a lost answer cannot be checked, so there is one qsub only.
    let c = Case::new("retries-pbs")
        .config("edition: 2026\nsites:\n  p:\n    type: pbs\n    connection: local\n    status_record: false\n    retry_delay: 0.01\n    retry_max_delay: 0.02\n")
        .fake("qsub", "cat >/dev/null\necho 'qsub: Connection timed out' >&2\nexit 1");
    c.write_exec("job.sh", SCRIPT);
    c.troika(&["submit", "p", "job.sh", "-o", &c.s("job.out")])
        .expect_code(1)
        .stderr_contains("qsub failed (exit code 1: qsub: Connection timed out), perhaps after the job was submitted")
        .stderr_contains("check with qstat before submitting again");
    assert_eq!(c.calls("qsub").len(), 1);
    assert!(c.exists("job.sh.orig"), "the job may exist: the generated script stays");
}

/// A script's own Slurm comment stays, the tag after it (the option on the
/// command line would replace it), and the job is found by its tag.
#[test]
fn the_script_comment_stays_before_the_tag() {
    let c = case(true, &["after", "ok"]);
    c.write_exec(
        "job.sh",
        "#!/bin/bash\n#SBATCH --comment=\"nightly run\"\n# troika name=r\ntrue\n",
    );
    submit(&c).expect_code(0);
    assert_eq!(c.read("job.sh.jid"), "101\n", "the job of the lost answer, adopted");
    assert_eq!(sbatch_calls(&c), 1);
    let comment = c.read("state/tag");
    let tag = comment
        .trim_end()
        .strip_prefix("nightly run troika-")
        .unwrap_or_else(|| panic!("{comment:?}"));
    assert_eq!(tag.len(), 20, "{comment:?}");
    assert!(c.read("job.sh.submitlog").contains("carries this submission's tag"));
}
