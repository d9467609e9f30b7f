//! Hooks: actions run at fixed points of an action (`at_startup`,
//! `pre_submit`, `post_kill`, `at_exit`), listed per site in the
//! configuration. A list entry is the name of a registered hook (the
//! built-ins of [`builtin()`] or an embedding program's own) or an external
//! command (`{command: [path, args...], on: local|site}`), see [`external`].
//!
//! When hooks fail:
//! - `at_startup`: any failure aborts the action (the `at_exit` hooks still run);
//! - `pre_submit`, `post_kill`: a failing registered hook fails the action; a
//!   failing external command is logged and the action goes on;
//! - `at_exit`: every hook runs; failures are logged and do not change the
//!   exit status (a job that was submitted must not look failed to the
//!   workflow manager because a log file could not be copied).

pub mod builtin;
pub mod ecflow;
pub mod external;

use std::path::Path;

use crate::config::{Node, SiteConfig, Value};
use crate::error::{Error, Result};
use crate::site::{CancelStatus, Site};

pub use builtin::builtin;
pub use external::ExternalHook;

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
    /// `submit`, `monitor`, `kill` or `check-connection`.
    pub action: &'a str,
    pub site: &'a dyn Site,
    /// The group named on the command line, when the site was chosen from one.
    pub group: Option<&'a str>,
    pub script: Option<&'a Path>,
    pub output: Option<&'a Path>,
    pub user: Option<&'a str>,
    pub jid: Option<&'a str>,
    pub cancel_status: Option<CancelStatus>,
    pub dryrun: bool,
    /// The log file of the action (`-l`, or `<script>.<action>log`).
    pub logfile: Option<&'a Path>,
    /// Whether the action has failed so far (for `at_exit`).
    pub failed: bool,
    /// The failure's message (for `at_exit`).
    pub error: Option<&'a str>,
}

impl HookContext<'_> {
    /// The name of the site the action runs on.
    pub fn site_name(&self) -> &str {
        &self.site.settings().config.name
    }
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

/// One entry of a hook list.
#[derive(Clone)]
pub enum Hook {
    Registered(HookType),
    External(ExternalHook),
}

impl Hook {
    pub fn name(&self) -> String {
        match self {
            Hook::Registered(h) => h.name.to_string(),
            Hook::External(e) => e.describe(),
        }
    }
}

/// The hooks configured for each point of a site.
#[derive(Clone, Default)]
pub struct Hooks {
    lists: Vec<(HookPoint, Vec<Hook>)>,
}

impl Hooks {
    /// Reads the hook lists of a site, checking every name and command.
    pub fn from_config(site: &SiteConfig, available: &[HookType]) -> Result<Hooks> {
        let mut lists = Vec::new();
        for point in HookPoint::ALL {
            let hooks = match site.get(point.key()) {
                None => Vec::new(),
                Some(n) => parse_list(site, point, n, available)?,
            };
            if !hooks.is_empty() {
                let names: Vec<String> = hooks.iter().map(Hook::name).collect();
                crate::debug!("Enabled {} hooks: {}", point.key(), names.join(", "));
            }
            lists.push((point, hooks));
        }
        Ok(Hooks { lists })
    }

    /// The hooks of `point`, in order.
    pub fn at(&self, point: HookPoint) -> &[Hook] {
        self.lists
            .iter()
            .find(|(p, _)| *p == point)
            .map(|(_, h)| h.as_slice())
            .unwrap_or(&[])
    }

    /// Runs the hooks of `point` in order, with the failure rules of the
    /// module documentation. The returned error is the one that fails the
    /// action.
    pub fn run(&self, point: HookPoint, ctx: &HookContext) -> Result<()> {
        let hooks = self.at(point);
        if hooks.is_empty() {
            return Ok(());
        }
        crate::debug!("Executing {} hooks", point.key());
        for h in hooks {
            crate::debug!("Calling hook {}", h.name());
            let res = match h {
                Hook::Registered(t) => (t.run)(ctx),
                Hook::External(e) => e.run(point, ctx),
            };
            let Err(e) = res else { continue };
            let fatal = match (point, h) {
                (HookPoint::AtStartup, _) => true,
                (HookPoint::AtExit, _) => false,
                (_, Hook::Registered(_)) => true,
                (_, Hook::External(_)) => false,
            };
            if fatal {
                return Err(match h {
                    Hook::Registered(_) => e,
                    Hook::External(_) => Error::run(format!("{} hook {} failed: {e}", point.key(), h.name())),
                });
            }
            crate::error!("{} hook {} failed: {e}", point.key(), h.name());
        }
        Ok(())
    }
}

