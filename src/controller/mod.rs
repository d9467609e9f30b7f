//! The actions: submit, monitor, kill, check-connection, list-sites. Each is a
//! pipeline over a site built from the configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, SiteConfig, Value};
use crate::connection::{ConnectionOptions, ConnectionType};
use crate::error::{Error, Result};
use crate::hook::{HookContext, HookPoint, Hooks};
use crate::registry::Registry;
use crate::script::directives::parse_define;
use crate::script::translators::{self, TranslatorContext};
use crate::script::{Request, SubmitLock, UnknownPolicy};
use crate::site::{group, CancelStatus, KillSequence, Site, SiteSettings, COMMON_KEYS};
use crate::util::{quote, with_suffix};

mod check;
mod frontend;
mod queues;
mod status;
pub use check::config_action;
pub use frontend::Translation;
pub use status::StatusRequest;

/// Default time limit of a scheduler command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a job may be missing from every source after its submission
/// before it is VANISHED (schedulers can take a while to show a new job, and
/// accounting to record an ended one).
pub const DEFAULT_VANISH_GRACE: u64 = 120;

/// A site ready for an action, with its hooks.
pub struct Prepared {
    pub site: Box<dyn Site>,
    pub hooks: Hooks,
    /// The group named on the command line, when the site is one of its members.
    pub group: Option<String>,
}

/// What an action learnt, for the exit hooks.
#[derive(Default)]
struct Known {
    jid: Option<String>,
    cancel_status: Option<CancelStatus>,
}

/// Runs actions against the sites of one configuration.
/// The job a monitor or kill is about: its site, its script, the user it
/// runs as, its output file and, when given, its id.
#[derive(Clone, Copy)]
pub struct JobRef<'a> {
    pub site: &'a str,
    pub script: &'a Path,
    pub user: Option<&'a str>,
    pub output: Option<&'a Path>,
    pub jid: Option<&'a str>,
}

pub struct Controller<'r> {
    pub registry: &'r Registry,
    pub config: Config,
    pub dryrun: bool,
    /// The action's log file, given to the hooks (`copy_submit_logfile`).
    pub logfile: Option<PathBuf>,
}

impl<'r> Controller<'r> {
    pub fn new(registry: &'r Registry, config: Config, dryrun: bool) -> Result<Self> {
        crate::error::set_edition(config.edition());
        if let Some(c) = config.controller() {
            match &c.value {
                Value::Null => {}
                Value::Str(s) if s == "base" => {}
                _ => return Err(Error::config(format!("Unknown controller {}", quote(&c.key_text())))),
            }
        }
        Ok(Controller {
            registry,
            config,
            dryrun,
            logfile: None,
        })
    }

