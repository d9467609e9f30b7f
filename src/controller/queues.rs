//! `queues`: what a site says of its queues or partitions.

use super::Controller;
use crate::error::{Error, Result};
use crate::site::queues::QueueInfo;
use crate::util::quote;

impl Controller<'_> {
    /// The queues of site `site` (of a group: its first available member),
    /// or only the one named `one`.
    pub fn queues(&self, site: &str, user: Option<&str>, one: Option<&str>) -> Result<Vec<QueueInfo>> {
        let p = self.prepare(site, user, "queues", None, None)?;
        let all = p.site.queues()?;
        let Some(name) = one else {
            return Ok(all);
        };
        if let Some(q) = all.iter().find(|q| q.name == name) {
            return Ok(vec![q.clone()]);
        }
        let names: Vec<String> = all.iter().map(|q| q.name.clone()).collect();
        let hint = crate::config::closest(name, names.iter().cloned())
            .map(|c| format!(" (did you mean {}?)", quote(&c)))
            .unwrap_or_default();
        Err(Error::invocation(format!(
            "Site {} has no queue {}{hint}; its queues: {}",
            quote(site),
            quote(name),
            names.join(", ")
        )))
    }
}
