//! PBS Pro / OpenPBS: `qsub`, `qstat`, `qdel`, `qsig`, `#PBS` directives.
//!
//! The eleven translations of troika 0.2.7 are always on. With
//! `resource_syntax: select` the node, task, cpu, memory, exclusive and GPU
//! directives are translated too, together, into PBS Pro's
//! `-l select=...` and `-l place=...` (see `SELECT_DOC`).
//!
//! Job states come from `qstat -x -f ID...`, the job history included
//! ([`STATES`]). No PBS server runs on the machines this is developed on:
//! the tests use an emulator of its commands (tests/emulators/pbs/).

use nix::sys::signal::Signal;

use super::batch::{argv, BatchSite, KillCommand, Recovery, StateQueries};
use super::qsub::{
    answer_text, as_asked, parse_qstat_states, qstat_args, qstat_asked, sequence_number, subjob_as_task,
    unknown_qstat_job, ExecCode, QCommands, QScheduler, DEPEND_ROW, NO_SIGNAL_ROW, ROWS,
};
use super::retry::Pattern;
use super::units::{parse_memory, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::{Answer, NativeState, Outcome as JobOutcome, State};
use crate::script::translate::{Entry, Joint, Table};
use crate::script::NativeSyntax;
use crate::util::{quote, quote_bytes};

/// The qsub family's keys, and `resource_syntax`.
pub const KEYS: &[&str] = &{
    const FAMILY: &[&str] = super::qsub::KEYS;
    let mut all = [""; FAMILY.len() + 1];
    let mut i = 0;
    while i < FAMILY.len() {
        all[i] = FAMILY[i];
        i += 1;
    }
    all[i] = "resource_syntax";
    all
};

/// PBS's job states (`job_state` of `qstat -f`), and for a finished job
/// what its `Exit_status` says. Rows that name an `Exit_status` are read
/// from the exit status of a job in `F` or `X`.
pub const STATES: &[NativeState] = &[
    NativeState::new("Q", State::Queued, "queued, eligible to run or be routed"),
    NativeState::new("T", State::Queued, "in transition: being moved to a new location"),
    NativeState::new(
        "M",
        State::Queued,
        "moved to another server (where it goes on; ask it there with ID@server)",
    ),
    NativeState::new(
        "H",
        State::Held,
        "held (by a user, an administrator or the system), or waiting for a dependency",
    ),
    NativeState::new(
        "W",
        State::Held,
        "waiting for its start time (`qsub -a`), or for a failed file stage-in to be retried",
    ),
    NativeState::new("R", State::Running, "running"),
    NativeState::new("B", State::Running, "array job: at least one subjob has started"),
    NativeState::new(
        "S",
        State::Suspended,
        "suspended by the server (a job of higher priority runs)",
    ),
    NativeState::new(
        "U",
        State::Suspended,
        "suspended: its workstation became busy (cycle harvesting)",
    ),
    NativeState::new("E", State::Completing, "exiting after having run"),
    NativeState::finished(
        "F",
        None,
        "finished (job history): `Exit_status` 0 SUCCEEDED, 1 to 255 FAILED (the script's exit code), 256 + N \
         KILLED by signal N (PBS sent it: qdel, qsig, a limit), negative FAILED (PBS could not run the job; the \
         reason names its JOB_EXEC code), except the codes below",
    ),
    NativeState::finished("X", None, "subjob finished or expired: as `F`"),
    NativeState::finished(
        "F, no Exit_status",
        Some(JobOutcome::Cancelled),
        "deleted before it ran",
    ),
    NativeState::finished(
        "F, Exit_status -29 or -28",
        Some(JobOutcome::Timeout),
        "killed for exceeding its walltime (JOB_EXEC_KILL_WALLTIME) or cpu time (JOB_EXEC_KILL_CPUT)",
    ),
    NativeState::finished(
        "F, Exit_status -27 or -26",
        Some(JobOutcome::OutOfMemory),
        "killed for exceeding its memory (JOB_EXEC_KILL_MEM) or virtual memory (JOB_EXEC_KILL_VMEM)",
    ),
    NativeState::finished(
        "F, Exit_status -20",
        Some(JobOutcome::NodeFail),
        "the connection to its mother superior failed (JOB_EXEC_RERUN_MS_FAIL)",
    ),
];

/// PBS's negative exit statuses (OpenPBS `src/include/job.h`).
const EXEC_CODES: &[ExecCode] = &[
    (-1, "JOB_EXEC_FAIL1: failed before files, no retry", None),
    (-2, "JOB_EXEC_FAIL2: failed after files, no retry", None),
    (-3, "JOB_EXEC_RETRY: failed, to be retried", None),
    (-4, "JOB_EXEC_INITABT: aborted on MoM initialization", None),
    (
        -5,
        "JOB_EXEC_INITRST: aborted on MoM initialization, checkpoint, no migration",
        None,
    ),
    (
        -6,
        "JOB_EXEC_INITRMG: aborted on MoM initialization, checkpoint, migration",
        None,
    ),
    (-7, "JOB_EXEC_BADRESRT: restart failed", None),
    (-10, "JOB_EXEC_FAILUID: invalid uid or gid", None),
    (-11, "JOB_EXEC_RERUN: rerun", None),
    (-12, "JOB_EXEC_CHKP: checkpointed and killed", None),
    (-13, "JOB_EXEC_FAIL_PASSWORD: bad password", None),
    (-14, "JOB_EXEC_RERUN_SIS_FAIL: rerun", None),
    (-15, "JOB_EXEC_QUERST: requeued for a restart from checkpoint", None),
    (-16, "JOB_EXEC_FAILHOOK_RERUN: a hook rejected it, requeued", None),
    (-17, "JOB_EXEC_FAILHOOK_DELETE: a hook rejected it, deleted", None),
    (-18, "JOB_EXEC_HOOK_RERUN: a hook requeued it", None),
    (-19, "JOB_EXEC_HOOK_DELETE: a hook deleted it", None),
    (
        -20,
        "JOB_EXEC_RERUN_MS_FAIL: the connection to its mother superior failed",
        Some(JobOutcome::NodeFail),
    ),
    (-21, "JOB_EXEC_FAIL_SECURITY: security breach in a PBS directory", None),
    (-22, "JOB_EXEC_HOOKERROR: a hook failed or timed out", None),
    (-23, "JOB_EXEC_FAIL_KRB5: no kerberos credentials", None),
    (-24, "JOB_EXEC_KILL_NCPUS_BURST: exceeded its ncpus (burst)", None),
    (-25, "JOB_EXEC_KILL_NCPUS_SUM: exceeded its ncpus (sum)", None),
    (
        -26,
        "JOB_EXEC_KILL_VMEM: exceeded its virtual memory",
        Some(JobOutcome::OutOfMemory),
    ),
    (
        -27,
        "JOB_EXEC_KILL_MEM: exceeded its memory",
        Some(JobOutcome::OutOfMemory),
    ),
    (
        -28,
        "JOB_EXEC_KILL_CPUT: exceeded its cpu time",
        Some(JobOutcome::Timeout),
    ),
    (
        -29,
        "JOB_EXEC_KILL_WALLTIME: exceeded its walltime",
        Some(JobOutcome::Timeout),
    ),
    (-30, "JOB_EXEC_JOINJOB: join job error", None),
];

/// The options of the status query: `qstat -x -f ID...`.
const QUERY_OPTIONS: [&str; 2] = ["-x", "-f"];

/// Rows of every PBS site (with the family's, troika 0.2.7's), then the
/// rows of `resource_syntax: select`.
const ENTRIES: &[Entry] = &[
    Entry::func(
        "array",
        array,
        "`-J <start>-<end>[:<step>][%<limit>]` (one range); the index is in `PBS_ARRAY_INDEX` and `TROIKA_ARRAY_INDEX`",
    ),
    DEPEND_ROW,
    Entry::joint(
        "error_file",
        error_file,
        "`-e <value>`; with `array`, `-e <value>.^array_index^`: a file per task",
    ),
    Entry::func("join_output_error", join_output_error, "`-j oe` (whatever the value)"),
    Entry::joint(
        "output_file",
        output_file,
        "`-o <value>`; with `array`, `-o <value>.^array_index^`: a file per task",
    ),
    NO_SIGNAL_ROW,
    Entry::format("walltime", "-l walltime=%s"),
    // resource_syntax: select
    Entry::joint("total_nodes", select, SELECT_DOC),
    Entry::joint(
        "total_tasks",
        select,
        "T (see `total_nodes`): spread over the nodes as evenly as possible; alone, one chunk per task",
    ),
    Entry::joint(
        "tasks_per_node",
        select,
        "P (see `total_nodes`): the most tasks a node runs; `mpiprocs` of a chunk",
    ),
    Entry::joint(
        "cpus_per_task",
        select,
        "C (see `total_nodes`): `ncpus` of a chunk is C × its tasks",
    ),
    Entry::joint(
        "memory_per_node",
        select,
        "M (see `total_nodes`): `mem=` of each chunk, in PBS units (`4G` -> `4gb`, `1.5G` -> \
             `1536mb`; a number alone is in megabytes)",
    ),
    Entry::joint(
        "exclusive",
        select,
        "(see `total_nodes`) `excl` in `-l place=` if true or empty, nothing if false; `exclhost` and \
             `shared` as given",
    ),
    Entry::joint(
        "gpus_per_node",
        select,
        "G (see `total_nodes`): `ngpus=G` in each chunk (a chunk is a node; not with `total_tasks` alone)",
    ),
    Entry::joint(
        "gpus_per_task",
        select,
        "(see `total_nodes`): `ngpus` of a chunk is this × its tasks; needs `total_tasks` or `tasks_per_node`",
    ),
    Entry::joint(
        "total_gpus",
        select,
        "(see `total_nodes`): divided among the chunks, `ngpus` = this / their number when it divides evenly, \
             else an error",
    ),
];

/// The variable of an array task's index.
const ARRAY_INDEX: Option<&str> = Some("PBS_ARRAY_INDEX");

/// `-J 1-10:2%3`.
fn array(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let spec = super::array::Spec::parse(v)?;
    let r = spec.single_range(v, "PBS")?;
    let step = if r.step > 1 {
        format!(":{}", r.step)
    } else {
        String::new()
    };
    let limit = spec.limit_suffix();
    Ok(vec![format!("-J {}-{}{step}{limit}", r.start, r.end).into_bytes()])
}

fn output_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "-o ", "^array_index^")
}

