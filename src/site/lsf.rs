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
use crate::script::translate::{bool_value, Entry, Rule, Table};
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &["bsub_command", "bjobs_command", "bkill_command", "bresume_command"];

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
            let id = match index {
                "" | "-" | "0" => jobid.to_string(),
                i => format!("{jobid}[{i}]"),
            };
            let reason = Some(reason).filter(|r| !r.is_empty() && *r != "-");
            let mut s = queue_status(&id, stat, STATES, "LSF");
            add_reason(&mut s, reason);
            if s.state != State::Finished {
                return Some(s);
            }
            let code: Option<i32> = code.parse().ok();
            if stat == "DONE" {
                return Some(s.exit(code.or(Some(0)), None));
            }
            let keyword = reason.and_then(|r| r.split(':').next()).unwrap_or("");
            s.outcome = TERMINATIONS.iter().find(|(k, _)| *k == keyword).map(|(_, o)| *o);
            let signal = code.and_then(shell_signal);
            Some(match signal {
                Some(sig) => s.exit(None, Some(sig)),
                None => s.exit(code, None),
            })
        })
        .collect()
}

/// The translation of generic directives to `#BSUB` options.
pub const TABLE: Table = Table::new(&[
        Entry::format("billing_account", "-P %s"),
        Entry::format("error_file", "-e %s"),
        Entry::func("exclusive", exclusive, "`-x` if true or empty, nothing if false"),
        Entry::format("export_vars", "-env \"%s\""),
        Entry::format("gpus_per_node", "-gpu \"num=%s\""),
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
        Entry::format("name", "-J %s"),
        Entry::format("output_file", "-o %s"),
        Entry::format("priority", "-sp %s"),
        Entry::format("queue", "-q %s"),
        Entry::format("reservation", "-U %s"),
        Entry::func("signal_before_end", signal_before_end,
                "`-wa <SIG>` and `-wt <minutes>` (the warning action and time; seconds are rounded up to the next minute)"),
        Entry::format("tasks_per_node", "-R \"span[ptile=%s]\""),
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
        syntax: ScriptSyntax {
            prefix: Some("#BSUB "),
            native: Some(NATIVE),
            table: TABLE,
            units: Some(super::units::Style::Lsf),
        },
        traits: Traits {
            states: STATES,
            faults: FAULTS,
            foreign: Some(&FOREIGN),
            ..Traits::default()
        },
        create: |s| BatchSite::create(s, Lsf::new),
    }
}

fn exclusive(v: &[u8]) -> Result<Vec<Vec<u8>>> {
    if v.is_empty() || bool_value(v)? {
        Ok(vec![b"-x".to_vec()])
    } else {
        Ok(vec![])
    }
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
}

impl Lsf {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        Ok(Lsf {
            bsub: s.config.command("bsub_command", &["bsub"])?,
            bjobs: s.config.command("bjobs_command", &["bjobs"])?,
            bkill: s.config.command("bkill_command", &["bkill"])?,
            bresume: s.config.command("bresume_command", &["bresume"])?,
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

impl super::queues::QueueQueries for Lsf {}

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
        let ids: Vec<&str> = got.iter().map(|s| s.job_id.as_str()).collect();
        assert_eq!(ids, ["7", "8[3]", "9"]);
        assert_eq!(got[2].state, State::Unknown);
        assert_eq!(got[2].reason.as_deref(), Some("unknown LSF state 'NEWSTATE'"));
        let lsf = Lsf {
            bsub: vec!["bsub".into()],
            bjobs: vec!["bjobs".into()],
            bkill: vec!["bkill".into()],
            bresume: vec!["bresume".into()],
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
}
