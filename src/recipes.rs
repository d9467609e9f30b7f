//! The site configurations of `recipes/`, embedded in the binary for `troika config new`
//! (static text: nothing is read at start-up).

/// A recipe: its name, what it is for, and its text.
pub struct Recipe {
    pub name: &'static str,
    pub about: &'static str,
    pub text: &'static str,
}

macro_rules! recipe {
    ($name:literal, $about:literal) => {
        Recipe {
            name: $name,
            about: $about,
            text: include_str!(concat!("../recipes/", $name, ".yml")),
        }
    };
}

/// Every recipe, in the order `troika config new --list` shows them.
pub const RECIPES: &[Recipe] = &[
    recipe!("slurm", "Slurm on this machine"),
    recipe!("slurm-ssh", "Slurm through ssh, with shared connections"),
    recipe!(
        "slurm-accounting",
        "Slurm with accounting, status records and the job ledger"
    ),
    recipe!("pbs", "PBS Pro / OpenPBS"),
    recipe!("torque", "Torque"),
    recipe!("sge", "Grid Engine"),
    recipe!("lsf", "IBM Spectrum LSF"),
    recipe!("flux", "Flux"),
    recipe!("direct", "a workstation: jobs run as processes, no scheduler"),
    recipe!("group-failover", "a group of two login nodes with failover"),
    recipe!(
        "ecflow",
        "the ecFlow integration (ECF_JOB_CMD, ECF_KILL_CMD, ECF_STATUS_CMD)"
    ),
];

/// The recipe called `name`.
pub fn find(name: &str) -> Option<&'static Recipe> {
    RECIPES.iter().find(|r| r.name == name)
}
