//! Torque: `qsub`, `qstat`, `qdel`, `qsig`, `#PBS` directives with Torque's
//! resource syntax (`-l nodes=N:ppn=M`, `-l walltime=`, `-l mem=`).
//!
//! Job states come from `qstat -f ID...` ([`STATES`]); a completed job
//! stays there for the server's `keep_completed` seconds.
//!
//! No Torque server runs on the machines this is developed on: the tests
//! use emulators of its commands (tests/emulators/torque/).

use nix::sys::signal::Signal;

use super::batch::{argv, command_failed, BatchSite, KillCommand, Recovery, StateQueries};
use super::qsub::{
    answer_text, as_asked, parse_qstat_states, qstat_args, qstat_asked, sequence_number, subjob_as_task,
    unknown_qstat_job, ExecCode, QCommands, QScheduler, DEPEND_ROW, NO_SIGNAL_ROW, ROWS,
};
use super::retry::Pattern;
use super::units::{table_memory, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::{Answer, NativeState, Outcome as JobOutcome, State};
use crate::script::translate::{Entry, Joint, Table};
use crate::script::NativeSyntax;

/// The qsub family's commands.
pub const KEYS: &[&str] = super::qsub::KEYS;

/// Torque's job states (`job_state` of `qstat -f`), and for a completed job
/// what its `exit_status` says. Rows that name an `exit_status` are read
/// from the exit status of a job in `C`.
pub const STATES: &[NativeState] = &[
    NativeState::new("Q", State::Queued, "queued, eligible to run or be routed"),
    NativeState::new("T", State::Queued, "being moved to a new location"),
    NativeState::new("H", State::Held, "held"),
    NativeState::new("W", State::Held, "waiting for its execution time (`qsub -a`)"),
    NativeState::new("R", State::Running, "running"),
    NativeState::new("S", State::Suspended, "suspended"),
    NativeState::new("E", State::Completing, "exiting after having run"),
    NativeState::finished(
        "C",
        None,
        "completed (kept for the server's `keep_completed`): `exit_status` 0 SUCCEEDED, 1 to 255 FAILED (the \
         script's exit code), 256 + N KILLED by signal N (Torque sent it: qdel, qsig), negative FAILED (Torque \
         could not run the job; the reason says why), except the codes below",
    ),
    NativeState::finished(
        "C, no exit_status",
        Some(JobOutcome::Cancelled),
        "deleted before it ran",
    ),
    NativeState::finished(
        "C, exit_status -11 or -12",
        Some(JobOutcome::Timeout),
        "exceeded its walltime (-11) or cpu time (-12) limit",
    ),
    NativeState::finished(
        "C, exit_status -10",
        Some(JobOutcome::OutOfMemory),
        "exceeded a memory limit",
    ),
];

/// Torque's negative exit statuses (Torque's documentation of job exit
/// status).
const EXEC_CODES: &[ExecCode] = &[
    (-1, "JOB_EXEC_FAIL1: failed before files, no retry", None),
    (-2, "JOB_EXEC_FAIL2: failed after files, no retry", None),
    (-3, "JOB_EXEC_RETRY: failed, to be retried", None),
    (-4, "JOB_EXEC_INITABT: aborted on MOM initialization", None),
    (
        -5,
        "JOB_EXEC_INITRST: aborted on MOM initialization, checkpoint, no migration",
        None,
    ),
    (
        -6,
        "JOB_EXEC_INITRMG: aborted on MOM initialization, checkpoint, migration",
        None,
    ),
    (-7, "JOB_EXEC_BADRESRT: restart failed", None),
    (-8, "exec() of the user command failed", None),
    (-9, "could not create or open the stdout and stderr files", None),
    (-10, "exceeded a memory limit", Some(JobOutcome::OutOfMemory)),
    (-11, "exceeded a walltime limit", Some(JobOutcome::Timeout)),
    (-12, "exceeded a cpu time limit", Some(JobOutcome::Timeout)),
    (-13, "could not create the job's cgroups", None),
    (-14, "the prologue failed", None),
];

/// The translation of generic directives to `#PBS` options, Torque flavour.
pub const TABLE: Table = Table::joined(ROWS, &[
        Entry::func("array", array,
                "`-t <indices>[%<limit>]` (steps written out: `1-9:4` is `1,5,9`); the index is in `PBS_ARRAYID` and `TROIKA_ARRAY_INDEX`"),
        DEPEND_ROW,
        Entry::format("error_file", "-e %s"),
        Entry::func("exclusive", exclusive, "`-n` (node-exclusive) if true or empty, nothing if false"),
        Entry::joint("gpus_per_node", nodes, NODES_DOC),
        Entry::joint("gpus_per_task", nodes, "`:gpus=<tasks_per_node × gpus_per_task>` in the `-l nodes=` line (see `gpus_per_node`); needs `tasks_per_node`"),
        Entry::format("join_output_error", "-j oe"),
        Entry::func("memory_per_cpu", pmem,
                "`-l pmem=<value>` (memory per process), units in Torque's form (`4G` becomes `4gb`, `1.5G` becomes `1536mb`)"),
        Entry::func("memory_per_node", mem,
                "`-l mem=<value>` (Torque's `mem` is the job's total), units in Torque's form (`4G` becomes `4gb`, `1.5G` becomes `1536mb`)"),
        Entry::joint("tasks_per_node", nodes, NODES_DOC),
        Entry::format("output_file", "-o %s"),
        NO_SIGNAL_ROW,
        Entry::joint("total_nodes", nodes, NODES_DOC),
        Entry::joint("total_gpus", nodes, "`:gpus=<total_gpus / total_nodes>` in the `-l nodes=` line (see `gpus_per_node`) when it divides evenly, else an error"),
        Entry::format("total_tasks", "-l procs=%s"),
        Entry::format("walltime", "-l walltime=%s"),
        Entry::format("working_dir", "-d %s"),
    ]);

/// The variable of an array task's index (Torque adds `-<index>` to the
/// output and error files of each task itself).
const ARRAY_INDEX: Option<&str> = Some("PBS_ARRAYID");

/// `-t 1,5,9%2`.
fn array(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let spec = super::array::Spec::parse(v)?;
    let limit = spec.limit_suffix();
    Ok(vec![format!("-t {}{limit}", spec.without_steps()).into_bytes()])
}

const NODES_DOC: &str = "one `-l nodes=<total_nodes>:ppn=<tasks_per_node>:gpus=<gpus_per_node>` line from \
                         whichever of the three are set (`total_nodes` defaults to 1); Torque's `gpus` is per \
                         node, so `gpus_per_task` and `total_gpus` are turned into it, and only one of the \
                         three GPU directives may be given";

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
        syntax: ScriptSyntax::batch("#PBS ", NATIVE, TABLE, super::units::Style::Torque),
        traits: Traits {
            recipes: RECIPES,
            ..Traits::batch(STATES, FAULTS, ARRAY_INDEX, &FOREIGN)
        },
        create: |s| BatchSite::create(s, Torque::new),
    }
}

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[super::Recipe::new(
    "torque",
    "Torque",
    include_str!("../../recipes/torque.yml"),
)];

