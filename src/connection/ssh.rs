//! The ssh connection: commands run on a remote host through OpenSSH's `ssh`
//! and files move with `scp`, so users' `~/.ssh/config`, ProxyJump, agents
//! and Kerberos keep working.
//!
//! Every remote argument is shell-quoted on its own (the remote login shell
//! parses the command line again); a remote command is never pasted together.
//! With `edition: 2026` calls are multiplexed over one OpenSSH master per user
//! and host (`ControlMaster=auto`, `ControlPersist`) and never wait for a
//! password or a dead server (`BatchMode=yes`, `ConnectTimeout`,
//! `ServerAliveInterval`). A configuration without an edition gets 0.2.7's
//! command lines; each option can be set per site either way.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::local::run;
use super::{Command, Connection, ConnectionOptions, Outcome};
use crate::config::SiteConfig;
use crate::error::{Error, Reach, Result};
use crate::util::{pure_path, quote_argv};

pub const KEYS: &[&str] = &[
    "host",
    "user",
    "ssh_command",
    "scp_command",
    "ssh_options",
    "scp_options",
    "ssh_verbose",
    "ssh_strict_host_key_checking",
    "ssh_connect_timeout",
    "ssh_multiplex",
    "ssh_control_persist",
    "ssh_server_alive_interval",
    "ssh_batch_mode",
    "remote_cwd",
];

/// Default `ConnectTimeout` when the site sets none, in seconds.
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 30;
/// Default `ServerAliveInterval`, in seconds (with `ServerAliveCountMax=3`).
pub const DEFAULT_SERVER_ALIVE: u64 = 15;
/// Default `ControlPersist`: how long an idle master stays up, in seconds.
pub const DEFAULT_CONTROL_PERSIST: u64 = 60;

/// Quotes one argument for a POSIX shell: safe words as they are, anything
/// else in single quotes (`'` becomes `'"'"'`), the empty string as `''`.
pub fn shell_quote(s: &str) -> String {
    String::from_utf8(crate::util::shell_quote_bytes(s.as_bytes())).expect("quoting keeps text text")
}

/// Checks a user or host name that goes into ssh's and scp's command lines:
/// one that starts with `-` would be read as an option (`-oProxyCommand=...`
/// runs a command here), and control characters have no place in either.
pub fn check_destination_part(what: &str, value: &str) -> std::result::Result<(), String> {
    if value.starts_with('-') {
        return Err(format!(
            "{what} {} starts with '-': ssh and scp would read it as an option",
            crate::util::quote(value)
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{what} {} contains a control character (a line break?)",
            crate::util::quote(value)
        ));
    }
    Ok(())
}

/// Whether scp's options ask for the legacy SCP protocol (`-O`), in which
/// the remote shell reads remote paths (with SFTP, the default of OpenSSH
/// 9, it does not).
fn legacy_scp(opts: &[String]) -> bool {
    // Options of scp that take a value, from OpenSSH's manual.
    const WITH_VALUE: &[u8] = b"cFiJlPoSX";
    let mut args = opts.iter();
    while let Some(a) = args.next() {
        let Some(flags) = a.strip_prefix('-').filter(|f| !f.is_empty() && !f.starts_with('-')) else {
            continue;
        };
        for (i, c) in flags.bytes().enumerate() {
            if c == b'O' {
                return true;
            }
            if WITH_VALUE.contains(&c) {
                if i + 1 == flags.len() {
                    args.next();
                }
                break;
            }
        }
    }
    false
}

/// A local path as an argument of scp: a relative path that starts with `-`
/// or has a `:` before any `/` would be read as an option or as a remote
/// `host:path`, and gets `./` in front.
fn scp_local(p: &Path) -> String {
    let s = p.display().to_string();
    let colon_first = s.find(':').is_some_and(|c| s.find('/').is_none_or(|sl| c < sl));
    if p.is_relative() && (s.starts_with('-') || colon_first) {
        format!("./{s}")
    } else {
        s
    }
}

/// Whether `name` can be assigned in a POSIX shell (`NAME=value cmd`).
fn valid_env_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// An ssh connection to `[user@]host`.
#[derive(Debug, Clone)]
pub struct SshConnection {
    pub host: String,
    pub user: Option<String>,
    pub ssh: Vec<String>,
    pub scp: Vec<String>,
    /// Options given to ssh (0.2.7 order: configured options, -v,
    /// StrictHostKeyChecking, ConnectTimeout; then troika's own).
    pub ssh_opts: Vec<String>,
    pub scp_opts: Vec<String>,
    /// scp runs with the legacy protocol (`-O`): remote paths are quoted
    /// for the remote shell.
    pub legacy_scp: bool,
    pub remote_cwd: Option<String>,
    /// The `ConnectTimeout` given to ssh, if any.
    pub connect_timeout: Option<u64>,
    pub pmkdir: Vec<String>,
    /// Commands are logged, not run.
    pub dry_run: bool,
}

