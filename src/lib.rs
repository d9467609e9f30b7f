//! troika: submit, monitor and kill jobs on HPC sites through one interface.
//!
//! The library holds everything; the `troika` binary is a thin `main`. An
//! organisation can build its own binary with extra site types,
//! schedulers, connections, translators and hooks: [`plugin`] has all it
//! needs ([`Registry`], [`app::main_with`], the traits and their types).

// The logging macros (`troika::info!`, ...) expand to paths in it.
#[doc(hidden)]
pub mod log;

pub mod plugin;

mod app;
mod cli;
mod config;
mod connection;
mod controller;
#[cfg(test)]
mod docs;
mod error;
mod hook;
mod job;
mod recipes;
mod registry;
mod script;
mod site;
mod util;

pub use app::main;

/// The command line's definition, for the generator of man pages and shell
/// completions (`examples/gen-docs.rs`); not part of the plugin interface.
#[doc(hidden)]
pub fn command() -> clap::Command {
    cli::command(&Registry::builtin())
}
pub use error::{Error, Result};
pub use registry::Registry;
#[cfg(test)]
mod proptests;
