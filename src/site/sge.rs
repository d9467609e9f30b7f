//! Grid Engine (Son of Grid Engine, Univa/Altair Grid Engine): `qsub`,
//! `qstat -j`, `qdel`, `#$` directives.
//!
//! Grid Engine has no command that sends a chosen signal to a job: `qdel`
//! kills it (SIGKILL; a job submitted with `-notify` gets SIGUSR2 first, the
//! queue's `notify` time before). A configured `kill_sequence` is therefore
//! not followed: the kill is one `qdel`, as in troika 0.2.7.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::batch::{argv, query_failed, BatchSite, Job, KillCommand, Recovery, StateQueries};
use super::qsub::{QCommands, QScheduler, ROWS};
use super::queues::{QueueInfo, QueueQueries, QueueState};
use super::retry::Pattern;
use super::{CancelStatus, ScriptSyntax, SiteSettings, SiteType, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::{Answer, JobStatus, Meaning, NativeState, Outcome as JobOutcome, Source, State};
use crate::script::translate::{Entry, Joint, Table};
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &[
    "qsub_command",
    "qstat_command",
    "qdel_command",
    "qacct_command",
    "qconf_command",
    "qrls_command",
    "gpu_resource",
    "memory_resource",
];

/// Grid Engine's job states (the `state` column of `qstat`): letters that
/// combine (`hRwq`, `dRs`), read by rules on the letters ([`letters`]),
/// whatever the combination. The table lists the combinations the manual
/// names (`sge_status(5)`), those seen on a real cell, and the letters
/// alone; each reads as its row says (a unit test checks it).
pub const STATES: &[NativeState] = &[
    NativeState::new("qw", State::Queued, "pending"),
    NativeState::new("q", State::Queued, "queued"),
    NativeState::new("w", State::Queued, "waiting"),
    NativeState::new("Rq", State::Queued, "pending again after a restart (qmod -rj, a rerun)"),
    NativeState::new(
        "h",
        State::Held,
        "on hold (qhold, qsub -h, qalter -h) or waiting for a job it depends on (-hold_jid)",
    ),
    NativeState::new(
        "hqw",
        State::Held,
        "pending, on hold or waiting for a job it depends on",
    ),
    NativeState::new("hRwq", State::Held, "pending, on hold, restarted"),
    NativeState::new("r", State::Running, "running"),
    NativeState::new("t", State::Running, "being transferred to its host to start"),
    NativeState::new(
        "R",
        State::Running,
        "restarted (without another letter: taken as running again)",
    ),
    NativeState::new("Rr", State::Running, "running, restarted"),
    NativeState::new("Rt", State::Running, "being transferred, restarted"),
    NativeState::new(
        "hr",
        State::Running,
        "running, with a hold (qhold) that applies if it runs again",
    ),
    NativeState::new("s", State::Suspended, "suspended (qmod -sj)"),
    NativeState::new("ts", State::Suspended, "suspended while being transferred"),
    NativeState::new(
        "S",
        State::Suspended,
        "its queue is suspended (qmod -sq), or suspended by preemption",
    ),
    NativeState::new("tS", State::Suspended, "its queue is suspended"),
    NativeState::new(
        "T",
        State::Suspended,
        "its queue is suspended by a load threshold (alarm)",
    ),
    NativeState::new(
        "Tr",
        State::Suspended,
        "running, its queue suspended by a load threshold",
    ),
    NativeState::new("tT", State::Suspended, "its queue is suspended by a load threshold"),
    NativeState::new(
        "N",
        State::Suspended,
        "enhanced suspend (preemption, qmod -p ... N): suspended, resources freed",
    ),
    NativeState::new("Rs", State::Suspended, "suspended, restarted"),
    NativeState::new("Rts", State::Suspended, "suspended, restarted"),
    NativeState::new("RS", State::Suspended, "queue suspended, restarted"),
    NativeState::new("RtS", State::Suspended, "queue suspended, restarted"),
    NativeState::new("RT", State::Suspended, "queue suspended by a load threshold, restarted"),
    NativeState::new(
        "RtT",
        State::Suspended,
        "queue suspended by a load threshold, restarted",
    ),
    NativeState::new(
        "P",
        State::Requeued,
        "preempted (qmod -p ... P): put back to wait for its next run",
    ),
    NativeState::new("dr", State::Completing, "being deleted (qdel; it gets SIGKILL)"),
    NativeState::new("dt", State::Completing, "being deleted"),
    NativeState::new("ds", State::Completing, "being deleted"),
    NativeState::new("dS", State::Completing, "being deleted"),
    NativeState::new("dT", State::Completing, "being deleted"),
    NativeState::new("dRr", State::Completing, "being deleted"),
    NativeState::new("dRt", State::Completing, "being deleted"),
    NativeState::new("dRs", State::Completing, "being deleted"),
    NativeState::new("dRS", State::Completing, "being deleted"),
    NativeState::new("dRT", State::Completing, "being deleted"),
    NativeState::new(
        "z",
        State::Completing,
        "finished (zombie, listed by qstat -s z): its end is in qacct",
    ),
    NativeState::new(
        "Eqw",
        State::Held,
        "error: stays pending until the error is cleared (qmod -cj; qstat -j ID says why)",
    ),
    NativeState::new("Ehqw", State::Held, "error, on hold"),
    NativeState::new("EhRqw", State::Held, "error, on hold, restarted"),
    NativeState::finished(
        "qacct failed=0, exit_status=0",
        Some(JobOutcome::Succeeded),
        "accounting: ended with exit code 0",
    ),
    NativeState::finished(
        "qacct exit_status=N",
        None,
        "accounting: exit code N (above 128: signal N-128)",
    ),
    NativeState::finished(
        "qacct failed=37",
        Some(JobOutcome::Timeout),
        "accounting: a limit (h_rt, h_cpu or h_vmem) was enforced",
    ),
];

/// The letters `qstat` combines into a job's state.
const LETTERS: &str = "dEhqwrtRsSTNPz";

/// What the letters of a `qstat` state mean, the most telling letter
/// first: `z` (finished) and `d` (being deleted) COMPLETING; `E` (error)
/// HELD; `P` (preempted) REQUEUED; `s`, `S`, `T`, `N` (suspended)
/// SUSPENDED; `r`, `t` RUNNING; `h` HELD; `q`, `w` QUEUED; `R` (restarted)
/// alone RUNNING. With the reason the letters give, for those that say
/// more than the state. `None` for a letter Grid Engine does not use.
fn letters(code: &str) -> Option<(State, Option<&'static str>)> {
    if code.is_empty() || !code.chars().all(|c| LETTERS.contains(c)) {
        return None;
    }
    let has = |c: char| code.contains(c);
    Some(if has('z') {
        (State::Completing, Some("finished; qacct has its end"))
    } else if has('d') {
        (State::Completing, Some("being deleted (qdel)"))
    } else if has('E') {
        (
            State::Held,
            Some("error state: pending until the error is cleared (qmod -cj; qstat -j ID says why)"),
        )
    } else if has('P') {
        (State::Requeued, Some("preempted"))
    } else if has('N') {
        (State::Suspended, Some("enhanced suspend (preempted)"))
    } else if has('s') {
        (State::Suspended, Some("suspended (qmod -sj)"))
    } else if has('S') {
        (State::Suspended, Some("queue suspended"))
    } else if has('T') {
        (State::Suspended, Some("queue suspended by a load threshold"))
    } else if has('r') || has('t') {
        (State::Running, has('h').then_some("on hold for a next run"))
    } else if has('h') {
        (State::Held, Some("on hold or waiting for a dependency"))
    } else if has('q') || has('w') {
        (State::Queued, None)
    } else {
        // `R` alone.
        (State::Running, None)
    })
}

/// The statuses of `qstat -u '*'`: the `state` column of each job's line,
/// found under the header's `state` (names may hold blanks).
fn parse_qstat(text: &str) -> Vec<JobStatus> {
    let mut lines = text.lines();
    let Some(header) = lines.find(|l| l.trim_start().starts_with("job-ID")) else {
        return vec![];
    };
    let Some(col) = header.find("state") else { return vec![] };
    let task_col = header.find("ja-task-ID");
    let mut out = Vec::new();
    for line in lines {
        let id = line.split_whitespace().next().unwrap_or("");
        if id.is_empty() || id.starts_with('-') {
            continue;
        }
        let state = line.get(col..).and_then(|r| r.split_whitespace().next()).unwrap_or("");
        let status = match letters(state) {
            Some((s, why)) => JobStatus::new(
                id,
                Meaning {
                    state: s,
                    outcome: None,
                },
                Source::Queue,
            )
            .native(state, why),
            None => JobStatus::unknown(id, format!("unknown Grid Engine state {}", quote(state))).native(state, None),
        };
        // An array job has a line per task, or range of tasks (`3-5:1`).
        let task = task_col
            .and_then(|c| line.get(c..))
            .and_then(|r| r.split_whitespace().next())
            .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()));
        out.push(match task {
            Some(t) => {
                let index = t.strip_suffix(":1").unwrap_or(t);
                JobStatus {
                    job_id: format!("{id}.{t}"),
                    ..status
                }
                .of_task(id, index)
            }
            None => status,
        });
    }
    out
}

