//! IBM Spectrum LSF: `bsub`, `bjobs`, `bkill`, `#BSUB` directives.
//!
//! No LSF cluster runs on the machines this is developed on: the tests use
//! emulators of its commands (tests/emulators/lsf/) that answer in the
//! formats of the LSF documentation.

use nix::sys::signal::Signal;

use super::batch::{
    argv, command_failed, BatchSite, Job, KillCommand, Recovery, Scheduler, ScriptInput, StateQueries, ToSubmit,
};
use super::qsub::{add_reason, answer_text, queue_status, shell_signal};
use super::retry::Pattern;
use super::units::{table_memory, walltime_seconds, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Submission, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::{Answer, JobStatus, NativeState, Outcome as JobOutcome, State};
use crate::script::translate::{Entry, Joint, Rule, Table};
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &[
    "bsub_command",
    "bjobs_command",
    "bkill_command",
    "bresume_command",
    "bqueues_command",
    "bparams_command",
];

/// LSF's job states (`stat` of `bjobs`), and for a job that exited what its
/// termination reason (`exit_reason`) says. Rows that name reasons are read
/// from a job in `EXIT`.
pub const STATES: &[NativeState] = &[
    NativeState::new("PEND", State::Queued, "pending"),
    NativeState::new(
        "PROV",
        State::Queued,
        "dispatched to a power-saved host that is waking up",
    ),
    NativeState::new("WAIT", State::Queued, "member of a chunk job, waiting to run"),
    NativeState::new(
        "PSUSP",
        State::Held,
        "suspended while pending, by its owner or an administrator",
    ),
    NativeState::new("RUN", State::Running, "running"),
    NativeState::new(
        "USUSP",
        State::Suspended,
        "suspended while running, by its owner or an administrator",
    ),
    NativeState::new(
        "SSUSP",
        State::Suspended,
        "suspended by LSF (load, or its queue's run window closed)",
    ),
    NativeState::new(
        "UNKWN",
        State::Unknown,
        "mbatchd lost contact with the host that runs it",
    ),
    NativeState::new(
        "ZOMBI",
        State::Unknown,
        "killed while its host was unreachable, or requeued under a new id",
    ),
    NativeState::finished("DONE", Some(JobOutcome::Succeeded), "ended with exit code 0"),
    NativeState::finished(
        "EXIT",
        None,
        "ended otherwise: `exit_code` 129 to 192 KILLED by signal N - 128, other codes FAILED, except the \
         termination reasons below",
    ),
    NativeState::finished(
        "EXIT, TERM_RUNLIMIT, TERM_CPULIMIT or TERM_DEADLINE",
        Some(JobOutcome::Timeout),
        "killed at its run time limit, cpu time limit or deadline",
    ),
    NativeState::finished(
        "EXIT, TERM_MEMLIMIT or TERM_SWAP",
        Some(JobOutcome::OutOfMemory),
        "killed at its memory or swap limit",
    ),
    NativeState::finished(
        "EXIT, TERM_OWNER, TERM_FORCE_OWNER, TERM_ADMIN, TERM_FORCE_ADMIN or TERM_BUCKET_KILL",
        Some(JobOutcome::Cancelled),
        "killed by its owner or an administrator (bkill)",
    ),
    NativeState::finished(
        "EXIT, TERM_PREEMPT",
        Some(JobOutcome::Preempted),
        "killed after preemption",
    ),
];

/// What a termination reason says of a job that exited.
const TERMINATIONS: &[(&str, JobOutcome)] = &[
    ("TERM_RUNLIMIT", JobOutcome::Timeout),
    ("TERM_CPULIMIT", JobOutcome::Timeout),
    ("TERM_DEADLINE", JobOutcome::Timeout),
    ("TERM_MEMLIMIT", JobOutcome::OutOfMemory),
    ("TERM_SWAP", JobOutcome::OutOfMemory),
    ("TERM_OWNER", JobOutcome::Cancelled),
    ("TERM_FORCE_OWNER", JobOutcome::Cancelled),
    ("TERM_ADMIN", JobOutcome::Cancelled),
    ("TERM_FORCE_ADMIN", JobOutcome::Cancelled),
    ("TERM_BUCKET_KILL", JobOutcome::Cancelled),
    ("TERM_PREEMPT", JobOutcome::Preempted),
];

/// The `-o` fields of the status query.
const FIELDS: &str = "jobid jobindex stat exit_code exit_reason delimiter='|'";

/// The statuses of `bjobs -noheader -o FIELDS`: `jobid|jobindex|stat|exit_code|exit_reason`
/// (`-` for a field without a value).
fn parse_bjobs(text: &str) -> Vec<JobStatus> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(5, '|').map(str::trim).collect();
            let [jobid, index, stat, code, reason] = f[..] else {
                return None;
            };
            let s = bjobs_status(jobid, index, stat, code, reason);
            // A task of an array job: `12[3]`, summed up under `12`.
            Some(match index {
                "" | "-" | "0" => s,
                i => s.of_task(jobid, i),
            })
        })
        .collect()
}

/// The status of one line of `bjobs`.
fn bjobs_status(jobid: &str, index: &str, stat: &str, code: &str, reason: &str) -> JobStatus {
    let id = match index {
        "" | "-" | "0" => jobid.to_string(),
        i => format!("{jobid}[{i}]"),
    };
    let reason = Some(reason).filter(|r| !r.is_empty() && *r != "-");
    let mut s = queue_status(&id, stat, STATES, "LSF");
    add_reason(&mut s, reason);
    if s.state != State::Finished {
        return s;
    }
    let code: Option<i32> = code.parse().ok();
    if stat == "DONE" {
        return s.exit(code.or(Some(0)), None);
    }
    let keyword = reason.and_then(|r| r.split(':').next()).unwrap_or("");
    s.outcome = TERMINATIONS.iter().find(|(k, _)| *k == keyword).map(|(_, o)| *o);
    match code.and_then(shell_signal) {
        Some(sig) => s.exit(None, Some(sig)),
        None => s.exit(code, None),
    }
}

