//! Resource computation, opt-in per site by translator name:
//!
//! - `compute_tasks`: the missing one of `total_nodes`, `tasks_per_node` and
//!   `total_tasks` from the other two, contradictions rejected;
//! - `compute_cpus_per_task`: `cpus_per_task` from `threads_per_task`;
//! - `normalise_memory`: memory sizes with units written the way the site's
//!   scheduler reads them;
//! - `normalise_walltime`: wall-clock limits written the way the scheduler
//!   reads them;
//! - `resources`: all four, in that order.
//!
//! The scheduler's way of writing sizes and durations ([`ResourceFormat`])
//! comes from the site type, or from the site's `resource_format` key.

use super::{Translator, TranslatorContext};
use crate::error::{Error, Result};
use crate::script::directives::Directives;
use crate::util::quote;

/// The site key that chooses the [`ResourceFormat`] explicitly.
pub const FORMAT_KEY: &str = "resource_format";

/// The directives that hold memory or disk sizes.
pub const MEMORY_DIRECTIVES: &[&str] = &["memory_per_node", "memory_per_cpu", "tmpdir_size"];

/// How a scheduler reads memory sizes and wall-clock limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceFormat {
    /// Sizes `<n>K|M|G|T`; limits `HH:MM:SS`, or `D-HH:MM:SS` from one day.
    /// Zero stays `0`: Slurm reads it as "all the memory of the node" and
    /// "no time limit".
    Slurm,
    /// Sizes `<n>kb|mb|gb|tb`; limits `HH:MM:SS` (hours may exceed 23).
    Pbs,
    /// Sizes `<n>K|M|G` (Grid Engine has no `T`); limits `HH:MM:SS`.
    Sge,
}

impl ResourceFormat {
    pub const NAMES: &'static [&'static str] = &["slurm", "pbs", "sge"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "slurm" => Some(Self::Slurm),
            "pbs" => Some(Self::Pbs),
            "sge" => Some(Self::Sge),
            _ => None,
        }
    }

    /// The format of a site: its `resource_format` when set, else the one
    /// named like its type. `translator` names the translator in errors.
    pub fn for_site(ctx: &TranslatorContext, translator: &str) -> Result<Self> {
        let names = Self::NAMES.join(", ");
        if let Some(f) = ctx.site.opt_str(FORMAT_KEY)? {
            return Self::parse(&f).ok_or_else(|| {
                let at = ctx.site.get(FORMAT_KEY).map(|n| ctx.site.at(n)).unwrap_or_default();
                Error::config(format!(
                    "{at}: site '{}': unknown {FORMAT_KEY} {} (expected one of {names})",
                    ctx.site.name,
                    quote(&f)
                ))
            });
        }
        Self::parse(ctx.site_type).ok_or_else(|| {
            Error::config(format!(
                "Site '{}': translator '{translator}' does not know how sites of type '{}' write memory sizes and wall-clock limits: set '{FORMAT_KEY}' to one of {names}",
                ctx.site.name, ctx.site_type
            ))
        })
    }

    /// Writes a size given in KiB.
    pub fn memory(self, kib: u64) -> std::result::Result<String, String> {
        const K: u64 = 1;
        const M: u64 = 1 << 10;
        const G: u64 = 1 << 20;
        const T: u64 = 1 << 30;
        let units: &[(u64, &str)] = match self {
            Self::Slurm => &[(T, "T"), (G, "G"), (M, "M"), (K, "K")],
            Self::Pbs => &[(T, "tb"), (G, "gb"), (M, "mb"), (K, "kb")],
            Self::Sge => &[(G, "G"), (M, "M"), (K, "K")],
        };
        if kib == 0 {
            return match self {
                Self::Slurm => Ok("0".into()),
                _ => Err("a size of zero is not accepted by this scheduler".into()),
            };
        }
        // The largest unit that divides the size exactly; K divides everything.
        let (div, unit) = units
            .iter()
            .copied()
            .find(|(d, _)| kib % d == 0)
            .unwrap_or(units[units.len() - 1]);
        Ok(format!("{}{unit}", kib / div))
    }

    /// Writes a wall-clock limit given in seconds.
    pub fn walltime(self, secs: u64) -> std::result::Result<String, String> {
        if secs == 0 {
            return match self {
                Self::Slurm => Ok("0".into()),
                _ => Err("a wall-clock limit of zero is not accepted by this scheduler".into()),
            };
        }
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        Ok(match self {
            Self::Slurm if h >= 24 => format!("{}-{:02}:{m:02}:{s:02}", h / 24, h % 24),
            _ => format!("{h:02}:{m:02}:{s:02}"),
        })
    }
}

