//! External translators: a program, listed in a site's `translators` as
//! `{command: [path, args...]}`, that reads the directives as a JSON object
//! on its standard input and writes the updated directives the same way on
//! its standard output.
//!
//! The object maps directive names to string values, in the directives'
//! order. Values are bytes in troika; a value that is not valid UTF-8 is
//! carried losslessly the way Python's `surrogateescape` does: each byte that
//! is not part of valid UTF-8 is written as the escape `\udcXX` (XX its hex
//! value, 80 to ff). The same escapes in the program's output turn back into
//! those bytes (Python: `value.encode("utf-8", "surrogateescape")`); any
//! other lone surrogate is an error.

use std::time::Duration;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::Translator;
use crate::connection::{Command, Input};
use crate::error::{Error, Result};
use crate::script::directives::{valid_name, Directives};

/// How long an external translator may run by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A translator program, run on this machine.
pub struct ExternalTranslator {
    pub argv: Vec<String>,
    pub timeout: Duration,
}

impl Translator for ExternalTranslator {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        let cmd = Command::new(&self.argv)
            .stdin(Input::Bytes(encode(d)))
            .timeout(Some(self.timeout));
        // Translators only compute directives: they run in dry-run mode too.
        let out = crate::connection::local::run(&cmd, None).map_err(|e| match e {
            // The only uncertain outcome of a local command: its time ran out.
            Error::Transient(..) => Error::run(format!(
                "did not finish within {} s and was killed (raise the 'timeout' of its entry if it needs longer)",
                self.timeout.as_secs_f64()
            )),
            other => other,
        })?;
        if !out.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            return Err(Error::run(if stderr.is_empty() {
                format!("failed with {}", out.describe())
            } else {
                format!("failed with {}: {stderr}", out.describe())
            }));
        }
        if !out.stderr.is_empty() {
            crate::debug!(
                "Translator stderr:\n{}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        *d = decode(&out.stdout).map_err(|m| Error::Script(format!("wrote invalid output: {m}")))?;
        Ok(())
    }
}

/// The directives as a JSON object, one line, ending with a newline.
pub fn encode(d: &Directives) -> Vec<u8> {
    let mut out = String::from("{");
    for (i, (name, value)) in d.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        encode_str(&mut out, name.as_bytes());
        out.push(':');
        encode_str(&mut out, value);
    }
    out.push_str("}\n");
    out.into_bytes()
}

fn encode_str(out: &mut String, bytes: &[u8]) {
    use std::fmt::Write;
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\udc{b:02x}");
        }
    }
    out.push('"');
}

/// Reads the output of a translator: a JSON object of directive names to
/// strings. Later duplicates replace earlier ones, as `-D` does.
pub fn decode(bytes: &[u8]) -> std::result::Result<Directives, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("nothing on standard output (expected a JSON object of directive names to strings)".into());
    }
    let Output(items) = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut d = Directives::new();
    for (name, value) in items {
        if !valid_name(name.as_bytes()) {
            return Err(format!(
                "invalid directive name {} (expected letters, digits and '_', not starting with a digit)",
                crate::util::quote(&name)
            ));
        }
        let value = unescape_bytes(value).map_err(|m| format!("directive '{name}': {m}"))?;
        d.set(&name, value);
    }
    Ok(d)
}

