//! `troika config check` and `troika config show`.

use crate::common::Case;

/// A configuration with ten different faults, each in one place.
const BROKEN: &str = "\
edition: 2025
sites:
  a:
    type: slurm
    connection: local
    sbatch_comand: sbatch
    copy_script: maybe
  b:
    type: slurm
    connection: local
    command_timeout: 30
    command_timeout: 60
    unknown_directive: explode
  c:
    type: slurmm
    connection: local
  g:
    type: group
    sites: [a, nowhere]
  d:
    type: direct
    connection: local
    translators: [no_such_translator]
    at_startup: [no_such_hook]
    vanish_grace: -5
";

#[test]
fn config_check_finds_ten_faults_in_one_run() {
    let c = Case::new("config-check-broken").config(BROKEN);
    let run = c.troika(&["config", "check"]);
    run.expect_code(1);
    let f = c.s("config.yml");
    let expected = [
        format!("{f}:1:10: unknown edition '2025'"),
        format!("{f}:6:5: site 'a': unknown key 'sbatch_comand' (did you mean 'sbatch_command'?)"),
        format!("{f}:7:18: site 'a': 'copy_script' must be a boolean"),
        format!("{f}:12:5: site 'b': duplicate mapping key 'command_timeout' (first written on line 11"),
        format!("{f}:13:24: site 'b': Invalid unknown directive behaviour 'explode'"),
        format!("{f}:15:11: site 'c': unknown type 'slurmm' (did you mean 'slurm'?)"),
        format!("{f}:19:12: site group 'g' lists an unknown site: Unknown site 'nowhere'"),
        format!("{f}:23:5: site 'd': Implementation 'no_such_translator' not found"),
        format!("{f}:24:5: site 'd': Implementation 'no_such_hook' not found"),
        format!("{f}:25:19: site 'd': 'vanish_grace' must be a positive number of seconds, found -5"),
    ];
    for e in &expected {
        assert!(
            run.stdout.lines().any(|l| l.starts_with(e.as_str())),
            "no line starting with {e:?} in\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.ends_with("5 sites, 10 problems\n"), "{}", run.stdout);
    // In the order of the file.
    let lines: Vec<&str> = run.stdout.lines().collect();
    for (i, e) in expected.iter().enumerate() {
        assert!(lines[i].starts_with(e.as_str()), "line {i}: {}", lines[i]);
    }
}

#[test]
fn an_action_on_a_broken_site_still_stops_at_its_first_problem() {
    let c = Case::new("config-check-action").config(BROKEN);
    // The loader stops at the duplicate key, as before.
    c.troika(&["list-sites"])
        .expect_code(1)
        .stderr_contains("duplicate mapping key 'command_timeout'");
}

#[test]
fn config_check_of_a_good_configuration() {
    let c = Case::new("config-check-good").config(
        "sites:\n  a: {type: slurm, connection: local}\n  g: {type: group, sites: [a]}\n  d: {type: direct, connection: local}\n",
    );
    let run = c.troika(&["config", "check"]);
    run.expect_code(0);
    assert_eq!(run.stdout, "3 sites, no problem\n");
    // -c after the action too.
    let run = c.troika(&["config", "check", "-c", &c.s("config.yml")]);
    run.expect_code(0);
}

#[test]
fn config_check_connect_finds_missing_commands() {
    let c = Case::new("config-check-connect").config(
        "sites:\n  d: {type: direct, connection: local}\n  s: {type: slurm, connection: local, sbatch_command: /nonexistent/sbatch}\n",
    );
    let run = c.troika(&["config", "check", "--connect"]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("site 's': command '/nonexistent/sbatch' is not found on the site"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("site 'd'"), "{}", run.stdout);
}

#[test]
fn config_show_gives_values_and_where_they_come_from() {
    let c = Case::new("config-show")
        .config("edition: 2026\nsites:\n  s:\n    type: slurm\n    connection: local\n    copy_script: true\n");
    let run = c.troika(&["config", "show", "s"]);
    run.expect_code(0);
    let f = c.s("config.yml");
    let row = |key: &str| -> Vec<String> {
        let l = run
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("no {key} in\n{}", run.stdout));
        l.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(row("copy_script"), ["copy_script", "true", &format!("{f}:6")]);
    assert_eq!(row("type"), ["type", "slurm", &format!("{f}:4")]);
    assert_eq!(row("copy_jid"), ["copy_jid", "false", "default"]);
    assert_eq!(
        row("status_record"),
        ["status_record", "true", "edition", "2026", "default"]
    );
    assert_eq!(row("retries"), ["retries", "6", "edition", "2026", "default"]);
    assert_eq!(row("command_timeout"), ["command_timeout", "300.0", "default"]);
    c.troika(&["config", "show", "nowhere"]).expect_code(1);
}