/// The node request: `total_nodes`, `tasks_per_node` and `gpus_per_node`
/// make one `nodes=` resource, written where the first present of
/// `total_nodes`, `tasks_per_node`, `gpus_per_node` (in that order) is; the
/// others write nothing.
fn nodes(j: &Joint) -> Result<Vec<Vec<u8>>> {
    const PARTS: [&str; 5] = [
        "total_nodes",
        "tasks_per_node",
        "gpus_per_node",
        "gpus_per_task",
        "total_gpus",
    ];
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
    let gpus: Vec<&str> = PARTS[2..].iter().copied().filter(|p| value_of(p).is_some()).collect();
    if gpus.len() > 1 {
        return Err(Error::Script(format!(
            "Torque: give one of gpus_per_node, gpus_per_task and total_gpus, not {}",
            gpus.join(" and ")
        )));
    }
    let number = |name: &str| -> Result<Option<u64>> {
        value_of(name)
            .map(|v| super::units::count("Torque", name, v))
            .transpose()
    };
    let per_node = match gpus.first().copied() {
        Some("gpus_per_node") => value_of("gpus_per_node").map(<[u8]>::to_vec),
        Some("gpus_per_task") => {
            let g = number("gpus_per_task")?.unwrap_or(1);
            let Some(ppn) = number("tasks_per_node")? else {
                return Err(Error::Script(
                    "Torque: gpus_per_task needs tasks_per_node (Torque asks for GPUs per node)".into(),
                ));
            };
            let n = ppn
                .checked_mul(g)
                .ok_or_else(|| Error::Script(format!("Torque: {ppn} × {g} GPUs is too large")))?;
            Some(n.to_string().into_bytes())
        }
        Some(_) => {
            let g = number("total_gpus")?.unwrap_or(1);
            let n = number("total_nodes")?.unwrap_or(1);
            if g % n != 0 {
                return Err(Error::Script(format!(
                    "Torque: total_gpus={g} cannot be divided evenly among {n} nodes (Torque asks for GPUs \
                     per node): give gpus_per_node, or a total that {n} divides"
                )));
            }
            Some((g / n).to_string().into_bytes())
        }
        None => None,
    };
    if let Some(g) = per_node {
        spec.extend_from_slice(b":gpus=");
        spec.extend_from_slice(&g);
    }
    Ok(vec![spec])
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "-n")
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

