//! Direct execution: the script runs at once, detached, without a queueing
//! system. The job id is the process id.

use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{getpgid, Pid};

use super::kill::{self, Step};
use super::{
    warn_existing_stat, write_stat, CancelStatus, KillSequence, ScriptSyntax, Site, SiteSettings, SiteType, Traits,
};
use crate::connection::{Command, Input, Sink};
use crate::error::{Error, Result};
use crate::job::state::lookup;
use crate::job::{Answer, JobStatus, NativeState, Query, Source, State};
use crate::script::translate::Table;
use crate::util::quote;

pub const KEYS: &[&str] = &["shell", "use_shell", "accounting"];

/// The suffix of a job's exit record (its accounting), after the output
/// file's name: `OUTPUT.exit`, on the site.
pub const EXIT_SUFFIX: &str = ".exit";

/// Where the exit record of a job with output file `output` is.
pub fn exit_file(output: &Path) -> PathBuf {
    crate::util::with_suffix(output, EXIT_SUFFIX)
}

/// How far the site's clock may be behind troika's: an exit record that
/// says its job started longer than this before the job's submission is
/// another job's (the same pid, the same output file, earlier).
const CLOCK_SKEW: u64 = 600;

/// What an exit record says of job `jid` (submitted at `submitted`, when
/// known): `None` when it is about another process, or unreadable.
fn read_exit_record(jid: &str, text: &str, submitted: Option<u64>) -> Option<JobStatus> {
    let pid = text.lines().find_map(|l| l.strip_prefix("pid=")).map(str::trim)?;
    if pid != jid {
        return None;
    }
    let r = crate::job::record::Record::parse(text);
    let (start, end) = (r.start?, r.end?);
    if !r.ended() || submitted.is_some_and(|t| start + CLOCK_SKEW < t) {
        return None;
    }
    let finished = crate::job::Meaning {
        state: State::Finished,
        outcome: None,
    };
    let mut s = JobStatus::new(jid, finished, Source::Accounting).exit(r.exit_code, r.signal);
    s.reason = Some(format!("ended at {}", crate::job::state::iso_time(end)));
    Some(s)
}

/// The process states of `ps` (the first letter of `STAT`, Linux's and the
/// BSDs' and macOS's) and what they mean for a job run directly. The
/// letters after the first (`s`, `l`, `+`, `<`, `N`) are details.
pub const STATES: &[NativeState] = &[
    NativeState::new("R", State::Running, "running or runnable"),
    NativeState::new("S", State::Running, "sleeping (waiting for an event)"),
    NativeState::new("D", State::Running, "in uninterruptible sleep (I/O)"),
    NativeState::new("U", State::Running, "in uninterruptible wait (BSD, macOS)"),
    NativeState::new(
        "I",
        State::Running,
        "idle (a Linux kernel thread; BSD, macOS: asleep for over 20 s)",
    ),
    NativeState::new(
        "W",
        State::Running,
        "paging (Linux before 2.6) or waking (2.6.33 to 3.13)",
    ),
    NativeState::new("K", State::Running, "woken to be killed (Linux 2.6.33 to 3.13)"),
    NativeState::new("P", State::Running, "parked (a Linux kernel thread, 3.9 to 3.13)"),
    NativeState::new("T", State::Suspended, "stopped by a signal (SIGSTOP, SIGTSTP)"),
    NativeState::new("t", State::Suspended, "stopped by a debugger"),
    NativeState::new("Z", State::Completing, "ended, not yet reaped (zombie)"),
    NativeState::new("X", State::Completing, "dead"),
    NativeState::new("x", State::Completing, "dead (Linux 2.6.33 to 3.13)"),
    NativeState::new("?", State::Unknown, "ps cannot tell (macOS)"),
];

