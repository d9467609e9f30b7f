//! The actions: submit, monitor, kill, check-connection, list-sites. Each is a
//! pipeline over a site built from the configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, Value};
use crate::error::{Error, Result};
use crate::hook::{HookContext, HookPoint, Hooks};
use crate::registry::Registry;
use crate::script::translators::{self, TranslatorContext};
use crate::script::{Overrides, Request, UnknownPolicy};
use crate::site::{CancelStatus, KillSequence, Site, SiteSettings, COMMON_KEYS};
use crate::util::{quote, with_suffix};

/// Default time limit of a scheduler command.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// A site ready for an action, with its hooks.
pub struct Prepared {
    pub site: Box<dyn Site>,
    pub hooks: Hooks,
}

/// Runs actions against the sites of one configuration.
pub struct Controller<'r> {
    pub registry: &'r Registry,
    pub config: Config,
    pub dryrun: bool,
}

impl<'r> Controller<'r> {
    pub fn new(registry: &'r Registry, config: Config, dryrun: bool) -> Result<Self> {
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
        })
    }

    /// Builds site `name`: its type, connection and common settings, all
    /// checked, so that a bad configuration fails every action the same way.
    pub fn site(&self, name: &str, user: Option<&str>) -> Result<Prepared> {
        let cfg = self.config.site(name)?;
        let type_name = cfg.required_str("type")?;
        let site_type = self
            .registry
            .site_type(&type_name)
            .ok_or_else(|| Error::config(format!("Site '{name}' has unknown type '{type_name}'")))?;
        let conn_name = cfg.required_str("connection")?;
        let conn_type = self
            .registry
            .connection_type(&conn_name)
            .ok_or_else(|| Error::config(format!("Unknown connection '{conn_name}'")))?;
        let translator_entries = translators::entries(&cfg)?;
        let mut known: Vec<&str> = COMMON_KEYS.to_vec();
        known.extend_from_slice(site_type.keys);
        known.extend_from_slice(conn_type.keys);
        known.extend(translators::keys(&translator_entries, &self.registry.translators));
        cfg.warn_unknown_keys(&known);

        let connection = (conn_type.create)(&cfg, user)?;
        crate::debug!("Created connection {} for site {name}", conn_type.name);

        let prefix = match cfg.get("directive_prefix") {
            None => site_type.syntax.prefix.map(|p| p.as_bytes().to_vec()),
            Some(n) if n.is_null() => None,
            Some(n) => Some(
                n.as_str()
                    .ok_or_else(|| {
                        Error::config(format!(
                            "{}: site '{name}': 'directive_prefix' must be a string or null",
                            cfg.at(n)
                        ))
                    })?
                    .as_bytes()
                    .to_vec(),
            ),
        };
        let mut overrides = Overrides::new();
        if let Some(n) = cfg.get("directive_translate") {
            match &n.value {
                Value::Null => {}
                Value::Map(entries) => {
                    for (k, v) in entries {
                        let fmt = match &v.value {
                            Value::Null => None,
                            Value::Str(s) => Some(s.clone()),
                            _ => {
                                return Err(Error::config(format!(
                                    "{}: site '{name}': the translation of '{}' must be a string with %s, or null, found {}",
                                    cfg.at(v),
                                    k.key_text(),
                                    v.kind()
                                )))
                            }
                        };
                        overrides.insert(k.key_text(), fmt);
                    }
                }
                _ => {
                    return Err(Error::config(format!(
                        "{}: site '{name}': 'directive_translate' must be a mapping, found {}",
                        cfg.at(n),
                        n.kind()
                    )))
                }
            }
        }
        let unknown = match cfg.opt_str("unknown_directive")? {
            None => UnknownPolicy::Warn,
            Some(s) => UnknownPolicy::parse(&s).ok_or_else(|| {
                Error::config(format!(
                    "Invalid unknown directive behaviour {} for site '{name}': expected 'fail', 'warn' or 'ignore'",
                    quote(&s)
                ))
            })?,
        };
        let translators = translators::build(
            &translator_entries,
            &TranslatorContext::new(&cfg, site_type.name),
            &self.registry.translators,
        )?;
        let hooks = Hooks::from_config(&cfg, &self.registry.hooks)?;
        let settings = SiteSettings {
            default_shebang: cfg.opt_str("default_shebang")?.map(String::into_bytes),
            copy_script: cfg.bool_or("copy_script", false)?,
            copy_jid: cfg.bool_or("copy_jid", false)?,
            kill_sequence: KillSequence::from_config(&cfg)?,
            command_timeout: Some(
                cfg.seconds("command_timeout")?
                    .map(Duration::from_secs_f64)
                    .unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            ),
            syntax: site_type.syntax,
            rewrite_native: false,
            prefix,
            overrides,
            unknown,
            translators,
            connection,
            config: cfg,
        };
        let site = (site_type.create)(settings)?;
        crate::debug!("Created {} site {name}", site_type.name);
        Ok(Prepared { site, hooks })
    }

    /// Runs `body` between the `at_startup` and `at_exit` hooks. The exit
    /// hooks run whatever happened, and their own failure is reported after
    /// the action's.
    fn with_hooks<T>(&self, p: &Prepared, ctx: HookContext, body: impl FnOnce(&HookContext) -> Result<T>) -> Result<T> {
        let result = p.hooks.run(HookPoint::AtStartup, &ctx).and_then(|()| body(&ctx));
        let exit_ctx = HookContext {
            failed: result.is_err(),
            ..ctx
        };
        let exit = p.hooks.run(HookPoint::AtExit, &exit_ctx);
        match (result, exit) {
            (Err(e), Err(e2)) => {
                crate::error!("{e2}");
                Err(e)
            }
            (Err(e), _) => Err(e),
            (Ok(_), Err(e2)) => Err(e2),
            (Ok(v), Ok(())) => Ok(v),
        }
    }

    fn context<'a>(
        &self,
        action: &'a str,
        p: &'a Prepared,
        script: &'a Path,
        output: Option<&'a Path>,
        user: Option<&'a str>,
    ) -> HookContext<'a> {
        HookContext {
            action,
            site: p.site.as_ref(),
            script: Some(script),
            output,
            user,
            jid: None,
            cancel_status: None,
            dryrun: self.dryrun,
            failed: false,
        }
    }

    /// `submit`: generate the script, submit it, record the job id.
    pub fn submit(
        &self,
        site: &str,
        script: &Path,
        user: Option<&str>,
        output: &Path,
        defines: &[(String, Vec<u8>)],
    ) -> Result<()> {
        let p = self.site(site, user)?;
        let ctx = self.context("submit", &p, script, Some(output), user);
        self.with_hooks(&p, ctx, |ctx| {
            let settings = p.site.settings();
            let out_bytes = output.as_os_str().as_encoded_bytes();
            let req = Request {
                defines,
                output: out_bytes,
                translators: &settings.translators,
            };
            crate::script::preprocess(script, &settings.profile(), &req)?;
            p.hooks.run(HookPoint::PreSubmit, ctx)?;
            let jid = p.site.submit(script, user, output, self.dryrun)?;
            if let Some(jid) = jid {
                let jid_path = with_suffix(script, ".jid");
                if jid_path.exists() {
                    crate::warning!(
                        "Job ID output file {} already exists, overwriting",
                        quote(&jid_path.display().to_string())
                    );
                }
                crate::util::write_atomic(&jid_path, format!("{jid}\n").as_bytes(), 0o644)?;
                if settings.copy_jid {
                    let target = with_suffix(&settings.copy_target(script, output), ".jid");
                    settings.connection.send_file(&jid_path, &target, self.dryrun)?;
                }
            }
            Ok(())
        })
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
        let read = |path: &Path| -> Option<String> {
            let s = std::fs::read_to_string(path).ok()?;
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        if let Some(j) = read(&local) {
            return Ok(j);
        }
        let settings = p.site.settings();
        if let (true, Some(out)) = (settings.copy_jid, output) {
            let remote = with_suffix(&settings.copy_target(script, out), ".jid");
            settings.connection.get_file(&remote, &local, self.dryrun)?;
            let source = if self.dryrun && settings.connection.is_local() {
                remote
            } else {
                local.clone()
            };
            if let Some(j) = read(&source) {
                return Ok(j);
            }
        }
        Err(Error::run(format!(
            "Could not read the job id: no -j option and no job id in {}",
            quote(&local.display().to_string())
        )))
    }

    /// `monitor`: write the job's status to `<script>.stat`.
    pub fn monitor(
        &self,
        site: &str,
        script: &Path,
        user: Option<&str>,
        output: Option<&Path>,
        jid: Option<&str>,
    ) -> Result<()> {
        let p = self.site(site, user)?;
        let ctx = self.context("monitor", &p, script, output, user);
        self.with_hooks(&p, ctx, |_| {
            let jid = self.job_id(&p, script, output, jid)?;
            p.site.monitor(script, user, &jid, self.dryrun)
        })
    }

    /// `kill`: stop the job and run the post-kill hooks with the outcome.
    pub fn kill(
        &self,
        site: &str,
        script: &Path,
        user: Option<&str>,
        output: Option<&Path>,
        jid: Option<&str>,
    ) -> Result<CancelStatus> {
        let p = self.site(site, user)?;
        let ctx = self.context("kill", &p, script, output, user);
        self.with_hooks(&p, ctx, |ctx| {
            let jid = self.job_id(&p, script, output, jid)?;
            let status = p.site.kill(script, user, &jid, self.dryrun)?;
            crate::debug!("Kill of job {jid}: {}", status.as_str());
            let post = HookContext {
                jid: Some(&jid),
                cancel_status: Some(status),
                ..HookContext { ..*ctx }
            };
            p.hooks.run(HookPoint::PostKill, &post)?;
            Ok(status)
        })
    }

    /// `check-connection`: whether commands can be run on the site.
    pub fn check_connection(&self, site: &str, user: Option<&str>, timeout: Option<Duration>) -> Result<bool> {
        let p = self.site(site, user)?;
        p.site.settings().connection.check(timeout, self.dryrun)
    }

    /// `list-sites`: a table of names, types and connections. Rows are
    /// printed as they are read; a broken entry stops the listing.
    pub fn list_sites(&self, out: &mut dyn Write) -> Result<()> {
        let w = |out: &mut dyn Write, s: String| {
            out.write_all(s.as_bytes())
                .map_err(|e| Error::Unexpected(format!("Cannot write: {e}")))
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
            let c = cfg.required_str("connection")?;
            w(out, format!("{name:<28} {t:<15} {c:<15}\n"))?;
        }
        Ok(())
    }
}

/// The default log file of an action: `<script>.<action>log`.
pub fn default_log_file(script: &Path, action: &str) -> PathBuf {
    with_suffix(script, &format!(".{action}log"))
}
