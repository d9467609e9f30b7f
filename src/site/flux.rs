//! Flux: `flux batch`, `flux jobs`, `flux cancel`, `flux job kill`,
//! `#flux:` directives (RFC 36).
//!
//! No Flux instance runs on the machines this is developed on: the tests use
//! an emulator of the `flux` command (tests/emulators/flux/) that answers in
//! the formats of the flux-core manual pages.
//!
//! Job states come from `flux jobs -n -o
//! '{id.f58}|{state_single}|{result_abbrev}|{returncode}|{exception.type}|{exception.note}'
//! ID...` ([`STATES`]); given ids, `flux jobs` lists them in every state,
//! inactive ones until the instance purges them.

use nix::sys::signal::Signal;

use super::batch::{argv, command_failed, BatchSite, Job, KillCommand, Recovery, Scheduler, StateQueries, ToSubmit};
use super::qsub::{add_reason, answer_text, as_asked, asked_ids, queue_status, shell_signal};
use super::retry::Pattern;
use super::units::{is_fsd_with_unit, walltime_seconds, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Submission, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::job::{Answer, JobStatus, NativeState, Outcome as JobOutcome, State};
use crate::script::translate::{Entry, Joint, Rule, Table};
use crate::script::NativeSyntax;

pub const KEYS: &[&str] = &["flux_command"];

/// Flux's job states (`state_single` of `flux jobs`, RFC 21) and, for an
/// inactive job, its result (`result_abbrev`), which is then its native
/// state.
pub const STATES: &[NativeState] = &[
    NativeState::new("D", State::Held, "DEPEND: waiting for its dependencies"),
    NativeState::new("P", State::Queued, "PRIORITY: waiting for its priority"),
    NativeState::new("S", State::Queued, "SCHED: waiting for resources"),
    NativeState::new("R", State::Running, "RUN: running"),
    NativeState::new("C", State::Completing, "CLEANUP: ended, being cleaned up"),
    NativeState::finished("I", None, "INACTIVE without a result: from its `returncode`, as `F`"),
    NativeState::finished("CD", Some(JobOutcome::Succeeded), "inactive, COMPLETED"),
    NativeState::finished(
        "F",
        None,
        "inactive, FAILED: `returncode` N below 0 KILLED by signal -N (the job shell was killed), 129 to 192 \
         KILLED by signal N - 128 (a task was killed: the job shell's convention), otherwise FAILED (the exception \
         in the reason)",
    ),
    NativeState::finished(
        "CA",
        Some(JobOutcome::Cancelled),
        "inactive, CANCELED (`returncode` -128: before it started)",
    ),
    NativeState::finished(
        "TO",
        Some(JobOutcome::Timeout),
        "inactive, TIMEOUT: its time limit expired",
    ),
];

/// The fields of the status query: the last one (the exception's note) may
/// hold any text.
const FORMAT: &str = "{id.f58}|{state_single}|{result_abbrev}|{returncode}|{exception.type}|{exception.note}";

/// The options of the status query before the ids.
const QUERY_OPTIONS: [&str; 4] = ["jobs", "-n", "-o", FORMAT];

/// The statuses of `flux jobs -n -o FORMAT`.
fn parse_jobs(text: &str) -> Vec<JobStatus> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(6, '|').map(str::trim).collect();
            let [id, state, result, returncode, kind, note] = f[..] else {
                return None;
            };
            let code = if state == "I" && !result.is_empty() {
                result
            } else {
                state
            };
            let mut s = queue_status(id, code, STATES, "Flux");
            let exception = match (kind, note) {
                ("", n) | (n, "") => n.to_string(),
                (k, n) => format!("{k}: {n}"),
            };
            add_reason(&mut s, Some(&exception));
            if s.state != State::Finished {
                return Some(s);
            }
            s = match returncode.parse::<i32>().ok() {
                // Canceled before it started: no exit, no signal.
                Some(-128) | None => s.exit(None, None),
                Some(n) if n < 0 => s.exit(None, Some(-n)),
                Some(n) => match shell_signal(n) {
                    Some(sig) => s.exit(None, Some(sig)),
                    None => s.exit(Some(n), None),
                },
            };
            // FAILED with exit code 0: an exception ended it.
            if code == "F" && s.outcome == Some(JobOutcome::Succeeded) {
                s.outcome = Some(JobOutcome::Failed);
            }
            Some(s)
        })
        .collect()
}