/// Parses a memory size: an integer or decimal number with an optional unit
/// `K`, `M`, `G` or `T` (any case, optionally followed by `B` or `iB`;
/// multiples of 1024 as in Slurm and PBS). Plain numbers are megabytes.
/// Returns the size in KiB; a decimal size must be a whole number of KiB.
pub fn parse_memory(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let num_len = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = (&t[..num_len], t[num_len..].trim_start());
    let expected =
        "expected a whole number with an optional unit K, M, G or T, such as 4G or 1536M; plain numbers are megabytes";
    if num.is_empty() {
        return Err(format!("invalid size {} ({expected})", quote(text)));
    }
    let unit_kib: u128 = match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" | "kib" => 1,
        "" | "m" | "mb" | "mib" => 1 << 10,
        "g" | "gb" | "gib" => 1 << 20,
        "t" | "tb" | "tib" => 1 << 30,
        _ => {
            return Err(format!(
                "invalid size {}: unknown unit {} ({expected})",
                quote(text),
                quote(unit)
            ))
        }
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() || (num.contains('.') && frac.is_empty()) || frac.contains('.') {
        return Err(format!("invalid size {} ({expected})", quote(text)));
    }
    let too_large = || format!("size {} is too large", quote(text));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let fractional = || {
        format!(
            "size {} is not a whole number of kilobytes: write it with a smaller unit",
            quote(text)
        )
    };
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

/// Parses a wall-clock limit: minutes (`90`), `MM:SS`, `HH:MM:SS`, `D-HH`,
/// `D-HH:MM`, `D-HH:MM:SS` (Slurm's forms, which PBS shares but for a plain
/// number, seconds there), or units `d`, `h`, `m`, `s` in that order
/// (`1h30m`, `2d`, `5400s`). Returns seconds.
pub fn parse_walltime(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let invalid = |why: &str| {
        format!(
            "invalid wall-clock limit {}{why} (expected minutes, MM:SS, HH:MM:SS, D-HH:MM:SS or units such as 1h30m or 5400s)",
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
    if t.is_empty() {
        return Err(invalid(""));
    }
    if t.bytes().all(|c| c.is_ascii_digit()) {
        return number(t)?.checked_mul(60).ok_or_else(too_large);
    }
    let total = |parts: &[(u64, u64)]| -> std::result::Result<u64, String> {
        parts.iter().try_fold(0u64, |acc, (n, unit)| {
            n.checked_mul(*unit)
                .and_then(|v| acc.checked_add(v))
                .ok_or_else(too_large)
        })
    };
    if t.contains(':') || t.contains('-') {
        let (days, clock) = match t.split_once('-') {
            Some((d, c)) => (Some(number(d)?), c),
            None => (None, t),
        };
        let fields = clock
            .split(':')
            .map(number)
            .collect::<std::result::Result<Vec<u64>, String>>()?;
        let below60 = |v: u64, what: &str| {
            if v < 60 {
                Ok(v)
            } else {
                Err(invalid(&format!(": {what} must be below 60")))
            }
        };
        let (h, m, s) = match (days, fields.as_slice()) {
            (Some(_), [h]) => (*h, 0, 0),
            (Some(_), [h, m]) => (*h, below60(*m, "minutes")?, 0),
            (_, [h, m, s]) => (*h, below60(*m, "minutes")?, below60(*s, "seconds")?),
            (None, [m, s]) => (0, *m, below60(*s, "seconds")?),
            _ => return Err(invalid("")),
        };
        if days.is_some() && h >= 24 {
            return Err(invalid(": hours must be below 24 after a number of days"));
        }
        return total(&[(days.unwrap_or(0), 86400), (h, 3600), (m, 60), (s, 1)]);
    }
    // Units, largest first, each at most once: 1d2h3m4s.
    let mut parts = Vec::new();
    let mut rest = t;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let n = number(&rest[..digits])?;
        let mut chars = rest[digits..].chars();
        let unit = chars.next().map(|c| c.to_ascii_lowercase());
        let (rank, secs) = match unit {
            Some('d') => (0, 86400),
            Some('h') => (1, 3600),
            Some('m') => (2, 60),
            Some('s') => (3, 1),
            _ => return Err(invalid("")),
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(invalid(": units must be given once each, from days to seconds"));
        }
        last_rank = rank;
        parts.push((n, secs));
        rest = chars.as_str().trim_start();
    }
    total(&parts)
}

/// A directive value as text, or an error naming the directive.
fn text<'a>(name: &str, v: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(v).map_err(|_| {
        Error::Script(format!(
            "Directive '{name}': invalid value {}",
            crate::util::quote_bytes(v)
        ))
    })
}