/// The jobs `ps -o pid=,stat= -p PIDS` shows.
fn parse_ps(text: &str) -> Vec<JobStatus> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (pid, stat) = (w.next()?, w.next()?);
            let code = &stat[..stat.chars().next()?.len_utf8()];
            Some(match lookup(STATES, code) {
                Some(m) if m.state == State::Unknown => {
                    JobStatus::unknown(pid, format!("ps cannot tell the state of process {pid}")).native(stat, None)
                }
                Some(m) => JobStatus::new(pid, m, Source::Queue).native(stat, None),
                None => JobStatus::unknown(pid, format!("unknown process state {}", quote(stat))).native(stat, None),
            })
        })
        .collect()
}

pub fn site_type() -> SiteType {
    SiteType {
        name: "direct",
        keys: KEYS,
        // No directives: `# troika` lines are removed, everything else is body.
        syntax: ScriptSyntax {
            prefix: None,
            native: None,
            table: Table::EMPTY,
            units: None,
        },
        traits: Traits {
            local_copy_paths: true,
            states: STATES,
            recipes: RECIPES,
            ..Traits::default()
        },
        create: |settings| Ok(Box::new(DirectSite::new(settings)?)),
    }
}

/// Site configurations to start from (`troika config new`).
const RECIPES: &[super::Recipe] = &[super::Recipe::new(
    "direct",
    "a workstation: jobs run as processes, no scheduler",
    include_str!("../../recipes/direct.yml"),
)];

/// Runs scripts as detached processes.
pub struct DirectSite {
    s: SiteSettings,
    shell: Vec<String>,
    use_shell: bool,
    /// `accounting`: each job is started under a process that waits for it
    /// and writes its exit record.
    accounting: bool,
}

