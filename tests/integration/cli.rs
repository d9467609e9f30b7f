//! The command line and what it promises beyond the conformance corpus:
//! configuration errors that point at the file, line and column; unknown
//! keys; the built-in default site; byte-exact scripts; atomic files;
//! command timeouts; usage errors.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::{poll_until, read_or_empty, sibling, Case, TroikaRun};

const JOB: &str = "#!/bin/sh\necho hello\n";

/// `troika -c CONFIG -n submit SITE <job.sh> -o out` in the case.
fn dry_submit(d: &Case, config: &str, site: &str) -> TroikaRun {
    d.troika(&["-c", config, "-n", "submit", site, &d.s("job.sh"), "-o", "out"])
}

#[test]
fn config_errors_name_file_line_and_column() {
    let d = Case::new("cli-cfg");
    let script = d.write_exec("job.sh", JOB);
    let cases = [
        ("sites:\n  s:\n    type: slurm\n   connection: local\n", "c.yml:4:4"),
        (
            "sites:\n  s: {type: slurm, connection: local}\n  s: {type: direct, connection: local}\n",
            "c.yml:3:3",
        ),
        (
            "sites:\n  s:\n    type: slurm\n    connection: local\n    copy_script: perhaps\n",
            "c.yml:5:18",
        ),
        (
            "sites:\n  s:\n    type: slurm\n    connection: local\n    kill_sequence: [[0, SIGNOPE]]\n",
            "c.yml:5:25",
        ),
        (
            "sites:\n  s:\n    type: slurm\n    connection: local\n    command_timeout: -3\n",
            "c.yml:5:22",
        ),
    ];
    for (yaml, at) in cases {
        d.write("c.yml", yaml);
        let r = dry_submit(&d, "c.yml", "s");
        r.expect_code(1);
        assert!(
            r.stderr.contains("Configuration error") && r.stderr.contains(at),
            "{yaml}\n{}",
            r.stderr
        );
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            JOB,
            "the script is untouched"
        );
    }
}