/// A positive integer directive, if present.
fn count(d: &Directives, name: &str) -> Result<Option<u64>> {
    let Some(v) = d.get(name) else {
        return Ok(None);
    };
    let s = text(name, v)?.trim();
    let bad = || {
        Error::Script(format!(
            "Directive '{name}': invalid value {} (expected a whole number greater than zero)",
            quote(s)
        ))
    };
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<u64>() {
        Ok(0) => Err(bad()),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(Error::Script(format!(
            "Directive '{name}': value {} is too large",
            quote(s)
        ))),
    }
}

/// Derives the missing one of `total_nodes`, `tasks_per_node` and
/// `total_tasks`. As in Slurm, `tasks_per_node` is the most a node runs: the
/// three agree when `total_nodes <= total_tasks <= total_nodes *
/// tasks_per_node` (every node has a task, none has more than
/// `tasks_per_node`).
pub struct ComputeTasks;

impl Translator for ComputeTasks {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        let nodes = count(d, "total_nodes")?;
        let per_node = count(d, "tasks_per_node")?;
        let tasks = count(d, "total_tasks")?;
        let overflow = || Error::Script("total_nodes * tasks_per_node is too large".into());
        match (nodes, per_node, tasks) {
            (Some(n), Some(p), Some(t)) => {
                let max = n.checked_mul(p).ok_or_else(overflow)?;
                if t > max || t < n {
                    return Err(Error::Script(format!(
                        "Contradictory directives total_nodes={n}, tasks_per_node={p} and total_tasks={t}: {n} nodes run {} tasks (at least one and at most {p} per node); change or remove one of them",
                        if n == max { n.to_string() } else { format!("{n} to {max}") }
                    )));
                }
            }
            (Some(n), Some(p), None) => {
                let t = n.checked_mul(p).ok_or_else(overflow)?;
                crate::debug!("total_tasks={t} from total_nodes={n} and tasks_per_node={p}");
                d.set("total_tasks", t.to_string().into_bytes());
            }
            (Some(n), None, Some(t)) => {
                if t < n {
                    return Err(Error::Script(format!(
                        "total_tasks={t} is less than total_nodes={n}: some nodes would have no task"
                    )));
                }
                let p = t.div_ceil(n);
                crate::debug!("tasks_per_node={p} from total_nodes={n} and total_tasks={t}");
                d.set("tasks_per_node", p.to_string().into_bytes());
            }
            (None, Some(p), Some(t)) => {
                let n = t.div_ceil(p);
                crate::debug!("total_nodes={n} from tasks_per_node={p} and total_tasks={t}");
                d.set("total_nodes", n.to_string().into_bytes());
            }
            _ => {}
        }
        Ok(())
    }
}