/// A job id in one form, to match `flux jobs`' F58 ids with the ids asked:
/// F58 without its prefix (`ƒ` or `f`); a decimal id in F58.
fn id_key(id: &str) -> String {
    const F58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if let Some(rest) = id.strip_prefix('ƒ') {
        return rest.to_string();
    }
    match id.parse::<u64>() {
        Ok(mut n) => {
            let mut digits = Vec::new();
            loop {
                digits.push(F58[(n % 58) as usize]);
                n /= 58;
                if n == 0 {
                    break;
                }
            }
            digits.iter().rev().map(|&d| d as char).collect()
        }
        Err(_) => id.strip_prefix('f').unwrap_or(id).to_string(),
    }
}

/// Flux has no arrays: no variable of a task's index.
const ARRAY_INDEX: Option<&str> = None;

fn array(_v: &[u8]) -> Result<Vec<Vec<u8>>> {
    Err(Error::Script(
        "Flux has no job arrays (`flux batch --cc` makes separate jobs, each with its own id, which troika \
         cannot follow as one): submit one job per index"
            .into(),
    ))
}

/// `--dependency=afterok:ID`, once per job.
fn depends_on(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for g in super::depends::parse(v)? {
        out.extend(
            g.jobs
                .iter()
                .map(|id| format!("--dependency={}:{id}", g.kind.word()).into_bytes()),
        );
    }
    Ok(out)
}

/// The translation of generic directives to `flux batch` options.
pub const TABLE: Table = Table::new(&[
        Entry::func("array", array, "an error: Flux has no job arrays"),
        Entry::format("cpus_per_task", "-c %s"),
        Entry::func("depends_on", depends_on,
                "`--dependency=afterok:<id>`, one per job (`afterany`, `afternotok` likewise)"),
        Entry::format("error_file", "--error=%s"),
        Entry::func("exclusive", exclusive, "`--exclusive` if true or empty, nothing if false"),
        Entry::func("gpus_per_node", no_gpus_per_node,
                "not supported: `flux batch` asks for GPUs per slot (task) only; the submission fails with an error that says so"),
        Entry::format("gpus_per_task", "-g %s"),
        Entry::func("hold", hold,
                "`--urgency=hold` if true (the job waits for `troika release`; it takes the place of `priority`), nothing if false"),
        Entry {
            // Flux writes standard error to the output file when no --error is given.
            name: "join_output_error",
            rule: Rule::Ignore,
        },
        Entry::format("name", "--job-name=%s"),
        Entry::format("output_file", "--output=%s"),
        Entry::format("priority", "--urgency=%s"),
        Entry::format("queue", "-q %s"),
        Entry::func("signal_before_end", signal_before_end,
                "`--signal=<SIG>@<seconds>s`"),
        Entry::joint("total_gpus", total_gpus,
                "Flux has no total: with `total_tasks` T, `-g <value / T>` (GPUs per slot) when T divides it (else an error); without, the job is one slot: `-g <value>`"),
        Entry::format("total_nodes", "-N %s"),
        Entry::format("total_tasks", "-n %s"),
        Entry::func("walltime", walltime,
                "`-t <N>m` (whole minutes) or `-t <N>s`, converted from any walltime form; a Flux duration with a unit (`90s`, `1.5h`, `2d`) is kept as it is"),
        Entry::format("working_dir", "--cwd=%s"),
    ]);

