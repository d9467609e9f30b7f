//! A YAML value tree that keeps the line and column of every node. Configuration errors point
//! at the node they are about.
//!
//! The text is read with granit-parser's event API; plain (unquoted) scalars are then typed
//! here with the YAML 1.1 rules of PyYAML's `safe_load`, which troika 0.2.7 used, so that a
//! value means the same thing to both programs:
//!
//! - booleans: `yes`/`no`, `true`/`false`, `on`/`off` in lower, Capitalised or UPPER case
//!   (`y` and `n` are strings);
//! - null: `~`, `null`, `Null`, `NULL` and nothing at all;
//! - integers: decimal (`1_000`), octal with a leading `0` (`010` is 8; `08` is a string),
//!   `0x`/`0b` (`0o17` is a string) and base 60 (`12:00:00` is 43200; `00:30:00` is a string);
//!   an integer too large for 64 bits is kept as the decimal text Python would print;
//! - floats need a `.`: `1.5`, `.5`, `1.`, `1.5e+3`, base 60 `1:30.5`, `.inf`, `-.Inf`, `.NaN`
//!   (`1e3` and `1.5e3` are strings);
//! - timestamps (`2024-01-02`, `2001-12-14t21:59:43.10-05:00`) are dates, which PyYAML turned
//!   into date objects that 0.2.7 could not use as text: here they are [`Value::Timestamp`], an
//!   error wherever a string or a number is expected.
//!
//! Quoted and block scalars are always strings, and so is anything tagged `!!str`.
//! Keys follow the same rules (a key `1` is the integer 1). Anchors and aliases work, and so do
//! merge keys (`<<: *base`, `<<: [*a, *b]`) with PyYAML's precedence: the mapping's own keys
//! win, then the earlier merged mappings. Unlike PyYAML, a key written twice in the same
//! mapping is an error with its location rather than a silent overwrite.

use granit_parser::{Event, Parser, ScalarStyle, Span, StrInput, Tag};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

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
    /// A YAML 1.1 timestamp (`2024-01-02`), as written. It cannot stand for text.
    Timestamp(String),
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(Node, Node)>),
}

/// A configuration error: its message and, when known, its line and column.
pub type ParseError = (String, Option<(u32, u32)>);

impl Node {
    pub fn new(value: Value) -> Self {
        Node { value, line: 0, col: 0 }
    }

    /// Reads a YAML document. An empty document is `Null`.
    pub fn parse(text: &str) -> Result<Node, ParseError> {
        Builder {
            parser: Parser::new_from_str(text),
            anchors: HashMap::new(),
            budget: ALIAS_BUDGET,
            duplicates: None,
        }
        .document()
    }

    /// Reads a YAML document as [`Node::parse`] does, but a key written twice in a mapping
    /// does not stop the reading: the first entry stays, and each duplicate is returned with
    /// its message and position (for `troika config check`, which reports every problem).
    pub fn parse_all(text: &str) -> Result<(Node, Vec<ParseError>), ParseError> {
        let mut b = Builder {
            parser: Parser::new_from_str(text),
            anchors: HashMap::new(),
            budget: ALIAS_BUDGET,
            duplicates: Some(Vec::new()),
        };
        let node = b.document()?;
        Ok((node, b.duplicates.take().unwrap_or_default()))
    }

    /// A short description of the node's type, for error messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Timestamp(_) => "a date",
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

/// The most nodes that aliases (and the merge keys that use them) may copy in a document: a
/// guard against a few lines of nested aliases that would expand to billions of nodes. Nodes
/// written out in the text are not counted: the size of the text bounds them.
const ALIAS_BUDGET: usize = 1_000_000;

const CORE: &str = "tag:yaml.org,2002:";

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    /// Anchored nodes by the parser's anchor id.
    anchors: HashMap<usize, Node>,
    /// How many more nodes aliases may copy.
    budget: usize,
    /// When kept (see [`Node::parse_all`]), the duplicate keys found: the first entry of a
    /// key stays and reading goes on. Otherwise a duplicate key ends the reading.
    duplicates: Option<Vec<ParseError>>,
}

fn at(span: &Span) -> (u32, u32) {
    (span.start.line() as u32, span.start.col() as u32 + 1)
}

fn node_at(value: Value, span: &Span) -> Node {
    let (line, col) = at(span);
    Node { value, line, col }
}

fn err_at<T>(msg: impl Into<String>, span: &Span) -> Result<T, ParseError> {
    Err((msg.into(), Some(at(span))))
}

/// The node count of a tree: what an alias to it copies.
fn size(n: &Node) -> usize {
    match &n.value {
        Value::Seq(v) => 1 + v.iter().map(size).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
        _ => 1,
    }
}

/// What a tag asks for: `None` for no tag, else the suffix of a core tag (`str`, `int`, ...)
/// or an error for any other tag (as `yaml.safe_load` has no constructor for them).
fn core_tag<'t>(tag: Option<&'t Tag>, span: &Span) -> Result<Option<std::borrow::Cow<'t, str>>, ParseError> {
    let Some(tag) = tag else { return Ok(None) };
    let (handle, suffix) = tag.parts();
    if handle.is_empty() && suffix == "!" {
        // The non-specific tag `!`: the node's type as if it had no tag.
        return Ok(Some("!".into()));
    }
    match tag.suffix_in_namespace(CORE) {
        Some(s) => Ok(Some(s)),
        None => {
            let start = span.tag_start().unwrap_or(span.start);
            Err((
                format!("could not determine a constructor for the tag '{}'", tag.original()),
                Some((start.line() as u32, start.col() as u32 + 1)),
            ))
        }
    }
}