/// The variable of an array task's index.
const ARRAY_INDEX: Option<&str> = Some("LSB_JOBINDEX");

/// `-J "NAME[1-10:2]%3"`: an array is a name with indices.
fn array(j: &Joint) -> Result<Vec<Vec<u8>>> {
    let spec = super::array::Spec::parse(j.value)?;
    let limit = spec.limit_suffix();
    let name = j.get("name").unwrap_or(b"troika");
    Ok(vec![[
        b"-J \"",
        name,
        format!("[{}]{limit}\"", spec.ranges_text()).as_bytes(),
    ]
    .concat()])
}

/// `-J NAME`, unless the array's `-J` has the name.
fn name(j: &Joint) -> Result<Vec<Vec<u8>>> {
    Ok(match j.get("array") {
        Some(_) => vec![],
        None => vec![[b"-J ", j.value].concat()],
    })
}

fn output_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "-o ", "%I")
}

fn error_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    super::array::per_task_option(j, "-e ", "%I")
}

/// `-w "done(1) && ended(2)"`.
fn depends_on(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    use super::depends::Kind;
    let mut conditions = Vec::new();
    for g in super::depends::parse(v)? {
        let word = match g.kind {
            Kind::Ok => "done",
            Kind::Any => "ended",
            Kind::NotOk => "exit",
        };
        conditions.extend(g.jobs.iter().map(|id| format!("{word}({id})")));
    }
    Ok(vec![format!("-w \"{}\"", conditions.join(" && ")).into_bytes()])
}

/// The translation of generic directives to `#BSUB` options.
pub const TABLE: Table = Table::new(&[
        Entry::joint("array", array,
                "`-J \"<name>[<ranges>]%<limit>\"` (LSF's array is part of the job name; without `name`, `troika`); the index is in `LSB_JOBINDEX` and `TROIKA_ARRAY_INDEX`"),
        Entry::format("billing_account", "-P %s"),
        Entry::func("depends_on", depends_on,
                "`-w \"done(<id>) && ended(<id>) && exit(<id>)\"`: `afterok` is `done`, `afterany` `ended`, `afternotok` `exit`"),
        Entry::joint("error_file", error_file, "`-e <value>`; with `array`, `-e <value>.%I`: a file per task"),
        Entry::func("exclusive", exclusive, "`-x` if true or empty, nothing if false"),
        Entry::format("export_vars", "-env \"%s\""),
        Entry::joint("gpus_per_node", gpu, "`-gpu \"num=<value>\"` (LSF counts GPUs per host)"),
        Entry::joint("gpus_per_task", gpu, "`-gpu \"num=<value>/task\"`"),
        Entry::func("hold", hold, "`-H` if true (the job waits for `troika release`), nothing if false"),
        Entry {
            // LSF writes standard error to the output file when no -e is given.
            name: "join_output_error",
            rule: Rule::Ignore,
        },
        Entry::func("mail_type", mail_type,
                "`-B` for `begin`, `-N` for `end` or `fail`, both for `all`, nothing for `none`"),
        Entry::format("mail_user", "-u %s"),
        Entry::func("memory_per_node", mem,
                "`-M <value>`, units in LSF's form (`4G` becomes `4GB`, `1.5G` becomes `1536MB`; a plain number is in LSF_UNIT_FOR_LIMITS)"),
        Entry::joint("name", name, "`-J <value>`; with `array`, see `array`"),
        Entry::joint("output_file", output_file, "`-o <value>`; with `array`, `-o <value>.%I`: a file per task"),
        Entry::format("priority", "-sp %s"),
        Entry::format("queue", "-q %s"),
        Entry::format("reservation", "-U %s"),
        Entry::func("signal_before_end", signal_before_end,
                "`-wa <SIG>` and `-wt <minutes>` (the warning action and time; seconds are rounded up to the next minute)"),
        Entry::format("tasks_per_node", "-R \"span[ptile=%s]\""),
        Entry::joint("total_gpus", gpu,
                "LSF has no total: with `total_tasks` T, `-gpu \"num=<value / T>/task\"` when T divides it (else an error); without, the job is one task on one host: `-gpu \"num=<value>\"`"),
        Entry::format("total_tasks", "-n %s"),
        Entry::func("walltime", walltime,
                "`-W H:MM`, converted from any walltime form (seconds are rounded up to the next minute)"),
        Entry::format("working_dir", "-cwd %s"),
    ]);

/// `#BSUB` lines; output and error files are set by troika.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "BSUB",
    drop: &["-o", "-e", "-oo", "-eo"],
    command: "bsub",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "lsf",
        keys: KEYS,
        syntax: ScriptSyntax::batch("#BSUB ", NATIVE, TABLE, super::units::Style::Lsf),
        traits: Traits {
            recipes: RECIPES,
            ..Traits::batch(STATES, FAULTS, ARRAY_INDEX, &FOREIGN)
        },
        create: |s| BatchSite::create(s, Lsf::new),
    }
}

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[super::Recipe::new(
    "lsf",
    "IBM Spectrum LSF",
    include_str!("../../recipes/lsf.yml"),
)];

/// The GPU directives, of which a job gives one.
const GPU_PARTS: [&str; 3] = ["gpus_per_node", "gpus_per_task", "total_gpus"];

