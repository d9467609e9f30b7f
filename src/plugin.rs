//! What an organisation needs to build its own `troika` binary with its own
//! site types, schedulers, connections, translators and hooks: one import,
//! `use troika::plugin::*;`. Everything a plugin uses is here;
//! `examples/custom_troika.rs` is a complete example and `docs/plugins.md`
//! explains it.

pub use crate::app::{main_with, run};
pub use crate::config::{Node, SiteConfig, Value};
pub use crate::connection::local::LocalConnection;
pub use crate::connection::{Command, Connection, ConnectionOptions, ConnectionType, Input, Outcome, Sink};
pub use crate::error::{Context, Error, ExitStatus, Result};
pub use crate::hook::{HookContext, HookPoint, HookType};
pub use crate::job::{Answer, JobStatus, Meaning, NativeState, Outcome as JobOutcome, Query, Source, State};
pub use crate::registry::Registry;
pub use crate::script::translate::{Entry, Rule, Table};
pub use crate::script::translators::{Translator, TranslatorType};
pub use crate::script::{Directives, NativeSyntax};
pub use crate::site::batch::{BatchSite, Job, KillCommand, Scheduler, ScriptInput, StateQueries, ToSubmit};
pub use crate::site::units::Style as UnitsStyle;
pub use crate::site::{
    warn_existing_stat, write_stat, CancelStatus, FrontEnd, Recipe, ScriptSyntax, Site, SiteSettings, SiteType,
    Submission, Traits, COMMON_KEYS,
};