/// PyYAML's key equality, as in a Python dict: `1`, `1.0` and `true` are the same key.
fn same_key(a: &Value, b: &Value) -> bool {
    fn num(v: &Value) -> Option<f64> {
        match v {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A hash of a key that agrees with [`same_key`]: keys that are the same key hash alike.
fn key_hash(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hash_value(v, &mut h);
    h.finish()
}

fn hash_value(v: &Value, h: &mut impl Hasher) {
    match v {
        // Booleans, integers and floats by their value as a float, as `same_key` compares them
        // (`0.0` and `-0.0` alike); inside a list or a mapping they are compared by type too,
        // which this hash does not need to tell apart.
        Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
            let x = match v {
                Value::Bool(b) => f64::from(u8::from(*b)),
                Value::Int(i) => *i as f64,
                Value::Float(f) => *f,
                _ => unreachable!(),
            };
            h.write_u8(0);
            h.write_u64(if x == 0.0 { 0 } else { x.to_bits() });
        }
        Value::Null => h.write_u8(1),
        Value::Str(s) => {
            h.write_u8(2);
            s.hash(h);
        }
        Value::Timestamp(s) => {
            h.write_u8(3);
            s.hash(h);
        }
        Value::Seq(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            items.iter().for_each(|n| hash_node(n, h));
        }
        Value::Map(entries) => {
            h.write_u8(5);
            h.write_usize(entries.len());
            for (k, n) in entries {
                hash_node(k, h);
                hash_node(n, h);
            }
        }
    }
}

/// A node inside a list or mapping key, which equals another only at the same place.
fn hash_node(n: &Node, h: &mut impl Hasher) {
    h.write_u32(n.line);
    h.write_u32(n.col);
    hash_value(&n.value, h);
}

/// The keys of a mapping being built, by [`same_key`], so that each key is found among many
/// in constant time: a chain of the positions of each key hash.
#[derive(Default)]
struct KeyIndex {
    /// The last position of each hash.
    last: HashMap<u64, usize>,
    /// For each position, the previous one with the same hash.
    prev: Vec<Option<usize>>,
}

impl KeyIndex {
    /// The position in `entries` (all indexed) of the key that is the same as `key`.
    fn find(&self, entries: &[(Node, Node)], key: &Value, hash: u64) -> Option<usize> {
        let mut at = self.last.get(&hash).copied();
        while let Some(i) = at {
            if same_key(&entries[i].0.value, key) {
                return Some(i);
            }
            at = self.prev[i];
        }
        None
    }

    /// Records the key of hash `hash` pushed at the end of the entries.
    fn push(&mut self, hash: u64) {
        let pos = self.prev.len();
        self.prev.push(self.last.insert(hash, pos));
    }
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), ParseError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                let m = e.marker();
                let info = e.info();
                let msg = if info.is_empty() { e.to_string() } else { info };
                Err((msg, Some((m.line() as u32, m.col() as u32 + 1))))
            }
            None => Err(("unexpected end of the YAML text".into(), None)),
        }
    }

    fn document(&mut self) -> Result<Node, ParseError> {
        let empty = Node {
            value: Value::Null,
            line: 1,
            col: 1,
        };
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamEnd => return Ok(root.unwrap_or(empty)),
                Event::DocumentStart(..) if root.is_some() => {
                    return err_at(
                        "expected a single document in the stream, but found another document",
                        &span,
                    )
                }
                Event::DocumentStart(..) => {
                    let (ev, span) = self.next()?;
                    root = Some(match ev {
                        Event::DocumentEnd => empty.clone(),
                        ev => {
                            let n = self.node(ev, span)?;
                            match self.next()? {
                                (Event::DocumentEnd, _) => n,
                                (_, span) => return err_at("expected the end of the document", &span),
                            }
                        }
                    });
                }
                _ => {}
            }
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node, ParseError> {
        let (node, anchor) = match ev {
            Event::Alias(id) => {
                let Some(n) = self.anchors.get(&id) else {
                    return err_at("found an alias to an anchor that is not complete here", &span);
                };
                let cost = size(n);
                if cost > self.budget {
                    return err_at(
                        format!(
                            "the document is too large once aliases are expanded (its aliases copy more than {ALIAS_BUDGET} nodes)"
                        ),
                        &span,
                    );
                }
                self.budget -= cost;
                let (line, col) = at(&span);
                return Ok(Node { line, col, ..n.clone() });
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = core_tag(tag.as_deref(), &span)?;
                let value = match tag.as_deref() {
                    // The non-specific tag `!` types even a quoted scalar as a plain one (PyYAML).
                    None | Some("!") if style == ScalarStyle::Plain || tag.is_some() => match resolve_plain(&text) {
                        Ok(Plain::Value(v)) => v,
                        Ok(Plain::Merge) => return err_at(MERGE_AS_VALUE, &span),
                        Ok(Plain::Equals) => Value::Str(text.into_owned()),
                        Err(e) => return err_at(e, &span),
                    },
                    None | Some("str") => Value::Str(text.into_owned()),
                    Some(t) => match resolve_tagged(t, &text) {
                        Some(Ok(v)) => v,
                        Some(Err(e)) => return err_at(e, &span),
                        None => return err_at(format!("cannot read '{text}' as !!{t}"), &span),
                    },
                };
                (node_at(value, &span), anchor)
            }
            Event::SequenceStart(_, anchor, tag) => {
                if let Some(t) = core_tag(tag.as_deref(), &span)? {
                    if t != "seq" && t != "!" {
                        return err_at(format!("a list cannot be tagged !!{t}"), &span);
                    }
                }
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, sp)?);
                }
                (node_at(Value::Seq(items), &span), anchor)
            }
            Event::MappingStart(_, anchor, tag) => {
                if let Some(t) = core_tag(tag.as_deref(), &span)? {
                    if t != "map" && t != "!" {
                        return err_at(format!("a mapping cannot be tagged !!{t}"), &span);
                    }
                }
                let entries = self.mapping()?;
                (node_at(Value::Map(entries), &span), anchor)
            }
            _ => return err_at("unexpected YAML event", &span),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    /// The entries of a mapping, up to its end, in PyYAML's order: merged entries first, then
    /// the mapping's own, which override merged ones and must not repeat among themselves.
    fn mapping(&mut self) -> Result<Vec<(Node, Node)>, ParseError> {
        let mut own: Vec<(Node, Node)> = Vec::new();
        let mut own_keys = KeyIndex::default();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            let is_merge = match &ev {
                Event::Scalar(t, ScalarStyle::Plain, _, None) => t == "<<",
                Event::Scalar(_, _, _, Some(tag)) => tag.suffix_in_namespace(CORE).as_deref() == Some("merge"),
                _ => false,
            };
            if is_merge {
                let (vev, vspan) = self.next()?;
                let value = self.node(vev, vspan)?;
                merged.extend(merge_entries(value, &span)?);
                continue;
            }
            let key = match ev {
                // A plain `=` key is the string "=" (PyYAML's value tag becomes a string there).
                Event::Scalar(t, ScalarStyle::Plain, a, None) if t == "=" => {
                    let n = node_at(Value::Str("=".into()), &span);
                    if a != 0 {
                        self.anchors.insert(a, n.clone());
                    }
                    n
                }
                ev => self.node(ev, span)?,
            };
            let hash = key_hash(&key.value);
            if let Some(first) = own_keys.find(&own, &key.value, hash) {
                let Some(found) = self.duplicates.as_mut() else {
                    return Err((
                        format!(
                            "duplicate mapping key '{}' (each key may appear once in a mapping)",
                            key.key_text()
                        ),
                        Some((key.line, key.col)),
                    ));
                };
                let line = own[first].0.line;
                found.push((
                    format!(
                        "duplicate mapping key '{}' (first written on line {line}; each key may appear once in a mapping: remove one)",
                        key.key_text()
                    ),
                    Some((key.line, key.col)),
                ));
                // The value is read and dropped: the first entry stays.
                let (vev, vspan) = self.next()?;
                self.node(vev, vspan)?;
                continue;
            }
            let (vev, vspan) = self.next()?;
            let value = self.node(vev, vspan)?;
            own_keys.push(hash);
            own.push((key, value));
        }
        if merged.is_empty() {
            return Ok(own);
        }
        // Merged entries in order, the first of a key winning; then the mapping's own entries,
        // which replace a merged value in place or come after.
        let mut out: Vec<(Node, Node)> = Vec::with_capacity(merged.len() + own.len());
        let mut out_keys = KeyIndex::default();
        let merged_len = merged.len();
        for (n, (k, v)) in merged.into_iter().chain(own).enumerate() {
            let hash = key_hash(&k.value);
            match out_keys.find(&out, &k.value, hash) {
                // A merged key already there: the first one wins.
                Some(_) if n < merged_len => {}
                // An own key: its value replaces the merged one.
                Some(i) => out[i].1 = v,
                None => {
                    out_keys.push(hash);
                    out.push((k, v));
                }
            }
        }
        Ok(out)
    }
}