/// `#flux:` lines (also `# flux:`); output and error files are set by
/// troika. Flux rejects a script whose directives use different prefixes,
/// so the kept lines are rewritten with the generated prefix.
pub const NATIVE: NativeSyntax = NativeSyntax {
    prefix: "flux:",
    drop: &["--output", "--error"],
    command: "flux",
    option_name_required: false,
};

pub fn site_type() -> SiteType {
    SiteType {
        name: "flux",
        keys: KEYS,
        syntax: ScriptSyntax::batch("#flux: ", NATIVE, TABLE, super::units::Style::Flux),
        traits: Traits {
            recipes: RECIPES,
            ..Traits::batch(STATES, FAULTS, ARRAY_INDEX, &FOREIGN)
        },
        create: |s| BatchSite::create(s, Flux::new),
    }
}

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[super::Recipe::new(
    "flux",
    "Flux",
    include_str!("../../recipes/flux.yml"),
)];

fn no_gpus_per_node(_: &[u8]) -> Result<Vec<Vec<u8>>> {
    Err(Error::Script(
        "Flux cannot ask for GPUs per node: flux batch counts GPUs per slot (-g, one slot per task); use \
         gpus_per_task or total_gpus"
            .into(),
    ))
}

/// `-g` is GPUs per slot: `total_gpus` divided among the slots
/// (`total_tasks`, else one).
fn total_gpus(j: &Joint) -> Result<Vec<Vec<u8>>> {
    if j.get("gpus_per_task").is_some() {
        return Err(Error::Script(
            "Flux: give one of gpus_per_task and total_gpus, not both".into(),
        ));
    }
    let number = |name: &str, v: &[u8]| super::units::count("Flux", name, v);
    let g = number("total_gpus", j.value)?;
    let slots = match j.get("total_tasks") {
        Some(t) => number("total_tasks", t)?,
        None => 1,
    };
    if g % slots != 0 {
        return Err(Error::Script(format!(
            "Flux: total_gpus={g} cannot be divided evenly among total_tasks={slots} (flux batch asks for GPUs \
             per slot): give gpus_per_task, or a total that {slots} divides"
        )));
    }
    Ok(vec![format!("-g {}", g / slots).into_bytes()])
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "--exclusive")
}

fn hold(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    crate::script::translate::bool_flag(v, "--urgency=hold")
}

fn signal_before_end(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let (sig, secs) = super::signals::signal_before_end(v)?;
    Ok(vec![format!("--signal={sig}@{secs}s").into_bytes()])
}

/// `-t`: a Flux duration with a unit as it is, any other walltime form in
/// minutes when whole minutes, else seconds.
fn walltime(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    let v = v.trim_ascii();
    if is_fsd_with_unit(v) {
        return Ok(vec![[b"-t ", v].concat()]);
    }
    let fsd = Style::Flux.walltime(walltime_seconds(v)?).map_err(Error::Script)?;
    Ok(vec![format!("-t {fsd}").into_bytes()])
}

/// A Flux instance.
/// Flux's commands: all are subcommands of `flux`.
pub struct Flux {
    flux: Vec<String>,
}

impl Flux {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        // Flux rejects a script that mixes `# flux:` and `#flux:` lines.
        s.rewrite_native = true;
        Ok(Flux {
            flux: s.config.command("flux_command", &["flux"])?,
        })
    }
}

/// The job id printed by `flux batch` (`ƒ2Lq3B5eZ`, `f2Lq3B5eZ` or a
/// number): the only word of the output, kept as text.
pub fn parse_batch_output(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    let id = words.next()?;
    words.next().is_none().then(|| id.to_string())
}