fn error_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "-e ", "^array_index^")
}

/// How many rows of [`ENTRIES`] every PBS site has.
const BASE_ROWS: usize = 7;

/// The full table, as documented: troika 0.2.7's rows and the `select` rows.
pub const TABLE: Table = Table::joined(ROWS, ENTRIES);

/// The table of a site without `resource_syntax: select`: troika 0.2.7's
/// eleven rows, the node, task, cpu, memory and GPU directives unknown.
pub const TABLE_0_2_7: Table = Table::joined(ROWS, ENTRIES.split_at(BASE_ROWS).0);

/// How the node, task, cpu, memory, exclusive and GPU directives combine.
const SELECT_DOC: &str = "Only with `resource_syntax: select` (PBS Pro, OpenPBS). `total_nodes` (N), \
    `total_tasks` (T), `tasks_per_node` (P), `cpus_per_task` (C), `memory_per_node` (M), `exclusive` and \
    the GPU directives together become one `-l select=...` line and one `-l place=...` line, where the first of them in this \
    order is. A chunk is one node. The nodes are N, or T/P rounded up when only T and P are given, or 1 \
    when neither N nor T is given. As on Slurm, P is the most tasks a node runs: T tasks are spread over \
    the nodes as evenly as possible (N=2, T=9: `-l select=1:ncpus=5:mpiprocs=5+1:ncpus=4:mpiprocs=4`), \
    and N and P without T make N × P tasks. A chunk asks `mpiprocs` = its tasks, `ncpus` = its tasks × C \
    (C alone: `ncpus=C`) and `mem=M`. T alone asks for T chunks of one task each, placed anywhere (M is \
    then refused: memory per node needs a node count). Several nodes add `scatter` to the placement, \
    `exclusive` adds `excl` (`-l place=scatter:excl`). GPUs (one of `gpus_per_node`, `gpus_per_task`, \
    `total_gpus`) are `ngpus` of each chunk (N=2, `total_gpus=8`: `-l select=2:ngpus=4`). Counts are whole numbers above zero and \
    N <= T <= N × P; anything else is an error. The `resources` translator can fill in a missing count \
    first. Without `resource_syntax: select` (the default, as in troika 0.2.7) these directives are \
    unknown to PBS sites";