/// The statuses in a `qacct -j ID` answer, one per record (an array job has
/// one per task). A job that was rescheduled (`qmod -rj`, a rerun) has a
/// record per run, the first ones `failed 25 : rescheduling`: the last
/// record of a job (or task) tells its end.
fn parse_qacct_records(text: &str) -> Vec<JobStatus> {
    let mut out: Vec<JobStatus> = Vec::new();
    let mut record = String::new();
    for line in text.lines().chain(std::iter::once("====")) {
        if line.starts_with("====") {
            if let Some(s) = parse_qacct(&record) {
                // A task by its own id (`12.3`), other jobs by theirs.
                let key = |j: &JobStatus| j.task.as_ref().map_or(j.job_id.clone(), |t| t.id.clone());
                match out.iter_mut().find(|o| key(o) == key(&s)) {
                    Some(earlier) => *earlier = s,
                    None => out.push(s),
                }
            }
            record.clear();
        } else {
            record.push_str(line);
            record.push('\n');
        }
    }
    out
}

/// The status in a `qacct -j ID` record: `exit_status`, and `failed` with
/// its reason; a task of an array job by its `taskid`.
fn parse_qacct(text: &str) -> Option<JobStatus> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).filter(|r| r.starts_with(char::is_whitespace)))
            .map(str::trim)
    };
    let id = field("jobnumber")?;
    let exit: Option<i32> = field("exit_status").and_then(|e| e.split_whitespace().next()?.parse().ok());
    let failed = field("failed").unwrap_or("0");
    let (code, why) = match failed.split_once(':') {
        Some((c, w)) => (c.trim(), Some(w.trim())),
        None => (failed, None),
    };
    let outcome = match code {
        "37" => Some(JobOutcome::Timeout),
        _ => None,
    };
    let signal = exit.filter(|e| (129..=192).contains(e)).map(|e| e - 128);
    let native = format!(
        "failed={code}, exit_status={}",
        exit.map(|e| e.to_string()).unwrap_or_default()
    );
    let status = JobStatus::new(
        id,
        Meaning {
            state: State::Finished,
            outcome,
        },
        Source::Accounting,
    )
    .native(&native, why);
    let failed_before_start = code != "0" && code != "37" && code != "100" && signal.is_none();
    let status = match failed_before_start {
        true => {
            let mut s = status.exit(exit, None);
            s.outcome = Some(JobOutcome::Failed);
            s
        }
        false => status.exit(exit.filter(|_| signal.is_none()), signal),
    };
    Some(
        match field("taskid").filter(|t| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit())) {
            Some(task) => JobStatus {
                job_id: format!("{id}.{task}"),
                ..status
            }
            .of_task(id, task),
            None => status,
        },
    )
}

/// The variable of an array task's index.
const ARRAY_INDEX: Option<&str> = Some("SGE_TASK_ID");

/// `-t 1-10:2`, `-tc 3`.
fn array(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let spec = super::array::Spec::parse(v)?;
    let r = spec.single_range(v, "Grid Engine")?;
    if r.start == 0 {
        return Err(Error::Script(format!(
            "invalid array {}: Grid Engine numbers tasks from 1",
            crate::util::quote_bytes(v)
        )));
    }
    let mut out = vec![format!("-t {}-{}:{}", r.start, r.end, r.step).into_bytes()];
    if let Some(l) = spec.limit {
        out.push(format!("-tc {l}").into_bytes());
    }
    Ok(out)
}