/// `-gpu "num=N"` (per host) or `-gpu "num=N/task"`, from whichever GPU
/// directive is given (see `TABLE`).
fn gpu(j: &Joint) -> Result<Vec<Vec<u8>>> {
    let value_of = |name: &str| if name == j.name { Some(j.value) } else { j.get(name) };
    let given: Vec<&str> = GPU_PARTS.iter().copied().filter(|p| value_of(p).is_some()).collect();
    if given.len() > 1 {
        return Err(Error::Script(format!(
            "LSF: give one of gpus_per_node, gpus_per_task and total_gpus, not {}",
            given.join(" and ")
        )));
    }
    let number = |name: &str, v: &[u8]| super::units::count("LSF", name, v);
    let n = number(j.name, j.value)?;
    let num = match j.name {
        "gpus_per_node" => n.to_string(),
        "gpus_per_task" => format!("{n}/task"),
        _ => match value_of("total_tasks") {
            None => n.to_string(),
            Some(t) => {
                let t = number("total_tasks", t)?;
                if n % t != 0 {
                    return Err(Error::Script(format!(
                        "LSF: total_gpus={n} cannot be divided evenly among total_tasks={t} (LSF asks for GPUs \
                         per host or per task): give gpus_per_task or gpus_per_node, or a total that {t} divides"
                    )));
                }
                format!("{}/task", n / t)
            }
        },
    };
    Ok(vec![format!("-gpu \"num={num}\"").into_bytes()])
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "-x")
}

fn hold(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "-H")
}

fn signal_before_end(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let (sig, secs) = super::signals::signal_before_end(v)?;
    Ok(vec![
        format!("-wa {sig}").into_bytes(),
        format!("-wt {}", secs.div_ceil(60)).into_bytes(),
    ])
}

fn mail_type(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let (mut begin, mut end) = (false, false);
    for item in v.split(|&c| c == b',') {
        let item = item.trim_ascii();
        match item.to_ascii_lowercase().as_slice() {
            b"begin" => begin = true,
            b"end" | b"fail" => end = true,
            b"all" => (begin, end) = (true, true),
            b"none" | b"" => {}
            _ => crate::warning!(
                "Unknown mail_type value {} (LSF knows begin, end, fail, all and none)",
                crate::util::quote_bytes(item)
            ),
        }
    }
    let mut out = Vec::new();
    if begin {
        out.push(b"-B".to_vec());
    }
    if end {
        out.push(b"-N".to_vec());
    }
    Ok(out)
}

fn mem(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(vec![[b"-M ".as_slice(), &table_memory(v, Style::Lsf)?].concat()])
}

/// `-W [HH:]MM`: whole minutes, seconds rounded up.
fn walltime(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let secs = walltime_seconds(v)?;
    let minutes = secs.div_ceil(60);
    Ok(vec![format!("-W {}:{:02}", minutes / 60, minutes % 60).into_bytes()])
}

/// An LSF cluster.
/// LSF's commands.
pub struct Lsf {
    bsub: Vec<String>,
    bjobs: Vec<String>,
    bkill: Vec<String>,
    bresume: Vec<String>,
    bqueues: Vec<String>,
    bparams: Vec<String>,
}

impl Lsf {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        Ok(Lsf {
            bsub: s.config.command("bsub_command", &["bsub"])?,
            bjobs: s.config.command("bjobs_command", &["bjobs"])?,
            bkill: s.config.command("bkill_command", &["bkill"])?,
            bresume: s.config.command("bresume_command", &["bresume"])?,
            bqueues: s.config.command("bqueues_command", &["bqueues"])?,
            bparams: s.config.command("bparams_command", &["bparams"])?,
        })
    }
}

/// The job id in `bsub` output: `Job <1234> is submitted to queue <normal>.`
/// (or `... to default queue <normal>.`).
pub fn parse_bsub_output(out: &str) -> Option<String> {
    out.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Job <")?;
        let (id, tail) = rest.split_once('>')?;
        (!id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()) && tail.starts_with(" is submitted"))
            .then(|| id.to_string())
    })
}

impl Scheduler for Lsf {
    fn names(&self) -> Submission<'_> {
        Submission {
            failed: "LSF submission failed",
            command: "bsub",
            query: "bjobs",
        }
    }

    fn submit_argv(&self, _to: &ToSubmit) -> Result<Vec<String>> {
        Ok(self.bsub.clone())
    }

    /// `bsub < script`: LSF reads `#BSUB` lines only from a script given on
    /// standard input. With `copy_script` the script is also copied beside
    /// the output file.
    fn script_input(&self) -> ScriptInput {
        ScriptInput::AlwaysStdin
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_bsub_output(stdout)
    }

    /// `1234`, or an array element `1234[5]`.
    fn check_job_id(&self, jid: &str) -> Result<()> {
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
        let ok = match jid.split_once('[') {
            Some((id, index)) => digits(id) && index.strip_suffix(']').is_some_and(digits),
            None => digits(jid),
        };
        if !ok {
            return Err(Error::invocation(format!("Invalid job id: {}", quote(jid))));
        }
        Ok(())
    }

    fn status_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.bjobs, &["-w", job.jid]))
    }

    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.bkill, &[job.jid]))
    }

    /// `bresume ID`: a job submitted with `-H` waits suspended (PSUSP).
    fn release_argv(&self, job: &Job) -> Option<Vec<String>> {
        Some(argv(&self.bresume, &[job.jid]))
    }

    /// bkill takes signal names without the SIG prefix (`bkill -l`).
    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>> {
        Ok(argv(
            &self.bkill,
            &["-s", sig.as_str().trim_start_matches("SIG"), job.jid],
        ))
    }

    /// `Job <1234>: No matching job found`, `Job <1234>: Job has already finished`.
    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        let t = out.text();
        t.contains("No matching job found") || t.contains("Job has already finished")
    }

    fn kill_failed(&self, out: &Outcome, _by: KillCommand, _argv: &[String]) -> Error {
        command_failed("bkill", out)
    }
}

