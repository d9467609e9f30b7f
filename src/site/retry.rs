//! Failures that pass, and trying again.
//!
//! Every failed command of a scheduler or a connection is classified from
//! its exit status and its words: permanent (an invalid option, an unknown
//! partition), transient and not started (the controller cannot be
//! contacted: trying again cannot do the work twice), or transient and maybe
//! done (its answer was lost after it reached the scheduler). Each scheduler
//! has one table of its own words ([`super::batch::Scheduler::faults`]);
//! words every command may say are in [`COMMON`]. A failure no table knows
//! is permanent: only what is known to pass is tried again.
//!
//! One loop ([`Tries`]) waits between attempts, with exponential backoff and
//! jitter, within the site's number of retries and time limit, and logs
//! each retry with its reason.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::config::SiteConfig;
use crate::connection::Outcome;
use crate::error::{Error, Reach, Result};

/// What a failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Trying again will not help.
    Permanent,
    /// It may pass; `Reach` says whether the command may have done its work.
    Transient(Reach),
}

/// Words of a failure, and what they mean.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    pub words: &'static str,
    pub fault: Fault,
}

impl Pattern {
    /// Words of a failure before the command reached the scheduler.
    pub const fn not_started(words: &'static str) -> Self {
        Pattern {
            words,
            fault: Fault::Transient(Reach::NotStarted),
        }
    }
    /// Words of a failure after the command may have reached the scheduler.
    pub const fn maybe_done(words: &'static str) -> Self {
        Pattern {
            words,
            fault: Fault::Transient(Reach::MaybeDone),
        }
    }
    /// Words of a failure that lasts (checked first: they win over
    /// transient words in the same message).
    pub const fn permanent(words: &'static str) -> Self {
        Pattern {
            words,
            fault: Fault::Permanent,
        }
    }
}

/// Words that mean the same for every scheduler's commands.
pub const COMMON: &[Pattern] = &[
    Pattern::not_started("Connection refused"),
    Pattern::not_started("No route to host"),
    Pattern::not_started("Network is unreachable"),
    Pattern::not_started("Temporary failure in name resolution"),
    Pattern::maybe_done("Connection timed out"),
    Pattern::maybe_done("Connection reset by peer"),
    Pattern::maybe_done("Broken pipe"),
    Pattern::maybe_done("Resource temporarily unavailable"),
];

/// What the failed outcome of a command means, from the scheduler's words
/// (`own`, then [`COMMON`]). A command killed by a signal may have done its
/// work; words no table knows are permanent.
pub fn classify(out: &Outcome, own: &[Pattern]) -> Fault {
    if out.code.is_none() {
        return Fault::Transient(Reach::MaybeDone);
    }
    let text = out.text();
    let said = |p: &&Pattern| text.contains(p.words);
    if own
        .iter()
        .chain(COMMON)
        .filter(said)
        .any(|p| p.fault == Fault::Permanent)
    {
        return Fault::Permanent;
    }
    own.iter()
        .chain(COMMON)
        .find(said)
        .map_or(Fault::Permanent, |p| p.fault)
}

/// What a command's result means: `None` when it succeeded (or was a dry
/// run), else its fault.
pub fn fault_of(result: &Result<Outcome>, own: &[Pattern]) -> Option<Fault> {
    match result {
        Ok(out) if out.dryrun || out.success() => None,
        Ok(out) => Some(classify(out, own)),
        Err(e) => Some(e.transient().map_or(Fault::Permanent, Fault::Transient)),
    }
}

/// The first line of why a command failed, for the log of a retry.
pub fn reason(result: &Result<Outcome>) -> String {
    let text = match result {
        Ok(out) => format!("{}: {}", out.describe(), out.text().trim()),
        Err(e) => e.detail().to_string(),
    };
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

/// A site's retries: `retries`, `retry_delay`, `retry_max_delay`,
/// `retry_time_limit`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub retries: u32,
    /// The wait before the first retry; each next one doubles it.
    pub delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// No attempt starts later than this after the first one.
    pub time_limit: Duration,
}

/// Defaults of the retry keys.
pub const DEFAULT_DELAY: f64 = 1.0;
pub const DEFAULT_MAX_DELAY: f64 = 30.0;
pub const DEFAULT_TIME_LIMIT: f64 = 300.0;

impl RetryPolicy {
    /// No retry: every failure is final (a configuration without edition).
    pub const NONE: RetryPolicy = RetryPolicy {
        retries: 0,
        delay: Duration::ZERO,
        max_delay: Duration::ZERO,
        time_limit: Duration::ZERO,
    };

