//! The status record: a few lines a job writes about itself beside its
//! output file (`OUTPUT.status`), so that its exit code is known even after
//! the scheduler forgot the job. The generated script starts with a short
//! POSIX shell prologue (see [`prologue`]) that writes `start=` when the job
//! starts, and `end=` with `exit=` or `signal=` when it ends; each write
//! replaces the file atomically (a temporary file, then `mv`).

use std::path::{Path, PathBuf};

use crate::util::with_suffix;

/// The suffix of the record, after the output file's name.
pub const SUFFIX: &str = ".status";

/// Where the record of a job with output file `output` is.
pub fn path_for(output: &Path) -> PathBuf {
    with_suffix(output, SUFFIX)
}

/// What a record says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// When the job started, in seconds since the epoch.
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub exit_code: Option<i32>,
    /// The signal that ended the job (a number).
    pub signal: Option<i32>,
}

impl Record {
    /// Reads `key=value` lines; unknown keys and broken lines are skipped.
    pub fn parse(text: &str) -> Record {
        let mut r = Record::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else { continue };
            let v = v.trim();
            match k.trim() {
                "start" => r.start = v.parse().ok(),
                "end" => r.end = v.parse().ok(),
                "exit" => r.exit_code = v.parse().ok(),
                "signal" => r.signal = super::state::signal_number(v),
                _ => {}
            }
        }
        r
    }

    /// Whether the record says how the job ended.
    pub fn ended(&self) -> bool {
        self.end.is_some() && (self.exit_code.is_some() || self.signal.is_some())
    }
}

/// Whether a script run by `shebang` (the `#!` line, `None` without one)
/// can carry the prologue: POSIX shells only.
pub fn shell_can_record(shebang: Option<&[u8]>) -> bool {
    let Some(line) = shebang else { return true };
    let text = String::from_utf8_lossy(line);
    let mut words = text.trim_start_matches("#!").split_whitespace();
    let Some(mut prog) = words.next().map(|w| w.rsplit('/').next().unwrap_or(w)) else {
        return false;
    };
    if prog == "env" {
        match words.find(|w| !w.starts_with('-')) {
            Some(w) => prog = w,
            None => return false,
        }
    }
    matches!(prog, "sh" | "bash" | "ksh" | "zsh" | "dash" | "ash" | "mksh")
}

/// The lines the generated script starts with (after its directives) to
/// write the record of a job whose output file is `output`. Errors of the
/// record (a read-only directory) never stop the job.
pub fn prologue(output: &[u8]) -> Vec<Vec<u8>> {
    let mut file = output.to_vec();
    file.extend_from_slice(SUFFIX.as_bytes());
    let file = crate::util::shell_quote_bytes(&file);
    let mut lines: Vec<Vec<u8>> = vec![
        b"# troika: status record (start, end, exit code or signal), see docs/status.md\n".to_vec(),
        [b"troika_status_file=".as_slice(), &file, b"\n"].concat(),
        b"troika_status_start=$(date +%s)\n".to_vec(),
        b"troika_status() { { printf '%s\\n' \"start=$troika_status_start\" \"$@\" >\"$troika_status_file.$$\" && mv -f \"$troika_status_file.$$\" \"$troika_status_file\"; } 2>/dev/null || :; }\n".to_vec(),
        b"troika_status\n".to_vec(),
        b"trap 'troika_status_rc=$?; troika_status \"end=$(date +%s)\" \"exit=$troika_status_rc\"' EXIT\n".to_vec(),
    ];
    for (sig, num) in [("HUP", 1), ("INT", 2), ("TERM", 15), ("XCPU", 24)] {
        lines.push(
            format!(
                "trap 'troika_status \"end=$(date +%s)\" \"signal={sig}\"; trap - EXIT; exit {}' {sig}\n",
                128 + num
            )
            .into_bytes(),
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read() {
        let r = Record::parse("start=100\nend=160\nexit=3\n");
        assert_eq!(
            r,
            Record {
                start: Some(100),
                end: Some(160),
                exit_code: Some(3),
                signal: None
            }
        );
        assert!(r.ended());
        let r = Record::parse("start=100\nend=101\nsignal=TERM\n");
        assert_eq!(r.signal, Some(15));
        assert!(r.ended());
        let r = Record::parse("start=100\n");
        assert!(!r.ended());
        assert_eq!(Record::parse("garbage\nexit=x\n=\n"), Record::default());
    }

    #[test]
    fn only_posix_shells_record() {
        for ok in [
            "#!/bin/sh",
            "#!/bin/bash -l",
            "#!/usr/bin/env bash",
            "#! /bin/ksh",
            "#!/usr/bin/env -S zsh",
        ] {
            assert!(shell_can_record(Some(ok.as_bytes())), "{ok}");
        }
        for no in [
            "#!/usr/bin/python3",
            "#!/bin/csh",
            "#!/usr/bin/env python",
            "#!",
            "#!/usr/bin/env",
        ] {
            assert!(!shell_can_record(Some(no.as_bytes())), "{no}");
        }
        assert!(shell_can_record(None));
    }

    /// The prologue runs under sh: the record says how the job ended.
    #[test]
    fn prologue_records_exit_codes_and_signals() {
        let d = tempfile::tempdir().unwrap();
        let run = |body: &str, name: &str| -> Record {
            let out = d.path().join(name);
            let mut script = b"set -eu\n".to_vec();
            for l in prologue(out.as_os_str().as_encoded_bytes()) {
                script.extend_from_slice(&l);
            }
            script.extend_from_slice(body.as_bytes());
            let path = d.path().join(format!("{name}.sh"));
            std::fs::write(&path, &script).unwrap();
            let _ = std::process::Command::new("sh").arg(&path).status().unwrap();
            Record::parse(&std::fs::read_to_string(path_for(&out)).unwrap())
        };
        let ok = run("echo hi >/dev/null\n", "ok");
        assert_eq!((ok.exit_code, ok.signal), (Some(0), None));
        assert!(ok.start.is_some() && ok.end >= ok.start);
        let failed = run("exit 3\n", "failed");
        assert_eq!(failed.exit_code, Some(3));
        let killed = run("kill -TERM $$\nsleep 5\n", "it's killed");
        assert_eq!((killed.exit_code, killed.signal), (None, Some(15)));
        let set_e = run("false\necho not reached\n", "set-e");
        assert_eq!(set_e.exit_code, Some(1));
        // No temporary file is left behind.
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".status."))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
