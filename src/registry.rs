//! The registry of site types, connections, translators and hooks. A program
//! embedding troika can add its own before running the command line:
//!
//! ```no_run
//! let mut reg = troika::Registry::builtin();
//! // reg.sites.push(my_site_type());
//! std::process::exit(troika::app::main_with(reg));
//! ```

use crate::connection::ConnectionType;
use crate::hook::HookType;
use crate::script::translators::TranslatorType;
use crate::site::SiteType;

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

    pub fn site_type(&self, name: &str) -> Option<&SiteType> {
        self.sites.iter().find(|s| s.name == name)
    }

    pub fn connection_type(&self, name: &str) -> Option<&ConnectionType> {
        self.connections.iter().find(|c| c.name == name)
    }
}