/// `-hold_jid 1,2`: only `afterany` has a meaning on Grid Engine.
fn depends_on(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let groups = super::depends::parse(v)?;
    let mut ids = Vec::new();
    for g in groups {
        if g.kind != super::depends::Kind::Any {
            return Err(Error::Script(format!(
                "depends_on {}: Grid Engine cannot wait for how a job ended ({}), only for its end: use afterany:{}",
                crate::util::quote_bytes(v),
                g.kind.word(),
                g.jobs.join(":")
            )));
        }
        ids.extend(g.jobs);
    }
    Ok(vec![format!("-hold_jid {}", ids.join(",")).into_bytes()])
}

fn output_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "-o ", "$TASK_ID")
}

fn error_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "-e ", "$TASK_ID")
}

/// The translation of generic directives to `#$` options (troika 0.2.7's).
/// The type's own rows; the memory rows last (see [`TABLE_WITHOUT_MEMORY`]).
const ENTRIES: &[Entry] = &[
    Entry::func(
        "array",
        array,
        "`-t <start>-<end>[:<step>]` and `-tc <limit>` (one range, from 1); the index is in `SGE_TASK_ID` and `TROIKA_ARRAY_INDEX`",
    ),
    Entry::func(
        "depends_on",
        depends_on,
        "`-hold_jid <id>,<id>` for `afterany` (Grid Engine waits for the end of a job, whatever its exit status); `afterok` and `afternotok` are errors",
    ),
    Entry::joint(
        "error_file",
        error_file,
        "`-e <value>`; with `array`, `-e <value>.$TASK_ID`: a file per task",
    ),
    Entry::func(
        "gpus_per_node",
        no_gpus_per_node,
        "not supported: Grid Engine's consumables are counted per slot; the submission fails with an error \
         that says so",
    ),
    Entry::joint(
        "gpus_per_task",
        gpus,
        "`-l gpu=<value>`: a slot is a task, and a consumable complex is counted per slot (the site key \
         `gpu_resource` names the complex, `gpu` by default)",
    ),
    Entry::func("join_output_error", join_output_error, "`-j y` (whatever the value)"),
    Entry::joint(
        "output_file",
        output_file,
        "`-o <value>`; with `array`, `-o <value>.$TASK_ID`: a file per task",
    ),
    Entry::joint(
        "total_gpus",
        gpus,
        "`-l gpu=<value>` (see `gpus_per_task`): the job's GPUs for a job of one slot (no `-pe`); Grid \
         Engine multiplies it by the slots of a parallel job",
    ),
    Entry::joint(
        "signal_before_end",
        soft_limit,
        "`USR1@<seconds>` only: `-l s_rt=<walltime - seconds>`, the soft limit at which Grid Engine sends \
         SIGUSR1 (needs `walltime`); other signals are errors",
    ),
    Entry::format("walltime", "-l h_rt=%s"),
    Entry::joint(
        "memory_per_cpu",
        memory,
        "`-l h_vmem=<value>`: memory is a consumable counted per slot, and a slot is a CPU (the site key \
         `memory_resource` names the complex, `h_vmem` by default)",
    ),
    Entry::joint(
        "memory_per_node",
        memory,
        "`-l h_vmem=<value>` (see `memory_per_cpu`): the job's memory for a job of one slot (no `-pe`); \
         Grid Engine multiplies it by the slots of a parallel job",
    ),
];

pub const TABLE: Table = Table::joined(ROWS, ENTRIES);

/// The table of a 0.2.7 configuration without `memory_resource`: troika 0.2.7's
/// Grid Engine sites knew no memory directive, and reported them as unknown.
pub const TABLE_WITHOUT_MEMORY: Table = Table::joined(ROWS, ENTRIES.split_at(ENTRIES.len() - 2).0);

/// `-l s_rt=SECONDS`: at its soft wall-clock limit Grid Engine sends the
/// job SIGUSR1, so long before the hard limit (`h_rt`).
fn soft_limit(j: &Joint) -> Result<Vec<Vec<u8>>> {
    let (sig, before) = super::signals::signal_before_end(j.value)?;
    if sig != "USR1" {
        return Err(Error::Script(format!(
            "Grid Engine sends only SIGUSR1 before the wall-clock limit (at the soft limit s_rt), not {sig}: use USR1@{before}"
        )));
    }
    let Some(walltime) = j.get("walltime") else {
        return Err(Error::Script(
            "Grid Engine sends SIGUSR1 at a soft limit set from the job's walltime: give a walltime too".into(),
        ));
    };
    // h_rt is written as given: a plain number is seconds to Grid Engine.
    let limit = match std::str::from_utf8(walltime)
        .ok()
        .and_then(|w| w.trim().parse::<u64>().ok())
    {
        Some(secs) => secs,
        None => super::units::walltime_seconds(walltime)?,
    };
    if before >= limit {
        return Err(Error::Script(format!(
            "the signal {before} s before the end of a {limit} s walltime would come before the job starts"
        )));
    }
    Ok(vec![format!("-l s_rt={}", limit - before).into_bytes()])
}

/// The default name of the GPU consumable complex (`gpu_resource`).
const GPU_RESOURCE: &str = "gpu";

/// The default name of the memory complex (`memory_resource`).
const MEMORY_RESOURCE: &str = "h_vmem";

/// `-l h_vmem=SIZE` for `memory_per_cpu` or `memory_per_node`, one of them.
fn memory(j: &crate::script::translate::Joint) -> Result<Vec<Vec<u8>>> {
    let other = if j.name == "memory_per_node" {
        "memory_per_cpu"
    } else {
        "memory_per_node"
    };
    if j.get(other).is_some() {
        return Err(Error::Script(
            "Grid Engine: give one of memory_per_cpu and memory_per_node, not both (both are memory per slot)".into(),
        ));
    }
    let mut line = format!("-l {MEMORY_RESOURCE}=").into_bytes();
    line.extend_from_slice(j.value);
    Ok(vec![line])
}

fn no_gpus_per_node(_: &[u8]) -> Result<Vec<Vec<u8>>> {
    Err(Error::Script(
        "Grid Engine cannot ask for GPUs per node: its consumables are counted per slot; use gpus_per_task \
         (or total_gpus for a job of one slot)"
            .into(),
    ))
}

/// `-l gpu=N` for `gpus_per_task` or `total_gpus`, one of them.
fn gpus(j: &crate::script::translate::Joint) -> Result<Vec<Vec<u8>>> {
    let other = if j.name == "total_gpus" {
        "gpus_per_task"
    } else {
        "total_gpus"
    };
    if j.get(other).is_some() {
        return Err(Error::Script(
            "Grid Engine: give one of gpus_per_task and total_gpus, not both".into(),
        ));
    }
    let n = super::units::count("Grid Engine", j.name, j.value)?;
    Ok(vec![format!("-l {GPU_RESOURCE}={n}").into_bytes()])
}

