//! Sites: a queueing system (or direct execution) reached through a
//! connection. Each site type is one module with its directive table; adding a
//! scheduler is adding one file and registering it in [`builtin`].

pub mod array;
pub mod batch;
pub mod depends;
pub mod direct;
pub mod flux;
pub mod group;
pub mod kill;
pub mod lsf;
pub mod pbs;
pub mod qsub;
pub mod queues;
pub mod retry;
pub mod sge;
pub mod signals;
pub mod slurm;
pub mod templated;
pub mod torque;
pub mod units;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::SiteConfig;
use crate::connection::{Command, Connection, Outcome};
use crate::error::{Error, Result};
use crate::script::{NativeSyntax, Overrides, Profile, Table, Translator, UnknownPolicy};
use crate::util::{quote, with_suffix};
pub use signals::KillSequence;

/// How a kill ended, as given to the post-kill hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelStatus {
    /// The job was waiting in the queue and was removed before it ran.
    Cancelled,
    /// The job was sent a signal it can catch, and is expected to report itself.
    Terminated,
    /// The job was killed without a chance to report (SIGKILL, or the
    /// scheduler's default cancel).
    Killed,
    /// The job was not found: it finished or never existed.
    Vanished,
}

impl CancelStatus {
    /// The kill's result in the state model's words: a job removed or
    /// cancelled by the scheduler's own command (`scancel`, `qdel`, `bkill`)
    /// was CANCELLED by its user; one that troika sent signals to
    /// (`signalled`: a kill sequence was followed) was KILLED by them;
    /// VANISHED when the scheduler did not know it.
    pub fn outcome(self, signalled: bool) -> crate::job::Outcome {
        use crate::job::Outcome;
        match self {
            CancelStatus::Cancelled => Outcome::Cancelled,
            CancelStatus::Killed if !signalled => Outcome::Cancelled,
            CancelStatus::Killed | CancelStatus::Terminated => Outcome::Killed,
            CancelStatus::Vanished => Outcome::Vanished,
        }
    }

    /// The word given to the post-kill hooks (`TERMINATED` included), as
    /// troika 0.2.7 gave it.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelStatus::Cancelled => "CANCELLED",
            CancelStatus::Terminated => "TERMINATED",
            CancelStatus::Killed => "KILLED",
            CancelStatus::Vanished => "VANISHED",
        }
    }
}

/// How a site type writes scripts.
#[derive(Clone, Copy)]
pub struct ScriptSyntax {
    /// The prefix of generated directives (`#SBATCH `); `None` for none.
    pub prefix: Option<&'static str>,
    pub native: Option<NativeSyntax>,
    pub table: Table,
    /// How the scheduler writes memory sizes and wall-clock limits, for the
    /// resource translators; `None` for a type without such directives.
    pub units: Option<units::Style>,
}

impl ScriptSyntax {
    /// The syntax of a batch scheduler: its directive prefix, native lines,
    /// table and units.
    pub const fn batch(prefix: &'static str, native: NativeSyntax, table: Table, units: units::Style) -> Self {
        ScriptSyntax {
            prefix: Some(prefix),
            native: Some(native),
            table,
            units: Some(units),
        }
    }
}

/// Everything a site needs that is common to all site types, read and
/// checked from the configuration before the site is created.
pub struct SiteSettings {
    pub config: SiteConfig,
    /// The user given with `-u`, if any (the connection has it too).
    pub user: Option<String>,
    pub connection: Box<dyn Connection>,
    pub syntax: ScriptSyntax,
    /// `directive_prefix` from the configuration, or the type's.
    pub prefix: Option<Vec<u8>>,
    pub overrides: Overrides,
    pub unknown: UnknownPolicy,
    pub default_shebang: Option<Vec<u8>>,
    pub translators: Vec<Box<dyn Translator>>,
    pub copy_script: bool,
    pub copy_jid: bool,
    /// `kill_sequence`, if configured.
    pub kill_sequence: Option<KillSequence>,
    /// Time limit of each scheduler command.
    pub command_timeout: Option<Duration>,
    /// `pmkdir_command`: creates a directory and its parents on the site
    /// (`mkdir -p` by default); the directory is appended.
    pub pmkdir_command: Vec<String>,
    /// Rewrite native directive lines with the directive prefix (set by
    /// site types whose scheduler rejects mixed prefixes).
    pub rewrite_native: bool,
    /// `status_record`: generated scripts write a status record beside
    /// their output file.
    pub status_record: bool,
    /// `vanish_grace`: how long after its submission a job may be in no
    /// queue or record before it is VANISHED, in seconds.
    pub vanish_grace: u64,
    /// How commands that fail transiently are tried again.
    pub retry: retry::RetryPolicy,
    /// The scheduler's words of failures (`retry::classify`), from its
    /// site type's [`Traits`].
    pub faults: &'static [retry::Pattern],
    /// The scheduler's variable of an array task's index, from its site
    /// type's [`Traits`].
    pub array_index: Option<&'static str>,
    /// The site type's name.
    pub type_name: &'static str,
    /// Other schedulers' directives read in its scripts
    /// (`foreign_directives`): every registered type's whose prefix is not
    /// the site's own.
    pub foreign: Vec<&'static crate::script::foreign::Foreign>,
}

