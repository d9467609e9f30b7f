//! Torque: `qsub`, `qstat`, `qdel`, `qsig`, `#PBS` directives with Torque's
//! resource syntax (`-l nodes=N:ppn=M`, `-l walltime=`, `-l mem=`).
//!
//! No Torque server runs on the machines this is developed on: the tests
//! use emulators of its commands (tests/emulators/torque/).

use nix::sys::signal::Signal;

use super::batch::{command_failed, BatchSite, KillCommand};
use super::qsub::{QCommands, QScheduler, ROWS};
use super::units::{table_memory, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::script::translate::{bool_value, Entry, Joint, Table};
use crate::script::NativeSyntax;

pub const KEYS: &[&str] = &["qsub_command", "qstat_command", "qdel_command", "qsig_command"];

/// The translation of generic directives to `#PBS` options, Torque flavour.
pub const TABLE: Table = Table::joined(ROWS, &[
        Entry::func("exclusive", exclusive, "`-n` (node-exclusive) if true or empty, nothing if false"),
        Entry::joint("gpus_per_node", nodes, NODES_DOC),
        Entry::format("join_output_error", "-j oe"),
        Entry::func("memory_per_cpu", pmem,
                "`-l pmem=<value>` (memory per process), units in Torque's form (`4G` becomes `4gb`, `1.5G` becomes `1536mb`)"),
        Entry::func("memory_per_node", mem,
                "`-l mem=<value>` (Torque's `mem` is the job's total), units in Torque's form (`4G` becomes `4gb`, `1.5G` becomes `1536mb`)"),
        Entry::joint("tasks_per_node", nodes, NODES_DOC),
        Entry::joint("total_nodes", nodes, NODES_DOC),
        Entry::format("total_tasks", "-l procs=%s"),
        Entry::format("walltime", "-l walltime=%s"),
        Entry::format("working_dir", "-d %s"),
    ]);

const NODES_DOC: &str = "one `-l nodes=<total_nodes>:ppn=<tasks_per_node>:gpus=<gpus_per_node>` line from \
                         whichever of the three are set (`total_nodes` defaults to 1)";

/// `#PBS` lines; output and error files are set by troika.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "PBS",
    drop: &["-o", "-e"],
    command: "qsub",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "torque",
        keys: KEYS,
        syntax: ScriptSyntax {
            prefix: Some("#PBS "),
            native: Some(NATIVE),
            table: TABLE,
            units: Some(super::units::Style::Torque),
        },
        traits: Traits::default(),
        create: |s| BatchSite::create(s, Torque::new),
    }
}

/// The node request: `total_nodes`, `tasks_per_node` and `gpus_per_node`
/// make one `nodes=` resource, written where the first present of
/// `total_nodes`, `tasks_per_node`, `gpus_per_node` (in that order) is; the
/// others write nothing.
fn nodes(j: &Joint) -> Result<Vec<Vec<u8>>> {
    const PARTS: [&str; 3] = ["total_nodes", "tasks_per_node", "gpus_per_node"];
    let value_of = |name: &str| if name == j.name { Some(j.value) } else { j.get(name) };
    let first = PARTS.iter().find(|p| value_of(p).is_some()).copied();
    if first != Some(j.name) {
        return Ok(vec![]);
    }
    let mut spec = b"-l nodes=".to_vec();
    spec.extend_from_slice(value_of("total_nodes").unwrap_or(b"1"));
    if let Some(ppn) = value_of("tasks_per_node") {
        spec.extend_from_slice(b":ppn=");
        spec.extend_from_slice(ppn);
    }
    if let Some(g) = value_of("gpus_per_node") {
        spec.extend_from_slice(b":gpus=");
        spec.extend_from_slice(g);
    }
    Ok(vec![spec])
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    if v.is_empty() || bool_value(v)? {
        Ok(vec![b"-n".to_vec()])
    } else {
        Ok(vec![])
    }
}

fn mem(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![[b"-l mem=".as_slice(), &table_memory(v, Style::Torque)?].concat()])
}

fn pmem(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![[b"-l pmem=".as_slice(), &table_memory(v, Style::Torque)?].concat()])
}

/// A Torque server.
pub struct Torque {
    q: QCommands,
}

impl Torque {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        Ok(Torque {
            q: QCommands::read(&s.config, true)?,
        })
    }
}

/// The job id printed by `qsub` (`1234.server`): the output's only word.
pub fn parse_qsub_output(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    let id = words.next()?;
    words.next().is_none().then(|| id.to_string())
}

impl QScheduler for Torque {
    fn q(&self) -> &QCommands {
        &self.q
    }

    fn failed(&self) -> &'static str {
        "Torque submission failed"
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_qsub_output(stdout)
    }

    /// Torque takes signal names.
    fn signal_word(&self, sig: Signal) -> Option<String> {
        Some(sig.as_str().to_string())
    }

    /// `qdel: Unknown Job Id 12.server` (exit 153); for qdel also `qdel:
    /// Invalid state for job - COMPLETE 12.server`: the job has ended and is
    /// kept for `keep_completed` seconds.
    fn gone(&self, out: &Outcome, by: KillCommand) -> bool {
        let t = out.text();
        t.contains("Unknown Job Id") || (by == KillCommand::Cancel && t.contains("Invalid state for job - COMPLETE"))
    }

    /// `qsig: Request invalid for state of job MSG=job not running 12.server`.
    fn not_running(&self, out: &Outcome) -> bool {
        out.text().contains("invalid for state of job")
    }

    fn kill_failed(&self, out: &Outcome, by: KillCommand) -> Error {
        match by {
            KillCommand::Cancel => command_failed("qdel", out),
            KillCommand::Signal => command_failed("qsig", out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::translate::{translate, Overrides, UnknownPolicy};
    use crate::script::Directives;

    fn gen(pairs: &[(&str, &str)]) -> Vec<String> {
        let mut d = Directives::new();
        for (k, v) in pairs {
            d.set(k, v.as_bytes().to_vec());
        }
        translate(&d, &TABLE, &Overrides::new(), Some(b"#PBS "), UnknownPolicy::Fail)
            .unwrap()
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn node_requests() {
        assert_eq!(
            gen(&[("tasks_per_node", "8"), ("name", "x"), ("total_nodes", "2")]),
            vec!["#PBS -N x\n", "#PBS -l nodes=2:ppn=8\n"]
        );
        assert_eq!(gen(&[("total_nodes", "3")]), vec!["#PBS -l nodes=3\n"]);
        assert_eq!(gen(&[("tasks_per_node", "4")]), vec!["#PBS -l nodes=1:ppn=4\n"]);
        assert_eq!(
            gen(&[("gpus_per_node", "2"), ("tasks_per_node", "4")]),
            vec!["#PBS -l nodes=1:ppn=4:gpus=2\n"]
        );
    }

    #[test]
    fn values() {
        assert_eq!(
            gen(&[
                ("mail_type", "begin, end,FAIL"),
                ("memory_per_node", "4G"),
                ("export_vars", "all")
            ]),
            vec!["#PBS -m bea\n", "#PBS -l mem=4gb\n", "#PBS -V\n"]
        );
        assert_eq!(gen(&[("exclusive", "")]), vec!["#PBS -n\n"]);
        assert!(gen(&[("exclusive", "no")]).is_empty());
    }

    #[test]
    fn qsub_output() {
        assert_eq!(parse_qsub_output("1234.torque01\n").as_deref(), Some("1234.torque01"));
        assert_eq!(parse_qsub_output("\n"), None);
        assert_eq!(parse_qsub_output("qsub: submit error\n"), None);
    }
}
