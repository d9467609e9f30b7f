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
//! Sizes and durations are read and written by the units library
//! ([`crate::site::units`]), in the units [`Style`] of the site's type, or
//! the one its `resource_format` key names.

use super::{Translator, TranslatorContext};
use crate::error::{Error, Result};
use crate::script::directives::Directives;
use crate::site::units::Style;
use crate::util::quote;

/// The site key that chooses the units [`Style`] explicitly.
pub const FORMAT_KEY: &str = "resource_format";

/// The directives that hold memory or disk sizes.
pub const MEMORY_DIRECTIVES: &[&str] = &["memory_per_node", "memory_per_cpu", "tmpdir_size"];

/// The units style of a site: its `resource_format` when set, else its
/// type's. `translator` names the translator in errors.
pub fn style_for_site(ctx: &TranslatorContext, translator: &str) -> Result<Style> {
    if let Some(f) = ctx.site.opt_str(FORMAT_KEY)? {
        return Style::from_name(&f).ok_or_else(|| {
            let at = ctx.site.get(FORMAT_KEY).map(|n| ctx.site.at(n)).unwrap_or_default();
            Error::config(format!(
                "{at}: site '{}': unknown {FORMAT_KEY} {} (expected one of {})",
                ctx.site.name,
                quote(&f),
                Style::names()
            ))
        });
    }
    ctx.units.ok_or_else(|| {
        Error::config(format!(
            "Site '{}': translator '{translator}' does not know how sites of type '{}' write memory sizes and wall-clock limits: set '{FORMAT_KEY}' to one of {}",
            ctx.site.name,
            ctx.site_type,
            Style::names()
        ))
    })
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
pub struct NormaliseMemory(pub Style);

impl Translator for NormaliseMemory {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        for name in MEMORY_DIRECTIVES {
            let Some(v) = d.get(name) else { continue };
            let fail = |m: String| Error::Script(format!("Directive '{name}': {m}"));
            let out = self.0.rewrite_memory(text(name, v)?).map_err(fail)?;
            d.set(name, out.into_bytes());
        }
        Ok(())
    }
}

/// Writes `walltime` in the site's format.
pub struct NormaliseWalltime(pub Style);

impl Translator for NormaliseWalltime {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        let Some(v) = d.get("walltime") else {
            return Ok(());
        };
        let fail = |m: String| Error::Script(format!("Directive 'walltime': {m}"));
        let out = self.0.rewrite_walltime(text("walltime", v)?).map_err(fail)?;
        d.set("walltime", out.into_bytes());
        Ok(())
    }
}

/// Memory sizes and `walltime` written the way the site's scheduler reads
/// them when the units library reads them, and left as written when it does
/// not (`UNLIMITED`, a site's own word): the site key `normalise_units`, on
/// with edition 2026, runs it after the site's translators. A bare number is
/// left as written too: schedulers read it in units of their own (seconds
/// or minutes, bytes or megabytes), which only the `resources` translators
/// decide for the site.
pub struct ImpliedUnits(pub Style);

impl Translator for ImpliedUnits {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        if self.0 == Style::AsWritten {
            return Ok(());
        }
        for name in MEMORY_DIRECTIVES.iter().chain(&["walltime"]) {
            let Some(v) = d.get(name).and_then(|v| std::str::from_utf8(v).ok()) else {
                continue;
            };
            if v.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                continue;
            }
            let out = match *name {
                "walltime" => self.0.rewrite_walltime(v),
                _ => self.0.rewrite_memory(v),
            };
            match out {
                Ok(out) => d.set(name, out.into_bytes()),
                Err(e) => crate::debug!("Directive '{name}' left as written: {e}"),
            }
        }
        Ok(())
    }
}

/// The translator the site key `normalise_units` adds after the site's
/// own, if the site's units style is known.
pub fn implied(ctx: &TranslatorContext) -> Result<Option<Box<dyn Translator>>> {
    if ctx.units.is_none() && ctx.site.get(FORMAT_KEY).is_none() {
        return Ok(None);
    }
    Ok(Some(Box::new(ImpliedUnits(style_for_site(ctx, "normalise_units")?))))
}

/// All the resource translators, in order.
pub struct Resources(pub Style);

