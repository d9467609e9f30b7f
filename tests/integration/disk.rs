//! A full disk and read-only directories, on small tmpfs mounts of the
//! tests' own: a submission that cannot write fails with a message that
//! names the file and the reason, and leaves the original script as it was
//! and no part of a file behind; one whose job was submitted before the
//! disk filled says which job, and the job ledger still knows it.
//!
//! Mounting needs root (CI runs as root). Where it is refused the tests are
//! skipped, saying why, unless `TROIKA_TEST_REQUIRE_SERVICES=1`. A read-only
//! directory is a read-only mount: root ignores file permissions.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{flag, test_name, Case, TroikaRun, REQUIRE_SERVICES};

/// The configuration's edition: none (0.2.7's behaviour) or 2026.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Edition {
    V027,
    E2026,
}

impl Edition {
    /// The top of a configuration: a job ledger in the case's directory
    /// (never the user's own), and the edition.
    fn top(self) -> &'static str {
        match self {
            Edition::V027 => "ledger: ledger\n",
            Edition::E2026 => "edition: 2026\nledger: ledger\n",
        }
    }

    /// What the log says of an I/O error that ends the action: 0.2.7's
    /// words for a crash, or none.
    fn io_failure(self, message: &str) -> String {
        match self {
            Edition::V027 => format!("; CRITICAL; Unhandled exception: {message}"),
            Edition::E2026 => format!("; CRITICAL; {message}"),
        }
    }
}

/// The directives of [`script`].
const DIRECTIVES: &str = "#!/bin/sh\n# troika name=disk\n# troika walltime=00:05:00\n";

/// The body of [`script`]: 24 KiB, more than a nearly full disk has left.
fn body() -> String {
    (0..1500).map(|i| format!("echo line {i:05}\n")).collect()
}

/// The job script: directives and a large body.
fn script() -> Vec<u8> {
    format!("{DIRECTIVES}{}", body()).into_bytes()
}

fn slurm_case(tag: &str, e: Edition) -> Case {
    Case::new(tag).config(&format!(
        "{}sites:\n  s:\n    type: slurm\n    connection: local\n",
        e.top()
    ))
}

/// Mounts a tmpfs of `size` (`64k`) on `rel` in the case's directory, unmounted
/// when the case ends, whether the test passed or not. `None` when mounting
/// is not permitted here: the test is skipped (an error when
/// `TROIKA_TEST_REQUIRE_SERVICES=1`).
fn tmpfs(c: Case, rel: &str, size: &str) -> Option<(Case, PathBuf)> {
    let dir = c.path(rel);
    std::fs::create_dir_all(&dir).unwrap();
    let why = match Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&dir)
        .output()
    {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "mount exited with {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("").trim()
        )),
        Err(e) => Some(format!("cannot run mount: {e}")),
    };
    if let Some(why) = why {
        assert!(
            !flag(REQUIRE_SERVICES),
            "cannot mount a tmpfs on {} ({REQUIRE_SERVICES}=1): {why}",
            dir.display()
        );
        // Past the test harness's capture, as the skips for want of a service.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED (cannot mount a tmpfs: {why}): {}",
            test_name()
        );
        return None;
    }
    let at = dir.clone();
    Some((c.at_end(move |_| unmount(&at)), dir))
}

fn unmount(dir: &Path) {
    let unmounted = Command::new("umount").arg(dir).status().is_ok_and(|s| s.success());
    if !unmounted {
        // Busy (a process still has a file open there): detached now, and
        // freed when the last file is closed.
        let _ = Command::new("umount").arg("-l").arg(dir).status();
    }
}

fn remount_read_only(dir: &Path) {
    let o = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cannot remount {} read-only: {}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let e = std::fs::write(dir.join("probe"), "").expect_err("a read-only mount refuses a new file");
    assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
}

/// Fills the file system of `dir` with `dir/filler`, until it is full.
fn fill(dir: &Path) {
    let p = dir.join("filler");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&p).unwrap();
    loop {
        match f.write(&[0u8; 4096]) {
            Ok(0) => panic!("{}: nothing written, and no error", p.display()),
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("cannot fill {}: {e}", p.display()),
        }
    }
    assert_full(dir);
}

