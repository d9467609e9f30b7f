//! Translators: steps, listed per site in `translators:`, that add or change
//! generic directives before they are translated. An entry is the name of a
//! registered translator (built-in or added by an embedding program), or
//! `{command: [path, args...]}` for an external program ([`external`]).

pub mod external;
pub mod resources;

use std::time::Duration;

use super::directives::Directives;
use crate::config::{Node, SiteConfig, Value};
use crate::error::{Context, Error, Result};
use crate::site::units::Style;
use crate::util::quote;

/// A step that updates the directives of a script before translation.
pub trait Translator {
    fn apply(&self, directives: &mut Directives) -> Result<()>;
}

/// What a translator is built from: the site's configuration and its type.
#[non_exhaustive]
pub struct TranslatorContext<'a> {
    pub site: &'a SiteConfig,
    /// The name of the site's type (`slurm`, `pbs`, ...), for messages.
    pub site_type: &'a str,
    /// How the site's type writes memory sizes and wall-clock limits, for
    /// translators that write values the way the scheduler reads them;
    /// `None` when the type does not say.
    pub units: Option<Style>,
}

impl<'a> TranslatorContext<'a> {
    pub fn new(site: &'a SiteConfig, site_type: &'a str) -> Self {
        TranslatorContext {
            site,
            site_type,
            units: None,
        }
    }

    /// The context with the site type's units style.
    pub fn units(mut self, units: Option<Style>) -> Self {
        self.units = units;
        self
    }
}

/// Builds a translator for one site. A plain function (a closure that
/// captures nothing coerces to one): what a translator needs comes from the
/// site's configuration.
pub type TranslatorFactory = fn(&TranslatorContext) -> Result<Box<dyn Translator>>;

/// A registered translator: the name used in `translators:`, the site keys
/// it reads (so they are not reported as unknown) and its factory.
#[derive(Clone, Copy)]
pub struct TranslatorType {
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub create: TranslatorFactory,
}

/// The built-in translators.
pub fn builtin() -> Vec<TranslatorType> {
    let t = |name, keys, create| TranslatorType { name, keys, create };
    let fmt = &[resources::FORMAT_KEY][..];
    vec![
        t("extra_directives", &["extra_directives"], ExtraDirectives::create),
        t("join_output_error", &[], |_| Ok(Box::new(JoinOutputError))),
        t("enable_hyperthreading", &[], |_| Ok(Box::new(EnableHyperthreading))),
        t("compute_tasks", &[], |_| Ok(Box::new(resources::ComputeTasks))),
        t("compute_cpus_per_task", &[], |_| {
            Ok(Box::new(resources::ComputeCpusPerTask))
        }),
        t("normalise_memory", fmt, resources::create_memory),
        t("normalise_walltime", fmt, resources::create_walltime),
        t("resources", fmt, resources::create_resources),
    ]
}

/// One entry of a site's `translators` list.
#[derive(Clone, Debug)]
pub enum TranslatorEntry {
    /// A registered translator.
    Named(String),
    /// An external program and its time limit.
    Command { argv: Vec<String>, timeout: Duration },
}

impl TranslatorEntry {
    /// How messages name the entry: `'name'` or `command 'prog' 'arg'`.
    pub fn label(&self) -> String {
        match self {
            TranslatorEntry::Named(n) => quote(n),
            TranslatorEntry::Command { argv, .. } => format!("command {}", crate::util::quote_argv(argv)),
        }
    }
}

