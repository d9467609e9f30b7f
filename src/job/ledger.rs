//! The job ledger: one record per submission (time, site, user, script,
//! the script's digest, job id, output file), appended to a per-user
//! directory. Each day has its own file (`YYYY-MM-DD.jsonl`, UTC), written
//! with one `O_APPEND` write per record, so that concurrent submissions
//! never mix their lines and a crash loses at most the record being
//! written. `index/` has one small file per script, to which each of its
//! records is appended too, so that finding a script's latest job reads the
//! end of one file, not the history. Appends only: replacing a file by a
//! rename costs a flush of its data on ext4 (close to a millisecond), an
//! append a few microseconds. The index is a cache: the day files are the
//! ledger.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::state::iso_time;
use crate::error::{Error, Result};
use crate::util::quote;

/// One submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When, in seconds since the epoch.
    pub time: u64,
    pub site: String,
    pub user: Option<String>,
    /// The script, as an absolute path.
    pub script: String,
    /// SHA-256 of the generated script, in hex.
    pub digest: String,
    pub job_id: String,
    pub output: String,
    /// A record of a kill, not of a submission: how it ended (`CANCELLED`,
    /// `KILLED`, `TERMINATED`, `VANISHED`). On a submission read back with
    /// [`Ledger::latest`]: how troika's last kill of the job ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed: Option<String>,
    /// When the job was killed (with `killed`, on a submission read back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_at: Option<u64>,
}

impl Entry {
    /// How troika's last kill of the job ended, and when (see
    /// [`Ledger::latest`]).
    pub fn kill(&self) -> Option<(&str, u64)> {
        Some((self.killed.as_deref()?, self.killed_at?))
    }

    /// One JSON line for `troika jobs --json`.
    pub fn json(&self) -> String {
        serde_json::json!({
            "submitted_at": iso_time(self.time),
            "site": self.site,
            "user": self.user,
            "script": self.script,
            "digest": self.digest,
            "job_id": self.job_id,
            "output": self.output,
        })
        .to_string()
    }

    /// One line for people.
    pub fn line(&self) -> String {
        format!(
            "{}  {}  {}  {}  {}",
            iso_time(self.time),
            self.site,
            self.job_id,
            self.script,
            self.output
        )
    }
}

