//! Reads a job script once, line by line, and finds what troika acts on:
//! `# troika name=value` directives, the scheduler's native directives and the
//! shebang. The body is not kept in memory: only the byte ranges of the lines
//! that move to the header are recorded, so a 100 MB script costs no more
//! memory than a small one.
//!
//! Scripts are bytes: any encoding, CRLF line ends and a last line without a
//! newline come through unchanged.

use std::io::BufRead;

use super::directives::{valid_name, Directives};
use crate::error::{Error, Result};

/// How a scheduler's own directives look: `#SBATCH --nodes=2`, `#PBS -q x`,
/// `#$ -cwd`. The key of a line is its first word up to any `=`.
#[derive(Clone, Copy, Debug)]
pub struct NativeSyntax {
    /// The word after `#`, e.g. `SBATCH`, `PBS`, `$`.
    pub prefix: &'static str,
    /// Keys that are dropped because troika sets them (output and error files).
    pub drop: &'static [&'static str],
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

/// If `line` is a troika directive (`#`, optional blanks, `troika` in any case,
/// blanks, then text), returns the text after the keyword.
fn troika_directive(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"#")?;
    let rest = skip_ws(rest);
    if rest.len() < 6 || !rest[..6].eq_ignore_ascii_case(b"troika") {
        return None;
    }
    let after = &rest[6..];
    let body = skip_ws(after);
    if body.len() == after.len() {
        return None; // no blank after the keyword
    }
    let body = trim_end_ws(body);
    if body.is_empty() {
        return None;
    }
    Some(body)
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

/// If `line` is a native directive of `syntax`, returns its key. `Err(())`
/// when the prefix is followed by blanks only.
fn native_key(line: &[u8], syntax: &NativeSyntax) -> Option<Result<Vec<u8>, ()>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let rest = skip_ws(line.strip_prefix(b"#")?);
    let rest = rest.strip_prefix(syntax.prefix.as_bytes())?;
    let args = skip_ws(rest);
    if args.len() == rest.len() {
        return None; // `#SBATCH-N` or `#SBATCH` alone
    }
    let word_len = args
        .iter()
        .take_while(|c| !(c.is_ascii_whitespace() || **c == 0x0b))
        .count();
    if word_len == 0 {
        return Some(Err(()));
    }
    let word = &args[..word_len];
    let key = match word.iter().position(|&c| c == b'=') {
        Some(i) => &word[..i],
        None => word,
    };
    Some(Ok(key.to_vec()))
}

/// Scans a script. `name` is used in error messages.
pub fn scan<R: BufRead>(mut reader: R, native: Option<&NativeSyntax>, name: &str) -> Result<Scan> {
    let mut out = Scan::default();
    let mut line = Vec::with_capacity(256);
    let mut offset: u64 = 0;
    let mut lineno = 0usize;
    let mut shebang_decided = false;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::Unexpected(format!("Cannot read script '{name}': {}", crate::error::io_reason(&e))))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let start = offset;
        offset += n as u64;
        let mut consumed = true;
        if let Some(body) = troika_directive(&line) {
            let (key, value) = key_value(body).ok_or_else(|| {
                Error::Script(format!(
                    "{name}, line {lineno}: Invalid key-value pair: {} (expected '# troika name=value', the name made of letters, digits and '_')",
                    crate::util::quote_bytes(body)
                ))
            })?;
            out.directives.set(&String::from_utf8_lossy(key), value.to_vec());
        } else if let Some(found) = native.and_then(|s| native_key(&line, s).map(|k| (s, k))) {
            let (syntax, key) = found;
            let key = key.map_err(|()| {
                Error::Script(format!(
                    "{name}, line {lineno}: Malformed #{} directive: no option after the prefix",
                    syntax.prefix
                ))
            })?;
            if !syntax.drop.iter().any(|d| d.as_bytes() == key.as_slice()) {
                match out.natives.iter_mut().find(|(k, _)| *k == key) {
                    Some(item) => item.1 = line.clone(),
                    None => out.natives.push((key, line.clone())),
                }
            }
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

    const SLURM: NativeSyntax = NativeSyntax {
        prefix: "SBATCH",
        drop: &["-o", "--output", "-e", "--error"],
    };

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
        assert!(scan(&b"#SBATCH  \n"[..], Some(&SLURM), "j").is_err());
    }
}
