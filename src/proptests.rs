//! Property tests of the parsers that read untrusted input: job scripts
//! (`# troika` and native directives), `-D NAME=VALUE` definitions, directive
//! formats and their translation, the YAML configuration, walltimes, memory
//! sizes and signals.
//!
//! Each property runs on arbitrary bytes or text (nothing may panic) and on
//! generated near-valid input (the result must be the documented one). The
//! normal test run tries a few hundred cases per property; a longer run is
//! `PROPTEST_CASES=5000 cargo test --release --lib proptests` (the number of
//! cases of every property scales with `PROPTEST_CASES`).
//!
//! A failing case is shrunk to a minimal one and saved under
//! `proptest-regressions/`, which is committed so that the case is tried
//! first on every later run.

use std::io::BufReader;

use proptest::collection::vec;
use proptest::prelude::*;

use crate::config::{Node, SiteConfig, Value};
use crate::error::Error;
use crate::script::directives::{canonical, parse_define, valid_name, Directives};
use crate::script::parse::{scan, NativeSyntax, Scan};
use crate::script::translate::{apply_format, translate, Overrides, Table, UnknownPolicy};
use crate::site::units::{is_fsd_with_unit, parse_memory, parse_walltime, table_memory, walltime_seconds, Style};

/// The default configuration (which reads `PROPTEST_CASES`) with `1/div` of
/// its cases, for the slower properties.
fn cases_div(div: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: (base.cases / div).max(1),
        ..base
    }
}

/// Keeps the warnings that odd formats and values cause (`has no '%s'`) off
/// the test output: only critical records go to stderr from then on.
fn quiet() {
    crate::log::set_verbosity(0, 2);
}

/// Joins tokens picked from `tokens` and arbitrary bytes: input close enough
/// to the grammar to reach its corners.
fn token_soup(tokens: &'static [&'static [u8]], max: usize) -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        4 => proptest::sample::select(tokens).prop_map(<[u8]>::to_vec),
        1 => vec(any::<u8>(), 1..4),
    ];
    vec(token, 0..max).prop_map(|t| t.concat())
}

/// Arbitrary bytes, or a soup of `tokens`.
fn hostile(tokens: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..400), token_soup(tokens, 80)]
}

// ---------------------------------------------------------------- scripts

const SCRIPT_TOKENS: &[&[u8]] = &[
    b"#",
    b"#",
    b"# ",
    b"#!",
    b"troika",
    b"TROIKA",
    b"TrOiKa",
    b" ",
    b" ",
    b"\t",
    b"\x0b",
    b"\x0c",
    b"\r",
    b"\n",
    b"\n",
    b"\r\n",
    b"\0",
    b"=",
    b"==",
    b"name",
    b"_x1",
    b"1a",
    b"time",
    b"job_name",
    b"SBATCH",
    b"PBS",
    b"$",
    b"BSUB",
    b"flux:",
    b"-o",
    b"--output",
    b"-N",
    b"--qos=a",
    b"=x",
    b"\xff",
    b"\xe9",
    b"\xc3\xa9",
    b"/bin/sh",
    b"echo hi",
];

const BLANKS: &[u8] = b" \t\x0b\x0c\r";

fn syntaxes() -> Vec<Option<&'static NativeSyntax>> {
    use crate::site::{flux, lsf, pbs, sge, slurm, torque};
    // Templated sites take any one-word prefix, even odd ones.
    let odd: Vec<Option<&'static NativeSyntax>> = ["troika", "#", "=", "!", "X:", "\u{e9}"]
        .iter()
        .map(|p| {
            Some(&*Box::leak(Box::new(NativeSyntax {
                prefix: p,
                drop: &["-o", "=x"],
                command: "qsub",
                option_name_required: false,
            })))
        })
        .collect();
    [
        None,
        Some(&slurm::NATIVE),
        Some(&pbs::NATIVE),
        Some(&torque::NATIVE),
        Some(&sge::NATIVE),
        Some(&lsf::NATIVE),
        Some(&flux::NATIVE),
    ]
    .into_iter()
    .chain(odd)
    .collect()
}

fn syntax() -> impl Strategy<Value = Option<&'static NativeSyntax>> {
    proptest::sample::select(syntaxes())
}