/// SHA-256 of the file at `path`, in hex.
pub fn digest_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match f.read(&mut buf)? {
            0 => return Ok(hex(&h.finalize())),
            n => h.update(&buf[..n]),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A script as the ledger names it: absolute, without resolving links
/// (the path the workflow manager gave is the one it will ask about).
pub fn script_key(script: &Path) -> String {
    std::path::absolute(script)
        .unwrap_or_else(|_| script.to_path_buf())
        .display()
        .to_string()
}

/// How many files of pruned index days an append removes at the most.
const PRUNE_BATCH: usize = 16;

/// The ledger of one user.
#[derive(Clone, Debug)]
pub struct Ledger {
    dir: PathBuf,
    /// How many days of records are kept (`None`: all).
    keep_days: Option<u64>,
    /// The days of the index, read once for the lookups of a call (`status`
    /// of 1,000 scripts read the directory 1,000 times before).
    days: std::cell::RefCell<Option<Vec<String>>>,
}

/// Whether `name` is a day's name (`2026-12-03`).
fn is_day(name: &str) -> bool {
    name.len() == 10 && name.as_bytes()[4] == b'-' && name.as_bytes()[7] == b'-'
}

impl Ledger {
    pub fn at(dir: impl Into<PathBuf>) -> Ledger {
        Ledger {
            dir: dir.into(),
            keep_days: None,
            days: Default::default(),
        }
    }

    /// The same ledger, keeping `days` days of records (`None`: all): the
    /// first submission of each day removes the day files and the index of
    /// the days before.
    pub fn keeping(mut self, days: Option<u64>) -> Ledger {
        self.keep_days = days.filter(|d| *d > 0);
        self
    }

    /// The default place: `$XDG_STATE_HOME/troika/ledger`, else
    /// `~/.local/state/troika/ledger`.
    pub fn default_dir() -> Option<PathBuf> {
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|d| Path::new(d).is_absolute())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
        Some(state.join("troika/ledger"))
    }

    fn day_file(&self, time: u64) -> PathBuf {
        self.dir.join(format!("{}.jsonl", &iso_time(time)[..10]))
    }

    /// The index file of `script` for the day `day` (`2026-12-03`), or in
    /// the index of earlier versions, which had no days (`day` empty).
    fn index_file(&self, day: &str, script: &str) -> PathBuf {
        let h = hex(&Sha256::digest(script.as_bytes()));
        self.dir.join("index").join(day).join(&h[..2]).join(&h[2..])
    }

    /// The days of the index, newest first, then `""` for an index without
    /// days (written by earlier versions) when there is one.
    fn index_days(&self) -> Vec<String> {
        if let Some(days) = self.days.borrow().as_ref() {
            return days.clone();
        }
        let days = self.read_index_days();
        *self.days.borrow_mut() = Some(days.clone());
        days
    }

    fn read_index_days(&self) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.dir.join("index")) else {
            return vec![];
        };
        let mut days = Vec::new();
        let mut undated = false;
        for name in rd.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            if is_day(&name) {
                days.push(name);
            } else if name.len() == 2 {
                undated = true;
            }
        }
        days.sort_unstable_by(|a, b| b.cmp(a));
        if undated {
            days.push(String::new());
        }
        days
    }

    /// Appends `e`: one write to the day's file, then to the script's index
    /// of the day. The first record of a day removes the days older than
    /// the ledger keeps ([`Ledger::prune`]); that never fails the append.
    pub fn append(&self, e: &Entry) -> Result<()> {
        let mut line = serde_json::to_string(e).map_err(|err| Error::run(format!("ledger record: {err}")))?;
        line.push('\n');
        let day_file = self.day_file(e.time);
        let new_day = self.keep_days.is_some() && std::fs::symlink_metadata(&day_file).is_err();
        append_line(&day_file, &line)?;
        append_line(&self.index_file(&iso_time(e.time)[..10], &e.script), &line)?;
        // The index may have a new day now.
        self.days.borrow_mut().take();
        if new_day {
            if let Err(err) = self.prune(e.time) {
                crate::debug!("The job ledger was not pruned: {err}");
            }
        }
        if self.keep_days.is_some() {
            self.remove_pruned(PRUNE_BATCH);
        }
        Ok(())
    }

    /// Where the index days that [`Ledger::prune`] took out wait to be
    /// removed, a few files at each append.
    fn pruned_dir(&self) -> PathBuf {
        self.dir.join("index").join(".pruned")
    }

    /// Removes at most `n` files of the pruned index days (and the
    /// directories emptied); nothing but a failed `opendir` when there are
    /// none. Failures are left for a later append.
    fn remove_pruned(&self, mut n: usize) {
        remove_some(&self.pruned_dir(), &mut n);
    }

    /// Removes the day files and the index days older than the days kept
    /// before `now`; returns how many days were removed. A day file is one
    /// unlink; an index day, a file per script submitted that day, is
    /// renamed into `index/.pruned` at once and its files are removed
    /// [`PRUNE_BATCH`] at a time by the appends that follow, so that no
    /// submission pays for a whole day.
    pub fn prune(&self, now: u64) -> Result<usize> {
        let Some(keep) = self.keep_days else { return Ok(0) };
        let oldest = iso_time(now.saturating_sub(keep.saturating_sub(1) * 86_400))[..10].to_string();
        let io = |p: &Path, e: std::io::Error| Error::io("Cannot prune", p, e);
        let mut removed = 0;
        for dir in [self.dir.clone(), self.dir.join("index")] {
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, e)),
            };
            for entry in rd.filter_map(|e| e.ok()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let day = name.strip_suffix(".jsonl").unwrap_or(&name);
                if !is_day(day) || *day >= *oldest {
                    continue;
                }
                let path = entry.path();
                let gone = if name.ends_with(".jsonl") {
                    std::fs::remove_file(&path)
                } else {
                    let pruned = self.pruned_dir();
                    std::fs::create_dir_all(&pruned).and_then(|()| {
                        // A day of that name left there by an earlier prune.
                        let to = pruned.join(format!("{name}.{}", std::process::id()));
                        std::fs::rename(&path, to)
                    })
                };
                match gone {
                    Ok(()) => removed += 1,
                    // Another troika pruned it meanwhile.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(&path, e)),
                }
            }
        }
        Ok(removed)
    }

    /// The latest submission of `script`, if the ledger has one: the last
    /// whole record of its index file (whose end only is read).
    pub fn latest(&self, script: &Path) -> Option<Entry> {
        self.latest_of(&script_key(script))
    }

    /// [`Ledger::latest`] of a script named as [`script_key`] names it: the
    /// index of the newest day that has the script, with the kills of the
    /// job told on later days.
    pub fn latest_of(&self, key: &str) -> Option<Entry> {
        let mut kills: Vec<Entry> = Vec::new();
        for day in self.index_days() {
            let Some(entries) = read_tail(&self.index_file(&day, key)) else {
                continue;
            };
            let mut latest: Option<Entry> = None;
            for e in entries.into_iter().filter(|e| e.script == key) {
                match (&e.killed, latest.as_mut()) {
                    (None, _) => latest = Some(e),
                    (Some(how), Some(sub)) if sub.job_id == e.job_id => {
                        sub.killed = Some(how.clone());
                        sub.killed_at = Some(e.time);
                    }
                    (Some(_), None) => kills.push(e),
                    _ => {}
                }
            }
            if let Some(mut sub) = latest {
                if sub.killed.is_none() {
                    // Kills told on a later day: the last one of this job.
                    if let Some(k) = kills.iter().filter(|k| k.job_id == sub.job_id).max_by_key(|k| k.time) {
                        sub.killed = k.killed.clone();
                        sub.killed_at = Some(k.time);
                    }
                }
                return Some(sub);
            }
        }
        None
    }

    /// Every submission since `since` (seconds since the epoch), on `site`
    /// when given, oldest first, with how troika's kill of it ended when it
    /// killed it. Only the day files from `since`'s day on are read. Lines
    /// that cannot be read (a record cut by a crash) are skipped.
    pub fn list(&self, since: Option<u64>, site: Option<&str>) -> Result<Vec<Entry>> {
        let first_day = since.map(|t| iso_time(t)[..10].to_string());
        let mut days: Vec<PathBuf> = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    name.len() == 16
                        && name.ends_with(".jsonl")
                        && first_day.as_deref().is_none_or(|d| name[..10] >= *d)
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => {
                return Err(Error::run(format!(
                    "Cannot read the job ledger {}: {}",
                    quote(&self.dir.display().to_string()),
                    crate::error::io_reason(&e)
                )))
            }
        };
        days.sort();
        let mut out: Vec<Entry> = Vec::new();
        // Kills are few: told to their submissions at the end.
        let mut kills: Vec<Entry> = Vec::new();
        for day in days {
            let text = std::fs::read(&day).map_err(|e| Error::io("Cannot read", &day, e))?;
            for line in text.split(|c| *c == b'\n') {
                // Records older than `since` are passed over unparsed.
                if let (Some(t), Some(from)) = (line_time(line), since) {
                    if t < from {
                        continue;
                    }
                }
                let Ok(e) = serde_json::from_slice::<Entry>(line) else {
                    continue;
                };
                if since.is_some_and(|t| e.time < t) || site.is_some_and(|s| e.site != s) {
                    continue;
                }
                match e.killed {
                    None => out.push(e),
                    Some(_) => kills.push(e),
                }
            }
        }
        if !kills.is_empty() {
            let at: std::collections::HashMap<(&str, &str), usize> = out
                .iter()
                .enumerate()
                .map(|(i, e)| ((e.job_id.as_str(), e.script.as_str()), i))
                .collect();
            let told: Vec<(usize, Option<String>, u64)> = kills
                .into_iter()
                .filter_map(|k| Some((*at.get(&(k.job_id.as_str(), k.script.as_str()))?, k.killed, k.time)))
                .collect();
            for (i, how, time) in told {
                out[i].killed = how;
                out[i].killed_at = Some(time);
            }
        }
        Ok(out)
    }
}