/// Sets `cpus_per_task` from `threads_per_task` when it is missing. The
/// input `threads_per_task` is removed: schedulers have no such option.
pub struct ComputeCpusPerTask;

impl Translator for ComputeCpusPerTask {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        let Some(threads) = count(d, "threads_per_task")? else {
            return Ok(());
        };
        if d.contains("cpus_per_task") {
            count(d, "cpus_per_task")?;
        } else {
            crate::debug!("cpus_per_task={threads} from threads_per_task");
            d.set("cpus_per_task", threads.to_string().into_bytes());
        }
        d.remove("threads_per_task");
        Ok(())
    }
}

/// Writes memory sizes ([`MEMORY_DIRECTIVES`]) in the site's format.
pub struct NormaliseMemory(pub ResourceFormat);

impl Translator for NormaliseMemory {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        for name in MEMORY_DIRECTIVES {
            let Some(v) = d.get(name) else { continue };
            let fail = |m: String| Error::Script(format!("Directive '{name}': {m}"));
            let kib = parse_memory(text(name, v)?).map_err(fail)?;
            let out = self.0.memory(kib).map_err(fail)?;
            d.set(name, out.into_bytes());
        }
        Ok(())
    }
}

/// Writes `walltime` in the site's format.
pub struct NormaliseWalltime(pub ResourceFormat);

impl Translator for NormaliseWalltime {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        let Some(v) = d.get("walltime") else {
            return Ok(());
        };
        let fail = |m: String| Error::Script(format!("Directive 'walltime': {m}"));
        let secs = parse_walltime(text("walltime", v)?).map_err(fail)?;
        let out = self.0.walltime(secs).map_err(fail)?;
        d.set("walltime", out.into_bytes());
        Ok(())
    }
}

/// All the resource translators, in order.
pub struct Resources(pub ResourceFormat);

impl Translator for Resources {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        ComputeTasks.apply(d)?;
        ComputeCpusPerTask.apply(d)?;
        NormaliseMemory(self.0).apply(d)?;
        NormaliseWalltime(self.0).apply(d)
    }
}

pub(super) fn create_memory(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
    Ok(Box::new(NormaliseMemory(ResourceFormat::for_site(
        ctx,
        "normalise_memory",
    )?)))
}

pub(super) fn create_walltime(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
    Ok(Box::new(NormaliseWalltime(ResourceFormat::for_site(
        ctx,
        "normalise_walltime",
    )?)))
}