/// LSF's words of failures that pass (from its documentation; no LSF
/// cluster runs here to see them).
const FAULTS: &[Pattern] = &[
    Pattern::not_started("LSF is down"),
    Pattern::not_started("Cannot connect to LSF"),
    Pattern::maybe_done("Communication time out"),
];

impl Recovery for Lsf {}

impl super::queues::QueueQueries for Lsf {
    /// `bqueues -w` (one line per queue: status and job slot counts),
    /// `bqueues -l` (each queue in long form: description, limits, users,
    /// hosts) and `bparams` (the cluster's default queues).
    fn queues_argvs(&self) -> Vec<Vec<String>> {
        vec![
            argv(&self.bqueues, &["-w"]),
            argv(&self.bqueues, &["-l"]),
            self.bparams.clone(),
        ]
    }

    /// The queues of `bqueues -w`; `bqueues -l` adds the limits and hosts,
    /// `bparams` the default flag. Only the first must answer: without the
    /// others their fields are unknown.
    fn parse_queues(
        &self,
        answers: &[(Vec<String>, Outcome)],
    ) -> std::result::Result<Vec<super::queues::QueueInfo>, String> {
        let [(argv0, wide), (_, long), (_, params)] = answers else {
            return Err("no answer".into());
        };
        if !wide.success() {
            return Err(super::batch::query_failed(argv0, wide));
        }
        let long = long
            .success()
            .then(|| parse_bqueues_long(&String::from_utf8_lossy(&long.stdout)));
        let defaults = if params.success() {
            default_queues(&String::from_utf8_lossy(&params.stdout))
        } else {
            Vec::new()
        };
        parse_bqueues(&String::from_utf8_lossy(&wide.stdout), long.as_deref(), &defaults)
    }
}

/// A queue's state from its `STATUS` (`Open:Active`, `Closed:Inact`; `bqueues
/// -l` may say why it is inactive: `Open:Inact_Win`, `Open:Inact_Adm`).
/// Open and active: up; open and inactive (collecting): inactive; closed and
/// active (draining): drained; closed and inactive: down.
fn queue_state(status: &str) -> super::queues::QueueState {
    use super::queues::QueueState;
    let (open, active) = status.split_once(':').unwrap_or((status, ""));
    match (open.eq_ignore_ascii_case("Open"), active.eq_ignore_ascii_case("Active")) {
        (true, true) => QueueState::Up,
        (true, false) => QueueState::Inactive,
        (false, true) => QueueState::Drained,
        (false, false) => QueueState::Down,
    }
}

/// The queue names after `Default Queues:` in `bparams` output.
fn default_queues(text: &str) -> Vec<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Default Queues:"))
        .map(|rest| rest.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// What `bqueues -l` says of one queue.
#[derive(Default, Debug)]
struct LongQueue {
    name: String,
    /// `RUNLIMIT` of the maximum limits, in seconds.
    run_limit: Option<u64>,
    /// `MEMLIMIT` of the maximum limits, in MiB.
    mem_limit: Option<u64>,
    /// The hosts, when `HOSTS:` lists them by name (not `all`, not groups).
    hosts: Option<u64>,
    details: Vec<(String, String)>,
}

/// The values of a limits line (`360.0 min of hostA   4 G`): each begins
/// with a number; the words after it up to the next number belong to it.
fn limit_values(line: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in line.split_whitespace() {
        let numeric = w.starts_with(|c: char| c.is_ascii_digit() || c == '.');
        match out.last_mut() {
            Some(last) if !numeric => {
                last.push(' ');
                last.push_str(w);
            }
            _ => out.push(w.to_string()),
        }
    }
    out
}

/// `360.0 min` (or `360.0 min of hostA`): seconds.
fn run_limit_seconds(v: &str) -> Option<u64> {
    let minutes: f64 = v.split_whitespace().next()?.parse().ok()?;
    (minutes.is_finite() && minutes >= 0.0).then(|| (minutes * 60.0).round() as u64)
}

/// `4 G`, `512 M`, `1048576 K` (`KB`, `MB`, ... too; a number alone is in
/// KB, LSF's default unit for limits): MiB.
fn mem_limit_mb(v: &str) -> Option<u64> {
    let mut words = v.split_whitespace();
    let n: f64 = words.next()?.parse().ok()?;
    let unit = words
        .next()
        .unwrap_or("K")
        .trim_end_matches(['B', 'b'])
        .to_ascii_uppercase();
    let kib = match unit.as_str() {
        "" | "K" => n,
        "M" => n * 1024.0,
        "G" => n * 1024.0 * 1024.0,
        "T" => n * 1024.0 * 1024.0 * 1024.0,
        "P" => n * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (kib.is_finite() && kib >= 0.0).then(|| (kib / 1024.0).round() as u64)
}

/// The queues of `bqueues -l`: blocks that begin `QUEUE: NAME`.
fn parse_bqueues_long(text: &str) -> Vec<LongQueue> {
    let mut out: Vec<LongQueue> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut default_limits = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        i += 1;
        if let Some(name) = t.strip_prefix("QUEUE:") {
            out.push(LongQueue {
                name: name.trim().to_string(),
                ..LongQueue::default()
            });
            default_limits = false;
            continue;
        }
        let Some(q) = out.last_mut() else { continue };
        if let Some(d) = t.strip_prefix("-- ") {
            q.details.push(("description".into(), d.trim().to_string()));
        } else if t.starts_with("DEFAULT LIMITS") {
            default_limits = true;
        } else if t.starts_with("MAXIMUM LIMITS") || t.starts_with("RESOURCE LIMITS") {
            default_limits = false;
        } else if !t.is_empty() && t.split_whitespace().all(|w| w.ends_with("LIMIT")) {
            // A line of limit names, their values on the next line.
            let names: Vec<&str> = t.split_whitespace().collect();
            let values = lines.get(i).map(|l| limit_values(l)).unwrap_or_default();
            i += 1;
            for (name, value) in names.iter().zip(values) {
                let key = match default_limits {
                    true => format!("default {name}"),
                    false => name.to_string(),
                };
                if !default_limits {
                    match *name {
                        "RUNLIMIT" => q.run_limit = run_limit_seconds(&value),
                        "MEMLIMIT" => q.mem_limit = mem_limit_mb(&value),
                        _ => {}
                    }
                }
                q.details.push((key, value));
            }
        } else if let Some((key, value)) = t.split_once(':') {
            let key_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == ' ');
            if key_ok {
                let value = value.trim();
                if key == "HOSTS" {
                    let hosts: Vec<&str> = value.split_whitespace().collect();
                    let named = !hosts.is_empty()
                        && hosts
                            .iter()
                            .all(|h| *h != "all" && !h.ends_with('/') && !h.starts_with('~') && !h.contains('+'));
                    q.hosts = named.then_some(hosts.len() as u64);
                }
                q.details.push((key.to_string(), value.to_string()));
            }
        }
    }
    out
}

