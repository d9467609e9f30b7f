//! One integration-test binary: the conformance corpus, the real Slurm
//! cluster, real processes for the direct site, a real sshd, emulated
//! schedulers, the command line, the docs, plugins.

mod common;

mod arrays;
mod cli;
mod config_check;
mod conformance;
mod contract;
mod direct;
mod disk;
mod ecflow;
mod ecflow_kit;
mod flux;
mod foreign;
mod gpus;
mod hold;
mod hooks;
mod hostile;
mod lsf;
mod pbs;
mod plugin;
mod queues;
mod queues_emulated;
mod recipes;
mod retries;
mod sge;
mod signal_before_end;
mod slurm;
mod ssh;
mod status;
mod status_emulated;
mod status_sge;
mod templated;
mod torque;
mod translators;
mod units;
