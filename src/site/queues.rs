//! Queue inquiry: the queues or partitions of a site, with their state and
//! limits, in the same words for every scheduler (`troika queues`). What a
//! scheduler asks and how it reads the answers is a [`QueueQueries`]; the
//! model and its output forms are here.

use std::fmt::Write as _;

use crate::connection::Outcome;

/// The state of a queue, the same for every scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueState {
    /// Accepts jobs and starts them.
    Up,
    /// Accepts no jobs and starts none (or its hosts are unreachable).
    Down,
    /// Starts the jobs it has, accepts no new ones.
    Drained,
    /// Accepts jobs but starts none.
    Inactive,
}

impl QueueState {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Up => "up",
            QueueState::Down => "down",
            QueueState::Drained => "drained",
            QueueState::Inactive => "inactive",
        }
    }
}

/// One queue (Grid Engine, PBS, LSF, Flux) or partition (Slurm).
#[derive(Clone, Debug, PartialEq)]
pub struct QueueInfo {
    pub name: String,
    pub state: QueueState,
    /// The scheduler's own word for the state (`UP`, `DRAIN`, `d`).
    pub native_state: String,
    /// Whether jobs that name no queue go there.
    pub default: bool,
    /// The longest wall-clock limit a job may ask for, in seconds (`None`:
    /// no limit, or the scheduler does not say).
    pub max_walltime: Option<u64>,
    /// Nodes (hosts) of the queue.
    pub nodes: Option<u64>,
    /// CPUs or slots of the queue, and those free now.
    pub slots: Option<u64>,
    pub slots_free: Option<u64>,
    /// The most memory a job may ask for per node, in MiB (`None`: no limit
    /// said).
    pub max_memory_mb: Option<u64>,
    /// Everything else the scheduler says of the queue, as it says it, for
    /// the view of one queue.
    pub details: Vec<(String, String)>,
}

impl QueueInfo {
    /// A queue known by name and state only; the rest is filled in by the
    /// scheduler's reader.
    pub fn new(name: impl Into<String>, state: QueueState, native_state: impl Into<String>) -> Self {
        QueueInfo {
            name: name.into(),
            state,
            native_state: native_state.into(),
            default: false,
            max_walltime: None,
            nodes: None,
            slots: None,
            slots_free: None,
            max_memory_mb: None,
            details: Vec::new(),
        }
    }

    /// One JSON object (one line of `troika queues --json`).
    pub fn json(&self, site: &str) -> String {
        let details: serde_json::Map<String, serde_json::Value> = self
            .details
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "site": site,
            "name": self.name,
            "state": self.state.as_str(),
            "native_state": self.native_state,
            "default": self.default,
            "max_walltime": self.max_walltime,
            "nodes": self.nodes,
            "slots": self.slots,
            "slots_free": self.slots_free,
            "max_memory_mb": self.max_memory_mb,
            "details": details,
        })
        .to_string()
    }

    /// The view of one queue: one `key: value` line each, then the
    /// scheduler's own words.
    pub fn detail(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "name: {}", self.name);
        let _ = writeln!(s, "state: {} ({})", self.state.as_str(), self.native_state);
        let _ = writeln!(s, "default: {}", if self.default { "yes" } else { "no" });
        let _ = writeln!(s, "max_walltime: {}", walltime_text(self.max_walltime));
        let _ = writeln!(s, "nodes: {}", count_text(self.nodes));
        let _ = writeln!(s, "slots: {}", count_text(self.slots));
        let _ = writeln!(s, "slots_free: {}", count_text(self.slots_free));
        let _ = writeln!(s, "max_memory: {}", memory_text(self.max_memory_mb));
        for (k, v) in &self.details {
            let _ = writeln!(s, "  {k}: {v}");
        }
        s
    }
}