/// Reads a site's `translators`: a list (or a single entry) of names and
/// `{command: [path, args...], timeout: SECONDS}` mappings.
pub fn entries(site: &SiteConfig) -> Result<Vec<TranslatorEntry>> {
    let err = |n: &Node, m: String| Error::config(format!("{}: site '{}': {m}", site.at(n), site.name));
    let node = match site.get("translators") {
        None => return Ok(vec![]),
        Some(n) => n,
    };
    let items: &[Node] = match &node.value {
        Value::Null => &[],
        Value::Seq(items) => items,
        _ => std::slice::from_ref(node),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match &item.value {
            Value::Str(_) | Value::Int(_) | Value::Float(_) => {
                out.push(TranslatorEntry::Named(item.scalar_text().unwrap_or_default()))
            }
            Value::Map(keys) => out.push(command_entry(item, keys, &err)?),
            _ => {
                return Err(err(
                    item,
                    format!(
                    "each entry of 'translators' must be a translator name or {{command: [path, args...]}}, found {}",
                    item.kind()
                ),
                ))
            }
        }
    }
    Ok(out)
}

fn command_entry(item: &Node, keys: &[(Node, Node)], err: &dyn Fn(&Node, String) -> Error) -> Result<TranslatorEntry> {
    let mut argv = None;
    let mut timeout = external::DEFAULT_TIMEOUT;
    for (k, v) in keys {
        match k.as_str() {
            Some("command") => {
                let list: &[Node] = match &v.value {
                    Value::Str(_) => std::slice::from_ref(v),
                    Value::Seq(l) => l,
                    _ => &[],
                };
                let words: Option<Vec<String>> = list
                    .iter()
                    .map(|w| match &w.value {
                        Value::Str(_) | Value::Int(_) | Value::Float(_) => w.scalar_text(),
                        _ => None,
                    })
                    .collect();
                match words {
                    Some(w) if !w.is_empty() && !w[0].is_empty() => argv = Some(w),
                    _ => {
                        return Err(err(
                            v,
                            format!(
                                "the 'command' of a translator must be a program path or a non-empty list of strings (program and arguments), found {}",
                                if matches!(&v.value, Value::Seq(l) if l.is_empty()) { "an empty list" } else { v.kind() }
                            ),
                        ))
                    }
                }
            }
            Some("timeout") => {
                let secs = crate::config::seconds_of(v, "the 'timeout' of a translator").map_err(|m| err(v, m))?;
                timeout = Duration::from_secs_f64(secs);
            }
            _ => {
                return Err(err(
                    k,
                    format!(
                        "unknown key {} in a translator entry (expected 'command' and optionally 'timeout')",
                        quote(&k.key_text())
                    ),
                ))
            }
        }
    }
    let argv = argv.ok_or_else(|| {
        err(
            item,
            "a translator entry that is a mapping needs 'command: [path, args...]'".to_string(),
        )
    })?;
    Ok(TranslatorEntry::Command { argv, timeout })
}

/// The registered translator called `name`; a later registration replaces
/// an earlier one of the same name.
pub fn find<'a>(available: &'a [TranslatorType], name: &str) -> Option<&'a TranslatorType> {
    available.iter().rev().find(|t| t.name == name)
}

/// The site keys read by the translators of `entries`.
pub fn keys(entries: &[TranslatorEntry], available: &[TranslatorType]) -> Vec<&'static str> {
    entries
        .iter()
        .filter_map(|e| match e {
            TranslatorEntry::Named(n) => find(available, n),
            TranslatorEntry::Command { .. } => None,
        })
        .flat_map(|t| t.keys.iter().copied())
        .collect()
}

/// Builds the translators of `entries`, in order. Their errors name them.
pub fn build(
    entries: &[TranslatorEntry],
    ctx: &TranslatorContext,
    available: &[TranslatorType],
) -> Result<Vec<Box<dyn Translator>>> {
    entries
        .iter()
        .map(|e| {
            let inner: Box<dyn Translator> = match e {
                TranslatorEntry::Named(name) => {
                    let t = find(available, name).ok_or_else(|| {
                        Error::config(format!("Implementation '{name}' not found for translators hook"))
                    })?;
                    (t.create)(ctx)?
                }
                TranslatorEntry::Command { argv, timeout } => Box::new(external::ExternalTranslator {
                    argv: argv.clone(),
                    timeout: *timeout,
                }),
            };
            Ok(Box::new(Labelled {
                label: e.label(),
                inner,
            }) as Box<dyn Translator>)
        })
        .collect()
}

