//! Translators through the command line: the built-in resource computation
//! and external translator programs, on a Slurm site in dry-run mode (`-n
//! -v`): the script is generated for real, `sbatch` is only logged.

use crate::common::{Case, TroikaRun};

/// The Slurm site `hpc` with `site_extra` appended to its settings
/// (4-space indented YAML), for `sites:`.
fn hpc(site_extra: &str) -> String {
    format!("  hpc:\n    type: slurm\n    connection: local\n{site_extra}")
}

/// A case whose configuration is the site [`hpc`] with `site_extra`.
fn case(site_extra: &str) -> Case {
    Case::new("translators").sites(&hpc(site_extra))
}

/// `troika -n -v -c config.yml submit hpc job.sh -o out.log` on `script`.
fn submit(c: &Case, script: &[u8]) -> TroikaRun {
    c.write("job.sh", script);
    c.troika(&["-n", "-v", "submit", "hpc", &c.s("job.sh"), "-o", &c.s("out.log")])
}

/// The generated `#SBATCH` lines, `--output` left out.
fn sbatch_lines(c: &Case) -> Vec<String> {
    String::from_utf8_lossy(&c.read_bytes("job.sh"))
        .lines()
        .filter(|l| l.starts_with("#SBATCH ") && !l.starts_with("#SBATCH --output="))
        .map(str::to_string)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn ok(r: &TroikaRun) {
    r.expect_code(0).stderr_contains("Execute: 'sbatch'");
}

/// A failure: exit status 1, the message, and the script left as it was.
fn fails_with(c: &Case, r: &TroikaRun, script: &[u8], words: &[&str]) {
    r.expect_code(1);
    for w in words {
        r.stderr_contains(w);
    }
    r.stderr_lacks("Execute: 'sbatch'");
    assert_eq!(c.read_bytes("job.sh"), script, "the script must not change on failure");
    assert!(!c.exists("job.sh.orig"));
}

#[test]
fn resources_on_slurm() {
    let c = case("    translators: [resources]\n");
    let o = submit(
        &c,
        b"#!/bin/bash\n\
          # troika total_nodes=2\n\
          # troika tasks_per_node=4\n\
          # troika threads_per_task=8\n\
          # troika memory_per_node=4GB\n\
          # troika memory_per_cpu=1536\n\
          # troika walltime=1h30m\n\
          echo hi\n",
    );
    ok(&o);
    assert_eq!(
        sbatch_lines(&c),
        [
            "#SBATCH --nodes=2",
            "#SBATCH --ntasks-per-node=4",
            "#SBATCH --mem=4G",
            "#SBATCH --mem-per-cpu=1536M",
            "#SBATCH --time=01:30:00",
            "#SBATCH --ntasks=8",
            "#SBATCH --cpus-per-task=8",
        ]
    );
    // threads_per_task is consumed: no unknown-directive warning.
    o.stderr_lacks("Unknown directive");
}

#[test]
fn each_resource_translator_alone() {
    let script = b"# troika total_tasks=10\n# troika tasks_per_node=4\n# troika walltime=2-03:04:05\n# troika memory_per_node=2T\n";
    let cases: [(&str, &[&str]); 3] = [
        (
            "compute_tasks",
            &[
                "#SBATCH --ntasks=10",
                "#SBATCH --ntasks-per-node=4",
                "#SBATCH --time=2-03:04:05",
                "#SBATCH --mem=2T",
                "#SBATCH --nodes=3",
            ],
        ),
        (
            "normalise_walltime",
            &[
                "#SBATCH --ntasks=10",
                "#SBATCH --ntasks-per-node=4",
                "#SBATCH --time=2-03:04:05",
                "#SBATCH --mem=2T",
            ],
        ),
        (
            "normalise_memory",
            &[
                "#SBATCH --ntasks=10",
                "#SBATCH --ntasks-per-node=4",
                "#SBATCH --time=2-03:04:05",
                "#SBATCH --mem=2T",
            ],
        ),
    ];
    for (name, expected) in cases {
        let c = case(&format!("    translators: [{name}]\n"));
        ok(&submit(&c, script));
        assert_eq!(sbatch_lines(&c), expected, "{name}");
    }
    let c = case("    translators: [normalise_walltime]\n");
    // A plain number is minutes, as in Slurm.
    ok(&submit(&c, b"# troika walltime=1500\n"));
    assert_eq!(sbatch_lines(&c), ["#SBATCH --time=1-01:00:00"]);
    let c = case("    translators: [compute_cpus_per_task]\n");
    ok(&submit(&c, b"# troika threads_per_task=6\n"));
    assert_eq!(sbatch_lines(&c), ["#SBATCH --cpus-per-task=6"]);
}

#[test]
fn resource_format_key_overrides_the_site_type() {
    // A Slurm site whose memory and walltime are written as PBS reads them:
    // the format comes from `resource_format`, not the type.
    let c = case("    translators: [resources]\n    resource_format: pbs\n");
    let o = submit(&c, b"# troika memory_per_node=1536M\n# troika walltime=1-12:00:00\n");
    ok(&o);
    assert_eq!(sbatch_lines(&c), ["#SBATCH --mem=1536mb", "#SBATCH --time=36:00:00"]);
    // The key is known when the translator uses it, and reported otherwise.
    o.stderr_lacks("unknown key");
    let c = case("    resource_format: pbs\n");
    let o = submit(&c, b"echo\n");
    ok(&o);
    o.stderr_contains("unknown key 'resource_format'");

    let c = case("    translators: [resources]\n    resource_format: moab\n");
    let o = submit(&c, b"echo\n");
    fails_with(
        &c,
        &o,
        b"echo\n",
        &[
            "config.yml:6:22",
            "unknown resource_format 'moab'",
            "slurm, pbs, sge, torque, lsf, flux, as_written",
        ],
    );
}

#[test]
fn resource_errors() {
    let c = case("    translators: [resources]\n");
    let cases: [(&[u8], &[&str]); 6] = [
        (
            b"# troika total_nodes=2\n# troika tasks_per_node=4\n# troika total_tasks=9\n",
            &[
                "Translator 'resources'",
                "Contradictory directives total_nodes=2, tasks_per_node=4 and total_tasks=9",
            ],
        ),
        (
            b"# troika total_nodes=2.5\n# troika tasks_per_node=4\n",
            &["Directive 'total_nodes': invalid value '2.5' (expected a whole number greater than zero)"],
        ),
        (
            b"# troika total_tasks=0\n",
            &["Directive 'total_tasks': invalid value '0'"],
        ),
        (
            b"# troika memory_per_node=4 bananas\n",
            &["Directive 'memory_per_node': invalid size '4 bananas': unknown unit 'bananas'"],
        ),
        (
            b"# troika walltime=1h30\n",
            &["Directive 'walltime': invalid wall-clock limit '1h30' (expected minutes, MM:SS, HH:MM:SS"],
        ),
        (b"# troika walltime=307445734561825861\n", &["is too large"]),
    ];
    for (script, words) in cases {
        let o = submit(&c, script);
        fails_with(&c, &o, script, words);
    }
}

#[test]
fn unknown_site_type_needs_a_resource_format() {
    let c = Case::new("translators")
        .sites("  here:\n    type: direct\n    connection: local\n    translators: [normalise_memory]\n");
    c.write("job.sh", "echo\n");
    c.troika(&["-n", "submit", "here", &c.s("job.sh"), "-o", &c.s("out")])
        .expect_code(1)
        .stderr_contains(
            "translator 'normalise_memory' does not know how sites of type 'direct' write memory sizes and wall-clock limits: set 'resource_format'",
        );
}

/// A translator in Python: reads the directives, records what it got (order
/// and exact bytes), adds `-N<tag>` to the job name, sets a queue, drops
/// `licenses`, and keeps every other value as it was (bytes included).
const PY_TRANSLATOR: &str = r#"#!/usr/bin/env python3
import json, sys
raw = sys.stdin.read()
d = json.loads(raw)
with open(sys.argv[1], "w") as f:
    json.dump(list(d.keys()), f)
d["name"] = d.get("name", "job") + "-" + sys.argv[2]
d["queue"] = "express"
d.pop("licenses", None)
json.dump(d, sys.stdout)
"#;

#[test]
fn external_translator_updates_the_directives() {
    let c = case("");
    let prog = c.write_exec("tr.py", PY_TRANSLATOR);
    let seen = c.path("seen.json");
    c.write_sites(&hpc(&format!(
        "    translators:\n      - compute_tasks\n      - command: [{}, {}, N1]\n        timeout: 20\n      - join_output_error\n",
        prog.display(),
        seen.display()
    )));
    let o = submit(
        &c,
        b"# troika total_nodes=2\n# troika tasks_per_node=3\n# troika name=fc\xff\n# troika licenses=x\necho\n",
    );
    ok(&o);
    // The program saw the directives in order, after compute_tasks.
    let keys = c.read("seen.json");
    assert_eq!(
        keys,
        r#"["total_nodes", "tasks_per_node", "name", "licenses", "output_file", "total_tasks"]"#
    );
    let script = c.read_bytes("job.sh");
    let text = String::from_utf8_lossy(&script);
    assert!(text.contains("#SBATCH --ntasks=6\n"), "{text}");
    assert!(text.contains("#SBATCH --qos=express\n"), "{text}");
    assert!(!text.contains("--licenses"), "{text}");
    // The byte that is not UTF-8 came back intact through the JSON.
    assert!(contains(&script, b"#SBATCH --job-name=fc"), "{text}");
    assert!(contains(&script, b"#SBATCH --job-name=fc\xff-N1\n"), "{text}");
}

#[test]
fn external_translator_failures_name_the_translator() {
    let script: &[u8] = b"# troika name=x\necho\n";
    let cases: [(&str, &str, &[&str]); 7] = [
        ("echo not json", "", &["wrote invalid output", "expected ident"]),
        (
            "echo '[\"a\"]'",
            "",
            &[
                "wrote invalid output",
                "expected a JSON object of directive names to strings",
            ],
        ),
        (
            "echo '{\"name\": 3}'",
            "",
            &[
                "wrote invalid output",
                "expected a string for directive 'name' at line 1 column 10",
            ],
        ),
        ("echo oops >&2; exit 4", "", &["failed with exit code 4: oops"]),
        ("kill -9 $$", "", &["failed with signal 9"]),
        (
            "exec sleep 30",
            "        timeout: 0.5\n",
            &["did not finish within 0.5 s and was killed"],
        ),
        (
            "cat >/dev/null",
            "",
            &["wrote invalid output: nothing on standard output"],
        ),
    ];
    for (body, extra, words) in cases {
        let c = case("");
        let prog = c.write_exec("tr.sh", format!("#!/bin/sh\n{body}\n"));
        c.write_sites(&hpc(&format!(
            "    translators:\n      - command: [{}, --flag]\n{extra}",
            prog.display()
        )));
        let started = std::time::Instant::now();
        let o = submit(&c, script);
        let mut all = vec![format!("Translator command '{}' '--flag': ", prog.display())];
        all.extend(words.iter().map(|w| w.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        fails_with(&c, &o, script, &all);
        assert!(started.elapsed().as_secs() < 20, "{body}: the timeout was not applied");
    }
}

#[test]
fn missing_translator_program_and_bad_entries() {
    let script: &[u8] = b"echo\n";
    let c = case("    translators: [{command: [/nonexistent/translator]}]\n");
    let o = submit(&c, script);
    fails_with(
        &c,
        &o,
        script,
        &["Translator command '/nonexistent/translator': Cannot execute '/nonexistent/translator': No such file or directory"],
    );
    let cases: [(&str, &str); 5] = [
        (
            "[{command: []}]",
            "config.yml:5:29: site 'hpc': the 'command' of a translator must be a program path or a non-empty list",
        ),
        (
            "[{timeout: 3}]",
            "config.yml:5:19: site 'hpc': a translator entry that is a mapping needs 'command: [path, args...]'",
        ),
        (
            "[{command: x, when: always}]",
            "config.yml:5:32: site 'hpc': unknown key 'when' in a translator entry",
        ),
        (
            "[{command: x, timeout: 0}]",
            "the 'timeout' of a translator must be a positive number of seconds, found 0",
        ),
        (
            "[[compute_tasks]]",
            "each entry of 'translators' must be a translator name or {command: [path, args...]}, found a list",
        ),
    ];
    for (list, msg) in cases {
        let c = case(&format!("    translators: {list}\n"));
        let o = submit(&c, script);
        fails_with(&c, &o, script, &["Configuration error", msg]);
    }
}

#[test]
fn translators_run_in_order_and_see_each_other() {
    // Two programs: the first sets walltime in units, the second checks it
    // got the value already normalised by the built-in in between.
    let c = case("");
    let first = c.write_exec(
        "first.sh",
        "#!/bin/sh\ncat >/dev/null\necho '{\"walltime\": \"90m\"}'\n",
    );
    let second = c.write_exec(
        "second.sh",
        "#!/bin/sh\nin=$(cat)\n[ \"$in\" = '{\"walltime\":\"01:30:00\"}' ] || { echo \"got $in\" >&2; exit 1; }\necho \"$in\"\n",
    );
    c.write_sites(&hpc(&format!(
        "    translators: [{{command: {}}}, normalise_walltime, {{command: [{}]}}]\n",
        first.display(),
        second.display()
    )));
    let o = submit(&c, b"# troika name=x\necho\n");
    ok(&o);
    // The first translator dropped everything else, output_file included.
    assert_eq!(sbatch_lines(&c), ["#SBATCH --time=01:30:00"]);
    assert!(!String::from_utf8_lossy(&c.read_bytes("job.sh")).contains("--output"));
}

/// The example of docs/translators.md works as documented.
#[test]
fn documented_example_translator() {
    let doc = std::fs::read_to_string(crate::common::repo_root().join("docs/translators.md")).unwrap();
    let start = doc
        .find("```python\n")
        .expect("a python example in docs/translators.md")
        + 10;
    let end = start + doc[start..].find("```").unwrap();
    let c = case("");
    let prog = c.write_exec("add_account.py", &doc[start..end]);
    c.write_sites(&hpc(&format!("    translators: [{{command: [{}]}}]\n", prog.display())));
    ok(&submit(&c, b"# troika name=x\xe9\n"));
    let script = c.read_bytes("job.sh");
    assert!(contains(&script, b"#SBATCH --account=ops\n"));
    assert!(contains(&script, b"#SBATCH --job-name=x\xe9\n"));
}