/// The file system of `dir` has no room left, not even for one byte.
fn assert_full(dir: &Path) {
    let probe = dir.join("probe");
    let e = std::fs::write(&probe, "x").expect_err("the file system is full");
    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    std::fs::remove_file(&probe).unwrap();
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// No crash: neither Rust's panic message nor troika's for its own bugs.
fn no_crash(r: &TroikaRun) {
    r.stderr_lacks("panicked").stderr_lacks("Internal error");
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The submission failed before anything was sent: the script is as it
/// was, `dir` holds `left` and nothing else, sbatch never ran.
fn assert_untouched(c: &Case, dir: &Path, left: &[&str]) {
    assert_eq!(read(&dir.join("job.sh")), script(), "the original script is unchanged");
    assert_eq!(names(dir), left, "what is left in {}", dir.display());
    assert!(c.calls("sbatch").is_empty(), "sbatch ran: {:?}", c.calls("sbatch"));
}

// ------------------------------------------------------- a full script directory

/// The script's directory is full: the generated script cannot be written.
/// Then again with some room left, less than the generated script needs:
/// the part written before the disk filled is removed.
fn full_script_directory(e: Edition) {
    let Some((c, fs)) = tmpfs(slurm_case("disk-full", e), "fs", "64k") else {
        return;
    };
    let job = fs.join("job.sh");
    std::fs::write(&job, script()).unwrap();
    fill(&fs);
    let s = job.display().to_string();
    let out = c.s("out/job.out");
    let failure = e.io_failure(&format!("Cannot write '{s}': No space left on device"));
    let r = c.troika(&["submit", "s", &s, "-o", &out]);
    r.expect_code(1).stderr_contains(&failure);
    no_crash(&r);
    // The log file is there (creating it takes no room), and empty.
    let left = ["filler", "job.sh", "job.sh.submitlog"];
    assert_untouched(&c, &fs, &left);
    assert_eq!(read(&fs.join("job.sh.submitlog")), b"", "no room for the log either");

    // 16 KiB of room: the log gets its records, the generated script
    // (24 KiB) a part of itself before the disk is full.
    let filler = std::fs::OpenOptions::new().write(true).open(fs.join("filler")).unwrap();
    filler.set_len(filler.metadata().unwrap().len() - 16 * 1024).unwrap();
    let r = c.troika(&["submit", "s", &s, "-o", &out]);
    r.expect_code(1).stderr_contains(&failure);
    no_crash(&r);
    assert_untouched(&c, &fs, &left);
    let log = String::from_utf8_lossy(&read(&fs.join("job.sh.submitlog"))).into_owned();
    assert!(log.contains("; DEBUG; Translating directives\n"), "{log}");
}

#[test]
fn full_script_directory_fails_cleanly_0_2_7() {
    full_script_directory(Edition::V027);
}

#[test]
fn full_script_directory_fails_cleanly_2026() {
    full_script_directory(Edition::E2026);
}

// ------------------------------------------------- a read-only script directory

fn read_only_script_directory(e: Edition) {
    let Some((c, fs)) = tmpfs(slurm_case("disk-ro", e), "fs", "64k") else {
        return;
    };
    let job = fs.join("job.sh");
    std::fs::write(&job, script()).unwrap();
    remount_read_only(&fs);
    let s = job.display().to_string();
    let r = c.troika(&["submit", "s", &s, "-o", &c.s("out/job.out")]);
    r.expect_code(1)
        .stderr_contains(&format!(
            "; ERROR; Cannot open log file: [Errno 30] Read-only file system: '{s}.submitlog'"
        ))
        .stderr_contains(&e.io_failure(&format!(
            "Cannot create a temporary file for '{s}': Read-only file system"
        )));
    no_crash(&r);
    assert_untouched(&c, &fs, &["job.sh"]);
}

#[test]
fn read_only_script_directory_fails_cleanly_0_2_7() {
    read_only_script_directory(Edition::V027);
}

#[test]
fn read_only_script_directory_fails_cleanly_2026() {
    read_only_script_directory(Edition::E2026);
}

// ---------------------------------------- the disk fills during the submission

/// sbatch takes the job, fills the script's file system, then says the
/// job's id: troika cannot write the `.jid` file. With `earlier`, an
/// earlier submission of the script left its `.jid` and `.orig` files.
fn disk_fills_during_submission(e: Edition, earlier: bool) {
    let c = slurm_case("disk-fills", e);
    let fs = c.path("fs");
    let c = c
        .env("DISK_FS", &fs)
        .fake_reading_stdin(
            "sbatch",
            "dd if=/dev/zero of=\"$DISK_FS/filler\" bs=4096 2>/dev/null\n\
             echo 'Submitted batch job 42'",
        )
        .fake("squeue", "cat \"$S/squeue.out\" 2>/dev/null");
    // Room for the original, the generated script, the logs and the .stat
    // files once the filler is gone.
    let Some((c, fs)) = tmpfs(c, "fs", "256k") else {
        return;
    };
    c.write("state/squeue.out", "42|RUNNING|None\n");
    let job = fs.join("job.sh");
    std::fs::write(&job, script()).unwrap();
    if earlier {
        std::fs::write(fs.join("job.sh.jid"), "41\n").unwrap();
        std::fs::write(fs.join("job.sh.orig"), "#!/bin/sh\necho an earlier original\n").unwrap();
    }
    let s = job.display().to_string();
    let r = c.troika(&["submit", "s", &s, "-o", &c.s("out/job.out")]);
    let failure =
        format!("Job 42 was submitted, but its id could not be kept: Cannot write '{s}.jid': No space left on device");
    // The .jid of the earlier job would name the wrong job from now on.
    let failure = match earlier {
        true => format!("{failure}; the job id file of an earlier job is removed\n"),
        false => format!("{failure}\n"),
    };
    r.expect_code(1).stderr_contains(&e.io_failure(&failure));
    no_crash(&r);
    let sbatch = c.all_calls();
    assert_eq!(sbatch.len(), 1, "{sbatch:?}");
    assert_eq!(sbatch[0].name, "sbatch");
    // With the edition's retries the submission carries its tag, else nothing.
    let tagged = sbatch[0].argv.len() == 1 && sbatch[0].argv[0].starts_with("--comment=troika-");
    match e {
        Edition::E2026 => assert!(tagged, "{:?}", sbatch[0].argv),
        Edition::V027 => assert!(sbatch[0].argv.is_empty(), "{:?}", sbatch[0].argv),
    }
    if !earlier {
        // (Removing the earlier .jid gave its room back.)
        assert_full(&fs);
    }
    // The job exists: the generated script stays, whole, as sbatch read
    // it, and the original is kept beside it. No .jid, no temporary file.
    let text = String::from_utf8(read(&job)).unwrap();
    assert_eq!(
        sbatch[0].stdin.as_deref(),
        Some(text.as_str()),
        "the script sbatch was given"
    );
    assert!(
        text.starts_with("#!/bin/sh\n#SBATCH --job-name=disk\n#SBATCH --time=00:05:00\n"),
        "{}",
        &text[..300]
    );
    assert!(text.ends_with(&body()), "the generated script is cut");
    assert_eq!(read(&fs.join("job.sh.orig")), script(), "the original is kept");
    assert_eq!(
        names(&fs),
        ["filler", "job.sh", "job.sh.orig", "job.sh.submitlog"],
        "what is left in {}",
        fs.display()
    );

    // The job ledger, outside the full disk, has the job.
    let r = c.troika(&["jobs", "--json"]);
    r.expect_code(0);
    let lines: Vec<Value> = r.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    assert_eq!(lines[0]["job_id"], "42");
    assert_eq!(lines[0]["script"], s.as_str());
    assert_eq!(lines[0]["output"], c.s("out/job.out").as_str());

    // status reads it (with any edition), the disk still full.
    c.clear_calls();
    let r = c.troika(&["status", "s", &s, "--json"]);
    r.expect_code(0);
    assert_squeue_asks_for_42(&c);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|err| panic!("{err}: {}", r.stdout));
    assert_eq!(v["job_id"], "42");
    assert_eq!(v["state"], "RUNNING");

    match e {
        Edition::E2026 => {
            // monitor finds the job in the ledger; with the disk still
            // full it cannot write the .stat file, and says so.
            fill(&fs);
            c.clear_calls();
            let r = c.troika(&["-v", "monitor", "s", &s]);
            r.expect_code(1)
                .stderr_contains(&format!(
                    "INFO; [Errno 2] No such file or directory: '{s}.jid': job 42 from the job ledger"
                ))
                .stderr_contains(&e.io_failure(&format!("Cannot write '{s}.stat': No space left on device")));
            no_crash(&r);
            assert_squeue_asks_for_42(&c);
            assert_eq!(
                names(&fs),
                [
                    "filler",
                    "job.sh",
                    "job.sh.monitorlog",
                    "job.sh.orig",
                    "job.sh.submitlog"
                ]
            );
            // Room again: monitor writes the job's state.
            std::fs::remove_file(fs.join("filler")).unwrap();
            let r = c.troika(&["monitor", "s", &s]);
            r.expect_code(0);
            let stat = String::from_utf8(read(&fs.join("job.sh.stat"))).unwrap();
            assert!(stat.starts_with("troika:  42  RUNNING"), "{stat}\n{}", r.stderr);
        }
        Edition::V027 => {
            // monitor reads no ledger: the message of the submission had
            // the id, to give with -j.
            std::fs::remove_file(fs.join("filler")).unwrap();
            c.troika(&["monitor", "s", &s]).expect_code(1).stderr_contains(&format!(
                "Could not read the job id: [Errno 2] No such file or directory: '{s}.jid' (give it with -j, or keep the .jid file)"
            ));
            c.clear_calls();
            c.troika(&["monitor", "s", &s, "-j", "42"]).expect_code(0);
            assert_squeue_asks_for_42(&c);
            assert_eq!(read(&fs.join("job.sh.stat")), b"42|RUNNING|None\n");
        }
    }
}

/// squeue was called since the calls were last cleared, each time for job
/// 42 alone (`-j 42`; `-j 42,42` for a status query, which gives one id twice).
fn assert_squeue_asks_for_42(c: &Case) {
    let calls = c.calls("squeue");
    let asked = |a: &Vec<String>| {
        let ids = a.iter().position(|x| x == "-j").and_then(|i| a.get(i + 1));
        ids.is_some_and(|ids| ids.split(',').all(|id| id == "42"))
    };
    assert!(!calls.is_empty() && calls.iter().all(asked), "{calls:?}");
}

#[test]
fn disk_full_after_sbatch_keeps_the_job_in_the_ledger_0_2_7() {
    disk_fills_during_submission(Edition::V027, false);
}

#[test]
fn disk_full_after_sbatch_keeps_the_job_in_the_ledger_2026() {
    disk_fills_during_submission(Edition::E2026, false);
}

#[test]
fn disk_full_after_sbatch_leaves_no_earlier_job_id_0_2_7() {
    disk_fills_during_submission(Edition::V027, true);
}

#[test]
fn disk_full_after_sbatch_leaves_no_earlier_job_id_2026() {
    disk_fills_during_submission(Edition::E2026, true);
}

// ------------------------------------------- a read-only output directory

/// A direct site whose output file is on a read-only file system: the job
/// cannot be started, and is not.
fn read_only_output_directory(e: Edition) {
    let c = Case::new("disk-ro-output").config(&format!(
        "{}sites:\n  d:\n    type: direct\n    connection: local\n",
        e.top()
    ));
    let Some((c, fs)) = tmpfs(c, "fs", "64k") else {
        return;
    };
    remount_read_only(&fs);
    let original = format!("#!/bin/sh\ntouch '{}'\necho ran\n", c.s("ran"));
    for (name, output, failure) in [
        (
            "a.sh",
            fs.join("job.out"),
            format!("Cannot write '{}': Read-only file system", fs.join("job.out").display()),
        ),
        (
            "b.sh",
            fs.join("sub/job.out"),
            format!(
                "Cannot create directory '{}': Read-only file system",
                fs.join("sub").display()
            ),
        ),
    ] {
        let script = c.write_exec(name, &original);
        let s = script.display().to_string();
        let r = c.troika(&["-v", "submit", "d", &s, "-o", &output.display().to_string()]);
        r.expect_code(1).stderr_contains(&e.io_failure(&failure));
        no_crash(&r);
        assert!(!c.exists(&format!("{name}.jid")), "no job id");
        let orig = c.path(&format!("{name}.orig"));
        match e {
            // Not submitted: the script and its .orig are put back.
            Edition::E2026 => {
                r.stderr_contains(&format!(
                    "INFO; The submission failed: '{s}' and its .orig are as they were before it"
                ));
                assert!(!orig.exists(), "{} is left", orig.display());
            }
            // 0.2.7 keeps the generated script, and the original beside it.
            Edition::V027 => assert_eq!(std::fs::read_to_string(&orig).unwrap(), original),
        }
        let now = c.read(name);
        match e {
            Edition::E2026 => assert_eq!(now, original),
            Edition::V027 => assert!(
                now.starts_with("#!/bin/sh\n") && now.ends_with(&original["#!/bin/sh\n".len()..]),
                "{now}"
            ),
        }
    }
    assert_eq!(
        names(&fs),
        Vec::<String>::new(),
        "nothing written in the read-only directory"
    );
    // The jobs were never started.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!c.exists("ran"), "a job ran");
    let stray: Vec<String> = names(c.dir()).into_iter().filter(|n| n.starts_with('.')).collect();
    assert!(stray.is_empty(), "temporary files left: {stray:?}");
}

#[test]
fn read_only_output_directory_fails_cleanly_0_2_7() {
    read_only_output_directory(Edition::V027);
}

#[test]
fn read_only_output_directory_fails_cleanly_2026() {
    read_only_output_directory(Edition::E2026);
}