/// Torque's words of failures that pass (from its documentation; no
/// Torque server runs here to see them).
const FAULTS: &[Pattern] = &[
    Pattern::not_started("Cannot connect to specified server host"),
    Pattern::not_started("cannot connect to server"),
    Pattern::not_started("No free connections"),
];

impl Recovery for Torque {}

/// `qstat -Q -f` and `qstat -B -f`.
impl super::qsub::QstatQueues for Torque {}

impl StateQueries for Torque {
    /// `qstat -f ID...` (Torque's `-x` is XML, not the history).
    /// `qstat -f IDS`, with `-t` for the subjobs of an array job (`12[]`).
    fn queue_argv(&self, jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        Some(argv(&self.q.qstat, &qstat_args(&["-f"], jids)))
    }

    /// A job Torque does not know (`qstat: Unknown Job Id Error ID`, exit
    /// 153: never, or no more after `keep_completed`) is no answer; other
    /// failures are.
    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        let text = answer_text(out, argv, unknown_qstat_job)?;
        let found = parse_qstat_states(&text, STATES, "Torque", "exit_status", EXEC_CODES)
            .into_iter()
            .map(subjob_as_task)
            .collect();
        Ok(as_asked(found, qstat_asked(argv, &self.q.qstat, 1), sequence_number))
    }
}

// ---- Foreign directives: Torque's `#PBS` lines read elsewhere ----

use crate::script::foreign::{self as fd, Conv, Foreign, Opt, Res};

/// Torque's own `#PBS` options and resources (read with PBS's, which
/// share the prefix), for a script sent to another scheduler.
pub const FOREIGN: Foreign = Foreign {
    scheduler: "Torque",
    prefix: "PBS",
    array_index: ARRAY_INDEX,
    shared: super::qsub::FOREIGN_SHARED,
    options: &[
        Opt::to(&["-d"], "working_dir"),
        Opt::func(&["-t"], |v| Ok(vec![("array", fd::check_array(v)?)]), "array"),
    ],
    resources: &[
        Res {
            key: "nodes",
            conv: Conv::Func(
                foreign_nodes,
                "`N:ppn=P[:gpus=G]`: total_nodes N, tasks_per_node P, gpus_per_node G",
            ),
        },
        Res {
            key: "procs",
            conv: Conv::To("total_tasks"),
        },
        Res {
            key: "pmem",
            conv: Conv::Func(|v| fd::generic_memory("memory_per_cpu", v), "memory_per_cpu"),
        },
    ],
};

