//! Translation of generic directives into a scheduler's native directives,
//! driven by one table per site type. A configuration can override any entry
//! (`directive_translate: {name: "-J %s"}`) or disable it (`null`).

use std::borrow::Cow;
use std::collections::HashMap;

use super::directives::Directives;
use crate::error::{Error, Result};

/// A computed translation: from the value to zero or more directive arguments.
pub type TranslateFn = fn(value: &[u8]) -> Result<Vec<Vec<u8>>>;

/// A combined translation: from the members present, as (name, value) in
/// script order, to zero or more directive arguments.
pub type GroupFn = fn(members: &[(&str, &[u8])]) -> Result<Vec<Vec<u8>>>;

/// Directives that a scheduler needs to see together, such as PBS Pro's
/// `-l select=N:ncpus=C:mpiprocs=P:mem=M`, built from the node, task, cpu and
/// memory directives at once. Each member is a table row with
/// [`Rule::Group`]; the group's output takes the place of its first member
/// in the script. A member with a `directive_translate` entry is translated
/// by that entry and left out of the group.
pub struct Group {
    /// Names the group in the documentation.
    pub name: &'static str,
    pub func: GroupFn,
    /// How the members combine, for the documentation.
    pub doc: &'static str,
}

/// How one generic directive becomes native ones.
#[derive(Clone, Copy)]
pub enum Rule {
    /// A format where `%s` is the value and `%%` a literal `%`.
    Format(&'static str),
    /// Computed from the value; `doc` says how, for the documentation.
    Func(TranslateFn, &'static str),
    /// Part of a combined translation; `doc` says what this member gives.
    Group(&'static Group, &'static str),
    /// Known to the site but produces nothing.
    Ignore,
}

/// One row of a site's directive table.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub rule: Rule,
}

/// A site's directive table.
#[derive(Clone, Copy)]
pub struct Table {
    pub entries: &'static [Entry],
}

impl Table {
    pub const EMPTY: Table = Table { entries: &[] };

    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.entries.iter().find(|e| e.name == name).map(|e| &e.rule)
    }
}

/// What to do with a directive that the site cannot translate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownPolicy {
    Fail,
    Warn,
    Ignore,
}

impl UnknownPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(Self::Fail),
            "warn" => Some(Self::Warn),
            "ignore" => Some(Self::Ignore),
            _ => None,
        }
    }
}

/// Per-site overrides from `directive_translate`: `None` disables a directive.
pub type Overrides = HashMap<String, Option<String>>;

