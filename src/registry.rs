//! The registry of site types, connections, translators and hooks: the
//! plugin API. An organisation builds its own `troika` binary by adding its
//! extensions to the built-in ones before running the command line:
//!
//! ```no_run
//! let mut reg = troika::Registry::builtin();
//! // reg.sites.push(my_site_type());
//! // reg.connections.push(my_connection_type());
//! // reg.translators.push(my_translator_type());
//! // reg.hooks.push(my_hook_type());
//! std::process::exit(troika::plugin::main_with(reg));
//! ```
//!
//! Each extension is a plain struct of a name, the configuration keys it
//! reads, and a factory function (a closure that captures nothing will do).
//! The configuration names them like the built-ins (`type: echo`,
//! `connection: env-local`, `translators: [org_account]`, `at_startup:
//! [announce]`). For site types, connections and translators, a later
//! registration of a name replaces an earlier one, so a built-in can be
//! replaced too; give hooks new names. `examples/custom_troika.rs` is a
//! complete example; `docs/plugins.md` explains it.

use crate::connection::ConnectionType;
use crate::hook::HookType;
use crate::script::translators::TranslatorType;
use crate::site::{FrontEnd, SiteType};

/// The configuration used when none is found: this machine, its jobs run as
/// processes.
pub const BUILTIN_CONFIG: &str = "edition: 2026\nsites:\n  localhost:\n    type: direct\n    connection: local\n";

pub struct Registry {
    pub sites: Vec<SiteType>,
    pub connections: Vec<ConnectionType>,
    pub translators: Vec<TranslatorType>,
    pub hooks: Vec<HookType>,
}

impl Registry {
    /// Everything built into troika.
    pub fn builtin() -> Self {
        Registry {
            sites: crate::site::builtin(),
            connections: crate::connection::builtin(),
            translators: crate::script::translators::builtin(),
            hooks: crate::hook::builtin(),
        }
    }

    /// The site type called `name` (the last registered of that name).
    pub fn site_type(&self, name: &str) -> Option<&SiteType> {
        self.sites.iter().rev().find(|s| s.name == name)
    }

    /// The site types in force, in the order they were registered (a type
    /// replaced by a later one of the same name stands at its first place).
    pub fn site_types(&self) -> impl Iterator<Item = &SiteType> {
        self.sites
            .iter()
            .enumerate()
            .filter(|(i, t)| !self.sites[..*i].iter().any(|e| e.name == t.name))
            .filter_map(|(_, t)| self.site_type(t.name))
    }

    /// The front ends of the site types in force (`troika sbatch`), each with
    /// its type.
    pub fn front_ends(&self) -> impl Iterator<Item = (&SiteType, FrontEnd)> {
        self.site_types().filter_map(|t| t.traits.front_end.map(|f| (t, f)))
    }

    /// The front end for `command` (`sbatch`), with its site type.
    pub fn front_end(&self, command: &str) -> Option<(&SiteType, FrontEnd)> {
        self.front_ends().find(|(_, f)| f.command == command)
    }

    /// The connection type called `name` (the last registered of that name).
    pub fn connection_type(&self, name: &str) -> Option<&ConnectionType> {
        self.connections.iter().rev().find(|c| c.name == name)
    }

    /// The translator called `name` (the last registered of that name).
    pub fn translator(&self, name: &str) -> Option<&TranslatorType> {
        crate::script::translators::find(&self.translators, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_registrations_replace_earlier_ones() {
        let mut reg = Registry::builtin();
        assert_eq!(reg.site_type("slurm").unwrap().keys, crate::site::slurm::KEYS);
        let mut mine = crate::site::slurm::site_type();
        mine.keys = &["my_key"];
        reg.sites.push(mine);
        assert_eq!(reg.site_type("slurm").unwrap().keys, &["my_key"]);
        assert!(reg.site_type("nope").is_none());

        let conn = |name, keys| ConnectionType {
            name,
            keys,
            create: crate::connection::local::LocalConnection::create,
        };
        reg.connections.push(conn("local", &["other"]));
        assert_eq!(reg.connection_type("local").unwrap().keys, &["other"]);
        reg.connections.push(conn("local2", &[]));
        assert!(reg.connection_type("local2").is_some());

        assert!(reg.translator("resources").is_some());
        assert!(reg.translator("nope").is_none());
    }
}