/// Line ranges `[start, end)`, each with its newline.
fn line_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in b.iter().enumerate() {
        if *c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

fn is_blank(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0x0b
}

fn scan_of(input: &[u8], native: Option<&NativeSyntax>) -> crate::error::Result<Scan> {
    scan(input, native, "job.sh")
}

/// What scanning `input` alone removes.
fn removed_alone(input: &[u8], native: Option<&NativeSyntax>) -> Vec<(u64, u64)> {
    scan_of(input, native).map(|s| s.removed).unwrap_or_default()
}

/// The invariants of any scan.
fn check_scan(input: &[u8], native: Option<&'static NativeSyntax>) -> Result<(), TestCaseError> {
    let s = match scan_of(input, native) {
        Ok(s) => s,
        Err(Error::Script(m)) => {
            prop_assert!(m.contains("line "), "{m}");
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("unexpected error kind: {e:?}"))),
    };
    prop_assert_eq!(s.size, input.len() as u64);

    // Removed ranges: sorted, apart, within the script, whole lines.
    let lines = line_ranges(input);
    let starts: Vec<usize> = lines.iter().map(|l| l.0).collect();
    for (i, &(a, b)) in s.removed.iter().enumerate() {
        prop_assert!(a < b && b <= s.size, "{:?}", s.removed);
        if i > 0 {
            prop_assert!(
                s.removed[i - 1].1 < a,
                "ranges not sorted or not merged: {:?}",
                s.removed
            );
        }
        prop_assert!(starts.contains(&(a as usize)), "range starts inside a line");
        prop_assert!(
            b == s.size || input[b as usize - 1] == b'\n',
            "range ends inside a line"
        );
    }

    // Every line is kept or removed whole, on its own merits: a removed line
    // is removed when scanned alone too, a kept one is not (but for a `#!`
    // line, which is the shebang only where it comes first). Only lines that
    // start with `#` are ever removed.
    let removed = |a: usize| s.removed.iter().any(|&(x, y)| x as usize <= a && a < y as usize);
    for &(a, b) in &lines {
        let line = &input[a..b];
        let alone = removed_alone(line, native);
        if removed(a) {
            prop_assert!(
                line.starts_with(b"#"),
                "removed a line that does not start with '#': {line:?}"
            );
            prop_assert_eq!(alone, vec![(0, line.len() as u64)], "line {:?}", line);
        } else if !line.starts_with(b"#!") {
            prop_assert!(alone.is_empty(), "kept in context, removed alone: {line:?}");
        }
    }

    if let Some(sh) = &s.shebang {
        prop_assert!(sh.starts_with(b"#!"));
        let first_lines: Vec<&[u8]> = lines.iter().map(|&(a, b)| &input[a..b]).collect();
        prop_assert!(first_lines.contains(&sh.as_slice()));
    }

    // Directives: valid (canonical) names, trimmed values on one line.
    for (k, v) in s.directives.iter() {
        prop_assert!(valid_name(k.as_bytes()), "{k}");
        prop_assert_eq!(canonical(k), k);
        prop_assert!(!v.contains(&b'\n'), "{v:?}");
        prop_assert!(!v.first().is_some_and(|c| is_blank(*c)), "{v:?}");
        prop_assert!(!v.last().is_some_and(|c| is_blank(*c)), "{v:?}");
    }

    // Natives: one line per key, a line of the script, never a dropped key.
    let drop = native.map_or(&[][..], |n| n.drop);
    prop_assert!(native.is_some() || s.natives.is_empty());
    for (i, (k, l)) in s.natives.iter().enumerate() {
        prop_assert!(!s.natives[..i].iter().any(|(k2, _)| k2 == k), "key twice: {k:?}");
        prop_assert!(!drop.iter().any(|d| d.as_bytes() == k.as_slice()));
        prop_assert!(l.starts_with(b"#"));
        prop_assert!(!l[..l.len() - 1].contains(&b'\n'));
        let pos = lines.iter().position(|&(a, b)| &input[a..b] == l.as_slice());
        prop_assert!(pos.is_some(), "not a line of the script: {l:?}");
    }
    Ok(())
}

/// One generated line of a script, with what it should mean.
#[derive(Clone, Debug)]
enum Line {
    /// Not a directive: does not start with `#`.
    Body(Vec<u8>),
    /// `# troika key=value` in one of its spellings.
    Troika { text: Vec<u8>, key: String, value: Vec<u8> },
    /// A Slurm directive and its key.
    Native { text: Vec<u8>, key: Vec<u8> },
}

fn blanks(min: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(proptest::sample::select(BLANKS), min..min + 3)
}

/// A value as the parser returns it: no newline, no blank at either end.
fn trimmed_value() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>().prop_filter("no newline", |c| *c != b'\n'), 0..12).prop_filter_map("trimmed", |v| {
        let t: Vec<u8> = v.clone();
        let ok = !t.first().is_some_and(|c| is_blank(*c)) && !t.last().is_some_and(|c| is_blank(*c));
        ok.then_some(t)
    })
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,10}",
        proptest::sample::select(vec!["time", "job_name", "output", "error", "walltime", "name"])
            .prop_map(String::from),
    ]
}

fn keyword() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<bool>(), 6).prop_map(|up| {
        b"troika"
            .iter()
            .zip(up)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { *c })
            .collect()
    })
}

fn line() -> impl Strategy<Value = Line> {
    let body = vec(any::<u8>().prop_filter("no newline", |c| *c != b'\n'), 0..20)
        .prop_filter("not a comment", |l| !l.starts_with(b"#"))
        .prop_map(Line::Body);
    let troika = (
        blanks(0),
        keyword(),
        blanks(1),
        name(),
        blanks(0),
        blanks(0),
        trimmed_value(),
        blanks(0),
    )
        .prop_map(|(b0, kw, b1, key, b2, b3, value, b4)| {
            let text = [&b"#"[..], &b0, &kw, &b1, key.as_bytes(), &b2, b"=", &b3, &value, &b4].concat();
            Line::Troika { text, key, value }
        });
    let native = (
        blanks(0),
        blanks(1),
        "-{1,2}[A-Za-z][A-Za-z-]{0,8}",
        "(=[^\n]{0,8})?",
        "( [^\n]{0,8})?",
    )
        .prop_map(|(b0, b1, opt, eq, rest)| {
            let text = [
                &b"#"[..],
                &b0,
                b"SBATCH",
                &b1,
                opt.as_bytes(),
                eq.as_bytes(),
                rest.as_bytes(),
            ]
            .concat();
            Line::Native {
                text,
                key: opt.into_bytes(),
            }
        });
    prop_oneof![3 => body, 2 => troika, 1 => native]
}

fn line_end() -> impl Strategy<Value = &'static [u8]> {
    proptest::sample::select(vec![&b"\n"[..], b"\r\n", b" \n", b"\t\r\n"])
}

/// A script of generated lines, its text and the lines with their ends.
fn script() -> impl Strategy<Value = (Vec<u8>, Vec<(Line, Vec<u8>)>)> {
    (vec((line(), line_end()), 0..30), any::<bool>()).prop_map(|(lines, last_newline)| {
        let n = lines.len();
        let mut text = Vec::new();
        let mut out = Vec::new();
        for (i, (l, end)) in lines.into_iter().enumerate() {
            let body = match &l {
                Line::Body(t) | Line::Troika { text: t, .. } | Line::Native { text: t, .. } => t.clone(),
            };
            let mut full = body;
            if i + 1 < n || last_newline {
                full.extend_from_slice(end);
            }
            text.extend_from_slice(&full);
            out.push((l, full));
        }
        (text, out)
    })
}

