//! Job scripts: parse (`parse`), update (`translators`), translate
//! (`translate`) and generate. The generated script replaces the original
//! atomically; the original is kept as `<script>.orig`.

pub mod directives;
pub mod foreign;
pub mod lock;
pub mod parse;
pub mod translate;
pub mod translators;

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub use directives::Directives;
pub use lock::{Replaced, SubmitLock};
pub use parse::{NativeSyntax, Scan};
pub use translate::{Overrides, Table, UnknownPolicy};
pub use translators::Translator;

use crate::error::{Error, Result};
use crate::util::{quote, with_suffix};

/// How a site wants scripts written: its native syntax, directive prefix and
/// table, with the configuration's overrides.
pub struct Profile<'a> {
    pub native: Option<&'a NativeSyntax>,
    /// `#SBATCH ` etc.; `None` generates no directives.
    pub prefix: Option<&'a [u8]>,
    pub table: &'a Table,
    pub overrides: &'a Overrides,
    pub unknown: UnknownPolicy,
    pub default_shebang: Option<&'a [u8]>,
    /// Native directive lines are rewritten with `prefix` (`# flux: -N2`
    /// becomes `#flux: -N2`), for schedulers that reject a mix of prefixes.
    pub rewrite_native: bool,
    /// The scheduler's variable of an array task's index, exported to the
    /// job as `TROIKA_ARRAY_INDEX` when the script asks for an array.
    pub array_index: Option<&'a str>,
    /// Other schedulers' directives read as generic ones (`foreign_directives`);
    /// empty when the site does not read them.
    pub foreign: &'a [&'static foreign::Foreign],
    /// The site type, for messages (`has no translation to slurm`).
    pub target: &'a str,
}

/// What the submit action asks for on top of the script's own directives.
pub struct Request<'a> {
    /// `-D` definitions, in command-line order.
    pub defines: &'a [(String, Vec<u8>)],
    /// The output file (`-o`), which always becomes `output_file`.
    pub output: &'a [u8],
    pub translators: &'a [Box<dyn Translator>],
    /// Add the prologue that writes the job's status record beside its
    /// output file (POSIX shell scripts only).
    pub status_record: bool,
}

/// The directives of a script, read from its foreign lines (`foreign`,
/// which the script's own directives replace), after `-D`, `-o` and the
/// translators.
pub fn effective_with_foreign(scan: &Scan, foreign: &[(&str, String)], req: &Request) -> Result<Directives> {
    let mut d = match foreign.is_empty() {
        true => scan.directives.clone(),
        false => {
            let mut d = Directives::new();
            for (k, v) in foreign {
                d.set(k, v.clone().into_bytes());
            }
            for (k, v) in scan.directives.iter() {
                d.set(k, v.to_vec());
            }
            d
        }
    };
    for (k, v) in req.defines {
        d.set(k, v.clone());
    }
    d.set("output_file", req.output.to_vec());
    for t in req.translators {
        t.apply(&mut d)?;
    }
    Ok(d)
}

/// The header of the generated script: shebang, translated directives,
/// native directives. Every line ends with a newline.
pub fn header(scan: &Scan, directive_lines: Vec<Vec<u8>>, profile: &Profile) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(directive_lines.len() + scan.natives.len() + 1);
    if let Some(s) = &scan.shebang {
        out.push(with_newline(s));
    } else if let Some(d) = profile.default_shebang {
        // Written as configured, as 0.2.7 did: blanks kept, and an empty
        // default makes an empty first line.
        out.push(with_newline(d));
    }
    out.extend(directive_lines);
    let rewrite = match (profile.rewrite_native, profile.prefix, profile.native) {
        (true, Some(p), Some(n)) => Some((p, n)),
        _ => None,
    };
    out.extend(scan.natives.iter().map(|(_, l)| match rewrite {
        Some((prefix, native)) => rewrite_native(l, prefix, native),
        None => with_newline(l),
    }));
    out
}

/// `prefix` followed by the options of native line `l` (what follows `#`,
/// blanks, the native prefix and blanks).
fn rewrite_native(l: &[u8], prefix: &[u8], native: &NativeSyntax) -> Vec<u8> {
    let skip = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_whitespace() && **c != b'\n').count();
    let rest = l.strip_prefix(b"#").unwrap_or(l);
    let rest = &rest[skip(rest)..];
    let rest = rest.strip_prefix(native.prefix.as_bytes()).unwrap_or(rest);
    let rest = &rest[skip(rest)..];
    with_newline(&[prefix, rest].concat())
}

