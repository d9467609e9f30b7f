//! A YAML value tree that keeps the line and column of every node, read with
//! serde-saphyr (PyYAML-compatible booleans `yes`/`no`/`on`/`off`, duplicate
//! keys rejected). Configuration errors point at the node they are about.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A YAML node and where it was written (1-based line and column; 0 for
/// nodes that were not read from a file).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: Value) -> Self {
        Node { value, line: 0, col: 0 }
    }

    /// Reads a YAML document. An empty document is `Null`.
    pub fn parse(text: &str) -> Result<Node, (String, Option<(u32, u32)>)> {
        if text.trim().is_empty() {
            return Ok(Node {
                value: Value::Null,
                line: 1,
                col: 1,
            });
        }
        match serde_saphyr::from_str::<Spanned<Value>>(text) {
            Ok(s) => Ok(from_spanned(s)),
            Err(e) => {
                let loc = e.location().map(|l| (l.line() as u32, l.column() as u32));
                let full = e.to_string();
                // First line only, without the "error: line L column C: " prefix.
                let first = full.lines().next().unwrap_or("").trim();
                let first = first.strip_prefix("error: ").unwrap_or(first);
                let msg = match first.find(": ") {
                    Some(i) if first.starts_with("line ") => &first[i + 2..],
                    _ => first,
                };
                // The library's advice to its own users is no help in a configuration file.
                let msg = msg.split(", set DuplicateKeyPolicy").next().unwrap_or(msg);
                let msg = if msg.starts_with("duplicate mapping key") {
                    format!("{msg} (each key may appear once in a mapping)")
                } else {
                    msg.to_string()
                };
                Err((msg, loc))
            }
        }
    }

    /// A short description of the node's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The mapping entries, if this is a mapping.
    pub fn entries(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks up a string key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A scalar as text, the way Python's `str()` shows it (`True`, `1.5`).
    /// `None` for null, lists and mappings.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(crate::util::py_float(*f)),
            Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            _ => None,
        }
    }

    /// The text of a scalar used as a mapping key or a name.
    pub fn key_text(&self) -> String {
        self.scalar_text().unwrap_or_else(|| self.kind().to_string())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scalar_text() {
            Some(s) => write!(f, "{s}"),
            None => write!(f, "{}", self.kind()),
        }
    }
}

fn from_spanned(s: Spanned<Value>) -> Node {
    Node {
        value: s.value,
        line: s.referenced.line() as u32,
        col: s.referenced.column() as u32,
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                Value::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(i64::try_from(v).map(Value::Int).unwrap_or(Value::Float(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element::<Spanned<Value>>()? {
                    v.push(from_spanned(x));
                }
                Ok(Value::Seq(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = a.next_key::<Spanned<Value>>()? {
                    let val = a.next_value::<Spanned<Value>>()?;
                    v.push((from_spanned(k), from_spanned(val)));
                }
                Ok(Value::Map(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyyaml_booleans_and_locations() {
        let n = Node::parse("sites:\n  a: {x: yes, w: off, z: 1.5, nil: null}\n").unwrap();
        let a = n.get("sites").unwrap().get("a").unwrap();
        assert_eq!(a.get("x").unwrap().value, Value::Bool(true));
        assert_eq!(a.get("w").unwrap().value, Value::Bool(false));
        assert_eq!(a.get("z").unwrap().scalar_text().unwrap(), "1.5");
        assert!(a.get("nil").unwrap().is_null());
        assert_eq!((a.line, a.col), (2, 6));
    }

    #[test]
    fn syntax_error_has_location() {
        let (msg, loc) = Node::parse("sites:\n  s:\n    type: x\n   c: 1\n").unwrap_err();
        assert!(!msg.is_empty());
        assert_eq!(loc.map(|l| l.0), Some(4));
    }

    #[test]
    fn duplicate_keys_rejected() {
        let (msg, loc) = Node::parse("a: 1\na: 2\n").unwrap_err();
        assert!(
            msg.contains("duplicate") && !msg.contains("DuplicateKeyPolicy"),
            "{msg}"
        );
        assert_eq!(loc, Some((2, 1)));
    }
}
