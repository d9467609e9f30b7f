//! The units library: one parser for wall-clock limits, one for memory
//! sizes, and one formatter per scheduler [`Style`]. The resource
//! translators (`resources`, `normalise_memory`, `normalise_walltime`) and
//! the site tables that convert values on their own (LSF `-W` and `-M`,
//! Flux `-t`, Torque `mem`/`pmem`, PBS `select`) all read values here, so a
//! value that one of them accepts, all of them accept.
//!
//! Edge cases, decided once:
//!
//! - a plain number is minutes for a limit (`90`, as Slurm's `--time=90`)
//!   and megabytes for a size (`4096`);
//! - the fields of a colon form after the first are not limited to 59 (nor
//!   hours after days to 23): `1:75` is one minute and 75 seconds, 135
//!   seconds, as troika's LSF and Flux conversions have always read it;
//! - units count in 1024s (`1G` is 1024 `M`), whatever the spelling (`G`,
//!   `GB`, `gb`, `GiB`);
//! - anything that does not fit in 64 bits (seconds, KiB) is an error.

use crate::error::{Error, Result};
use crate::util::{quote, quote_bytes};

/// The forms of a wall-clock limit, for messages.
pub const WALLTIME_FORMS: &str = "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or units such as 1h30m or 5400s";

/// The forms of a memory size, for messages.
pub const MEMORY_FORMS: &str =
    "a number with an optional unit K, M, G, T or P, such as 4G, 4GiB, 1.5G or 4096M; plain numbers are megabytes";

/// Parses a wall-clock limit: minutes (`90`), `MM:SS`, `HH:MM:SS`, `D-HH`,
/// `D-HH:MM`, `D-HH:MM:SS`, or units `d`, `h`, `m`, `s` (any case), largest
/// first, each at most once (`1h30m`, `2d`, `5400s`, `1h 30m`). Returns
/// seconds.
pub fn parse_walltime(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let invalid = |why: &str| {
        format!(
            "invalid wall-clock limit {}{why} (expected {WALLTIME_FORMS})",
            quote(text)
        )
    };
    let too_large = || format!("wall-clock limit {} is too large", quote(text));
    let number = |s: &str| -> std::result::Result<u64, String> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(invalid(""));
        }
        s.parse::<u64>().map_err(|_| too_large())
    };
    let total = |parts: &[(u64, u64)]| -> std::result::Result<u64, String> {
        parts.iter().try_fold(0u64, |acc, (n, unit)| {
            n.checked_mul(*unit)
                .and_then(|v| acc.checked_add(v))
                .ok_or_else(too_large)
        })
    };
    if t.is_empty() {
        return Err(invalid(""));
    }
    if t.bytes().all(|c| c.is_ascii_digit()) {
        return total(&[(number(t)?, 60)]);
    }
    if t.contains(':') || t.contains('-') {
        let (days, clock) = match t.split_once('-') {
            Some((d, c)) => (Some(number(d)?), c),
            None => (None, t),
        };
        let fields = clock
            .split(':')
            .map(number)
            .collect::<std::result::Result<Vec<u64>, String>>()?;
        let (h, m, s) = match (days, fields.as_slice()) {
            (Some(_), [h]) => (*h, 0, 0),
            (Some(_), [h, m]) => (*h, *m, 0),
            (_, [h, m, s]) => (*h, *m, *s),
            (None, [m, s]) => (0, *m, *s),
            _ => return Err(invalid("")),
        };
        return total(&[(days.unwrap_or(0), 86400), (h, 3600), (m, 60), (s, 1)]);
    }
    // Units, largest first, each at most once: 1d2h3m4s.
    let mut parts = Vec::new();
    let mut rest = t;
    let mut last_rank = None;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n = number(&rest[..digits])?;
        let mut chars = rest[digits..].chars();
        let (rank, secs) = match chars.next().map(|c| c.to_ascii_lowercase()) {
            Some('d') => (0, 86400),
            Some('h') => (1, 3600),
            Some('m') => (2, 60),
            Some('s') => (3, 1),
            _ => return Err(invalid("")),
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(invalid(": units must be given once each, from days to seconds"));
        }
        last_rank = Some(rank);
        parts.push((n, secs));
        rest = chars.as_str().trim_start();
    }
    total(&parts)
}

