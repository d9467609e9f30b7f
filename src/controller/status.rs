//! `status`: the state of any number of jobs, with one query per site and
//! user; `jobs`: the ledger of submissions. Both are queries: no hook runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Controller;
use crate::error::{Error, Result};
use crate::job::ledger::{self, Entry, Ledger};
use crate::job::{JobStatus, Query};
use crate::site::group;
use crate::util::{quote, with_suffix};

/// The job id in a `.jid` file, and the file's time of change: one open,
/// one `fstat`, one read (`util::open_nonblocking`: a FIFO is no job id
/// file, and does not block).
fn read_jid_file(path: &Path) -> (Option<String>, Option<u64>) {
    use std::io::Read;
    let Ok((f, meta)) = crate::util::open_nonblocking(path) else {
        return (None, None);
    };
    if !meta.is_file() || meta.len() > crate::util::MAX_ID_FILE_BYTES {
        return (None, None);
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let mut text = String::new();
    let jid = (&f)
        .take(crate::util::MAX_ID_FILE_BYTES)
        .read_to_string(&mut text)
        .ok()
        .map(|_| text.trim().to_string())
        .filter(|s| !s.is_empty());
    (jid, mtime)
}

/// Whether a job on `job_site` is on `site`: the site itself, or one of its
/// `members` when it is a group.
fn on_site(site: &str, members: Option<&[String]>, job_site: &str) -> bool {
    job_site == site || members.is_some_and(|m| m.iter().any(|x| x == job_site))
}

/// `~/x` as `$HOME/x`.
fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// What `status` is asked.
pub struct StatusRequest<'a> {
    pub site: &'a str,
    pub scripts: &'a [PathBuf],
    pub user: Option<&'a str>,
    /// `-j`: the job id of the only script.
    pub jid: Option<&'a str>,
    /// `-o`: the output file of the only script (where its status record is).
    pub output: Option<&'a Path>,
    /// `--all`: every job the ledger knows on the site (with the scripts).
    pub all: bool,
    /// `--since`: with `--all`, the jobs submitted since this time (by
    /// default [`ALL_SINCE`]).
    pub since: Option<&'a str>,
}

/// How far back `status --all` looks by default: the jobs submitted in the
/// last day (one or two day files of the ledger).
pub const ALL_SINCE: &str = "1d";

/// One answer of `status`: the script as given, and its job's status.
pub struct Report {
    pub script: String,
    pub site: String,
    /// The scheduler type, for the human-readable line (`slurm FAILED`).
    pub scheduler: String,
    pub status: JobStatus,
}

/// A job to ask about: its script, id, output file and submission time.
struct Known {
    script: String,
    jid: String,
    output: Option<PathBuf>,
    submitted_at: Option<u64>,
    /// How troika's kill of the job ended, and when.
    killed: Option<(String, u64)>,
    /// The site the job is on (a member, for a group).
    site: String,
}

