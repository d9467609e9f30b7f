//! One integration-test binary: the conformance corpus, the real Slurm
//! cluster, real processes for the direct site, the command line, the docs.

mod common;

mod cli;
mod conformance;
mod direct;
mod docs;
mod pbs;
mod plugin;
mod sge;
mod slurm;
mod ssh;
mod translators;