/// `#$` lines; output, error and join options are set by troika.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "$",
    drop: &["-o", "-e", "-j"],
    command: "qsub",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "sge",
        keys: KEYS,
        syntax: ScriptSyntax::batch("#$ ", NATIVE, TABLE, super::units::Style::Sge),
        traits: Traits {
            recipes: RECIPES,
            ..Traits::batch(STATES, FAULTS, ARRAY_INDEX, &FOREIGN)
        },
        create: |s| BatchSite::create(s, Sge::new),
    }
}

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[super::Recipe::new(
    "sge",
    "Grid Engine",
    include_str!("../../recipes/sge.yml"),
)];

fn join_output_error(_: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![b"-j y".to_vec()])
}

fn leading_digits(s: &str) -> Option<&str> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| &s[..n])
}

/// Reads the job id from `qsub` output: `Your job N ("name") has been
/// submitted`, `Your job-array N.1-10:1 ("name") has been submitted`, or
/// with `-terse` `N` (`N.1-10:1`). Other output falls back to its first
/// number, as troika 0.2.7 read it (said at debug level). The id is an
/// integer, as in 0.2.7 (`00321` -> `321`).
pub fn parse_qsub_output(out: &str) -> Option<String> {
    parse_digits(out).map(crate::util::integer_id)
}

fn parse_digits(out: &str) -> Option<&str> {
    for line in out.lines().map(str::trim) {
        let rest = line
            .strip_prefix("Your job-array ")
            .or_else(|| line.strip_prefix("Your job "));
        if let Some(id) = rest.and_then(leading_digits) {
            return Some(id);
        }
        if let Some(id) = leading_digits(line) {
            if line[id.len()..].is_empty() || (line[id.len()..].starts_with('.') && !line.contains(' ')) {
                return Some(id);
            }
        }
    }
    let start = out.find(|c: char| c.is_ascii_digit())?;
    let id = leading_digits(&out[start..])?;
    crate::debug!("Job id {id} taken from unexpected qsub output {}", quote(out.trim()));
    Some(id)
}

/// A Grid Engine cell.
pub struct Sge {
    q: QCommands,
    qacct: Vec<String>,
    qconf: Vec<String>,
}

/// The site key `key` names the complex that `directives` ask for, instead
/// of `default`: they become `-l NAME=%s` (unless `directive_translate`
/// says otherwise).
fn resource_name(s: &mut SiteSettings, key: &str, default: &str, directives: &[&str]) -> Result<()> {
    let Some(name) = s.config.opt_str(key)? else {
        return Ok(());
    };
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !valid {
        let at = s.config.get(key).map(|n| s.config.at(n)).unwrap_or_default();
        return Err(Error::config(format!(
            "{at}: site '{}': invalid '{key}' {}: expected the name of a complex (letters, digits, '_', '-', '.')",
            s.config.name,
            quote(&name)
        )));
    }
    if name != default {
        for directive in directives {
            s.overrides
                .entry(directive.to_string())
                .or_insert_with(|| Some(format!("-l {name}=%s")));
        }
    }
    Ok(())
}

impl Sge {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        // A site whose GPU or memory complex has another name: the
        // directives become `-l NAME=%s`, unless `directive_translate`
        // says otherwise.
        resource_name(s, "gpu_resource", GPU_RESOURCE, &["gpus_per_task", "total_gpus"])?;
        resource_name(
            s,
            "memory_resource",
            MEMORY_RESOURCE,
            &["memory_per_cpu", "memory_per_node"],
        )?;
        if !s.config.behaviour().sge_memory && s.config.get("memory_resource").is_none() {
            s.syntax.table = TABLE_WITHOUT_MEMORY;
        }
        Ok(Sge {
            q: QCommands::read(&s.config, false)?,
            qacct: s.config.command("qacct_command", &["qacct"])?,
            qconf: s.config.command("qconf_command", &["qconf"])?,
        })
    }
}

impl QScheduler for Sge {
    fn q(&self) -> &QCommands {
        &self.q
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_qsub_output(stdout)
    }

    /// `N`, or `N.TASKS` for tasks of an array job (`12.1-10:2`).
    fn check_job_id(&self, jid: &str) -> Result<()> {
        let ok = match leading_digits(jid) {
            Some(id) => {
                let rest = &jid[id.len()..];
                rest.is_empty()
                    || (rest.len() > 1
                        && rest.starts_with('.')
                        && rest[1..].bytes().all(|c| c.is_ascii_digit() || b"-:,".contains(&c)))
            }
            None => false,
        };
        if !ok {
            return Err(Error::invocation(format!("Invalid job id: {}", quote(jid))));
        }
        Ok(())
    }

    fn status_options(&self) -> &'static [&'static str] {
        &["-j"]
    }

    /// Grid Engine cannot send a chosen signal: a kill is one `qdel`.
    fn signal_word(&self, _sig: Signal) -> Option<String> {
        None
    }

    fn before_kill(&self, site: &SiteSettings, job: &Job) -> Result<Option<CancelStatus>> {
        if site.kill_sequence.is_some() {
            crate::debug!(
                "Grid Engine cannot send a chosen signal to a job: kill_sequence is not used, qdel kills job {}",
                job.jid
            );
        }
        Ok(None)
    }

    /// qdel answers on standard output: `root has deleted job 17` (it was
    /// waiting), `root has registered the job 15 for deletion` (it runs,
    /// SIGKILL), `denied: job "16" does not exist` (exit 1).
    fn cancelled(&self, out: &Outcome) -> CancelStatus {
        if String::from_utf8_lossy(&out.stdout).contains("has deleted job") {
            CancelStatus::Cancelled
        } else {
            CancelStatus::Killed
        }
    }

    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        String::from_utf8_lossy(&out.stdout).contains("does not exist")
    }
}

/// Grid Engine's words of failures that pass (seen on the test cell with
/// sge_qmaster stopped).
const FAULTS: &[Pattern] = &[
    Pattern::not_started("unable to contact qmaster"),
    Pattern::not_started("unable to send message to qmaster"),
    Pattern::maybe_done("failed receiving gdi request response"),
];

/// The job context variable that tags a submission.
const TAG_VARIABLE: &str = "troika_tag";