impl SiteSettings {
    /// The script profile for generation.
    pub fn profile(&self) -> Profile<'_> {
        Profile {
            native: self.syntax.native.as_ref(),
            prefix: self.prefix.as_deref(),
            table: &self.syntax.table,
            overrides: &self.overrides,
            unknown: self.unknown,
            default_shebang: self.default_shebang.as_deref(),
            rewrite_native: self.rewrite_native,
            array_index: self.array_index,
            foreign: &self.foreign,
            target: self.type_name,
        }
    }

    /// Whether this is a dry run (its connection only logs commands).
    pub fn dry_run(&self) -> bool {
        self.connection.dry_run()
    }

    /// Runs a scheduler command with the site's timeout.
    pub fn run(&self, cmd: Command) -> Result<Outcome> {
        let cmd = if cmd.timeout.is_none() {
            cmd.timeout(self.command_timeout)
        } else {
            cmd
        };
        self.connection.execute(cmd)
    }

    /// Runs a command that can be repeated without harm (a query, a
    /// cancel, `mkdir -p`), again after each transient failure as the
    /// site's retry policy allows.
    pub fn run_retried(&self, cmd: Command) -> Result<Outcome> {
        let name = cmd.argv.first().map(crate::util::program_name).unwrap_or_default();
        retry::repeat(&self.retry, &name, self.faults, || self.run(cmd.clone()))
    }

    /// Copies the script to the site (`copy_script`), again after each
    /// transient failure.
    pub fn send_script(&self, script: &Path, target: &Path) -> Result<()> {
        retry::repeat_action(&self.retry, "Copying the script", || {
            self.connection.send_script(script, target)
        })
    }

    /// Copies a file to the site (`copy_jid`, the hooks that copy logs),
    /// again after each transient failure.
    pub fn send_file(&self, src: &Path, target: &Path) -> Result<()> {
        retry::repeat_action(&self.retry, "Copying a file to the site", || {
            self.connection.send_file(src, target)
        })
    }

    /// Copies a file from the site, again after each transient failure.
    pub fn get_file(&self, src: &Path, target: &Path) -> Result<()> {
        retry::repeat_action(&self.retry, "Copying a file from the site", || {
            self.connection.get_file(src, target)
        })
    }

    /// Runs a status query `argv` and reads its answer with `parse`. A dry
    /// run, or a command that cannot run, is no answer.
    pub fn ask(
        &self,
        argv: Vec<String>,
        parse: impl FnOnce(&Outcome, &[String]) -> crate::job::Answer,
    ) -> crate::job::Answer {
        match self.run_retried(Command::new(argv.clone())) {
            Ok(out) if out.dryrun => Err("dry run: nothing was asked".into()),
            Ok(out) => parse(&out, &argv),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The status of `jobs` from the site's `queue` and `accounting`
    /// queries, its status records and its grace period
    /// (`crate::job::resolve`).
    pub fn resolve(
        &self,
        jobs: &[crate::job::Query],
        queue: crate::job::Ask,
        accounting: Option<crate::job::Ask>,
    ) -> Vec<crate::job::JobStatus> {
        let records = |paths: &[&Path]| self.read_records(paths);
        crate::job::resolve(
            jobs,
            &crate::job::Sources {
                queue,
                records: &records,
                accounting,
                grace_secs: self.vanish_grace,
            },
        )
    }

    /// The status records at `paths`, read with one command on the site
    /// ([`SiteSettings::read_files`]). A record that is not there is `None`;
    /// when the files could not be read (the command could not run, or the
    /// connection failed), why.
    pub fn read_records(
        &self,
        paths: &[&Path],
    ) -> std::result::Result<Vec<Option<crate::job::record::Record>>, String> {
        Ok(self
            .read_files(paths)?
            .into_iter()
            .map(|t| t.map(|t| crate::job::record::Record::parse(&t)))
            .collect())
    }

    /// The small files at `paths`, read with one command on the site (`tail
    /// -n +1 -- /dev/null PATH...`: with more than one file, each is
    /// preceded by `==> PATH <==`): `None` for a file that is missing or
    /// cannot be read (tail fails, and shows the others); an error when the
    /// command could not run, did not show `/dev/null` (so it did not read
    /// the files: the connection failed), or in a dry run.
    pub fn read_files(&self, paths: &[&Path]) -> std::result::Result<Vec<Option<String>>, String> {
        let mut argv: Vec<std::ffi::OsString> = vec!["tail".into(), "-n".into(), "+1".into(), "--".into()];
        argv.push("/dev/null".into());
        argv.extend(paths.iter().map(|p| p.as_os_str().to_owned()));
        let out = match self.run_retried(Command::new(argv)) {
            Ok(out) if !out.dryrun => out,
            Ok(_) => return Err("dry run: nothing was asked".into()),
            Err(e) => return Err(e.to_string()),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if !text.starts_with("==> /dev/null <==") {
            let err = String::from_utf8_lossy(&out.stderr);
            let mut why = format!("tail failed with {}", out.describe());
            if let Some(line) = err.lines().rev().find(|l| !l.trim().is_empty()) {
                why.push_str(&format!(": {}", line.trim()));
            }
            return Err(why);
        }
        let mut sections: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut current: Option<String> = None;
        for line in text.split_inclusive('\n') {
            let bare = line.trim_end_matches('\n');
            if let Some(name) = bare.strip_prefix("==> ").and_then(|l| l.strip_suffix(" <==")) {
                current = Some(name.to_string());
                sections.entry(name.to_string()).or_default();
                continue;
            }
            if let Some(c) = &current {
                sections.entry(c.clone()).or_default().push_str(line);
            }
        }
        Ok(paths
            .iter()
            .map(|p| sections.get(&p.display().to_string()).cloned())
            .collect())
    }

    /// Creates the directory of `output` on the site with `pmkdir_command`;
    /// returns the directory.
    pub fn create_output_dir(&self, output: &Path) -> Result<PathBuf> {
        let dir = crate::util::command_path(crate::util::parent_dir(output));
        let mut argv: Vec<std::ffi::OsString> = self.pmkdir_command.iter().map(Into::into).collect();
        argv.push(dir.clone().into_os_string());
        let out = self.run_retried(Command::new(argv))?;
        if out.dryrun {
            return Ok(dir);
        }
        let prog = &self.pmkdir_command[0];
        if !out.success() {
            for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                if !text.is_empty() {
                    crate::error!("{prog} {what}:\n{}", String::from_utf8_lossy(text).trim());
                }
            }
            let err = String::from_utf8_lossy(&out.stderr);
            let mut msg = format!(
                "Output directory creation failed with {} ({} {})",
                out.describe(),
                quote(prog),
                quote(&dir.display().to_string())
            );
            if !err.trim().is_empty() {
                msg.push_str(&format!(": {}", err.trim()));
            }
            return Err(Error::run(msg));
        }
        Ok(dir)
    }

    /// Runs a submission command `argv` with the script on its standard
    /// input or, with `copy_script`, copies the script beside the output file
    /// and appends the copy's path.
    pub fn run_submission(&self, mut argv: Vec<String>, script: &Path, output: &Path) -> Result<Outcome> {
        let mut stdin = crate::connection::Input::File(script.to_path_buf());
        if self.copy_script {
            let target = self.copy_target(script, output);
            self.send_script(script, &target)?;
            argv.push(target.display().to_string());
            stdin = crate::connection::Input::Null;
        }
        self.run(Command::new(argv).stdin(stdin))
    }

    /// Where `copy_script` puts the script: beside the output file. Commands
    /// take it as an argument, so it never starts with `-`.
    pub fn copy_target(&self, script: &Path, output: &Path) -> PathBuf {
        crate::util::command_path(crate::util::file_in(
            &crate::util::parent_dir(output),
            script.file_name().unwrap_or_default(),
        ))
    }
}

/// A site: submit, monitor and kill jobs.
pub trait Site {
    /// Common settings (connection, profile, options).
    fn settings(&self) -> &SiteSettings;

    /// Checks a job id given with `-j` or read from the `.jid` file. By
    /// default any word that a command cannot take for an option: not
    /// empty, no blank or control character, no leading `-`.
    fn check_job_id(&self, jid: &str) -> Result<()> {
        if jid.is_empty() || jid.starts_with('-') || jid.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invocation(format!("Invalid job id: {}", quote(jid))));
        }
        Ok(())
    }

    /// Submits the (already generated) script. Returns the job id, `None` in
    /// dry-run mode.
    fn submit(&self, script: &Path, output: &Path) -> Result<Option<String>>;

    /// Writes the job's status to `<script>.stat`.
    fn monitor(&self, script: &Path, jid: &str) -> Result<()>;

    /// Kills the job.
    fn kill(&self, script: &Path, jid: &str) -> Result<CancelStatus>;

    /// The status of each of `jobs`, in order, with as few queries as the
    /// site can make. By default UNKNOWN: the site type cannot tell.
    fn status(&self, jobs: &[crate::job::Query]) -> Vec<crate::job::JobStatus> {
        jobs.iter()
            .map(|q| crate::job::JobStatus::unknown(q.jid, "this site type cannot tell job states"))
            .collect()
    }

    /// Releases a job submitted held (`hold`). By default an error: the
    /// site type cannot.
    fn release(&self, _script: &Path, _jid: &str) -> Result<()> {
        Err(Error::run("This site type cannot release a held job"))
    }

    /// The site's queues or partitions (`troika queues`). By default an
    /// error: the site type has none to tell.
    fn queues(&self) -> Result<Vec<queues::QueueInfo>> {
        Err(Error::run("This site type has no queues to list"))
    }

    /// Creates the directory of the job output file on the site and returns
    /// it (used by the `create_output_dir`, `copy_orig_script` and
    /// `copy_*_logfile` hooks). By default `pmkdir_command` is run through
    /// the connection.
    fn create_output_dir(&self, output: &Path) -> Result<PathBuf> {
        self.settings().create_output_dir(output)
    }
}

