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

/// The ledger of one user.
#[derive(Clone, Debug)]
pub struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    pub fn at(dir: impl Into<PathBuf>) -> Ledger {
        Ledger { dir: dir.into() }
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

    fn index_file(&self, script: &str) -> PathBuf {
        let h = hex(&Sha256::digest(script.as_bytes()));
        self.dir.join("index").join(&h[..2]).join(&h[2..])
    }

    /// Appends `e`: one write to the day's file, then the script's index.
    pub fn append(&self, e: &Entry) -> Result<()> {
        let mut line = serde_json::to_string(e).map_err(|err| Error::run(format!("ledger record: {err}")))?;
        line.push('\n');
        append_line(&self.day_file(e.time), &line)?;
        append_line(&self.index_file(&e.script), &line)
    }

    /// The latest submission of `script`, if the ledger has one: the last
    /// whole record of its index file (whose end only is read).
    pub fn latest(&self, script: &Path) -> Option<Entry> {
        self.latest_of(&script_key(script))
    }

    /// [`Ledger::latest`] of a script named as [`script_key`] names it.
    pub fn latest_of(&self, key: &str) -> Option<Entry> {
        use std::io::{Read, Seek, SeekFrom};
        const TAIL: u64 = 16 * 1024;
        let mut f = std::fs::File::open(self.index_file(key)).ok()?;
        let len = f.metadata().ok()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(TAIL))).ok()?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).ok()?;
        let mut latest: Option<Entry> = None;
        for e in tail
            .split(|c| *c == b'\n')
            .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
        {
            if e.script != key {
                continue;
            }
            match (&e.killed, latest.as_mut()) {
                (None, _) => latest = Some(e),
                (Some(how), Some(sub)) if sub.job_id == e.job_id => {
                    sub.killed = Some(how.clone());
                    sub.killed_at = Some(e.time);
                }
                _ => {}
            }
        }
        latest
    }

    /// Every submission since `since` (seconds since the epoch), on `site`
    /// when given, oldest first. Lines that cannot be read (a record cut by
    /// a crash) are skipped.
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
        let mut out = Vec::new();
        for day in days {
            let text = std::fs::read(&day).map_err(|e| Error::io("Cannot read", &day, e))?;
            for line in text.split(|c| *c == b'\n') {
                let Ok(e) = serde_json::from_slice::<Entry>(line) else {
                    continue;
                };
                if e.killed.is_some() || since.is_some_and(|t| e.time < t) || site.is_some_and(|s| e.site != s) {
                    continue;
                }
                out.push(e);
            }
        }
        Ok(out)
    }
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