impl Recovery for Sge {
    /// `-ac troika_tag=TAG`: a context variable, shown by `qstat -j`.
    fn tag_args(&self, tag: &str, _script: &[u8]) -> Option<Vec<String>> {
        Some(vec!["-ac".into(), format!("{TAG_VARIABLE}={tag}")])
    }

    /// `qstat [-u USER] -j '*'`: the details of every job of the user, its
    /// context included. (Accounting keeps no context: a job that already
    /// ended is not found.)
    fn find_argvs(&self, user: Option<&str>, _since: Duration) -> Vec<Vec<String>> {
        let mut args = Vec::new();
        if let Some(u) = user {
            args.extend(["-u", u]);
        }
        args.extend(["-j", "*"]);
        vec![argv(&self.q.qstat, &args)]
    }

    /// Blocks of `job_number: N` ... `context: troika_tag=TAG,...`; with no
    /// job at all qstat says `Following jobs do not exist` (exit 1).
    fn parse_found(&self, out: &Outcome, argv: &[String], tag: &str) -> std::result::Result<Vec<String>, String> {
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.success() {
            return match out.text().contains("Following jobs do not exist") {
                true => Ok(vec![]),
                false => Err(query_failed(argv, out)),
            };
        }
        let wanted = format!("{TAG_VARIABLE}={tag}");
        let mut ids = Vec::new();
        let mut current = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            match key.trim() {
                "job_number" => current = Some(value.trim().to_string()),
                "context" if value.split(',').any(|v| v.trim() == wanted) => ids.extend(current.take()),
                _ => {}
            }
        }
        Ok(ids)
    }
}

impl QueueQueries for Sge {
    /// `qstat -f` (each queue instance: slots and states), then `qconf -sq
    /// '*'` (each queue's configuration: limits).
    fn queues_argvs(&self) -> Vec<Vec<String>> {
        vec![argv(&self.q.qstat, &["-f"]), argv(&self.qconf, &["-sq", "*"])]
    }

    fn parse_queues(&self, answers: &[(Vec<String>, Outcome)]) -> std::result::Result<Vec<QueueInfo>, String> {
        let [(argv0, instances), (argv1, config)] = answers else {
            return Err("no answer".into());
        };
        for (a, out) in [(argv0, instances), (argv1, config)] {
            if !out.success() {
                return Err(query_failed(a, out));
            }
        }
        // Queue instances: `QUEUE@HOST QTYPE RESV/USED/TOT LOAD ARCH [STATES]`.
        let mut found: Vec<(String, u64, u64, Vec<String>)> = Vec::new();
        for line in String::from_utf8_lossy(&instances.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some((queue, _host)) = words.first().and_then(|w| w.split_once('@')) else {
                continue;
            };
            let counts: Vec<u64> = words
                .get(2)
                .map_or(vec![], |c| c.split('/').filter_map(|n| n.parse().ok()).collect());
            let [resv, used, total] = counts[..] else { continue };
            let states = words.get(5).unwrap_or(&"").to_string();
            match found.iter_mut().find(|(q, ..)| q == queue) {
                Some(entry) => {
                    entry.1 += total;
                    entry.2 += total.saturating_sub(used + resv);
                    entry.3.push(states);
                }
                None => found.push((
                    queue.to_string(),
                    total,
                    total.saturating_sub(used + resv),
                    vec![states],
                )),
            }
        }
        // Configurations: blocks of `KEY VALUE` lines, each from `qname`.
        let mut configs: Vec<Vec<(String, String)>> = Vec::new();
        for line in String::from_utf8_lossy(&config.stdout).lines() {
            let Some((k, v)) = line.split_once(char::is_whitespace) else {
                continue;
            };
            if k == "qname" {
                configs.push(Vec::new());
            }
            if let Some(block) = configs.last_mut() {
                block.push((k.to_string(), v.trim().to_string()));
            }
        }
        let mut queues = Vec::new();
        for block in configs {
            let get = |k: &str| block.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
            let name = get("qname").unwrap_or("").to_string();
            let (slots, free, states) = match found.iter().find(|(q, ..)| *q == name) {
                Some((_, s, f, st)) => (Some(*s), Some(*f), st.clone()),
                None => (Some(0), Some(0), vec![]),
            };
            // Every instance disabled: drained; every one unknown or in
            // error: down; every one suspended: inactive.
            let all =
                |letters: &str| !states.is_empty() && states.iter().all(|s| s.chars().any(|c| letters.contains(c)));
            let state = if all("dD") {
                QueueState::Drained
            } else if all("uE") {
                QueueState::Down
            } else if all("sSC") {
                QueueState::Inactive
            } else {
                QueueState::Up
            };
            let mut q = QueueInfo::new(name, state, states.join(","));
            q.nodes = Some(states.len() as u64);
            q.slots = slots;
            q.slots_free = free;
            q.max_walltime = get("h_rt").and_then(super::queues::limit_seconds);
            q.max_memory_mb = get("h_vmem")
                .filter(|m| !m.eq_ignore_ascii_case("INFINITY"))
                .and_then(|m| super::units::parse_memory(m).ok())
                .map(|kib| kib / 1024);
            q.details = block.iter().filter(|(k, _)| k != "qname").cloned().collect();
            queues.push(q);
        }
        Ok(queues)
    }
}

impl StateQueries for Sge {
    /// `qstat -j ID`.
    /// `qstat -u '*'`: Grid Engine lists no job by id, only users' jobs.
    fn queue_argv(&self, _jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        Some(argv(&self.q.qstat, &["-u", "*"]))
    }

    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        if !out.success() {
            return Err(query_failed(argv, out));
        }
        Ok(parse_qstat(&String::from_utf8_lossy(&out.stdout)))
    }

    /// `qacct -j ID`, one per job: qacct answers one job at a time.
    fn accounting_argvs(&self, jids: &[&str]) -> Vec<Vec<String>> {
        jids.iter().map(|j| argv(&self.qacct, &["-j", j])).collect()
    }

    /// A job qacct does not know (`error: job id N not found`, exit 1) is
    /// no answer; other failures are.
    fn parse_accounting(&self, out: &Outcome, argv: &[String]) -> Answer {
        if !out.success() {
            if out.text().contains("not found") {
                return Ok(vec![]);
            }
            return Err(query_failed(argv, out));
        }
        Ok(parse_qacct_records(&String::from_utf8_lossy(&out.stdout)))
    }
}