/// Parses a memory size: an integer or decimal number with an optional unit
/// `K`, `M`, `G`, `T` or `P` (any case, optionally followed by `B` or `iB`;
/// multiples of 1024), blanks allowed before the unit. Plain numbers are
/// megabytes. Returns KiB; a decimal size must be a whole number of KiB.
pub fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let num_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = (&t[..num_len], t[num_len..].trim_start());
    let invalid = || format!("invalid size {} (expected {MEMORY_FORMS})", quote(text));
    if num.is_empty() {
        return Err(invalid());
    }
    let unit_kib: u128 = match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" | "kib" => 1,
        "" | "m" | "mb" | "mib" => 1 << 10,
        "g" | "gb" | "gib" => 1 << 20,
        "t" | "tb" | "tib" => 1 << 30,
        "p" | "pb" | "pib" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {}: unknown unit {} (expected {MEMORY_FORMS})",
                quote(text),
                quote(unit)
            ))
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || (num.contains('.') && frac.is_empty()) || frac.contains('.') {
        return Err(invalid());
    }
    let too_large = || format!("size {} is too large", quote(text));
    let fractional = || {
        format!(
            "size {} is not a whole number of kilobytes: write it with a smaller unit",
            quote(text)
        )
    };
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.len() > 20 {
        return Err(too_large());
    }
    if frac.len() > 18 {
        return Err(fractional());
    }
    let scale = 10u128.pow(frac.len() as u32);
    // At most 38 digits: fits in a u128.
    let mantissa = format!("{int}{frac}").parse::<u128>().unwrap_or(0);
    let scaled = mantissa.checked_mul(unit_kib).ok_or_else(too_large)?;
    if scaled % scale != 0 {
        return Err(fractional());
    }
    u64::try_from(scaled / scale).map_err(|_| too_large())
}

/// A generic `walltime` directive value in seconds, for site tables.
pub fn walltime_seconds(value: &[u8]) -> Result<u64> {
    let text = std::str::from_utf8(value).map_err(|_| {
        Error::Script(format!(
            "invalid wall-clock limit {} (expected {WALLTIME_FORMS})",
            quote_bytes(value)
        ))
    })?;
    parse_walltime(text).map_err(Error::Script)
}

/// A count above zero (nodes, tasks, GPUs) in directive `name`; `who`
/// names the scheduler in the error.
pub fn count(who: &str, name: &str, v: &[u8]) -> Result<u64> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            Error::Script(format!(
                "{who}: invalid {name} {} (expected a whole number above zero)",
                quote_bytes(v)
            ))
        })
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

/// How a scheduler writes memory sizes and wall-clock limits: the value that
/// the resource translators write into a directive, which the site's table
/// then writes as it is or converts (LSF's `-W`). Each site type names its
/// style (`ScriptSyntax::units`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Sizes `<n>K|M|G|T`; limits `HH:MM:SS`, or `D-HH:MM:SS` from one day.
    /// Zero stays `0`: Slurm reads it as "all the memory of the node" and
    /// "no time limit".
    Slurm,
    /// Sizes `<n>kb|mb|gb|tb`; limits `HH:MM:SS` (hours may exceed 23).
    Pbs,
    /// Sizes `<n>K|M|G` (Grid Engine has no `T`); limits `HH:MM:SS`.
    Sge,
    /// As PBS: sizes `<n>kb|mb|gb|tb`, limits `HH:MM:SS`.
    Torque,
    /// Sizes `<n>KB|MB|GB|TB`; limits in whole minutes, rounded up (`90`,
    /// LSF's `-W [HH:]MM` without hours; the LSF table writes `-W 1:30`).
    Lsf,
    /// Limits as Flux Standard Durations: whole minutes `90m`, else seconds
    /// `5400s`; sizes as Slurm's (no `flux batch` option takes them).
    Flux,
    /// Values are checked and left as written (`templated` sites, whose
    /// table comes from the configuration).
    AsWritten,
}