/// The table of `troika queues`: a header, then one line per queue.
pub fn table(queues: &[QueueInfo]) -> String {
    let mut rows = vec![[
        "QUEUE".to_string(),
        "STATE".into(),
        "DEFAULT".into(),
        "MAX_WALLTIME".into(),
        "NODES".into(),
        "SLOTS".into(),
        "FREE".into(),
        "MAX_MEMORY".into(),
    ]];
    for q in queues {
        rows.push([
            q.name.clone(),
            q.state.as_str().to_string(),
            if q.default { "yes" } else { "" }.to_string(),
            walltime_text(q.max_walltime),
            count_text(q.nodes),
            count_text(q.slots),
            count_text(q.slots_free),
            memory_text(q.max_memory_mb),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for r in &rows {
        let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}

fn count_text(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// `D-HH:MM:SS` (or `HH:MM:SS`), `unlimited` for none.
fn walltime_text(secs: Option<u64>) -> String {
    let Some(s) = secs else {
        return "unlimited".into();
    };
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    match d {
        0 => format!("{h:02}:{m:02}:{s:02}"),
        d => format!("{d}-{h:02}:{m:02}:{s:02}"),
    }
}

fn memory_text(mb: Option<u64>) -> String {
    match mb {
        None => "unlimited".into(),
        Some(m) if m % 1024 == 0 => format!("{}G", m / 1024),
        Some(m) => format!("{m}M"),
    }
}

/// How a scheduler describes its queues. Both methods have a default (the
/// scheduler cannot list its queues), so `impl QueueQueries for X {}` is a
/// start.
pub trait QueueQueries {
    /// The commands whose answers describe the queues, run in order.
    fn queues_argvs(&self) -> Vec<Vec<String>> {
        vec![]
    }

    /// The queues in the answers of [`QueueQueries::queues_argvs`] (one
    /// per command, in order), or why they cannot be read.
    fn parse_queues(&self, _answers: &[(Vec<String>, Outcome)]) -> Result<Vec<QueueInfo>, String> {
        Err("this site type cannot list its queues".into())
    }
}

/// `KEY=VALUE KEY=VALUE ...` (Slurm's one-line records) as pairs.
pub fn key_values(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A wall-clock limit in a scheduler's words: `None` for unlimited
/// (`UNLIMITED`, `INFINITY`, `infinite`, `NONE`) or unreadable.
pub fn limit_seconds(text: &str) -> Option<u64> {
    let t = text.trim();
    if ["unlimited", "infinity", "infinite", "none", ""].contains(&t.to_ascii_lowercase().as_str()) {
        return None;
    }
    super::units::parse_walltime(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs() {
        let mut q = QueueInfo::new("debug", QueueState::Up, "UP");
        q.default = true;
        q.max_walltime = Some(2 * 86400 + 3600);
        q.nodes = Some(1);
        q.slots = Some(8);
        q.slots_free = Some(6);
        q.details.push(("MaxNodes".into(), "UNLIMITED".into()));
        let mut down = QueueInfo::new("old", QueueState::Drained, "DRAIN");
        down.max_memory_mb = Some(4096);
        let t = table(&[q.clone(), down]);
        assert_eq!(
            t,
            "QUEUE  STATE    DEFAULT  MAX_WALLTIME  NODES  SLOTS  FREE  MAX_MEMORY\n\
             debug  up       yes      2-01:00:00    1      8      6     unlimited\n\
             old    drained           unlimited     -      -      -     4G\n"
        );
        let j: serde_json::Value = serde_json::from_str(&q.json("hpc")).unwrap();
        assert_eq!(j["name"], "debug");
        assert_eq!(j["state"], "up");
        assert_eq!(j["default"], true);
        assert_eq!(j["max_walltime"], 176400);
        assert_eq!(j["nodes"], 1);
        assert_eq!(j["details"]["MaxNodes"], "UNLIMITED");
        assert!(q.detail().contains("state: up (UP)\n") && q.detail().contains("  MaxNodes: UNLIMITED\n"));
    }

    #[test]
    fn limits() {
        assert_eq!(limit_seconds("UNLIMITED"), None);
        assert_eq!(limit_seconds("INFINITY"), None);
        assert_eq!(limit_seconds("30"), Some(1800));
        assert_eq!(limit_seconds("1-00:00:00"), Some(86400));
        assert_eq!(limit_seconds("02:00:00"), Some(7200));
        assert_eq!(
            key_values("A=1 B=x=y C"),
            [("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
    }
}
