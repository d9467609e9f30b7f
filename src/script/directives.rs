//! Generic directives: `name -> value` in first-seen order, last value wins.

use std::collections::HashMap;

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
    /// The position in `items` of each name (names are unique there), so
    /// that a script with many directives costs time in proportion to them.
    index: HashMap<String, usize>,
}

impl Directives {
    pub fn new() -> Self {
        Self::default()
    }

    /// The position of the directive called exactly `name`.
    fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Appends a directive whose name is not there yet.
    fn push(&mut self, name: &str, value: Vec<u8>) {
        self.index.insert(name.to_string(), self.items.len());
        self.items.push((name.to_string(), value));
    }

    /// Sets `name` (after alias resolution) to `value`.
    pub fn set(&mut self, name: &str, value: Vec<u8>) {
        let name = canonical(name);
        match self.position(name) {
            Some(i) => self.items[i].1 = value,
            None => self.push(name, value),
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
        if self.position(name).is_none() {
            self.push(name, value);
        }
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.position(canonical(name)).map(|i| self.items[i].1.as_slice())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<u8>> {
        let i = self.index.remove(canonical(name))?;
        let (_, value) = self.items.remove(i);
        // The directives after it move up by one.
        for (n, _) in &self.items[i..] {
            if let Some(p) = self.index.get_mut(n.as_str()) {
                *p -= 1;
            }
        }
        Some(value)
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

    /// Many directives: first-seen order, last value wins, aliases, removal and names added
    /// as written, as with a few (each step reads the index that `set` and `remove` keep).
    #[test]
    fn many_directives_keep_their_semantics() {
        const N: usize = 100_000;
        let mut d = Directives::new();
        for i in 0..N {
            d.set(&format!("n_{i}"), i.to_string().into_bytes());
        }
        d.set("time", b"1".to_vec());
        d.set("job_name", b"a".to_vec());
        for i in (0..N).step_by(2) {
            d.set(&format!("n_{i}"), b"again".to_vec());
        }
        d.set("walltime", b"2".to_vec());
        d.set("name", b"b".to_vec());
        assert_eq!(d.remove("n_10"), Some(b"again".to_vec()));
        assert_eq!(d.remove("n_10"), None);
        assert_eq!(d.remove("job_name"), Some(b"b".to_vec()));
        d.set_default_as_written("time", b"3".to_vec());
        d.set_default_as_written("walltime", b"4".to_vec());
        d.set_default("n_11", b"unused".to_vec());
        d.set_default("n_10", b"back".to_vec());
        d.set("output", b"o".to_vec());

        let mut want: Vec<(String, Vec<u8>)> = (0..N)
            .filter(|&i| i != 10)
            .map(|i| {
                let v = if i % 2 == 0 {
                    b"again".to_vec()
                } else {
                    i.to_string().into_bytes()
                };
                (format!("n_{i}"), v)
            })
            .collect();
        want.push(("walltime".into(), b"2".to_vec()));
        want.push(("time".into(), b"3".to_vec()));
        want.push(("n_10".into(), b"back".to_vec()));
        want.push(("output_file".into(), b"o".to_vec()));
        let got: Vec<_> = d.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
        assert_eq!(got, want);
        assert_eq!(d.len(), want.len());
        for (i, (n, v)) in want.iter().enumerate() {
            if n != "time" {
                assert_eq!(d.get(n), Some(v.as_slice()), "{n} at {i}");
            }
        }
        // `time` is read as `walltime`, even though a directive is called `time` as written.
        assert_eq!(d.get("time"), Some(&b"2"[..]));
        assert_eq!(d.get("error"), None);
        assert_eq!(d.get("n_-1"), None);
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
        for bad in [" name=x", " name = x ", "name=a\nb", "name=x\n\n", "name=x\n "].map(str::as_bytes) {
            assert!(parse_define(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_define(b"name\x0b=\tx\t").unwrap().1, b"x\t");
        assert_eq!(parse_define(b"name=x\r\n").unwrap().1, b"x\r");
        assert_eq!(parse_define(b"name=\nx").unwrap().1, b"x");
    }
}