impl Scheduler for Flux {
    fn names(&self) -> Submission<'_> {
        Submission {
            failed: "Flux submission failed",
            command: "flux batch",
            query: "flux jobs",
        }
    }

    /// `flux batch` reads the script from standard input when it is given no
    /// file; with `copy_script` the copy's path is given instead.
    fn submit_argv(&self, _to: &ToSubmit) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["batch"]))
    }

    fn parse_job_id(&self, stdout: &str) -> Option<String> {
        parse_batch_output(stdout)
    }

    fn status_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["jobs", "-n", "-o", "{id} {status}", job.jid]))
    }

    fn cancel_argv(&self, job: &Job) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["cancel", job.jid]))
    }

    /// `flux job urgency ID default`: a job held with urgency 0 gets the
    /// default urgency back.
    fn release_argv(&self, job: &Job) -> Option<Vec<String>> {
        Some(argv(&self.flux, &["job", "urgency", job.jid, "default"]))
    }

    fn signal_argv(&self, job: &Job, sig: Signal) -> Result<Vec<String>> {
        Ok(argv(&self.flux, &["job", "kill", "-s", sig.as_str(), job.jid]))
    }

    /// The job finished long enough ago to be unknown to the job manager.
    fn gone(&self, out: &Outcome, _by: KillCommand) -> bool {
        let t = out.text();
        t.contains("unknown job id") || t.contains("job is inactive")
    }

    /// Pending jobs cannot be signalled: they are cancelled.
    fn not_running(&self, out: &Outcome) -> bool {
        out.text().contains("job is not running")
    }

    fn kill_failed(&self, out: &Outcome, by: KillCommand, _argv: &[String]) -> Error {
        match by {
            KillCommand::Cancel => command_failed("flux cancel", out),
            KillCommand::Signal => command_failed("flux job kill", out),
        }
    }
}

/// Flux's words of failures that pass (from its documentation; no Flux
/// instance runs here to see them).
const FAULTS: &[Pattern] = &[Pattern::not_started("Unable to connect to Flux")];

impl Recovery for Flux {}

/// The format of `flux queue list`: fields of flux-queue(1).
const QUEUE_FORMAT: &str = "{queuem}|{submission}|{scheduling}|{limits.timelimit}";

/// The format of `flux resource list`: fields of flux-resource(1).
const RESOURCE_FORMAT: &str = "{state}|{queue}|{nnodes}|{ncores}";

/// The name troika gives the one anonymous queue of an instance without
/// named queues.
const ANONYMOUS_QUEUE: &str = "default";

/// A time limit of `flux queue list`: seconds (`3600.0`) or a Flux
/// Standard Duration (`1h`, `30m`, `1.5h`); `inf` or `0` is none.
fn flux_limit(text: &str) -> Option<u64> {
    let t = text.trim();
    let (number, unit) = match t.strip_suffix(['s', 'm', 'h', 'd']) {
        Some(n) => (n, &t[n.len()..]),
        None => (t, "s"),
    };
    let n: f64 = number.parse().ok()?;
    let factor = match unit {
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => 1.0,
    };
    (n.is_finite() && n > 0.0).then(|| (n * factor).round() as u64)
}

impl super::queues::QueueQueries for Flux {
    /// `flux queue list` (each queue: submission enabled or disabled,
    /// scheduling started or stopped, time limit), then `flux resource
    /// list -s all,free` (nodes and cores of each queue, all and free).
    fn queues_argvs(&self) -> Vec<Vec<String>> {
        vec![
            argv(&self.flux, &["queue", "list", "-n", "-o", QUEUE_FORMAT]),
            argv(
                &self.flux,
                &["resource", "list", "-n", "-s", "all,free", "-o", RESOURCE_FORMAT],
            ),
        ]
    }