impl Controller<'_> {
    /// The ledger of this configuration: `ledger: PATH` (or `false` for
    /// none), else the default place; it keeps `ledger_keep_days` days.
    pub fn ledger(&self) -> Result<Option<Ledger>> {
        let ledger = match self.config.root_get("ledger") {
            None => Ledger::default_dir().map(Ledger::at),
            Some(n) => match (&n.value, n.as_str()) {
                (crate::config::Value::Bool(false), _) => None,
                (_, Some(p)) if !p.is_empty() => Some(Ledger::at(expand_home(p))),
                _ => {
                    return Err(Error::config(format!(
                        "{}: 'ledger' must be a directory path, or false for no ledger",
                        self.config.at(n)
                    )))
                }
            },
        };
        Ok(match ledger {
            Some(l) => Some(l.keeping(self.ledger_keep_days()?)),
            None => None,
        })
    }

    /// `ledger_keep_days`: how many days of the ledger are kept (`false`
    /// or 0: all); 30 with `edition: 2026`, all for 0.2.7 configurations.
    fn ledger_keep_days(&self) -> Result<Option<u64>> {
        use crate::config::Value;
        let Some(n) = self.config.root_get("ledger_keep_days") else {
            return Ok(self.config.edition().behaviour().ledger_keep_days);
        };
        match &n.value {
            Value::Bool(false) | Value::Null | Value::Int(0) => Ok(None),
            Value::Int(d) if *d > 0 => Ok(Some(*d as u64)),
            _ => Err(Error::config(format!(
                "{}: 'ledger_keep_days' must be a number of days, or false to keep the whole ledger",
                self.config.at(n)
            ))),
        }
    }

    /// Records a submission in the ledger. A ledger that cannot be written
    /// never fails the submission: it is a warning (with `edition: 2026`;
    /// a debug message for 0.2.7 configurations).
    pub(crate) fn record_submission(&self, site: &str, user: Option<&str>, script: &Path, jid: &str, output: &Path) {
        let warn = self.config.edition().behaviour().ledger;
        let say = |m: String| {
            if warn {
                crate::warning!("{m}");
            } else {
                crate::debug!("{m}");
            }
        };
        let ledger = match self.ledger() {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => return say(format!("Job {jid} is not in the job ledger: {e}")),
        };
        let digest = ledger::digest_file(script).unwrap_or_default();
        let entry = Entry {
            time: crate::job::state::now(),
            site: site.to_string(),
            user: user.map(str::to_string),
            script: ledger::script_key(script),
            digest,
            job_id: jid.to_string(),
            output: std::path::absolute(output)
                .unwrap_or_else(|_| output.to_path_buf())
                .display()
                .to_string(),
            killed: None,
            killed_at: None,
        };
        if let Err(e) = ledger.append(&entry) {
            say(format!("Job {jid} is not in the job ledger: {e}"));
        }
    }

    /// Records how troika's kill of a job ended, beside its submission.
    pub(crate) fn record_kill(&self, site: &str, script: &Path, jid: &str, how: &str) {
        let Ok(Some(ledger)) = self.ledger() else { return };
        let Some(mut e) = ledger.latest(script).filter(|e| e.job_id == jid) else {
            return;
        };
        e.time = crate::job::state::now();
        e.site = site.to_string();
        e.killed = Some(how.to_string());
        e.killed_at = None;
        if let Err(err) = ledger.append(&e) {
            crate::debug!("The kill of job {jid} is not in the job ledger: {err}");
        }
    }

    /// The ledger's latest record of `script` on `site` (or a member of it).
    pub(crate) fn ledger_entry(&self, script: &Path, site: &str) -> Option<Entry> {
        let entry = self.ledger().ok()??.latest(script)?;
        let members = self.group_members(site).ok().flatten();
        on_site(site, members.as_deref(), &entry.site).then_some(entry)
    }

    /// The members of `site` when it is a group.
    fn group_members(&self, site: &str) -> Result<Option<Vec<String>>> {
        self.config
            .site(site)
            .ok()
            .filter(group::is_group)
            .map(|cfg| group::members(&cfg, &self.config))
            .transpose()
    }

    /// The normalised state of a monitored job: logged, and written as the
    /// first line of `SCRIPT.stat` (`troika: FINISHED/FAILED  exit 3 (...)`).
    pub(crate) fn stat_line(&self, p: &super::Prepared, job: &super::JobRef, jid: &str) -> Result<()> {
        let (entry, output) = self.ledger_and_output(p, job, jid);
        let status = self.job_status(p, job, jid, entry.as_ref(), output.as_deref(), None);
        let scheduler = p.site.settings().config.required_str("type")?;
        let line = status.line("troika:", &scheduler);
        crate::info!("Job {jid}: {}", status.state_words());
        let stat = with_suffix(job.script, ".stat");
        let mut data = format!("{line}\n").into_bytes();
        data.extend(std::fs::read(&stat).unwrap_or_default());
        crate::util::write_atomic(&stat, &data, 0o644)
    }

    /// The ledger's record of job `jid` of `job`'s script on `p`'s site, and
    /// the job's output file: as given, else as the ledger has it.
    fn ledger_and_output(
        &self,
        p: &super::Prepared,
        job: &super::JobRef,
        jid: &str,
    ) -> (Option<Entry>, Option<PathBuf>) {
        let site = &p.site.settings().config.name;
        let entry = self.ledger_entry(job.script, site).filter(|e| e.job_id == jid);
        let output = job
            .output
            .map(Path::to_path_buf)
            .or_else(|| entry.as_ref().map(|e| PathBuf::from(&e.output)));
        (entry, output)
    }

    /// The status of one job of `p`'s site, with what the ledger (`entry`)
    /// and the `.jid` file know of it, and `killed`: how a kill that just
    /// ended went, when it did.
    pub(crate) fn job_status(
        &self,
        p: &super::Prepared,
        job: &super::JobRef,
        jid: &str,
        entry: Option<&Entry>,
        output: Option<&Path>,
        killed: Option<(&str, u64)>,
    ) -> JobStatus {
        let submitted_at = entry
            .map(|e| e.time)
            .or_else(|| match read_jid_file(&with_suffix(job.script, ".jid")) {
                (Some(j), mtime) if j == jid => mtime,
                _ => None,
            });
        let query = Query {
            jid,
            output,
            submitted_at,
            killed: killed.or_else(|| entry.and_then(Entry::kill)),
        };
        p.site.status(&[query]).remove(0)
    }

    /// The state of a job troika has just killed (`outcome`: how the kill
    /// ended): the scheduler's answer when it says the job has ended; else
    /// (it is still cleaning up, or cannot be asked) FINISHED with the
    /// kill's outcome, the scheduler's word kept beside it.
    pub(crate) fn kill_report(
        &self,
        p: &super::Prepared,
        job: &super::JobRef,
        jid: &str,
        outcome: crate::job::Outcome,
    ) -> JobStatus {
        use crate::job::{Outcome, Source, State};
        let (entry, output) = self.ledger_and_output(p, job, jid);
        let now = crate::job::state::now();
        let mut s = self.job_status(
            p,
            job,
            jid,
            entry.as_ref(),
            output.as_deref(),
            Some((outcome.as_str(), now)),
        );
        let ended =
            s.state == State::Finished && (s.outcome != Some(Outcome::Vanished) || outcome == Outcome::Vanished);
        if !ended {
            let seen = match s.state {
                State::Unknown => s.reason.clone().map(|r| format!("its state is unknown: {r}")),
                _ => Some(format!("the scheduler still shows it {}", s.state.as_str())),
            };
            s.state = State::Finished;
            s.outcome = Some(outcome);
            s.source = Source::Inferred;
            let mut reason = format!(
                "troika kill at {}: {}",
                crate::job::state::iso_time(now),
                outcome.as_str()
            );
            if let Some(seen) = seen {
                reason.push_str(&format!("; {seen}"));
            }
            s.reason = Some(reason);
        }
        s
    }

    /// `status`: the state of each job, one query per site and user.
    pub fn status(&self, req: &StatusRequest) -> Result<Vec<Report>> {
        if req.scripts.len() > 1 && (req.jid.is_some() || req.output.is_some()) {
            return Err(Error::invocation(
                "-j and -o name the job of one script: give one script with them".to_string(),
            ));
        }
        if req.since.is_some() && !req.all {
            return Err(Error::invocation(
                "--since chooses the jobs of --all: give it with --all".to_string(),
            ));
        }
        if req.scripts.is_empty() && !req.all {
            return Err(Error::invocation(
                "Give the scripts of the jobs, or --all for every job of the ledger on the site".to_string(),
            ));
        }
        // What every script's lookup needs, found once.
        let ledger = self.ledger().ok().flatten();
        let members = self.group_members(req.site)?;
        let cwd = std::env::current_dir().ok();
        let mut known = Vec::new();
        for script in req.scripts {
            let key = match &cwd {
                Some(dir) if script.is_relative() => dir.join(script).display().to_string(),
                _ => ledger::script_key(script),
            };
            let entry = ledger.as_ref().and_then(|l| l.latest_of(&key));
            known.push(self.known_job(req, script, entry, members.as_deref())?);
        }
        if req.all {
            let ledger = self.ledger()?.ok_or_else(|| {
                Error::invocation("--all lists the jobs of the ledger, and this configuration has none".to_string())
            })?;
            let since = ledger::parse_since(req.since.unwrap_or(ALL_SINCE), crate::job::state::now())
                .map_err(Error::invocation)?;
            let mut latest: BTreeMap<String, Entry> = BTreeMap::new();
            for e in ledger.list(Some(since), None)? {
                if on_site(req.site, members.as_deref(), &e.site) {
                    latest.insert(e.script.clone(), e);
                }
            }
            for e in latest.into_values() {
                if known.iter().any(|k: &Known| k.jid == e.job_id && k.site == e.site) {
                    continue;
                }
                let killed = e.kill().map(|(how, at)| (how.to_string(), at));
                known.push(Known {
                    script: e.script,
                    jid: e.job_id,
                    output: Some(PathBuf::from(e.output)),
                    submitted_at: Some(e.time),
                    killed,
                    site: e.site,
                });
            }
        }
        // One query per site (the user is the same for all).
        let mut by_site: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, k) in known.iter().enumerate() {
            by_site.entry(k.site.as_str()).or_default().push(i);
        }
        let mut statuses: Vec<Option<(String, JobStatus)>> = vec![None; known.len()];
        for (site, idx) in by_site {
            let p = self.site(site, req.user)?;
            let type_name = p.site.settings().config.required_str("type")?;
            let mut queries = Vec::new();
            for &i in &idx {
                p.site.check_job_id(&known[i].jid)?;
                queries.push(Query {
                    jid: &known[i].jid,
                    output: known[i].output.as_deref(),
                    submitted_at: known[i].submitted_at,
                    killed: known[i].killed.as_ref().map(|(h, t)| (h.as_str(), *t)),
                });
            }
            let answers = p.site.status(&queries);
            for (&i, s) in idx.iter().zip(answers) {
                crate::debug!("Job {} on site {site}: {}", s.job_id, s.state_words());
                statuses[i] = Some((type_name.clone(), s));
            }
        }
        Ok(known
            .into_iter()
            .zip(statuses)
            .map(|(k, s)| {
                let (scheduler, status) = s.expect("every job was asked");
                Report {
                    script: k.script,
                    site: k.site,
                    scheduler,
                    status,
                }
            })
            .collect())
    }

    /// The job of `script`: its id from `-j`, its `.jid` file or the ledger.
    fn known_job(
        &self,
        req: &StatusRequest,
        script: &Path,
        entry: Option<Entry>,
        members: Option<&[String]>,
    ) -> Result<Known> {
        let name = script.display().to_string();
        let on_site = |s: &str| on_site(req.site, members, s);
        let entry = entry.filter(|e| on_site(&e.site));
        let jid_file = with_suffix(script, ".jid");
        let (from_file, jid_mtime) = read_jid_file(&jid_file);
        let mut in_file = false;
        let jid = match (req.jid.filter(|j| !j.is_empty()), from_file, &entry) {
            (Some(j), file, _) => {
                in_file = file.as_deref() == Some(j);
                j.to_string()
            }
            (None, Some(j), _) => {
                in_file = true;
                j
            }
            (None, None, Some(e)) => {
                crate::debug!(
                    "No job id file for {}: job {} from the job ledger",
                    quote(&name),
                    e.job_id
                );
                e.job_id.clone()
            }
            (None, None, None) => {
                return Err(Error::invocation(format!(
                    "No job id for {}: no {} and no record in the job ledger (give it with -j)",
                    quote(&name),
                    quote(&jid_file.display().to_string())
                )))
            }
        };
        let entry = entry.filter(|e| e.job_id == jid);
        let output = req
            .output
            .map(Path::to_path_buf)
            .or_else(|| entry.as_ref().map(|e| PathBuf::from(&e.output)));
        let submitted_at = entry
            .as_ref()
            .map(|e| e.time)
            .or(if in_file { jid_mtime } else { None });
        let site = match &entry {
            Some(e) if e.site != req.site => e.site.clone(),
            _ => match members.and_then(|_| group::recorded_member(script)) {
                Some(m) if on_site(&m) => m,
                _ => req.site.to_string(),
            },
        };
        let killed = entry
            .as_ref()
            .and_then(Entry::kill)
            .map(|(how, at)| (how.to_string(), at));
        Ok(Known {
            script: name,
            jid,
            output,
            submitted_at,
            killed,
            site,
        })
    }

    /// `jobs`: the ledger's records, oldest first.
    pub fn jobs(&self, site: Option<&str>, since: Option<&str>) -> Result<Vec<Entry>> {
        let since = since
            .map(|s| ledger::parse_since(s, crate::job::state::now()).map_err(Error::invocation))
            .transpose()?;
        match self.ledger()? {
            Some(l) => l.list(since, site),
            None => Ok(vec![]),
        }
    }
}