/// A size in KiB as a generic directive gives it (`4G`, `1536M`, `0`).
pub fn generic_memory(kib: u64) -> std::result::Result<String, String> {
    Style::AsWritten.memory(kib)
}

impl Style {
    /// The styles that the site key `resource_format` names.
    pub const NAMED: &'static [(&'static str, Style)] = &[
        ("slurm", Style::Slurm),
        ("pbs", Style::Pbs),
        ("sge", Style::Sge),
        ("torque", Style::Torque),
        ("lsf", Style::Lsf),
        ("flux", Style::Flux),
        ("as_written", Style::AsWritten),
    ];

    /// The style called `name` in [`Style::NAMED`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMED.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// The names of [`Style::NAMED`], for messages: `slurm, pbs, ...`.
    pub fn names() -> String {
        Self::NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }

    /// Units from the largest, and how many KiB each is.
    fn memory_units(self) -> &'static [(u64, &'static str)] {
        const K: u64 = 1;
        const M: u64 = 1 << 10;
        const G: u64 = 1 << 20;
        const T: u64 = 1 << 30;
        match self {
            Style::Slurm | Style::Flux | Style::AsWritten => &[(T, "T"), (G, "G"), (M, "M"), (K, "K")],
            Style::Pbs | Style::Torque => &[(T, "tb"), (G, "gb"), (M, "mb"), (K, "kb")],
            Style::Sge => &[(G, "G"), (M, "M"), (K, "K")],
            Style::Lsf => &[(T, "TB"), (G, "GB"), (M, "MB"), (K, "KB")],
        }
    }

    /// Zero is a value of its own for Slurm (no limit); the other
    /// schedulers refuse it.
    fn takes_zero(self) -> bool {
        matches!(self, Style::Slurm | Style::Flux | Style::AsWritten)
    }

    /// Writes a size given in KiB, with the largest unit that divides it.
    pub fn memory(self, kib: u64) -> std::result::Result<String, String> {
        if kib == 0 {
            return match self {
                Style::Slurm | Style::AsWritten => Ok("0".into()),
                _ => Err("a size of zero is not accepted by this scheduler".into()),
            };
        }
        let units = self.memory_units();
        // K divides everything.
        let (div, unit) = units
            .iter()
            .copied()
            .find(|(d, _)| kib % d == 0)
            .unwrap_or(units[units.len() - 1]);
        Ok(format!("{}{unit}", kib / div))
    }

    /// Writes a wall-clock limit given in seconds.
    pub fn walltime(self, secs: u64) -> std::result::Result<String, String> {
        if secs == 0 && !self.takes_zero() {
            return Err("a wall-clock limit of zero is not accepted by this scheduler".into());
        }
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        Ok(match self {
            Style::Slurm | Style::AsWritten if secs == 0 => "0".into(),
            Style::Slurm | Style::AsWritten if h >= 24 => format!("{}-{:02}:{m:02}:{s:02}", h / 24, h % 24),
            Style::Lsf => secs.div_ceil(60).to_string(),
            Style::Flux if secs % 60 == 0 => format!("{}m", secs / 60),
            Style::Flux => format!("{secs}s"),
            _ => format!("{h:02}:{m:02}:{s:02}"),
        })
    }

    /// A memory directive's value rewritten in this style (left as written
    /// by [`Style::AsWritten`], once checked).
    pub fn rewrite_memory(self, text: &str) -> std::result::Result<String, String> {
        let kib = parse_memory(text)?;
        match self {
            Style::AsWritten => Ok(text.trim().to_string()),
            _ => self.memory(kib),
        }
    }

    /// A `walltime` directive's value rewritten in this style (left as
    /// written by [`Style::AsWritten`], once checked).
    pub fn rewrite_walltime(self, text: &str) -> std::result::Result<String, String> {
        let secs = parse_walltime(text)?;
        match self {
            Style::AsWritten => Ok(text.trim().to_string()),
            _ => self.walltime(secs),
        }
    }
}

