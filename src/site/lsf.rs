//! IBM Spectrum LSF: `bsub`, `bjobs`, `bkill`, `#BSUB` directives.
//!
//! No LSF cluster runs on the machines this is developed on: the tests use
//! emulators of its commands (tests/emulators/lsf/) that answer in the
//! formats of the LSF documentation.

use nix::sys::signal::Signal;

use super::batch::{argv, command_failed, BatchSite, Job, KillCommand, Scheduler, ScriptInput, ToSubmit};
use super::units::{table_memory, walltime_seconds, Style};
use super::{ScriptSyntax, SiteSettings, SiteType, Submission, Traits};
use crate::connection::Outcome;
use crate::error::{Error, Result};
use crate::script::translate::{bool_value, Entry, Rule, Table};
use crate::script::NativeSyntax;
use crate::util::quote;

pub const KEYS: &[&str] = &["bsub_command", "bjobs_command", "bkill_command"];

/// The translation of generic directives to `#BSUB` options.
pub const TABLE: Table = Table::new(&[
        Entry::format("billing_account", "-P %s"),
        Entry::format("error_file", "-e %s"),
        Entry::func("exclusive", exclusive, "`-x` if true or empty, nothing if false"),
        Entry::format("export_vars", "-env \"%s\""),
        Entry::format("gpus_per_node", "-gpu \"num=%s\""),
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
        traits: Traits::default(),
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
}

impl Lsf {
    pub fn new(s: &mut SiteSettings) -> Result<Self> {
        Ok(Lsf {
            bsub: s.config.command("bsub_command", &["bsub"])?,
            bjobs: s.config.command("bjobs_command", &["bjobs"])?,
            bkill: s.config.command("bkill_command", &["bkill"])?,
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

#[cfg(test)]
mod tests {
    use super::*;

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