/// The per-user directory for multiplexing sockets, created 0700. Paths of
/// unix sockets must stay under 108 bytes: `%C` adds 40.
pub fn control_dir() -> Option<PathBuf> {
    let uid = nix::unistd::getuid().as_raw();
    let candidates = [
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("troika")),
        Some(PathBuf::from(format!("/tmp/troika-{uid}"))),
    ];
    for dir in candidates.into_iter().flatten() {
        if dir.as_os_str().len() + 42 >= 108 {
            continue;
        }
        if ensure_private_dir(&dir, uid) {
            return Some(dir);
        }
    }
    None
}

fn ensure_private_dir(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
    match std::fs::symlink_metadata(dir) {
        // Only a real directory of ours, closed to others: another user must
        // not be able to plant a socket there.
        Ok(m) => m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0,
        Err(_) => false,
    }
}

impl SshConnection {
    pub fn create(site: &SiteConfig, opts: &ConnectionOptions) -> Result<Box<dyn Connection>> {
        let mut c = Self::from_config(site, opts.user)?;
        c.dry_run = opts.dry_run;
        Ok(Box::new(c))
    }

    pub fn from_config(site: &SiteConfig, user: Option<&str>) -> Result<Self> {
        let host = site.opt_str("host")?.filter(|h| !h.is_empty()).ok_or_else(|| {
            Error::config(format!(
                "{}: site '{}' uses the ssh connection but has no 'host': add `host: <login node>`",
                site.location(),
                site.name
            ))
        })?;
        if let Err(why) = check_destination_part("host", &host) {
            return Err(Error::config(format!(
                "{}: site '{}': {why}",
                site.location(),
                site.name
            )));
        }
        let configured_user = site.opt_str("user")?;
        if let Some(u) = &configured_user {
            check_destination_part("user", u)
                .map_err(|why| Error::config(format!("{}: site '{}': {why}", site.location(), site.name)))?;
        }
        let user = user.map(str::to_string).or(configured_user);
        let ssh = site.command("ssh_command", &["ssh"])?;
        let scp = site.command("scp_command", &["scp"])?;
        let base_opts = site.str_list("ssh_options")?;
        let scp_base = if site.has("scp_options") {
            site.str_list("scp_options")?
        } else {
            base_opts.clone()
        };
        let verbose = site.bool_or("ssh_verbose", false)?;
        let strict = site.bool_or("ssh_strict_host_key_checking", false)?;
        let configured_timeout = site.seconds("ssh_connect_timeout")?.map(|s| s.ceil() as u64);
        // troika's own defaults come with `edition: 2026`; without it the
        // command lines are those of 0.2.7 unless the site asks otherwise.
        let ours = site.behaviour().ssh_defaults;
        let multiplex = site.bool_or("ssh_multiplex", ours)?;
        let batch = site.bool_or("ssh_batch_mode", ours)?;
        let persist = site
            .seconds("ssh_control_persist")?
            .map(|s| s.ceil() as u64)
            .unwrap_or(DEFAULT_CONTROL_PERSIST);
        // `0` turns the keep-alives off.
        let alive = match site.get("ssh_server_alive_interval") {
            Some(n) if n.scalar_text().as_deref() == Some("0") => None,
            _ => site
                .seconds("ssh_server_alive_interval")?
                .map(|s| s.ceil() as u64)
                .or(ours.then_some(DEFAULT_SERVER_ALIVE)),
        };
        let mut common = Vec::new();
        if verbose {
            common.push("-v".to_string());
        }
        common.push(format!("-oStrictHostKeyChecking={}", if strict { "yes" } else { "no" }));
        if let Some(t) = configured_timeout {
            common.push(format!("-oConnectTimeout={t}"));
        }
        let mut extra = Vec::new();
        if batch {
            extra.push("-oBatchMode=yes".to_string());
        }
        if configured_timeout.is_none() && ours {
            extra.push(format!("-oConnectTimeout={DEFAULT_CONNECT_TIMEOUT}"));
        }
        if let Some(a) = alive {
            extra.push(format!("-oServerAliveInterval={a}"));
            extra.push("-oServerAliveCountMax=3".to_string());
        }
        if multiplex {
            match control_dir() {
                Some(dir) => {
                    extra.push("-oControlMaster=auto".to_string());
                    extra.push(format!("-oControlPath={}/%C", dir.display()));
                    extra.push(format!("-oControlPersist={persist}"));
                }
                None => crate::debug!("No private directory for ssh control sockets: not multiplexing"),
            }
        }
        let mut ssh_opts = base_opts.clone();
        ssh_opts.extend(common.iter().cloned());
        ssh_opts.extend(extra.iter().cloned());
        let mut scp_opts = scp_base;
        scp_opts.extend(common.iter().cloned());
        scp_opts.extend(extra);
        Ok(SshConnection {
            legacy_scp: legacy_scp(&[&scp[1..], &scp_opts[..]].concat()),
            host,
            user,
            ssh,
            scp,
            ssh_opts,
            scp_opts,
            remote_cwd: site
                .opt_str("remote_cwd")?
                .map(|c| pure_path(Path::new(&c)).display().to_string()),
            connect_timeout: configured_timeout.or(ours.then_some(DEFAULT_CONNECT_TIMEOUT)),
            pmkdir: site.command("pmkdir_command", &["mkdir", "-p"])?,
            dry_run: false,
        })
    }