pub(super) fn create_resources(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
    Ok(Box::new(Resources(ResourceFormat::for_site(ctx, "resources")?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SiteConfig;

    const KIB_PER_GIB: u64 = 1 << 20;

    #[test]
    fn memory_units() {
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
        }
        // Not a whole number of KiB.
        let e = parse_memory("0.3K").unwrap_err();
        assert!(e.contains("not a whole number of kilobytes"), "{e}");
        assert!(parse_memory("1.0001M").is_err());
        // Overflow: the largest representable size and one past it.
        assert_eq!(parse_memory("18446744073709551615K"), Ok(u64::MAX));
        assert!(parse_memory("18446744073709551616K").unwrap_err().contains("too large"));
        assert!(parse_memory("17179869184T").unwrap_err().contains("too large"));
        assert!(parse_memory("999999999999999999999999G")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_memory("1.0000000000000000000001G")
            .unwrap_err()
            .contains("not a whole number"));
        assert!(parse_memory("99999999999999999999.999999999999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn memory_rendering() {
        let g = KIB_PER_GIB;
        let cases = [
            (4 * g, "4G", "4gb", "4G"),
            (1536 * 1024, "1536M", "1536mb", "1536M"),
            (512, "512K", "512kb", "512K"),
            (2 << 30, "2T", "2tb", "2048G"),
            (1536, "1536K", "1536kb", "1536K"),
            (1025 * 1024, "1025M", "1025mb", "1025M"),
        ];
        for (kib, slurm, pbs, sge) in cases {
            assert_eq!(ResourceFormat::Slurm.memory(kib).unwrap(), slurm);
            assert_eq!(ResourceFormat::Pbs.memory(kib).unwrap(), pbs);
            assert_eq!(ResourceFormat::Sge.memory(kib).unwrap(), sge);
        }
        assert_eq!(ResourceFormat::Slurm.memory(0).unwrap(), "0");
        assert!(ResourceFormat::Pbs.memory(0).is_err());
        assert!(ResourceFormat::Sge.memory(0).is_err());
        assert_eq!(
            ResourceFormat::Slurm.memory(u64::MAX).unwrap(),
            format!("{}K", u64::MAX)
        );
    }

    #[test]
    fn walltime_forms() {
        for (text, secs) in [
            ("90", 5400),
            ("0", 0),
            ("5400s", 5400),
            ("90:00", 5400),
            ("1:30:00", 5400),
            ("01:30:00", 5400),
            ("48:00:00", 172800),
            ("00:00:59", 59),
            ("1-00:00:00", 86400),
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
        ] {
            assert_eq!(parse_walltime(text), Ok(secs), "{text}");
        }
    }

    #[test]
    fn walltime_errors() {
        for text in [
            "",
            "1:2:3:4",
            "1:60:00",
            "1:00:60",
            "10:60",
            "1-24:00:00",
            "1-",
            "-1:00",
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
        ] {
            let e = parse_walltime(text).unwrap_err();
            assert!(e.contains("invalid wall-clock limit"), "{text}: {e}");
        }
        assert_eq!(parse_walltime("307445734561825860"), Ok(307445734561825860 * 60));
        assert_eq!(parse_walltime("18446744073709551615s"), Ok(u64::MAX));
        for text in [
            "307445734561825861",
            "18446744073709551616s",
            "18446744073709551616",
            "213503982334602-00:00:00",
            "5124095576030432h",
            "99999999999999999999d",
            "5124095576030431:59:59",
        ] {
            assert!(parse_walltime(text).unwrap_err().contains("too large"), "{text}");
        }
    }

    #[test]
    fn walltime_rendering() {
        use ResourceFormat::*;
        assert_eq!(Slurm.walltime(5400).unwrap(), "01:30:00");
        assert_eq!(Slurm.walltime(86399).unwrap(), "23:59:59");
        assert_eq!(Slurm.walltime(86400).unwrap(), "1-00:00:00");
        assert_eq!(Slurm.walltime(93784).unwrap(), "1-02:03:04");
        assert_eq!(Slurm.walltime(0).unwrap(), "0");
        assert_eq!(Pbs.walltime(93784).unwrap(), "26:03:04");
        assert_eq!(Pbs.walltime(59).unwrap(), "00:00:59");
        assert_eq!(Sge.walltime(360000).unwrap(), "100:00:00");
        assert!(Pbs.walltime(0).is_err());
        assert!(Sge.walltime(0).is_err());
        assert_eq!(Pbs.walltime(u64::MAX).unwrap(), "5124095576030431:00:15");
    }

    fn dirs(items: &[(&str, &str)]) -> Directives {
        let mut d = Directives::new();
        for (k, v) in items {
            d.set(k, v.as_bytes().to_vec());
        }
        d
    }

    fn get(d: &Directives, k: &str) -> Option<String> {
        d.get(k).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    #[test]
    fn tasks_derivation() {
        let mut d = dirs(&[("total_nodes", "2"), ("tasks_per_node", "4")]);
        ComputeTasks.apply(&mut d).unwrap();
        assert_eq!(get(&d, "total_tasks").as_deref(), Some("8"));

        let mut d = dirs(&[("total_nodes", "2"), ("total_tasks", "8")]);
        ComputeTasks.apply(&mut d).unwrap();
        assert_eq!(get(&d, "tasks_per_node").as_deref(), Some("4"));

        // Uneven: at most 5 tasks on each of the 2 nodes.
        let mut d = dirs(&[("total_nodes", "2"), ("total_tasks", "9")]);
        ComputeTasks.apply(&mut d).unwrap();
        assert_eq!(get(&d, "tasks_per_node").as_deref(), Some("5"));

        let mut d = dirs(&[("tasks_per_node", "4"), ("total_tasks", "10")]);
        ComputeTasks.apply(&mut d).unwrap();
        assert_eq!(get(&d, "total_nodes").as_deref(), Some("3"));

        let mut d = dirs(&[("tasks_per_node", "128"), ("total_tasks", "1")]);
        ComputeTasks.apply(&mut d).unwrap();
        assert_eq!(get(&d, "total_nodes").as_deref(), Some("1"));

        // Consistent triples are left alone.
        for (n, p, t) in [("2", "4", "8"), ("2", "4", "7"), ("3", "4", "10"), ("1", "1", "1")] {
            let before = dirs(&[("total_nodes", n), ("tasks_per_node", p), ("total_tasks", t)]);
            let mut d = before.clone();
            ComputeTasks.apply(&mut d).unwrap();
            assert_eq!(d, before);
        }

        // One or none: nothing to derive.
        for items in [&[("total_tasks", "7")][..], &[("total_nodes", "3")], &[]] {
            let before = dirs(items);
            let mut d = before.clone();
            ComputeTasks.apply(&mut d).unwrap();
            assert_eq!(d, before);
        }
    }

    #[test]
    fn tasks_errors() {
        let err = |items: &[(&str, &str)]| ComputeTasks.apply(&mut dirs(items)).unwrap_err().to_string();
        let e = err(&[("total_nodes", "2"), ("tasks_per_node", "4"), ("total_tasks", "9")]);
        assert!(
            e.contains("Contradictory directives total_nodes=2, tasks_per_node=4 and total_tasks=9"),
            "{e}"
        );
        assert!(e.contains("2 to 8 tasks"), "{e}");
        let e = err(&[("total_nodes", "3"), ("tasks_per_node", "1"), ("total_tasks", "2")]);
        assert!(e.contains("3 nodes run 3 tasks"), "{e}");
        let e = err(&[("total_nodes", "4"), ("total_tasks", "2")]);
        assert!(e.contains("less than total_nodes"), "{e}");
        for bad in ["2.5", "2.0", "-1", "0", "", "two", "1e3", "+2"] {
            let e = err(&[("total_nodes", bad), ("tasks_per_node", "4")]);
            assert!(e.contains("Directive 'total_nodes': invalid value"), "{bad}: {e}");
            assert!(e.contains("whole number greater than zero"), "{bad}: {e}");
        }
        let e = err(&[("total_tasks", "x")]);
        assert!(e.contains("'total_tasks'"), "{e}");
        let e = err(&[("total_nodes", "99999999999999999999")]);
        assert!(e.contains("too large"), "{e}");
        let e = err(&[("total_nodes", "4294967296"), ("tasks_per_node", "4294967296")]);
        assert!(e.contains("too large"), "{e}");
        let e = ComputeTasks
            .apply(&mut {
                let mut d = Directives::new();
                d.set("total_nodes", vec![0xff]);
                d
            })
            .unwrap_err()
            .to_string();
        assert!(e.contains("'total_nodes': invalid value"), "{e}");
    }

    #[test]
    fn cpus_per_task() {
        let mut d = dirs(&[("threads_per_task", "8"), ("name", "x")]);
        ComputeCpusPerTask.apply(&mut d).unwrap();
        assert_eq!(get(&d, "cpus_per_task").as_deref(), Some("8"));
        assert!(!d.contains("threads_per_task"));

        let mut d = dirs(&[("threads_per_task", "8"), ("cpus_per_task", "16")]);
        ComputeCpusPerTask.apply(&mut d).unwrap();
        assert_eq!(get(&d, "cpus_per_task").as_deref(), Some("16"));
        assert!(!d.contains("threads_per_task"));

        let mut d = dirs(&[("cpus_per_task", "4")]);
        ComputeCpusPerTask.apply(&mut d).unwrap();
        assert_eq!(d, dirs(&[("cpus_per_task", "4")]));

        let e = ComputeCpusPerTask
            .apply(&mut dirs(&[("threads_per_task", "1.5")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'threads_per_task': invalid value '1.5'"), "{e}");
    }

    #[test]
    fn normalisation_translators() {
        let mut d = dirs(&[
            ("memory_per_node", "4GB"),
            ("memory_per_cpu", "1536"),
            ("tmpdir_size", "2T"),
            ("walltime", "1h30m"),
        ]);
        let mut p = d.clone();
        NormaliseMemory(ResourceFormat::Slurm).apply(&mut d).unwrap();
        NormaliseWalltime(ResourceFormat::Slurm).apply(&mut d).unwrap();
        assert_eq!(get(&d, "memory_per_node").as_deref(), Some("4G"));
        assert_eq!(get(&d, "memory_per_cpu").as_deref(), Some("1536M"));
        assert_eq!(get(&d, "tmpdir_size").as_deref(), Some("2T"));
        assert_eq!(get(&d, "walltime").as_deref(), Some("01:30:00"));
        Resources(ResourceFormat::Pbs).apply(&mut p).unwrap();
        assert_eq!(get(&p, "memory_per_node").as_deref(), Some("4gb"));
        assert_eq!(get(&p, "memory_per_cpu").as_deref(), Some("1536mb"));
        assert_eq!(get(&p, "walltime").as_deref(), Some("01:30:00"));

        let e = NormaliseMemory(ResourceFormat::Slurm)
            .apply(&mut dirs(&[("memory_per_node", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("Directive 'memory_per_node': invalid size 'lots'"), "{e}");
        let e = NormaliseWalltime(ResourceFormat::Pbs)
            .apply(&mut dirs(&[("walltime", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("zero"), "{e}");
    }

    #[test]
    fn format_of_the_site() {
        let site = SiteConfig::from_yaml("s", "type: custom\n").unwrap();
        let ctx = TranslatorContext::new(&site, "slurm");
        assert_eq!(ResourceFormat::for_site(&ctx, "t").unwrap(), ResourceFormat::Slurm);
        let ctx = TranslatorContext::new(&site, "custom");
        let e = ResourceFormat::for_site(&ctx, "resources").unwrap_err().to_string();
        assert!(e.contains("translator 'resources'"), "{e}");
        assert!(e.contains("set 'resource_format' to one of slurm, pbs, sge"), "{e}");
        let site = SiteConfig::from_yaml("s", "type: custom\nresource_format: pbs\n").unwrap();
        let ctx = TranslatorContext::new(&site, "custom");
        assert_eq!(ResourceFormat::for_site(&ctx, "t").unwrap(), ResourceFormat::Pbs);
        let site = SiteConfig::from_yaml("s", "type: slurm\nresource_format: lsf\n").unwrap();
        let ctx = TranslatorContext::new(&site, "slurm");
        let e = ResourceFormat::for_site(&ctx, "t").unwrap_err().to_string();
        assert!(e.contains("unknown resource_format 'lsf'"), "{e}");
        assert!(e.contains(":2:"), "{e}");
    }
}