/// The queues of `bqueues -w`: a header (`QUEUE_NAME PRIO STATUS MAX JL/U
/// JL/P JL/H NJOBS PEND RUN SUSP`), then one line per queue, `-` for a
/// field without a value. `MAX` (the queue's job slot limit) is its slots,
/// `MAX` less the slots of running and suspended jobs those free.
fn parse_bqueues(
    text: &str,
    long: Option<&[LongQueue]>,
    defaults: &[String],
) -> std::result::Result<Vec<super::queues::QueueInfo>, String> {
    use super::queues::QueueInfo;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = match lines.next() {
        Some(h) if h.split_whitespace().next() == Some("QUEUE_NAME") => h.split_whitespace().collect(),
        Some(other) => return Err(format!("unexpected bqueues output: {}", other.trim())),
        None => return Ok(vec![]),
    };
    let col = |name: &str| header.iter().position(|h| *h == name);
    let status_col = col("STATUS").ok_or("bqueues output has no STATUS column")?;
    let mut out = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != header.len() {
            continue;
        }
        let value = |name: &str| col(name).map(|i| f[i]).filter(|v| *v != "-");
        let number = |name: &str| value(name).and_then(|v| v.parse::<u64>().ok());
        let status = f[status_col];
        let mut q = QueueInfo::new(f[0], queue_state(status), status);
        q.default = defaults.iter().any(|d| d == f[0]);
        q.slots = number("MAX");
        let used = number("RUN").unwrap_or(0) + number("SUSP").unwrap_or(0);
        q.slots_free = q.slots.map(|m| m.saturating_sub(used));
        for (i, h) in header.iter().enumerate().skip(1) {
            if i != status_col {
                q.details.push((h.to_string(), f[i].to_string()));
            }
        }
        if let Some(l) = long.and_then(|all| all.iter().find(|l| l.name == f[0])) {
            q.max_walltime = l.run_limit;
            q.max_memory_mb = l.mem_limit;
            q.nodes = l.hosts;
            q.details.extend(l.details.iter().cloned());
        }
        out.push(q);
    }
    Ok(out)
}

impl StateQueries for Lsf {
    /// `bjobs -a -noheader -o "jobid jobindex stat exit_code exit_reason
    /// delimiter='|'" ID...`.
    fn queue_argv(&self, jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        let args: Vec<&str> = ["-a", "-noheader", "-o", FIELDS]
            .into_iter()
            .chain(jids.iter().copied())
            .collect();
        Some(argv(&self.bjobs, &args))
    }

    /// A job LSF does not know (`Job <ID> is not found`, exit 255: never,
    /// or no more after `CLEAN_PERIOD`) is no answer; other failures are.
    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        let text = answer_text(out, argv, |l| l.contains("is not found"))?;
        Ok(parse_bjobs(&text))
    }
}

// ---- Foreign directives: `#BSUB` lines read elsewhere ----

use crate::script::foreign::{self as fd, Conv, Foreign, Opt, Takes};