#[test]
fn unknown_keys_are_reported_with_the_closest_known_key() {
    let d = Case::new("cli-keys");
    d.write_exec("job.sh", JOB);
    d.write(
        "c.yml",
        "sites:\n  s:\n    type: slurm\n    connection: local\n    sbatch_comand: /x\n",
    );
    let r = dry_submit(&d, "c.yml", "s");
    r.expect_code(0);
    assert!(
        r.stderr
            .contains("c.yml:5:5: site 's': unknown key 'sbatch_comand' (did you mean 'sbatch_command'?)"),
        "{}",
        r.stderr
    );

    // Keys merged in from a block shared by sites of several types are not
    // reported; a key written in the site itself still is.
    d.write(
        "m.yml",
        "defaults: &def\n  connection: local\n  sbatch_command: sbatch\n  qsub_command: qsub\n\
         sites:\n  p:\n    <<: *def\n    type: pbs\n    qsub_comand: /x\n",
    );
    let r = dry_submit(&d, "m.yml", "p");
    r.expect_code(0);
    assert!(
        r.stderr
            .contains("m.yml:9:5: site 'p': unknown key 'qsub_comand' (did you mean 'qsub_command'?)"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("'sbatch_command'"), "{}", r.stderr);
}

/// `TROIKA_CONFIG_FILE` set but empty names no file: an error, not the
/// built-in configuration.
#[test]
fn empty_config_variable_is_an_error() {
    let r = Case::new("cli-empty-var")
        .env("TROIKA_CONFIG_FILE", "")
        .troika(&["list-sites"]);
    r.expect_code(1).stderr_contains(
        "Configuration error: Cannot read configuration file '': No such file or directory (from TROIKA_CONFIG_FILE)",
    );
    assert!(r.stdout.is_empty(), "no sites listed");
}

#[test]
fn builtin_default_site_runs_a_job_without_configuration() {
    let d = Case::new("cli-default");
    let script = d.write_exec("job.sh", "#!/bin/sh\n# troika name=ignored\necho \"hello $1\"\n");
    let out = d.path("logs/job.out");
    // No -c, no TROIKA_CONFIG_FILE (the case removes it), no etc/troika.yml beside the test binary.
    let r = d.troika(&["submit", "localhost", "job.sh", "-o", out.to_str().unwrap()]);
    r.expect_code(0);
    let text = poll_until("the job's output", Duration::from_secs(10), || {
        let s = read_or_empty(&out);
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(text, "hello \n");
    // The built-in configuration is of edition 2026: the job writes a
    // status record beside its output.
    let generated = std::fs::read_to_string(&script).unwrap();
    assert!(
        generated.starts_with("#!/bin/sh\n# troika: status record") && generated.ends_with("\necho \"hello $1\"\n"),
        "{generated}"
    );
    let record = poll_until("the status record", Duration::from_secs(10), || {
        let s = d.read_or_empty("logs/job.out.status");
        s.contains("exit=").then_some(s)
    });
    assert!(record.contains("\nexit=0\n"), "{record}");
    // A site that the built-in configuration does not have: say where troika looked.
    let r = d.troika(&["-n", "submit", "hpc", "job.sh", "-o", "x"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("Unknown site 'hpc'") && r.stderr.contains("No configuration file found"),
        "{}",
        r.stderr
    );
}

#[test]
fn scripts_are_bytes_and_files_are_replaced_atomically() {
    let d = Case::new("cli-bytes");
    d.write("c.yml", "sites:\n  s: {type: slurm, connection: local}\n");
    let original: &[u8] = b"#!/bin/bash\r\n# troika name=crlf\r\n\xff\xfe binary \x00 bytes\r\n#SBATCH -N 2\r\necho last line without newline";
    let script = d.path("job.sh");
    std::fs::write(&script, original).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = d.troika(&["-c", "c.yml", "-n", "submit", "s", "job.sh", "-o", "/o/job.out"]);
    r.expect_code(0);
    let generated = std::fs::read(&script).unwrap();
    let expected: &[u8] = b"#!/bin/bash\r\n#SBATCH --job-name=crlf\n#SBATCH --output=/o/job.out\n#SBATCH -N 2\r\n\xff\xfe binary \x00 bytes\r\necho last line without newline";
    assert_eq!(String::from_utf8_lossy(&generated), String::from_utf8_lossy(expected));
    assert_eq!(generated, expected);
    assert_eq!(
        std::fs::read(sibling(&script, ".orig")).unwrap(),
        original,
        ".orig is the exact original"
    );
    let mode = std::fs::metadata(&script).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the mode is kept");
    let mut names: Vec<String> = std::fs::read_dir(d.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["c.yml", "job.sh", "job.sh.orig", "job.sh.submitlog"],
        "no temporary file is left"
    );
}

#[test]
fn a_failing_generation_leaves_everything_as_it_was() {
    let d = Case::new("cli-fail");
    d.write(
        "c.yml",
        "sites:\n  s: {type: slurm, connection: local, unknown_directive: fail}\n",
    );
    let script = d.write_exec("job.sh", "#!/bin/sh\n# troika name=a\n# troika frobnicate=1\necho\n");
    let before = std::fs::read(&script).unwrap();
    let r = d.troika(&["-c", "c.yml", "-n", "submit", "s", "job.sh", "-o", "o"]);
    r.expect_code(1);
    assert!(r.stderr.contains("Unknown directive 'frobnicate'"), "{}", r.stderr);
    assert_eq!(std::fs::read(&script).unwrap(), before);
    assert!(!sibling(&script, ".orig").exists());
    let names: Vec<String> = std::fs::read_dir(d.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "c.yml, job.sh and its log only: {names:?}");
}

#[test]
fn scheduler_commands_time_out() {
    let d = Case::new("cli-timeout");
    let sbatch = d.write_exec("slow-sbatch", "#!/bin/sh\nsleep 30\necho 'Submitted batch job 1'\n");
    d.write(
        "c.yml",
        format!(
            "sites:\n  s: {{type: slurm, connection: local, command_timeout: 0.5, sbatch_command: {}}}\n",
            sbatch.display()
        ),
    );
    d.write_exec("job.sh", JOB);
    let r = d.troika(&["-c", "c.yml", "submit", "s", "job.sh", "-o", "o"]);
    r.expect_code(1);
    assert!(r.stderr.contains("timed out after 0.5 s"), "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(5), "took {:?}", r.elapsed);
    assert!(!d.exists("job.sh.jid"), "no job id without a submission");
}

#[test]
fn unparseable_submission_output_is_an_error_without_jid() {
    let d = Case::new("cli-unparseable");
    let sbatch = d.write_exec("sbatch", "#!/bin/sh\necho 'queued somewhere'\n");
    d.write(
        "c.yml",
        format!(
            "sites:\n  s: {{type: slurm, connection: local, sbatch_command: {}}}\n",
            sbatch.display()
        ),
    );
    d.write_exec("job.sh", JOB);
    let r = d.troika(&["-c", "c.yml", "submit", "s", "job.sh", "-o", "o"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("Could not parse the job id") && r.stderr.contains("queued somewhere"),
        "{}",
        r.stderr
    );
    assert!(!d.exists("job.sh.jid"));
}

#[test]
fn usage_errors_exit_2() {
    let d = Case::new("cli-usage");
    for args in [
        &["submit", "s", "job.sh"][..],
        &["frobnicate"],
        &[],
        &["submit", "s", "job.sh", "-o", "o", "--bogus"],
    ] {
        let r = d.troika(args);
        r.expect_code(2);
        assert!(r.stderr.contains("error"), "{args:?}: {}", r.stderr);
    }
    let r = d.troika(&["--version"]);
    r.expect_code(0);
    assert!(r.stdout.starts_with("troika "), "{}", r.stdout);
}

#[test]
fn log_records_have_the_reference_format() {
    let d = Case::new("cli-log");
    d.write("c.yml", "sites:\n  s: {type: slurm, connection: local}\n");
    d.write_exec("job.sh", JOB);
    let r = d.troika(&["-c", "c.yml", "-n", "-v", "submit", "s", "job.sh", "-o", "o"]);
    r.expect_code(0);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("Execute:"))
        .expect("an Execute record");
    // 2026-11-25 00:36:11,133; troika.connection.local; INFO; Execute: 'sbatch'
    let (ts, rest) = line.split_at(23);
    assert!(
        ts.as_bytes()[4] == b'-' && ts.as_bytes()[10] == b' ' && ts.as_bytes()[19] == b',',
        "{line}"
    );
    assert!(
        rest.starts_with("; troika.") && rest.ends_with("; INFO; Execute: 'sbatch'"),
        "{line}"
    );
    let log = d.read_or_empty("job.sh.submitlog");
    assert!(log.contains("; DEBUG; "), "the log file has debug records:\n{log}");
}

#[test]
fn direct_site_output_is_relative_to_local_cwd() {
    let d = Case::new("cli-lcwd");
    std::fs::create_dir(d.path("work")).unwrap();
    d.write(
        "c.yml",
        format!(
            "sites:\n  d: {{type: direct, connection: local, local_cwd: {}}}\n",
            d.path("work").display()
        ),
    );
    d.write_exec("job.sh", "#!/bin/sh\necho \"in $PWD\"\n");
    let r = d.troika(&["-c", "c.yml", "submit", "d", "job.sh", "-o", "logs/job.out"]);
    r.expect_code(0);
    let out = d.path("work/logs/job.out");
    let text = poll_until("the job's output under local_cwd", Duration::from_secs(10), || {
        let s = read_or_empty(&out);
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(text.trim(), format!("in {}", d.path("work").display()));
    assert!(
        !d.exists("logs"),
        "nothing is written relative to troika's own directory"
    );
}

#[test]
fn script_and_directive_errors_use_the_words_of_0_2_7() {
    let d = Case::new("cli-words");
    d.write(
        "c.yml",
        "sites:\n  f: {type: slurm, connection: local, unknown_directive: fail}\n  w: {type: slurm, connection: local}\n");
    let submit = |site: &str, extra: &[&str]| {
        let mut args = vec!["-c", "c.yml", "-n", "submit", site, "job.sh", "-o", "o"];
        args.extend_from_slice(extra);
        d.troika(&args)
    };
    let critical = |r: &TroikaRun| {
        r.stderr
            .lines()
            .find_map(|l| l.split_once("; CRITICAL; ").map(|(_, m)| m.to_string()))
            .unwrap_or_default()
    };

    // An unknown directive with `unknown_directive: fail` is an invocation
    // error; an existing backup is reported first, and stays as it was.
    d.write_exec("job.sh", "#!/bin/sh\n# troika custom=1\necho\n");
    d.write("job.sh.orig", "old\n");
    let r = submit("f", &[]);
    r.expect_code(1);
    assert_eq!(critical(&r), "Invocation error: Unknown directive 'custom'");
    assert!(r
        .stderr
        .contains("WARNING; Backup script file 'job.sh.orig' already exists, overwriting"));
    assert_eq!(d.read_or_empty("job.sh.orig"), "old\n");

    // With `warn`, the backup warning comes before the translation's.
    let r = submit("w", &[]);
    r.expect_code(0);
    let backup = r.stderr.find("Backup script file").expect("backup warning");
    let unknown = r.stderr.find("Unknown directive 'custom'").expect("unknown warning");
    assert!(backup < unknown, "{}", r.stderr);

    // A bad script line is reported before a bad -D, in 0.2.7's words.
    d.write_exec("job.sh", "#!/bin/sh\n# troika help\necho\n");
    let r = submit("w", &["-D", "bad"]);
    r.expect_code(1);
    assert!(
        critical(&r).starts_with("in job.sh, line 2 Invalid key-value pair: b'help'"),
        "{}",
        r.stderr
    );
    d.write_exec("job.sh", JOB);
    for bad in [" name=x", " name = x ", "name=a\nb"] {
        let r = submit("w", &["-D", bad]);
        r.expect_code(1);
        assert!(
            critical(&r).starts_with("Invocation error: Invalid key-value pair: b'"),
            "{bad:?}: {}",
            r.stderr
        );
    }
}