// ---- Foreign directives: `#$` lines read elsewhere ----

use crate::script::foreign::{self as fd, Conv, Foreign, Opt, Res, Takes};

/// `#$` options as generic directives, for a script sent to another
/// scheduler.
pub const FOREIGN: Foreign = Foreign {
    scheduler: "Grid Engine",
    prefix: "$",
    array_index: ARRAY_INDEX,
    shared: super::qsub::FOREIGN_SHARED,
    options: &[
        Opt::new(&["-l"], Takes::Value, Conv::Resources),
        Opt::new(
            &["-pe"],
            Takes::Two,
            Conv::Func(
                foreign_pe,
                "`-pe NAME N`: total_tasks N (the environment's name is not kept)",
            ),
        ),
        Opt::func(
            &["-j"],
            super::qsub::foreign_join,
            "join_output_error (`y`); `n` is nothing",
        ),
        Opt::to(&["-wd"], "working_dir"),
        Opt::new(
            &["-cwd"],
            Takes::Nothing,
            Conv::Ignore("the job runs where it was submitted"),
        ),
        Opt::new(&["-S"], Takes::Value, Conv::Ignore("the shebang names the shell")),
        Opt::to(&["-P"], "billing_account"),
        Opt::func(
            &["-m"],
            foreign_mail,
            "mail_type: `b`, `e`, `a`, `n` become `begin`, `end`, `fail`, `none`",
        ),
        Opt::func(
            &["-t"],
            |v| Ok(vec![("array", fd::check_array(v)?)]),
            "array (`1-10:2`)",
        ),
        Opt::func(&["-hold_jid"], foreign_hold_jid, "depends_on `afterany:ID[:ID...]`"),
    ],
    resources: &[
        Res {
            key: "h_rt",
            conv: Conv::Func(foreign_rt, "walltime (a plain number is seconds)"),
        },
        Res {
            key: "s_rt",
            conv: Conv::Func(foreign_rt, "walltime (a plain number is seconds)"),
        },
        Res {
            key: "h_vmem",
            conv: Conv::Func(|v| fd::generic_memory("memory_per_cpu", v), "memory_per_cpu (per slot)"),
        },
        Res {
            key: "s_vmem",
            conv: Conv::Func(|v| fd::generic_memory("memory_per_cpu", v), "memory_per_cpu (per slot)"),
        },
        Res {
            key: "mem_free",
            conv: Conv::Func(|v| fd::generic_memory("memory_per_cpu", v), "memory_per_cpu (per slot)"),
        },
    ],
};

type Pairs = std::result::Result<Vec<(&'static str, String)>, String>;

fn foreign_pe(v: &str) -> Pairs {
    let n = v.split(' ').nth(1).unwrap_or("");
    Ok(vec![("total_tasks", fd::count(n, "the slot count")?.to_string())])
}

/// Grid Engine's `-m` letters (`s`, suspension, has no generic type).
fn foreign_mail(v: &str) -> Pairs {
    super::qsub::foreign_mail_letters(v)
}

fn foreign_rt(v: &str) -> Pairs {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
        return Ok(vec![("walltime", fd::walltime(fd::count(v, "the limit")?))]);
    }
    fd::generic_walltime(v)
}

