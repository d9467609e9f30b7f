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
use crate::script::translate::{bool_value, Entry, Joint, Rule, Table};
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
    let limit = spec.limit.map(|l| format!("%{l}")).unwrap_or_default();
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
    Ok(vec![[b"-o ", &super::array::per_task_path(j, "%I")[..]].concat()])
}

fn error_file(j: &Joint) -> Result<Vec<Vec<u8>>> {
    Ok(vec![[b"-e ", &super::array::per_task_path(j, "%I")[..]].concat()])
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
        Entry::joint("name", name, "`-J <value>`; with `array`, see `array`"),
        Entry::joint("output_file", output_file, "`-o <value>`; with `array`, `-o <value>.%I`: a file per task"),
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
            array_index: ARRAY_INDEX,
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