/// A translator whose errors start with its name.
struct Labelled {
    label: String,
    inner: Box<dyn Translator>,
}

impl Translator for Labelled {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        crate::debug!("Calling translator {}", self.label);
        self.inner.apply(d).context(format_args!("Translator {}", self.label))
    }
}

/// Adds the site's `extra_directives` unless the script or `-D` set them.
pub struct ExtraDirectives {
    items: Vec<(String, Vec<u8>)>,
}

impl ExtraDirectives {
    fn create(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
        let site = ctx.site;
        let mut items = Vec::new();
        if let Some(node) = site.get("extra_directives") {
            let entries = match &node.value {
                Value::Null => &[][..],
                Value::Map(m) => m.as_slice(),
                _ => {
                    return Err(Error::config(format!(
                        "{}: site '{}': 'extra_directives' must be a mapping of directive names to values, found {}",
                        site.at(node),
                        site.name,
                        node.kind()
                    )))
                }
            };
            for (k, v) in entries {
                let name = k.key_text();
                let text = match &v.value {
                    Value::Str(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => v.scalar_text().unwrap_or_default(),
                    _ => {
                        return Err(Error::config(format!(
                            "{}: site '{}': Invalid value type for directive '{name}' in 'extra_directives': expected a string or a number, found {}",
                            site.at(v),
                            site.name,
                            v.kind()
                        )))
                    }
                };
                items.push((name, text.into_bytes()));
            }
        }
        Ok(Box::new(ExtraDirectives { items }))
    }
}

impl Translator for ExtraDirectives {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        for (k, v) in &self.items {
            d.set_default_as_written(k, v.clone());
        }
        Ok(())
    }
}

/// Joins the error stream into the output file unless `error_file` is set.
pub struct JoinOutputError;

impl Translator for JoinOutputError {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        if !d.contains("error_file") {
            d.set("join_output_error", Vec::new());
        }
        Ok(())
    }
}

/// Sets `enable_hyperthreading` when absent: true when `threads_per_core` is
/// greater than 1, false otherwise.
pub struct EnableHyperthreading;