impl Translator for Resources {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        ComputeTasks.apply(d)?;
        ComputeCpusPerTask.apply(d)?;
        NormaliseMemory(self.0).apply(d)?;
        NormaliseWalltime(self.0).apply(d)
    }
}

pub(super) fn create_memory(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
    Ok(Box::new(NormaliseMemory(style_for_site(ctx, "normalise_memory")?)))
}

pub(super) fn create_walltime(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
    Ok(Box::new(NormaliseWalltime(style_for_site(ctx, "normalise_walltime")?)))
}

pub(super) fn create_resources(ctx: &TranslatorContext) -> Result<Box<dyn Translator>> {
    Ok(Box::new(Resources(style_for_site(ctx, "resources")?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SiteConfig;

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
        NormaliseMemory(Style::Slurm).apply(&mut d).unwrap();
        NormaliseWalltime(Style::Slurm).apply(&mut d).unwrap();
        assert_eq!(get(&d, "memory_per_node").as_deref(), Some("4G"));
        assert_eq!(get(&d, "memory_per_cpu").as_deref(), Some("1536M"));
        assert_eq!(get(&d, "tmpdir_size").as_deref(), Some("2T"));
        assert_eq!(get(&d, "walltime").as_deref(), Some("01:30:00"));
        Resources(Style::Pbs).apply(&mut p).unwrap();
        assert_eq!(get(&p, "memory_per_node").as_deref(), Some("4gb"));
        assert_eq!(get(&p, "memory_per_cpu").as_deref(), Some("1536mb"));
        assert_eq!(get(&p, "walltime").as_deref(), Some("01:30:00"));

        let e = NormaliseMemory(Style::Slurm)
            .apply(&mut dirs(&[("memory_per_node", "lots")]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("Directive 'memory_per_node': invalid size 'lots'"), "{e}");
        let e = NormaliseWalltime(Style::Pbs)
            .apply(&mut dirs(&[("walltime", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("zero"), "{e}");
    }

    #[test]
    fn style_of_the_site() {
        let site = SiteConfig::from_yaml("s", "type: custom\n").unwrap();
        let ctx = TranslatorContext::new(&site, "lsf").units(Some(Style::Lsf));
        assert_eq!(style_for_site(&ctx, "t").unwrap(), Style::Lsf);
        let ctx = TranslatorContext::new(&site, "custom");
        let e = style_for_site(&ctx, "resources").unwrap_err().to_string();
        assert!(e.contains("translator 'resources'"), "{e}");
        assert!(
            e.contains("set 'resource_format' to one of slurm, pbs, sge, torque, lsf, flux, as_written"),
            "{e}"
        );
        let site = SiteConfig::from_yaml("s", "type: custom\nresource_format: pbs\n").unwrap();
        let ctx = TranslatorContext::new(&site, "custom");
        assert_eq!(style_for_site(&ctx, "t").unwrap(), Style::Pbs);
        let site = SiteConfig::from_yaml("s", "type: slurm\nresource_format: moab\n").unwrap();
        let ctx = TranslatorContext::new(&site, "slurm").units(Some(Style::Slurm));
        let e = style_for_site(&ctx, "t").unwrap_err().to_string();
        assert!(e.contains("unknown resource_format 'moab'"), "{e}");
        assert!(e.contains(":2:"), "{e}");
    }

    #[test]
    fn every_style_takes_the_same_values() {
        let want = [
            (Style::Slurm, "1536M", "01:30:00"),
            (Style::Pbs, "1536mb", "01:30:00"),
            (Style::Sge, "1536M", "01:30:00"),
            (Style::Torque, "1536mb", "01:30:00"),
            (Style::Lsf, "1536MB", "90"),
            (Style::Flux, "1536M", "90m"),
            (Style::AsWritten, "1.5G", "1h30m"),
        ];
        for (style, mem, time) in want {
            let mut d = dirs(&[("memory_per_node", "1.5G"), ("walltime", "1h30m")]);
            Resources(style).apply(&mut d).unwrap();
            assert_eq!(get(&d, "memory_per_node").as_deref(), Some(mem), "{style:?}");
            assert_eq!(get(&d, "walltime").as_deref(), Some(time), "{style:?}");
        }
    }
}