    /// `user@host` or `host`.
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) if !u.is_empty() => format!("{u}@{}", self.host),
            _ => self.host.clone(),
        }
    }

    /// The local `ssh` argument vector that runs `argv` remotely, with
    /// `NAME=VALUE` assignments in front of the remote command (the
    /// command's environment, as troika 0.2.7 passes it).
    pub fn ssh_argv_env(&self, env: &[(String, String)], argv: &[OsString]) -> Vec<OsString> {
        let mut out: Vec<OsString> = self.ssh.iter().map(OsString::from).collect();
        out.extend(self.ssh_opts.iter().map(OsString::from));
        out.push(self.destination().into());
        if let Some(cwd) = &self.remote_cwd {
            out.push("cd".into());
            out.push(shell_quote(cwd).into());
            out.push("&&".into());
        }
        out.extend(
            env.iter()
                .map(|(k, v)| OsString::from(format!("{k}={}", shell_quote(v)))),
        );
        out.extend(argv.iter().map(|a| OsString::from(shell_quote(&a.to_string_lossy()))));
        out
    }

    /// A remote path: relative paths are relative to `remote_cwd`.
    fn remote_path(&self, p: &Path) -> String {
        match &self.remote_cwd {
            Some(cwd) if p.is_relative() => pure_path(&Path::new(cwd).join(p)).display().to_string(),
            _ => pure_path(p).display().to_string(),
        }
    }

    /// `[user@]host:path` for scp. With the legacy protocol the remote shell
    /// reads the path, which is then quoted for it word by word.
    fn scp_remote(&self, p: &Path) -> String {
        let path = self.remote_path(p);
        if self.legacy_scp {
            format!("{}:{}", self.destination(), shell_quote(&path))
        } else {
            format!("{}:{path}", self.destination())
        }
    }

    fn scp_argv(&self, from: String, to: String) -> Vec<OsString> {
        let mut out: Vec<OsString> = self.scp.iter().map(OsString::from).collect();
        out.extend(self.scp_opts.iter().map(OsString::from));
        out.push(from.into());
        out.push(to.into());
        out
    }

    fn run_local(&self, argv: Vec<OsString>, cmd: &Command) -> Result<Outcome> {
        if self.dry_run && !cmd.always {
            crate::info!("Execute: {}", quote_argv(&argv));
            return Ok(Outcome::dry());
        }
        crate::debug!("Executing {}", quote_argv(&argv));
        let local = Command { argv, ..cmd.clone() };
        let out = run(&local, None)?;
        if let Some((why, reach)) = connection_failure(&out) {
            let msg = format!(
                "Connection to {} failed (ssh exit code 255, {}): {why}",
                self.destination(),
                match reach {
                    Some(Reach::MaybeDone) => "the command may have run",
                    _ => "the command did not run",
                }
            );
            return Err(match reach {
                Some(r) => Error::Transient(msg, r),
                None => Error::run(msg),
            });
        }
        Ok(out)
    }
}

/// Whether an ssh exit status 255 comes from ssh itself (the connection)
/// rather than from the remote command: why, and whether trying again may
/// help (`Some`: a transient failure, and how far the command got; `None`:
/// a failure that lasts, such as a refused key).
pub fn connection_failure(out: &Outcome) -> Option<(String, Option<Reach>)> {
    if out.code != Some(255) {
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| SIGNS.iter().any(|(s, _)| l.contains(s)) || l.starts_with("ssh: ") || l.contains("mux_client"))?;
    let reach = SIGNS
        .iter()
        .find(|(s, _)| line.contains(s))
        .map_or(Some(Reach::NotStarted), |(_, r)| *r);
    Some((line.trim().to_string(), reach))
}

