//! `troika config check`: every site of the configuration built as an action builds it
//! ([`Controller::site_from`], the same code), with the configuration read for a check
//! ([`crate::config::Problems`]), so that every problem is reported in one run.

use std::time::Duration;

use super::Controller;
use crate::config::SiteConfig;
use crate::connection::Command;
use crate::error::{Error, Result};
use crate::site::group;

/// What a check found.
pub struct CheckReport {
    /// The sites checked.
    pub sites: usize,
    /// One line per problem: `FILE:LINE:COL: site 'x': what is wrong`.
    pub problems: Vec<String>,
}

/// How long `--connect` waits for a site to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Controller<'_> {
    /// Checks every site; with `connect`, also that each site answers and that the programs
    /// of its commands are found there (`command -v`, run through the site's connection).
    /// The configuration must have been read for a check ([`crate::config::Config::load_as`]).
    pub fn check(&self, connect: bool) -> Result<CheckReport> {
        let problems = self
            .config
            .problems()
            .cloned()
            .ok_or_else(|| Error::config("the configuration was not read for a check"))?;
        let names = match self.config.site_names() {
            Ok(n) => n,
            Err(e) => {
                problems.push(format!("{}: {}", self.config.origin(), e.detail()));
                return Ok(CheckReport {
                    sites: 0,
                    problems: problems.list(),
                });
            }
        };
        for name in &names {
            let cfg = match self.config.site(name) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(e.detail().to_string());
                    continue;
                }
            };
            if let Err(e) = self.check_site(&cfg, connect) {
                // Recorded with the site's place when the message names none.
                let _ = cfg.problem(e);
            }
        }
        // In the order of the file (the loader's problems were found first).
        let origin = format!("{}:", self.config.origin());
        let place = |p: &String| -> (u32, u32) {
            let mut parts = p.strip_prefix(&origin).unwrap_or("").splitn(3, ':');
            let mut num = || parts.next().and_then(|n| n.parse().ok()).unwrap_or(u32::MAX);
            (num(), num())
        };
        let mut list = problems.list();
        list.sort_by_key(place);
        Ok(CheckReport {
            sites: names.len(),
            problems: list,
        })
    }

    fn check_site(&self, cfg: &SiteConfig, connect: bool) -> Result<()> {
        if group::is_group(cfg) {
            if let Some(c) = cfg.opt_str("connection")? {
                if self.registry.connection_type(&c).is_none() {
                    cfg.problem(Error::config(format!("Unknown connection '{c}'")))?;
                }
            }
            group::members(cfg, &self.config)?;
            return Ok(());
        }
        let p = self.site_from(cfg.clone(), None)?;
        if !connect {
            return Ok(());
        }
        let settings = p.site.settings();
        if !settings.connection.check(Some(CONNECT_TIMEOUT))? {
            return Err(Error::run(format!(
                "{}: site '{}': the site cannot be reached (check-connection failed)",
                cfg.location(),
                cfg.name
            )));
        }
        let programs = self
            .config
            .problems()
            .map(|p| p.programs(&cfg.name))
            .unwrap_or_default();
        for program in programs {
            let argv = ["sh", "-c", "command -v -- \"$1\"", "troika", program.as_str()];
            let out = settings.run(Command::new(argv).timeout(Some(CONNECT_TIMEOUT)))?;
            if !out.success() {
                cfg.problem(Error::run(format!(
                    "{}: site '{}': command '{program}' is not found on the site: install it, or name it with its path in the site's *_command key",
                    cfg.location(),
                    cfg.name
                )))?;
            }
        }
        Ok(())
    }
}

