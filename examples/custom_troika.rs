//! An organisation's own `troika`: the built-in sites, connections,
//! translators and hooks, plus one of each of its own. Build and run it with
//!
//! ```sh
//! cargo run --example custom_troika -- -c troika.yml submit demo job.sh -o job.out
//! ```
//!
//! with a configuration such as
//!
//! ```yaml
//! sites:
//!   demo:
//!     type: echo                  # the site type below
//!     connection: env-local       # the connection below
//!     env: {ORG_BANNER: hello}    # read by env-local
//!     translators: [org_account]  # the translator below
//!     org_account: acct42         # read by org_account
//!     at_startup: [announce]      # the hook below
//!     at_exit: [announce]
//! ```
//!
//! See docs/plugins.md.

use std::path::Path;
use std::time::Duration;

use troika::plugin::*;

fn main() {
    let mut reg = Registry::builtin();
    reg.sites.push(echo_site_type());
    reg.connections.push(ConnectionType {
        name: "env-local",
        keys: &["env", "local_cwd"],
        create: EnvLocal::create,
    });
    reg.hooks.push(HookType {
        name: "announce",
        points: &[HookPoint::AtStartup, HookPoint::AtExit],
        run: announce,
    });
    reg.translators.push(TranslatorType {
        name: "org_account",
        keys: &["org_account"],
        create: |ctx| {
            let account = ctx.site.opt_str("org_account")?.unwrap_or_else(|| "general".into());
            Ok(Box::new(OrgAccount(account)))
        },
    });
    std::process::exit(main_with(reg));
}

// --- A site type: `echo`, a queue that "submits" by printing the job. ------

/// How generic directives are written for the echo queue: `#ECHO key=value`.
const ECHO_TABLE: Table = Table::new(&[
    Entry::format("name", "name=%s"),
    Entry::format("billing_account", "account=%s"),
    Entry::format("walltime", "walltime=%s"),
    Entry::format("output_file", "output=%s"),
]);

fn echo_site_type() -> SiteType {
    SiteType {
        name: "echo",
        keys: &["echo_command"],
        syntax: ScriptSyntax {
            prefix: Some("#ECHO "),
            native: None,
            table: ECHO_TABLE,
            units: None,
        },
        traits: Traits::default(),
        create: |s| {
            let command = s.config.command("echo_command", &["cat"])?;
            Ok(Box::new(EchoSite { s, command }))
        },
    }
}

/// Runs `echo_command` (default `cat`) through the site's connection with the
/// generated script on its input, and prints what it writes.
struct EchoSite {
    s: SiteSettings,
    command: Vec<String>,
}

impl Site for EchoSite {
    fn settings(&self) -> &SiteSettings {
        &self.s
    }

    fn submit(&self, script: &Path, _output: &Path) -> Result<Option<String>> {
        let cmd = Command::new(&self.command).stdin(Input::File(script.to_path_buf()));
        let out = self.s.run(cmd)?;
        if out.dryrun {
            return Ok(None);
        }
        if !out.success() {
            return Err(Error::run(format!("echo queue failed with {}", out.describe())));
        }
        print!("{}", String::from_utf8_lossy(&out.stdout));
        Ok(Some(format!("echo-{}", out.pid.unwrap_or(0))))
    }

    fn monitor(&self, script: &Path, jid: &str) -> Result<()> {
        let out = self.s.run(Command::new(["echo", jid, "DONE"]))?;
        write_stat(script, &out, "echo")
    }

    fn kill(&self, _script: &Path, _jid: &str) -> Result<CancelStatus> {
        Ok(CancelStatus::Vanished)
    }
}

// --- A connection: `env-local`, local commands with extra variables. -------

/// Runs commands on this machine with the site's `env` mapping added to
/// their environment (`env NAME=VALUE... program args...`).
struct EnvLocal {
    local: Box<dyn Connection>,
    env: Vec<String>,
}

impl EnvLocal {
    fn create(site: &SiteConfig, opts: &ConnectionOptions) -> Result<Box<dyn Connection>> {
        let mut env = Vec::new();
        if let Some(node) = site.get("env") {
            for (k, v) in node.entries().unwrap_or(&[]) {
                if !matches!(v.value, Value::Str(_) | Value::Int(_)) {
                    return Err(Error::config(format!("{}: 'env' values must be strings", site.at(v))));
                }
                env.push(format!("{}={}", k.key_text(), v.scalar_text().unwrap_or_default()));
            }
        }
        let local = LocalConnection::create(site, opts)?;
        Ok(Box::new(EnvLocal { local, env }))
    }
}

impl Connection for EnvLocal {
    fn is_local(&self) -> bool {
        true
    }
    fn dry_run(&self) -> bool {
        self.local.dry_run()
    }
    fn execute(&self, mut cmd: Command) -> Result<Outcome> {
        let prefix = std::iter::once("env".into()).chain(self.env.iter().map(Into::into));
        cmd.argv = prefix.chain(cmd.argv).collect();
        self.local.execute(cmd)
    }
    fn send_file(&self, src: &Path, dst: &Path) -> Result<()> {
        self.local.send_file(src, dst)
    }
    fn get_file(&self, src: &Path, dst: &Path) -> Result<()> {
        self.local.get_file(src, dst)
    }
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        self.local.ensure_dir(dir)
    }
    fn check(&self, timeout: Option<Duration>) -> Result<bool> {
        self.local.check(timeout)
    }
}

// --- A hook: `announce`, logs the start and end of every action. -----------

fn announce(ctx: &HookContext) -> Result<()> {
    let site = &ctx.site.settings().config.name;
    if ctx.failed {
        troika::warning!("announce: {} on site {site} failed", ctx.action);
    } else {
        troika::info!("announce: {} on site {site}", ctx.action);
    }
    Ok(())
}

// --- A translator: `org_account`, the organisation's default account. ------

/// Sets `billing_account` from the site's `org_account` unless the script or
/// `-D` set it.
struct OrgAccount(String);

impl Translator for OrgAccount {
    fn apply(&self, d: &mut Directives) -> Result<()> {
        d.set_default("billing_account", self.0.clone().into_bytes());
        Ok(())
    }
}