    /// The policy of a site: its keys, with the edition's number of retries
    /// as the default.
    pub fn from_config(cfg: &SiteConfig) -> Result<RetryPolicy> {
        let secs = |key: &str, default: f64| -> Result<Duration> {
            Ok(Duration::from_secs_f64(cfg.seconds_or(key, default)?))
        };
        let policy = RetryPolicy {
            retries: cfg.count_or("retries", cfg.behaviour().retries)?,
            delay: secs("retry_delay", DEFAULT_DELAY)?,
            max_delay: secs("retry_max_delay", DEFAULT_MAX_DELAY)?,
            time_limit: secs("retry_time_limit", DEFAULT_TIME_LIMIT)?,
        };
        if policy.max_delay < policy.delay {
            return Err(Error::config(format!(
                "site '{}': 'retry_max_delay' ({} s) is shorter than 'retry_delay' ({} s)",
                cfg.name,
                policy.max_delay.as_secs_f64(),
                policy.delay.as_secs_f64()
            )));
        }
        Ok(policy)
    }

    /// The wait before retry `n` (1 for the first): `delay * 2^(n-1)`, at
    /// most `max_delay`, times a random factor between 0.5 and 1 (so that
    /// many troika processes failing together do not come back together).
    pub fn wait(&self, n: u32) -> Duration {
        let base = self.delay.saturating_mul(1u32 << (n.saturating_sub(1)).min(20));
        base.min(self.max_delay).mul_f64(0.5 + 0.5 * random_fraction())
    }
}

/// A number in [0, 1) that differs from one call and one process to the
/// next (the standard library's random hash keys; no cryptographic use).
fn random_fraction() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A tag that names one submission among all (`troika-` and 20 hex
/// digits): put on the job, it finds the job again when the answer of its
/// submission was lost.
pub fn new_tag() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("troika-{a:016x}{:04x}", h.finish() & 0xffff)
}

/// The attempts of one operation under a policy.
pub struct Tries<'p> {
    policy: &'p RetryPolicy,
    start: Instant,
    /// Attempts made so far.
    made: u32,
}

impl<'p> Tries<'p> {
    pub fn new(policy: &'p RetryPolicy) -> Self {
        Tries {
            policy,
            start: Instant::now(),
            made: 0,
        }
    }

    /// After attempt failed transiently (`what` failed `why`): logs it and
    /// waits, and says whether another attempt may start.
    pub fn again(&mut self, what: &str, why: &str) -> bool {
        self.made += 1;
        if self.made > self.policy.retries {
            return false;
        }
        let wait = self.policy.wait(self.made);
        if self.start.elapsed() + wait > self.policy.time_limit {
            crate::warning!(
                "{what} failed ({why}); no retry: the next would start after 'retry_time_limit' ({} s)",
                self.policy.time_limit.as_secs_f64()
            );
            return false;
        }
        crate::warning!(
            "{what} failed transiently ({why}); attempt {} of {} in {:.1} s",
            self.made + 1,
            self.policy.retries + 1,
            wait.as_secs_f64()
        );
        std::thread::sleep(wait);
        true
    }

    /// Attempts made, and for how long: `3 attempts in 12.5 s`.
    pub fn summary(&self) -> String {
        format!(
            "{} attempt{} in {:.1} s",
            self.made.max(1),
            if self.made > 1 { "s" } else { "" },
            self.start.elapsed().as_secs_f64()
        )
    }