/// `troika config check|show|new`. `global` is the `-c` given before the action; the one
/// after `check` or `show` wins.
pub fn config_action(
    registry: &crate::registry::Registry,
    global: Option<&std::path::Path>,
    what: crate::cli::ConfigAction,
    print: fn(&str) -> Result<()>,
) -> Result<()> {
    use crate::cli::ConfigAction;
    match what {
        ConfigAction::Check { config, connect } => {
            let problems = crate::config::Problems::default();
            let cfg = crate::app::load_config_as(config.as_deref().or(global), Some(problems.clone()))?;
            let ctl = match Controller::new(registry, cfg, false) {
                Ok(c) => c,
                Err(e) => {
                    for p in problems.list() {
                        println!("{p}");
                    }
                    return Err(e);
                }
            };
            let report = ctl.check(connect)?;
            let sites = match report.sites {
                1 => "1 site".to_string(),
                n => format!("{n} sites"),
            };
            if report.problems.is_empty() {
                return print(&format!("{sites}, no problem\n"));
            }
            let mut out: String = report.problems.iter().map(|p| format!("{p}\n")).collect();
            let n = report.problems.len();
            out.push_str(&format!("{sites}, {n} problem{}\n", if n == 1 { "" } else { "s" }));
            print(&out)?;
            Err(Error::Reported(Box::new(Error::config(format!("{n} problems")))))
        }
        ConfigAction::Show { site, config } => {
            let problems = crate::config::Problems::default();
            let cfg = crate::app::load_config_as(config.as_deref().or(global), Some(problems.clone()))?;
            let ctl = Controller::new(registry, cfg, true)?;
            print(&ctl.show(&site, &problems)?)
        }
        ConfigAction::New { recipe, output, list } => {
            if list {
                let out: String = crate::recipes::all(registry)
                    .into_iter()
                    .map(|r| format!("{:<16} {}\n", r.name, r.about))
                    .collect();
                return print(&out);
            }
            let name = recipe.unwrap_or_default();
            let r = crate::recipes::find(registry, &name).ok_or_else(|| {
                let names = crate::recipes::all(registry).into_iter().map(|r| r.name.to_string());
                let hint = crate::config::did_you_mean(&name, names);
                Error::invocation(format!(
                    "Unknown recipe {}{hint}; `troika config new --list` lists them",
                    crate::util::quote(&name)
                ))
            })?;
            match output {
                None => print(r.text),
                Some(path) => {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&path)
                        .map_err(|e| match e.kind() {
                            std::io::ErrorKind::AlreadyExists => Error::invocation(format!(
                                "{} exists already: troika does not write over it (remove it, or choose another -o)",
                                path.display()
                            )),
                            _ => Error::io("Cannot create", &path, e),
                        })?;
                    f.write_all(r.text.as_bytes())
                        .map_err(|e| Error::io("Cannot write", &path, e))?;
                    println!("Wrote recipe '{}' to {}", r.name, path.display());
                    Ok(())
                }
            }
        }
    }
}

impl Controller<'_> {
    /// `troika config show SITE`: the site's keys as they are read when it is built, each
    /// with its value and where it comes from: `FILE:LINE` when the file sets it, else
    /// `default`, or `edition E default` when the other edition's default differs.
    fn show(&self, name: &str, problems: &crate::config::Problems) -> Result<String> {
        let cfg = self.config.site(name)?;
        let edition = cfg.edition;
        let mut out = format!("site '{name}' ({}, edition {})\n", cfg.location(), edition.name());
        if group::is_group(&cfg) {
            group::members(&cfg, &self.config)?;
        } else {
            self.site_from(cfg.clone(), None)?;
        }
        let values = problems.values(name);
        // The same site under the other edition: the keys whose defaults differ.
        let other = match edition {
            crate::config::Edition::E2026 => crate::config::Edition::V0_2_7,
            crate::config::Edition::V0_2_7 => crate::config::Edition::E2026,
        };
        let shadow = crate::config::Problems::default();
        let shadow_cfg = cfg.clone().with_edition(other).checked_by(shadow.clone());
        if !group::is_group(&cfg) {
            let _ = self.site_from(shadow_cfg, None);
        }
        let others = shadow.values(name);
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for (k, _) in cfg.entries() {
            let key = k.key_text();
            if !values.iter().any(|(v, _)| *v == key) {
                let value = cfg.get(&key).map(|n| n.to_string()).unwrap_or_default();
                rows.push((key, value, cfg.line_of(k)));
            }
        }
        for (key, value) in values {
            let from = match cfg.entries().iter().find(|(k, _)| k.key_text() == key) {
                Some((k, _)) => cfg.line_of(k),
                None if others.iter().any(|(k, v)| *k == key && *v != value) => {
                    format!("edition {} default", edition.name())
                }
                None => "default".to_string(),
            };
            rows.push((key, value, from));
        }
        let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        let vwidth = rows.iter().map(|(_, v, _)| v.len()).max().unwrap_or(0).min(40);
        for (k, v, from) in rows {
            out.push_str(&format!("  {k:<width$}  {v:<vwidth$}  {from}\n"));
        }
        Ok(out)
    }
}