/// `#PBS` lines; output, error and join options are set by troika.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "PBS",
    drop: &["-o", "-e", "-j"],
    command: "qsub",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "pbs",
        keys: KEYS,
        syntax: ScriptSyntax::batch("#PBS ", NATIVE, TABLE, super::units::Style::Pbs),
        traits: Traits {
            front_end: Some(FRONT_END),
            recipes: RECIPES,
            ..Traits::batch(STATES, FAULTS, ARRAY_INDEX, &FOREIGN)
        },
        create: |s| BatchSite::create(s, Pbs::new),
    }
}

/// `troika qsub`: this scheduler's command line, submitted anywhere.
const FRONT_END: super::FrontEnd = super::FrontEnd {
    command: "qsub",
    about: "Submit with qsub's options and #PBS lines, to --site or the default site",
    submitted: |id| format!("{id}\n"),
};

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[super::Recipe::new(
    "pbs",
    "PBS Pro / OpenPBS",
    include_str!("../../recipes/pbs.yml"),
)];

fn join_output_error(_: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![b"-j oe".to_vec()])
}

/// A positive count, for the `select` combination.
fn count(name: &str, v: &[u8]) -> Result<u64> {
    super::units::count("PBS select", name, v)
}

/// A memory size in PBS units, read by the units library: `500M` ->
/// `500mb`, `64G`/`64gb` -> `64gb`, `1.5G` -> `1536mb`, a number alone is in
/// megabytes.
fn pbs_memory(v: &[u8]) -> Result<String> {
    let bad = |why: String| Error::Script(format!("PBS select: memory_per_node: {why}"));
    let text = std::str::from_utf8(v).map_err(|_| bad(format!("invalid size {}", quote_bytes(v))))?;
    let kib = parse_memory(text).map_err(bad)?;
    Style::Pbs.memory(kib).map_err(bad)
}

/// `exclusive` as a PBS placement sharing value, `None` for not exclusive.
fn sharing(v: &[u8]) -> Result<Option<&'static str>> {
    let s = std::str::from_utf8(v).unwrap_or("").trim().to_ascii_lowercase();
    if s.is_empty() {
        return Ok(Some("excl"));
    }
    match (crate::util::parse_bool(&s), s.as_str()) {
        (Some(true), _) | (_, "excl") => Ok(Some("excl")),
        (Some(false), _) => Ok(None),
        (_, "exclhost") => Ok(Some("exclhost")),
        (_, "shared") => Ok(Some("shared")),
        _ => Err(Error::Script(format!(
            "PBS select: invalid exclusive {} (expected true, false, excl, exclhost or shared)",
            quote_bytes(v)
        ))),
    }
}

fn product(a: u64, b: u64) -> Result<u64> {
    a.checked_mul(b)
        .ok_or_else(|| Error::Script(format!("PBS select: {a} × {b} is too large")))
}

/// Chunks of a `select`: (how many, tasks in each), `None` tasks when no
/// task count was given.
type Chunks = Vec<(u64, Option<u64>)>;

/// `tasks` spread over `nodes` as evenly as possible: the first
/// `tasks % nodes` nodes run one task more.
fn spread(tasks: u64, nodes: u64) -> Chunks {
    let (lo, extra) = (tasks / nodes, tasks % nodes);
    let mut chunks = Vec::new();
    if extra > 0 {
        chunks.push((extra, Some(lo + 1)));
    }
    if nodes > extra {
        chunks.push((nodes - extra, Some(lo)));
    }
    chunks
}

/// The directives of the `select` combination, in the order that picks
/// where its lines go.
const SELECT_PARTS: [&str; 9] = [
    "total_nodes",
    "total_tasks",
    "tasks_per_node",
    "cpus_per_task",
    "memory_per_node",
    "exclusive",
    "gpus_per_node",
    "gpus_per_task",
    "total_gpus",
];

/// The GPU directives, of which a job gives one.
const GPU_PARTS: [&str; 3] = ["gpus_per_node", "gpus_per_task", "total_gpus"];

/// The `select` combination ([`SELECT_DOC`]): written where the first
/// present of [`SELECT_PARTS`] is; the others write nothing.
fn select(j: &Joint) -> Result<Vec<Vec<u8>>> {
    let get = |name: &str| if name == j.name { Some(j.value) } else { j.get(name) };
    if SELECT_PARTS.iter().find(|p| get(p).is_some()).copied() != Some(j.name) {
        return Ok(vec![]);
    }
    let members: Vec<(&str, &[u8])> = SELECT_PARTS.iter().filter_map(|p| get(p).map(|v| (*p, v))).collect();
    select_lines(&members)
}

