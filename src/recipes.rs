//! The site configurations of `recipes/`, embedded in the binary for `troika config new`
//! (static text: nothing is read at start-up). Each site type brings its own
//! ([`crate::site::Traits::recipes`]); the ones here are not about one type.

use crate::registry::Registry;
use crate::site::Recipe;

/// Recipes that are not about one site type.
const GENERAL: &[Recipe] = &[
    Recipe::new(
        "group-failover",
        "a group of two login nodes with failover",
        include_str!("../recipes/group-failover.yml"),
    ),
    Recipe::new(
        "ecflow",
        "the ecFlow integration (ECF_JOB_CMD, ECF_KILL_CMD, ECF_STATUS_CMD)",
        include_str!("../recipes/ecflow.yml"),
    ),
];

/// Every recipe, in the order `troika config new --list` shows them: the
/// site types' in the order they were registered, then the general ones.
pub fn all(registry: &Registry) -> Vec<&'static Recipe> {
    registry
        .site_types()
        .flat_map(|t| t.traits.recipes)
        .chain(GENERAL)
        .collect()
}

/// The recipe called `name`.
pub fn find(registry: &Registry, name: &str) -> Option<&'static Recipe> {
    all(registry).into_iter().find(|r| r.name == name)
}