fn with_newline(l: &[u8]) -> Vec<u8> {
    let mut v = l.to_vec();
    if !v.ends_with(b"\n") {
        v.push(b'\n');
    }
    v
}

/// Writes the header then the body of `src` (everything but the removed
/// ranges), streaming.
pub fn write_generated<W: Write>(out: &mut W, header: &[Vec<u8>], src: &mut File, scan: &Scan) -> std::io::Result<()> {
    for l in header {
        out.write_all(l)?;
    }
    let mut pos = 0u64;
    for &(start, end) in scan.removed.iter().chain(std::iter::once(&(scan.size, scan.size))) {
        if start > pos {
            src.seek(SeekFrom::Start(pos))?;
            let n = std::io::copy(&mut (&mut *src).take(start - pos), out)?;
            if n != start - pos {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "script changed while it was being read",
                ));
            }
        }
        pos = end;
    }
    Ok(())
}

/// Opens a script for reading, with an error that says what to check.
/// Only a regular file is a script: a FIFO, a device or a directory is
/// refused before anything is read from it.
pub fn open_script(path: &Path) -> Result<File> {
    use crate::util::OpenError;
    let name = quote(&path.display().to_string());
    crate::util::open_regular(path).map_err(|e| {
        Error::invocation(match e {
            OpenError::Io(e) => format!("Cannot read script {name}: {}", crate::error::io_reason(&e)),
            OpenError::NotRegular("a directory") => format!("Script {name} is a directory"),
            OpenError::NotRegular(kind) => format!(
                "Script {name} is {kind}, not a regular file: troika reads the script and rewrites it in place, give it a file"
            ),
        })
    })
}

/// Scans the script at `path` for errors only.
pub fn check(path: &Path, native: Option<&NativeSyntax>) -> Result<()> {
    let file = open_script(path)?;
    parse::scan(BufReader::new(file), native, &path.display().to_string()).map(|_| ())
}

/// Reads the script at `path` and makes the header of the generated
/// script; returns the open script, its scan and the header. With
/// `warn_orig`, warns (where 0.2.7 did) that `<path>.orig` will be replaced.
fn generate(path: &Path, profile: &Profile, req: &Request, warn_orig: bool) -> Result<(File, Scan, Vec<Vec<u8>>)> {
    let file = open_script(path)?;
    let name = path.display().to_string();
    let prefixes: Vec<&str> = profile.foreign.iter().map(|f| f.prefix).collect();
    let scan = parse::scan_with(
        BufReader::with_capacity(64 * 1024, &file),
        profile.native,
        &prefixes,
        &name,
    )?;
    crate::debug!("Translating directives");
    let foreign = read_foreign(&scan, profile, &name)?;
    let directives = effective_with_foreign(&scan, &foreign.directives, req)?;
    // 0.2.7 warns here, before the warnings of the translation and before
    // an unknown directive fails it; the original is replaced only at the end.
    let orig = with_suffix(path, ".orig");
    if warn_orig && orig.exists() {
        crate::warning!(
            "Backup script file {} already exists, overwriting",
            quote(&orig.display().to_string())
        );
    }
    let lines = translate::translate(
        &directives,
        profile.table,
        profile.overrides,
        profile.prefix,
        profile.unknown,
    )?;
    let mut header = header(&scan, lines, profile);
    header.extend(foreign.comments);
    let shell = crate::job::record::shell_can_record(scan.shebang.as_deref().or(profile.default_shebang));
    let array = directives.contains("array");
    if let (true, Some(var)) = (array, profile.array_index) {
        match shell {
            true => {
                header.push(crate::site::array::index_prologue(var));
                // A script written for another scheduler reads its variable.
                for other in foreign.index_vars.iter().filter(|v| **v != var) {
                    header.push(crate::site::array::alias_prologue(other));
                }
            }
            false => crate::info!(
                "{} not set in {}: its interpreter is not a POSIX shell (the task index is in {var})",
                crate::site::array::INDEX_VAR,
                quote(&name)
            ),
        }
    }
    if req.status_record && array {
        // Every task would write the same record: an array's status comes
        // from the scheduler, task by task.
        crate::debug!("No status record for the array job {}", quote(&name));
    } else if req.status_record {
        if shell {
            header.extend(crate::job::record::prologue(req.output));
        } else {
            crate::info!(
                "No status record for {}: its interpreter is not a POSIX shell",
                quote(&name)
            );
        }
    }
    Ok((file, scan, header))
}