/// The `select` and `place` lines for the members present.
fn select_lines(members: &[(&str, &[u8])]) -> Result<Vec<Vec<u8>>> {
    let get = |n: &str| members.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
    let opt_count = |n: &str| get(n).map(|v| count(n, v)).transpose();
    let nodes = opt_count("total_nodes")?;
    let per_node = opt_count("tasks_per_node")?;
    let tasks = opt_count("total_tasks")?;
    let cpus = opt_count("cpus_per_task")?;
    let mem = get("memory_per_node").map(pbs_memory).transpose()?;
    let share = match get("exclusive") {
        Some(v) => sharing(v)?,
        None => None,
    };
    let gpus: Vec<&str> = GPU_PARTS.iter().copied().filter(|g| get(g).is_some()).collect();
    if gpus.len() > 1 {
        return Err(Error::Script(format!(
            "PBS select: give one of gpus_per_node, gpus_per_task and total_gpus, not {}",
            gpus.join(" and ")
        )));
    }
    // (directive, count)
    let gpu = match gpus.first() {
        Some(g) => Some((*g, count(g, get(g).unwrap_or_default())?)),
        None => None,
    };
    // As on Slurm, tasks_per_node is the most tasks a node runs: every node
    // runs at least one task and at most tasks_per_node.
    if let (Some(n), Some(t)) = (nodes, tasks) {
        if t < n {
            return Err(Error::Script(format!(
                "PBS select: total_tasks={t} with total_nodes={n} leaves a node without a task"
            )));
        }
        if let Some(p) = per_node {
            if t > product(n, p)? {
                return Err(Error::Script(format!(
                    "PBS select: total_tasks={t}, total_nodes={n} and tasks_per_node={p} disagree: {n} nodes \
                     of at most {p} tasks run at most {} tasks",
                    n * p
                )));
            }
        }
    }
    // (chunks, whether a chunk is a node)
    let layout: Option<(Chunks, bool)> = match (nodes, per_node, tasks) {
        (Some(n), Some(p), None) => Some((vec![(n, Some(p))], true)),
        (Some(n), _, Some(t)) => Some((spread(t, n), true)),
        (Some(n), None, None) => Some((vec![(n, None)], true)),
        (None, Some(p), Some(t)) => Some((spread(t, t.div_ceil(p)), true)),
        (None, Some(p), None) => Some((vec![(1, Some(p))], true)),
        (None, None, Some(t)) => Some((vec![(t, Some(1))], false)),
        (None, None, None) if cpus.is_some() || mem.is_some() || gpu.is_some() => Some((vec![(1, None)], true)),
        (None, None, None) => None,
    };
    let mut out = Vec::new();
    let mut place = Vec::new();
    if let Some((chunks, chunk_is_node)) = layout {
        if !chunk_is_node && mem.is_some() {
            return Err(Error::Script(
                "PBS select: memory_per_node needs a node count: give total_nodes, or tasks_per_node with \
                 total_tasks"
                    .into(),
            ));
        }
        if !chunk_is_node && matches!(gpu, Some(("gpus_per_node", _))) {
            return Err(Error::Script(
                "PBS select: gpus_per_node needs a node count: give total_nodes, or tasks_per_node with \
                 total_tasks"
                    .into(),
            ));
        }
        let chunk_count: u64 = chunks.iter().map(|(c, _)| c).sum();
        let mut specs = Vec::new();
        for (count, procs) in &chunks {
            let mut spec = count.to_string();
            match (procs, cpus) {
                (Some(p), c) => {
                    spec.push_str(&format!(":ncpus={}:mpiprocs={p}", product(*p, c.unwrap_or(1))?));
                }
                (None, Some(c)) => spec.push_str(&format!(":ncpus={c}")),
                (None, None) => {}
            }
            if let Some(m) = &mem {
                spec.push_str(&format!(":mem={m}"));
            }
            if let Some((name, g)) = gpu {
                let ngpus = match name {
                    "gpus_per_node" => g,
                    "gpus_per_task" => match procs {
                        Some(p) => product(*p, g)?,
                        None => {
                            return Err(Error::Script(
                                "PBS select: gpus_per_task needs a task count: give total_tasks or \
                                 tasks_per_node"
                                    .into(),
                            ))
                        }
                    },
                    _ if g % chunk_count == 0 => g / chunk_count,
                    _ => {
                        return Err(Error::Script(format!(
                            "PBS select: total_gpus={g} cannot be divided evenly among {chunk_count} chunks \
                             (PBS asks for GPUs per chunk): give gpus_per_node or gpus_per_task, or a total \
                             that {chunk_count} divides"
                        )))
                    }
                };
                spec.push_str(&format!(":ngpus={ngpus}"));
            }
            specs.push(spec);
        }
        out.push(format!("-l select={}", specs.join("+")).into_bytes());
        let node_count: u64 = chunks.iter().map(|(c, _)| c).sum();
        if chunk_is_node && node_count > 1 {
            place.push("scatter");
        }
    }
    if let Some(s) = share {
        place.push(s);
    }
    if !place.is_empty() {
        out.push(format!("-l place={}", place.join(":")).into_bytes());
    }
    Ok(out)
}

/// Reads the job id from `qsub` output: PBS prints only the id
/// (`1234.server`). The last non-empty line is taken, so that a banner
/// printed by a site's qsub wrapper does not hide it.
pub fn parse_qsub_output(out: &str) -> Option<String> {
    let id = out.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    (!id.chars().any(char::is_whitespace)).then(|| id.to_string())
}

/// A PBS Pro / OpenPBS server.
pub struct Pbs {
    q: QCommands,
    /// `edition: 2026`: a kill of a job that is gone is VANISHED, and a job
    /// that does not run yet is removed with `qdel` when `qsig` refuses it.
    /// For 0.2.7 any failure fails the kill.
    forgiving_kill: bool,
}

impl Pbs {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        let q = QCommands::read(&s.config, true)?;
        s.syntax.table = match s.config.opt_str("resource_syntax")?.as_deref() {
            None | Some("none") => TABLE_0_2_7,
            Some("select") => TABLE,
            Some(other) => {
                let at = s
                    .config
                    .get("resource_syntax")
                    .map(|n| s.config.at(n))
                    .unwrap_or_default();
                return Err(Error::config(format!(
                    "{at}: site '{}': invalid 'resource_syntax' {}: expected 'none' (troika 0.2.7's \
                     directives) or 'select' (PBS Pro / OpenPBS -l select=...)",
                    s.config.name,
                    quote(other)
                )));
            }
        };
        Ok(Pbs {
            q,
            forgiving_kill: s.config.behaviour().pbs_forgiving_kill,
        })
    }
}

