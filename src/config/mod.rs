//! The YAML configuration: a top-level `sites` mapping (and an optional
//! `controller`), as in troika 0.2.7, and troika's optional `edition`. Sites
//! are read lazily: only the site an action uses is validated, so one broken
//! entry does not stop the others.

pub mod yaml;

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{Error, Result};
pub use yaml::{Node, Value};

/// The largest configuration file troika reads: 64 MiB (a configuration of
/// 260,000 sites is about 10 MB).
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// The built-in configuration used when no file is found.
pub use crate::registry::BUILTIN_CONFIG;

/// The defaults a configuration asks for, with its top-level `edition` key.
///
/// A configuration written for troika 0.2.7 has no `edition` and gets 0.2.7's
/// behaviour wherever troika keeps it, down to the command lines it runs, so
/// an installation can switch by changing one path. `edition: 2026` asks for
/// troika's own defaults where they differ (today: the ssh connection shares
/// one connection per host and never waits for a password or a dead server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Edition {
    /// No `edition`, or `edition: 0.2.7`.
    #[default]
    V0_2_7,
    /// `edition: 2026`.
    E2026,
}

impl Edition {
    /// The values of the `edition` key, newest first.
    pub const NAMES: [&'static str; 2] = ["2026", "0.2.7"];

    pub fn parse(text: &str) -> Option<Edition> {
        match text {
            "2026" => Some(Edition::E2026),
            "0.2.7" => Some(Edition::V0_2_7),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Edition::V0_2_7 => "0.2.7",
            Edition::E2026 => "2026",
        }
    }
}

/// What an edition changes, decided here and nowhere else: each behaviour
/// that differs from troika 0.2.7's in a way a user can see is one field,
/// on with `edition: 2026` and off for a 0.2.7 configuration. The docs
/// (configuration.md, Editions) list the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// ssh: `BatchMode`, a default `ConnectTimeout`, `ServerAliveInterval`
    /// and shared connections, as defaults of their site keys.
    pub ssh_defaults: bool,
    /// PBS: a kill of a job that is gone is VANISHED; a queued job is
    /// removed with `qdel` when `qsig` refuses it.
    pub pbs_forgiving_kill: bool,
    /// `remove_previous_output` removes the output on the site.
    pub remove_output_on_site: bool,
    /// `abort_on_ecflow` runs the client on the site when the script names
    /// its `ecflow_host`.
    pub ecflow_abort_on_site: bool,
    /// A submission that fails before the scheduler took the job puts the
    /// script and its `.orig` back.
    pub restore_failed_submission: bool,
    /// I/O errors are not worded as crashes (`Unhandled exception:`).
    pub plain_io_errors: bool,
    /// Generated scripts write a status record (the default of the site key
    /// `status_record`), and `monitor` starts `.stat` with the normalised
    /// state.
    pub status_record: bool,
    /// `monitor` and `kill` find a job in the ledger when its `.jid` file
    /// is missing, and a ledger that cannot be written is a warning (for
    /// 0.2.7 configurations the ledger is written silently and not read).
    pub ledger: bool,
    /// The default of the top-level key `ledger_keep_days`: how many days of
    /// the job ledger are kept (`None`: all, as for 0.2.7 configurations).
    pub ledger_keep_days: Option<u64>,
    /// `kill` asks the job's state after the kill and reports it at the
    /// normal verbosity in the state model's words (`FINISHED/CANCELLED`);
    /// 0.2.7 configurations keep their debug line `Kill of job N: KILLED`.
    pub kill_reports_state: bool,
    /// The default of the site key `retries`: how many times a command that
    /// failed transiently is tried again (none for 0.2.7 configurations).
    pub retries: u32,
    /// `kill` sends the cancel even when the job's state cannot be read
    /// first (0.2.7 stopped there, and the job kept running).
    pub kill_without_state: bool,
    /// The default of the site key `foreign_directives`: other schedulers'
    /// directives in a script (`#PBS` sent to Slurm) are translated
    /// through the generic directives and taken out of the script.
    pub foreign_directives: bool,
    /// The default of the site key `normalise_units`: walltimes and memory
    /// sizes that the units library reads (`1h30m`, `1.5G`) are written the
    /// way the site's scheduler reads them, without naming a translator.
    pub normalise_units: bool,
    /// Grid Engine sites ask for memory (`memory_per_cpu`,
    /// `memory_per_node`: `-l h_vmem=`) without the site key
    /// `memory_resource`; 0.2.7 reported them as unknown.
    pub sge_memory: bool,
    /// The default of the direct site key `accounting`: each job is started
    /// under a process that waits for it and writes how it ended beside its
    /// output file (`OUTPUT.exit`), which `status` reads.
    pub direct_accounting: bool,
}

