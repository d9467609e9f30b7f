//! Site groups: `{type: group, sites: [a, b]}` names other sites; an action
//! on the group uses the first member whose connection works. The member a
//! job was submitted to is recorded in `<script>.site`, so that `monitor`
//! and `kill` go to that member whatever is available then.

use std::path::{Path, PathBuf};

use crate::config::{Config, SiteConfig, Value};
use crate::error::{Error, Result};
use crate::util::{quote, with_suffix};

/// The `type` of a group.
pub const TYPE: &str = "group";

/// The keys a group accepts. `connection` is optional and not used (the
/// members have their own); `list-sites` shows it.
pub const KEYS: &[&str] = &["type", "connection", "sites"];

/// Whether a site entry is a group.
pub fn is_group(cfg: &SiteConfig) -> bool {
    cfg.get("type").and_then(|n| n.as_str()) == Some(TYPE)
}

/// A group's members, checked: a non-empty list of defined sites that are
/// not groups themselves.
pub fn members(cfg: &SiteConfig, config: &Config) -> Result<Vec<String>> {
    cfg.warn_unknown_keys(KEYS);
    let node = cfg.get("sites").filter(|n| !n.is_null()).ok_or_else(|| {
        Error::config(format!(
            "{}: site group '{}' has no 'sites': list the sites to choose from, e.g. 'sites: [hpc1, hpc2]'",
            cfg.location(),
            cfg.name
        ))
    })?;
    let names = cfg.str_list("sites")?;
    if names.is_empty() || !matches!(node.value, Value::Seq(_) | Value::Str(_)) {
        return Err(Error::config(format!(
            "{}: site group '{}': 'sites' must be a non-empty list of site names",
            cfg.at(node),
            cfg.name
        )));
    }
    // For a check, every bad member is reported (`SiteConfig::problem`); for an action, the
    // first one stops.
    for m in &names {
        let member = match config.site(m) {
            Ok(member) => member,
            Err(Error::Invocation(msg)) => {
                cfg.problem(Error::config(format!(
                    "{}: site group '{}' lists an unknown site: {msg}",
                    cfg.at(node),
                    cfg.name
                )))?;
                continue;
            }
            Err(e) => return Err(e),
        };
        if is_group(&member) {
            cfg.problem(Error::config(format!(
                "{}: site group '{}': member '{m}' is itself a group; groups cannot be nested",
                cfg.at(node),
                cfg.name
            )))?;
        }
    }
    Ok(names)
}

/// The file that records the member a job was submitted to.
pub fn member_file(script: &Path) -> PathBuf {
    with_suffix(script, ".site")
}

/// The member recorded for `script`, if any.
pub fn recorded_member(script: &Path) -> Option<String> {
    let b = crate::util::read_limited(&member_file(script), crate::util::MAX_ID_FILE_BYTES).ok()??;
    let s = String::from_utf8(b).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Records the member a job was submitted to.
pub fn record_member(script: &Path, member: &str) -> Result<()> {
    let p = member_file(script);
    crate::debug!("Recording site '{member}' in {}", quote(&p.display().to_string()));
    crate::util::write_atomic(&p, format!("{member}\n").as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Source;

    fn cfg(text: &str) -> Config {
        Config::from_text(text, Source::File("c.yml".into())).unwrap()
    }

    #[test]
    fn members_are_checked() {
        let c = cfg("sites:\n  g: {type: group, sites: [a, b]}\n  a: {type: direct, connection: local}\n  b: {type: slurm, connection: local}\n");
        assert_eq!(members(&c.site("g").unwrap(), &c).unwrap(), vec!["a", "b"]);

        let c = cfg("sites:\n  g: {type: group, sites: [a, x]}\n  a: {type: direct, connection: local}\n");
        let e = members(&c.site("g").unwrap(), &c).unwrap_err().to_string();
        assert!(e.contains("lists an unknown site") && e.contains("'x'"), "{e}");

        let c = cfg("sites:\n  g: {type: group, sites: [h]}\n  h: {type: group, sites: [g]}\n");
        let e = members(&c.site("g").unwrap(), &c).unwrap_err().to_string();
        assert!(e.contains("groups cannot be nested"), "{e}");

        for bad in [
            "sites:\n  g: {type: group}\n",
            "sites:\n  g: {type: group, sites: []}\n",
        ] {
            let c = cfg(bad);
            let e = members(&c.site("g").unwrap(), &c).unwrap_err().to_string();
            assert!(e.contains("Configuration error") && e.contains("site group 'g'"), "{e}");
        }
    }

    #[test]
    fn member_record() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("job.sh");
        assert_eq!(recorded_member(&script), None);
        record_member(&script, "hpc2").unwrap();
        assert_eq!(recorded_member(&script).as_deref(), Some("hpc2"));
        assert_eq!(std::fs::read_to_string(d.path().join("job.sh.site")).unwrap(), "hpc2\n");
    }
}
