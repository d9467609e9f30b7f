//! Signals and kill sequences (`kill_sequence: [[0, SIGTERM], [10, KILL]]`).

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::config::{Node, SiteConfig, Value};
use crate::error::{Error, Result};

/// Steps of a kill: wait this long, then send this signal.
#[derive(Clone, Debug, PartialEq)]
pub struct KillSequence(pub Vec<(Duration, Signal)>);

impl KillSequence {
    /// Only SIGTERM, at once.
    pub fn default_term() -> Self {
        KillSequence(vec![(Duration::ZERO, Signal::SIGTERM)])
    }

    /// Reads `kill_sequence` from a site's configuration.
    pub fn from_config(site: &SiteConfig) -> Result<Option<KillSequence>> {
        let Some(node) = site.get("kill_sequence") else {
            return Ok(None);
        };
        if node.is_null() {
            return Ok(None);
        }
        let bad = |n: &Node, why: String| {
            Error::config(format!(
                "{}: site '{}': Invalid kill sequence: {why}",
                site.at(n),
                site.name
            ))
        };
        let Value::Seq(steps) = &node.value else {
            return Err(bad(
                node,
                format!("expected a list of [seconds, signal] pairs, found {}", node.kind()),
            ));
        };
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let pair = match &step.value {
                Value::Seq(p) if p.len() == 2 => p,
                _ => return Err(bad(step, format!("expected a [seconds, signal] pair, found {}", step))),
            };
            let secs = match &pair[0].value {
                Value::Int(i) => Some(*i as f64),
                Value::Float(f) => Some(*f),
                _ => None,
            };
            let Some(wait) = secs.and_then(crate::util::duration_secs) else {
                return Err(bad(
                    &pair[0],
                    format!(
                        "invalid wait time {} (expected {})",
                        pair[0],
                        crate::util::duration_limit_words()
                    ),
                ));
            };
            let sig = parse_signal(&pair[1]).map_err(|why| bad(&pair[1], why))?;
            out.push((wait, sig));
        }
        // An empty list is no sequence, as in 0.2.7: the site's plain kill.
        Ok((!out.is_empty()).then_some(KillSequence(out)))
    }
}

/// A signal given by number (`15`) or name (`TERM`, `SIGTERM`, `sigterm`).
fn parse_signal(n: &Node) -> std::result::Result<Signal, String> {
    match &n.value {
        Value::Int(i) => i32::try_from(*i)
            .ok()
            .filter(|i| *i > 0)
            .and_then(|i| Signal::try_from(i).ok())
            .ok_or_else(|| format!("Invalid signal: {i}")),
        Value::Str(s) => signal_by_name(s).ok_or_else(|| format!("Invalid signal: {}", crate::util::quote(s))),
        _ => Err(format!("Invalid signal: {n}")),
    }
}

/// Reads `signal_before_end=SIG@TIME` (`USR2@60`, `SIGTERM@5m`): the
/// signal's name without `SIG` (`USR2`), and how long before the
/// wall-clock limit it is sent, in seconds (a plain number is seconds;
/// other walltime forms are read as everywhere else).
pub fn signal_before_end(value: &[u8]) -> Result<(String, u64)> {
    let bad = |why: &str| {
        Error::Script(format!(
            "invalid signal_before_end {}: {why} (expected SIGNAL@SECONDS, such as USR2@60)",
            crate::util::quote_bytes(value)
        ))
    };
    let text = std::str::from_utf8(value).map_err(|_| bad("not text"))?;
    let (sig, time) = text.split_once('@').ok_or_else(|| bad("no '@'"))?;
    let sig = signal_by_name(sig).ok_or_else(|| bad("unknown signal"))?;
    let time = time.trim();
    let secs = match time.bytes().all(|b| b.is_ascii_digit()) && !time.is_empty() {
        true => time.parse::<u64>().map_err(|_| bad("too many seconds"))?,
        false => super::units::parse_walltime(time).map_err(|e| bad(&e))?,
    };
    Ok((sig.as_str().trim_start_matches("SIG").to_string(), secs))
}

/// The translation of `signal_before_end` on a scheduler that cannot send
/// a signal before the wall-clock limit: an error, not a silent job
/// without its warning.
pub fn no_signal_before_end(value: &[u8]) -> Result<Vec<Vec<u8>>> {
    signal_before_end(value)?;
    Err(Error::Script(
        "this scheduler cannot send a signal before the wall-clock limit (Slurm, LSF, Flux and Grid Engine can): \
         remove the directive, or end the job earlier with a shorter walltime"
            .to_string(),
    ))
}

/// The documentation of [`no_signal_before_end`].
pub const NO_SIGNAL_BEFORE_END: &str = "not supported: the submission fails with an error that says so";

/// Looks up a signal name, with or without `SIG`, in any case.
pub fn signal_by_name(s: &str) -> Option<Signal> {
    let up = s.trim().to_ascii_uppercase();
    if let Ok(i) = up.parse::<i32>() {
        return Signal::try_from(i).ok().filter(|_| i > 0);
    }
    let full = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    full.parse::<Signal>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_before_end_values() {
        let ok = |v: &str| signal_before_end(v.as_bytes()).unwrap();
        assert_eq!(ok("USR2@60"), ("USR2".to_string(), 60));
        assert_eq!(ok("sigterm@5m"), ("TERM".to_string(), 300));
        assert_eq!(ok("10@00:02:00"), ("USR1".to_string(), 120));
        for bad in ["USR2", "NOPE@60", "USR2@soon", "@60", "USR2@"] {
            let e = signal_before_end(bad.as_bytes()).unwrap_err().to_string();
            assert!(
                e.contains("invalid signal_before_end") && e.contains("USR2@60"),
                "{bad}: {e}"
            );
        }
        let e = no_signal_before_end(b"USR2@60").unwrap_err().to_string();
        assert!(e.contains("cannot send a signal before the wall-clock limit"), "{e}");
        // A malformed value says so first.
        assert!(no_signal_before_end(b"x").unwrap_err().to_string().contains("invalid"));
    }

    fn seq(yaml: &str) -> Result<Option<KillSequence>> {
        KillSequence::from_config(&SiteConfig::from_yaml("s", yaml).unwrap())
    }

    #[test]
    fn names_and_numbers() {
        let k = seq("kill_sequence: [[0, term], [1, SIGUSR2], [0, Hup], [0, 10], [2.5, KILL]]\n")
            .unwrap()
            .unwrap();
        let sigs: Vec<_> = k.0.iter().map(|(_, s)| *s as i32).collect();
        assert_eq!(sigs, vec![15, 12, 1, 10, 9]);
        assert_eq!(k.0[4].0, Duration::from_millis(2500));
    }

    #[test]
    fn empty_is_none() {
        assert_eq!(seq("kill_sequence: []\n").unwrap(), None);
        assert_eq!(seq("kill_sequence:\n").unwrap(), None);
    }

    #[test]
    fn invalid() {
        for bad in [
            "kill_sequence: [15, 9]\n",
            "kill_sequence: [[0, 0]]\n",
            "kill_sequence: [[0, SIGFOO]]\n",
            "kill_sequence: [[-1, 9]]\n",
        ] {
            let e = seq(bad).unwrap_err().to_string();
            assert!(e.contains("Invalid kill sequence"), "{bad}: {e}");
        }
        assert!(seq("kill_sequence: [[0, SIGFOO]]\n")
            .unwrap_err()
            .to_string()
            .contains("Invalid kill sequence: Invalid signal: 'SIGFOO'"));
    }
}
