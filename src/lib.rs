//! troika: submit, monitor and kill jobs on HPC sites through one interface.
//!
//! The library holds everything; the `troika` binary is a thin `main`. An
//! organisation can build its own binary with extra site types,
//! schedulers, connections, translators and hooks: [`plugin`] has all it
//! needs ([`Registry`], [`app::main_with`], the traits and their types).

pub mod log;

pub mod plugin;

pub mod app;
pub mod cli;
pub mod config;
pub mod connection;
pub mod controller;
pub mod docs;
pub mod error;
pub mod hook;
pub mod registry;
pub mod script;
pub mod site;
pub mod util;

pub use error::{Error, Result};
pub use registry::Registry;
#[cfg(test)]
mod proptests;