proptest! {
    #![proptest_config(cases_div(1))]

    #[test]
    fn scan_never_panics_and_keeps_its_invariants(input in hostile(SCRIPT_TOKENS), native in syntax()) {
        check_scan(&input, native)?;
    }

    #[test]
    fn scan_does_not_depend_on_read_boundaries(input in hostile(SCRIPT_TOKENS), native in syntax(), cap in 1usize..16) {
        let whole = scan_of(&input, native);
        let chunked = scan(BufReader::with_capacity(cap, &input[..]), native, "job.sh");
        match (whole, chunked) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.shebang, b.shebang);
                prop_assert_eq!(a.directives, b.directives);
                prop_assert_eq!(a.natives, b.natives);
                prop_assert_eq!(a.removed, b.removed);
                prop_assert_eq!(a.size, b.size);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.map(|_| ()), b.map(|_| ())),
        }
    }

    /// Generated scripts: every directive is found with its value (last one
    /// wins, first position kept), every native line is kept once per key,
    /// and the body is exactly the other lines.
    #[test]
    fn scan_finds_generated_directives((text, lines) in script()) {
        let native = &crate::site::slurm::NATIVE;
        let s = scan_of(&text, Some(native)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_scan(&text, Some(native))?;

        let mut want_dirs: Vec<(String, Vec<u8>)> = Vec::new();
        let mut want_natives: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut want_body = Vec::new();
        for (l, full) in &lines {
            match l {
                Line::Body(_) => want_body.extend_from_slice(full),
                Line::Troika { key, value, .. } => {
                    let key = canonical(key).to_string();
                    match want_dirs.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value.clone(),
                        None => want_dirs.push((key, value.clone())),
                    }
                }
                Line::Native { key, .. } => {
                    if native.drop.iter().any(|d| d.as_bytes() == key.as_slice()) {
                        continue;
                    }
                    match want_natives.iter_mut().find(|(k, _)| k == key) {
                        Some(slot) => slot.1 = full.clone(),
                        None => want_natives.push((key.clone(), full.clone())),
                    }
                }
            }
        }
        let got: Vec<(String, Vec<u8>)> = s.directives.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
        prop_assert_eq!(got, want_dirs);
        prop_assert_eq!(&s.natives, &want_natives);
        prop_assert_eq!(s.shebang, None);

        let mut body = Vec::new();
        let mut pos = 0;
        for &(a, b) in &s.removed {
            body.extend_from_slice(&text[pos..a as usize]);
            pos = b as usize;
        }
        body.extend_from_slice(&text[pos..]);
        prop_assert_eq!(body, want_body);
    }
}

// ---------------------------------------------------------------- -D NAME=VALUE

/// The grammar of `-D`, written out: NAME, blanks, `=`, blanks, a value
/// without newline, at most one final newline.
fn define_oracle(def: &[u8]) -> Option<(String, Vec<u8>)> {
    let eq = def.iter().position(|&c| c == b'=')?;
    let mut key = &def[..eq];
    while key.last().is_some_and(|c| is_blank(*c)) {
        key = &key[..key.len() - 1];
    }
    let key_ok = key.split_first().is_some_and(|(f, r)| {
        (f.is_ascii_alphabetic() || *f == b'_') && r.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
    });
    if !key_ok {
        return None;
    }
    let mut value = &def[eq + 1..];
    while value.first().is_some_and(|c| is_blank(*c)) {
        value = &value[1..];
    }
    if value.last() == Some(&b'\n') {
        value = &value[..value.len() - 1];
    }
    if value.contains(&b'\n') {
        return None;
    }
    Some((String::from_utf8(key.to_vec()).unwrap(), value.to_vec()))
}

const DEFINE_TOKENS: &[&[u8]] = &[
    b"name", b"_", b"x1", b"1", b"=", b"=", b" ", b"\t", b"\x0b", b"\x0c", b"\r", b"\n", b"\0", b"\xff",
    // The halves of a two-byte character (é), whole when drawn in order.
    b"\xc3", b"\xa9", b"a=b",
];

proptest! {
    #![proptest_config(cases_div(1))]

    #[test]
    fn defines_follow_their_grammar(def in hostile(DEFINE_TOKENS)) {
        let got = parse_define(&def).ok();
        prop_assert_eq!(&got, &define_oracle(&def));
        if let Some((k, v)) = got {
            prop_assert!(valid_name(k.as_bytes()));
            prop_assert!(!v.contains(&b'\n'));
        }
    }

    #[test]
    fn generated_defines_are_read(key in name(), b1 in blanks(0), b2 in blanks(0),
                                  value in vec(any::<u8>().prop_filter("no newline", |c| *c != b'\n'), 0..16),
                                  newline in any::<bool>()) {
        // The value as read: blanks after `=` belong to the separator.
        let value: Vec<u8> = value.into_iter().skip_while(|c| is_blank(*c)).collect();
        let def = [key.as_bytes(), &b1, b"=", &b2, &value, if newline { b"\n" } else { b"" }].concat();
        prop_assert_eq!(parse_define(&def).ok(), Some((key, value)));
    }
}

// ---------------------------------------------------------------- formats and translation

/// A directive format: text, `%%`, and conversions with flags, width and
/// precision (kept small: a width is padding that gets allocated).
fn format() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[^%\n]{0,6}",
        Just("%%".to_string()),
        Just("%".to_string()),
        "%[-+ #0]{0,2}[0-9]{0,2}(\\.[0-9]{0,2})?[hlL]?[sbraduxz%]",
        "%[0-9]{15,25}s",
    ];
    vec(piece, 0..6).prop_map(|p| p.concat())
}

fn any_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..24), token_soup(SCRIPT_TOKENS, 6)]
}