/// A memory size for a site table that converts sizes by itself (LSF `-M`,
/// Torque `mem`), without a resource translator. A whole number with or
/// without unit keeps its number as written, as before the units library:
/// `4G` becomes `4GB` (LSF) or `4gb` (Torque), `4096M` stays `4096MB`, and a
/// number without unit is passed unchanged (the scheduler's default unit
/// applies). Any other size [`parse_memory`] accepts (`1.5G`, `4GiB`) is
/// written by `style` (`1536MB`).
pub fn table_memory(value: &[u8], style: Style) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(value)
        .map_err(|_| Error::Script(format!("invalid size {} (expected {MEMORY_FORMS})", quote_bytes(value))))?;
    let kib = parse_memory(text).map_err(Error::Script)?;
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = t.split_at(digits);
    let letter = match unit.as_bytes() {
        [] => return Ok(number.as_bytes().to_vec()),
        [l] | [l, b'b' | b'B'] if b"kmgtpKMGTP".contains(l) => l.to_ascii_uppercase(),
        _ => return style.memory(kib).map(String::into_bytes).map_err(Error::Script),
    };
    let unit = match style {
        Style::Pbs | Style::Torque => format!("{}b", letter.to_ascii_lowercase() as char),
        _ => format!("{}B", letter as char),
    };
    Ok(format!("{number}{unit}").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB_PER_GIB: u64 = 1 << 20;

    /// Each of `texts` is refused by `parse` as too large.
    fn too_large(parse: fn(&str) -> std::result::Result<u64, String>, texts: &[&str]) {
        for text in texts {
            assert!(parse(text).unwrap_err().contains("too large"), "{text}");
        }
    }

    #[test]
    fn walltime_forms() {
        for (text, secs) in [
            ("90", 5400),
            ("30", 1800),
            ("0", 0),
            ("5400s", 5400),
            ("90:00", 5400),
            ("01:30", 90),
            ("1:30:00", 5400),
            ("01:30:00", 5400),
            ("48:00:00", 172800),
            ("100:00:01", 360001),
            ("00:00:59", 59),
            ("1-00:00:00", 86400),
            ("2-00:00:00", 172800),
            ("2-0", 172800),
            ("2-03:04:05", 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
            ("1-12", 86400 + 12 * 3600),
            ("1-12:30", 86400 + 12 * 3600 + 1800),
            ("1h30m", 5400),
            ("1H30M", 5400),
            ("90m", 5400),
            ("2d", 172800),
            ("1d2h3m4s", 93784),
            ("1h 30m", 5400),
            ("45s", 45),
            (" 1:00:00 ", 3600),
            (" 00:00:45 ", 45),
            // Fields are not limited to 59 (or 23 after days).
            ("1:75", 135),
            ("1:75:00", 3600 + 75 * 60),
            ("1-24:00:00", 172800),
        ] {
            assert_eq!(parse_walltime(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn walltime_errors() {
        for text in [
            "",
            "1:2:3:4",
            "1-",
            "-1:00",
            "-1",
            "1:",
            ":30",
            "1h30",
            "30m1h",
            "1h1h",
            "1.5h",
            "1x",
            "h",
            "1-2-3",
            "01:30:00.5",
            "-5",
            "1 h 30",
            "a:00",
            "1:-1",
        ] {
            let e = parse_walltime(text).unwrap_err();
            assert!(e.contains("invalid wall-clock limit"), "{text}: {e}");
            assert!(e.contains("HH:MM:SS"), "{text}: {e}");
        }
        assert!(parse_walltime("30m1h")
            .unwrap_err()
            .contains("once each, from days to seconds"));
        assert_eq!(parse_walltime("307445734561825860"), Ok(307445734561825860 * 60));
        assert_eq!(parse_walltime("18446744073709551615s"), Ok(u64::MAX));
        too_large(
            parse_walltime,
            &[
                "307445734561825861",
                "18446744073709551616s",
                "18446744073709551616",
                "99999999999999999999",
                "213503982334602-00:00:00",
                "5124095576030432h",
                "99999999999999999999d",
                "5124095576030431:59:59",
            ],
        );
        let e = walltime_seconds(b"\xff").unwrap_err().to_string();
        assert!(e.contains("invalid wall-clock limit"), "{e}");
    }

    #[test]
    fn memory_forms() {
        for (text, kib) in [
            ("4G", 4 * KIB_PER_GIB),
            ("4GB", 4 * KIB_PER_GIB),
            ("4gb", 4 * KIB_PER_GIB),
            ("4GiB", 4 * KIB_PER_GIB),
            ("4 G", 4 * KIB_PER_GIB),
            (" 4g ", 4 * KIB_PER_GIB),
            ("4096M", 4 * KIB_PER_GIB),
            ("4096", 4 * KIB_PER_GIB),
            ("1536M", 1536 * 1024),
            ("1536mb", 1536 * 1024),
            ("512K", 512),
            ("512kb", 512),
            ("2T", 2 << 30),
            ("2tb", 2 << 30),
            ("1P", 1 << 40),
            ("1PiB", 1 << 40),
            ("1.5G", 1536 * 1024),
            ("0.5M", 512),
            ("1.50G", 1536 * 1024),
            ("007G", 7 * KIB_PER_GIB),
            ("0", 0),
            ("0G", 0),
        ] {
            assert_eq!(parse_memory(text), Ok(kib), "{text}");
        }
    }

    #[test]
    fn memory_errors() {
        for text in [
            "", " ", "G", "4X", "4 GBs", "-4G", "+4G", "4.G", ".5G", "1.2.3G", "4e3M", "4,5G", "4B",
        ] {
            let e = parse_memory(text).unwrap_err();
            assert!(e.contains("invalid size"), "{text}: {e}");
            assert!(e.contains("plain numbers are megabytes"), "{text}: {e}");
        }
        let e = parse_memory("0.3K").unwrap_err();
        assert!(e.contains("not a whole number of kilobytes"), "{e}");
        assert!(parse_memory("1.0001M").is_err());
        // The largest representable size and one past it.
        assert_eq!(parse_memory("18446744073709551615K"), Ok(u64::MAX));
        too_large(
            parse_memory,
            &[
                "18446744073709551616K",
                "17179869184T",
                "16777216P",
                "999999999999999999999999G",
                "99999999999999999999.999999999999999999T",
            ],
        );
        assert!(parse_memory("1.0000000000000000000001G")
            .unwrap_err()
            .contains("not a whole number"));
    }

    #[test]
    fn memory_formatters() {
        use Style::*;
        let g = KIB_PER_GIB;
        let cases: [(u64, [&str; 6]); 7] = [
            (4 * g, ["4G", "4gb", "4G", "4gb", "4GB", "4G"]),
            (1536 * 1024, ["1536M", "1536mb", "1536M", "1536mb", "1536MB", "1536M"]),
            (512, ["512K", "512kb", "512K", "512kb", "512KB", "512K"]),
            (2 << 30, ["2T", "2tb", "2048G", "2tb", "2TB", "2T"]),
            (1 << 40, ["1024T", "1024tb", "1048576G", "1024tb", "1024TB", "1024T"]),
            (1536, ["1536K", "1536kb", "1536K", "1536kb", "1536KB", "1536K"]),
            (1025 * 1024, ["1025M", "1025mb", "1025M", "1025mb", "1025MB", "1025M"]),
        ];
        for (kib, want) in cases {
            for (style, w) in [Slurm, Pbs, Sge, Torque, Lsf, Flux].into_iter().zip(want) {
                assert_eq!(style.memory(kib).unwrap(), w, "{style:?} {kib}");
            }
        }
        assert_eq!(Slurm.memory(0).unwrap(), "0");
        for style in [Pbs, Sge, Torque, Lsf, Flux] {
            assert!(style.memory(0).unwrap_err().contains("zero"), "{style:?}");
        }
        assert_eq!(Slurm.memory(u64::MAX).unwrap(), format!("{}K", u64::MAX));
    }

    #[test]
    fn walltime_formatters() {
        use Style::*;
        for (secs, want) in [
            (5400, ["01:30:00", "01:30:00", "01:30:00", "01:30:00", "90", "90m"]),
            (
                86399,
                ["23:59:59", "23:59:59", "23:59:59", "23:59:59", "1440", "86399s"],
            ),
            (
                86400,
                ["1-00:00:00", "24:00:00", "24:00:00", "24:00:00", "1440", "1440m"],
            ),
            (
                93784,
                ["1-02:03:04", "26:03:04", "26:03:04", "26:03:04", "1564", "93784s"],
            ),
            (59, ["00:00:59", "00:00:59", "00:00:59", "00:00:59", "1", "59s"]),
        ] {
            for (style, w) in [Slurm, Pbs, Sge, Torque, Lsf, Flux].into_iter().zip(want) {
                assert_eq!(style.walltime(secs).unwrap(), w, "{style:?} {secs}");
            }
        }
        assert_eq!(Slurm.walltime(0).unwrap(), "0");
        assert_eq!(Flux.walltime(0).unwrap(), "0m");
        for style in [Pbs, Sge, Torque, Lsf] {
            assert!(style.walltime(0).unwrap_err().contains("zero"), "{style:?}");
        }
        assert_eq!(Pbs.walltime(u64::MAX).unwrap(), "5124095576030431:00:15");
        assert_eq!(Lsf.walltime(u64::MAX).unwrap(), (u64::MAX / 60 + 1).to_string());
    }

    #[test]
    fn rewriting_and_styles_by_name() {
        assert_eq!(Style::Lsf.rewrite_memory("1.5G").unwrap(), "1536MB");
        assert_eq!(Style::Torque.rewrite_walltime("1h30m").unwrap(), "01:30:00");
        assert_eq!(Style::AsWritten.rewrite_memory(" 1.5G ").unwrap(), "1.5G");
        assert_eq!(Style::AsWritten.rewrite_walltime("1h30m").unwrap(), "1h30m");
        assert!(Style::AsWritten.rewrite_walltime("1h30").is_err());
        assert!(Style::AsWritten.rewrite_memory("lots").is_err());
        for (name, style) in Style::NAMED {
            assert_eq!(Style::from_name(name), Some(*style));
        }
        assert_eq!(Style::from_name("direct"), None);
        assert_eq!(Style::names(), "slurm, pbs, sge, torque, lsf, flux, as_written");
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
    fn table_memory_keeps_whole_numbers_as_written() {
        let t = |v: &str, s| String::from_utf8(table_memory(v.as_bytes(), s).unwrap()).unwrap();
        let (up, low) = (Style::Lsf, Style::Torque);
        // As before the units library.
        assert_eq!(t("4G", up), "4GB");
        assert_eq!(t("4000mb", up), "4000MB");
        assert_eq!(t("4096M", up), "4096MB");
        assert_eq!(t("2048", up), "2048");
        assert_eq!(t("0", up), "0");
        assert_eq!(t("007g", up), "007GB");
        assert_eq!(t("1P", up), "1PB");
        assert_eq!(t("4G", low), "4gb");
        assert_eq!(t("512KB", low), "512kb");
        // The other forms, converted.
        assert_eq!(t("1.5G", up), "1536MB");
        assert_eq!(t("1.5G", low), "1536mb");
        assert_eq!(t("4GiB", up), "4GB");
        assert_eq!(t("4 GB", low), "4gb");
        assert_eq!(t("0.5", up), "512KB");
        for bad in ["", "G", "4X", "1.5.G", "0.3K", "99999999999999999999999G"] {
            assert!(table_memory(bad.as_bytes(), up).is_err(), "{bad}");
        }
        assert!(table_memory(b"0.0G", up).unwrap_err().to_string().contains("zero"));
    }
}
