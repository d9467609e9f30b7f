//! Reads a job script once, line by line, and finds what troika acts on:
//! `# troika name=value` directives, the scheduler's native directives and the
//! shebang. The body is not kept in memory: only the byte ranges of the lines
//! that move to the header are recorded, so a 100 MB script costs no more
//! memory than a small one.
//!
//! Scripts are bytes: any encoding, CRLF line ends and a last line without a
//! newline come through unchanged.

use std::collections::HashMap;
use std::io::BufRead;

use super::directives::{valid_name, Directives};
use crate::error::{Error, Result};

/// How a scheduler's own directives look: `#SBATCH --nodes=2`, `#PBS -q x`,
/// `#$ -cwd`. The key of a line is its first word up to any `=`. Each site
/// type says it for its scheduler.
#[derive(Clone, Copy, Debug)]
pub struct NativeSyntax {
    /// The word after `#`, e.g. `SBATCH`, `PBS`, `$`.
    pub prefix: &'static str,
    /// Keys that are dropped because troika sets them (output and error files).
    pub drop: &'static [&'static str],
    /// The submission command whose arguments the lines hold, for messages
    /// (`Malformed sbatch argument`).
    pub command: &'static str,
    /// Whether an option must have a name before any `=` (`#SBATCH =x` is
    /// malformed, as 0.2.7 said; qsub lines take their first word whole).
    pub option_name_required: bool,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The shebang line, with its line end.
    pub shebang: Option<Vec<u8>>,
    /// Generic directives in script order.
    pub directives: Directives,
    /// Native directive lines, one per key: first position, last line.
    pub natives: Vec<(Vec<u8>, Vec<u8>)>,
    /// Lines of other schedulers' directives (`#PBS` in a script sent to
    /// Slurm), when the scan looked for them.
    pub foreign: Vec<super::foreign::Line>,
    /// Byte ranges `[start, end)` of lines that are not part of the body.
    pub removed: Vec<(u64, u64)>,
    /// Size of the script in bytes.
    pub size: u64,
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|c| c.is_ascii_whitespace() || *c == 0x0b)
}

fn trim_end_ws(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && (b[end - 1].is_ascii_whitespace() || b[end - 1] == 0x0b) {
        end -= 1;
    }
    &b[..end]
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace() || **c == 0x0b).count();
    &b[n..]
}

/// The text of a directive line after its keyword (`troika`, `SBATCH`):
/// what follows the blanks after the keyword, without the blanks that end the
/// line. `None` when no blank follows the keyword, or when the keyword is
/// followed by a single blank and nothing else. As in 0.2.7, a keyword
/// followed by two or more blanks only has the last of them as its text
/// (`# troika  ` -> `b' '`), which is then malformed.
fn directive_body(after: &[u8]) -> Option<&[u8]> {
    let after = after.strip_suffix(b"\n").unwrap_or(after);
    let body = skip_ws(after);
    let blanks = after.len() - body.len();
    if blanks == 0 {
        return None;
    }
    let body = trim_end_ws(body);
    if !body.is_empty() {
        return Some(body);
    }
    if blanks < 2 {
        return None;
    }
    Some(&after[blanks - 1..])
}

/// If `line` is a troika directive (`#`, optional blanks, `troika` in any case,
/// blanks, then text), returns the text after the keyword.
fn troika_directive(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"#")?;
    let rest = skip_ws(rest);
    if rest.len() < 6 || !rest[..6].eq_ignore_ascii_case(b"troika") {
        return None;
    }
    directive_body(&rest[6..])
}

/// Splits `name = value` (value already right-trimmed).
fn key_value(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = body.iter().position(|&c| c == b'=')?;
    let key = trim_end_ws(&body[..eq]);
    if !valid_name(key) {
        return None;
    }
    Some((key, skip_ws(&body[eq + 1..])))
}

/// If `line` is a native directive of `syntax`, returns its key, or
/// `Err(text)` when it is malformed: blanks only after the prefix, or (Slurm)
/// no option name before `=`.
fn native_key<'a>(line: &'a [u8], syntax: &NativeSyntax) -> Option<Result<Vec<u8>, &'a [u8]>> {
    let rest = skip_ws(line.strip_prefix(b"#")?);
    let rest = rest.strip_prefix(syntax.prefix.as_bytes())?;
    let args = directive_body(rest)?; // `#SBATCH-N`, `#SBATCH` alone, `#SBATCH `
    let word_len = args
        .iter()
        .take_while(|c| !(c.is_ascii_whitespace() || **c == 0x0b))
        .count();
    if word_len == 0 {
        return Some(Err(args));
    }
    let word = &args[..word_len];
    let key = match word.iter().position(|&c| c == b'=') {
        Some(i) => &word[..i],
        None => word,
    };
    if key.is_empty() && syntax.option_name_required {
        return Some(Err(args));
    }
    Some(Ok(key.to_vec()))
}