fn value_without_newline() -> impl Strategy<Value = Vec<u8>> {
    any_value().prop_map(|v| v.into_iter().filter(|c| *c != b'\n').collect())
}

/// Directives with generated names (those of the Slurm table among them)
/// and values, a table and configuration overrides.
fn translation(value: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = (Directives, Overrides)> {
    let names: Vec<&'static str> = crate::site::slurm::TABLE.entries().map(|e| e.name).collect();
    let dname = prop_oneof![proptest::sample::select(names).prop_map(String::from), name()];
    let overrides = vec(
        (name(), proptest::option::of(format().prop_map(|f| f.replace('\n', "")))),
        0..4,
    );
    (vec((dname, value), 0..8), overrides).prop_map(|(dirs, over)| {
        let mut d = Directives::new();
        for (k, v) in dirs {
            d.set(&k, v);
        }
        (d, over.into_iter().collect())
    })
}

/// Every line `translate` makes is one line: a single newline, at its end.
fn check_lines(d: &Directives, o: &Overrides, table: &Table) -> Result<(), TestCaseError> {
    quiet();
    if let Ok(lines) = translate(d, table, o, Some(b"#SBATCH "), UnknownPolicy::Ignore) {
        for l in lines {
            prop_assert!(l.starts_with(b"#SBATCH "));
            prop_assert_eq!(
                l.iter().filter(|c| **c == b'\n').count(),
                1,
                "{:?}",
                String::from_utf8_lossy(&l)
            );
            prop_assert!(l.ends_with(b"\n"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases_div(1))]

    #[test]
    fn formats_never_panic(fmt in prop_oneof![format(), any::<String>()], value in any_value()) {
        quiet();
        let out = apply_format("x", &fmt, &value);
        // A newline comes from the format or the value, never from troika.
        if !fmt.contains('\n') && !value.contains(&b'\n') {
            prop_assert!(!out.contains(&b'\n'));
        }
        if !fmt.contains('%') {
            prop_assert_eq!(out, fmt.as_bytes());
        }
    }

    #[test]
    fn formats_pad_and_cut_as_python(value in vec(any::<u8>(), 0..20), width in 0usize..40,
                                     precision in proptest::option::of(0usize..40), left in any::<bool>(),
                                     before in "[^%]{0,5}", after in "[^%]{0,5}") {
        let fmt = format!(
            "{before}%{}{width}{}s{after}",
            if left { "-" } else { "" },
            precision.map(|p| format!(".{p}")).unwrap_or_default()
        );
        let piece = &value[..precision.unwrap_or(value.len()).min(value.len())];
        let pad = vec![b' '; width.saturating_sub(piece.len())];
        let mid = if left { [piece, &pad].concat() } else { [&pad[..], piece].concat() };
        let want = [before.as_bytes(), &mid, after.as_bytes()].concat();
        prop_assert_eq!(apply_format("x", &fmt, &value), want);
        prop_assert_eq!(apply_format("x", "%%s%s%%", &value), [&b"%s"[..], &value, b"%"].concat());
    }

    #[test]
    fn translation_lines_are_single_lines((d, o) in translation(value_without_newline().boxed())) {
        check_lines(&d, &o, &crate::site::slurm::TABLE)?;
    }
}

proptest! {
    #![proptest_config(cases_div(1))]

    /// A directive value with a newline (from `extra_directives` or `-o`)
    /// must not become a second line of the header, where it would run as
    /// a shell command.
    #[test]
    fn translation_lines_are_single_lines_whatever_the_value((d, o) in translation(any_value().boxed())) {
        check_lines(&d, &o, &crate::site::slurm::TABLE)?;
        if d.iter().any(|(_, v)| v.contains(&b'\n')) {
            quiet();
            let r = translate(&d, &crate::site::slurm::TABLE, &o, Some(b"#SBATCH "), UnknownPolicy::Ignore);
            prop_assert!(r.is_err(), "a value with a line break is refused");
        }
    }
}

// ---------------------------------------------------------------- YAML

const YAML_TOKENS: &[&[u8]] = &[
    b":",
    b": ",
    b"- ",
    b"\n",
    b"\n",
    b"  ",
    b"    ",
    b"\t",
    b"&a ",
    b"*a",
    b"&b ",
    b"*b",
    b"<<",
    b"<<: ",
    b"{",
    b"}",
    b"[",
    b"]",
    b", ",
    b"!!str ",
    b"!!int ",
    b"!!float ",
    b"!!bool ",
    b"!!null ",
    b"!!map ",
    b"!!seq ",
    b"!!merge ",
    b"!!timestamp ",
    b"!x ",
    b"! ",
    b"'",
    b"\"",
    b"\\",
    b"# c",
    b"|",
    b">",
    b"? ",
    b"---",
    b"...",
    b"%YAML 1.1\n",
    b"%TAG ! tag:x,2000:\n",
    b"key",
    b"sites",
    b"1",
    b"0x",
    b"0b",
    b"0o",
    b"_",
    b"12:30",
    b"1.5",
    b".",
    b"e+3",
    b"yes",
    b"No",
    b"~",
    b"null",
    b"=",
    b"2024-01-02",
    b"\r\n",
    b"\xc2\x85",
    b"\xe2\x80\xa8",
    b"\xef\xbb\xbf",
];

fn yaml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        token_soup(YAML_TOKENS, 60).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// A generated YAML value.
#[derive(Clone, Debug, PartialEq)]
enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Seq(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        Just(Tree::Null),
        any::<bool>().prop_map(Tree::Bool),
        any::<i64>().prop_map(Tree::Int),
        any::<String>().prop_map(Tree::Str),
        "[a-z ]{0,8}".prop_map(Tree::Str),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Tree::Seq),
            vec((any::<String>(), inner), 0..5).prop_map(|entries| {
                let mut seen = Vec::new();
                Tree::Map(
                    entries
                        .into_iter()
                        .filter(|(k, _)| {
                            let new = !seen.contains(k);
                            seen.push(k.clone());
                            new
                        })
                        .collect(),
                )
            }),
        ]
    })
}