/// What ssh says when it fails, and what that means for the command: not
/// started (the connection was never made), maybe done (the connection
/// broke after the command was sent), or lasting (`None`: no use trying
/// again). Other words of ssh itself (`ssh: ...`, the multiplexing
/// client) count as not started.
pub const SIGNS: &[(&str, Option<Reach>)] = &[
    ("Connection refused", Some(Reach::NotStarted)),
    ("No route to host", Some(Reach::NotStarted)),
    ("Network is unreachable", Some(Reach::NotStarted)),
    ("kex_exchange_identification", Some(Reach::NotStarted)),
    ("Temporary failure in name resolution", Some(Reach::NotStarted)),
    ("ControlPath", Some(Reach::NotStarted)),
    ("Connection timed out during banner exchange", Some(Reach::NotStarted)),
    ("Connection timed out", Some(Reach::NotStarted)),
    ("Connection closed", Some(Reach::MaybeDone)),
    ("Connection reset", Some(Reach::MaybeDone)),
    ("Broken pipe", Some(Reach::MaybeDone)),
    ("Timeout, server", Some(Reach::MaybeDone)),
    ("Permission denied", None),
    ("Host key verification failed", None),
    ("Could not resolve hostname", None),
];

impl Connection for SshConnection {
    fn is_local(&self) -> bool {
        false
    }

    fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn execute(&self, cmd: Command) -> Result<Outcome> {
        if cmd.detach {
            return Err(Error::run(
                "a detached command cannot run through ssh: use a remote launcher",
            ));
        }
        // The environment goes to the remote command, not to ssh.
        if let Some((k, _)) = cmd.env.iter().find(|(k, _)| !valid_env_name(k)) {
            return Err(Error::run(format!(
                "Invalid environment variable name {} for a remote command",
                crate::util::quote(k)
            )));
        }
        let argv = self.ssh_argv_env(&cmd.env, &cmd.argv);
        let local = Command { env: Vec::new(), ..cmd };
        self.run_local(argv, &local)
    }