/// Builds a site of one type from the checked common settings.
pub type SiteFactory = fn(SiteSettings) -> Result<Box<dyn Site>>;

/// A registered site type.
pub struct SiteType {
    pub name: &'static str,
    /// Configuration keys specific to this type.
    pub keys: &'static [&'static str],
    pub syntax: ScriptSyntax,
    /// What the generic parts must know of the type besides its syntax.
    pub traits: Traits,
    pub create: SiteFactory,
}

/// What a site type is, for the generic parts that treat some types apart
/// (without knowing their names).
#[derive(Clone, Copy, Debug, Default)]
pub struct Traits {
    /// The prefix, native directives and table come from each site's
    /// configuration, not from the type: the docs say so instead of showing
    /// a table.
    pub syntax_from_config: bool,
    /// Copy messages name destinations as resolved local paths when the site
    /// has no `local_cwd`, as 0.2.7's direct site did (quirk Q26).
    pub local_copy_paths: bool,
    /// The scheduler's state codes and what they mean (for the docs; the
    /// scheduler reads its answers with them).
    pub states: &'static [crate::job::NativeState],
    /// The scheduler's words of failures that pass (`retry::classify`).
    pub faults: &'static [retry::Pattern],
    /// The variable in which the scheduler gives an array task its index
    /// (`SLURM_ARRAY_TASK_ID`); `None`: the type has no arrays.
    pub array_index: Option<&'static str>,
    /// How its native lines read as generic directives in a script sent
    /// to another scheduler (`#PBS -N x` on Slurm), and its options on a
    /// front end's command line.
    pub foreign: Option<&'static crate::script::foreign::Foreign>,
    /// The front end of troika that takes this scheduler's submission
    /// command line (`troika sbatch`), reading it with `foreign`.
    pub front_end: Option<FrontEnd>,
    /// Site configurations of this type to start from (`troika config new`).
    pub recipes: &'static [Recipe],
}