fn foreign_hold_jid(v: &str) -> Pairs {
    let ids: Vec<&str> = v.split(',').map(str::trim).collect();
    if ids
        .iter()
        .any(|id| id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err("only job ids (not names) are translated".into());
    }
    Ok(vec![("depends_on", format!("afterany:{}", ids.join(":")))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::translate::Rule;

    fn outcome(code: i32, stdout: &str, stderr: &str) -> Outcome {
        Outcome {
            code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    /// The answers of the test cell with sge_qmaster stopped.
    #[test]
    fn qmaster_down_is_transient() {
        use crate::error::Reach;
        use crate::site::retry::{classify, Fault};
        let qsub = outcome(
            1,
            "",
            "error: commlib error: got select error (Connection refused)
Unable to run job: unable to send message to qmaster using port 6444 on host \"vm\": got send error\nExiting.\n",
        );
        assert_eq!(classify(&qsub, FAULTS), Fault::Transient(Reach::NotStarted));
        let qstat = outcome(
            1,
            "",
            "error: unable to send message to qmaster using port 6444 on host \"vm\": got send error\n",
        );
        assert_eq!(classify(&qstat, FAULTS), Fault::Transient(Reach::NotStarted));
        let unknown_queue = outcome(
            1,
            "",
            "Unable to run job: Job was rejected because job requests unknown queue \"nosuch.q\".\nExiting.\n",
        );
        assert_eq!(classify(&unknown_queue, FAULTS), Fault::Permanent);
    }

    #[test]
    fn tagged_jobs_are_found_in_qstat_j() {
        let words = |w: &str| vec![w.to_string()];
        let sge = Sge {
            q: QCommands::plain(),
            qacct: words("qacct"),
            qconf: words("qconf"),
        };
        let argv = vec!["qstat".to_string()];
        let text = "==============================================================\njob_number:                 365\njob_name:                   tok\ncontext:                    troika_tag=troika-abc\n==============================================================\njob_number:                 366\njob_name:                   t2\ncontext:                    troika_tag=troika-x,other=1\n==============================================================\njob_number:                 367\njob_name:                   t3\n";
        let found = |tag: &str| sge.parse_found(&outcome(0, text, ""), &argv, tag).unwrap();
        assert_eq!(found("troika-abc"), ["365"]);
        assert_eq!(found("troika-x"), ["366"]);
        assert!(found("troika-none").is_empty());
        // No job at all.
        let none = outcome(1, "", "Following jobs do not exist: \n*\n");
        assert!(sge.parse_found(&none, &argv, "troika-abc").unwrap().is_empty());
        let down = outcome(1, "", "error: unable to send message to qmaster using port 6444");
        assert!(sge
            .parse_found(&down, &argv, "troika-abc")
            .unwrap_err()
            .contains("qstat failed"));
    }

    #[test]
    fn qsub_output() {
        assert_eq!(
            parse_qsub_output("Your job 555 (\"job 2\") has been submitted\n").as_deref(),
            Some("555")
        );
        assert_eq!(parse_qsub_output("3\n").as_deref(), Some("3"));
        assert_eq!(
            parse_qsub_output("Your job-array 8.1-10:1 (\"arr\") has been submitted\n").as_deref(),
            Some("8")
        );
        assert_eq!(parse_qsub_output("8.1-10:1\n").as_deref(), Some("8"));
        assert_eq!(parse_qsub_output("submitted as 42 today\n").as_deref(), Some("42"));
        assert_eq!(
            parse_qsub_output("Your job 00321 (\"j\") has been submitted\n").as_deref(),
            Some("321")
        );
        assert_eq!(parse_qsub_output("000\n").as_deref(), Some("0"));
        assert_eq!(parse_qsub_output("no id here\n"), None);
        assert_eq!(parse_qsub_output(""), None);
    }

    #[test]
    fn table_has_troika_0_2_7_rows() {
        // 0.2.7's 11 rows, hold, signal_before_end (an error: Grid Engine
        // cannot), array, depends_on, the three GPU rows and the two memory
        // rows.
        assert_eq!(TABLE.entries().count(), 20);
        // A 0.2.7 configuration's table is the same without the memory rows.
        let without: Vec<&str> = TABLE_WITHOUT_MEMORY.entries().map(|e| e.name).collect();
        let mut all: Vec<&str> = TABLE.entries().map(|e| e.name).collect();
        all.retain(|n| !n.starts_with("memory_"));
        assert_eq!(without, all);
        assert_eq!(all.len(), 18);
        assert!(matches!(TABLE.get("walltime"), Some(Rule::Format("-l h_rt=%s"))));
        assert_eq!(join_output_error(b"1").unwrap(), vec![b"-j y".to_vec()]);
    }

    /// A `qstat -u '*'` answer, laid out as qstat prints it, with a job in
    /// each state of `codes` (ids from 100).
    fn qstat_answer(codes: &[&str]) -> String {
        let mut t = String::from(
            "job-ID  prior   name       user         state submit/start at     queue                          slots ja-task-ID \n\
             -----------------------------------------------------------------------------------------------------------------\n",
        );
        for (i, c) in codes.iter().enumerate() {
            t.push_str(&format!(
                "{:>7} 0.50000 sleep      root         {c:<5} 12/04/2026 00:55:58 all.q@vm                           1        \n",
                100 + i
            ));
        }
        t
    }

    /// A `qacct -j ID` record, with the lines that matter.
    fn qacct_record(id: u32, failed: &str, exit: &str) -> String {
        format!(
            "==============================================================\nqname        all.q               \n\
             hostname     vm                  \njobname      job                 \njobnumber    {id}                   \n\
             taskid       undefined\nfailed       {failed}    \nexit_status  {exit}                   \nru_wallclock 3s\n"
        )
    }

    /// Every row of the table through the real readers: each qstat code
    /// in a qstat answer, the accounting rows in qacct records.
    #[test]
    fn every_state_is_read() {
        let codes: Vec<&str> = STATES
            .iter()
            .map(|n| n.code)
            .filter(|c| !c.starts_with("qacct"))
            .collect();
        let mut got = parse_qstat(&qstat_answer(&codes));
        let mut cases: Vec<(&str, &str)> = STATES
            .iter()
            .filter(|n| !n.code.starts_with("qacct"))
            .map(|n| (n.code, n.meaning.state.as_str()))
            .collect();
        for (i, s) in got.iter().enumerate() {
            assert_eq!(s.job_id, (100 + i).to_string());
            assert_eq!(s.native_state.as_deref(), Some(codes[i]));
            assert_eq!(s.source, Source::Queue);
        }
        for (failed, exit, row, words) in [
            ("0", "0", "qacct failed=0, exit_status=0", "FINISHED/SUCCEEDED"),
            ("0", "3", "qacct exit_status=N", "FINISHED/FAILED"),
            (
                "100 : assumedly after job",
                "137                  (Killed)",
                "qacct exit_status=N",
                "FINISHED/KILLED",
            ),
            (
                "37  : qmaster enforced h_rt, h_cpu, or h_vmem limit",
                "137                  (Killed)",
                "qacct failed=37",
                "FINISHED/TIMEOUT",
            ),
        ] {
            let id = 500 + cases.len() as u32;
            let mut s = parse_qacct_records(&qacct_record(id, failed, exit));
            assert_eq!(s.len(), 1);
            assert_eq!(s[0].job_id, id.to_string());
            assert_eq!(s[0].source, Source::Accounting);
            got.append(&mut s);
            cases.push((row, words));
        }
        crate::site::qsub::table_test::check(STATES, &cases, &got);
        let acct = &got[got.len() - 4..];
        assert_eq!((acct[0].exit_code, acct[0].signal), (Some(0), None));
        assert_eq!((acct[1].exit_code, acct[1].signal), (Some(3), None));
        assert_eq!((acct[2].exit_code, acct[2].signal), (None, Some(9)));
        assert_eq!(acct[2].reason.as_deref(), Some("assumedly after job"));
        assert_eq!(acct[3].signal, Some(9));
        assert_eq!(
            acct[3].reason.as_deref(),
            Some("qmaster enforced h_rt, h_cpu, or h_vmem limit")
        );
    }

    /// Lines as the test cell printed them (`qsub -h`, `-hold_jid`, `qhold`
    /// of a running job, `qmod -sj`, `qmod -rj`, `qdel`, a job whose
    /// working directory is missing, then `qhold`), with their reasons.
    #[test]
    fn states_seen_on_a_real_cell_are_read() {
        let text = [
            "job-ID  prior   name       user         state submit/start at     queue                          slots ja-task-ID ",
            "-----------------------------------------------------------------------------------------------------------------",
            "    954 0.50000 sleep      root         s     12/04/2026 00:55:58 all.q@vm                           1        ",
            "    957 0.75000 sleep      root         hr    12/04/2026 00:55:58 all.q@vm                           1        ",
            "    958 0.25000 sleep      root         r     12/04/2026 00:56:09 all.q@vm                           1        ",
            "    959 0.25000 true       root         Eqw   12/04/2026 00:56:08                                    1        ",
            "    955 0.00000 sleep      root         hqw   12/04/2026 00:55:57                                    1        ",
            "    964 0.50000 sleep      root         ds    12/04/2026 00:55:58 all.q@vm                           1        ",
            "    965 0.25000 true       root         Ehqw  12/04/2026 00:56:08                                    1        ",
            "    966 0.25000 sleep      root         Rq    12/04/2026 00:56:12                                    1        ",
            "    967 0.25000 sleep      root         Rt    12/04/2026 00:56:15 all.q@vm                           1        ",
            "    968 0.39286 sleep      root         Rr    12/04/2026 00:56:15 all.q@vm                           1        ",
            "    969 0.39286 sleep      root         Rs    12/04/2026 00:56:15 all.q@vm                           1        ",
            "    970 0.50000 sleep      root         dr    12/04/2026 00:56:14 all.q@vm                           1        ",
            "    971 0.00000 troika_fsl root         qw    12/04/2026 00:56:16                                    1        ",
            "    972 0.25000 hello_sge  root         t     11/24/2026 23:52:01 all.q@vm                           1        ",
        ]
        .map(|l| format!("{l}\n"))
        .concat();
        let got: Vec<(String, String, Option<String>)> = parse_qstat(&text)
            .into_iter()
            .map(|s| (s.job_id.clone(), s.state_words(), s.reason.clone()))
            .collect();
        let want: Vec<(String, String, Option<String>)> = [
            ("954", "SUSPENDED", Some("suspended (qmod -sj)")),
            ("957", "RUNNING", Some("on hold for a next run")),
            ("958", "RUNNING", None),
            (
                "959",
                "HELD",
                Some("error state: pending until the error is cleared (qmod -cj; qstat -j ID says why)"),
            ),
            ("955", "HELD", Some("on hold or waiting for a dependency")),
            ("964", "COMPLETING", Some("being deleted (qdel)")),
            (
                "965",
                "HELD",
                Some("error state: pending until the error is cleared (qmod -cj; qstat -j ID says why)"),
            ),
            ("966", "QUEUED", None),
            ("967", "RUNNING", None),
            ("968", "RUNNING", None),
            ("969", "SUSPENDED", Some("suspended (qmod -sj)")),
            ("970", "COMPLETING", Some("being deleted (qdel)")),
            ("971", "QUEUED", None),
            ("972", "RUNNING", None),
        ]
        .into_iter()
        .map(|(i, w, r)| (i.to_string(), w.to_string(), r.map(String::from)))
        .collect();
        assert_eq!(got, want);
    }

    /// The letters combine: any combination of Grid Engine's letters has a
    /// meaning, decided by the most telling letter; a letter Grid Engine
    /// does not use makes the job UNKNOWN, with the state kept.
    #[test]
    fn any_combination_of_letters_is_read() {
        let all: Vec<char> = LETTERS.chars().collect();
        let mut combos: Vec<String> = all.iter().map(|c| c.to_string()).collect();
        for a in &all {
            for b in &all {
                combos.push(format!("{a}{b}"));
                for c in &all {
                    combos.push(format!("{a}{b}{c}"));
                }
            }
        }
        let codes: Vec<&str> = combos.iter().map(String::as_str).collect();
        let got = parse_qstat(&qstat_answer(&codes));
        assert_eq!(got.len(), codes.len());
        for (code, s) in codes.iter().zip(&got) {
            let has = |c: char| code.contains(c);
            let want = if has('z') || has('d') {
                State::Completing
            } else if has('E') {
                State::Held
            } else if has('P') {
                State::Requeued
            } else if has('s') || has('S') || has('T') || has('N') {
                State::Suspended
            } else if has('r') || has('t') {
                State::Running
            } else if has('h') {
                State::Held
            } else if has('q') || has('w') {
                State::Queued
            } else {
                State::Running
            };
            assert_eq!(s.state, want, "{code}");
            assert_eq!(s.outcome, None, "{code}");
        }
        for odd in ["qwx", "x", "r?", "QW"] {
            let s = &parse_qstat(&qstat_answer(&[odd]))[0];
            assert_eq!(s.state, State::Unknown, "{odd}");
            assert_eq!(s.native_state.as_deref(), Some(odd));
            assert_eq!(s.reason, Some(format!("unknown Grid Engine state '{odd}'")));
        }
    }

    /// qacct of a job rescheduled once (`qmod -rj`, then qdel): a record
    /// per run, the last tells the end; the tasks of an array each keep
    /// their own.
    #[test]
    fn last_qacct_record_of_a_rescheduled_job_wins() {
        let text = qacct_record(958, "25  : rescheduling", "0")
            + &qacct_record(958, "100 : assumedly after job", "137                  (Killed)");
        let got = parse_qacct_records(&text);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(got[0].state_words(), "FINISHED/KILLED");
        assert_eq!(got[0].signal, Some(9));
        let task = |t: u32, exit: &str| {
            qacct_record(30, "0", exit).replace("taskid       undefined", &format!("taskid       {t}"))
        };
        let got = parse_qacct_records(&(task(1, "0") + &task(2, "3") + &task(1, "4")));
        let words: Vec<(String, String)> = got
            .iter()
            .map(|s| (s.task.as_ref().unwrap().id.clone(), s.state_words()))
            .collect();
        assert_eq!(
            words,
            [
                ("30.1".to_string(), "FINISHED/FAILED".to_string()),
                ("30.2".to_string(), "FINISHED/FAILED".to_string())
            ]
        );
        assert_eq!(got[0].exit_code, Some(4));
    }

    #[test]
    fn gpus() {
        use crate::script::translate::{lines_of, Overrides};
        let run = |pairs: &[(&str, &str)], o: &Overrides| lines_of(&TABLE, b"#$ ", o, pairs);
        let none = Overrides::new();
        assert_eq!(run(&[("gpus_per_task", "2")], &none).unwrap(), ["#$ -l gpu=2\n"]);
        assert_eq!(run(&[("total_gpus", "1")], &none).unwrap(), ["#$ -l gpu=1\n"]);
        assert_eq!(
            run(&[("gpus_per_node", "4")], &none).unwrap_err(),
            "Directive 'gpus_per_node': Grid Engine cannot ask for GPUs per node: its consumables are counted \
             per slot; use gpus_per_task (or total_gpus for a job of one slot)"
        );
        assert!(run(&[("gpus_per_task", "1"), ("total_gpus", "2")], &none)
            .unwrap_err()
            .contains("Grid Engine: give one of gpus_per_task and total_gpus, not both"));
        assert!(run(&[("total_gpus", "two")], &none)
            .unwrap_err()
            .contains("Grid Engine: invalid total_gpus 'two'"));
        // gpu_resource: what Sge::new puts in the overrides.
        let mut o = Overrides::new();
        o.insert("total_gpus".into(), Some("-l nvgpu=%s".into()));
        assert_eq!(run(&[("total_gpus", "2")], &o).unwrap(), ["#$ -l nvgpu=2\n"]);
    }
}
