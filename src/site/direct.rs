//! Direct execution: the script runs at once, detached, without a queueing
//! system. The job id is the process id.

use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{getpgid, Pid};

use super::{warn_existing_stat, write_stat, CancelStatus, KillSequence, ScriptSyntax, Site, SiteSettings, SiteType};
use crate::connection::{Command, Input, Sink};
use crate::error::{Error, Result};
use crate::script::translate::Table;
use crate::util::quote;

pub const KEYS: &[&str] = &["shell", "use_shell"];

pub fn site_type() -> SiteType {
    SiteType {
        name: "direct",
        keys: KEYS,
        // No directives: `# troika` lines are removed, everything else is body.
        syntax: ScriptSyntax {
            prefix: None,
            native: None,
            table: Table::EMPTY,
        },
        create: |settings| Ok(Box::new(DirectSite::new(settings)?)),
    }
}

/// Runs scripts as detached processes.
pub struct DirectSite {
    s: SiteSettings,
    shell: Vec<String>,
    use_shell: bool,
}

impl DirectSite {
    pub fn new(s: SiteSettings) -> Result<Self> {
        let shell = s.config.command("shell", &["bash", "-s"])?;
        let use_shell = s.config.bool_or("use_shell", !s.connection.is_local())?;
        Ok(DirectSite { s, shell, use_shell })
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

fn parse_pid(jid: &str) -> Option<i32> {
    jid.parse::<i32>().ok().filter(|p| *p > 0)
}

impl Site for DirectSite {
    fn settings(&self) -> &SiteSettings {
        &self.s
    }

    fn check_job_id(&self, jid: &str) -> Result<()> {
        match parse_pid(jid) {
            Some(_) => Ok(()),
            None => Err(Error::invocation(format!("Invalid job id: {}", quote(jid)))),
        }
    }

    fn submit(&self, script: &Path, _user: Option<&str>, output: &Path, dryrun: bool) -> Result<Option<String>> {
        let script_abs = absolute(script);
        let argv: Vec<String>;
        let mut stdin = Input::Null;
        if !self.use_shell {
            if self.s.connection.is_local() && !dryrun {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&script_abs)
                    .map(|m| m.permissions().mode())
                    .unwrap_or(0);
                if mode & 0o111 == 0 {
                    return Err(Error::invocation(format!(
                        "Script {} is not executable: make it executable (chmod +x) or set 'use_shell: true' for site '{}'",
                        quote(&script_abs.display().to_string()),
                        self.s.config.name
                    )));
                }
            }
            argv = vec![script_abs.display().to_string()];
        } else if self.s.copy_script {
            let target = if self.s.connection.is_local() {
                script_abs.clone()
            } else {
                self.s.copy_target(script, output)
            };
            if !self.s.connection.is_local() {
                self.s.connection.send_file(script, &target, dryrun)?;
            }
            argv = vec![self.shell[0].clone(), target.display().to_string()];
        } else {
            argv = self.shell.clone();
            stdin = Input::File(script.to_path_buf());
        }
        self.s.connection.ensure_dir(crate::util::parent_dir(output), dryrun)?;
        if output.exists() {
            crate::warning!(
                "Output file {} already exists, overwriting",
                quote(&output.display().to_string())
            );
        }
        let cmd = Command::new(argv)
            .stdin(stdin)
            .stdout(Sink::File(output.to_path_buf()))
            .stderr(Sink::Stdout)
            .detach();
        let out = self.s.connection.execute(cmd, dryrun)?;
        if out.dryrun {
            return Ok(None);
        }
        let pid = out
            .pid
            .ok_or_else(|| Error::run("the process id of the job is unknown"))?;
        crate::debug!("Job started with process id {pid}");
        Ok(Some(pid.to_string()))
    }

    /// The connection creates the directory (`Ensuring directory ... exists`),
    /// as the job's output is opened there; an explicit `pmkdir_command` is
    /// honoured.
    fn create_output_dir(&self, output: &Path, dryrun: bool) -> Result<PathBuf> {
        if self.s.config.has("pmkdir_command") {
            return self.s.create_output_dir(output, dryrun);
        }
        let dir = crate::util::parent_dir(output);
        self.s.connection.ensure_dir(dir, dryrun)?;
        Ok(dir.to_path_buf())
    }

    fn monitor(&self, script: &Path, _user: Option<&str>, jid: &str, dryrun: bool) -> Result<()> {
        warn_existing_stat(script);
        let out = self.s.run(Command::new(["ps", "-lyfp", jid]), dryrun)?;
        write_stat(script, &out, "ps")
    }

    fn kill(&self, _script: &Path, _user: Option<&str>, jid: &str, dryrun: bool) -> Result<CancelStatus> {
        let pid =
            Pid::from_raw(parse_pid(jid).ok_or_else(|| Error::invocation(format!("Invalid job id: {}", quote(jid))))?);
        let default = KillSequence::default_term();
        let seq = self.s.kill_sequence.as_ref().unwrap_or(&default);
        let mut last = None;
        for (i, (wait, sig)) in seq.0.iter().enumerate() {
            if !dryrun && !wait.is_zero() {
                std::thread::sleep(*wait);
            }
            let msg = format!("Sending {} to process {pid}", sig.as_str());
            if dryrun {
                crate::info!("{msg}");
                last = Some(*sig);
                continue;
            }
            crate::debug!("{msg}");
            match send(pid, *sig) {
                Ok(()) => last = Some(*sig),
                Err(nix::errno::Errno::ESRCH) => {
                    if i == 0 {
                        return Err(Error::run(format!("Process ID {pid} not found")));
                    }
                    crate::debug!("Process {pid} has ended");
                    break;
                }
                Err(e) => {
                    return Err(Error::run(format!(
                        "Cannot send {} to process {pid}: {}",
                        sig.as_str(),
                        e.desc()
                    )))
                }
            }
        }
        Ok(super::slurm::status_after(last))
    }
}

/// Signals the job: its whole process group when the job leads one (jobs
/// started by troika do), so that the script's children get it too.
fn send(pid: Pid, sig: Signal) -> nix::Result<()> {
    match getpgid(Some(pid)) {
        Ok(pgid) if pgid == pid => killpg(pid, sig),
        Ok(_) => kill(pid, sig),
        Err(e) => Err(e),
    }
}