/// A double-quoted YAML scalar: everything but printable ASCII escaped.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn scalar(t: &Tree) -> Option<String> {
    Some(match t {
        Tree::Null => "null".into(),
        Tree::Bool(b) => if *b { "yes" } else { "false" }.into(),
        Tree::Int(i) => i.to_string(),
        Tree::Str(s) => quoted(s),
        Tree::Seq(v) if v.is_empty() => "[]".into(),
        Tree::Map(m) if m.is_empty() => "{}".into(),
        _ => return None,
    })
}

fn flow(t: &Tree) -> String {
    match t {
        Tree::Seq(v) => format!("[{}]", v.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Tree::Map(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", quoted(k), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        t => scalar(t).unwrap(),
    }
}

fn block(t: &Tree, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match (t, scalar(t)) {
        (_, Some(s)) => {
            out.push_str(&pad);
            out.push_str(&s);
            out.push('\n');
        }
        (Tree::Seq(v), None) => {
            for item in v {
                match scalar(item) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        block(item, indent + 2, out);
                    }
                }
            }
        }
        (Tree::Map(m), None) => {
            for (k, v) in m {
                match scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}{}: {s}\n", quoted(k))),
                    None => {
                        out.push_str(&format!("{pad}{}:\n", quoted(k)));
                        block(v, indent + 2, out);
                    }
                }
            }
        }
        _ => unreachable!(),
    }
}

fn to_tree(n: &Node) -> Result<Tree, String> {
    Ok(match &n.value {
        Value::Null => Tree::Null,
        Value::Bool(b) => Tree::Bool(*b),
        Value::Int(i) => Tree::Int(*i),
        Value::Str(s) => Tree::Str(s.clone()),
        Value::Seq(v) => Tree::Seq(v.iter().map(to_tree).collect::<Result<_, _>>()?),
        Value::Map(m) => Tree::Map(
            m.iter()
                .map(|(k, v)| match &k.value {
                    Value::Str(k) => Ok((k.clone(), to_tree(v)?)),
                    other => Err(format!("key {other:?}")),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unexpected {other:?}")),
    })
}

/// The value of `x: TEXT`.
fn typed(text: &str) -> Result<Value, String> {
    let n = Node::parse(&format!("x: {text}\n")).map_err(|e| e.0)?;
    Ok(n.get("x").ok_or("no x")?.value.clone())
}

/// Inserts `_` after some digits (`1_000`), as YAML 1.1 integers allow.
fn underscored(digits: &str, at: &[bool]) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        out.push(c);
        if at.get(i).copied().unwrap_or(false) && i + 1 < digits.len() {
            out.push('_');
        }
    }
    out
}

proptest! {
    #![proptest_config(cases_div(2))]

    #[test]
    fn yaml_never_panics(text in yaml_text()) {
        if let Ok(n) = Node::parse(&text) {
            // Display and key texts of whatever came out.
            let _ = format!("{n} {}", n.key_text());
        }
    }

    #[test]
    fn yaml_reads_generated_trees(t in tree(), use_flow in any::<bool>()) {
        let text = if use_flow {
            format!("{}\n", flow(&t))
        } else {
            let mut s = String::new();
            block(&t, 0, &mut s);
            s
        };
        let n = Node::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e:?}")))?;
        prop_assert_eq!(to_tree(&n).map_err(TestCaseError::fail)?, t, "{}", text);
    }

}

proptest! {
    // Each case may build up to a million nodes before it is refused.
    #![proptest_config(cases_div(16))]

    /// Aliases of aliases: a document expands to at most the node budget, or
    /// is refused.
    #[test]
    fn yaml_alias_expansion_is_bounded(fanout in 2usize..12, depth in 1usize..12) {
        let items = |x: &str| vec![x; fanout].join(", ");
        let mut text = format!("a0: &a0 [{}]\n", items("x"));
        for i in 1..depth {
            text.push_str(&format!("a{i}: &a{i} [{}]\n", items(&format!("*a{}", i - 1))));
        }
        fn count(n: &Node) -> usize {
            match &n.value {
                Value::Seq(v) => 1 + v.iter().map(count).sum::<usize>(),
                Value::Map(m) => 1 + m.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
                _ => 1,
            }
        }
        // Nodes once expanded: the root, the keys and each level's list.
        let mut level = 1 + fanout as u128;
        let mut nodes = 1 + depth as u128 + level;
        for _ in 1..depth {
            level = 1 + fanout as u128 * level;
            nodes += level;
        }
        match Node::parse(&text) {
            Ok(n) => {
                prop_assert!(count(&n) <= 1_000_000);
                prop_assert_eq!(count(&n) as u128, nodes);
            }
            Err((m, _)) => {
                prop_assert!(m.contains("too large"), "{m}");
                // The aliases themselves count too.
                prop_assert!(nodes + (fanout * depth) as u128 > 1_000_000, "refused at {nodes} nodes");
            }
        }
    }
}