impl DirectSite {
    pub fn new(s: SiteSettings) -> Result<Self> {
        let shell = s.config.command("shell", &["bash", "-s"])?;
        let use_shell = s.config.bool_or("use_shell", !s.connection.is_local())?;
        if !s.connection.is_local() && !use_shell && !s.copy_script {
            return Err(Error::config(format!(
                "copy_script and use_shell cannot both be False for a remote site ('{}'): the script must reach the remote host",
                s.config.name
            )));
        }
        let accounting = s.config.bool_or("accounting", s.config.behaviour().direct_accounting)?;
        Ok(DirectSite {
            s,
            shell,
            use_shell,
            accounting,
        })
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

    fn submit(&self, script: &Path, output: &Path) -> Result<Option<String>> {
        let dryrun = self.s.dry_run();
        if !self.s.connection.is_local() {
            return self.submit_remote(script, output);
        }
        let script_abs = absolute(script);
        let argv: Vec<String>;
        let mut stdin = Input::Null;
        if !self.use_shell {
            if !dryrun {
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
            // A local copy would be the script itself.
            argv = self.shell_for_file(script_abs.display().to_string());
        } else {
            argv = self.shell.clone();
            stdin = Input::File(script.to_path_buf());
        }
        self.s.connection.ensure_dir(&crate::util::parent_dir(output))?;
        if output.exists() {
            crate::warning!(
                "Output file {} already exists, overwriting",
                quote(&output.display().to_string())
            );
        }
        let cmd = Command::new(argv)
            .stdin(stdin)
            .stdout(Sink::File(output.to_path_buf()))
            .stderr(Sink::Stdout);
        let cmd = if self.accounting {
            cmd.detach_recording_exit(exit_file(output))
        } else {
            cmd.detach()
        };
        let out = self.s.connection.execute(cmd)?;
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
    fn create_output_dir(&self, output: &Path) -> Result<PathBuf> {
        if self.s.config.has("pmkdir_command") {
            return self.s.create_output_dir(output);
        }
        let dir = crate::util::parent_dir(output);
        self.s.connection.ensure_dir(&dir)?;
        Ok(dir)
    }

    fn monitor(&self, script: &Path, jid: &str) -> Result<()> {
        warn_existing_stat(script);
        let out = self.s.run(Command::new(["ps", "-lyfp", jid]))?;
        write_stat(script, &out, "ps")
    }

    /// `ps` for the processes, then the status records, then (with
    /// `accounting`) the exit records of the jobs still unknown.
    fn status(&self, jobs: &[Query]) -> Vec<JobStatus> {
        let queue = |ids: &[&str]| -> Answer {
            let argv = vec![
                "ps".to_string(),
                "-o".into(),
                "pid=,stat=".into(),
                "-p".into(),
                ids.join(","),
            ];
            self.s.ask(argv, |out, argv| {
                // ps exits with 1, saying nothing, when no process matches.
                let none_found = out.code == Some(1) && out.stderr.is_empty();
                if !out.success() && !none_found {
                    return Err(crate::site::batch::query_failed(argv, out));
                }
                Ok(parse_ps(&String::from_utf8_lossy(&out.stdout)))
            })
        };
        let accounting = |ids: &[&str]| -> Answer {
            // A job whose output file is unknown has no record to read.
            let known: Vec<(&Query, PathBuf)> = ids
                .iter()
                .filter_map(|id| jobs.iter().find(|q| q.jid == *id))
                .filter_map(|q| q.output.map(|o| (q, exit_file(o))))
                .collect();
            if known.is_empty() {
                return Ok(Vec::new());
            }
            let paths: Vec<&Path> = known.iter().map(|(_, p)| p.as_path()).collect();
            let texts = self.s.read_files(&paths)?;
            Ok(known
                .iter()
                .zip(texts)
                .filter_map(|((q, _), text)| read_exit_record(q.jid, &text?, q.submitted_at))
                .collect())
        };
        let accounting: Option<crate::job::Ask> = if self.accounting { Some(&accounting) } else { None };
        self.s.resolve(jobs, &queue, accounting)
    }

    fn kill(&self, _script: &Path, jid: &str) -> Result<CancelStatus> {
        let dryrun = self.s.dry_run();
        let pid =
            Pid::from_raw(parse_pid(jid).ok_or_else(|| Error::invocation(format!("Invalid job id: {}", quote(jid))))?);
        let default = KillSequence::default_term();
        let seq = self.s.kill_sequence.as_ref().unwrap_or(&default);
        let local = self.s.connection.is_local();
        kill::follow(seq, dryrun, |i, sig| {
            let delivered = if local {
                signal_local(pid, sig, dryrun)?
            } else {
                self.signal_remote(pid, sig)?
            };
            Ok(match (delivered, i) {
                (true, _) => Step::Delivered,
                // A pid that does not exist is an error, not a vanished job:
                // nothing tells that it was ever this job.
                (false, 0) => {
                    let place = if local { "" } else { " on the site" };
                    Step::Failed(Error::run(format!("Process ID {pid} not found{place}")))
                }
                (false, _) => Step::Gone,
            })
        })
    }
}

/// Sends `sig` to a local job; `false` when the process is gone.
fn signal_local(pid: Pid, sig: Signal, dryrun: bool) -> Result<bool> {
    let msg = format!("Sending {} to process {pid}", sig.as_str());
    if dryrun {
        crate::info!("{msg}");
        return Ok(true);
    }
    crate::debug!("{msg}");
    match send(pid, sig) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::ESRCH) => Ok(false),
        Err(e) => Err(Error::run(format!(
            "Cannot send {} to process {pid}: {}",
            sig.as_str(),
            e.desc()
        ))),
    }
}

/// Starts a command detached on the remote host, in a new session, output to
/// `$1`, and prints its process id.
const REMOTE_LAUNCH: &str = r#"out=$1; shift; setsid "$@" >"$out" 2>&1 </dev/null & echo $!"#;

/// [`REMOTE_LAUNCH`] with an exit record (`accounting`): a process in a
/// session of its own starts the command (output to `$2`), prints its
/// process id, lets go of the connection's output, waits for the command,
/// and writes its exit record to `$1` (a temporary file, then `mv`). The
/// shell tells a signal as an exit status above 128 (256 for ksh).
const REMOTE_LAUNCH_RECORDING_EXIT: &str = r#"rm -f -- "$1"; setsid sh -c 'f=$1; out=$2; shift 2
setsid "$@" >"$out" 2>&1 </dev/null &
pid=$!; start=$(date +%s); echo "$pid"; exec >/dev/null 2>&1
wait "$pid"; rc=$?; end=$(date +%s)
if [ "$rc" -gt 256 ]; then r="signal=$((rc - 256))"; elif [ "$rc" -gt 128 ]; then r="signal=$((rc - 128))"; else r="exit=$rc"; fi
{ printf "%s\n" "pid=$pid" "start=$start" "end=$end" "$r" >"$f.tmp" && mv -f -- "$f.tmp" "$f"; } || rm -f -- "$f.tmp"' troika "$@" &"#;

impl DirectSite {
    /// The shell command that runs a script file: the configured shell
    /// without `-s` (read the script from stdin), then the file.
    fn shell_for_file(&self, file: String) -> Vec<String> {
        let mut argv: Vec<String> = self.shell.iter().filter(|a| *a != "-s").cloned().collect();
        argv.push(file);
        argv
    }