/// The longest line troika reads as a directive or a shebang: 1 MiB. A
/// longer line of the body passes through untouched, without being held in
/// memory; a longer directive is an error.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads one line into `line`, keeping at most `max` bytes of it; returns
/// the line's whole length (0 at the end of the input).
fn read_line_bounded<R: BufRead>(r: &mut R, line: &mut Vec<u8>, max: usize) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(total);
        }
        let (n, done) = match buf.iter().position(|&c| c == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let keep = n.min(max.saturating_sub(line.len()));
        line.extend_from_slice(&buf[..keep]);
        r.consume(n);
        total += n;
        if done {
            return Ok(total);
        }
    }
}

/// Scans a script. `name` is used in error messages.
pub fn scan<R: BufRead>(reader: R, native: Option<&NativeSyntax>, name: &str) -> Result<Scan> {
    scan_with(reader, native, &[], name)
}

/// Scans a script, also for the directive lines of the `foreign` prefixes
/// (other schedulers'), which are taken out of the body.
pub fn scan_with<R: BufRead>(
    mut reader: R,
    native: Option<&NativeSyntax>,
    foreign: &[&str],
    name: &str,
) -> Result<Scan> {
    let is_foreign = |line: &[u8]| {
        !foreign.is_empty() && line.first() == Some(&b'#') && super::foreign::prefix_of(line, foreign).is_some()
    };
    let mut out = Scan::default();
    let mut line = Vec::with_capacity(256);
    let mut offset: u64 = 0;
    let mut lineno = 0usize;
    let mut shebang_decided = false;
    // The position in `out.natives` of each key.
    let mut native_at: HashMap<Vec<u8>, usize> = HashMap::new();
    loop {
        line.clear();
        let n = read_line_bounded(&mut reader, &mut line, MAX_LINE_BYTES)
            .map_err(|e| Error::Io(format!("Cannot read script '{name}': {}", crate::error::io_reason(&e))))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let start = offset;
        offset += n as u64;
        let mut consumed = true;
        if n > line.len() {
            // Only the start of the line was kept: enough to tell a directive
            // (refused) from a line of the body (kept as it is).
            let directive = troika_directive(&line).is_some()
                || native.is_some_and(|s| native_key(&line, s).is_some())
                || is_foreign(&line)
                || (!shebang_decided && line.starts_with(b"#!"));
            if directive {
                return Err(Error::Script(format!(
                    "in {name}, line {lineno}: the line is {n} bytes long; a directive or shebang line may have at most {MAX_LINE_BYTES} bytes"
                )));
            }
            shebang_decided |= !is_blank(&line);
            consumed = false;
        } else if let Some(body) = troika_directive(&line) {
            let (key, value) = key_value(body).ok_or_else(|| {
                Error::Script(format!(
                    "in {name}, line {lineno} Invalid key-value pair: {} (expected '# troika name=value', the name made of letters, digits and '_')",
                    crate::util::bytes_repr(body)
                ))
            })?;
            out.directives.set(&String::from_utf8_lossy(key), value.to_vec());
        } else if let Some(found) = native.and_then(|s| native_key(&line, s).map(|k| (s, k))) {
            let (syntax, key) = found;
            let key = key.map_err(|arg| {
                let (cmd, arg) = (syntax.command, crate::util::bytes_repr(arg));
                let hint = format!("a '#{}' line needs an option after the prefix", syntax.prefix);
                Error::Script(if syntax.option_name_required {
                    format!("in {name}, line {lineno} Malformed {cmd} argument: {arg} ({hint})")
                } else {
                    format!("Malformed {cmd} argument: {arg} (in {name}, line {lineno}: {hint})")
                })
            })?;
            if !syntax.drop.iter().any(|d| d.as_bytes() == key.as_slice()) {
                match native_at.get(&key) {
                    Some(&i) => out.natives[i].1 = line.clone(),
                    None => {
                        native_at.insert(key.clone(), out.natives.len());
                        out.natives.push((key, line.clone()));
                    }
                }
            }
        } else if is_foreign(&line) {
            out.foreign.push(super::foreign::Line {
                number: lineno,
                text: line.clone(),
            });
        } else if !shebang_decided && !is_blank(&line) {
            shebang_decided = true;
            if line.starts_with(b"#!") {
                out.shebang = Some(line.clone());
            } else {
                consumed = false;
            }
        } else {
            consumed = false;
        }
        if consumed {
            match out.removed.last_mut() {
                Some(last) if last.1 == start => last.1 = offset,
                _ => out.removed.push((start, offset)),
            }
        }
    }
    out.size = offset;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLURM: NativeSyntax = crate::site::slurm::NATIVE;

    fn scan_str(s: &[u8]) -> Scan {
        scan(s, Some(&SLURM), "job.sh").unwrap()
    }

    #[test]
    fn directive_forms() {
        let s = scan_str(b"#!/bin/bash\n#troika name=a\n#   TROIKA   walltime =  00:10:00   \n#\ttroika\tpartition\t=\tpar\n# troika name=b\r\n");
        let d: Vec<_> = s.directives.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
        assert_eq!(
            d,
            vec![
                ("name".into(), b"b".to_vec()),
                ("walltime".into(), b"00:10:00".to_vec()),
                ("partition".into(), b"par".to_vec())
            ]
        );
    }

    #[test]
    fn not_directives() {
        let s = scan_str(b"#troikaname=foo\n## troika name=x\n  # troika name=i\n# troika\n# troika \n#  troika-x=1\n");
        assert!(s.directives.is_empty());
        assert!(s.removed.is_empty());
    }

    #[test]
    fn invalid_pair_names_line() {
        let e = scan(&b"#!/bin/sh\n# troika name=ok\n# troika 1abc=x\n"[..], None, "job.sh")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("Invalid key-value pair"), "{e}");
    }

    #[test]
    fn natives_collapse_and_drop() {
        let s = scan_str(b"#SBATCH -N 1\n#SBATCH --qos=a\n#SBATCH -N 2\n#SBATCH --output=x\n#SBATCH -o y\n#SBATCH -ofoo\n#sbatch -N 2\n#SBATCH\n");
        let n: Vec<_> = s
            .natives
            .iter()
            .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
            .collect();
        assert_eq!(n, vec!["#SBATCH -N 2\n", "#SBATCH --qos=a\n", "#SBATCH -ofoo\n"]);
        assert_eq!(s.removed, vec![(0, 88)]);
    }

    #[test]
    fn shebang_rules() {
        assert_eq!(
            scan_str(b"\n  \n#!/bin/ksh\necho\n").shebang.as_deref(),
            Some(&b"#!/bin/ksh\n"[..])
        );
        assert_eq!(
            scan_str(b"# troika name=x\n#!/bin/bash\n").shebang.as_deref(),
            Some(&b"#!/bin/bash\n"[..])
        );
        assert_eq!(scan_str(b"# comment\n#!/bin/bash\n").shebang, None);
        assert_eq!(scan_str(b"  #!/bin/bash\n").shebang, None);
    }

    #[test]
    fn malformed_native() {
        let err = |s: &[u8], syntax| scan(s, Some(syntax), "j").unwrap_err().to_string();
        const SGE: NativeSyntax = NativeSyntax {
            prefix: "$",
            drop: &[],
            command: "qsub",
            option_name_required: false,
        };
        assert!(err(b"#!/bin/sh\n#SBATCH  \n", &SLURM).starts_with("in j, line 2 Malformed sbatch argument: b' '"));
        assert!(err(b"#SBATCH \r\n", &SLURM).contains("Malformed sbatch argument: b'\\r'"));
        assert!(err(b"#SBATCH =foo\n", &SLURM).contains("Malformed sbatch argument: b'=foo'"));
        assert!(err(b"#$ \t\n", &SGE).starts_with("Malformed qsub argument: b'\\t' (in j, line 1"));
        // One blank after the prefix and nothing else: not a directive.
        for one in [&b"#SBATCH \n"[..], b"#SBATCH\t\n", b"#SBATCH\r\n", b"#SBATCH "] {
            let s = scan(one, Some(&SLURM), "j").unwrap();
            assert!(s.natives.is_empty() && s.removed.is_empty(), "{one:?}");
        }
        assert_eq!(scan(&b"#$ =foo\n"[..], Some(&SGE), "j").unwrap().natives.len(), 1);
    }

    #[test]
    fn troika_keyword_with_blanks_only() {
        assert!(scan_str(b"# troika \n").directives.is_empty());
        let e = scan(&b"#!/bin/sh\n# troika \t\n"[..], None, "j")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("in j, line 2 Invalid key-value pair: b'\\t'"), "{e}");
        let e = scan(&b"# troika n\xe9me=x\n"[..], None, "j").unwrap_err().to_string();
        assert!(
            e.starts_with("in j, line 1 Invalid key-value pair: b'n\\xe9me=x'"),
            "{e}"
        );
    }
}
