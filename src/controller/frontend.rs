//! `troika translate`, which prints the script a submission would make, and
//! the front ends (`troika qsub`, `troika sbatch`), which read a
//! scheduler's own command line and submit to a configured site.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Controller;
use crate::config::{Edition, SiteConfig};
use crate::error::{Error, Result};
use crate::script::directives::parse_define;
use crate::script::foreign::{self, Foreign, Item};
use crate::script::Request;
use crate::util::quote;

/// What `troika translate` is asked.
pub struct Translation<'a> {
    /// `--to TYPE`: a site of this type with default settings.
    pub to: Option<&'a str>,
    /// `--site SITE`: a site of the configuration.
    pub site: Option<&'a str>,
    pub script: &'a Path,
    /// `-D NAME=VALUE` as given.
    pub defines: &'a [Vec<u8>],
    /// `-o`: the job's output file (default [`default_output`]).
    pub output: Option<&'a Path>,
}

/// The output file of a job whose command line names none: the script's
/// path with `.out` added, made absolute (`job.sh` -> `$PWD/job.sh.out`).
pub fn default_output(script: &Path) -> PathBuf {
    let mut name = script.as_os_str().to_owned();
    name.push(".out");
    std::path::absolute(PathBuf::from(&name)).unwrap_or_else(|_| PathBuf::from(name))
}

impl Controller<'_> {
    /// `troika translate`: writes the script a submission would generate
    /// to `out`, changing no file and submitting nothing.
    pub fn translate<W: Write>(&self, t: &Translation, out: &mut W) -> Result<()> {
        let p = match (t.to, t.site) {
            (Some(ty), None) => {
                if self.registry.site_type(ty).is_none() {
                    let known: Vec<&str> = self.registry.sites.iter().map(|s| s.name).collect();
                    return Err(Error::invocation(format!(
                        "Unknown site type {} (known types: {})",
                        quote(ty),
                        known.join(", ")
                    )));
                }
                let cfg = SiteConfig::from_yaml(ty, &format!("type: '{ty}'\nconnection: local\n"))?
                    .with_edition(Edition::E2026);
                self.site_from(cfg, None)?
            }
            (None, Some(site)) => self.prepare(site, None, "translate", Some(t.script), None)?,
            _ => return Err(Error::invocation("Give either --to TYPE or --site SITE")),
        };
        let defines = t.defines.iter().map(|d| parse_define(d)).collect::<Result<Vec<_>>>()?;
        let output = t
            .output
            .map(Path::to_path_buf)
            .unwrap_or_else(|| default_output(t.script));
        let settings = p.site.settings();
        let req = Request {
            defines: &defines,
            output: output.as_os_str().as_encoded_bytes(),
            translators: &settings.translators,
            status_record: settings.status_record,
        };
        crate::script::generate_to(t.script, &settings.profile(), &req, out)
    }

    /// `troika COMMAND ARGS` for the front end of a site type (`troika
    /// sbatch`): reads the options as the scheduler's, submits the script to `--site` or the
    /// default site, and returns what the scheduler's command would print.
    pub fn front_end(&self, command: &str, args: &[OsString]) -> Result<String> {
        let (site_type, front) = self
            .registry
            .front_end(command)
            .ok_or_else(|| Error::invocation(format!("No site type reads the options of {command}")))?;
        let prefix = site_type
            .traits
            .foreign
            .map(|f| f.prefix)
            .ok_or_else(|| Error::invocation(format!("No table of the options of {command}")))?;
        let tables: Vec<&'static Foreign> = self
            .foreign_syntaxes(None)
            .into_iter()
            .filter(|f| f.prefix == prefix)
            .collect();
        let mut words = Vec::with_capacity(args.len());
        for a in args {
            words.push(a.to_str().map(str::to_string).ok_or_else(|| {
                Error::invocation(format!(
                    "troika {command}: the argument {} is not UTF-8 text",
                    quote(&a.to_string_lossy())
                ))
            })?);
        }
        if words.first().is_some_and(|w| w == "--help") {
            return Ok(format!(
                "usage: troika {command} [--site SITE] [{command} options] SCRIPT\n\n\
                 Submits SCRIPT to SITE (default: TROIKA_DEFAULT_SITE, else the configuration's default_site),\n\
                 with {command}'s options and the script's lines translated for it; prints what {command} prints.\n\
                 The options read are listed in docs/foreign.md, the rest in docs/frontends.md.\n"
            ));
        }
        // `--site SITE` is troika's own.
        let mut site = None;
        let mut rest = Vec::with_capacity(words.len());
        let mut it = words.into_iter();
        while let Some(w) = it.next() {
            if w == "--site" {
                site = Some(
                    it.next()
                        .ok_or_else(|| Error::invocation(format!("troika {command}: --site needs a site name")))?,
                );
            } else if let Some(s) = w.strip_prefix("--site=") {
                site = Some(s.to_string());
            } else {
                rest.push(w);
            }
        }
        let (items, operands) = foreign::read_options(&tables, &rest, true);
        let mut defines = Vec::new();
        let mut output = None;
        for item in items {
            match item {
                Item::Set(name, value) => defines.push(format!("{name}={value}").into_bytes()),
                Item::Output(o) => output = Some(PathBuf::from(o)),
                Item::Dropped => {}
                Item::Untranslated { text, why } => {
                    return Err(Error::invocation(format!(
                        "troika {command}: option {} is not accepted: {why} (docs/frontends.md lists the options troika {command} reads)",
                        quote(&text)
                    )))
                }
            }
        }
        let script = match operands.as_slice() {
            [] => {
                return Err(Error::invocation(format!(
                    "troika {command}: no job script given (usage: troika {command} [OPTIONS] SCRIPT)"
                )))
            }
            [s] => PathBuf::from(s),
            [s, more @ ..] => {
                return Err(Error::invocation(format!(
                    "troika {command}: arguments after the script {} are not passed to it: {}",
                    quote(s),
                    more.iter().map(|m| quote(m)).collect::<Vec<_>>().join(" ")
                )))
            }
        };
        let site = match site {
            Some(s) => s,
            None => self.default_site()?,
        };
        let output = output.unwrap_or_else(|| default_output(&script));
        let jid = self.submit(&site, &script, None, &output, &defines, None)?;
        Ok(jid.map(|j| (front.submitted)(&j)).unwrap_or_default())
    }

    /// The site of a front end without `--site`: `TROIKA_DEFAULT_SITE`, else
    /// the configuration's `default_site`.
    pub fn default_site(&self) -> Result<String> {
        if let Some(s) = std::env::var("TROIKA_DEFAULT_SITE").ok().filter(|s| !s.is_empty()) {
            return Ok(s);
        }
        match self.config.root_get("default_site") {
            Some(n) => n.scalar_text().filter(|s| !s.is_empty()).ok_or_else(|| {
                Error::config(format!(
                    "{}: 'default_site' must be the name of a site, found {}",
                    self.config.at(n),
                    n.kind()
                ))
            }),
            None => Err(Error::invocation(
                "No site given: pass --site SITE, set TROIKA_DEFAULT_SITE, or add `default_site: NAME` to the configuration",
            )),
        }
    }
}