    /// Builds site `name`: its type, connection and common settings, all
    /// checked, so that a bad configuration fails every action the same way.
    pub fn site(&self, name: &str, user: Option<&str>) -> Result<Prepared> {
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            crate::connection::ssh::check_destination_part("user", u)
                .map_err(|why| Error::invocation(format!("Invalid -u: {why}")))?;
        }
        self.site_from(self.config.site(name)?, user)
    }

    /// Builds the site that `cfg` configures (see [`Controller::site`]).
    pub fn site_from(&self, cfg: SiteConfig, user: Option<&str>) -> Result<Prepared> {
        let name = cfg.name.clone();
        let name = name.as_str();
        let type_name = cfg.required_str("type")?;
        let site_type = self.registry.site_type(&type_name).ok_or_else(|| {
            let msg = format!("Site '{name}' has unknown type '{type_name}'");
            match cfg.checking() {
                false => Error::config(msg),
                true => self.unknown_name(
                    &cfg,
                    "type",
                    format!("unknown type '{type_name}'"),
                    self.registry.sites.iter().map(|t| t.name),
                ),
            }
        })?;
        let conn_type = match self.connection_type(&cfg) {
            Err(e) if cfg.checking() && cfg.has("connection") => {
                let msg = e.detail().to_string();
                let err = self.unknown_name(
                    &cfg,
                    "connection",
                    msg,
                    self.registry.connections.iter().map(|c| c.name),
                );
                cfg.problem(err)?;
                // The rest of the site is checked as if it were local.
                self.registry.connection_type("local").ok_or(e)?
            }
            r => r?,
        };
        let translator_entries = cfg.recover_at(&["translators"], translators::entries(&cfg), Vec::new)?;
        let mut known: Vec<&str> = COMMON_KEYS.to_vec();
        known.extend_from_slice(site_type.keys);
        known.extend_from_slice(conn_type.keys);
        known.extend(translators::keys(&translator_entries, &self.registry.translators));
        cfg.warn_unknown_keys(&known);

        let connection = (conn_type.create)(
            &cfg,
            &ConnectionOptions {
                user,
                dry_run: self.dryrun,
                local_copy_paths: site_type.traits.local_copy_paths,
            },
        )?;
        crate::debug!("Created connection {} for site {name}", conn_type.name);

        let type_prefix = || site_type.syntax.prefix.map(|p| p.as_bytes().to_vec());
        let prefix = match cfg.get("directive_prefix") {
            None => type_prefix(),
            Some(n) if n.is_null() => None,
            Some(n) => cfg.recover(
                n.as_str().map(|p| Some(p.as_bytes().to_vec())).ok_or_else(|| {
                    Error::config(format!(
                        "{}: site '{name}': 'directive_prefix' must be a string or null",
                        cfg.at(n)
                    ))
                }),
                type_prefix,
            )?,
        };
        let overrides = cfg.recover(
            crate::script::translate::read_overrides(&cfg, "directive_translate"),
            Default::default,
        )?;
        let unknown = match cfg.opt_str("unknown_directive")? {
            None => UnknownPolicy::Warn,
            Some(s) => cfg.recover(
                UnknownPolicy::parse(&s).ok_or_else(|| {
                    let msg = format!(
                        "Invalid unknown directive behaviour {} for site '{name}': expected 'fail', 'warn' or 'ignore'",
                        quote(&s)
                    );
                    match (cfg.checking(), cfg.get("unknown_directive")) {
                        (true, Some(n)) => Error::config(format!("{}: site '{name}': {msg}", cfg.at(n))),
                        _ => Error::config(msg),
                    }
                }),
                || UnknownPolicy::Warn,
            )?,
        };
        let translator_context = TranslatorContext::new(&cfg, site_type.name).units(site_type.syntax.units);
        let mut translators = cfg.recover_at(
            &["translators"],
            translators::build(&translator_entries, &translator_context, &self.registry.translators),
            Vec::new,
        )?;
        if cfg.bool_or("normalise_units", cfg.behaviour().normalise_units)? {
            let implied = translators::resources::implied(&translator_context);
            translators.extend(cfg.recover_at(&["normalise_units"], implied, || None)?);
        }
        let hooks = cfg.recover_at(
            &HookPoint::ALL.map(HookPoint::key),
            Hooks::from_config(&cfg, &self.registry.hooks),
            Hooks::default,
        )?;
        let foreign = match cfg.bool_or("foreign_directives", cfg.behaviour().foreign_directives)?
            && prefix.is_some()
            && !site_type.traits.syntax_from_config
        {
            true => self.foreign_syntaxes(site_type.syntax.native.map(|n| n.prefix)),
            false => vec![],
        };
        let settings = SiteSettings {
            type_name: site_type.name,
            foreign,
            user: user.map(str::to_string),
            default_shebang: cfg.opt_str("default_shebang")?.map(String::into_bytes),
            copy_script: cfg.bool_or("copy_script", false)?,
            copy_jid: cfg.bool_or("copy_jid", false)?,
            kill_sequence: cfg.recover(KillSequence::from_config(&cfg), || None)?,
            command_timeout: Some(Duration::from_secs_f64(
                cfg.seconds_or("command_timeout", DEFAULT_COMMAND_TIMEOUT.as_secs_f64())?,
            )),
            pmkdir_command: cfg.command("pmkdir_command", &["mkdir", "-p"])?,
            syntax: site_type.syntax,
            rewrite_native: false,
            status_record: cfg.bool_or("status_record", cfg.behaviour().status_record)?,
            vanish_grace: cfg.seconds_or("vanish_grace", DEFAULT_VANISH_GRACE as f64)? as u64,
            retry: cfg.recover(crate::site::retry::RetryPolicy::from_config(&cfg), || {
                crate::site::retry::RetryPolicy::NONE
            })?,
            faults: site_type.traits.faults,
            array_index: site_type.traits.array_index,
            prefix,
            overrides,
            unknown,
            translators,
            connection,
            config: cfg,
        };
        let site = (site_type.create)(settings)?;
        crate::debug!("Created {} site {name}", site_type.name);
        Ok(Prepared {
            site,
            hooks,
            group: None,
        })
    }

    /// For a check: `msg` at the node of `key`, with the closest of `names` when one is near.
    fn unknown_name<'n>(
        &self,
        cfg: &SiteConfig,
        key: &str,
        msg: String,
        names: impl Iterator<Item = &'n str>,
    ) -> Error {
        let Some(n) = cfg.get(key) else {
            return Error::config(msg);
        };
        let given = n.key_text();
        let mut names: Vec<&str> = names.collect();
        names.sort_unstable();
        names.dedup();
        let hint = match crate::config::closest(&given, names.iter().map(|s| s.to_string())) {
            Some(c) => format!(" (did you mean '{c}'?)"),
            None => format!(" (known: {})", names.join(", ")),
        };
        Error::config(format!("{}: site '{}': {msg}{hint}", cfg.at(n), cfg.name))
    }

    /// The foreign directive tables of the registered site types (the last
    /// registration of a name), but those of the prefix `own`.
    pub fn foreign_syntaxes(&self, own: Option<&str>) -> Vec<&'static crate::script::foreign::Foreign> {
        let sites = &self.registry.sites;
        sites
            .iter()
            .enumerate()
            .filter(|(i, t)| !sites[i + 1..].iter().any(|later| later.name == t.name))
            .filter_map(|(_, t)| t.traits.foreign)
            .filter(|f| Some(f.prefix) != own)
            .collect()
    }

    /// The registered connection type a site names.
    fn connection_type(&self, cfg: &SiteConfig) -> Result<&'r ConnectionType> {
        let name = cfg.required_str("connection")?;
        self.registry
            .connection_type(&name)
            .ok_or_else(|| Error::config(format!("Unknown connection '{name}'")))
    }

    /// A connection to site `name` that runs commands even in a dry run
    /// (the site was built already, so its configuration is valid).
    fn real_connection(&self, name: &str, user: Option<&str>) -> Result<Box<dyn crate::connection::Connection>> {
        let cfg = self.config.site(name)?;
        (self.connection_type(&cfg)?.create)(
            &cfg,
            &ConnectionOptions {
                user,
                ..ConnectionOptions::default()
            },
        )
    }

    /// The site for an action on `name`: the site itself, or for a group the
    /// member to use. For `monitor` and `kill` that is the member recorded
    /// when the job was submitted (`<script>.site`); otherwise the first
    /// member whose connection check succeeds (checked for real even in
    /// dry-run, since the choice depends on it).
    pub fn prepare(
        &self,
        name: &str,
        user: Option<&str>,
        action: &str,
        script: Option<&Path>,
        timeout: Option<Duration>,
    ) -> Result<Prepared> {
        let cfg = self.config.site(name)?;
        if !group::is_group(&cfg) {
            return self.site(name, user);
        }
        if let Some(c) = cfg.opt_str("connection")? {
            if self.registry.connection_type(&c).is_none() {
                return Err(Error::config(format!("Unknown connection '{c}'")));
            }
        }
        let names = group::members(&cfg, &self.config)?;
        // Every member is built first: a broken member is a configuration
        // error, not an unavailable site.
        let mut members = names
            .iter()
            .map(|m| self.site(m, user))
            .collect::<Result<Vec<Prepared>>>()?;
        let with_group = |mut p: Prepared| {
            p.group = Some(name.to_string());
            p
        };
        if matches!(action, "monitor" | "kill" | "release") {
            if let Some(rec) = script.and_then(group::recorded_member) {
                match names.iter().position(|m| *m == rec) {
                    Some(i) => {
                        crate::info!("Site group '{name}': using site '{rec}', where the job was submitted");
                        return Ok(with_group(members.swap_remove(i)));
                    }
                    None => crate::warning!(
                        "Site group '{name}': the job was submitted to site '{rec}', which is not in the group any more; choosing an available site"
                    ),
                }
            }
        }
        for (m, p) in names.iter().zip(members) {
            crate::debug!("Trying site '{m}' of group '{name}'");
            // Checked for real even in a dry run: the choice depends on it.
            let available = if p.site.settings().connection.dry_run() {
                self.real_connection(m, user)?.check(timeout)?
            } else {
                p.site.settings().connection.check(timeout)?
            };
            if available {
                crate::info!("Site group '{name}': using site '{m}'");
                return Ok(with_group(p));
            }
            crate::warning!("Site '{m}' of group '{name}' is not available");
        }
        Err(Error::run(format!(
            "No site available in the group '{name}' (tried {})",
            names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(", ")
        )))
    }

    /// Runs an action on a prepared site: `setup` (checks of the command
    /// line), the `at_startup` hooks, then `body`. The `at_exit` hooks run
    /// whatever happened, even when `setup` or a startup hook failed; before
    /// them a failure is logged, so that a log file copied by an exit hook
    /// holds it. Exit hooks never change the outcome.
    #[allow(clippy::too_many_arguments)]
    fn run_action<S, T>(
        &self,
        action: &str,
        p: &Prepared,
        script: Option<&Path>,
        output: Option<&Path>,
        user: Option<&str>,
        setup: impl FnOnce() -> Result<S>,
        body: impl FnOnce(&HookContext, S, &mut Known) -> Result<T>,
    ) -> Result<T> {
        let mut known = Known::default();
        let ctx = HookContext {
            action,
            site: p.site.as_ref(),
            group: p.group.as_deref(),
            script,
            output,
            user,
            jid: None,
            cancel_status: None,
            dryrun: self.dryrun,
            logfile: self.logfile.as_deref(),
            failed: false,
            error: None,
        };
        let result = setup().and_then(|s| {
            p.hooks.run(HookPoint::AtStartup, &ctx)?;
            body(&ctx, s, &mut known)
        });
        if p.hooks.at(HookPoint::AtExit).is_empty() {
            return result;
        }
        let result = result.map_err(|e| match e {
            Error::Reported(_) => e,
            e => {
                crate::critical!("{e}");
                Error::Reported(Box::new(e))
            }
        });
        let message = result.as_ref().err().map(|e| e.to_string());
        let exit_ctx = HookContext {
            jid: known.jid.as_deref(),
            cancel_status: known.cancel_status,
            failed: result.is_err(),
            error: message.as_deref(),
            ..ctx
        };
        // Failures of exit hooks are logged by `Hooks::run`.
        let _ = p.hooks.run(HookPoint::AtExit, &exit_ctx);
        result
    }

    /// `submit`: generate the script, submit it, record the job id.
    /// `defines` are the `-D NAME=VALUE` arguments as given. `lock` is the
    /// script's lock when the caller took it already (before opening the
    /// log file); otherwise it is taken here.
    pub fn submit(
        &self,
        site: &str,
        script: &Path,
        user: Option<&str>,
        output: &Path,
        defines: &[Vec<u8>],
        lock: Option<SubmitLock>,
    ) -> Result<Option<String>> {
        let mut lock = match lock {
            Some(l) => l,
            None => SubmitLock::acquire(script)?,
        };
        if output.as_os_str().as_encoded_bytes().contains(&b'\n') {
            return Err(Error::invocation(format!(
                "The output file {} has a line break in its name: it would add a line to the job script",
                quote(&output.display().to_string())
            )));
        }
        let p = self.prepare(site, user, "submit", Some(script), None)?;
        // 0.2.7 read the script before the `-D` arguments: an error in the
        // script is the one reported when both are wrong.
        let setup = || {
            defines
                .iter()
                .map(|d| parse_define(d))
                .collect::<Result<Vec<_>>>()
                .map_err(
                    |e| match crate::script::check(script, p.site.settings().profile().native) {
                        Err(script_error @ Error::Script(_)) => script_error,
                        _ => e,
                    },
                )
        };
        self.run_action(
            "submit",
            &p,
            Some(script),
            Some(output),
            user,
            setup,
            |ctx, defines, known| {
                let settings = p.site.settings();
                let out_bytes = output.as_os_str().as_encoded_bytes();
                let req = Request {
                    defines: &defines,
                    output: out_bytes,
                    translators: &settings.translators,
                    status_record: settings.status_record,
                };
                let replaced = crate::script::preprocess(script, &settings.profile(), &req, &mut lock)?;
                let submitted = p
                    .hooks
                    .run(HookPoint::PreSubmit, ctx)
                    .and_then(|()| p.site.submit(script, output));
                let jid = match submitted {
                    Ok(jid) => jid,
                    Err(e) => {
                        if settings.config.behaviour().restore_failed_submission && !e.is_uncertain() {
                            // Not submitted: the files are put back as they were.
                            match replaced.restore() {
                                Ok(()) => crate::info!(
                                    "The submission failed: {} and its .orig are as they were before it",
                                    quote(&script.display().to_string())
                                ),
                                Err(r) => crate::error!("{r}"),
                            }
                        }
                        return Err(e);
                    }
                };
                if let Some(jid) = jid {
                    known.jid = Some(jid.clone());
                    // The job exists: the ledger has it before anything else
                    // is written, so that it is found even when its .jid
                    // file cannot be (a full disk).
                    self.record_submission(&settings.config.name, user, script, &jid, output);
                    let jid_path = with_suffix(script, ".jid");
                    if jid_path.exists() {
                        crate::warning!(
                            "Job ID output file {} already exists, overwriting",
                            quote(&jid_path.display().to_string())
                        );
                    }
                    // The job exists: should its id not be kept, the message has it,
                    // and the .jid of an earlier job, which would name the wrong job
                    // to monitor and kill, is removed (that takes no room on a full disk).
                    crate::util::write_atomic(&jid_path, format!("{jid}\n").as_bytes(), 0o644).map_err(|e| {
                        let earlier = match std::fs::remove_file(&jid_path) {
                            Ok(()) => "; the job id file of an earlier job is removed".to_string(),
                            Err(r) if r.kind() == std::io::ErrorKind::NotFound => String::new(),
                            Err(r) => format!(
                                "; the job id file still names an earlier job: it cannot be removed: {}",
                                crate::error::io_reason(&r)
                            ),
                        };
                        e.map_message(|m| {
                            format!("Job {jid} was submitted, but its id could not be kept: {m}{earlier}")
                        })
                    })?;
                    if p.group.is_some() {
                        group::record_member(script, &settings.config.name)?;
                    }
                    if settings.copy_jid {
                        let target = with_suffix(&settings.copy_target(script, output), ".jid");
                        settings.send_file(&jid_path, &target)?;
                    }
                }
                Ok(known.jid.clone())
            },
        )
    }

    /// The job id: `-j`, else `<script>.jid`, else (with `copy_jid`) the copy
    /// beside the output file.
    fn job_id(&self, p: &Prepared, script: &Path, output: Option<&Path>, given: Option<&str>) -> Result<String> {
        let jid = match given.filter(|j| !j.is_empty()) {
            Some(j) => {
                crate::debug!("Using specified job id {}", quote(j));
                j.to_string()
            }
            None => self.read_job_id(p, script, output)?,
        };
        p.site.check_job_id(&jid)?;
        Ok(jid)
    }

    fn read_job_id(&self, p: &Prepared, script: &Path, output: Option<&Path>) -> Result<String> {
        let local = with_suffix(script, ".jid");
        // The reason a file gives no job id, worded as 0.2.7 worded it.
        let read = |path: &Path| -> std::result::Result<String, String> {
            let name = quote(&path.display().to_string());
            match crate::util::read_limited(path, crate::util::MAX_ID_FILE_BYTES) {
                Ok(Some(b)) => match String::from_utf8(b) {
                    Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
                    Ok(_) => Err(format!("no job id in {name}")),
                    Err(_) => Err(format!("{name} is not text: not a job id file")),
                },
                Ok(None) => Err(format!(
                    "{name} is larger than {} bytes: not a job id file",
                    crate::util::MAX_ID_FILE_BYTES
                )),
                Err(crate::util::OpenError::Io(e)) => {
                    Err(crate::error::python_io_error(&e, &path.display().to_string()))
                }
                Err(e) => Err(format!("{name}: {e}")),
            }
        };
        let local_err = match read(&local) {
            Ok(j) => return Ok(j),
            Err(e) => e,
        };
        if SubmitLock::acquire(script).is_err() {
            return Err(Error::run(format!(
                "No job id yet: {} is being submitted by another troika process now (try again when it ends)",
                quote(&script.display().to_string())
            )));
        }
        let settings = p.site.settings();
        if self.config.edition().behaviour().ledger && !settings.copy_jid {
            let site = p.group.as_deref().unwrap_or(&settings.config.name);
            if let Some(e) = self.ledger_entry(script, site) {
                crate::info!("{local_err}: job {} from the job ledger", e.job_id);
                return Ok(e.job_id);
            }
        }
        if let (true, Some(out)) = (settings.copy_jid, output) {
            let remote = with_suffix(&settings.copy_target(script, out), ".jid");
            if let Err(e) = settings.get_file(&remote, &local) {
                return Err(Error::run(format!(
                    "Could not read the job id: {local_err} or copy it back {}",
                    e.detail()
                )));
            }
            let source = if self.dryrun && settings.connection.is_local() {
                remote
            } else {
                local.clone()
            };
            return read(&source).map_err(|e| {
                Error::run(format!(
                    "Could not read the job id: {local_err}, nor from its copy: {e}"
                ))
            });
        }
        Err(Error::run(format!(
            "Could not read the job id: {local_err} (give it with -j, or keep the .jid file)"
        )))
    }

    /// An action on a submitted job (monitor, kill): the site, its job id
    /// (`-j`, the `.jid` file or its copy), then `body` between the hooks.
    /// `body` records what the exit hooks should know.
    fn on_job<T>(
        &self,
        action: &str,
        job: &JobRef,
        body: impl FnOnce(&Prepared, &HookContext, &str, &mut Known) -> Result<T>,
    ) -> Result<T> {
        let JobRef {
            site,
            script,
            user,
            output,
            jid,
        } = *job;
        let p = self.prepare(site, user, action, Some(script), None)?;
        let setup = || self.job_id(&p, script, output, jid);
        self.run_action(action, &p, Some(script), output, user, setup, |ctx, jid, known| {
            known.jid = Some(jid.clone());
            body(&p, ctx, &jid, known)
        })
    }

    /// `monitor`: write the job's status to `<script>.stat`.
    pub fn monitor(&self, job: &JobRef) -> Result<()> {
        self.on_job("monitor", job, |p, _, jid, _| {
            let monitored = p.site.monitor(job.script, jid);
            // Even when the scheduler does not know the job any more: the
            // normalised state says what became of it.
            if self.config.edition().behaviour().status_record && !self.dryrun {
                if let Err(e) = self.stat_line(p, job, jid) {
                    crate::error!("{e}");
                }
            }
            monitored
        })
    }

    /// `kill`: stop the job and run the post-kill hooks with the outcome.
    pub fn kill(&self, job: &JobRef) -> Result<CancelStatus> {
        self.on_job("kill", job, |p, ctx, jid, known| {
            let status = p.site.kill(job.script, jid)?;
            known.cancel_status = Some(status);
            let settings = p.site.settings();
            let outcome = status.outcome(settings.kill_sequence.is_some());
            // The hooks' word (0.2.7's), in every edition.
            crate::debug!("Kill of job {jid}: {}", status.as_str());
            if !self.dryrun {
                let recorded = if self.config.edition().behaviour().kill_reports_state {
                    // What the scheduler says of the job now, in the words
                    // `status` uses; the ledger keeps the same outcome.
                    let report = self.kill_report(p, job, jid, outcome);
                    let scheduler = settings.config.required_str("type")?;
                    crate::info!("{}", report.line("troika kill:", &scheduler));
                    report.outcome.unwrap_or(outcome)
                } else {
                    outcome
                };
                self.record_kill(&settings.config.name, job.script, jid, recorded.as_str());
            }
            let post = HookContext {
                jid: Some(jid),
                cancel_status: Some(status),
                ..*ctx
            };
            p.hooks.run(HookPoint::PostKill, &post)?;
            Ok(status)
        })
    }

    /// `release`: lets a job submitted held (`hold`) start.
    pub fn release(&self, job: &JobRef) -> Result<()> {
        self.on_job("release", job, |p, _, jid, _| {
            p.site.release(job.script, jid)?;
            crate::info!("Job {jid} released");
            Ok(())
        })
    }

    /// `check-connection`: whether commands can be run on the site (for a
    /// group: on one of its members). A failed check is an error.
    pub fn check_connection(&self, site: &str, user: Option<&str>, timeout: Option<Duration>) -> Result<bool> {
        let p = self.prepare(site, user, "check-connection", None, timeout)?;
        self.run_action(
            "check-connection",
            &p,
            None,
            None,
            user,
            || Ok(()),
            |_, (), _| {
                if p.group.is_some() {
                    // The member was chosen because its check succeeded.
                    return Ok(true);
                }
                // A failed check fails the action, so that exit hooks see it.
                // Without -t, the site's command timeout bounds the check.
                let settings = p.site.settings();
                if !settings.connection.check(timeout.or(settings.command_timeout))? {
                    return Err(Error::run(format!("Connection failed for site '{site}'")));
                }
                Ok(true)
            },
        )
    }

    /// `list-sites`: a table of names, types and connections. Rows are
    /// printed as they are read; a broken entry stops the listing.
    pub fn list_sites(&self, out: &mut dyn Write) -> Result<()> {
        let w = |out: &mut dyn Write, s: String| {
            out.write_all(s.as_bytes())
                .map_err(|e| Error::Io(format!("Cannot write: {}", crate::error::io_reason(&e))))
        };
        w(
            out,
            format!(
                "Available sites:\n{:<28} {:<15} {:<15}\n{}\n",
                "Name",
                "Type",
                "Connection",
                "-".repeat(60)
            ),
        )?;
        out.flush().ok();
        for name in self.config.site_names()? {
            let cfg = self.config.site(&name)?;
            let t = cfg.required_str("type")?;
            let c = if group::is_group(&cfg) {
                cfg.opt_str("connection")?.unwrap_or_else(|| "-".into())
            } else {
                cfg.required_str("connection")?
            };
            w(out, format!("{name:<28} {t:<15} {c:<15}\n"))?;
        }
        Ok(())
    }
}