    /// Enabled and started: up; disabled and started: drained; enabled and
    /// stopped: inactive; neither: down. The default queue is marked with
    /// `*` by `{queuem}`; an instance without named queues has one
    /// anonymous queue (an empty name), the default, called `default` here.
    /// Resources listed with several queues (`batch,debug`) count for each;
    /// with none, for the anonymous queue.
    fn parse_queues(
        &self,
        answers: &[(Vec<String>, Outcome)],
    ) -> std::result::Result<Vec<super::queues::QueueInfo>, String> {
        use super::queues::{QueueInfo, QueueState};
        let [(argv0, queues), (_, resources)] = answers else {
            return Err("no answer".into());
        };
        if !queues.success() {
            return Err(super::batch::query_failed(argv0, queues));
        }
        // (queue, state) -> (nodes, cores); unknown when the query failed.
        let mut counts: Vec<(String, String, u64, u64)> = Vec::new();
        if resources.success() {
            for line in String::from_utf8_lossy(&resources.stdout).lines() {
                let f: Vec<&str> = line.split('|').map(str::trim).collect();
                let [state, queue, nodes, cores] = f[..] else { continue };
                let (Ok(nodes), Ok(cores)) = (nodes.parse::<u64>(), cores.parse::<u64>()) else {
                    continue;
                };
                for q in queue.split(',') {
                    let q = if q.is_empty() { ANONYMOUS_QUEUE } else { q };
                    match counts.iter_mut().find(|c| c.0 == q && c.1 == state) {
                        Some(c) => (c.2, c.3) = (c.2 + nodes, c.3 + cores),
                        None => counts.push((q.to_string(), state.to_string(), nodes, cores)),
                    }
                }
            }
        }
        let count = |q: &str, state: &str| {
            resources.success().then(|| {
                counts
                    .iter()
                    .find(|c| c.0 == q && c.1 == state)
                    .map_or((0, 0), |c| (c.2, c.3))
            })
        };
        let mut out = Vec::new();
        for line in String::from_utf8_lossy(&queues.stdout).lines() {
            let f: Vec<&str> = line.split('|').map(str::trim).collect();
            let [name, submission, scheduling, limit] = f[..] else {
                continue;
            };
            let (name, default) = match name.strip_suffix('*') {
                Some(n) => (n, true),
                None => (name, false),
            };
            let (name, default) = match name {
                "" => (ANONYMOUS_QUEUE, true),
                n => (n, default),
            };
            let state = match (submission == "enabled", scheduling == "started") {
                (true, true) => QueueState::Up,
                (false, true) => QueueState::Drained,
                (true, false) => QueueState::Inactive,
                (false, false) => QueueState::Down,
            };
            let mut q = QueueInfo::new(name, state, format!("{submission},{scheduling}"));
            q.default = default;
            q.max_walltime = flux_limit(limit);
            q.nodes = count(name, "all").map(|c| c.0);
            q.slots = count(name, "all").map(|c| c.1);
            q.slots_free = count(name, "free").map(|c| c.1);
            q.details = vec![
                ("submission".into(), submission.into()),
                ("scheduling".into(), scheduling.into()),
                ("limits.timelimit".into(), limit.into()),
            ];
            out.push(q);
        }
        Ok(out)
    }
}

impl StateQueries for Flux {
    /// `flux jobs -n -o FORMAT ID...`: ids listed are shown in every state
    /// (no `-a`: flux jobs warns that filters are ignored with ids).
    fn queue_argv(&self, jids: &[&str], _user: Option<&str>) -> Option<Vec<String>> {
        let args: Vec<&str> = QUERY_OPTIONS.iter().copied().chain(jids.iter().copied()).collect();
        Some(argv(&self.flux, &args))
    }

    /// A job Flux does not know (`JobID ID unknown`, or `ID: unknown job
    /// id`: never, or purged) is no answer; other failures are.
    fn parse_queue(&self, out: &Outcome, argv: &[String]) -> Answer {
        let text = answer_text(out, argv, |l| l.contains("unknown job id") || l.ends_with(" unknown"))?;
        let asked = asked_ids(argv, &self.flux, QUERY_OPTIONS.len());
        Ok(as_asked(parse_jobs(&text), asked, id_key))
    }
}

// ---- Foreign directives: `#flux:` lines read elsewhere ----

use crate::script::foreign::{self as fd, Conv, Foreign, Opt, Takes};