proptest! {
    #![proptest_config(cases_div(1))]

    #[test]
    fn yaml_decimal_integers(i in any::<i64>(), plus in any::<bool>(), us in vec(any::<bool>(), 0..20)) {
        let digits = i.unsigned_abs().to_string();
        let sign = if i < 0 { "-" } else if plus { "+" } else { "" };
        // A leading zero makes an octal number: only `0` itself is decimal.
        let text = format!("{sign}{}", underscored(&digits, &us));
        prop_assert_eq!(typed(&text), Ok(Value::Int(i)), "{}", text);
    }

    #[test]
    fn yaml_integers_in_other_bases(u in 0u64..=i64::MAX as u64, neg in any::<bool>(), base in 0..4) {
        let sign = if neg { "-" } else { "" };
        let text = match base {
            0 => format!("{sign}0x{u:x}"),
            1 => format!("{sign}0x{u:X}"),
            2 => format!("{sign}0b{u:b}"),
            _ => format!("{sign}0{u:o}"),
        };
        let want = if neg { -(u as i64) } else { u as i64 };
        prop_assert_eq!(typed(&text), Ok(Value::Int(want)), "{}", text);
    }

    #[test]
    fn yaml_integers_beyond_64_bits_keep_their_text(extra in 1u64..1_000_000, neg in any::<bool>()) {
        let mag = u128::from(i64::MAX as u64) + 1 + u128::from(extra) + u128::from(!neg);
        let text = format!("{}{mag}", if neg { "-" } else { "" });
        prop_assert_eq!(typed(&text), Ok(Value::Str(text.clone())));
    }

    #[test]
    fn yaml_base_60_integers(h in 1u64..100_000, m in 0u64..60, s in 0u64..60, two_digits in any::<bool>()) {
        let text = if two_digits { format!("{h}:{m:02}:{s:02}") } else { format!("{h}:{m}:{s}") };
        prop_assert_eq!(typed(&text), Ok(Value::Int((h * 3600 + m * 60 + s) as i64)), "{}", text);
        // With a leading zero it is text (`01:30:00`).
        let text = format!("0{text}");
        prop_assert_eq!(typed(&text), Ok(Value::Str(text.clone())));
    }

    #[test]
    fn yaml_floats(int in 0u32..1_000_000, frac in "[0-9]{1,6}", neg in any::<bool>()) {
        let text = format!("{}{int}.{frac}", if neg { "-" } else { "" });
        let want: f64 = text.parse().unwrap();
        prop_assert_eq!(typed(&text), Ok(Value::Float(want)));
    }

    #[test]
    fn yaml_booleans_and_nulls(word in proptest::sample::select(vec![
        "yes", "no", "true", "false", "on", "off", "null", "~", "y", "n", "nil", "none",
    ]), case in 0..4) {
        let text = match case {
            0 => word.to_string(),
            1 => word.to_ascii_uppercase(),
            2 => word[..1].to_ascii_uppercase() + &word[1..],
            // Mixed case is none of them.
            _ => word.chars().enumerate().map(|(i, c)| if i % 2 == 1 { c.to_ascii_uppercase() } else { c }).collect(),
        };
        let mixed = case == 3 && text.len() > 1;
        let want = match word {
            _ if mixed => Value::Str(text.clone()),
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            "null" | "~" => Value::Null,
            _ => Value::Str(text.clone()),
        };
        prop_assert_eq!(typed(&text), Ok(want));
    }

    #[test]
    fn yaml_quoted_and_tagged_scalars_are_strings(s in any::<String>(), single in any::<bool>(), plain in "[0-9a-z._]([0-9a-z.:_-]{0,8}[0-9a-z._-])?") {
        let text = if single { format!("'{}'", s.replace('\'', "''")) } else { quoted(&s) };
        // Single-quoted scalars fold line breaks: compare only where there are none.
        if !single || !s.chars().any(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')) {
            let got = typed(&text);
            if single && (s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) || s.chars().any(|c| c.is_control())) {
                // Blanks at the ends of a line and control characters are not kept as such.
            } else {
                prop_assert_eq!(got, Ok(Value::Str(s.clone())), "{}", text);
            }
        }
        prop_assert_eq!(typed(&format!("!!str {plain}")), Ok(Value::Str(plain.clone())));
        prop_assert_eq!(typed(&format!("'{plain}'")), Ok(Value::Str(plain.clone())));
    }
}

/// Deep nesting is refused with an error, not a stack overflow. It runs on
/// a thread with the stack of a main thread, where troika reads its
/// configuration.
#[test]
fn yaml_deep_nesting_is_an_error() {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            for n in [100usize, 300, 10_000] {
                let flow = format!("{}1{}", "[".repeat(n), "]".repeat(n));
                let dashes = format!("{}1\n", "- ".repeat(n));
                let maps: String = (0..n.min(1000)).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
                for text in [flow, dashes, maps] {
                    if let Err((m, _)) = Node::parse(&text) {
                        assert!(m.contains("recursion limit"), "{m}");
                    }
                }
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

// ---------------------------------------------------------------- units

const UNIT_TOKENS: &[&[u8]] = &[
    b"0",
    b"1",
    b"9",
    b"00",
    b"59",
    b"60",
    b"99999999999999999999",
    b"18446744073709551615",
    b":",
    b"-",
    b".",
    b" ",
    b"\t",
    b"d",
    b"h",
    b"m",
    b"s",
    b"D",
    b"K",
    b"k",
    b"M",
    b"G",
    b"T",
    b"P",
    b"B",
    b"b",
    b"iB",
    b"KB",
    b"\xc3\xa9",
    b"\xff",
    b"\0",
    b"+",
    b"e",
];

fn unit_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..30), token_soup(UNIT_TOKENS, 12)]
}

const STYLES: [Style; 6] = [
    Style::Slurm,
    Style::Pbs,
    Style::Sge,
    Style::Torque,
    Style::Lsf,
    Style::Flux,
];