/// Applies a `%s` format to a value.
pub fn apply_format(name: &str, fmt: &str, value: &[u8]) -> Vec<u8> {
    let f = fmt.as_bytes();
    let mut out = Vec::with_capacity(f.len() + value.len());
    let mut used = false;
    let mut i = 0;
    while i < f.len() {
        if f[i] == b'%' && i + 1 < f.len() {
            match f[i + 1] {
                b's' => {
                    out.extend_from_slice(value);
                    used = true;
                    i += 2;
                    continue;
                }
                b'%' => {
                    out.push(b'%');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(f[i]);
        i += 1;
    }
    if !used && !value.is_empty() {
        crate::warning!(
            "The translation of directive '{name}' ({}) has no '%s': its value {} is not used",
            crate::util::quote(fmt),
            crate::util::quote_bytes(value)
        );
    }
    out
}

/// Translates `directives` into native directive lines (`prefix` + argument +
/// newline). With no prefix nothing is generated and nothing is reported.
pub fn translate(
    directives: &Directives,
    table: &Table,
    overrides: &Overrides,
    prefix: Option<&[u8]>,
    unknown: UnknownPolicy,
) -> Result<Vec<Vec<u8>>> {
    let Some(prefix) = prefix else {
        return Ok(vec![]);
    };
    let mut lines = Vec::new();
    let mut groups_done: Vec<&str> = Vec::new();
    for (name, value) in directives.iter() {
        let rule: Option<Cow<Rule>> = match overrides.get(name) {
            Some(None) => Some(Cow::Owned(Rule::Ignore)),
            Some(Some(fmt)) => {
                let arg = apply_format(name, fmt, value);
                push_line(&mut lines, prefix, &arg);
                continue;
            }
            None => table.get(name).map(Cow::Borrowed),
        };
        match rule.as_deref() {
            Some(Rule::Format(fmt)) => push_line(&mut lines, prefix, &apply_format(name, fmt, value)),
            Some(Rule::Func(f, _)) => {
                for arg in f(value).map_err(|e| match e {
                    Error::Script(m) => Error::Script(format!("Directive '{name}': {m}")),
                    other => other,
                })? {
                    push_line(&mut lines, prefix, &arg);
                }
            }
            Some(Rule::Group(group, _)) => {
                if groups_done.contains(&group.name) {
                    continue;
                }
                groups_done.push(group.name);
                let members = group_members(directives, table, overrides, group);
                for arg in (group.func)(&members)? {
                    push_line(&mut lines, prefix, &arg);
                }
            }
            Some(Rule::Ignore) => {}
            None => match unknown {
                UnknownPolicy::Fail => return Err(Error::Script(format!("Unknown directive '{name}'"))),
                UnknownPolicy::Warn => crate::warning!("Unknown directive '{name}'"),
                UnknownPolicy::Ignore => {}
            },
        }
    }
    Ok(lines)
}

/// The directives translated by `group`, in script order.
fn group_members<'d>(
    directives: &'d Directives,
    table: &Table,
    overrides: &Overrides,
    group: &Group,
) -> Vec<(&'d str, &'d [u8])> {
    directives
        .iter()
        .filter(|(name, _)| !overrides.contains_key(*name))
        .filter(|(name, _)| matches!(table.get(name), Some(Rule::Group(g, _)) if g.name == group.name))
        .collect()
}

fn push_line(lines: &mut Vec<Vec<u8>>, prefix: &[u8], arg: &[u8]) {
    let mut l = Vec::with_capacity(prefix.len() + arg.len() + 1);
    l.extend_from_slice(prefix);
    l.extend_from_slice(arg);
    l.push(b'\n');
    lines.push(l);
}

/// Parses a boolean directive value, with a clear error.
pub fn bool_value(value: &[u8]) -> Result<bool> {
    std::str::from_utf8(value)
        .ok()
        .and_then(crate::util::parse_bool)
        .ok_or_else(|| {
            Error::Script(format!(
                "invalid boolean value {} (expected yes/no, true/false, on/off or 1/0)",
                crate::util::quote_bytes(value)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(apply_format("c", "--comment=50%% %s", b"done"), b"--comment=50% done");
        assert_eq!(apply_format("n", "-J %s", b"x"), b"-J x");
        assert_eq!(apply_format("e", "--exclusive", b""), b"--exclusive");
    }

    #[test]
    fn unknown_policies() {
        let mut d = Directives::new();
        d.set("foo", b"1".to_vec());
        let t = Table::EMPTY;
        let o = Overrides::new();
        assert!(translate(&d, &t, &o, Some(b"#X "), UnknownPolicy::Fail).is_err());
        assert!(translate(&d, &t, &o, Some(b"#X "), UnknownPolicy::Ignore)
            .unwrap()
            .is_empty());
        assert!(translate(&d, &t, &o, None, UnknownPolicy::Fail).unwrap().is_empty());
    }

    fn both(members: &[(&str, &[u8])]) -> Result<Vec<Vec<u8>>> {
        let parts: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
            .collect();
        Ok(vec![format!("-l {}", parts.join(":")).into_bytes()])
    }

    const PAIR: Group = Group {
        name: "pair",
        func: both,
        doc: "",
    };

    const GROUPED: Table = Table {
        entries: &[
            Entry {
                name: "name",
                rule: Rule::Format("-N %s"),
            },
            Entry {
                name: "a",
                rule: Rule::Group(&PAIR, ""),
            },
            Entry {
                name: "b",
                rule: Rule::Group(&PAIR, ""),
            },
        ],
    };

    fn lines(d: &Directives, o: &Overrides) -> Vec<String> {
        translate(d, &GROUPED, o, Some(b"#P "), UnknownPolicy::Fail)
            .unwrap()
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn groups_are_translated_once_at_their_first_member() {
        let mut d = Directives::new();
        d.set("b", b"2".to_vec());
        d.set("name", b"x".to_vec());
        d.set("a", b"1".to_vec());
        assert_eq!(lines(&d, &Overrides::new()), ["#P -l b=2:a=1\n", "#P -N x\n"]);

        // A member with its own translation leaves the group.
        let mut o = Overrides::new();
        o.insert("b".into(), Some("-B %s".into()));
        assert_eq!(lines(&d, &o), ["#P -B 2\n", "#P -N x\n", "#P -l a=1\n"]);
        o.insert("a".into(), None);
        assert_eq!(lines(&d, &o), ["#P -B 2\n", "#P -N x\n"]);
    }
}