/// The time of a record line (`{"time":N,...`, as [`Ledger::append`]
/// writes it), read without parsing the line.
fn line_time(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"time\":")?;
    let end = rest.iter().position(|c| !c.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// The whole records at the end of the file at `path` (its last 16 KiB).
fn read_tail(path: &Path) -> Option<Vec<Entry>> {
    use std::io::{Read, Seek, SeekFrom};
    const TAIL: u64 = 16 * 1024;
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
    let mut tail = Vec::new();
    f.read_to_end(&mut tail).ok()?;
    Some(
        tail.split(|c| *c == b'\n')
            .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
            .collect(),
    )
}

/// Appends `line` to the file at `path` (mode 0600) with one write,
/// creating the file and its directories (mode 0700) when missing.
fn append_line(path: &Path, line: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |what: &str, p: &Path, err: std::io::Error| {
        Error::run(format!(
            "Cannot {what} the job ledger {}: {}",
            quote(&p.display().to_string()),
            crate::error::io_reason(&err)
        ))
    };
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
    };
    let mut f = match open() {
        Ok(f) => f,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().expect("ledger files are in a directory");
            create_private_dir(dir).map_err(|err| io("create", dir, err))?;
            open().map_err(|err| io("open", path, err))?
        }
        Err(err) => return Err(io("open", path, err)),
    };
    f.write_all(line.as_bytes()).map_err(|err| io("write", path, err))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// A time given to `--since`: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (UTC),