proptest! {
    #![proptest_config(cases_div(1))]

    #[test]
    fn unit_parsers_never_panic(b in unit_text()) {
        let _ = walltime_seconds(&b);
        let _ = is_fsd_with_unit(&b);
        let s = String::from_utf8_lossy(&b);
        let _ = parse_memory(&s);
        let _ = parse_walltime(&s);
        for style in STYLES {
            let _ = table_memory(&b, style);
            let _ = style.rewrite_memory(&s);
            let _ = style.rewrite_walltime(&s);
        }
        let _ = crate::site::signals::signal_by_name(&s);
    }

    /// The colon forms, with fields of any size (`1:75` included): the exact
    /// number of seconds, or an error when it does not fit in 64 bits.
    #[test]
    fn walltimes_in_seconds(d in any::<u64>(), h in any::<u64>(), m in any::<u64>(), s in any::<u64>(),
                            small in any::<bool>(), form in 0..6) {
        let (d, h, m, s) = if small { (d % 1000, h % 100, m % 100, s % 100) } else { (d, h, m, s) };
        let (text, parts): (String, [u64; 4]) = match form {
            0 => (format!("{m}"), [0, 0, m, 0]),
            1 => (format!("{m}:{s}"), [0, 0, m, s]),
            2 => (format!("{h}:{m}:{s}"), [0, h, m, s]),
            3 => (format!("{d}-{h}"), [d, h, 0, 0]),
            4 => (format!("{d}-{h}:{m}"), [d, h, m, 0]),
            _ => (format!(" {d}-{h}:{m}:{s} "), [d, h, m, s]),
        };
        let total = u128::from(parts[0]) * 86400 + u128::from(parts[1]) * 3600 + u128::from(parts[2]) * 60 + u128::from(parts[3]);
        match walltime_seconds(text.as_bytes()) {
            Ok(v) => prop_assert_eq!(u128::from(v), total, "{}", text),
            Err(e) => {
                prop_assert!(total > u128::from(u64::MAX), "{text}: {e}");
                prop_assert!(e.to_string().contains("too large"), "{text}: {e}");
            }
        }
    }

    /// Without a translator, LSF and Torque keep a whole number as written
    /// and only respell its unit.
    #[test]
    fn memory_units_are_renamed(n in 0u64..1 << 24, unit in proptest::sample::select(vec!["", "k", "M", "g", "T", "p", "KB", "mb", "Gb", "tB", "PB"])) {
        let text = format!("{n}{unit}");
        let letter = unit.chars().next().map(|c| c.to_ascii_uppercase());
        let up = table_memory(text.as_bytes(), Style::Lsf).unwrap();
        let low = table_memory(text.as_bytes(), Style::Torque).unwrap();
        match letter {
            None => {
                prop_assert_eq!(&up, text.as_bytes());
                prop_assert_eq!(&low, text.as_bytes());
            }
            Some(l) => {
                prop_assert_eq!(up, format!("{n}{l}B").into_bytes());
                prop_assert_eq!(low, format!("{n}{}b", l.to_ascii_lowercase()).into_bytes());
            }
        }
    }

    #[test]
    fn flux_durations(n in any::<u32>(), frac in proptest::option::of("[0-9]{1,4}"), unit in proptest::sample::select(vec!['s', 'm', 'h', 'd', 'x', 'S'])) {
        let text = format!("{n}{}{unit}", frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default());
        prop_assert_eq!(is_fsd_with_unit(text.as_bytes()), "smhd".contains(unit));
    }

    /// Memory sizes in KiB: exact, or "too large" beyond 64 bits.
    #[test]
    fn memory_sizes_in_kib(n in any::<u64>(), small in any::<bool>(), unit in 0usize..5,
                           spelling in 0usize..3, upper in any::<bool>(), space in any::<bool>()) {
        let n = if small { n % 100_000 } else { n };
        let letters = ["k", "m", "g", "t", "p"];
        let suffix = ["", "b", "ib"][spelling];
        let unit_text = format!("{}{suffix}", letters[unit]);
        let unit_text = if upper { unit_text.to_ascii_uppercase() } else { unit_text };
        let text = format!("{n}{}{unit_text}", if space { " " } else { "" });
        let want = u128::from(n) << (10 * unit);
        match parse_memory(&text) {
            Ok(v) => prop_assert_eq!(u128::from(v), want, "{}", text),
            Err(e) => {
                prop_assert!(want > u128::from(u64::MAX), "{text}: {e}");
                prop_assert!(e.contains("too large"), "{e}");
            }
        }
        // A plain number is megabytes.
        if let Ok(v) = parse_memory(&n.to_string()) {
            prop_assert_eq!(u128::from(v), u128::from(n) << 10);
        }
    }

    /// `1.5G` and friends: accepted exactly when a whole number of KiB.
    #[test]
    fn decimal_memory_sizes(int in 0u64..1_000_000, frac in "[0-9]{1,8}", unit in 0usize..4) {
        let text = format!("{int}.{frac}{}", ["K", "M", "G", "T"][unit]);
        let scale = 10u128.pow(frac.len() as u32);
        let mantissa = u128::from(int) * scale + frac.parse::<u128>().unwrap();
        let kib_times_scale = mantissa << (10 * unit);
        match parse_memory(&text) {
            Ok(v) => prop_assert_eq!(u128::from(v) * scale, kib_times_scale, "{}", text),
            Err(e) => prop_assert!(kib_times_scale % scale != 0, "{text}: {e}"),
        }
    }

    #[test]
    fn walltimes_with_units(d in any::<u32>(), h in any::<u32>(), m in any::<u32>(), s in any::<u32>(), which in 1u8..16, space in any::<bool>()) {
        let mut text = String::new();
        let mut total = 0u128;
        for (bit, (v, unit, secs)) in [(d, 'd', 86400u128), (h, 'h', 3600), (m, 'm', 60), (s, 's', 1)].into_iter().enumerate() {
            if which & (8 >> bit) != 0 {
                text.push_str(&format!("{v}{unit}{}", if space { " " } else { "" }));
                total += u128::from(v) * secs;
            }
        }
        prop_assert_eq!(parse_walltime(&text).map(u128::from), Ok(total), "{}", text);
    }

    #[test]
    fn clock_walltimes(d in proptest::option::of(0u64..10_000), h in 0u64..1_000_000, m in 0u64..60, s in 0u64..60) {
        let (text, want) = match d {
            Some(d) => (format!("{d}-{:02}:{m:02}:{s:02}", h % 24), d * 86400 + h % 24 * 3600 + m * 60 + s),
            None => (format!("{h}:{m:02}:{s:02}"), h * 3600 + m * 60 + s),
        };
        prop_assert_eq!(parse_walltime(&text), Ok(want), "{}", text);
        // Minutes and seconds past 59, hours past 23 after days, add up.
        let minutes_60 = format!("{h}:{}:{s:02}", m + 60);
        prop_assert_eq!(parse_walltime(&minutes_60), Ok(h * 3600 + (m + 60) * 60 + s), "{}", minutes_60);
        if let Some(d) = d {
            let hours_24 = format!("{d}-{}:00:00", 24 + h);
            prop_assert_eq!(parse_walltime(&hours_24), Ok(d * 86400 + (24 + h) * 3600), "{}", hours_24);
        }
    }

    /// What troika writes for a scheduler reads back as the same size and
    /// limit (LSF's limit in whole minutes, rounded up).
    #[test]
    fn resources_round_trip(kib in prop_oneof![any::<u64>(), (0u64..1 << 20).prop_map(|k| k << 20)], secs in any::<u64>()) {
        for f in STYLES {
            if let Ok(text) = f.memory(kib) {
                prop_assert_eq!(parse_memory(&text), Ok(kib), "{:?} {}", f, text);
                prop_assert_eq!(f.rewrite_memory(&text), Ok(text.clone()), "{:?}", f);
            }
            if let Ok(text) = f.walltime(secs) {
                let want = if f == Style::Lsf { secs.div_ceil(60).checked_mul(60) } else { Some(secs) };
                match want {
                    Some(w) => prop_assert_eq!(parse_walltime(&text), Ok(w), "{:?} {}", f, text),
                    None => prop_assert!(parse_walltime(&text).is_err(), "{:?} {}", f, text),
                }
            }
        }
    }

    #[test]
    fn signals_by_name_and_number(sig in proptest::sample::select(nix::sys::signal::Signal::iterator().collect::<Vec<_>>()),
                                  form in 0..4) {
        use crate::site::signals::signal_by_name;
        let name = sig.as_str();
        let text = match form {
            0 => name.to_string(),
            1 => name.trim_start_matches("SIG").to_ascii_lowercase(),
            2 => (sig as i32).to_string(),
            _ => format!("  {}  ", name.to_ascii_lowercase()),
        };
        prop_assert_eq!(signal_by_name(&text), Some(sig), "{}", text);
    }
}