fn foreign_nodes(v: &str) -> super::qsub::Pairs {
    let mut parts = v.split(':');
    let n = fd::count(parts.next().unwrap_or(""), "the node count")?;
    let mut out = vec![("total_nodes", n.to_string())];
    for kv in parts {
        match kv.split_once('=') {
            Some(("ppn", p)) => out.push(("tasks_per_node", fd::count(p, "ppn")?.to_string())),
            Some(("gpus", g)) => out.push(("gpus_per_node", fd::count(g, "gpus")?.to_string())),
            _ => {
                return Err(format!(
                    "the node property {} is not translated",
                    crate::util::quote(kv)
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::translate::{translate, Overrides, UnknownPolicy};
    use crate::script::Directives;

    fn gen(pairs: &[(&str, &str)]) -> Vec<String> {
        crate::script::translate::lines_of(&TABLE, b"#PBS ", &Overrides::new(), pairs).unwrap()
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
    fn gpus() {
        assert_eq!(gen(&[("gpus_per_node", "2")]), vec!["#PBS -l nodes=1:gpus=2\n"]);
        assert_eq!(
            gen(&[("total_gpus", "8"), ("total_nodes", "2")]),
            vec!["#PBS -l nodes=2:gpus=4\n"]
        );
        assert_eq!(gen(&[("total_gpus", "3")]), vec!["#PBS -l nodes=1:gpus=3\n"]);
        assert_eq!(
            gen(&[("gpus_per_task", "2"), ("tasks_per_node", "4"), ("total_nodes", "2")]),
            vec!["#PBS -l nodes=2:ppn=4:gpus=8\n"]
        );
        let err = |pairs: &[(&str, &str)]| {
            let mut d = Directives::new();
            for (k, v) in pairs {
                d.set(k, v.as_bytes().to_vec());
            }
            translate(&d, &TABLE, &Overrides::new(), Some(b"#PBS "), UnknownPolicy::Fail)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&[("total_gpus", "3"), ("total_nodes", "2")]),
            "Directive 'total_nodes': Torque: total_gpus=3 cannot be divided evenly among 2 nodes (Torque asks \
             for GPUs per node): give gpus_per_node, or a total that 2 divides"
        );
        assert!(err(&[("gpus_per_task", "1")]).contains("Torque: gpus_per_task needs tasks_per_node"));
        assert!(err(&[("gpus_per_task", "1"), ("total_gpus", "2")])
            .contains("give one of gpus_per_node, gpus_per_task and total_gpus, not gpus_per_task and total_gpus"));
        assert!(err(&[("total_gpus", "x")]).contains("Torque: invalid total_gpus 'x'"));
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

    /// The statuses `qstat -f` tells of jobs in (job_state, exit_status).
    fn read(jobs: &[(&str, Option<i32>)], code: i32, stderr: &str) -> Answer {
        let t = Torque { q: QCommands::plain() };
        let ids: Vec<String> = (0..jobs.len()).map(|i| format!("{i}.torque01")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let argv = t.queue_argv(&refs, None).unwrap();
        assert_eq!(argv[..2], ["qstat", "-f"]);
        let mut stdout = String::new();
        for (id, (state, exit)) in ids.iter().zip(jobs) {
            stdout += &format!("Job Id: {id}\n    Job_Name = STDIN\n    job_state = {state}\n    queue = batch\n");
            if let Some(e) = exit {
                stdout += &format!("    exit_status = {e}\n");
            }
            stdout.push('\n');
        }
        t.parse_queue(&crate::site::qsub::table_test::answer(code, &stdout, stderr), &argv)
    }

    #[test]
    fn every_state_and_exit_status_is_read() {
        let cases: &[(&str, Option<i32>, &str, &str)] = &[
            ("Q", None, "Q", "QUEUED"),
            ("T", None, "T", "QUEUED"),
            ("H", None, "H", "HELD"),
            ("W", None, "W", "HELD"),
            ("R", None, "R", "RUNNING"),
            ("S", None, "S", "SUSPENDED"),
            ("E", None, "E", "COMPLETING"),
            ("C", Some(0), "C", "FINISHED/SUCCEEDED"),
            ("C", Some(2), "C", "FINISHED/FAILED"),
            ("C", Some(271), "C", "FINISHED/KILLED"),
            ("C", Some(-9), "C", "FINISHED/FAILED"),
            ("C", None, "C, no exit_status", "FINISHED/CANCELLED"),
            ("C", Some(-11), "C, exit_status -11 or -12", "FINISHED/TIMEOUT"),
            ("C", Some(-12), "C, exit_status -11 or -12", "FINISHED/TIMEOUT"),
            ("C", Some(-10), "C, exit_status -10", "FINISHED/OUT_OF_MEMORY"),
        ];
        let jobs: Vec<(&str, Option<i32>)> = cases.iter().map(|c| (c.0, c.1)).collect();
        let got = read(&jobs, 0, "").unwrap();
        let rows: Vec<(&str, &str)> = cases.iter().map(|c| (c.2, c.3)).collect();
        crate::site::qsub::table_test::check(STATES, &rows, &got);
        assert_eq!(got[8].exit_code, Some(2));
        assert_eq!(got[9].signal, Some(15));
        assert_eq!(
            got[10].reason.as_deref(),
            Some("exit_status=-9: could not create or open the stdout and stderr files")
        );
        assert_eq!(
            got[12].reason.as_deref(),
            Some("exit_status=-11: exceeded a walltime limit")
        );
    }

    #[test]
    fn unknown_jobs_are_left_out_failures_are_no_answer() {
        let got = read(&[("R", None)], 153, "qstat: Unknown Job Id Error 9.torque01\n").unwrap();
        assert_eq!(got.len(), 1);
        let err = read(
            &[("R", None)],
            1,
            "qstat: cannot connect to server torque01 (errno=111) Connection refused\n",
        );
        assert!(err
            .unwrap_err()
            .starts_with("qstat failed with exit code 1: qstat: cannot connect"));
    }

    #[test]
    fn qsub_output() {
        assert_eq!(parse_qsub_output("1234.torque01\n").as_deref(), Some("1234.torque01"));
        assert_eq!(parse_qsub_output("\n"), None);
        assert_eq!(parse_qsub_output("qsub: submit error\n"), None);
    }
}