impl QScheduler for Pbs {
    fn q(&self) -> &QCommands {
        &self.q
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_qsub_output(stdout)
    }

    /// PBS takes signal numbers.
    fn signal_word(&self, sig: Signal) -> Option<String> {
        Some((sig as i32).to_string())
    }

    /// `Unknown Job Id` (never existed, or gone), `Job has finished` (kept
    /// in the history): the job is not there to kill, when the kill is
    /// forgiving.
    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        let text = out.text();
        self.forgiving_kill && (text.contains("Unknown Job Id") || text.contains("Job has finished"))
    }

    /// `qsig` refuses jobs that do not run (queued, held):
    /// `qsig: Request invalid for state of job 12.srv`.
    fn not_running(&self, out: &Outcome) -> bool {
        self.forgiving_kill && out.text().contains("Request invalid for state of job")
    }
}

/// PBS's words of failures that pass (from its documentation; no PBS
/// server runs here to see them).
const FAULTS: &[Pattern] = &[
    Pattern::not_started("cannot connect to server"),
    Pattern::not_started("pbs_iff: cannot connect to host"),
];

impl Recovery for Pbs {}

/// `qstat -Q -f` and `qstat -B -f`.
impl super::qsub::QstatQueues for Pbs {}

impl StateQueries for Pbs {
    /// `qstat -x -f ID...`: every job asked, finished ones from the job
    /// history.
    /// `qstat -x -f IDS`, with `-t` when an array job is asked (`12[]`):
    /// its subjobs too.
    fn queue_argv(&self, jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        Some(argv(&self.q.qstat, &qstat_args(&QUERY_OPTIONS, jids)))
    }

    /// A job PBS does not know (never, or no more: its history expired) is
    /// no answer (`qstat: Unknown Job Id ID`, exit 153); other failures are.
    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        let text = answer_text(out, argv, unknown_qstat_job)?;
        let found = parse_qstat_states(&text, STATES, "PBS", "Exit_status", EXEC_CODES)
            .into_iter()
            .map(subjob_as_task)
            .collect();
        let asked = qstat_asked(argv, &self.q.qstat, QUERY_OPTIONS.len());
        Ok(as_asked(found, asked, sequence_number))
    }
}

// ---- Foreign directives: `#PBS` lines read elsewhere ----

use crate::script::foreign::{self as fd, Conv, Foreign, Opt, Res, Takes};

/// `#PBS` options as generic directives, for a script sent to another
/// scheduler and for `troika qsub` (with Torque's, which share `#PBS`).
pub const FOREIGN: Foreign = Foreign {
    scheduler: "PBS",
    prefix: "PBS",
    array_index: ARRAY_INDEX,
    shared: super::qsub::FOREIGN_SHARED,
    options: &[
        Opt::new(&["-l"], Takes::Value, Conv::Resources),
        Opt::func(
            &["-j"],
            super::qsub::foreign_join,
            "join_output_error (`oe`, `eo`); `n` is nothing",
        ),
        Opt::func(
            &["-W"],
            super::qsub::foreign_w,
            "`depend=...` as depends_on; other attributes are not translated",
        ),
        Opt::func(&["-J"], |v| Ok(vec![("array", fd::check_array(v)?)]), "array"),
    ],
    resources: &[
        Res {
            key: "walltime",
            conv: Conv::Func(fd::generic_walltime, "walltime, as `HH:MM:SS`"),
        },
        Res {
            key: "select",
            conv: Conv::Func(foreign_select, FOREIGN_SELECT_DOC),
        },
        Res {
            key: "place",
            conv: Conv::Func(
                foreign_place,
                "`excl` (alone or with `scatter`, `pack`, `free`) as exclusive; other placements are nothing",
            ),
        },
        Res {
            key: "mem",
            conv: Conv::Func(|v| fd::generic_memory("memory_per_node", v), "memory_per_node"),
        },
        Res {
            key: "ncpus",
            conv: Conv::To("cpus_per_task"),
        },
        Res {
            key: "ngpus",
            conv: Conv::To("gpus_per_node"),
        },
    ],
};

const FOREIGN_SELECT_DOC: &str =
    "`N:ncpus=C:mpiprocs=P:mem=M:ngpus=G` (one kind of chunk): total_nodes N, tasks_per_node P, \
     cpus_per_task C/P (C with no `mpiprocs`), memory_per_node M, gpus_per_node G";

/// `select=N:ncpus=C:mpiprocs=P:mem=M:ngpus=G`: one chunk per node.
fn foreign_select(v: &str) -> super::qsub::Pairs {
    if v.contains('+') {
        return Err("chunks of several kinds (`+`) are not translated".into());
    }
    let mut parts = v.split(':');
    let first = parts.next().unwrap_or("");
    let (mut n, mut rest): (u64, Vec<&str>) = (1, vec![]);
    match first.contains('=') {
        true => rest.push(first),
        false => n = fd::count(first, "the chunk count")?,
    }
    rest.extend(parts);
    let (mut ncpus, mut mpiprocs) = (None, None);
    let mut out = vec![("total_nodes", n.to_string())];
    for kv in rest {
        let (k, val) = kv
            .split_once('=')
            .ok_or_else(|| format!("{} is not key=value", quote(kv)))?;
        match k {
            "ncpus" => ncpus = Some(fd::count(val, "ncpus")?),
            "mpiprocs" => mpiprocs = Some(fd::count(val, "mpiprocs")?),
            "mem" => out.extend(fd::generic_memory("memory_per_node", val)?),
            "ngpus" => out.push(("gpus_per_node", val.to_string())),
            other => return Err(format!("the chunk resource {} is not translated", quote(other))),
        }
    }
    match (ncpus, mpiprocs) {
        (Some(c), Some(p)) if p > 0 && c % p == 0 => {
            out.push(("tasks_per_node", p.to_string()));
            out.push(("cpus_per_task", (c / p).to_string()));
        }
        (Some(c), Some(p)) => return Err(format!("ncpus={c} is not a multiple of mpiprocs={p}")),
        (None, Some(p)) => out.push(("tasks_per_node", p.to_string())),
        (Some(c), None) => out.push(("cpus_per_task", c.to_string())),
        (None, None) => {}
    }
    Ok(out)
}