type Pairs = std::result::Result<Vec<(&'static str, String)>, String>;

/// `#BSUB` options as generic directives, for a script sent to another
/// scheduler.
pub const FOREIGN: Foreign = Foreign {
    scheduler: "LSF",
    prefix: "BSUB",
    array_index: ARRAY_INDEX,
    shared: &[],
    options: &[
        Opt::func(&["-J"], foreign_name, "name; `name[1-5]` or `name[1-5]%2` is also array `1-5` (`1-5%2`)"),
        Opt::func(&["-W"], foreign_walltime, "walltime: `[HH:]MM`, as `HH:MM:SS`"),
        Opt::to(&["-n"], "total_tasks"),
        Opt::func(&["-R"], foreign_requirements, "`span[ptile=P]` as tasks_per_node, `span[hosts=1]` as total_nodes 1; other requirements are not translated"),
        Opt::func(&["-M"], foreign_memory, "memory_per_node (LSF's limit per process or host; a plain number is kilobytes, LSF's default unit)"),
        Opt::to(&["-q"], "queue"),
        Opt::to(&["-P"], "billing_account"),
        Opt::to(&["-u"], "mail_user"),
        Opt::flag(&["-B"], "mail_type", "begin"),
        Opt::flag(&["-N"], "mail_type", "end"),
        Opt::new(&["-o", "-oo"], Takes::Value, Conv::Output),
        Opt::to(&["-e", "-eo"], "error_file"),
        Opt::to(&["-cwd"], "working_dir"),
        Opt::flag(&["-x"], "exclusive", "true"),
        Opt::flag(&["-H"], "hold", "true"),
        Opt::func(&["-w"], foreign_depends, "`done(ID)`, `ended(ID)`, `exit(ID)` joined by `&&`: depends_on `afterok`, `afterany`, `afternotok`"),
        Opt::func(&["-gpu"], foreign_gpu, "`num=G` as gpus_per_node"),
        Opt::func(&["-env"], |v| Ok(vec![("export_vars", v.to_string())]), "export_vars"),
    ],
    resources: &[],
};

fn foreign_name(v: &str) -> Pairs {
    match v.split_once('[') {
        None => Ok(vec![("name", v.to_string())]),
        Some((name, rest)) => {
            let (range, throttle) = rest.split_once(']').ok_or("the array has no ']'")?;
            let array = format!("{range}{throttle}");
            Ok(vec![("name", name.to_string()), ("array", fd::check_array(&array)?)])
        }
    }
}

fn foreign_walltime(v: &str) -> Pairs {
    let (h, m) = v.trim().split_once(':').unwrap_or(("0", v.trim()));
    let secs = fd::count(h, "the hours")?
        .checked_mul(3600)
        .and_then(|h| fd::count(m, "the minutes").ok()?.checked_mul(60)?.checked_add(h))
        .ok_or_else(|| format!("the limit {} is too large or not [HH:]MM", quote(v)))?;
    Ok(vec![("walltime", fd::walltime(secs))])
}

fn foreign_memory(v: &str) -> Pairs {
    let v = v.trim();
    let text = match !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
        true => format!("{v}K"),
        false => v.to_string(),
    };
    fd::generic_memory("memory_per_node", &text)
}

fn foreign_requirements(v: &str) -> Pairs {
    let inner = v.trim().strip_prefix("span[").and_then(|s| s.strip_suffix(']'));
    match inner.and_then(|s| s.split_once('=')) {
        Some(("ptile", p)) => Ok(vec![("tasks_per_node", fd::count(p, "ptile")?.to_string())]),
        Some(("hosts", "1")) => Ok(vec![("total_nodes", "1".into())]),
        _ => Err("only `span[ptile=N]` and `span[hosts=1]` are translated".into()),
    }
}

fn foreign_depends(v: &str) -> Pairs {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for cond in v.split("&&") {
        let cond = cond.trim();
        let (kind, id) = cond
            .strip_suffix(')')
            .and_then(|c| c.split_once('('))
            .ok_or_else(|| format!("{} is not done(ID), ended(ID) or exit(ID)", quote(cond)))?;
        let kind = match kind.trim() {
            "done" => "afterok",
            "ended" => "afterany",
            "exit" => "afternotok",
            other => return Err(format!("the condition {} is not translated", quote(other))),
        };
        let id = id.trim();
        if id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()) {
            return Err("only job ids (not names) are translated".into());
        }
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((kind, vec![id])),
        }
    }
    let text: Vec<String> = groups.iter().map(|(k, ids)| format!("{k}:{}", ids.join(":"))).collect();
    Ok(vec![("depends_on", text.join(","))])
}