const MERGE_AS_VALUE: &str = "'<<' (a merge key) cannot be used as a value";

/// The entries a `<<` value brings: a mapping's, or those of a list of mappings in order (the
/// first mapping with a key gives its value).
fn merge_entries(value: Node, key: &Span) -> Result<Vec<(Node, Node)>, ParseError> {
    match value.value {
        Value::Map(m) => Ok(m),
        Value::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                match item.value {
                    Value::Map(m) => out.extend(m),
                    _ => {
                        return Err((
                            format!("expected a mapping for merging, but found {}", item.kind()),
                            Some((item.line, item.col)),
                        ))
                    }
                }
            }
            Ok(out)
        }
        _ => err_at(
            format!(
                "expected a mapping or list of mappings for merging, but found {}",
                value.kind()
            ),
            key,
        ),
    }
}

/// A plain scalar after implicit typing.
enum Plain {
    Value(Value),
    /// `<<`: a merge key, which is no value.
    Merge,
    /// `=`: PyYAML's "value" type, a string as a key (elsewhere PyYAML cannot build it; here it
    /// stays the string `=`).
    Equals,
}

/// Types a plain scalar as PyYAML's `safe_load` does. An error for the few texts PyYAML
/// recognises but cannot convert (`0b_`, `0x_`).
fn resolve_plain(s: &str) -> Result<Plain, String> {
    let v = match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Value::Bool(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Value::Bool(false),
        "<<" => return Ok(Plain::Merge),
        "=" => return Ok(Plain::Equals),
        _ => {
            let first = s.as_bytes()[0];
            if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
                Value::Str(s.to_string())
            } else if is_float(s) {
                Value::Float(float_value(s))
            } else if is_int(s) {
                int_value(s)?
            } else if is_timestamp(s) {
                Value::Timestamp(s.to_string())
            } else {
                Value::Str(s.to_string())
            }
        }
    };
    Ok(Plain::Value(v))
}