impl Edition {
    /// What this edition changes (see [`Behaviour`]).
    pub fn behaviour(self) -> Behaviour {
        let new = self >= Edition::E2026;
        Behaviour {
            ssh_defaults: new,
            pbs_forgiving_kill: new,
            remove_output_on_site: new,
            ecflow_abort_on_site: new,
            restore_failed_submission: new,
            plain_io_errors: new,
            status_record: new,
            ledger: new,
            ledger_keep_days: if new { Some(30) } else { None },
            kill_reports_state: new,
            retries: if new { 6 } else { 0 },
            kill_without_state: new,
            foreign_directives: new,
            normalise_units: new,
            sge_memory: new,
            direct_accounting: new,
        }
    }
}

/// Where the configuration came from.
#[derive(Clone, Debug)]
pub enum Source {
    File(PathBuf),
    /// No file was found; `searched` says where troika looked.
    Builtin {
        searched: String,
    },
}

/// A loaded configuration file.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    /// File name used in messages.
    origin: Rc<str>,
    root: Node,
    edition: Edition,
    /// The position in `sites` of each site name (the first entry of a name), built when a
    /// site is first looked up.
    site_index: OnceCell<HashMap<String, usize>>,
    /// When the configuration is being checked (`troika config check`), the problems found
    /// so far, shared with every site read from it (see [`Problems`]).
    problems: Option<Problems>,
}

/// The problems of a configuration being checked. A configuration read for a check keeps
/// going where an action stops: a duplicate key keeps its first entry, a bad edition is
/// 0.2.7's, and a site's reader records a bad value and goes on with the key's default
/// ([`SiteConfig::recover`]), so that one run reports everything. Each problem is a line
/// `FILE:LINE:COL: site 'x': what is wrong`.
#[derive(Clone, Debug, Default)]
pub struct Problems {
    found: Rc<RefCell<Vec<String>>>,
    /// The programs of the commands each site reads (`sbatch_command`...): site, program.
    commands: Rc<RefCell<Vec<(String, String)>>>,
    /// The values each site's keys were read as, defaults included: site, key, value.
    reads: Rc<RefCell<Vec<(String, String, String)>>>,
}

impl Problems {
    pub fn push(&self, problem: String) {
        let mut list = self.found.borrow_mut();
        if !list.contains(&problem) {
            list.push(problem);
        }
    }

    /// The problems found so far, in the order found.
    pub fn list(&self) -> Vec<String> {
        self.found.borrow().clone()
    }

    /// The keys of site `site` as they were read, in the order first read, with their values
    /// (`None` when not set and the reader has no default of its own).
    pub fn values(&self, site: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (s, k, v) in self.reads.borrow().iter() {
            if s != site {
                continue;
            }
            // The last reading of a key wins: a reader with a default reads the key first.
            match out.iter_mut().find(|(key, _)| key == k) {
                Some(e) => e.1 = v.clone(),
                None => out.push((k.clone(), v.clone())),
            }
        }
        out
    }