/// The default log file of an action: `<script>.<action>log`.
pub fn default_log_file(script: &Path, action: &str) -> PathBuf {
    with_suffix(script, &format!(".{action}log"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Source, KEYS_READ};

    /// Every key the code reads from a site is declared by the site type,
    /// the connection, the common keys or a translator: otherwise a user who
    /// sets it would be told it is unknown. Each site type is built with
    /// each connection and every translator, and runs a dry submit,
    /// monitor and kill.
    #[test]
    fn every_key_read_is_declared() {
        let registry = Registry::builtin();
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("job.sh");
        let translators: Vec<&str> = registry.translators.iter().map(|t| t.name).collect();
        let mut checked = 0;
        for site_type in &registry.sites {
            for conn in &registry.connections {
                let yaml = format!(
                    "edition: 2026\nsites:\n  s:\n    type: {}\n    connection: {}\n    host: h\n    translators: [{}]\n",
                    site_type.name,
                    conn.name,
                    translators.join(", ")
                );
                let config = Config::from_text(&yaml, Source::File("c.yml".into())).unwrap();
                let ctl = Controller::new(&registry, config, true).unwrap();
                KEYS_READ.with(|k| k.borrow_mut().clear());
                // Some types need keys of their own (templated); what they
                // read before failing is checked all the same.
                if ctl.site("s", None).is_ok() {
                    std::fs::write(&script, "#!/bin/sh\n# troika name=x\necho\n").unwrap();
                    let _ = ctl.submit("s", &script, None, &d.path().join("o"), &[], None);
                    let job = JobRef {
                        site: "s",
                        script: &script,
                        user: None,
                        output: None,
                        jid: Some("12"),
                    };
                    let _ = ctl.monitor(&job);
                    let _ = ctl.kill(&job);
                }
                let cfg = ctl.config.site("s").unwrap();
                let entries = translators::entries(&cfg).unwrap();
                let mut declared: Vec<&str> = COMMON_KEYS.to_vec();
                declared.extend_from_slice(site_type.keys);
                declared.extend_from_slice(conn.keys);
                declared.extend(translators::keys(&entries, &registry.translators));
                declared.push("host");
                let read = KEYS_READ.with(|k| k.borrow().clone());
                let undeclared: Vec<&String> = read.iter().filter(|k| !declared.contains(&k.as_str())).collect();
                assert!(
                    undeclared.is_empty(),
                    "{} over {}: keys read but not declared: {undeclared:?}",
                    site_type.name,
                    conn.name
                );
                checked += read.len();
            }
        }
        assert!(checked > 100, "only {checked} keys were read");
    }
}