/// A scalar with an explicit core tag (`!!int "12"`); `None` if the text does not fit it.
fn resolve_tagged(tag: &str, s: &str) -> Option<Result<Value, String>> {
    Some(match tag {
        "int" if is_int(s) => int_value(s),
        "float" if is_float(s) => Ok(Value::Float(float_value(s))),
        "float" => match s.replace('_', "").parse::<f64>() {
            Ok(f) => Ok(Value::Float(f)),
            Err(_) => return None,
        },
        "bool" => match resolve_plain(s) {
            Ok(Plain::Value(v @ Value::Bool(_))) => Ok(v),
            _ => return None,
        },
        "null" => match s {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Value::Null),
            _ => return None,
        },
        "timestamp" if is_timestamp(s) => Ok(Value::Timestamp(s.to_string())),
        _ => return None,
    })
}

fn strip_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'+' | b'-') => (true, &s[1..]),
        _ => (false, s),
    }
}

/// Length of the leading run of bytes that satisfy `f`.
fn run(s: &[u8], f: impl Fn(u8) -> bool) -> usize {
    s.iter().position(|&c| !f(c)).unwrap_or(s.len())
}

fn digit_or_us(c: u8) -> bool {
    c.is_ascii_digit() || c == b'_'
}

/// `(:[0-5]?[0-9])+` at the start of `s`: the length it covers, `None` if there is no such
/// part or a part does not fit (the pattern then cannot match at all).
fn sexagesimal_tail(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < s.len() && s[i] == b':' {
        let n = run(&s[i + 1..], |c| c.is_ascii_digit());
        if n == 1 || (n == 2 && s[i + 1] <= b'5') {
            i += 1 + n;
        } else {
            return None;
        }
    }
    (i > 0).then_some(i)
}

/// `[eE][-+][0-9]+` and nothing after it, or nothing at all.
fn exponent_or_end(s: &[u8]) -> bool {
    s.is_empty()
        || (s.len() >= 3
            && matches!(s[0], b'e' | b'E')
            && matches!(s[1], b'-' | b'+')
            && s[2..].iter().all(|c| c.is_ascii_digit()))
}

/// PyYAML's float pattern.
fn is_float(s: &str) -> bool {
    if matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (signed, body) = strip_sign(s);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let b = body.as_bytes();
    if b.first() == Some(&b'.') {
        // `\.[0-9][0-9_]*(exp)?`, without a sign.
        let rest = &b[1..];
        let n = run(rest, digit_or_us);
        return !signed && rest.first().is_some_and(u8::is_ascii_digit) && exponent_or_end(&rest[n..]);
    }
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    let i = run(b, digit_or_us);
    match b.get(i) {
        Some(b'.') => {
            let j = i + 1 + run(&b[i + 1..], digit_or_us);
            exponent_or_end(&b[j..])
        }
        Some(b':') => {
            let Some(t) = sexagesimal_tail(&b[i..]) else {
                return false;
            };
            let j = i + t;
            b.get(j) == Some(&b'.') && b[j + 1..].iter().all(|&c| digit_or_us(c))
        }
        _ => false,
    }
}

/// PyYAML's int pattern.
fn is_int(s: &str) -> bool {
    let (_, body) = strip_sign(s);
    let b = body.as_bytes();
    if let Some(r) = body.strip_prefix("0b") {
        return !r.is_empty() && r.bytes().all(|c| matches!(c, b'0' | b'1' | b'_'));
    }
    if let Some(r) = body.strip_prefix("0x") {
        return !r.is_empty() && r.bytes().all(|c| c.is_ascii_hexdigit() || c == b'_');
    }
    match b.first() {
        Some(b'0') => b.len() == 1 || b[1..].iter().all(|&c| matches!(c, b'0'..=b'7' | b'_')),
        Some(b'1'..=b'9') => {
            let i = run(b, digit_or_us);
            if i == b.len() {
                return true;
            }
            sexagesimal_tail(&b[i..]).is_some_and(|t| i + t == b.len())
        }
        _ => false,
    }
}

