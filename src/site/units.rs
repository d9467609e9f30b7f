//! Conversions of generic directive values into the units of schedulers
//! that do not take them as they are: durations (LSF `-W [HH:]MM`, Flux
//! `-t 90m`) and memory sizes (`4G` -> LSF `4GB`, Torque `4gb`).

use crate::error::{Error, Result};
use crate::util::quote_bytes;

/// The forms a generic `walltime` may take, for messages and docs. They are
/// Slurm's (a plain number is minutes, two fields are minutes and seconds),
/// which PBS shares for two and three fields.
pub const WALLTIME_FORMS: &str = "MINUTES, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS";

/// A generic walltime in seconds.
pub fn walltime_seconds(value: &[u8]) -> Result<u64> {
    let bad = || {
        Error::Script(format!(
            "invalid walltime {} (expected {WALLTIME_FORMS})",
            quote_bytes(value)
        ))
    };
    let text = std::str::from_utf8(value).map_err(|_| bad())?.trim();
    let number = |s: &str| -> Result<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u64>().map_err(|_| bad())
    };
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (Some(number(d)?), rest),
        None => (None, text),
    };
    let fields: Vec<u64> = clock.split(':').map(number).collect::<Result<_>>()?;
    let (h, m, s) = match (days.is_some(), fields.as_slice()) {
        (false, [m]) => (0, *m, 0),
        (false, [m, s]) => (0, *m, *s),
        (_, [h, m, s]) => (*h, *m, *s),
        (true, [h]) => (*h, 0, 0),
        (true, [h, m]) => (*h, *m, 0),
        _ => return Err(bad()),
    };
    let total = days
        .unwrap_or(0)
        .checked_mul(86400)
        .and_then(|d| h.checked_mul(3600).and_then(|h| d.checked_add(h)))
        .and_then(|t| m.checked_mul(60).and_then(|m| t.checked_add(m)))
        .and_then(|t| t.checked_add(s))
        .ok_or_else(bad)?;
    Ok(total)
}

/// Whether `value` is already a Flux Standard Duration with a unit
/// (`90s`, `1.5h`, `2d`).
pub fn is_fsd_with_unit(value: &[u8]) -> bool {
    let Some((unit, number)) = value.split_last() else {
        return false;
    };
    if !matches!(unit, b's' | b'm' | b'h' | b'd') || number.is_empty() {
        return false;
    }
    let mut parts = number.splitn(2, |c| *c == b'.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next();
    !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

/// How a scheduler writes memory units.
#[derive(Clone, Copy)]
pub enum MemoryStyle {
    /// `KB`, `MB`, `GB`, `TB`, `PB` (LSF).
    Upper,
    /// `kb`, `mb`, `gb`, `tb`, `pb` (Torque).
    Lower,
}

/// A memory size, an integer with an optional unit: `K`, `M`, `G`, `T`, `P`
/// (Slurm's) or the same with `B`, in any case. A number without unit is
/// passed as it is (the scheduler's default unit applies).
pub fn memory(value: &[u8], style: MemoryStyle) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(value).unwrap_or("").trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit_up = unit.to_ascii_uppercase();
    let letter = match unit_up.as_str() {
        "" => None,
        "K" | "KB" => Some("K"),
        "M" | "MB" => Some("M"),
        "G" | "GB" => Some("G"),
        "T" | "TB" => Some("T"),
        "P" | "PB" => Some("P"),
        _ => None,
    };
    if number.is_empty() || (letter.is_none() && !unit.is_empty()) {
        return Err(Error::Script(format!(
            "invalid memory size {} (expected an integer with an optional unit K, M, G, T or P, e.g. 4G)",
            quote_bytes(value)
        )));
    }
    let unit = match (letter, style) {
        (None, _) => String::new(),
        (Some(l), MemoryStyle::Upper) => format!("{l}B"),
        (Some(l), MemoryStyle::Lower) => format!("{}b", l.to_ascii_lowercase()),
    };
    Ok(format!("{number}{unit}").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walltimes() {
        for (v, s) in [
            ("30", 1800),
            ("01:30", 90),
            ("01:30:00", 5400),
            ("100:00:01", 360001),
            ("2-0", 172800),
            ("1-02:03", 93780),
            ("1-02:03:04", 93784),
            (" 00:00:45 ", 45),
        ] {
            assert_eq!(walltime_seconds(v.as_bytes()).unwrap(), s, "{v}");
        }
        for bad in ["", "1h", "1:2:3:4", "a:00", "-1", "1-", "1:-1", "99999999999999999999"] {
            let e = walltime_seconds(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("invalid walltime"), "{bad}: {e}");
        }
    }

    #[test]
    fn flux_durations() {
        for ok in ["90s", "1.5h", "2d", "10m"] {
            assert!(is_fsd_with_unit(ok.as_bytes()), "{ok}");
        }
        for no in ["90", "h", "1.h", ".5h", "1x", "01:00:00"] {
            assert!(!is_fsd_with_unit(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn memory_sizes() {
        let up = |v: &str| String::from_utf8(memory(v.as_bytes(), MemoryStyle::Upper).unwrap()).unwrap();
        let low = |v: &str| String::from_utf8(memory(v.as_bytes(), MemoryStyle::Lower).unwrap()).unwrap();
        assert_eq!(up("4G"), "4GB");
        assert_eq!(up("4000mb"), "4000MB");
        assert_eq!(up("2048"), "2048");
        assert_eq!(low("4G"), "4gb");
        assert_eq!(low("512KB"), "512kb");
        for bad in ["", "G", "4.5G", "4X", "4 GB"] {
            assert!(memory(bad.as_bytes(), MemoryStyle::Upper).is_err(), "{bad}");
        }
    }
}