fn foreign_place(v: &str) -> super::qsub::Pairs {
    Ok(match v.split(':').any(|p| p == "excl" || p == "exclhost") {
        true => vec![("exclusive", "true".into())],
        false => vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::State;
    use crate::script::translate::Rule;

    fn pbs() -> Pbs {
        Pbs {
            q: QCommands::plain(),
            forgiving_kill: true,
        }
    }

    /// The answer of `qstat -x -f IDS`: exit status, standard output, standard error.
    fn ask(ids: &[&str], code: i32, stdout: &str, stderr: &str) -> Answer {
        let p = pbs();
        let argv = p.queue_argv(ids, None).unwrap();
        assert_eq!(argv[..3], ["qstat", "-x", "-f"]);
        p.parse_queue(&crate::site::qsub::table_test::answer(code, stdout, stderr), &argv)
    }

    #[test]
    fn every_state_and_exit_status_is_read() {
        // (job_state, Exit_status), the row it exercises, what it means.
        let cases: &[(&str, Option<i32>, &str, &str)] = &[
            ("Q", None, "Q", "QUEUED"),
            ("T", None, "T", "QUEUED"),
            ("M", None, "M", "QUEUED"),
            ("H", None, "H", "HELD"),
            ("W", None, "W", "HELD"),
            ("R", None, "R", "RUNNING"),
            ("B", None, "B", "RUNNING"),
            ("S", None, "S", "SUSPENDED"),
            ("U", None, "U", "SUSPENDED"),
            ("E", Some(0), "E", "COMPLETING"),
            ("F", Some(0), "F", "FINISHED/SUCCEEDED"),
            ("F", Some(3), "F", "FINISHED/FAILED"),
            ("F", Some(143), "F", "FINISHED/FAILED"),
            ("F", Some(271), "F", "FINISHED/KILLED"),
            ("F", Some(-1), "F", "FINISHED/FAILED"),
            ("F", Some(-99), "F", "FINISHED/FAILED"),
            ("X", Some(265), "X", "FINISHED/KILLED"),
            ("F", None, "F, no Exit_status", "FINISHED/CANCELLED"),
            ("F", Some(-29), "F, Exit_status -29 or -28", "FINISHED/TIMEOUT"),
            ("F", Some(-28), "F, Exit_status -29 or -28", "FINISHED/TIMEOUT"),
            ("F", Some(-27), "F, Exit_status -27 or -26", "FINISHED/OUT_OF_MEMORY"),
            ("F", Some(-26), "F, Exit_status -27 or -26", "FINISHED/OUT_OF_MEMORY"),
            ("F", Some(-20), "F, Exit_status -20", "FINISHED/NODE_FAIL"),
        ];
        let mut text = String::new();
        let mut ids = Vec::new();
        for (i, (state, exit, _, _)) in cases.iter().enumerate() {
            ids.push(format!("{i}.pbs01"));
            text.push_str(&format!(
                "Job Id: {i}.pbs01\n    Job_Name = j{i}\n    job_state = {state}\n"
            ));
            if let Some(e) = exit {
                text.push_str(&format!("    Exit_status = {e}\n"));
            }
            text.push('\n');
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let got = ask(&ids, 0, &text, "").unwrap();
        let rows: Vec<(&str, &str)> = cases.iter().map(|c| (c.2, c.3)).collect();
        crate::site::qsub::table_test::check(STATES, &rows, &got);
        // The exit code and the signal.
        assert_eq!((got[11].exit_code, got[11].signal), (Some(3), None));
        assert_eq!((got[13].exit_code, got[13].signal), (None, Some(15)));
        assert_eq!(got[13].reason.as_deref(), Some("Exit_status=271: signal 15"));
        assert_eq!(got[14].exit_code, Some(-1));
        assert_eq!(
            got[14].reason.as_deref(),
            Some("Exit_status=-1: JOB_EXEC_FAIL1: failed before files, no retry")
        );
        assert_eq!(
            got[15].reason.as_deref(),
            Some("Exit_status=-99: the job could not run")
        );
        assert_eq!(got[16].signal, Some(9));
        assert_eq!(got[17].reason.as_deref(), Some("no Exit_status: deleted before it ran"));
        assert!(got[18].reason.as_deref().unwrap().contains("JOB_EXEC_KILL_WALLTIME"));
        assert!(got.iter().all(|s| s.native_state.as_deref() != Some("")));
    }

    #[test]
    fn comments_ids_and_unknown_words() {
        let text = "Job Id: 7.pbs01\n    job_state = H\n    comment = job held, too many failed attempts to run\n\n\
                    Job Id: 8.pbs01\n    job_state = F\n    Exit_status = 0\n    comment = Job run at Tue Nov 25 at \n\t10:00 on (n1:ncpus=1) and finished\n\n\
                    Job Id: 9.pbs01\n    job_state = Z\n\n\
                    Job Id: 10.pbs01\n    job_state = R\n";
        // 7 is asked short; 10 was not asked.
        let got = ask(&["7", "8.pbs01", "9.pbs01"], 0, text, "").unwrap();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].job_id, "7");
        assert_eq!(got[0].state, State::Held);
        assert_eq!(
            got[0].reason.as_deref(),
            Some("job held, too many failed attempts to run")
        );
        assert_eq!(
            got[1].reason.as_deref(),
            Some("Job run at Tue Nov 25 at 10:00 on (n1:ncpus=1) and finished")
        );
        assert_eq!(got[2].state, State::Unknown);
        assert_eq!(got[2].native_state.as_deref(), Some("Z"));
        assert_eq!(got[2].reason.as_deref(), Some("unknown PBS state 'Z'"));
    }

    #[test]
    fn a_failing_qstat_is_no_answer_but_unknown_jobs_are() {
        let one = "Job Id: 1.pbs01\n    job_state = R\n";
        let got = ask(&["1.pbs01", "2.pbs01"], 153, one, "qstat: Unknown Job Id 2.pbs01\n").unwrap();
        assert_eq!(got.len(), 1);
        let err = ask(
            &["1.pbs01"],
            162,
            "",
            "qstat: cannot connect to server pbs01 (errno=15010)\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "qstat failed with exit code 162: qstat: cannot connect to server pbs01 (errno=15010)"
        );
        // One unknown job beside a failure: no answer.
        let mixed = "qstat: Unknown Job Id 2.pbs01\nqstat: Connection timed out\n";
        assert!(ask(&["1.pbs01", "2.pbs01"], 1, one, mixed).is_err());
    }

    fn sel(items: &[(&str, &str)]) -> Result<Vec<String>> {
        let m: Vec<(&str, &[u8])> = items.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        select_lines(&m).map(|v| v.into_iter().map(|l| String::from_utf8(l).unwrap()).collect())
    }

    #[test]
    fn base_table_is_troika_0_2_7() {
        let mut names: Vec<&str> = TABLE_0_2_7.entries().map(|e| e.name).collect();
        names.sort();
        assert_eq!(
            names,
            [
                // Not 0.2.7's: arrays and dependencies.
                "array",
                "billing_account",
                "depends_on",
                "error_file",
                "export_vars",
                // Not 0.2.7's: submit held.
                "hold",
                "join_output_error",
                "mail_type",
                "mail_user",
                "name",
                "output_file",
                "priority",
                "queue",
                // Not 0.2.7's: an error that says PBS cannot.
                "signal_before_end",
                "walltime"
            ]
        );
        // Its only joint rows are the files, which read `array` alone.
        assert!(TABLE_0_2_7
            .entries()
            .all(|e| !matches!(e.rule, Rule::Joint(..)) || e.name.ends_with("_file")));
        let extra = &ENTRIES[BASE_ROWS..];
        assert!(extra.iter().all(|e| matches!(e.rule, Rule::Joint(..))));
        let mut names: Vec<&str> = extra.iter().map(|e| e.name).collect();
        names.sort();
        let mut parts = SELECT_PARTS.to_vec();
        parts.sort();
        assert_eq!(names, parts);
    }

    #[test]
    fn qsub_output() {
        assert_eq!(parse_qsub_output("1234.server\n").as_deref(), Some("1234.server"));
        assert_eq!(parse_qsub_output("\n  99.server  \n").as_deref(), Some("99.server"));
        assert_eq!(
            parse_qsub_output("Welcome\n12[].pbs01\n").as_deref(),
            Some("12[].pbs01")
        );
        assert_eq!(parse_qsub_output(" \n\n"), None);
        assert_eq!(parse_qsub_output("job 12 queued"), None);
    }

    #[test]
    fn join_is_always_oe() {
        assert_eq!(join_output_error(b"no").unwrap(), vec![b"-j oe".to_vec()]);
    }

    #[test]
    fn select_combinations() {
        assert_eq!(
            sel(&[("total_nodes", "2"), ("tasks_per_node", "4"), ("cpus_per_task", "2")]).unwrap(),
            ["-l select=2:ncpus=8:mpiprocs=4", "-l place=scatter"]
        );
        assert_eq!(
            sel(&[("total_tasks", "8"), ("total_nodes", "2"), ("memory_per_node", "64G")]).unwrap(),
            ["-l select=2:ncpus=4:mpiprocs=4:mem=64gb", "-l place=scatter"]
        );
        assert_eq!(
            sel(&[("total_nodes", "2"), ("total_tasks", "9"), ("cpus_per_task", "2")]).unwrap(),
            [
                "-l select=1:ncpus=10:mpiprocs=5+1:ncpus=8:mpiprocs=4",
                "-l place=scatter"
            ]
        );
        assert_eq!(
            sel(&[("total_tasks", "12"), ("tasks_per_node", "4"), ("exclusive", "")]).unwrap(),
            ["-l select=3:ncpus=4:mpiprocs=4", "-l place=scatter:excl"]
        );
        assert_eq!(
            sel(&[("total_tasks", "10"), ("tasks_per_node", "4")]).unwrap(),
            [
                "-l select=1:ncpus=4:mpiprocs=4+2:ncpus=3:mpiprocs=3",
                "-l place=scatter"
            ]
        );
        assert_eq!(
            sel(&[("total_tasks", "5"), ("cpus_per_task", "3")]).unwrap(),
            ["-l select=5:ncpus=3:mpiprocs=1"]
        );
        assert_eq!(sel(&[("cpus_per_task", "6")]).unwrap(), ["-l select=1:ncpus=6"]);
        assert_eq!(sel(&[("memory_per_node", "4000")]).unwrap(), ["-l select=1:mem=4000mb"]);
        assert_eq!(sel(&[("memory_per_node", "1.5G")]).unwrap(), ["-l select=1:mem=1536mb"]);
        assert_eq!(
            sel(&[("tasks_per_node", "6")]).unwrap(),
            ["-l select=1:ncpus=6:mpiprocs=6"]
        );
        assert_eq!(
            sel(&[("total_nodes", "1"), ("exclusive", "true")]).unwrap(),
            ["-l select=1", "-l place=excl"]
        );
        assert_eq!(sel(&[("exclusive", "yes")]).unwrap(), ["-l place=excl"]);
        assert_eq!(sel(&[("exclusive", "exclhost")]).unwrap(), ["-l place=exclhost"]);
        assert!(sel(&[("exclusive", "no")]).unwrap().is_empty());
        assert_eq!(
            sel(&[("total_nodes", "3"), ("tasks_per_node", "2"), ("total_tasks", "6")]).unwrap(),
            ["-l select=3:ncpus=2:mpiprocs=2", "-l place=scatter"]
        );
        // tasks_per_node is a maximum, as on Slurm.
        assert_eq!(
            sel(&[("total_nodes", "2"), ("tasks_per_node", "5"), ("total_tasks", "9")]).unwrap(),
            [
                "-l select=1:ncpus=5:mpiprocs=5+1:ncpus=4:mpiprocs=4",
                "-l place=scatter"
            ]
        );
    }

    #[test]
    fn select_gpus() {
        assert_eq!(
            sel(&[("total_nodes", "2"), ("gpus_per_node", "4")]).unwrap(),
            ["-l select=2:ngpus=4", "-l place=scatter"]
        );
        assert_eq!(
            sel(&[("total_nodes", "2"), ("total_gpus", "8")]).unwrap(),
            ["-l select=2:ngpus=4", "-l place=scatter"]
        );
        assert_eq!(
            sel(&[("total_nodes", "2"), ("tasks_per_node", "4"), ("gpus_per_task", "1")]).unwrap(),
            ["-l select=2:ncpus=4:mpiprocs=4:ngpus=4", "-l place=scatter"]
        );
        // Uneven chunks: each asks for GPUs for its tasks.
        assert_eq!(
            sel(&[("total_nodes", "2"), ("total_tasks", "3"), ("gpus_per_task", "2")]).unwrap(),
            [
                "-l select=1:ncpus=2:mpiprocs=2:ngpus=4+1:ncpus=1:mpiprocs=1:ngpus=2",
                "-l place=scatter"
            ]
        );
        // Tasks placed anywhere: total_gpus per task-chunk.
        assert_eq!(
            sel(&[("total_tasks", "4"), ("total_gpus", "4")]).unwrap(),
            ["-l select=4:ncpus=1:mpiprocs=1:ngpus=1"]
        );
        assert_eq!(sel(&[("gpus_per_node", "2")]).unwrap(), ["-l select=1:ngpus=2"]);
        assert_eq!(sel(&[("total_gpus", "3")]).unwrap(), ["-l select=1:ngpus=3"]);
        let err = |items: &[(&str, &str)]| sel(items).unwrap_err().to_string();
        assert!(err(&[("total_nodes", "2"), ("total_gpus", "3")])
            .contains("total_gpus=3 cannot be divided evenly among 2 chunks"));
        assert!(err(&[("total_nodes", "2"), ("gpus_per_task", "1")]).contains("gpus_per_task needs a task count"));
        assert!(err(&[("total_tasks", "4"), ("gpus_per_node", "1")]).contains("gpus_per_node needs a node count"));
        assert!(err(&[("gpus_per_node", "1"), ("total_gpus", "2")])
            .contains("give one of gpus_per_node, gpus_per_task and total_gpus, not gpus_per_node and total_gpus"));
        assert!(err(&[("gpus_per_node", "many")]).contains("invalid gpus_per_node 'many'"));
    }

    #[test]
    fn select_errors_name_the_directives() {
        let err = |items: &[(&str, &str)]| sel(items).unwrap_err().to_string();
        assert!(err(&[("total_nodes", "two")]).contains("invalid total_nodes 'two'"));
        assert!(err(&[("total_nodes", "0")]).contains("whole number above zero"));
        assert!(err(&[("total_nodes", "3"), ("total_tasks", "2")]).contains("leaves a node without a task"));
        assert!(err(&[("total_nodes", "2"), ("tasks_per_node", "2"), ("total_tasks", "8")]).contains("disagree"));
        assert!(err(&[("total_tasks", "8"), ("memory_per_node", "1G")]).contains("needs a node count"));
        assert!(err(&[("memory_per_node", "lots")]).contains("memory_per_node: invalid size 'lots'"));
        assert!(err(&[("memory_per_node", "4X")]).contains("memory_per_node: invalid size '4X'"));
        assert!(err(&[("exclusive", "user")]).contains("invalid exclusive 'user'"));
        assert!(err(&[("tasks_per_node", "18446744073709551615"), ("cpus_per_task", "2")]).contains("too large"));
    }

    #[test]
    fn select_lines_go_where_the_first_part_is() {
        use crate::script::translate::{translate, Overrides, UnknownPolicy};
        use crate::script::Directives;
        let mut d = Directives::new();
        d.set("exclusive", b"".to_vec());
        d.set("name", b"x".to_vec());
        d.set("cpus_per_task", b"2".to_vec());
        d.set("total_nodes", b"2".to_vec());
        let run = |o: &Overrides| -> Vec<String> {
            translate(&d, &TABLE, o, Some(b"#PBS "), UnknownPolicy::Fail)
                .unwrap()
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect()
        };
        assert_eq!(
            run(&Overrides::new()),
            [
                "#PBS -N x\n",
                "#PBS -l select=2:ncpus=2\n",
                "#PBS -l place=scatter:excl\n"
            ]
        );
        // A directive that the configuration translates leaves the combination.
        let mut o = Overrides::new();
        o.insert("total_nodes".into(), Some("-l nodes=%s".into()));
        assert_eq!(
            run(&o),
            [
                "#PBS -N x\n",
                "#PBS -l select=1:ncpus=2\n",
                "#PBS -l place=excl\n",
                "#PBS -l nodes=2\n"
            ]
        );
        let e = translate(&d, &TABLE, &Overrides::new(), Some(b"#PBS "), UnknownPolicy::Fail);
        assert!(e.is_ok());
        d.set("total_tasks", b"1".to_vec());
        let e = translate(&d, &TABLE, &Overrides::new(), Some(b"#PBS "), UnknownPolicy::Fail)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Directive 'total_nodes': PBS select: total_tasks=1 with total_nodes=2 leaves a node without a task"
        );
    }

    #[test]
    fn memory_units() {
        assert_eq!(pbs_memory(b"500M").unwrap(), "500mb");
        assert_eq!(pbs_memory(b"64gb").unwrap(), "64gb");
        assert_eq!(pbs_memory(b"2T").unwrap(), "2tb");
        assert_eq!(pbs_memory(b"100kb").unwrap(), "100kb");
        assert_eq!(pbs_memory(b"4096").unwrap(), "4gb");
        assert!(pbs_memory(b"0").is_err());
        assert!(pbs_memory(b"G").is_err());
    }
}