/// PyYAML's timestamp pattern: `YYYY-MM-DD`, or `YYYY-M-D` then `T`, `t` or blanks, the
/// time `H:MM:SS`, an optional fraction and an optional zone (`Z`, `+H`, `-HH:MM`).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, min: usize, max: usize| -> Option<usize> {
        let n = run(b.get(from..)?, |c| c.is_ascii_digit());
        (n >= min).then_some(from + n.min(max))
    };
    let lit = |i: usize, c: u8| -> Option<usize> { (b.get(i) == Some(&c)).then_some(i + 1) };
    let date_only = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if date_only {
        return true;
    }
    let full = || -> Option<()> {
        let i = digits(0, 4, 4)?;
        let i = digits(lit(i, b'-')?, 1, 2)?;
        let i = digits(lit(i, b'-')?, 1, 2)?;
        let i = match b.get(i)? {
            b'T' | b't' => i + 1,
            b' ' | b'\t' => i + run(&b[i..], |c| c == b' ' || c == b'\t'),
            _ => return None,
        };
        let i = digits(i, 1, 2)?;
        let i = digits(lit(i, b':')?, 2, 2)?;
        let mut i = digits(lit(i, b':')?, 2, 2)?;
        if b.get(i) == Some(&b'.') {
            i += 1 + run(&b[i + 1..], |c| c.is_ascii_digit());
        }
        let blanks = run(&b[i..], |c| c == b' ' || c == b'\t');
        i += blanks;
        match b.get(i) {
            None if blanks == 0 => {}
            Some(b'Z') => i += 1,
            Some(b'+' | b'-') => {
                i = digits(i + 1, 1, 2)?;
                if b.get(i) == Some(&b':') {
                    i = digits(i + 1, 2, 2)?;
                }
            }
            _ => return None,
        }
        (i == b.len()).then_some(())
    };
    full().is_some()
}

/// The value of a text that [`is_int`] accepts, as Python's `int`: an `Int`, or the decimal
/// text of a number beyond 64 bits.
fn int_value(s: &str) -> Result<Value, String> {
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, &clean[..]),
    };
    let mut n = Big::default();
    let digits = |n: &mut Big, text: &str, radix: u32| -> Result<(), String> {
        if text.is_empty() {
            return Err(format!("invalid integer '{s}'"));
        }
        for c in text.chars() {
            n.mul_add(
                radix,
                c.to_digit(radix).ok_or_else(|| format!("invalid integer '{s}'"))?,
            );
        }
        Ok(())
    };
    if let Some(r) = body.strip_prefix("0b") {
        digits(&mut n, r, 2)?;
    } else if let Some(r) = body.strip_prefix("0x") {
        digits(&mut n, r, 16)?;
    } else if body.starts_with('0') {
        digits(&mut n, body, 8)?;
    } else {
        let mut parts = body.split(':');
        digits(&mut n, parts.next().unwrap_or(""), 10)?;
        for p in parts {
            let d: u32 = p.parse().map_err(|_| format!("invalid integer '{s}'"))?;
            n.mul_add(60, d);
        }
    }
    Ok(n.into_value(neg))
}

/// The value of a text that [`is_float`] accepts, as Python's `float`.
fn float_value(s: &str) -> f64 {
    let clean: String = s.chars().filter(|&c| c != '_').collect::<String>().to_ascii_lowercase();
    let (sign, body) = match clean.as_bytes().first() {
        Some(b'-') => (-1.0, &clean[1..]),
        Some(b'+') => (1.0, &clean[1..]),
        _ => (1.0, &clean[..]),
    };
    match body {
        ".inf" => sign * f64::INFINITY,
        ".nan" => f64::NAN,
        _ if body.contains(':') => {
            let mut value = 0.0;
            let mut base = 1.0;
            for part in body.rsplit(':') {
                value += part.parse::<f64>().unwrap_or(0.0) * base;
                base *= 60.0;
            }
            sign * value
        }
        _ => sign * body.parse::<f64>().unwrap_or(0.0),
    }
}

/// An unsigned integer of any size, in base 1e9 limbs (least significant first).
#[derive(Default)]
struct Big(Vec<u32>);

impl Big {
    const LIMB: u64 = 1_000_000_000;

    fn mul_add(&mut self, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for l in &mut self.0 {
            let v = u64::from(*l) * u64::from(mul) + carry;
            *l = (v % Self::LIMB) as u32;
            carry = v / Self::LIMB;
        }
        while carry > 0 {
            self.0.push((carry % Self::LIMB) as u32);
            carry /= Self::LIMB;
        }
    }

    fn into_value(self, neg: bool) -> Value {
        if self.0.len() <= 3 {
            let mag = self
                .0
                .iter()
                .rev()
                .fold(0u128, |m, l| m * u128::from(Self::LIMB) + u128::from(*l));
            let v = if neg { -(mag as i128) } else { mag as i128 };
            if let Ok(i) = i64::try_from(v) {
                return Value::Int(i);
            }
        }
        let mut text = String::from(if neg { "-" } else { "" });
        let mut limbs = self.0.iter().rev();
        text.push_str(&limbs.next().map_or(0, |l| *l).to_string());
        for l in limbs {
            text.push_str(&format!("{l:09}"));
        }
        Value::Str(text)
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
    fn duplicate_keys_kept_going_for_a_check() {
        let (node, dups) = Node::parse_all("a: 1\nb: {x: 1, x: 2}\na: 3\nc: 4\n").unwrap();
        assert_eq!(node.get("a").unwrap().value, Value::Int(1), "the first entry stays");
        assert_eq!(node.get("b").unwrap().get("x").unwrap().value, Value::Int(1));
        assert_eq!(node.get("c").unwrap().value, Value::Int(4), "reading went on");
        let at: Vec<Option<(u32, u32)>> = dups.iter().map(|d| d.1).collect();
        assert_eq!(at, [Some((2, 11)), Some((3, 1))]);
        assert!(
            dups[1]
                .0
                .starts_with("duplicate mapping key 'a' (first written on line 1"),
            "{}",
            dups[1].0
        );
    }

    #[test]
    fn duplicate_keys_rejected() {
        let (msg, loc) = Node::parse("a: 1\na: 2\n").unwrap_err();
        assert!(
            msg.contains("duplicate") && !msg.contains("DuplicateKeyPolicy"),
            "{msg}"
        );
        assert_eq!(loc, Some((2, 1)));
        // Keys are compared as values: `010` is the key 8.
        let (msg, loc) = Node::parse("x: {8: a, 010: b}\n").unwrap_err();
        assert!(msg.starts_with("duplicate mapping key '8'"), "{msg}");
        assert_eq!(loc, Some((1, 11)));
    }

    /// The value of `x: TEXT`, typed, and its text as 0.2.7 writes it (Python's `str()`).
    fn typed(text: &str) -> (&'static str, String) {
        let n = Node::parse(&format!("x: {text}\n")).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        let v = n.get("x").unwrap();
        let kind = match &v.value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Timestamp(_) => "date",
            _ => "collection",
        };
        (kind, v.scalar_text().unwrap_or_default())
    }