impl Traits {
    /// The traits of a batch scheduler: its state codes, failure words,
    /// array index variable and foreign reader; nothing else set.
    pub fn batch(
        states: &'static [crate::job::NativeState],
        faults: &'static [retry::Pattern],
        array_index: Option<&'static str>,
        foreign: &'static crate::script::foreign::Foreign,
    ) -> Self {
        Traits {
            states,
            faults,
            array_index,
            foreign: Some(foreign),
            ..Traits::default()
        }
    }
}

/// A site configuration to start from: its name, what it is for, and its
/// text (a file of `recipes/`, embedded).
#[derive(Debug)]
pub struct Recipe {
    pub name: &'static str,
    pub about: &'static str,
    pub text: &'static str,
}

impl Recipe {
    pub const fn new(name: &'static str, about: &'static str, text: &'static str) -> Self {
        Recipe { name, about, text }
    }
}

/// A front end: `troika COMMAND [OPTIONS] SCRIPT`.
#[derive(Clone, Copy, Debug)]
pub struct FrontEnd {
    /// The command it stands for (`qsub`, `sbatch`), also `troika-COMMAND`.
    pub command: &'static str,
    /// Its line in `troika --help`.
    pub about: &'static str,
    /// What the command prints for a submitted job id (with its newline).
    pub submitted: fn(&str) -> String,
}