/// Writes the script that a submission of `path` would generate to `out`,
/// streaming, changing no file. A reader that stops reading (`| head`) is
/// not an error.
pub fn generate_to<W: Write>(path: &Path, profile: &Profile, req: &Request, out: &mut W) -> Result<()> {
    let (mut file, scan, header) = generate(path, profile, req, false)?;
    let name = path.display().to_string();
    match write_generated(out, &header, &mut file, &scan).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io(format!(
            "Cannot write the script generated from {}: {}",
            quote(&name),
            crate::error::io_reason(&e)
        ))),
        _ => Ok(()),
    }
}

/// Parses, translates and rewrites the script at `path` in place. The
/// original is saved as `<path>.orig`. Nothing is changed when any step
/// fails. The generated script is locked with `lock` before it replaces the
/// original; what was replaced is returned, to be put back if need be.
pub fn preprocess(path: &Path, profile: &Profile, req: &Request, lock: &mut SubmitLock) -> Result<Replaced> {
    let (mut file, scan, header) = generate(path, profile, req, true)?;
    let meta = file.metadata().map_err(|e| Error::io("Cannot read", path, e))?;
    let orig = with_suffix(path, ".orig");
    let mode = meta.permissions().mode() & 0o7777;

    // Generate next to the script, then keep the original and swap.
    let mut generated = crate::util::AtomicFile::create(path)?;
    generated.fill(mode, |w| write_generated(w, &header, &mut file, &scan))?;
    lock.hold(generated.temp_path())?;
    let replaced = Replaced::new(path, &orig)?;
    save_original(path, &orig)?;
    if let Err(e) = generated.commit() {
        // The script is still the original: put the previous .orig back.
        if let Err(r) = replaced.restore_orig() {
            crate::error!("{r}");
        }
        return Err(e);
    }
    crate::debug!(
        "Script generated. Original script saved to {}",
        quote(&orig.display().to_string())
    );
    Ok(replaced)
}

/// Reads the foreign lines of a scan, and reports what has no translation
/// as the site's `unknown_directive` says.
pub fn read_foreign(scan: &Scan, profile: &Profile, name: &str) -> Result<foreign::Read> {
    if scan.foreign.is_empty() {
        return Ok(foreign::Read::default());
    }
    let read = foreign::read_lines(&scan.foreign, profile.foreign, profile.target);
    if !read.untranslated.is_empty() {
        match profile.unknown {
            UnknownPolicy::Fail => {
                return Err(Error::Script(format!(
                    "in {name}: {} (set unknown_directive to warn or ignore to submit without it, or remove the line)",
                    read.untranslated.join("; ")
                )))
            }
            UnknownPolicy::Warn => {
                for m in &read.untranslated {
                    crate::warning!("{m}");
                }
            }
            UnknownPolicy::Ignore => {}
        }
    }
    Ok(read)
}

/// Keeps the original script as `orig`, atomically: a hard link to the
/// original file where the file system allows it, a copy otherwise.
fn save_original(path: &Path, orig: &Path) -> Result<()> {
    let dir = crate::util::parent_dir(path);
    let tmp_name = tempfile::Builder::new()
        .prefix(".orig.")
        .make_in(&dir, |p| std::fs::hard_link(path, p))
        .map(|t| t.into_temp_path());
    match tmp_name {
        Ok(link) => link
            .persist(orig)
            .map_err(|e| Error::io("Cannot save the original script as", orig, e.error))?,
        Err(_) => {
            let data = std::fs::read(path).map_err(|e| Error::io("Cannot read", path, e))?;
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or(0o644);
            crate::util::write_atomic(orig, &data, mode)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_shebang_is_written_as_configured() {
        let overrides = Overrides::new();
        let head = |default: &[u8]| {
            let profile = Profile {
                native: None,
                prefix: None,
                table: &Table::EMPTY,
                overrides: &overrides,
                unknown: UnknownPolicy::Ignore,
                default_shebang: Some(default),
                rewrite_native: false,
                array_index: None,
                foreign: &[],
                target: "test",
            };
            header(&Scan::default(), vec![], &profile)
        };
        assert_eq!(head(b"#!/bin/sh  "), vec![b"#!/bin/sh  \n".to_vec()]);
        assert_eq!(head(b""), vec![b"\n".to_vec()]);
        assert_eq!(head(b"#!/bin/sh\n"), vec![b"#!/bin/sh\n".to_vec()]);
    }
}