    fn check(cases: &[(&str, &str, &str)]) {
        for (text, kind, shown) in cases {
            assert_eq!(typed(text), (*kind, shown.to_string()), "{text}");
        }
    }

    #[test]
    fn base_60_integers() {
        check(&[
            ("12:00:00", "int", "43200"),
            ("1:30", "int", "90"),
            ("-1:00", "int", "-60"),
            ("+1:00", "int", "60"),
            ("190:20:30", "int", "685230"),
            ("1:2:3", "int", "3723"),
            ("1_0:30", "int", "630"),
            // A leading zero, a part above 59 or of three digits: text.
            ("00:30:00", "str", "00:30:00"),
            ("01:30:00", "str", "01:30:00"),
            ("0:30", "str", "0:30"),
            ("2:60", "str", "2:60"),
            ("1:300", "str", "1:300"),
        ]);
    }

    #[test]
    fn integers_in_other_bases() {
        check(&[
            ("010", "int", "8"),
            ("007", "int", "7"),
            ("0_7", "int", "7"),
            ("00", "int", "0"),
            ("08", "str", "08"),
            ("0o17", "str", "0o17"),
            ("0x1F", "int", "31"),
            ("-0x10", "int", "-16"),
            ("+0x10", "int", "16"),
            ("0x_1", "int", "1"),
            ("0b101", "int", "5"),
            ("-0b11", "int", "-3"),
            ("0b2", "str", "0b2"),
            ("0", "int", "0"),
            ("-0", "int", "0"),
            ("+12", "int", "12"),
            ("1_000", "int", "1000"),
            ("1,000", "str", "1,000"),
            ("_1", "str", "_1"),
            ("123abc", "str", "123abc"),
        ]);
    }

    #[test]
    fn integers_beyond_64_bits_keep_their_decimal_text() {
        check(&[
            ("9223372036854775807", "int", "9223372036854775807"),
            ("-9223372036854775808", "int", "-9223372036854775808"),
            ("9223372036854775808", "str", "9223372036854775808"),
            ("-99999999999999999999999", "str", "-99999999999999999999999"),
            ("0xFFFFFFFFFFFFFFFFFFFF", "str", "1208925819614629174706175"),
        ]);
    }

    #[test]
    fn integers_python_cannot_convert_are_errors() {
        for text in ["0b_", "0x_", "-0b__"] {
            let (msg, loc) = Node::parse(&format!("x: {text}\n")).unwrap_err();
            assert!(msg.contains("invalid integer"), "{text}: {msg}");
            assert_eq!(loc, Some((1, 4)));
        }
    }

    #[test]
    fn floats_need_a_dot() {
        check(&[
            ("1.5", "float", "1.5"),
            ("1.50", "float", "1.5"),
            (".5", "float", "0.5"),
            ("1.", "float", "1.0"),
            ("3.0", "float", "3.0"),
            ("0.10", "float", "0.1"),
            ("1_000.5", "float", "1000.5"),
            ("+1.5", "float", "1.5"),
            ("1.5e+3", "float", "1500.0"),
            ("1.5E-3", "float", "0.0015"),
            ("1.e+3", "float", "1000.0"),
            ("1:30.5", "float", "90.5"),
            ("0:30.5", "float", "30.5"),
            ("-1:30.5", "float", "-90.5"),
            ("1:30.", "float", "90.0"),
            (".inf", "float", "inf"),
            ("-.Inf", "float", "-inf"),
            ("+.INF", "float", "inf"),
            (".NaN", "float", "nan"),
            (".nan", "float", "nan"),
            // No dot, an exponent without a sign, a sign before a bare fraction: text.
            ("1e3", "str", "1e3"),
            ("1.5e3", "str", "1.5e3"),
            ("-.5", "str", "-.5"),
            ("+.5", "str", "+.5"),
            ("-.nan", "str", "-.nan"),
            (".Nan", "str", ".Nan"),
            ("inf", "str", "inf"),
            ("._", "str", "._"),
            ("1:60.5", "str", "1:60.5"),
            ("1.2.3", "str", "1.2.3"),
            ("0.0.0.0", "str", "0.0.0.0"),
        ]);
    }