/// or a duration back from now (`90m`, `2h`, `1d`, `1h30m`).
pub fn parse_since(text: &str, now: u64) -> std::result::Result<u64, String> {
    let t = text.trim();
    if let Some(secs) = parse_date(t) {
        return Ok(secs);
    }
    let span = t
        .strip_suffix('d')
        .and_then(|d| d.parse::<u64>().ok())
        .map(|d| d * 86_400)
        .or_else(|| crate::site::units::parse_walltime(t).ok())
        .ok_or_else(|| {
            format!(
                "invalid time {}: give a date (2026-12-03, 2026-12-03T06:00) or a time back from now (90m, 2h, 1d)",
                quote(t)
            )
        })?;
    Ok(now.saturating_sub(span))
}

fn parse_date(t: &str) -> Option<u64> {
    let (date, time) = t.split_once('T').unwrap_or((t, "00:00:00"));
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if date.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut h = time.trim_end_matches('Z').split(':').map(|p| p.parse::<u64>().ok());
    let (hh, mm, ss) = (h.next()??, h.next().unwrap_or(Some(0))?, h.next().unwrap_or(Some(0))?);
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    // SAFETY: timegm reads the tm we own (and normalises it in place).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = i32::try_from(y - 1900).ok()?;
    tm.tm_mon = i32::try_from(m - 1).ok()?;
    tm.tm_mday = i32::try_from(day).ok()?;
    tm.tm_hour = i32::try_from(hh).ok()?;
    tm.tm_min = i32::try_from(mm).ok()?;
    tm.tm_sec = i32::try_from(ss).ok()?;
    u64::try_from(unsafe { libc::timegm(&mut tm) }).ok()
}

