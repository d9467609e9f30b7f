//! Translators: named steps, listed per site in `translators:`, that add or
//! change generic directives before they are translated.

use super::directives::Directives;
use super::translate::bool_value;
use crate::config::{SiteConfig, Value};
use crate::error::{Error, Result};

/// A step that updates the directives of a script before translation.
pub trait Translator {
    fn apply(&self, directives: &mut Directives) -> Result<()>;
}

/// Builds a translator from the site's configuration.
pub type TranslatorFactory = fn(&SiteConfig) -> Result<Box<dyn Translator>>;

/// The built-in translators.
pub const BUILTIN: &[(&str, TranslatorFactory)] = &[
    ("extra_directives", ExtraDirectives::create),
    ("join_output_error", |_| Ok(Box::new(JoinOutputError))),
    ("enable_hyperthreading", |_| Ok(Box::new(EnableHyperthreading))),
];

/// Adds the site's `extra_directives` unless the script or `-D` set them.
pub struct ExtraDirectives {
    items: Vec<(String, Vec<u8>)>,
}

impl ExtraDirectives {
    fn create(site: &SiteConfig) -> Result<Box<dyn Translator>> {
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
            d.set_default(k, v.clone());
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
        if let Some(v) = d.get("enable_hyperthreading") {
            bool_value(v).map_err(|e| Error::Script(format!("Directive 'enable_hyperthreading': {e}")))?;
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