    #[test]
    fn booleans_and_null() {
        for t in ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"] {
            assert_eq!(typed(t), ("bool", "True".to_string()), "{t}");
        }
        for t in ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"] {
            assert_eq!(typed(t), ("bool", "False".to_string()), "{t}");
        }
        for t in ["y", "Y", "n", "N", "yEs", "oN"] {
            assert_eq!(typed(t), ("str", t.to_string()), "{t}");
        }
        for t in ["~", "null", "Null", "NULL", ""] {
            assert_eq!(typed(t).0, "null", "{t}");
        }
        assert_eq!(typed("nULL").0, "str");
    }

    #[test]
    fn timestamps_are_dates_not_text() {
        for t in [
            "2024-01-02",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14T21:59:43Z",
            "2024-1-2 3:04:05",
        ] {
            let n = Node::parse(&format!("x: {t}\n")).unwrap();
            let v = n.get("x").unwrap();
            assert_eq!(v.value, Value::Timestamp(t.to_string()));
            assert_eq!((v.kind(), v.scalar_text()), ("a date", None));
        }
        for t in ["2024-1-2", "20024-01-02", "2024-01-02x", "2024-01-02 10:00"] {
            assert_eq!(typed(t), ("str", t.to_string()), "{t}");
        }
    }

    #[test]
    fn quoted_and_block_scalars_are_strings() {
        check(&[
            ("'12:00:00'", "str", "12:00:00"),
            ("\"010\"", "str", "010"),
            ("'yes'", "str", "yes"),
            ("'~'", "str", "~"),
            ("''", "str", ""),
            ("!!str 1.5", "str", "1.5"),
            ("|\n  12", "str", "12\n"),
            (">\n  yes", "str", "yes\n"),
        ]);
    }

    #[test]
    fn explicit_tags() {
        check(&[
            ("!!int \"12\"", "int", "12"),
            ("!!float 1", "float", "1.0"),
            ("!!bool yes", "bool", "True"),
            // The non-specific tag types even a quoted scalar as a plain one.
            ("! '12'", "int", "12"),
        ]);
        let (msg, loc) = Node::parse("a: !foo x\n").unwrap_err();
        assert_eq!(msg, "could not determine a constructor for the tag '!foo'");
        assert_eq!(loc, Some((1, 4)));
        assert!(Node::parse("a: !!int 1.5\n").unwrap_err().0.contains("!!int"));
    }

    #[test]
    fn keys_are_typed_too() {
        let n = Node::parse("1: a\n1.5: b\n~: c\n010: d\n'2': e\nno: f\n").unwrap();
        let keys: Vec<_> = n.entries().unwrap().iter().map(|(k, _)| k.value.clone()).collect();
        assert_eq!(
            keys,
            [
                Value::Int(1),
                Value::Float(1.5),
                Value::Null,
                Value::Int(8),
                Value::Str("2".into()),
                Value::Bool(false)
            ]
        );
        assert_eq!(n.get("2").unwrap().as_str(), Some("e"));
        assert!(n.get("1").is_none());
    }

    /// A mapping as `key=value` texts, in order.
    fn pairs(n: &Node) -> Vec<String> {
        n.entries()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{}={}", k.key_text(), v))
            .collect()
    }

    #[test]
    fn anchors_and_merge_keys_as_pyyaml() {
        let n = Node::parse("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  b: 3\n  c: 4\nv: &v 010\nw: *v\n").unwrap();
        assert_eq!(pairs(n.get("x").unwrap()), ["a=1", "b=3", "c=4"]);
        assert_eq!(n.get("w").unwrap().value, Value::Int(8));
        // The alias is where it is used.
        assert_eq!((n.get("w").unwrap().line, n.get("w").unwrap().col), (7, 4));
        // A list of mappings: the first with a key gives its value; own keys come last unless merged.
        let n = Node::parse("x:\n  z: 0\n  a: 0\n  <<: [{k: 1, x: 1}, {y: 2, k: 2, a: 2}]\n").unwrap();
        assert_eq!(pairs(n.get("x").unwrap()), ["k=1", "x=1", "y=2", "a=0", "z=0"]);
        // Two merge keys: in order, the first wins.
        let n = Node::parse("x:\n  <<: {k: 1, a: 1}\n  <<: {j: 2, k: 2}\n").unwrap();
        assert_eq!(pairs(n.get("x").unwrap()), ["k=1", "a=1", "j=2"]);
        // Merges inside merged mappings are already applied.
        let n = Node::parse("m: &m\n  <<: {k: 1}\n  j: 2\nx:\n  <<: *m\n").unwrap();
        assert_eq!(pairs(n.get("x").unwrap()), ["k=1", "j=2"]);
        // A quoted '<<' is an ordinary key.
        let n = Node::parse("'<<': 1\n").unwrap();
        assert_eq!(pairs(&n), ["<<=1"]);
        let (msg, loc) = Node::parse("x:\n  <<: 5\n").unwrap_err();
        assert!(msg.contains("for merging"), "{msg}");
        assert_eq!(loc, Some((2, 3)));
        assert!(Node::parse("x: <<\n").is_err());
    }

    #[test]
    fn documents() {
        assert!(Node::parse("").unwrap().is_null());
        assert!(Node::parse("# only a comment\n").unwrap().is_null());
        assert!(Node::parse("---\n...\n").unwrap().is_null());
        let (msg, loc) = Node::parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(msg.contains("single document"), "{msg}");
        assert_eq!(loc, Some((2, 1)));
    }

    /// A mapping of `n` site-like entries (six nodes each), keys `k0`, `k1`, ...
    fn many_keys(n: usize) -> String {
        (0..n)
            .map(|i| format!("k{i}: {{type: slurm, connection: local}}\n"))
            .collect()
    }

    /// A large configuration is not mistaken for an alias bomb: only the nodes that aliases
    /// copy count against the budget. 300,000 entries of six nodes are 1.8 million nodes.
    #[test]
    fn large_plain_mappings_are_accepted() {
        let text = many_keys(300_000);
        let started = std::time::Instant::now();
        let n = Node::parse(&text).unwrap();
        let elapsed = started.elapsed();
        let entries = n.entries().unwrap();
        assert_eq!(entries.len(), 300_000);
        assert_eq!(entries[299_999].0.as_str(), Some("k299999"));
        assert_eq!((entries[299_999].0.line, entries[299_999].0.col), (300_000, 1));
        assert_eq!(
            n.get("k123456").unwrap().get("connection").unwrap().as_str(),
            Some("local")
        );
        // A guard against a return of a cost that grows with the square of the keys (about
        // 100 s here then; well under a second now), generous so as not to fail on a busy
        // machine. Not checked in debug builds, which are much slower.
        if !cfg!(debug_assertions) {
            assert!(elapsed.as_secs() < 60, "parsing took {elapsed:?}");
        }
    }

    #[test]
    fn duplicate_keys_found_among_many() {
        let mut text = many_keys(100_000);
        text.push_str("k50000: {}\n");
        let (msg, loc) = Node::parse(&text).unwrap_err();
        assert!(msg.starts_with("duplicate mapping key 'k50000'"), "{msg}");
        assert_eq!(loc, Some((100_001, 1)));
        // PyYAML's key equality among many keys: `1.0` and `true` are the key 1, `0.0` and
        // `-0.0` and `false` the key 0.
        let ints: String = (0..100_000).map(|i| format!("{i}: x\n")).collect();
        for (dup, shown) in [
            ("1.0", "1.0"),
            ("true", "True"),
            ("-0.0", "-0.0"),
            ("no", "False"),
            ("0x10", "16"),
        ] {
            let (msg, loc) = Node::parse(&format!("{ints}{dup}: y\n")).unwrap_err();
            assert!(
                msg.starts_with(&format!("duplicate mapping key '{shown}'")),
                "{dup}: {msg}"
            );
            assert_eq!(loc, Some((100_001, 1)), "{dup}");
        }
        for other in ["'1'", "1.5", "-1", ".nan", "~", "[1]", "{1: 1}", "2024-01-02"] {
            let n = Node::parse(&format!("{ints}{other}: y\n")).unwrap_or_else(|e| panic!("{other}: {e:?}"));
            assert_eq!(n.entries().unwrap().len(), 100_001, "{other}");
        }
        // Lists and mappings as keys are the same key when they are the same node (an alias).
        let (msg, loc) =
            Node::parse("a: &a [1, 2]\nm:\n  ? *a\n  : 1\n  ? [1, 2]\n  : 2\n  ? *a\n  : 3\n").unwrap_err();
        assert!(msg.starts_with("duplicate mapping key"), "{msg}");
        assert_eq!(loc, Some((7, 5)));
    }

    #[test]
    fn merge_keys_with_many_keys() {
        let mut text = String::from("base: &b {k1: merged, x: merged, 7: merged}\nm:\n  <<: *b\n");
        text.extend((0..100_000).map(|i| format!("  k{i}: own\n")));
        text.push_str("  7.0: own\n");
        let n = Node::parse(&text).unwrap();
        let m = pairs(n.get("m").unwrap());
        assert_eq!(m.len(), 100_002);
        // Merged keys first, in their order, an own key replacing a merged value in place;
        // then the other own keys in order.
        assert_eq!(m[..4], ["k1=own", "x=merged", "7=own", "k0=own"]);
        assert_eq!(m[4], "k2=own");
        assert_eq!(m[100_001], "k99999=own");
    }

    #[test]
    fn aliases_within_the_budget() {
        // 1,000 aliases of a list of 100 items copy 101,000 nodes: accepted.
        let items = vec!["x"; 100].join(", ");
        let mut text = format!("a: &a [{items}]\nb:\n");
        text.extend((0..1000).map(|_| "  - *a\n"));
        let n = Node::parse(&text).unwrap();
        assert!(matches!(&n.get("b").unwrap().value, Value::Seq(v) if v.len() == 1000));
        // 10,000 of them copy 1,010,000: refused at the alias that goes over, with the reason.
        text.extend((0..9000).map(|_| "  - *a\n"));
        let (msg, loc) = Node::parse(&text).unwrap_err();
        assert_eq!(
            msg,
            "the document is too large once aliases are expanded (its aliases copy more than 1000000 nodes)"
        );
        // 9,900 aliases of 101 nodes fit: the next one is on line 2 + 9,901.
        assert_eq!(loc, Some((9_903, 5)));
    }

    #[test]
    fn alias_bombs_are_stopped() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (msg, _) = Node::parse(&text).unwrap_err();
        assert!(msg.contains("too large"), "{msg}");
    }
}
