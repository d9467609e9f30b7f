//! Generic directives: `name -> value` in first-seen order, last value wins.

use crate::error::{Error, Result};

/// Alternative names accepted for some directives.
pub const ALIASES: &[(&str, &str)] = &[
    ("error", "error_file"),
    ("job_name", "name"),
    ("output", "output_file"),
    ("time", "walltime"),
];

/// The canonical name of a directive (`time` -> `walltime`).
pub fn canonical(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, c)| *c)
        .unwrap_or(name)
}

/// Whether `name` is a valid directive name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        None => false,
    }
}

/// Ordered directives. Setting an existing name replaces its value and keeps
/// its position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Directives {
    items: Vec<(String, Vec<u8>)>,
}

impl Directives {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (after alias resolution) to `value`.
    pub fn set(&mut self, name: &str, value: Vec<u8>) {
        let name = canonical(name);
        match self.items.iter_mut().find(|(n, _)| n == name) {
            Some(item) => item.1 = value,
            None => self.items.push((name.to_string(), value)),
        }
    }

    /// Sets `name` only if it has no value yet.
    pub fn set_default(&mut self, name: &str, value: Vec<u8>) {
        if !self.contains(name) {
            self.set(name, value);
        }
    }

    /// Sets `name` as written, without alias resolution, only if no
    /// directive has exactly that name: how `extra_directives` adds its keys
    /// (as in 0.2.7, `time` there is not `walltime` but an unknown directive).
    pub fn set_default_as_written(&mut self, name: &str, value: Vec<u8>) {
        if !self.items.iter().any(|(n, _)| n == name) {
            self.items.push((name.to_string(), value));
        }
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let name = canonical(name);
        self.items.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<u8>> {
        let name = canonical(name);
        let i = self.items.iter().position(|(n, _)| n == name)?;
        Some(self.items.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.items.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Whether `c` is a blank as 0.2.7 read them (space, tab, CR, LF, FF, VT).
fn is_blank(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0x0b
}

/// Parses a `-D NAME=VALUE` definition as 0.2.7 did: the name first (no
/// blank before it), blanks around `=` removed, the value kept as it is
/// (trailing blanks included) but for one final newline; a newline inside the
/// value is invalid.
pub fn parse_define(def: &[u8]) -> Result<(String, Vec<u8>)> {
    let invalid = || {
        Error::invocation(format!(
            "Invalid key-value pair: {} (expected -D NAME=VALUE, NAME made of letters, digits and '_')",
            crate::util::bytes_repr(def)
        ))
    };
    let eq = def.iter().position(|&c| c == b'=').ok_or_else(invalid)?;
    let key_end = def[..eq].iter().rposition(|&c| !is_blank(c)).map_or(0, |i| i + 1);
    let key = &def[..key_end];
    if !valid_name(key) {
        return Err(invalid());
    }
    let value = &def[eq + 1..];
    let value = &value[value.iter().position(|&c| !is_blank(c)).unwrap_or(value.len())..];
    let value = value.strip_suffix(b"\n").unwrap_or(value);
    if value.contains(&b'\n') {
        return Err(invalid());
    }
    Ok((String::from_utf8_lossy(key).into_owned(), value.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_first_position() {
        let mut d = Directives::new();
        d.set("name", b"a".to_vec());
        d.set("walltime", b"1".to_vec());
        d.set("job_name", b"b".to_vec());
        let v: Vec<_> = d.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
        assert_eq!(
            v,
            vec![("name".into(), b"b".to_vec()), ("walltime".into(), b"1".to_vec())]
        );
    }

    #[test]
    fn defaults_as_written_skip_aliases() {
        let mut d = Directives::new();
        d.set("time", b"1".to_vec());
        d.set_default_as_written("time", b"2".to_vec());
        d.set_default_as_written("walltime", b"3".to_vec());
        d.set_default_as_written("queue", b"q".to_vec());
        let v: Vec<_> = d.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
        assert_eq!(
            v,
            vec![
                ("walltime".into(), b"1".to_vec()),
                ("time".into(), b"2".to_vec()),
                ("queue".into(), b"q".to_vec())
            ]
        );
    }

    #[test]
    fn defines() {
        assert_eq!(parse_define(b"queue = q1 ").unwrap(), ("queue".into(), b"q1 ".to_vec()));
        assert_eq!(
            parse_define(b"export_vars=A=1,B").unwrap(),
            ("export_vars".into(), b"A=1,B".to_vec())
        );
        assert_eq!(parse_define(b"name=").unwrap(), ("name".into(), vec![]));
        assert!(parse_define(b"novalue")
            .unwrap_err()
            .to_string()
            .contains("Invalid key-value pair: b'novalue'"));
        assert!(parse_define(b"1x=2").is_err());
        for bad in [
            &b" name=x"[..],
            b" name = x ",
            b"name=a\nb",
            b"name=x\n\n",
            b"name=x\n ",
        ] {
            assert!(parse_define(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_define(b"name\x0b=\tx\t").unwrap().1, b"x\t");
        assert_eq!(parse_define(b"name=x\r\n").unwrap().1, b"x\r");
        assert_eq!(parse_define(b"name=\nx").unwrap().1, b"x");
    }
}
