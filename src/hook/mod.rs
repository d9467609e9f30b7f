//! Hooks: named actions run at fixed points of an action (`at_startup`,
//! `pre_submit`, `post_kill`, `at_exit`), listed per site in the
//! configuration.

use std::path::Path;

use crate::config::SiteConfig;
use crate::error::{Error, Result};
use crate::site::{CancelStatus, Site};

/// The points where hooks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookPoint {
    AtStartup,
    PreSubmit,
    PostKill,
    AtExit,
}

impl HookPoint {
    pub const ALL: [HookPoint; 4] = [
        HookPoint::AtStartup,
        HookPoint::PreSubmit,
        HookPoint::PostKill,
        HookPoint::AtExit,
    ];

    pub fn key(self) -> &'static str {
        match self {
            HookPoint::AtStartup => "at_startup",
            HookPoint::PreSubmit => "pre_submit",
            HookPoint::PostKill => "post_kill",
            HookPoint::AtExit => "at_exit",
        }
    }
}

/// What a hook can see of the running action.
pub struct HookContext<'a> {
    pub action: &'a str,
    pub site: &'a dyn Site,
    pub script: Option<&'a Path>,
    pub output: Option<&'a Path>,
    pub user: Option<&'a str>,
    pub jid: Option<&'a str>,
    pub cancel_status: Option<CancelStatus>,
    pub dryrun: bool,
    /// Whether the action has failed so far (for `at_exit`).
    pub failed: bool,
}

/// A hook implementation.
pub type HookFn = fn(&HookContext) -> Result<()>;

/// A registered hook: where it may run and what it does.
#[derive(Clone, Copy)]
pub struct HookType {
    pub name: &'static str,
    pub points: &'static [HookPoint],
    pub run: HookFn,
}

/// The built-in hooks.
pub fn builtin() -> Vec<HookType> {
    vec![HookType {
        name: "check_connection",
        points: &[HookPoint::AtStartup],
        run: check_connection,
    }]
}

/// Fails the action when the site's connection does not work.
fn check_connection(ctx: &HookContext) -> Result<()> {
    let ok = ctx.site.settings().connection.check(None, ctx.dryrun)?;
    if !ok {
        return Err(Error::run(format!(
            "Connection check failed for site '{}'",
            ctx.site.settings().config.name
        )));
    }
    Ok(())
}

/// The hooks configured for each point of a site.
#[derive(Clone, Default)]
pub struct Hooks {
    lists: Vec<(HookPoint, Vec<HookType>)>,
}

impl Hooks {
    /// Reads the hook lists of a site, checking every name.
    pub fn from_config(site: &SiteConfig, available: &[HookType]) -> Result<Hooks> {
        let mut lists = Vec::new();
        for point in HookPoint::ALL {
            let mut hooks = Vec::new();
            for name in site.str_list(point.key())? {
                let h = available
                    .iter()
                    .find(|h| h.name == name && h.points.contains(&point))
                    .ok_or_else(|| {
                        Error::config(format!("Implementation '{name}' not found for {} hook", point.key()))
                    })?;
                hooks.push(*h);
            }
            lists.push((point, hooks));
        }
        Ok(Hooks { lists })
    }

    /// Runs the hooks of `point` in order; the first failure stops them.
    pub fn run(&self, point: HookPoint, ctx: &HookContext) -> Result<()> {
        crate::debug!("Executing {} hooks", point.key());
        for (p, hooks) in &self.lists {
            if *p == point {
                for h in hooks {
                    (h.run)(ctx)?;
                }
            }
        }
        Ok(())
    }
}