/// The built-in site types.
pub fn builtin() -> Vec<SiteType> {
    vec![
        direct::site_type(),
        slurm::site_type(),
        pbs::site_type(),
        sge::site_type(),
        torque::site_type(),
        lsf::site_type(),
        flux::site_type(),
        templated::site_type(),
    ]
}

/// Keys every site accepts.
pub const COMMON_KEYS: &[&str] = &[
    "type",
    "connection",
    "default_shebang",
    "translators",
    "unknown_directive",
    "directive_prefix",
    "directive_translate",
    "extra_directives",
    "copy_script",
    "copy_jid",
    "kill_sequence",
    "at_startup",
    "pre_submit",
    "post_kill",
    "at_exit",
    "pmkdir_command",
    "command_timeout",
    "status_record",
    "vanish_grace",
    "retries",
    "retry_delay",
    "retry_max_delay",
    "retry_time_limit",
    "foreign_directives",
    "normalise_units",
];

/// How a scheduler's submission is named in messages.
pub struct Submission<'a> {
    /// The start of the failure message, e.g. `Slurm submission failed`.
    pub failed: &'a str,
    /// The submission command, e.g. `sbatch`.
    pub command: &'a str,
    /// The command that lists jobs, e.g. `squeue`.
    pub query: &'a str,
}

/// The job id from a submission command's outcome (`None` in dry-run). A
/// failed command is an error with its output (logged too); output without a
/// job id is an error that warns that the job may have been submitted.
pub fn submitted_job_id(
    out: &Outcome,
    script: &Path,
    names: &Submission,
    parse: impl FnOnce(&str) -> Option<String>,
) -> Result<Option<String>> {
    if out.dryrun {
        return Ok(None);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        crate::error!(
            "{} stdout for script {}:\n{}",
            names.command,
            script.display(),
            stdout.trim_end()
        );
        crate::error!(
            "{} stderr for script {}:\n{}",
            names.command,
            script.display(),
            stderr.trim_end()
        );
        return Err(Error::run(format!(
            "{} with {}: {}",
            names.failed,
            out.describe(),
            out.text().trim()
        )));
    }
    match parse(&stdout) {
        Some(id) => {
            crate::debug!("Job ID: {id}");
            Ok(Some(id))
        }
        None => Err(Error::Uncertain(format!(
            "Could not parse the job id from the {} output {}; the job may have been submitted: check with {} \
             before submitting again",
            names.command,
            quote(stdout.trim()),
            names.query
        ))),
    }
}

/// Writes a status command's output to `<script>.stat` (atomically) and
/// reports a failed command.
pub fn write_stat(script: &Path, out: &Outcome, what: &str) -> Result<()> {
    let stat = with_suffix(script, ".stat");
    if !out.dryrun {
        let mut data = out.stdout.clone();
        data.extend_from_slice(&out.stderr);
        crate::util::write_atomic(&stat, &data, 0o644)?;
    }
    crate::info!("Output written to {}", quote(&stat.display().to_string()));
    if !out.dryrun && !out.success() {
        return Err(Error::run(format!(
            "{what} failed with {}: {}",
            out.describe(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Warns when the status file is about to be replaced.
pub fn warn_existing_stat(script: &Path) {
    let stat = with_suffix(script, ".stat");
    if stat.exists() {
        crate::warning!(
            "Status file {} already exists, overwriting",
            quote(&stat.display().to_string())
        );
    }
}
