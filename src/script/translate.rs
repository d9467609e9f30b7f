//! Translation of generic directives into a scheduler's native directives,
//! driven by one table per site type. A configuration can override any entry
//! (`directive_translate: {name: "-J %s"}`) or disable it (`null`).

use std::borrow::Cow;
use std::collections::HashMap;

use super::directives::Directives;
use crate::error::{Context, Error, Result};

/// A computed translation: from the value to zero or more directive arguments.
pub type TranslateFn = fn(value: &[u8]) -> Result<Vec<Vec<u8>>>;

/// A computed translation that also reads other directives: for schedulers
/// where several generic directives make one native option (Torque's
/// `-l nodes=N:ppn=M`).
pub type JointFn = fn(&Joint) -> Result<Vec<Vec<u8>>>;

/// What a [`JointFn`] sees: the directive being translated and the others.
pub struct Joint<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
    directives: &'a Directives,
    overrides: &'a Overrides,
}

impl<'a> Joint<'a> {
    /// Another directive's value, if it is set and translated by the site's
    /// table: a directive that the configuration's `directive_translate`
    /// replaces or disables counts as absent.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        if self.overrides.contains_key(name) {
            return None;
        }
        self.directives.get(name)
    }
}

/// How one generic directive becomes native ones.
#[derive(Clone, Copy)]
pub enum Rule {
    /// A format where `%s` is the value and `%%` a literal `%`.
    Format(&'static str),
    /// Computed from the value; `doc` says how, for the documentation.
    Func(TranslateFn, &'static str),
    /// Computed from the value and other directives; `doc` says how.
    Joint(JointFn, &'static str),
    /// Known to the site but produces nothing.
    Ignore,
}

/// One row of a site's directive table.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub rule: Rule,
}

impl Entry {
    /// A row whose translation is a format (`-q %s`).
    pub const fn format(name: &'static str, format: &'static str) -> Entry {
        Entry {
            name,
            rule: Rule::Format(format),
        }
    }

    /// A row translated by a function of the value, `doc` saying how.
    pub const fn func(name: &'static str, f: fn(&[u8]) -> Result<Vec<Vec<u8>>>, doc: &'static str) -> Entry {
        Entry {
            name,
            rule: Rule::Func(f, doc),
        }
    }

    /// A row translated together with other directives, `doc` saying how.
    pub const fn joint(name: &'static str, f: fn(&Joint) -> Result<Vec<Vec<u8>>>, doc: &'static str) -> Entry {
        Entry {
            name,
            rule: Rule::Joint(f, doc),
        }
    }

    /// A row accepted without a translation.
    pub const fn ignore(name: &'static str) -> Entry {
        Entry {
            name,
            rule: Rule::Ignore,
        }
    }
}

/// A site's directive table: its rows, after the rows it shares with
/// related schedulers (the qsub family's) when it has any.
#[derive(Clone, Copy)]
pub struct Table {
    shared: &'static [Entry],
    own: &'static [Entry],
}

impl Table {
    pub const EMPTY: Table = Table::new(&[]);

    /// A table of these rows.
    pub const fn new(rows: &'static [Entry]) -> Table {
        Table { shared: &[], own: rows }
    }

    /// A table of rows shared with other schedulers, and rows of its own.
    pub const fn joined(shared: &'static [Entry], own: &'static [Entry]) -> Table {
        Table { shared, own }
    }

    /// The rows, shared ones first.
    pub fn entries(&self) -> impl Iterator<Item = &'static Entry> {
        self.shared.iter().chain(self.own)
    }

    pub fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.own.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&'static Rule> {
        self.entries().find(|e| e.name == name).map(|e| &e.rule)
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

/// Reads a mapping of directive names to translations (`'--job-name=%s'`,
/// or null to disable one) from the site key `key`; absent or null is empty.
pub fn read_overrides(cfg: &crate::config::SiteConfig, key: &str) -> Result<Overrides> {
    use crate::config::Value;
    let mut out = Overrides::new();
    let Some(n) = cfg.get(key).filter(|n| !n.is_null()) else {
        return Ok(out);
    };
    let entries = n.entries().ok_or_else(|| {
        Error::config(format!(
            "{}: site '{}': '{key}' must be a mapping of directive names to translations ('--job-name=%s'), found {}",
            cfg.at(n),
            cfg.name,
            n.kind()
        ))
    })?;
    for (k, v) in entries {
        let fmt = match &v.value {
            Value::Null => None,
            Value::Str(f) => Some(f.clone()),
            _ => {
                return Err(Error::config(format!(
                    "{}: site '{}': the translation of '{}' must be a string with %s, or null, found {}",
                    cfg.at(v),
                    cfg.name,
                    k.key_text(),
                    v.kind()
                )))
            }
        };
        out.insert(k.key_text(), fmt);
    }
    Ok(out)
}

/// Applies a format to a value, as 0.2.7 did with Python's `%` on bytes:
/// `%s` and `%b` are the value, `%r` and `%a` its repr (`b'x'`), each with
/// optional flags, width and precision (`%-12s`, `%.3s`, `%10r`); `%%` is a
/// `%`. Any other `%` is written as it is (0.2.7 crashed on those: Q04).
pub fn apply_format(name: &str, fmt: &str, value: &[u8]) -> Vec<u8> {
    let f = fmt.as_bytes();
    let mut out = Vec::with_capacity(f.len() + value.len());
    let mut used = false;
    let mut i = 0;
    while i < f.len() {
        if f[i] == b'%' {
            if f.get(i + 1) == Some(&b'%') {
                out.push(b'%');
                i += 2;
                continue;
            }
            if let Some((spec, next)) = conversion(f, i + 1) {
                let mut piece = match spec.kind {
                    b's' | b'b' => value.to_vec(),
                    _ => crate::util::bytes_repr(value).into_bytes(),
                };
                if let Some(p) = spec.precision {
                    piece.truncate(p);
                }
                let pad = vec![b' '; spec.width.saturating_sub(piece.len())];
                if spec.left {
                    out.extend_from_slice(&piece);
                    out.extend_from_slice(&pad);
                } else {
                    out.extend_from_slice(&pad);
                    out.extend_from_slice(&piece);
                }
                used = true;
                i = next;
                continue;
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

/// A conversion of a format: `%[flags][width][.precision][h|l|L](s|b|r|a)`.
struct Conversion {
    left: bool,
    width: usize,
    precision: Option<usize>,
    kind: u8,
}

/// The widest padding a conversion may ask for: a wider one (`%99999999999s`)
/// is not a conversion but text, rather than gigabytes of blanks.
const MAX_WIDTH: usize = 1 << 16;

/// Reads the conversion starting after a `%` at `i`; returns it and where
/// the text goes on, or `None` when it is not one troika writes.
fn conversion(f: &[u8], mut i: usize) -> Option<(Conversion, usize)> {
    let mut left = false;
    while let Some(&c) = f.get(i).filter(|c| b"-+ #0".contains(c)) {
        left |= c == b'-';
        i += 1;
    }
    // Digits as a number, `usize::MAX` when they do not fit.
    let number = |i: &mut usize| {
        let start = *i;
        while f.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        let digits = std::str::from_utf8(&f[start..*i]).ok()?;
        (!digits.is_empty()).then(|| digits.parse::<usize>().unwrap_or(usize::MAX))
    };
    let width = number(&mut i).unwrap_or(0);
    if width > MAX_WIDTH {
        return None;
    }
    let precision = if f.get(i) == Some(&b'.') {
        i += 1;
        Some(number(&mut i).unwrap_or(0))
    } else {
        None
    };
    if f.get(i).is_some_and(|c| b"hlL".contains(c)) {
        i += 1;
    }
    let kind = *f.get(i).filter(|c| b"sbra".contains(c))?;
    Some((
        Conversion {
            left,
            width,
            precision,
            kind,
        },
        i + 1,
    ))
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
    for (name, value) in directives.iter() {
        check_one_line(name, value)?;
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
                for arg in f(value).context(format_args!("Directive '{name}'"))? {
                    push_line(&mut lines, prefix, &arg);
                }
            }
            Some(Rule::Joint(f, _)) => {
                let joint = Joint {
                    name,
                    value,
                    directives,
                    overrides,
                };
                for arg in f(&joint).context(format_args!("Directive '{name}'"))? {
                    push_line(&mut lines, prefix, &arg);
                }
            }
            Some(Rule::Ignore) => {}
            None => match unknown {
                UnknownPolicy::Fail => return Err(Error::invocation(format!("Unknown directive '{name}'"))),
                UnknownPolicy::Warn => crate::warning!("Unknown directive '{name}'"),
                UnknownPolicy::Ignore => {}
            },
        }
    }
    Ok(lines)
}

/// A directive's value must stay on its line: a line break in it (possible
/// in `-o`, `extra_directives` or a translator's answer, never in a script
/// line or `-D`) would write a line of its own into the job script.
pub fn check_one_line(name: &str, value: &[u8]) -> Result<()> {
    if value.contains(&b'\n') {
        return Err(Error::Script(format!(
            "Directive '{name}' has a line break in its value {}: a value must fit on its directive's line",
            crate::util::quote_bytes(value)
        )));
    }
    Ok(())
}

fn push_line(lines: &mut Vec<Vec<u8>>, prefix: &[u8], arg: &[u8]) {
    let mut l = Vec::with_capacity(prefix.len() + arg.len() + 1);
    l.extend_from_slice(prefix);
    l.extend_from_slice(arg);
    l.push(b'\n');
    lines.push(l);
}

/// Parses a boolean directive value, with a clear error.
/// `flag` when the boolean `value` is true (or empty), nothing when false.
pub fn bool_flag(value: &[u8], flag: &str) -> Result<Vec<Vec<u8>>> {
    Ok(match value.is_empty() || bool_value(value)? {
        true => vec![flag.as_bytes().to_vec()],
        false => vec![],
    })
}

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

/// The lines `table` makes of directives `pairs` under `prefix`, with
/// `overrides`, or the error's text: for the tests of each scheduler's table.
#[cfg(test)]
pub fn lines_of(
    table: &Table,
    prefix: &[u8],
    overrides: &Overrides,
    pairs: &[(&str, &str)],
) -> std::result::Result<Vec<String>, String> {
    let mut d = Directives::new();
    for (k, v) in pairs {
        d.set(k, v.as_bytes().to_vec());
    }
    translate(&d, table, overrides, Some(prefix), UnknownPolicy::Fail)
        .map(|v| {
            v.into_iter()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .collect()
        })
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_python_percent() {
        let v = b"it's x";
        for (fmt, want) in [
            ("--comment=%s", "--comment=it's x"),
            ("%-12s|", "it's x      |"),
            ("%.3s", "it'"),
            ("%8s", "  it's x"),
            ("%-5.2s|", "it   |"),
            ("%b %ls %05s", "it's x it's x it's x"),
            ("%r", "b\"it's x\""),
            ("%10a", " b\"it's x\""),
            ("x%s%%y", "xit's x%y"),
            ("%d and %", "%d and %"),
            // Padding beyond 64 KiB is text; a precision beyond any value keeps it whole.
            ("%99999999999s", "%99999999999s"),
            ("%.99999999999999999999s|", "it's x|"),
        ] {
            assert_eq!(
                String::from_utf8(apply_format("comment", fmt, v)).unwrap(),
                want,
                "{fmt}"
            );
        }
    }

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

    fn pair(j: &Joint) -> Result<Vec<Vec<u8>>> {
        match (j.name, j.get("b")) {
            ("a", Some(b)) => Ok(vec![[j.value, b":", b].concat()]),
            ("a", None) => Ok(vec![j.value.to_vec()]),
            (_, _) if j.get("a").is_some() => Ok(vec![]),
            _ => Ok(vec![[b"1:", j.value].concat()]),
        }
    }

    #[test]
    fn joint_rules_see_the_other_directives() {
        const T: Table = Table::new(&[Entry::joint("a", pair, "a[:b]"), Entry::joint("b", pair, "a[:b]")]);
        let mut d = Directives::new();
        d.set("b", b"4".to_vec());
        d.set("a", b"2".to_vec());
        let mut o = Overrides::new();
        let lines = translate(&d, &T, &o, Some(b"#X "), UnknownPolicy::Fail).unwrap();
        assert_eq!(lines, vec![b"#X 2:4\n".to_vec()]);
        // A directive replaced by the configuration is not seen by the others.
        o.insert("a".into(), Some("-a %s".into()));
        let lines = translate(&d, &T, &o, Some(b"#X "), UnknownPolicy::Fail).unwrap();
        assert_eq!(lines, vec![b"#X 1:4\n".to_vec(), b"#X -a 2\n".to_vec()]);
    }
}