    /// Seconds since the first attempt started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Whether any retry is allowed at all.
    pub fn enabled(&self) -> bool {
        self.policy.retries > 0
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy says
/// stop; for commands that can be repeated without harm (status queries,
/// cancels, signals, directory creation, copies). `what` names the command
/// in the log. When the retries run out, the last result is returned, an
/// error with the attempts said.
pub fn repeat(
    policy: &RetryPolicy,
    what: &str,
    own: &[Pattern],
    attempt: impl FnMut() -> Result<Outcome>,
) -> Result<Outcome> {
    repeat_while(policy, what, attempt, |r| {
        matches!(fault_of(r, own), Some(Fault::Transient(_))).then(|| reason(r))
    })
}

/// [`repeat`] for an action that is an error when it fails (a copy).
pub fn repeat_action(policy: &RetryPolicy, what: &str, attempt: impl FnMut() -> Result<()>) -> Result<()> {
    repeat_while(policy, what, attempt, |r| {
        r.as_ref()
            .err()
            .filter(|e| e.transient().is_some())
            .map(|e| e.detail().to_string())
    })
}

/// The loop of [`repeat`]: `transient` says why a result is worth another
/// attempt (`None`: it is final).
fn repeat_while<T>(
    policy: &RetryPolicy,
    what: &str,
    mut attempt: impl FnMut() -> Result<T>,
    transient: impl Fn(&Result<T>) -> Option<String>,
) -> Result<T> {
    let mut tries = Tries::new(policy);
    loop {
        let result = attempt();
        let Some(why) = transient(&result).filter(|_| tries.enabled()) else {
            return result;
        };
        if !tries.again(what, &why) {
            let summary = tries.summary();
            crate::error!("{what}: giving up after {summary}, each failed transiently");
            return result.map_err(|e| e.map_message(|m| format!("{m} ({summary}, each failed transiently)")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: Option<i32>, stderr: &str) -> Outcome {
        Outcome {
            code,
            signal: code.is_none().then_some(9),
            stderr: stderr.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    const OWN: &[Pattern] = &[
        Pattern::permanent("Invalid account"),
        Pattern::maybe_done("Socket timed out on send/recv operation"),
        Pattern::not_started("Unable to contact slurm controller"),
    ];

    #[test]
    fn words_make_the_fault() {
        let c = |e: &str| classify(&failed(Some(1), e), OWN);
        assert_eq!(
            c("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"),
            Fault::Transient(Reach::NotStarted)
        );
        assert_eq!(
            c("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"),
            Fault::Transient(Reach::MaybeDone)
        );
        assert_eq!(
            c("error: commlib error: got select error (Connection refused)"),
            Fault::Transient(Reach::NotStarted)
        );
        assert_eq!(
            c("sbatch: error: Batch job submission failed: Invalid partition name specified"),
            Fault::Permanent
        );
        // Permanent words win over transient ones in the same answer.
        assert_eq!(c("Invalid account; Connection refused"), Fault::Permanent);
        assert_eq!(classify(&failed(None, ""), OWN), Fault::Transient(Reach::MaybeDone));
    }

    #[test]
    fn results_make_the_fault() {
        let ok = Outcome {
            code: Some(0),
            ..Default::default()
        };
        assert_eq!(fault_of(&Ok(ok), OWN), None);
        assert_eq!(fault_of(&Ok(Outcome::dry()), OWN), None);
        let t: Result<Outcome> = Err(Error::Transient("x".into(), Reach::NotStarted));
        assert_eq!(fault_of(&t, OWN), Some(Fault::Transient(Reach::NotStarted)));
        let p: Result<Outcome> = Err(Error::run("x"));
        assert_eq!(fault_of(&p, OWN), Some(Fault::Permanent));
    }

    #[test]
    fn waits_grow_within_their_bounds() {
        let p = RetryPolicy {
            retries: 10,
            delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
            time_limit: Duration::from_secs(100),
        };
        for _ in 0..200 {
            let w1 = p.wait(1).as_secs_f64();
            assert!((1.0..=2.0).contains(&w1), "{w1}");
            let w3 = p.wait(3).as_secs_f64();
            assert!((4.0..=8.0).contains(&w3), "{w3}");
            let w9 = p.wait(9).as_secs_f64();
            assert!((5.0..=10.0).contains(&w9), "{w9}");
        }
        let all: std::collections::HashSet<u64> = (0..50).map(|_| p.wait(2).as_nanos() as u64).collect();
        assert!(all.len() > 40, "the jitter varies: {} distinct of 50", all.len());
    }

    #[test]
    fn tags_are_unique_words() {
        let tags: std::collections::HashSet<String> = (0..1000).map(|_| new_tag()).collect();
        assert_eq!(tags.len(), 1000);
        for t in &tags {
            assert_eq!(t.len(), 27, "{t}");
            assert!(
                t.starts_with("troika-") && t[7..].chars().all(|c| c.is_ascii_hexdigit()),
                "{t}"
            );
        }
    }

    #[test]
    fn repeat_stops_at_the_count_and_on_permanent_failures() {
        let p = RetryPolicy {
            retries: 3,
            delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            time_limit: Duration::from_secs(10),
        };
        let mut n = 0;
        let r = repeat(&p, "squeue", OWN, || {
            n += 1;
            Ok(failed(Some(1), "Socket timed out on send/recv operation"))
        });
        assert_eq!(n, 4, "the first attempt and 3 retries");
        assert!(!r.unwrap().success());
        let mut n = 0;
        let r = repeat(&p, "squeue", OWN, || {
            n += 1;
            Err(Error::Transient("Connection to h failed".into(), Reach::NotStarted))
        });
        assert_eq!(n, 4);
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("(4 attempts in ") && e.contains("each failed transiently"),
            "{e}"
        );
        let mut n = 0;
        let _ = repeat(&p, "squeue", OWN, || {
            n += 1;
            Ok(failed(Some(1), "Invalid account"))
        });
        assert_eq!(n, 1, "a permanent failure is not repeated");
        let mut n = 0;
        let r = repeat(&p, "squeue", OWN, || {
            n += 1;
            Ok(failed(
                Some(if n < 3 { 1 } else { 0 }),
                "Unable to contact slurm controller",
            ))
        });
        assert!(r.unwrap().success());
        assert_eq!(n, 3, "success ends the tries");
        let mut n = 0;
        let _ = repeat(&RetryPolicy::NONE, "squeue", OWN, || {
            n += 1;
            Ok(failed(Some(1), "Unable to contact slurm controller"))
        });
        assert_eq!(n, 1, "no retries without a policy");
    }

    #[test]
    fn the_time_limit_ends_the_tries() {
        let p = RetryPolicy {
            retries: 100,
            delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(40),
            time_limit: Duration::from_millis(100),
        };
        let mut n = 0;
        let _ = repeat(&p, "squeue", OWN, || {
            n += 1;
            Ok(failed(Some(1), "Unable to contact slurm controller"))
        });
        assert!((2..=6).contains(&n), "{n} attempts within 100 ms of 20-40 ms waits");
    }
}