    /// The programs site `site` runs, as its configuration names them or by default.
    pub fn programs(&self, site: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (s, p) in self.commands.borrow().iter() {
            if s == site && !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}

impl Config {
    /// Reads and parses a configuration file. Syntax errors and a top level that is not a
    /// mapping are reported here; the sites are checked when used. For a check when
    /// `problems` is given (see [`Problems`]).
    pub fn load_as(path: &Path, problems: Option<Problems>) -> Result<Config> {
        let text = crate::util::read_limited(path, MAX_CONFIG_BYTES)
            .map_err(|e| Error::config(format!("Cannot read configuration file '{}': {e}", path.display())))?
            .ok_or_else(|| {
                Error::config(format!(
                    "{}: the configuration is larger than {} MiB, the most troika reads: split it, or check that -c names the right file",
                    path.display(),
                    MAX_CONFIG_BYTES >> 20
                ))
            })?;
        let text = String::from_utf8(text).map_err(|e| {
            Error::config(format!(
                "{}: not valid UTF-8 text (byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ))
        })?;
        Self::read(&text, Source::File(path.to_path_buf()), problems)
    }

    /// The built-in configuration: one `localhost` site (direct, local).
    pub fn builtin(searched: String) -> Config {
        Self::from_text(BUILTIN_CONFIG, Source::Builtin { searched }).expect("built-in configuration is valid")
    }

    pub fn from_text(text: &str, source: Source) -> Result<Config> {
        Self::read(text, source, None)
    }

    /// The configuration in `text`; with `problems`, read for a check: the duplicate keys and
    /// a bad edition are recorded there and reading goes on.
    pub fn read(text: &str, source: Source, problems: Option<Problems>) -> Result<Config> {
        let origin: Rc<str> = match &source {
            Source::File(p) => p.display().to_string().into(),
            Source::Builtin { .. } => "<built-in configuration>".into(),
        };
        let located = |(msg, loc): yaml::ParseError| match loc {
            Some((l, c)) => format!("{origin}:{l}:{c}: {msg}"),
            None => format!("{origin}: {msg}"),
        };
        let root = match &problems {
            None => Node::parse(text).map_err(|e| Error::config(located(e)))?,
            Some(p) => {
                let (root, duplicates) = Node::parse_all(text).map_err(|e| Error::config(located(e)))?;
                // A duplicate key in a site is the site's problem: the site is the last one
                // that starts before it.
                let sites = root.get("sites").and_then(Node::entries).unwrap_or(&[]);
                for (msg, loc) in duplicates {
                    let site = loc.and_then(|(l, c)| {
                        sites
                            .iter()
                            .rev()
                            .find(|(k, _)| (k.line, k.col) <= (l, c) && k.line > 0)
                            .filter(|(k, _)| k.col < c || (k.line, k.col) == (l, c))
                            .map(|(k, _)| k.key_text())
                    });
                    p.push(match site {
                        Some(name) => located((format!("site '{name}': {msg}"), loc)),
                        None => located((msg, loc)),
                    });
                }
                root
            }
        };
        match &root.value {
            Value::Map(_) | Value::Null => {}
            // troika 0.2.7 fails with "Unhandled exception" here; the words are
            // kept for log scrapers, with the actual reason.
            _ => {
                return Err(Error::Unexpected(format!(
                    "{origin}:{}:{}: the configuration must be a mapping with a 'sites' entry, found {}",
                    root.line,
                    root.col,
                    root.kind()
                )))
            }
        }
        let edition = match root.get("edition") {
            None => Edition::default(),
            Some(n) => match n.scalar_text().as_deref().and_then(Edition::parse) {
                Some(e) => e,
                None => {
                    let msg = format!(
                        "{}: unknown edition {}: use `edition: 2026` for troika's defaults, or leave it out (or write `edition: 0.2.7`) for troika 0.2.7's behaviour",
                        at(&origin, n),
                        n.scalar_text().map(|t| crate::util::quote(&t)).unwrap_or_else(|| n.kind().to_string())
                    );
                    match &problems {
                        None => return Err(Error::config(msg)),
                        Some(p) => {
                            p.push(msg);
                            Edition::default()
                        }
                    }
                }
            },
        };
        Ok(Config {
            source,
            origin,
            root,
            edition,
            site_index: OnceCell::new(),
            problems,
        })
    }

    /// The configuration's `edition` (0.2.7 when it has none).
    pub fn edition(&self) -> Edition {
        self.edition
    }

    /// `file:line:col` of a node, for messages.
    pub fn at(&self, node: &Node) -> String {
        at(&self.origin, node)
    }

    /// A top-level entry (`ledger`, ...), if any.
    pub fn root_get(&self, key: &str) -> Option<&Node> {
        self.root.get(key)
    }

    /// The `controller` entry, if any.
    pub fn controller(&self) -> Option<&Node> {
        self.root.get("controller")
    }

    /// The entries of `sites`, in file order.
    pub fn site_entries(&self) -> Result<&[(Node, Node)]> {
        let sites = match self.root.get("sites") {
            None => return Err(Error::config("No 'sites' defined in configuration")),
            Some(s) => s,
        };
        if sites.is_null() {
            return Err(Error::config("No 'sites' defined in configuration"));
        }
        sites.entries().ok_or_else(|| {
            Error::config(format!(
                "{}: 'sites' must be a mapping of site names, found {}",
                self.at(sites),
                sites.kind()
            ))
        })
    }

    /// The names of all sites.
    pub fn site_names(&self) -> Result<Vec<String>> {
        Ok(self.site_entries()?.iter().map(|(k, _)| k.key_text()).collect())
    }

    /// The configuration of site `name`.
    pub fn site(&self, name: &str) -> Result<SiteConfig> {
        let entries = self.site_entries()?;
        let index = self.site_index.get_or_init(|| {
            let mut index = HashMap::with_capacity(entries.len());
            for (i, (k, _)) in entries.iter().enumerate() {
                index.entry(k.key_text()).or_insert(i);
            }
            index
        });
        let (key, node) = index.get(name).map(|&i| &entries[i]).ok_or_else(|| {
            let mut msg = format!("Unknown site {}", crate::util::quote(name));
            if let Source::Builtin { searched } = &self.source {
                msg.push_str(&format!(
                    ". No configuration file found (looked for {searched}); the built-in configuration only has the site 'localhost'. Pass -c FILE or set TROIKA_CONFIG_FILE."
                ));
            } else {
                msg.push_str(&did_you_mean(name, entries.iter().map(|(k, _)| k.key_text())));
            }
            Error::invocation(msg)
        })?;
        let mut site = SiteConfig::new(name.to_string(), key.clone(), node.clone(), self.origin.clone())?
            .with_edition(self.edition);
        site.problems = self.problems.clone();
        Ok(site)
    }

    /// The problems recorded so far when the configuration is read for a check.
    pub fn problems(&self) -> Option<&Problems> {
        self.problems.as_ref()
    }

    /// The name of the file, as messages give it.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

fn at(origin: &str, node: &Node) -> String {
    if node.line == 0 {
        origin.to_string()
    } else {
        format!("{origin}:{}:{}", node.line, node.col)
    }
}

/// The configuration of one site: a mapping of keys, with typed accessors whose
/// errors name the file, line and column.
#[derive(Clone, Debug)]
pub struct SiteConfig {
    pub name: String,
    /// The edition of the configuration the site comes from.
    pub edition: Edition,
    key: Node,
    node: Node,
    origin: Rc<str>,
    /// Set when the site is read for a check (see [`SiteConfig::recover`]).
    problems: Option<Problems>,
}

impl SiteConfig {
    pub fn new(name: String, key: Node, node: Node, origin: Rc<str>) -> Result<SiteConfig> {
        let node = if node.is_null() {
            Node {
                value: Value::Map(vec![]),
                ..node
            }
        } else {
            node
        };
        if node.entries().is_none() {
            return Err(Error::config(format!(
                "{}: site '{name}' must be a mapping of settings, found {}",
                at(&origin, &node),
                node.kind()
            )));
        }
        Ok(SiteConfig {
            name,
            edition: Edition::default(),
            key,
            node,
            origin,
            problems: None,
        })
    }

    /// For a check, records the value `key` was read as.
    fn note<T: std::fmt::Debug>(&self, key: &str, value: Result<T>, show: impl FnOnce(&T) -> String) -> Result<T> {
        if let (Some(p), Ok(v)) = (&self.problems, &value) {
            p.reads.borrow_mut().push((self.name.clone(), key.to_string(), show(v)));
        }
        value
    }

    /// The same site read for a check into `problems`.
    pub fn checked_by(mut self, problems: Problems) -> SiteConfig {
        self.problems = Some(problems);
        self
    }

    /// `FILE:LINE` of a node.
    pub fn line_of(&self, node: &Node) -> String {
        format!("{}:{}", self.origin, node.line)
    }

    /// Whether the site is read for a check (`troika config check`).
    pub fn checking(&self) -> bool {
        self.problems.is_some()
    }

    /// The one place where a check goes on past a problem. For an action, `r` as it is: the
    /// first problem stops the site. For a check, a problem is recorded (located at the site
    /// when its message names no place) and `fallback` stands for the value, so that the
    /// rest of the site is read and checked too.
    pub fn recover<T>(&self, r: Result<T>, fallback: impl FnOnce() -> T) -> Result<T> {
        self.recover_at(&[], r, fallback)
    }

    /// [`SiteConfig::recover`] for a reader of the site keys `keys`: a problem whose message
    /// names no place is put at the key the message names (else the first key set).
    pub fn recover_at<T>(&self, keys: &[&str], r: Result<T>, fallback: impl FnOnce() -> T) -> Result<T> {
        match (r, &self.problems) {
            (Err(e), Some(p)) => {
                let msg = e.detail();
                let set = || {
                    keys.iter()
                        .filter_map(|k| Some((*k, self.node.entries()?.iter().find(|(n, _)| n.as_str() == Some(k))?)))
                };
                let key = set().find(|(k, _)| msg.contains(k)).or_else(|| set().next());
                p.push(match key {
                    Some((_, (k, _))) if !msg.starts_with(&*self.origin) => {
                        format!("{}: site '{}': {msg}", self.at(k), self.name)
                    }
                    _ => self.located(msg),
                });
                Ok(fallback())
            }
            (r, _) => r,
        }
    }

    /// A problem of the site, recorded for a check; for an action, the error.
    pub fn problem(&self, e: Error) -> Result<()> {
        self.recover(Err(e), || ())
    }

    /// `msg` with the site's place in front when it names none.
    fn located(&self, msg: &str) -> String {
        if msg.starts_with(&*self.origin) {
            msg.to_string()
        } else {
            format!("{}: site '{}': {msg}", self.location(), self.name)
        }
    }

    /// A site config built from YAML text, for tests and embedding programs.
    pub fn from_yaml(name: &str, text: &str) -> Result<SiteConfig> {
        let node = Node::parse(text).map_err(|(m, _)| Error::config(m))?;
        SiteConfig::new(
            name.to_string(),
            Node::new(Value::Str(name.into())),
            node,
            "<inline>".into(),
        )
    }

    /// What the site's edition changes from 0.2.7's behaviour.
    pub fn behaviour(&self) -> Behaviour {
        self.edition.behaviour()
    }

    /// The same site under another edition's defaults.
    pub fn with_edition(mut self, edition: Edition) -> SiteConfig {
        self.edition = edition;
        self
    }

    /// `file:line:col` of `node`.
    pub fn at(&self, node: &Node) -> String {
        at(&self.origin, node)
    }

    /// `file:line:col` of the site's name.
    pub fn location(&self) -> String {
        at(&self.origin, &self.key)
    }

    fn err(&self, node: &Node, msg: impl std::fmt::Display) -> Error {
        Error::config(format!("{}: site '{}': {msg}", self.at(node), self.name))
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        self.node.entries().unwrap_or(&[])
    }

    /// The raw node of `key`. A key present with a null value is `Some(null)`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        #[cfg(test)]
        KEYS_READ.with(|k| k.borrow_mut().insert(key.to_string()));
        self.node.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A required string (`type`, `connection`).
    pub fn required_str(&self, key: &str) -> Result<String> {
        match self.get(key) {
            None | Some(Node { value: Value::Null, .. }) => {
                Err(Error::config(format!("Site '{}' has no '{key}'", self.name)))
            }
            Some(n) => n
                .scalar_text()
                .ok_or_else(|| self.err(n, format!("'{key}' must be a string, found {}", n.kind()))),
        }
    }

    /// An optional string; null counts as absent.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>> {
        let r = match self.get(key) {
            None | Some(Node { value: Value::Null, .. }) => Ok(None),
            Some(n) => match &n.value {
                Value::Str(s) => Ok(Some(s.clone())),
                Value::Int(_) | Value::Float(_) => Ok(n.scalar_text()),
                _ => Err(self.err(n, format!("'{key}' must be a string, found {}", n.kind()))),
            },
        };
        let r = self.recover(r, || None);
        self.note(key, r, |v| v.clone().unwrap_or_else(|| "(not set)".into()))
    }

    /// A boolean with a default. PyYAML booleans (`yes`, `on`) are booleans
    /// already; strings such as `"true"` are accepted too.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        let r = match self.get(key) {
            None | Some(Node { value: Value::Null, .. }) => Ok(default),
            Some(n) => match &n.value {
                Value::Bool(b) => Ok(*b),
                Value::Int(0) => Ok(false),
                Value::Int(1) => Ok(true),
                Value::Str(s) => crate::util::parse_bool(s).ok_or_else(|| {
                    self.err(
                        n,
                        format!("'{key}' must be a boolean (true/false, yes/no), found '{s}'"),
                    )
                }),
                _ => Err(self.err(
                    n,
                    format!("'{key}' must be a boolean (true/false, yes/no), found {}", n.kind()),
                )),
            },
        };
        let r = self.recover(r, || default);
        self.note(key, r, |v| v.to_string())
    }

    /// A count: a whole number from 0 up (an integer, or a string holding
    /// one).
    pub fn count(&self, key: &str) -> Result<Option<u32>> {
        let r = (|| {
            let Some(n) = self.get(key).filter(|n| !n.is_null()) else {
                return Ok(None);
            };
            let parsed = match &n.value {
                Value::Int(i) => u32::try_from(*i).ok(),
                Value::Str(s) => s.trim().parse::<u32>().ok(),
                _ => None,
            };
            parsed
                .map(Some)
                .ok_or_else(|| self.err(n, format!("'{key}' must be a whole number from 0 up, found {n}")))
        })();
        let r = self.recover(r, || None);
        self.note(key, r, |v| {
            v.map(|c| c.to_string()).unwrap_or_else(|| "(not set)".into())
        })
    }

    /// A number of seconds (see `seconds_of`).
    pub fn seconds(&self, key: &str) -> Result<Option<f64>> {
        let r = match self.get(key) {
            None | Some(Node { value: Value::Null, .. }) => Ok(None),
            Some(n) => seconds_of(n, &format!("'{key}'")).map(Some).map_err(|m| self.err(n, m)),
        };
        let r = self.recover(r, || None);
        self.note(key, r, |v| {
            v.map(crate::util::py_float).unwrap_or_else(|| "(not set)".into())
        })
    }

    /// A number of seconds with a default (shown by `troika config show` as the value).
    pub fn seconds_or(&self, key: &str, default: f64) -> Result<f64> {
        let v = self.seconds(key)?.unwrap_or(default);
        self.note(key, Ok(v), |v| crate::util::py_float(*v))
    }

    /// A count with a default (shown by `troika config show` as the value).
    pub fn count_or(&self, key: &str, default: u32) -> Result<u32> {
        let v = self.count(key)?.unwrap_or(default);
        self.note(key, Ok(v), |v| v.to_string())
    }

    /// A command: a string (one program name or path) or a list of strings
    /// (program and leading arguments). Never split on spaces.
    pub fn command(&self, key: &str, default: &[&str]) -> Result<Vec<String>> {
        let r = match self.get(key) {
            None | Some(Node { value: Value::Null, .. }) => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(n) => {
                let v = self.str_list_node(key, n)?;
                if v.is_empty() {
                    return Err(self.err(n, format!("'{key}' must not be empty")));
                }
                Ok(v)
            }
        };
        let argv = self.recover(r, || default.iter().map(|s| s.to_string()).collect());
        let argv = self.note(key, argv, |v| format!("{v:?}"))?;
        if let (Some(p), Some(program)) = (&self.problems, argv.first()) {
            p.commands.borrow_mut().push((self.name.clone(), program.clone()));
        }
        Ok(argv)
    }

    /// A list of strings (a single string counts as a one-element list).
    pub fn str_list(&self, key: &str) -> Result<Vec<String>> {
        let r = match self.get(key) {
            None | Some(Node { value: Value::Null, .. }) => Ok(vec![]),
            Some(n) => self.str_list_node(key, n),
        };
        let r = self.recover(r, Vec::new);
        self.note(key, r, |v| format!("{v:?}"))
    }

    fn str_list_node(&self, key: &str, n: &Node) -> Result<Vec<String>> {
        match &n.value {
            Value::Str(s) => Ok(vec![s.clone()]),
            Value::Seq(items) => items
                .iter()
                .map(|i| match &i.value {
                    Value::Str(_) | Value::Int(_) | Value::Float(_) => Ok(i.scalar_text().unwrap_or_default()),
                    _ => Err(self.err(
                        i,
                        format!("'{key}' must be a list of strings, found {} in it", i.kind()),
                    )),
                })
                .collect(),
            _ => Err(self.err(
                n,
                format!("'{key}' must be a string or a list of strings, found {}", n.kind()),
            )),
        }
    }

    /// Reports keys that no part of the site knows, with the closest known key.
    pub fn warn_unknown_keys(&self, known: &[&str]) {
        let site_start = (self.node.line, self.node.col);
        for (k, _) in self.entries() {
            let key = k.key_text();
            if known.contains(&key.as_str()) {
                continue;
            }
            // A key written before the site's own mapping came in through a
            // merge key (`<<: *defaults`): a block shared by sites of several
            // types holds keys that this type does not use, and that is fine.
            if k.line > 0 && (k.line, k.col) < site_start {
                crate::debug!(
                    "{}: site '{}': key '{key}' (merged in) is not used by this site",
                    self.at(k),
                    self.name
                );
                continue;
            }
            let hint = did_you_mean(&key, known.iter().map(|s| s.to_string()));
            let msg = format!("{}: site '{}': unknown key '{key}'{hint}", self.at(k), self.name);
            match &self.problems {
                Some(p) => p.push(msg),
                None => crate::warning!("{msg}"),
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Every site key read through [`SiteConfig::get`] on this thread, for
    /// the test that each one is declared by a site type, connection or
    /// translator (an undeclared key would be reported as unknown).
    pub static KEYS_READ: std::cell::RefCell<std::collections::BTreeSet<String>> =
        const { std::cell::RefCell::new(std::collections::BTreeSet::new()) };
}

/// Reads a number of seconds: an integer, a float or a string holding one
/// (`"30"`), positive and at most [`crate::util::MAX_SECONDS`]. Every time
/// limit of a configuration is read so (site keys, hooks, translators);
/// `label` names it in the message (`'command_timeout'`).
pub fn seconds_of(n: &Node, label: &str) -> std::result::Result<f64, String> {
    let bad = |found: String| format!("{label} must be a positive number of seconds, found {found}");
    let v = match &n.value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => s.trim().parse::<f64>().map_err(|_| bad(format!("'{s}'")))?,
        _ => return Err(bad(n.kind().to_string())),
    };
    if !(v > 0.0 && v.is_finite()) {
        return Err(bad(n.to_string()));
    }
    if crate::util::duration_secs(v).is_none() {
        return Err(format!(
            "{label} must be a positive number of seconds, at most {} (about 31 years), found {n}",
            crate::util::MAX_SECONDS
        ));
    }
    Ok(v)
}

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible typo.
pub fn closest(word: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    let word_len = word.chars().count();
    for c in candidates {
        let c_len = c.chars().count();
        let limit = (c_len.max(word_len) / 3).max(1);
        // The difference in length is the least the distance can be: a candidate that cannot
        // be close enough, or closer than the best so far, is not measured.
        let least = c_len.abs_diff(word_len);
        if least > limit || best.as_ref().is_some_and(|(bd, _)| least >= *bd) {
            continue;
        }
        let d = edit_distance(word, &c);
        if d <= limit && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean 'x'?)` for the candidate [`closest`] to `word`, or
/// nothing: the hint every message about an unknown name ends with.
pub fn did_you_mean(word: &str, candidates: impl Iterator<Item = String>) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edition_of(text: &str) -> Result<Edition> {
        let c = Config::from_text(text, Source::File("t.yml".into()))?;
        let e = c.edition();
        if c.site_names().map(|n| !n.is_empty()).unwrap_or(false) {
            assert_eq!(c.site(&c.site_names()?[0])?.edition, e, "sites carry the edition");
        }
        Ok(e)
    }

    #[test]
    fn editions() {
        assert_eq!(edition_of("sites: {a: {type: direct}}\n").unwrap(), Edition::V0_2_7);
        assert_eq!(edition_of("edition: 0.2.7\nsites: {a: {}}\n").unwrap(), Edition::V0_2_7);
        assert_eq!(edition_of("edition: 2026\nsites: {a: {}}\n").unwrap(), Edition::E2026);
        assert_eq!(edition_of("edition: '2026'\n").unwrap(), Edition::E2026);
        let e = edition_of("sites: {}\nedition: 2025\n").unwrap_err().to_string();
        assert!(
            e.contains("t.yml:2:10: unknown edition '2025': use `edition: 2026`"),
            "{e}"
        );
        let e = edition_of("edition: [1]\n").unwrap_err().to_string();
        assert!(e.contains("unknown edition a list"), "{e}");
        let none = Edition::V0_2_7.behaviour();
        let all = Edition::E2026.behaviour();
        assert_eq!(
            none,
            Behaviour {
                ssh_defaults: false,
                pbs_forgiving_kill: false,
                remove_output_on_site: false,
                ecflow_abort_on_site: false,
                restore_failed_submission: false,
                plain_io_errors: false,
                status_record: false,
                ledger: false,
                ledger_keep_days: None,
                kill_reports_state: false,
                retries: 0,
                kill_without_state: false,
                foreign_directives: false,
                normalise_units: false,
                sge_memory: false,
                direct_accounting: false,
            },
            "a 0.2.7 configuration gets none of troika's changes"
        );
        assert_eq!(
            all,
            Behaviour {
                ssh_defaults: true,
                pbs_forgiving_kill: true,
                remove_output_on_site: true,
                ecflow_abort_on_site: true,
                restore_failed_submission: true,
                plain_io_errors: true,
                status_record: true,
                ledger: true,
                ledger_keep_days: Some(30),
                kill_reports_state: true,
                retries: 6,
                kill_without_state: true,
                foreign_directives: true,
                normalise_units: true,
                sge_memory: true,
                direct_accounting: true,
            }
        );
        assert_eq!(
            Config::builtin(String::new()).edition(),
            Edition::E2026,
            "the built-in configuration is a new one"
        );
    }

    #[test]
    fn closest_key() {
        let known = ["sbatch_command", "squeue_command", "copy_script"];
        assert_eq!(
            closest("sbatch_comand", known.iter().map(|s| s.to_string())).as_deref(),
            Some("sbatch_command")
        );
        assert_eq!(closest("zzz", known.iter().map(|s| s.to_string())), None);
    }

    #[test]
    fn sites_among_many() {
        let mut text = String::from("sites:\n  1: {type: direct}\n  '1': {type: slurm}\n");
        text.extend((0..50_000).map(|i| format!("  site_{i}: {{type: pbs, connection: c{i}}}\n")));
        let cfg = Config::from_text(&text, Source::File("c.yml".into())).unwrap();
        assert_eq!(cfg.site_names().unwrap().len(), 50_002);
        // Two keys with the same text: the first is the site.
        assert_eq!(cfg.site("1").unwrap().required_str("type").unwrap(), "direct");
        for i in [0, 1, 25_000, 49_999] {
            let site = cfg.site(&format!("site_{i}")).unwrap();
            assert_eq!(site.required_str("connection").unwrap(), format!("c{i}"));
            assert_eq!(site.location(), format!("c.yml:{}:3", i + 4));
        }
        let err = cfg.site("site_49999x").unwrap_err().to_string();
        assert!(
            err.contains("Unknown site 'site_49999x' (did you mean 'site_49999'?)"),
            "{err}"
        );
        let err = cfg.site("nowhere_near_any_site_name").unwrap_err().to_string();
        assert!(!err.contains("did you mean"), "{err}");
    }

    #[test]
    fn errors_carry_location() {
        let cfg = Config::from_text(
            "sites:\n  s:\n    type: slurm\n    copy_script: maybe\n",
            Source::File("c.yml".into()),
        )
        .unwrap();
        let site = cfg.site("s").unwrap();
        let err = site.bool_or("copy_script", false).unwrap_err().to_string();
        assert!(err.contains("c.yml:4:18"), "{err}");
        assert!(err.contains("maybe"), "{err}");
    }

    #[test]
    fn missing_sites() {
        let cfg = Config::from_text("", Source::File("c.yml".into())).unwrap();
        assert!(cfg
            .site_entries()
            .unwrap_err()
            .to_string()
            .contains("No 'sites' defined"));
    }

    #[test]
    fn not_a_mapping() {
        let err = Config::from_text("just a string\n", Source::File("c.yml".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be a mapping"), "{err}");
    }

    #[test]
    fn a_check_records_problems_and_goes_on_where_an_action_stops() {
        let text = "sites:\n  s:\n    copy_script: maybe\n    retries: many\n";
        let action = Config::from_text(text, Source::File("c.yml".into())).unwrap();
        let site = action.site("s").unwrap();
        assert!(site.bool_or("copy_script", false).is_err());
        let problems = Problems::default();
        let check = Config::read(text, Source::File("c.yml".into()), Some(problems.clone())).unwrap();
        let site = check.site("s").unwrap();
        assert!(
            !site.bool_or("copy_script", false).unwrap(),
            "the default stands for it"
        );
        assert_eq!(site.count("retries").unwrap(), None);
        let found = problems.list();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("c.yml:3:18: site 's': 'copy_script'"), "{found:?}");
        assert!(found[1].starts_with("c.yml:4:14: site 's': 'retries'"), "{found:?}");
    }

    #[test]
    fn command_string_or_list() {
        let s = SiteConfig::from_yaml("x", "a: sbatch\nb: [qsub, -W, block=false]\n").unwrap();
        assert_eq!(s.command("a", &["d"]).unwrap(), vec!["sbatch"]);
        assert_eq!(s.command("b", &["d"]).unwrap(), vec!["qsub", "-W", "block=false"]);
        assert_eq!(s.command("c", &["d"]).unwrap(), vec!["d"]);
    }
}