/// serde_json gives string contents as bytes with lone surrogates encoded as
/// in UTF-8 (WTF-8: `ED A0..BF 80..BF`), which never occurs in valid UTF-8.
/// `\udc80`..`\udcff` become the bytes 80..ff; other lone surrogates are
/// errors.
fn unescape_bytes(v: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    if !v.contains(&0xED) {
        return Ok(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == 0xED && i + 2 < v.len() && (0xA0..=0xBF).contains(&v[i + 1]) && (0x80..=0xBF).contains(&v[i + 2]) {
            let cp = 0xD000 | (u32::from(v[i + 1] & 0x3F) << 6) | u32::from(v[i + 2] & 0x3F);
            if !(0xDC80..=0xDCFF).contains(&cp) {
                return Err(format!(
                    "lone surrogate \\u{cp:04x} (only \\udc80 to \\udcff, standing for bytes that are not UTF-8, are allowed)"
                ));
            }
            out.push((cp - 0xDC00) as u8);
            i += 3;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    Ok(out)
}

struct Output(Vec<(String, Vec<u8>)>);

impl<'de> Deserialize<'de> for Output {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Output;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of directive names to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<Output, A::Error> {
                let mut items = Vec::new();
                while let Some(k) = a.next_key::<String>()? {
                    let v = a.next_value_seed(Value { name: &k })?;
                    items.push((k, v));
                }
                Ok(Output(items))
            }
        }
        d.deserialize_map(V)
    }
}

/// A string value, as bytes (so that escaped non-UTF-8 bytes survive).
struct Value<'a> {
    name: &'a str,
}

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = Vec<u8>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Vec<u8>, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a string for directive '{}'", self.name)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> std::result::Result<Vec<u8>, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Vec<u8>, E> {
        Ok(v.as_bytes().to_vec())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> std::result::Result<Vec<u8>, A::Error> {
        Err(de::Error::invalid_type(de::Unexpected::Seq, &self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(items: &[(&str, &[u8])]) -> Directives {
        let mut d = Directives::new();
        for (k, v) in items {
            d.set(k, v.to_vec());
        }
        d
    }

    #[test]
    fn encoding_keeps_order_and_escapes() {
        let d = dirs(&[
            ("walltime", b"01:00:00"),
            ("name", b"a \"quoted\" \\ name\twith\ncontrols\x01"),
            ("queue", b"caf\xc3\xa9"),
        ]);
        assert_eq!(
            String::from_utf8(encode(&d)).unwrap(),
            "{\"walltime\":\"01:00:00\",\"name\":\"a \\\"quoted\\\" \\\\ name\\twith\\ncontrols\\u0001\",\"queue\":\"caf\u{e9}\"}\n"
        );
        assert_eq!(encode(&Directives::new()), b"{}\n");
    }

    #[test]
    fn non_utf8_bytes_round_trip() {
        let d = dirs(&[("name", b"a\xff\xfeb\xc3"), ("queue", b"\xed\xa0\x80")]);
        let json = String::from_utf8(encode(&d)).unwrap();
        assert_eq!(
            json,
            "{\"name\":\"a\\udcff\\udcfeb\\udcc3\",\"queue\":\"\\udced\\udca0\\udc80\"}\n"
        );
        assert_eq!(decode(json.as_bytes()).unwrap(), d);
        // Every byte value survives.
        let all: Vec<u8> = (0..=255u8).collect();
        let d = dirs(&[("x", &all)]);
        assert_eq!(decode(&encode(&d)).unwrap(), d);
    }

    #[test]
    fn decoding() {
        let d = decode(br#" {"b": "2", "a": "1", "time": "5", "b": "3"} "#).unwrap();
        let items: Vec<_> = d.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
        assert_eq!(
            items,
            vec![
                ("b".to_string(), b"3".to_vec()),
                ("a".to_string(), b"1".to_vec()),
                ("walltime".to_string(), b"5".to_vec()),
            ]
        );
        assert!(decode(b"{}").unwrap().is_empty());
        assert_eq!(
            decode(br#"{"n": "\u00e9\ud83d\ude00"}"#).unwrap().get("n"),
            Some("é😀".as_bytes())
        );
    }

    #[test]
    fn decoding_errors() {
        let e = |b: &[u8]| decode(b).unwrap_err();
        assert!(e(b"").contains("nothing on standard output"));
        assert!(e(b" \n").contains("nothing on standard output"));
        assert!(
            e(b"oops").contains("expected value at line 1 column 1"),
            "{}",
            e(b"oops")
        );
        assert!(e(b"not json").contains("line 1 column 2"));
        assert!(e(b"[1]").contains("expected a JSON object of directive names to strings"));
        assert!(e(b"\"x\"").contains("expected a JSON object"));
        let m = e(br#"{"walltime": 5}"#);
        assert!(
            m.contains("invalid type: integer `5`, expected a string for directive 'walltime'"),
            "{m}"
        );
        assert!(e(br#"{"a": null}"#).contains("expected a string for directive 'a'"));
        assert!(e(br#"{"a": ["x"]}"#).contains("expected a string for directive 'a'"));
        assert!(e(br#"{"a": {"b": "c"}}"#).contains("expected a string for directive 'a'"));
        assert!(e(br#"{"a": true}"#).contains("expected a string for directive 'a'"));
        assert!(e(br#"{"a": "1"} trailing"#).contains("trailing characters"));
        assert!(e(br#"{"a": "1""#).contains("EOF while parsing"));
        assert!(e(br#"{"bad-name": "1"}"#).contains("invalid directive name 'bad-name'"));
        assert!(e(br#"{"": "1"}"#).contains("invalid directive name ''"));
        let m = e(br#"{"a": "\ud800"}"#);
        assert!(m.contains("directive 'a': lone surrogate \\ud800"), "{m}");
        assert!(e(br#"{"a": "\udc41"}"#).contains("lone surrogate \\udc41"));
    }
}