/// Removes files below `dir`, `n` at the most (counting them down), and the
/// directories it empties, `dir` included.
fn remove_some(dir: &Path, n: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.filter_map(|e| e.ok()) {
        if *n == 0 {
            return;
        }
        let path = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_some(&path, n);
        } else {
            let _ = std::fs::remove_file(&path);
            *n -= 1;
        }
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(time: u64, site: &str, script: &str, jid: &str) -> Entry {
        Entry {
            time,
            site: site.into(),
            user: None,
            script: script.into(),
            digest: "0".repeat(64),
            job_id: jid.into(),
            output: "/o/x.1".into(),
            killed: None,
            killed_at: None,
        }
    }

    #[test]
    fn appends_lists_and_finds_the_latest() {
        let d = tempfile::tempdir().unwrap();
        let l = Ledger::at(d.path().join("l"));
        assert!(l.list(None, None).unwrap().is_empty());
        assert_eq!(l.latest(Path::new("/s/a.sh")), None);
        let day = 1_796_314_235;
        l.append(&entry(day, "hpc", "/s/a.sh", "1")).unwrap();
        l.append(&entry(day + 10, "other", "/s/b.sh", "2")).unwrap();
        l.append(&entry(day + 86_400, "hpc", "/s/a.sh", "3")).unwrap();
        assert_eq!(l.latest(Path::new("/s/a.sh")).unwrap().job_id, "3");
        // A kill of the job is told with it, and is no submission.
        let mut kill = entry(day + 86_401, "hpc", "/s/a.sh", "3");
        kill.killed = Some("CANCELLED".into());
        l.append(&kill).unwrap();
        let latest = l.latest(Path::new("/s/a.sh")).unwrap();
        assert_eq!(
            (latest.killed.as_deref(), latest.killed_at),
            (Some("CANCELLED"), Some(day + 86_401))
        );
        assert_eq!(l.list(None, None).unwrap().len(), 3);
        assert_eq!(l.list(None, Some("hpc")).unwrap().len(), 2);
        assert_eq!(l.list(Some(day + 5), None).unwrap().len(), 2);
        // A torn line is skipped, the others are read.
        let file = d.path().join("l/2026-12-03.jsonl");
        let mut f = std::fs::OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(b"{\"time\":1,\"si").unwrap();
        assert_eq!(l.list(None, None).unwrap().len(), 3);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_kill_told_on_a_later_day_is_found_and_listed() {
        let d = tempfile::tempdir().unwrap();
        let l = Ledger::at(d.path());
        let day = 1_796_314_235;
        l.append(&entry(day, "hpc", "/s/a.sh", "7")).unwrap();
        let mut kill = entry(day + 2 * 86_400, "hpc", "/s/a.sh", "7");
        kill.killed = Some("CANCELLED".into());
        l.append(&kill).unwrap();
        let latest = l.latest(Path::new("/s/a.sh")).unwrap();
        assert_eq!(
            (latest.job_id.as_str(), latest.kill()),
            ("7", Some(("CANCELLED", day + 2 * 86_400)))
        );
        let listed = l.list(None, None).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].kill(), Some(("CANCELLED", day + 2 * 86_400)));
        // A later submission is not the killed one.
        l.append(&entry(day + 3 * 86_400, "hpc", "/s/a.sh", "8")).unwrap();
        let latest = l.latest(Path::new("/s/a.sh")).unwrap();
        assert_eq!((latest.job_id.as_str(), latest.kill()), ("8", None));
    }

    #[test]
    fn an_index_of_earlier_versions_is_still_read() {
        let d = tempfile::tempdir().unwrap();
        let l = Ledger::at(d.path());
        let mut line = serde_json::to_string(&entry(5, "hpc", "/s/old.sh", "3")).unwrap();
        line.push('\n');
        append_line(&l.index_file("", "/s/old.sh"), &line).unwrap();
        assert_eq!(l.latest(Path::new("/s/old.sh")).unwrap().job_id, "3");
        l.append(&entry(1_796_314_235, "hpc", "/s/old.sh", "4")).unwrap();
        assert_eq!(l.latest(Path::new("/s/old.sh")).unwrap().job_id, "4");
    }

    #[test]
    fn the_first_record_of_a_day_prunes_the_days_not_kept() {
        let d = tempfile::tempdir().unwrap();
        let day = 1_796_314_235; // 2026-12-03
        let all = Ledger::at(d.path());
        for n in 0..5 {
            all.append(&entry(day + n * 86_400, "hpc", &format!("/s/{n}.sh"), &n.to_string()))
                .unwrap();
        }
        let names = |sub: &str| {
            let mut v: Vec<String> = std::fs::read_dir(d.path().join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.starts_with("2026"))
                .collect();
            v.sort();
            v
        };
        // A ledger that keeps all (0.2.7's default) prunes nothing.
        assert_eq!(names(".").len(), 5);
        let kept = Ledger::at(d.path()).keeping(Some(2));
        // Not the first record of its day: nothing is pruned.
        kept.append(&entry(day + 4 * 86_400 + 1, "hpc", "/s/x.sh", "9"))
            .unwrap();
        assert_eq!(names(".").len(), 5);
        // The first of the next day keeps it and the day before.
        kept.append(&entry(day + 5 * 86_400, "hpc", "/s/y.sh", "10")).unwrap();
        assert_eq!(names("."), ["2026-12-07.jsonl", "2026-12-08.jsonl"]);
        assert_eq!(names("index"), ["2026-12-07", "2026-12-08"]);
        assert_eq!(kept.latest(Path::new("/s/0.sh")), None);
        assert_eq!(kept.latest(Path::new("/s/4.sh")).unwrap().job_id, "4");
        assert_eq!(kept.list(None, None).unwrap().len(), 3);
        // Pruning again removes nothing more.
        assert_eq!(kept.prune(day + 5 * 86_400).unwrap(), 0);
        assert_eq!(
            Ledger::at(d.path()).keeping(Some(0)).prune(day + 99 * 86_400).unwrap(),
            0
        );
    }

    /// A pruned index day is set aside at once and removed a batch of files
    /// at each append, so that no one submission pays for a whole day.
    #[test]
    fn pruned_index_days_go_a_batch_per_append() {
        let d = tempfile::tempdir().unwrap();
        let day = 1_796_342_400; // 2026-12-04T00:00:00Z
        let l = Ledger::at(d.path()).keeping(Some(1));
        for n in 0..40 {
            l.append(&entry(day + n, "hpc", &format!("/s/{n}.sh"), &n.to_string()))
                .unwrap();
        }
        let old_index = d.path().join("index/2026-12-04");
        fn files_below(p: &Path) -> usize {
            std::fs::read_dir(p).map_or(0, |rd| {
                rd.map(|e| e.unwrap().path())
                    .map(|p| if p.is_dir() { files_below(&p) } else { 1 })
                    .sum()
            })
        }
        assert_eq!(files_below(&old_index), 40);
        let pruned = d.path().join("index/.pruned");
        let left = || files_below(&pruned);
        // The first record of the next day sets the old day aside and
        // removes one batch.
        l.append(&entry(day + 86_400, "hpc", "/s/new.sh", "100")).unwrap();
        assert!(!old_index.exists());
        assert_eq!(left(), 40 - PRUNE_BATCH);
        assert_eq!(l.latest(Path::new("/s/3.sh")), None, "a pruned day is no answer");
        l.append(&entry(day + 86_401, "hpc", "/s/new.sh", "101")).unwrap();
        assert_eq!(left(), 40 - 2 * PRUNE_BATCH);
        l.append(&entry(day + 86_402, "hpc", "/s/new.sh", "102")).unwrap();
        assert!(!pruned.exists(), "emptied, then removed");
        assert_eq!(l.latest(Path::new("/s/new.sh")).unwrap().job_id, "102");
    }

    #[test]
    fn list_passes_over_older_records_unparsed() {
        assert_eq!(line_time(br#"{"time":1796314235,"site":"s"}"#), Some(1_796_314_235));
        assert_eq!(line_time(br#"{"site":"s","time":1}"#), None);
        assert_eq!(line_time(b"{\"time\":12"), None);
        let d = tempfile::tempdir().unwrap();
        let l = Ledger::at(d.path());
        let day = 1_796_314_235;
        for n in 0..10 {
            l.append(&entry(day + n * 60, "hpc", "/s/a.sh", &n.to_string()))
                .unwrap();
        }
        let got: Vec<String> = l
            .list(Some(day + 480), None)
            .unwrap()
            .into_iter()
            .map(|e| e.job_id)
            .collect();
        assert_eq!(got, ["8", "9"]);
    }

    #[test]
    fn an_unwritable_ledger_is_an_error_that_names_it() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("file");
        std::fs::write(&file, "").unwrap();
        let l = Ledger::at(file.join("ledger"));
        let e = l.append(&entry(0, "s", "/a", "1")).unwrap_err().to_string();
        assert!(e.contains("job ledger") && e.contains("file/ledger"), "{e}");
    }

    #[test]
    fn hex_digests() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn since_takes_dates_and_spans() {
        let now = 1_796_314_235;
        assert_eq!(parse_since("2026-12-03", now), Ok(1_796_256_000));
        assert_eq!(parse_since("2026-12-03T16:10:35", now), Ok(now));
        assert_eq!(parse_since("2026-12-03T16:10", now), Ok(now - 35));
        assert_eq!(parse_since("2h", now), Ok(now - 7200));
        assert_eq!(parse_since("1d", now), Ok(now - 86_400));
        assert_eq!(parse_since("90m", now), Ok(now - 5400));
        assert!(parse_since("yesterday", now)
            .unwrap_err()
            .contains("invalid time 'yesterday'"));
        assert!(parse_since("2026-13-01", now).is_err());
    }
}