impl Translator for EnableHyperthreading {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        // A value given is the site's to read (Slurm rejects a non-boolean
        // one; PBS and SGE have no such directive), as in 0.2.7.
        if d.contains("enable_hyperthreading") {
            return Ok(());
        }
        let on = match d.get("threads_per_core") {
            None => false,
            Some(v) => {
                let n: i64 = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or_else(|| {
                        Error::Script(format!(
                            "Directive 'threads_per_core': invalid value {} (expected an integer)",
                            crate::util::quote_bytes(v)
                        ))
                    })?;
                n > 1
            }
        };
        d.set(
            "enable_hyperthreading",
            if on { b"true".to_vec() } else { b"false".to_vec() },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_a_site() {
        let site = SiteConfig::from_yaml(
            "s",
            "translators:\n  - resources\n  - command: [/bin/t, -x, 3]\n    timeout: 2.5\n  - {command: /bin/u}\n",
        )
        .unwrap();
        let e = entries(&site).unwrap();
        assert_eq!(e.len(), 3);
        assert!(matches!(&e[0], TranslatorEntry::Named(n) if n == "resources"));
        match &e[1] {
            TranslatorEntry::Command { argv, timeout } => {
                assert_eq!(argv, &["/bin/t", "-x", "3"]);
                assert_eq!(*timeout, Duration::from_millis(2500));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e[1].label(), "command '/bin/t' '-x' '3'");
        match &e[2] {
            TranslatorEntry::Command { argv, timeout } => {
                assert_eq!(argv, &["/bin/u"]);
                assert_eq!(*timeout, external::DEFAULT_TIMEOUT);
            }
            other => panic!("{other:?}"),
        }
        // A single name, null and absence.
        let one = SiteConfig::from_yaml("s", "translators: compute_tasks\n").unwrap();
        assert_eq!(entries(&one).unwrap()[0].label(), "'compute_tasks'");
        let one = SiteConfig::from_yaml("s", "translators: {command: [t, a]}\n").unwrap();
        assert_eq!(entries(&one).unwrap()[0].label(), "command 't' 'a'");
        let none = SiteConfig::from_yaml("s", "translators:\n").unwrap();
        assert!(entries(&none).unwrap().is_empty());
        let absent = SiteConfig::from_yaml("s", "type: slurm\n").unwrap();
        assert!(entries(&absent).unwrap().is_empty());
    }

    #[test]
    fn bad_entries() {
        for (yaml, msg) in [
            (
                "translators: [{command: [a, [b]]}]",
                "the 'command' of a translator must be",
            ),
            ("translators: [{command: ''}]", "the 'command' of a translator must be"),
            (
                "translators: [{command: a, timeout: x}]",
                "positive number of seconds, found 'x'",
            ),
            (
                "translators: [{command: a, timeout: -0.5}]",
                "positive number of seconds, found -0.5",
            ),
            (
                "translators: [{command: a, timeout: 1.0e+300}]",
                "positive number of seconds, at most 1000000000 (about 31 years), found 1e+300",
            ),
            ("translators: [{name: a}]", "unknown key 'name'"),
            ("translators: [null]", "found null"),
        ] {
            let site = SiteConfig::from_yaml("s", yaml).unwrap();
            let e = entries(&site).map(|_| ()).unwrap_err().to_string();
            assert!(e.contains(msg), "{yaml}: {e}");
            assert!(e.starts_with("Configuration error: <inline>:1:"), "{yaml}: {e}");
        }
    }

    #[test]
    fn later_registrations_win_and_keys_are_collected() {
        let mut available = builtin();
        available.push(TranslatorType {
            name: "compute_tasks",
            keys: &["my_key"],
            create: |_| Ok(Box::new(JoinOutputError)),
        });
        assert_eq!(find(&available, "compute_tasks").unwrap().keys, &["my_key"]);
        let site = SiteConfig::from_yaml("s", "translators: [compute_tasks, resources, {command: x}, nope]\n").unwrap();
        let e = entries(&site).unwrap();
        assert_eq!(keys(&e, &available), vec!["my_key", "resource_format"]);
        let ctx = TranslatorContext::new(&site, "slurm").units(Some(Style::Slurm));
        let err = build(&e, &ctx, &available).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("Implementation 'nope' not found for translators hook"),
            "{err}"
        );
        let built = build(&e[..2], &ctx, &available).unwrap();
        let mut d = Directives::new();
        built[0].apply(&mut d).unwrap();
        assert!(d.contains("join_output_error"), "the replacement ran");
    }

    #[test]
    fn errors_name_the_translator() {
        let site = SiteConfig::from_yaml("s", "translators: [compute_tasks]\n").unwrap();
        let t = build(
            &entries(&site).unwrap(),
            &TranslatorContext::new(&site, "slurm"),
            &builtin(),
        )
        .unwrap();
        let mut d = Directives::new();
        d.set("total_nodes", b"x".to_vec());
        let e = t[0].apply(&mut d).unwrap_err().to_string();
        assert!(
            e.starts_with("Translator 'compute_tasks': Directive 'total_nodes'"),
            "{e}"
        );
    }

    #[test]
    fn every_builtin_is_documented() {
        let doc = include_str!("../../../docs/translators.md");
        for t in builtin() {
            assert!(
                doc.contains(&format!("| `{}` |", t.name)),
                "docs/translators.md lacks {}",
                t.name
            );
        }
        let res = include_str!("../../../docs/resources.md");
        for name in [
            "compute_tasks",
            "compute_cpus_per_task",
            "normalise_memory",
            "normalise_walltime",
            "resources",
        ] {
            assert!(res.contains(&format!("`{name}`")), "docs/resources.md lacks {name}");
        }
    }
}