proptest! {
    #![proptest_config(cases_div(2))]

    /// Any number of seconds in a kill sequence is a wait or an error.
    #[test]
    fn kill_sequence_waits_never_panic(wait in prop_oneof![
        (0u32..10, 0u32..400).prop_map(|(m, e)| format!("{m}.5e+{e}")),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<i64>().prop_map(|i| i.to_string()),
    ]) {
        let site = SiteConfig::from_yaml("s", &format!("kill_sequence: [[{wait}, 9]]\n")).unwrap();
        let _ = crate::site::KillSequence::from_config(&site);
    }
}

/// Pieces of foreign directive lines: prefixes, options of every table,
/// resource keys, values and quotes.
const FOREIGN_TOKENS: &[&[u8]] = &[
    b"#PBS ",
    b"#SBATCH ",
    b"#$ ",
    b"#BSUB ",
    b"#flux: ",
    b"# PBS ",
    b"\n",
    b"\n",
    b" ",
    b" ",
    b"\t",
    b"-l ",
    b"-N",
    b"-J ",
    b"--time=",
    b"--time ",
    b"-t ",
    b"-W ",
    b"-R ",
    b"-M ",
    b"-pe ",
    b"-hold_jid ",
    b"-w ",
    b"walltime=",
    b"select=",
    b"nodes=",
    b"h_rt=",
    b":ncpus=",
    b":mpiprocs=",
    b":ppn=",
    b"mem=",
    b",",
    b":",
    b"=",
    b"+",
    b"[",
    b"]",
    b"(",
    b")",
    b"&&",
    b"done(",
    b"span[ptile=",
    b"depend=afterok:",
    b"1",
    b"0",
    b"99999999999999999999",
    b"1.5",
    b"4gb",
    b"G",
    b"'",
    b"\"",
    b"\\",
    b"#",
    b"--",
    b"-",
    b"\xff",
    b"\xc3",
    b"h",
    b"m",
    b"s",
    b"%",
    b"-",
];

proptest! {
    #![proptest_config(cases_div(1))]

    /// Foreign lines of any content: the scan takes them out of the body
    /// (whole lines, the invariants of any scan), reading them never panics,
    /// and each gives one comment that no scheduler reads.
    #[test]
    fn foreign_lines_never_panic(input in hostile(FOREIGN_TOKENS), cap in 1usize..16) {
        let reg = crate::registry::Registry::builtin();
        let tables: Vec<&'static crate::script::foreign::Foreign> =
            reg.sites.iter().filter_map(|t| t.traits.foreign).collect();
        let prefixes: Vec<&str> = tables.iter().map(|t| t.prefix).collect();
        let whole = crate::script::parse::scan_with(&input[..], None, &prefixes, "job.sh");
        let chunked = crate::script::parse::scan_with(BufReader::with_capacity(cap, &input[..]), None, &prefixes, "job.sh");
        match (whole, chunked) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.foreign, &b.foreign);
                prop_assert_eq!(&a.removed, &b.removed);
                let read = crate::script::foreign::read_lines(&a.foreign, &tables, "slurm");
                prop_assert_eq!(read.comments.len(), a.foreign.len());
                for c in &read.comments {
                    prop_assert!(c.starts_with(b"# (troika: "), "{:?}", c);
                    prop_assert_eq!(c.iter().filter(|&&b| b == b'\n').count(), 1);
                }
            }
            (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.map(|_| ()), b.map(|_| ())),
        }
    }
}