fn parse_list(site: &SiteConfig, point: HookPoint, n: &Node, available: &[HookType]) -> Result<Vec<Hook>> {
    let items: Vec<&Node> = match &n.value {
        Value::Null => return Ok(vec![]),
        Value::Seq(items) => items.iter().collect(),
        Value::Str(_) | Value::Map(_) => vec![n],
        _ => {
            return Err(Error::config(format!(
                "{}: site '{}': '{}' must be a list of hook names or commands, found {}",
                site.at(n),
                site.name,
                point.key(),
                n.kind()
            )))
        }
    };
    items
        .into_iter()
        .map(|item| match &item.value {
            Value::Str(name) => registered(name, point, available).map(Hook::Registered),
            Value::Map(_) => ExternalHook::from_node(site, point, item).map(Hook::External),
            _ => Err(Error::config(format!(
                "{}: site '{}': a '{}' entry must be a hook name or a mapping with 'command', found {}",
                site.at(item),
                site.name,
                point.key(),
                item.kind()
            ))),
        })
        .collect()
}

fn registered(name: &str, point: HookPoint, available: &[HookType]) -> Result<HookType> {
    if let Some(h) = available.iter().find(|h| h.name == name && h.points.contains(&point)) {
        return Ok(*h);
    }
    let mut msg = format!("Implementation '{name}' not found for {} hook", point.key());
    if let Some(h) = available.iter().find(|h| h.name == name) {
        let points: Vec<&str> = h.points.iter().map(|p| p.key()).collect();
        msg.push_str(&format!(" ('{name}' is a {} hook)", points.join(" and ")));
    } else {
        let names = available
            .iter()
            .filter(|h| h.points.contains(&point))
            .map(|h| h.name.to_string());
        msg.push_str(&crate::config::did_you_mean(name, names));
    }
    Err(Error::config(msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_doc_covers_every_hook_and_variable() {
        let doc =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hooks.md")).unwrap();
        for h in crate::hook::builtin() {
            assert!(
                doc.contains(&format!("### `{}`", h.name)),
                "docs/hooks.md: no section for {}",
                h.name
            );
        }
        let table = crate::hook::external::env_table_markdown();
        assert!(
            doc.contains(&table),
            "docs/hooks.md: the environment table differs from the code; it should read:\n{table}"
        );
    }

    fn hooks(yaml: &str) -> Result<Hooks> {
        Hooks::from_config(&SiteConfig::from_yaml("s", yaml).unwrap(), &builtin())
    }

    #[test]
    fn names_and_commands() {
        let h = hooks(
            "at_startup: check_connection\npre_submit: [create_output_dir, {command: [/bin/echo, hi]}]\n\
             post_kill: [abort_on_ecflow]\nat_exit: [copy_submit_logfile, {command: /bin/true, on: site}]\n",
        )
        .unwrap();
        assert_eq!(h.at(HookPoint::AtStartup).len(), 1);
        let pre: Vec<String> = h.at(HookPoint::PreSubmit).iter().map(Hook::name).collect();
        assert_eq!(pre, vec!["create_output_dir", "command '/bin/echo' 'hi' (local)"]);
        let exit: Vec<String> = h.at(HookPoint::AtExit).iter().map(Hook::name).collect();
        assert_eq!(exit, vec!["copy_submit_logfile", "command '/bin/true' (site)"]);
    }

    #[test]
    fn external_hook_entries_are_checked() {
        let h = hooks("at_exit: [{command: [/bin/x, 1, 2.5], timeout: 2}]\n").unwrap();
        let Hook::External(e) = &h.at(HookPoint::AtExit)[0] else {
            panic!("not external")
        };
        assert_eq!(e.argv, vec!["/bin/x", "1", "2.5"]);
        assert_eq!(e.timeout, Some(std::time::Duration::from_secs(2)));
        for (bad, want) in [
            ("at_exit: [{commnd: /bin/x}]\n", "unknown key 'commnd'"),
            (
                "at_exit: [{command: /bin/x, on: elsewhere}]\n",
                "'on' must be 'local' or 'site'",
            ),
            ("at_exit: [{on: site}]\n", "needs 'command"),
            ("at_exit: [{command: []}]\n", "must name a program"),
            ("at_exit: [{command: [/bin/x, [a]]}]\n", "list of strings"),
            (
                "at_exit: [{command: /bin/x, timeout: 0}]\n",
                "positive number of seconds",
            ),
            ("at_exit: [[a]]\n", "hook name or a mapping"),
        ] {
            let e = hooks(bad).err().unwrap().to_string();
            assert!(e.contains(want) && e.contains("<inline>:1:"), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_and_misplaced_names() {
        let e = hooks("pre_submit: [no_such_hook]\n").err().unwrap().to_string();
        assert!(
            e.contains("Implementation 'no_such_hook' not found for pre_submit hook"),
            "{e}"
        );
        let e = hooks("at_exit: [create_output_dir]\n").err().unwrap().to_string();
        assert!(e.contains("not found for at_exit hook"), "{e}");
        assert!(e.contains("is a pre_submit hook"), "{e}");
        let e = hooks("pre_submit: [create_output_di]\n").err().unwrap().to_string();
        assert!(e.contains("did you mean 'create_output_dir'"), "{e}");
        let e = hooks("at_exit: 3\n").err().unwrap().to_string();
        assert!(e.contains("'at_exit' must be a list"), "{e}");
    }
}