fn foreign_gpu(v: &str) -> Pairs {
    for part in v.split(':') {
        if let Some(n) = part.trim().strip_prefix("num=") {
            return Ok(vec![("gpus_per_node", fd::count(n, "num")?.to_string())]);
        }
    }
    Err("only `num=N` is translated".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_termination_is_read() {
        // (stat|exit_code|exit_reason), the row it exercises, what it means.
        let cases: &[(&str, &str, &str)] = &[
            ("PEND|-|-", "PEND", "QUEUED"),
            ("PROV|-|-", "PROV", "QUEUED"),
            ("WAIT|-|-", "WAIT", "QUEUED"),
            ("PSUSP|-|-", "PSUSP", "HELD"),
            ("RUN|-|-", "RUN", "RUNNING"),
            ("USUSP|-|-", "USUSP", "SUSPENDED"),
            ("SSUSP|-|-", "SSUSP", "SUSPENDED"),
            ("UNKWN|-|-", "UNKWN", "UNKNOWN"),
            ("ZOMBI|-|-", "ZOMBI", "UNKNOWN"),
            ("DONE|-|-", "DONE", "FINISHED/SUCCEEDED"),
            ("EXIT|3|-", "EXIT", "FINISHED/FAILED"),
            ("EXIT|137|-", "EXIT", "FINISHED/KILLED"),
            ("EXIT|-|-", "EXIT", "FINISHED/FAILED"),
            (
                "EXIT|140|TERM_RUNLIMIT: job killed after reaching LSF run time limit.",
                "EXIT, TERM_RUNLIMIT, TERM_CPULIMIT or TERM_DEADLINE",
                "FINISHED/TIMEOUT",
            ),
            (
                "EXIT|152|TERM_CPULIMIT: job killed after reaching LSF CPU usage limit.",
                "EXIT, TERM_RUNLIMIT, TERM_CPULIMIT or TERM_DEADLINE",
                "FINISHED/TIMEOUT",
            ),
            (
                "EXIT|-|TERM_DEADLINE: job killed after deadline expires.",
                "EXIT, TERM_RUNLIMIT, TERM_CPULIMIT or TERM_DEADLINE",
                "FINISHED/TIMEOUT",
            ),
            (
                "EXIT|137|TERM_MEMLIMIT: job killed after reaching LSF memory usage limit.",
                "EXIT, TERM_MEMLIMIT or TERM_SWAP",
                "FINISHED/OUT_OF_MEMORY",
            ),
            (
                "EXIT|137|TERM_SWAP: job killed after reaching LSF swap usage limit.",
                "EXIT, TERM_MEMLIMIT or TERM_SWAP",
                "FINISHED/OUT_OF_MEMORY",
            ),
        ];
        let cancel_row = "EXIT, TERM_OWNER, TERM_FORCE_OWNER, TERM_ADMIN, TERM_FORCE_ADMIN or TERM_BUCKET_KILL";
        let mut all: Vec<(String, &str, &str)> = cases.iter().map(|(l, r, w)| (l.to_string(), *r, *w)).collect();
        for k in [
            "TERM_OWNER",
            "TERM_FORCE_OWNER",
            "TERM_ADMIN",
            "TERM_FORCE_ADMIN",
            "TERM_BUCKET_KILL",
        ] {
            all.push((format!("EXIT|130|{k}: job killed"), cancel_row, "FINISHED/CANCELLED"));
        }
        all.push((
            "EXIT|143|TERM_PREEMPT: job killed after preemption.".into(),
            "EXIT, TERM_PREEMPT",
            "FINISHED/PREEMPTED",
        ));
        let text: String = all
            .iter()
            .enumerate()
            .map(|(i, (l, _, _))| format!("{}|0|{l}\n", 100 + i))
            .collect();
        let got = parse_bjobs(&text);
        let rows: Vec<(&str, &str)> = all.iter().map(|(_, r, w)| (*r, *w)).collect();
        crate::site::qsub::table_test::check(STATES, &rows, &got);
        assert_eq!(got[9].exit_code, Some(0));
        assert_eq!((got[10].exit_code, got[10].signal), (Some(3), None));
        assert_eq!((got[11].exit_code, got[11].signal), (None, Some(9)));
        assert_eq!(got[12].exit_code, None);
        assert_eq!(got[13].signal, Some(12));
        assert_eq!(
            got[13].reason.as_deref(),
            Some("TERM_RUNLIMIT: job killed after reaching LSF run time limit.")
        );
        assert_eq!(got[13].native_state.as_deref(), Some("EXIT"));
        assert_eq!(got[18].signal, Some(2));
    }

    #[test]
    fn array_elements_unknown_words_and_failures() {
        let got = parse_bjobs("7|0|RUN|-|-\n8|3|DONE|0|-\n9|0|NEWSTATE|-|-\nnot a job line\n");
        // An element of an array is a task of its job.
        let ids: Vec<&str> = got.iter().map(|s| s.job_id.as_str()).collect();
        assert_eq!(ids, ["7", "8", "9"]);
        let task = got[1].task.as_ref().unwrap();
        assert_eq!((task.index.as_str(), task.id.as_str()), ("3", "8[3]"));
        assert_eq!(got[2].state, State::Unknown);
        assert_eq!(got[2].reason.as_deref(), Some("unknown LSF state 'NEWSTATE'"));
        let lsf = Lsf {
            bsub: vec!["bsub".into()],
            bjobs: vec!["bjobs".into()],
            bkill: vec!["bkill".into()],
            bresume: vec!["bresume".into()],
            bqueues: vec!["bqueues".into()],
            bparams: vec!["bparams".into()],
        };
        let argv = lsf.queue_argv(&["7", "77"], None).unwrap();
        assert_eq!(
            argv,
            [
                "bjobs",
                "-a",
                "-noheader",
                "-o",
                "jobid jobindex stat exit_code exit_reason delimiter='|'",
                "7",
                "77"
            ]
        );
        let out = |code, stderr| crate::site::qsub::table_test::answer(code, "7|0|RUN|-|-\n", stderr);
        assert_eq!(
            lsf.parse_queue(&out(255, "Job <77> is not found\n"), &argv)
                .unwrap()
                .len(),
            1
        );
        let err = lsf
            .parse_queue(&out(255, "LSF is down; try again later\n"), &argv)
            .unwrap_err();
        assert_eq!(
            err,
            "bjobs failed with exit code 255: LSF is down; try again later\n7|0|RUN|-|-"
        );
    }

    #[test]
    fn bsub_output() {
        assert_eq!(
            parse_bsub_output("Job <1234> is submitted to queue <normal>.\n").as_deref(),
            Some("1234")
        );
        assert_eq!(
            parse_bsub_output("Warning: x\nJob <7> is submitted to default queue <short>.\n").as_deref(),
            Some("7")
        );
        assert_eq!(parse_bsub_output("Job <x> is submitted to queue <normal>.\n"), None);
        assert_eq!(parse_bsub_output("Request aborted by esub. Job not submitted.\n"), None);
        assert_eq!(parse_bsub_output(""), None);
    }

    #[test]
    fn walltime_minutes() {
        let w = |v: &str| String::from_utf8(walltime(v.as_bytes()).unwrap().remove(0)).unwrap();
        assert_eq!(w("01:30:00"), "-W 1:30");
        assert_eq!(w("00:00:01"), "-W 0:01");
        assert_eq!(w("00:59:59"), "-W 1:00");
        assert_eq!(w("90"), "-W 1:30");
        assert_eq!(w("2-00:00:00"), "-W 48:00");
        assert_eq!(w("1h30m"), "-W 1:30");
        assert_eq!(w("5400s"), "-W 1:30");
        assert_eq!(w("1:75"), "-W 0:03");
        assert!(walltime(b"1h30").is_err());
    }

    #[test]
    fn mail_and_memory() {
        assert_eq!(mail_type(b"begin,end").unwrap(), vec![b"-B".to_vec(), b"-N".to_vec()]);
        assert_eq!(mail_type(b"fail").unwrap(), vec![b"-N".to_vec()]);
        assert_eq!(mail_type(b"all").unwrap(), vec![b"-B".to_vec(), b"-N".to_vec()]);
        assert!(mail_type(b"none").unwrap().is_empty());
        assert_eq!(mem(b"4G").unwrap(), vec![b"-M 4GB".to_vec()]);
        assert_eq!(mem(b"1.5G").unwrap(), vec![b"-M 1536MB".to_vec()]);
        assert!(exclusive(b"maybe").is_err());
    }

    #[test]
    fn queue_listing_long_form_and_defaults() {
        use crate::site::queues::QueueState;
        let wide = "QUEUE_NAME      PRIO STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN  SUSP\n\
                    normal           30  Open:Active      16    -    -    -     6     2     3     1\n\
                    night            40  Open:Inact        -    -    -    -     0     0     0     0\n\
                    drain            20  Closed:Active     -    -    -    -     0     0     0     0\n\
                    off              10  Closed:Inact      -    -    -    -     0     0     0     0\n";
        let long = "QUEUE: normal\n  -- For normal jobs.\n\nPARAMETERS/STATISTICS\n\
                    PRIO NICE STATUS          MAX JL/U JL/P JL/H NJOBS  PEND   RUN SSUSP USUSP  RSV\n\
                    \x20 30    0  Open:Active      16    -    -    -     6     2     3     0     1    0\n\
                    Interval for a host to accept two jobs is 0 seconds\n\n\
                    \x20DEFAULT LIMITS:\n RUNLIMIT\n 10.0 min\n\n\
                    \x20MAXIMUM LIMITS:\n RUNLIMIT               MEMLIMIT\n 360.0 min of hostA     4 G\n\n\
                    USERS: all\nHOSTS:  hostA hostB\n\n\
                    QUEUE: night\n  -- Night jobs.\n\n RUNLIMIT\n 720.0 min\n\nUSERS: all\nHOSTS:  all\n";
        let params = "Default Queues:  normal\nJob Dispatch Interval:  20 seconds\n";
        let l = parse_bqueues_long(long);
        assert_eq!(l.len(), 2, "{l:?}");
        let q = parse_bqueues(wide, Some(&l), &default_queues(params)).unwrap();
        let states: Vec<_> = q.iter().map(|q| q.state).collect();
        assert_eq!(
            states,
            [
                QueueState::Up,
                QueueState::Inactive,
                QueueState::Drained,
                QueueState::Down
            ]
        );
        assert_eq!(q[0].native_state, "Open:Active");
        assert!(q[0].default && !q[1].default);
        assert_eq!(q[0].max_walltime, Some(360 * 60));
        assert_eq!(q[0].max_memory_mb, Some(4096));
        assert_eq!((q[0].slots, q[0].slots_free, q[0].nodes), (Some(16), Some(12), Some(2)));
        assert!(q[0].details.contains(&("default RUNLIMIT".into(), "10.0 min".into())));
        assert!(q[0]
            .details
            .contains(&("description".into(), "For normal jobs.".into())));
        assert!(q[0].details.contains(&("NJOBS".into(), "6".into())));
        assert_eq!(
            (q[1].max_walltime, q[1].nodes, q[1].slots),
            (Some(720 * 60), None, None)
        );
        assert_eq!(q[2].max_walltime, None);
        // Without the long form or the defaults: what bqueues -w says.
        let q = parse_bqueues(wide, None, &[]).unwrap();
        assert!(q.iter().all(|q| !q.default && q.max_walltime.is_none()));
        assert_eq!(queue_state("Open:Inact_Win"), QueueState::Inactive);
        assert!(parse_bqueues("LSF is down. Please wait ...\n", None, &[]).is_err());
        assert_eq!(mem_limit_mb("1048576 K"), Some(1024));
        assert_eq!(mem_limit_mb("2048"), Some(2));
        assert_eq!(mem_limit_mb("512 MB"), Some(512));
        assert_eq!(
            limit_values(" 60.0 min of hostA   30.0 min  4 G"),
            ["60.0 min of hostA", "30.0 min", "4 G"]
        );
    }

    #[test]
    fn gpus() {
        use crate::script::translate::{lines_of, Overrides};
        let run = |pairs: &[(&str, &str)]| lines_of(&TABLE, b"#BSUB ", &Overrides::new(), pairs);
        assert_eq!(run(&[("gpus_per_node", "4")]).unwrap(), ["#BSUB -gpu \"num=4\"\n"]);
        assert_eq!(run(&[("gpus_per_task", "1")]).unwrap(), ["#BSUB -gpu \"num=1/task\"\n"]);
        assert_eq!(run(&[("total_gpus", "2")]).unwrap(), ["#BSUB -gpu \"num=2\"\n"]);
        assert_eq!(
            run(&[("total_gpus", "8"), ("total_tasks", "4")]).unwrap(),
            ["#BSUB -gpu \"num=2/task\"\n", "#BSUB -n 4\n"]
        );
        assert_eq!(
            run(&[("total_gpus", "6"), ("total_tasks", "4")]).unwrap_err(),
            "Directive 'total_gpus': LSF: total_gpus=6 cannot be divided evenly among total_tasks=4 (LSF asks \
             for GPUs per host or per task): give gpus_per_task or gpus_per_node, or a total that 4 divides"
        );
        assert!(run(&[("gpus_per_task", "1"), ("gpus_per_node", "2")])
            .unwrap_err()
            .contains(
                "LSF: give one of gpus_per_node, gpus_per_task and total_gpus, not gpus_per_node and gpus_per_task"
            ));
        assert!(run(&[("gpus_per_node", "0")])
            .unwrap_err()
            .contains("LSF: invalid gpus_per_node '0'"));
    }
}