    fn send_file(&self, src: &Path, dst: &Path) -> Result<()> {
        let argv = self.scp_argv(scp_local(src), self.scp_remote(dst));
        let out = self.run_local(argv, &Command::new(Vec::<OsString>::new()))?;
        if !out.dryrun && !out.success() {
            return Err(Error::run(format!(
                "Copying {} to {} failed with {}: {}",
                src.display(),
                dst.display(),
                out.describe(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    fn get_file(&self, src: &Path, dst: &Path) -> Result<()> {
        let argv = self.scp_argv(self.scp_remote(src), scp_local(dst));
        let out = self.run_local(argv, &Command::new(Vec::<OsString>::new()))?;
        if !out.dryrun && !out.success() {
            return Err(Error::run(format!(
                "Copying {} from {} failed with {}: {}",
                src.display(),
                self.host,
                out.describe(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        let mut argv: Vec<OsString> = self.pmkdir.iter().map(OsString::from).collect();
        argv.push(crate::util::command_path(self.remote_path(dir).into()).into());
        let out = self.execute(Command::new(argv))?;
        if !out.dryrun && !out.success() {
            return Err(Error::run(format!(
                "Cannot create directory {} on {}: {}",
                dir.display(),
                self.host,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    fn check(&self, timeout: Option<Duration>) -> Result<bool> {
        let mut conn = self.clone();
        // The process is stopped after `timeout` in any case; ssh's own
        // ConnectTimeout is shortened to it when the command line has one
        // (0.2.7's command lines, without an edition, have none unless the
        // site sets `ssh_connect_timeout`).
        if let (Some(t), Some(ct)) = (timeout, self.connect_timeout) {
            let secs = t.as_secs_f64().ceil().max(1.0) as u64;
            conn.ssh_opts.retain(|o| !o.starts_with("-oConnectTimeout="));
            conn.ssh_opts.push(format!("-oConnectTimeout={}", secs.min(ct)));
        }
        match conn.execute(Command::new(["true"]).timeout(timeout)) {
            Ok(o) => Ok(o.success()),
            Err(e) => {
                crate::error!("{e}");
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Edition;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("sbatch"), "sbatch");
        assert_eq!(shell_quote("/w d"), "'/w d'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$USER"), "'$USER'");
        assert_eq!(shell_quote("it's"), "'it'\"'\"'s'");
        assert_eq!(shell_quote("a;b*c\\"), "'a;b*c\\'");
    }

    fn strings(argv: Vec<OsString>) -> Vec<String> {
        argv.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn argv_with_cwd_and_user() {
        let site = SiteConfig::from_yaml("r", "host: h\nremote_cwd: /w d\n").unwrap();
        let c = SshConnection::from_config(&site, Some("alice")).unwrap();
        let s = strings(c.ssh_argv_env(&[], &["qdel".into(), "3.s".into()]));
        assert_eq!(
            s,
            [
                "ssh",
                "-oStrictHostKeyChecking=no",
                "alice@h",
                "cd",
                "'/w d'",
                "&&",
                "qdel",
                "3.s"
            ]
        );
    }

    #[test]
    fn editions_choose_the_ssh_options() {
        let text = "host: h\nssh_options: [-F, cfg]\nssh_verbose: true\n";
        let site = SiteConfig::from_yaml("r", text).unwrap();
        // Without an edition: 0.2.7's options, in its order.
        let old = SshConnection::from_config(&site, None).unwrap();
        assert_eq!(old.ssh_opts, ["-F", "cfg", "-v", "-oStrictHostKeyChecking=no"]);
        assert_eq!(old.scp_opts, ["-F", "cfg", "-v", "-oStrictHostKeyChecking=no"]);
        assert_eq!(old.connect_timeout, None);
        // edition 2026: the same, then troika's own.
        let new = SshConnection::from_config(&site.clone().with_edition(Edition::E2026), None).unwrap();
        assert_eq!(&new.ssh_opts[..4], &old.ssh_opts[..]);
        let ours = &new.ssh_opts[4..];
        assert_eq!(
            &ours[..5],
            [
                "-oBatchMode=yes",
                "-oConnectTimeout=30",
                "-oServerAliveInterval=15",
                "-oServerAliveCountMax=3",
                "-oControlMaster=auto"
            ]
        );
        assert!(
            ours[5].starts_with("-oControlPath=") && ours[5].ends_with("/%C"),
            "{ours:?}"
        );
        assert_eq!(ours[6], "-oControlPersist=60");
        assert_eq!(new.connect_timeout, Some(30));
        // Each option can be set either way, in either edition.
        let off =
            "host: h\nssh_multiplex: false\nssh_batch_mode: no\nssh_server_alive_interval: 0\nssh_connect_timeout: 5\n";
        let off = SiteConfig::from_yaml("r", off).unwrap().with_edition(Edition::E2026);
        let c = SshConnection::from_config(&off, None).unwrap();
        assert_eq!(c.ssh_opts, ["-oStrictHostKeyChecking=no", "-oConnectTimeout=5"]);
        let on = "host: h\nssh_multiplex: true\nssh_batch_mode: yes\nssh_server_alive_interval: 20\n";
        let c = SshConnection::from_config(&SiteConfig::from_yaml("r", on).unwrap(), None).unwrap();
        assert_eq!(
            &c.ssh_opts[..4],
            [
                "-oStrictHostKeyChecking=no",
                "-oBatchMode=yes",
                "-oServerAliveInterval=20",
                "-oServerAliveCountMax=3"
            ]
        );
        assert!(
            c.ssh_opts[4..].iter().any(|o| o == "-oControlMaster=auto"),
            "{:?}",
            c.ssh_opts
        );
    }

    #[test]
    fn environment_goes_to_the_remote_command() {
        let site = SiteConfig::from_yaml("r", "host: h\nssh_multiplex: false\n").unwrap();
        let c = SshConnection::from_config(&site, None).unwrap();
        let env = vec![
            ("ECF_NAME".to_string(), "/s/t".to_string()),
            ("ECF_PASS".into(), "a b'c".into()),
        ];
        let argv = c.ssh_argv_env(&env, &["ecflow_client".into(), "--abort=Killed forcefully".into()]);
        let s: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(
            &s[s.len() - 4..],
            [
                "ECF_NAME=/s/t",
                "ECF_PASS='a b'\"'\"'c'",
                "ecflow_client",
                "'--abort=Killed forcefully'"
            ]
        );
        assert!(valid_env_name("ECF_PORT") && valid_env_name("_x1"));
        assert!(!valid_env_name("1X") && !valid_env_name("A-B") && !valid_env_name(""));
    }

    #[test]
    fn missing_host_is_a_config_error() {
        let site = SiteConfig::from_yaml("r", "type: slurm\n").unwrap();
        let e = SshConnection::from_config(&site, None).unwrap_err().to_string();
        assert!(e.contains("no 'host'"), "{e}");
    }
}