type Pairs = std::result::Result<Vec<(&'static str, String)>, String>;

/// `#flux:` options as generic directives, for a script sent to another
/// scheduler.
pub const FOREIGN: Foreign = Foreign {
    scheduler: "Flux",
    prefix: "flux:",
    array_index: ARRAY_INDEX,
    shared: &[],
    options: &[
        Opt::to(&["--job-name"], "name"),
        Opt::func(
            &["-t", "--time-limit"],
            foreign_time,
            "walltime: a Flux Standard Duration (`90m`, `2h`; a plain number is seconds), as `HH:MM:SS`",
        ),
        Opt::to(&["-N", "--nodes"], "total_nodes"),
        Opt::to(&["-n", "--ntasks"], "total_tasks"),
        Opt::to(&["-c", "--cores-per-task"], "cpus_per_task"),
        Opt::to(&["-g", "--gpus-per-task"], "gpus_per_task"),
        Opt::to(&["-q", "--queue"], "queue"),
        Opt::to(&["-B", "--bank"], "billing_account"),
        Opt::new(&["--output"], Takes::Value, Conv::Output),
        Opt::to(&["--error"], "error_file"),
        Opt::flag(&["--exclusive"], "exclusive", "true"),
        Opt::to(&["--cwd"], "working_dir"),
        Opt::func(
            &["--urgency"],
            foreign_urgency,
            "`hold` or `0` as hold; other urgencies are not translated",
        ),
        Opt::func(
            &["--dependency"],
            |v| Ok(vec![("depends_on", fd::check_depends(v)?)]),
            "depends_on (`afterok:ID`, `afterany:ID`, `afternotok:ID`)",
        ),
    ],
    resources: &[],
};

fn foreign_time(v: &str) -> Pairs {
    let v = v.trim();
    let num_len = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (num, unit) = v.split_at(num_len);
    let mult = match unit {
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("{} is not a Flux Standard Duration", crate::util::quote(v))),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{} is not a Flux Standard Duration", crate::util::quote(v)))?;
    Ok(vec![("walltime", fd::walltime((n * mult).ceil() as u64))])
}

fn foreign_urgency(v: &str) -> Pairs {
    match v.trim() {
        "hold" | "0" => Ok(vec![("hold", "true".into())]),
        _ => Err("only `hold` (0) is translated".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `flux queue list` and `flux resource list` in the fields of
    /// flux-queue(1) and flux-resource(1).
    #[test]
    fn queues_of_queue_and_resource_lists() {
        use super::super::queues::QueueQueries;
        use crate::site::qsub::table_test::answer;
        let flux = Flux {
            flux: vec!["flux".into()],
        };
        let argvs = flux.queues_argvs();
        assert_eq!(argvs[0][..3], ["flux", "queue", "list"]);
        assert_eq!(argvs[1][..5], ["flux", "resource", "list", "-n", "-s"]);
        let queues = "batch*|enabled|started|inf\ndebug|disabled|started|1800.0\nnight|enabled|stopped|8h\nold|disabled|stopped|0\n";
        let resources = "all|batch|4|64\nfree|batch|2|40\nall|batch,debug|1|16\nfree|batch,debug|1|16\n";
        let got = flux
            .parse_queues(&[
                (argvs[0].clone(), answer(0, queues, "")),
                (argvs[1].clone(), answer(0, resources, "")),
            ])
            .unwrap();
        let states: Vec<(&str, &str, bool)> = got
            .iter()
            .map(|q| (q.name.as_str(), q.state.as_str(), q.default))
            .collect();
        assert_eq!(
            states,
            [
                ("batch", "up", true),
                ("debug", "drained", false),
                ("night", "inactive", false),
                ("old", "down", false)
            ]
        );
        assert_eq!(got[0].max_walltime, None);
        assert_eq!(got[1].max_walltime, Some(1800));
        assert_eq!(got[2].max_walltime, Some(8 * 3600));
        assert_eq!(got[3].max_walltime, None);
        assert_eq!(
            (got[0].nodes, got[0].slots, got[0].slots_free),
            (Some(5), Some(80), Some(56))
        );
        assert_eq!(
            (got[1].nodes, got[1].slots, got[1].slots_free),
            (Some(1), Some(16), Some(16))
        );
        assert_eq!((got[2].nodes, got[2].slots_free), (Some(0), Some(0)));
        assert_eq!(got[1].native_state, "disabled,started");
        // No named queues: one anonymous queue, the default.
        let got = flux
            .parse_queues(&[
                (argvs[0].clone(), answer(0, "|enabled|started|inf\n", "")),
                (argvs[1].clone(), answer(1, "", "flux-resource: ERROR: x")),
            ])
            .unwrap();
        assert_eq!(
            (got[0].name.as_str(), got[0].default, got[0].nodes),
            ("default", true, None)
        );
        let err = flux
            .parse_queues(&[
                (
                    argvs[0].clone(),
                    answer(1, "", "flux-queue: ERROR: Unable to connect to Flux"),
                ),
                (argvs[1].clone(), answer(0, "", "")),
            ])
            .unwrap_err();
        assert!(err.contains("Unable to connect to Flux"), "{err}");
        assert_eq!(flux_limit("1.5h"), Some(5400));
    }

    #[test]
    fn every_state_and_result_is_read() {
        // (state_single|result_abbrev|returncode|exception.type|exception.note), row, meaning.
        let cases: &[(&str, &str, &str)] = &[
            ("D||||", "D", "HELD"),
            ("P||||", "P", "QUEUED"),
            ("S||||", "S", "QUEUED"),
            ("R||||", "R", "RUNNING"),
            ("C||||", "C", "COMPLETING"),
            ("I||2||", "I", "FINISHED/FAILED"),
            ("I|CD|0||", "CD", "FINISHED/SUCCEEDED"),
            ("I|F|3||", "F", "FINISHED/FAILED"),
            ("I|F|-9||", "F", "FINISHED/KILLED"),
            ("I|F|137||", "F", "FINISHED/KILLED"),
            (
                "I|F|0|exec|cannot execute job.sh: Permission denied",
                "F",
                "FINISHED/FAILED",
            ),
            ("I|CA|-128|cancel|", "CA", "FINISHED/CANCELLED"),
            ("I|CA|143|cancel|", "CA", "FINISHED/CANCELLED"),
            ("I|TO|142|timeout|resource allocation expired", "TO", "FINISHED/TIMEOUT"),
        ];
        let text: String = cases
            .iter()
            .enumerate()
            .map(|(i, (l, _, _))| format!("ƒ{}|{l}\n", id_key(&(i + 1).to_string())))
            .collect();
        let got = parse_jobs(&text);
        let rows: Vec<(&str, &str)> = cases.iter().map(|(_, r, w)| (*r, *w)).collect();
        crate::site::qsub::table_test::check(STATES, &rows, &got);
        assert_eq!(got[5].exit_code, Some(2));
        assert_eq!(got[7].native_state.as_deref(), Some("F"));
        assert_eq!((got[8].exit_code, got[8].signal), (None, Some(9)));
        assert_eq!(got[9].signal, Some(9));
        assert_eq!(got[10].exit_code, Some(0));
        assert_eq!(
            got[10].reason.as_deref(),
            Some("exec: cannot execute job.sh: Permission denied")
        );
        assert_eq!((got[11].exit_code, got[11].signal), (None, None));
        assert_eq!(got[11].reason.as_deref(), Some("cancel"));
        assert_eq!(got[12].signal, Some(15));
        assert_eq!(got[13].signal, Some(14));
    }

    #[test]
    fn ids_as_asked_unknown_words_and_failures() {
        assert_eq!(id_key("ƒ2Lq3B5eZ"), "2Lq3B5eZ");
        assert_eq!(id_key("f2Lq3B5eZ"), "2Lq3B5eZ");
        assert_eq!(id_key("0"), "1");
        assert_eq!(id_key("58"), "21");
        let flux = Flux {
            flux: vec!["flux".into()],
        };
        let argv = flux.queue_argv(&["f2Lq", "fGone", "59"], None).unwrap();
        assert_eq!(argv[..5], ["flux", "jobs", "-n", "-o", FORMAT]);
        let out = crate::site::qsub::table_test::answer;
        let stdout = "ƒ2Lq|R||||\nƒ22|X||||\n";
        // flux-core writes `JobID ID unknown` and exits 0; older ones an error.
        for (code, stderr) in [
            (0, "JobID fGone unknown\n"),
            (1, "flux-jobs: ERROR: fGone: unknown job id\n"),
        ] {
            let got = flux.parse_queue(&out(code, stdout, stderr), &argv).unwrap();
            let ids: Vec<&str> = got.iter().map(|s| s.job_id.as_str()).collect();
            assert_eq!(ids, ["f2Lq", "59"]);
            assert_eq!(got[1].state, State::Unknown);
            assert_eq!(got[1].reason.as_deref(), Some("unknown Flux state 'X'"));
        }
        let err = flux
            .parse_queue(&out(1, "", "flux-jobs: ERROR: Unable to connect to Flux\n"), &argv)
            .unwrap_err();
        assert_eq!(
            err,
            "flux failed with exit code 1: flux-jobs: ERROR: Unable to connect to Flux"
        );
    }

    #[test]
    fn batch_output() {
        assert_eq!(parse_batch_output("ƒ2Lq3B5eZ\n").as_deref(), Some("ƒ2Lq3B5eZ"));
        assert_eq!(parse_batch_output("f2Lq3B5eZ").as_deref(), Some("f2Lq3B5eZ"));
        assert_eq!(parse_batch_output(""), None);
        assert_eq!(parse_batch_output("flux-batch: ERROR: x\n"), None);
    }

    #[test]
    fn walltime_units() {
        let w = |v: &str| String::from_utf8(walltime(v.as_bytes()).unwrap().remove(0)).unwrap();
        assert_eq!(w("01:30:00"), "-t 90m");
        assert_eq!(w("00:00:45"), "-t 45s");
        assert_eq!(w("01:00:30"), "-t 3630s");
        assert_eq!(w("60"), "-t 60m");
        assert_eq!(w("1-00:00:00"), "-t 1440m");
        assert_eq!(w("1.5h"), "-t 1.5h");
        assert_eq!(w("1h30m"), "-t 90m");
        assert_eq!(w("1:75"), "-t 135s");
        assert_eq!(w("0"), "-t 0m");
        assert!(walltime(b"1:2:3:4").is_err());
    }

    #[test]
    fn gpus() {
        use crate::script::translate::{lines_of, Overrides};
        let run = |pairs: &[(&str, &str)]| lines_of(&TABLE, b"#flux: ", &Overrides::new(), pairs);
        assert_eq!(run(&[("gpus_per_task", "2")]).unwrap(), ["#flux: -g 2\n"]);
        assert_eq!(run(&[("total_gpus", "2")]).unwrap(), ["#flux: -g 2\n"]);
        assert_eq!(
            run(&[("total_gpus", "8"), ("total_tasks", "4")]).unwrap(),
            ["#flux: -g 2\n", "#flux: -n 4\n"]
        );
        assert_eq!(
            run(&[("total_gpus", "6"), ("total_tasks", "4")]).unwrap_err(),
            "Directive 'total_gpus': Flux: total_gpus=6 cannot be divided evenly among total_tasks=4 (flux batch \
             asks for GPUs per slot): give gpus_per_task, or a total that 4 divides"
        );
        assert_eq!(
            run(&[("gpus_per_node", "4")]).unwrap_err(),
            "Directive 'gpus_per_node': Flux cannot ask for GPUs per node: flux batch counts GPUs per slot (-g, \
             one slot per task); use gpus_per_task or total_gpus"
        );
        assert!(run(&[("total_gpus", "2"), ("gpus_per_task", "1")])
            .unwrap_err()
            .contains("give one of gpus_per_task and total_gpus, not both"));
    }
}