    /// Submit over a remote connection: the script is staged next to the
    /// output file, then started detached; the job id is the remote pid.
    fn submit_remote(&self, script: &Path, output: &Path) -> Result<Option<String>> {
        let conn = &self.s.connection;
        conn.ensure_dir(&crate::util::parent_dir(output))?;
        let target = self.s.copy_target(script, output);
        let target_s = target.display().to_string();
        if self.s.copy_script {
            self.s.send_script(script, &target)?;
        } else {
            // Through the same ssh connection: no scp round trip.
            let put = Command::new(["sh", "-c", r#"cat >"$1" && chmod +x "$1""#, "troika", &target_s])
                .stdin(Input::File(script.to_path_buf()));
            let out = self.s.run_retried(put)?;
            if !out.dryrun && !out.success() {
                return Err(Error::run(format!(
                    "Cannot write the script to {target_s} on the site: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
        }
        let mut argv: Vec<String> = vec!["sh".into(), "-c".into()];
        if self.accounting {
            argv.extend([REMOTE_LAUNCH_RECORDING_EXIT.into(), "troika".into()]);
            argv.push(exit_file(output).display().to_string());
        } else {
            argv.extend([REMOTE_LAUNCH.into(), "troika".into()]);
        }
        argv.push(output.display().to_string());
        if self.use_shell {
            argv.extend(self.shell_for_file(target_s));
        } else {
            argv.push(target_s);
        }
        let out = self.s.run(Command::new(argv))?;
        if out.dryrun {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.success() {
            return Err(Error::run(format!(
                "Starting the job on the site failed with {}: {}",
                out.describe(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let pid = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .and_then(parse_pid)
            .ok_or_else(|| {
                Error::run(format!(
                    "Could not read the remote process id from {}",
                    quote(text.trim())
                ))
            })?;
        crate::debug!("Job started on the site with process id {pid}");
        Ok(Some(pid.to_string()))
    }

    /// Sends `sig` to a remote job with `kill -s SIG -- -PID` on the site
    /// (the job leads its own process group); `false` when it is gone.
    fn signal_remote(&self, pid: Pid, sig: Signal) -> Result<bool> {
        let name = sig.as_str().trim_start_matches("SIG");
        let group = format!("-{pid}");
        let out = self.s.run(Command::new(["kill", "-s", name, "--", &group]))?;
        if out.dryrun || out.success() {
            return Ok(true);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No such process") {
            return Ok(false);
        }
        Err(Error::run(format!(
            "Cannot send {} to process {pid}: {}",
            sig.as_str(),
            err.trim()
        )))
    }
}

/// Whether the process has ended and waits to be reaped (state `Z` in
/// `/proc/PID/stat`, after the parenthesised command name).
fn is_zombie(pid: Pid) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        .unwrap_or(false)
}

/// Signals the job: its whole process group when the job leads one (jobs
/// started by troika do), so that the script's children get it too.
fn send(pid: Pid, sig: Signal) -> nix::Result<()> {
    if is_zombie(pid) {
        // Ended, not yet reaped by its parent: nothing left to signal.
        return Err(nix::errno::Errno::ESRCH);
    }
    match getpgid(Some(pid)) {
        Ok(pgid) if pgid == pid => killpg(pid, sig),
        Ok(_) => kill(pid, sig),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row of the table through the real reader, as `ps -o
    /// pid=,stat=` prints it (the pid right-aligned, details after the
    /// letter), then lines of a real Linux `ps`.
    #[test]
    fn every_state_is_read() {
        let details = ["", "s", "l", "+", "<", "N", "sl+"];
        let text: String = STATES
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{:>7} {}{}\n", 100 + i, n.code, details[i % details.len()]))
            .collect();
        let got = parse_ps(&text);
        let rows: Vec<(&str, &str)> = STATES.iter().map(|n| (n.code, n.meaning.state.as_str())).collect();
        crate::site::qsub::table_test::check(STATES, &rows, &got);
        for (i, s) in got.iter().enumerate() {
            assert_eq!(s.job_id, (100 + i).to_string());
            assert_eq!(
                s.native_state,
                Some(format!("{}{}", STATES[i].code, details[i % details.len()]))
            );
            assert_eq!((s.exit_code, s.signal, s.outcome), (None, None, None));
            match s.state {
                State::Unknown => assert_eq!(
                    s.reason,
                    Some(format!("ps cannot tell the state of process {}", 100 + i))
                ),
                _ => {
                    assert_eq!(s.reason, None);
                    assert_eq!(s.source, Source::Queue);
                }
            }
        }
        // Seen on Linux: init, a session leader, a zombie, a stopped job.
        let got: Vec<(String, String)> = parse_ps("      1 S<Ll\n  17436 Ss\n  20001 Z\n  20002 T\n  20003 R+\n")
            .iter()
            .map(|s| (s.job_id.clone(), s.state_words()))
            .collect();
        assert_eq!(
            got,
            [
                ("1", "RUNNING"),
                ("17436", "RUNNING"),
                ("20001", "COMPLETING"),
                ("20002", "SUSPENDED"),
                ("20003", "RUNNING")
            ]
            .map(|(p, w)| (p.to_string(), w.to_string()))
        );
        // A letter ps does not use: UNKNOWN, the word kept; an empty
        // answer (the process is gone) says nothing.
        let odd = parse_ps("  42 Q\n");
        assert_eq!(odd[0].state, State::Unknown);
        assert_eq!(odd[0].reason.as_deref(), Some("unknown process state 'Q'"));
        assert!(parse_ps("").is_empty());
    }

    #[test]
    fn exit_records_are_read_for_their_own_job_only() {
        let text = "pid=42\nstart=1000\nend=1060\nexit=3\n";
        let s = read_exit_record("42", text, Some(1000)).unwrap();
        assert_eq!((s.state_words().as_str(), s.exit_code), ("FINISHED/FAILED", Some(3)));
        assert_eq!(s.source, Source::Accounting);
        assert_eq!(s.reason.as_deref(), Some("ended at 1970-01-01T00:17:40Z"));
        let s = read_exit_record("42", "pid=42\nstart=1000\nend=1001\nsignal=9\n", None).unwrap();
        assert_eq!((s.state_words().as_str(), s.signal), ("FINISHED/KILLED", Some(9)));
        let ok = read_exit_record("42", "pid=42\nstart=1000\nend=1001\nexit=0\n", None).unwrap();
        assert_eq!(ok.state_words(), "FINISHED/SUCCEEDED");
        // Another process's record, an earlier job's, a cut one.
        assert_eq!(read_exit_record("43", text, None), None);
        assert_eq!(read_exit_record("42", text, Some(1000 + CLOCK_SKEW + 1)), None);
        assert_eq!(read_exit_record("42", "pid=42\nstart=1000\n", None), None);
        assert_eq!(read_exit_record("42", "", None), None);
    }
}
