//! Running troika against the scheduler emulators of tests/emulators/: POSIX
//! sh stand-ins for the commands of Torque, LSF and Flux, which cannot run
//! on the development machines. They answer in the output formats of those
//! systems' documentation and keep their state (jobs, calls) in a directory
//! given by TROIKA_EMU_STATE; see tests/emulators/lib.sh.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use crate::common::{repo_root, troika_bin};

/// One test's emulated system: a scratch directory with the emulator state
/// (`state/`), the configuration and the scripts.
pub struct Emulated {
    tmp: tempfile::TempDir,
    /// Directories put first on PATH: tests/emulators/<system>, and extras.
    path: Vec<PathBuf>,
}

/// The outcome of one troika run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl Run {
    pub fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "troika {:?} exited with {:?}, expected {code}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.args,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The commands troika ran or would run: its `Execute: ...` log lines.
    pub fn executed(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.split_once("; INFO; Execute: ").map(|(_, c)| c.to_string()))
            .collect()
    }

    /// The cancel status of a kill (needs -vv).
    pub fn cancel_status(&self) -> Option<String> {
        self.stderr
            .lines()
            .find(|l| l.contains("Kill of job "))
            .and_then(|l| l.rsplit_once(": "))
            .map(|(_, s)| s.trim().to_string())
    }
}

/// One call of an emulated command, from the state's calls.log.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub argv: Vec<String>,
    pub stdin: Option<String>,
}

impl Emulated {
    /// A scratch directory using the emulators of `system`.
    pub fn new(system: &str) -> Emulated {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("troika-emu-{system}-"))
            .tempdir()
            .expect("temporary directory");
        std::fs::create_dir(tmp.path().join("state")).unwrap();
        let emulators = repo_root().join("tests/emulators").join(system);
        assert!(emulators.is_dir(), "no emulators at {}", emulators.display());
        Emulated {
            tmp,
            path: vec![emulators],
        }
    }

    /// A scratch directory without emulators (fake commands are added with
    /// [`Emulated::add_path`]).
    pub fn bare() -> Emulated {
        let tmp = tempfile::Builder::new()
            .prefix("troika-fake-")
            .tempdir()
            .expect("temporary directory");
        std::fs::create_dir(tmp.path().join("state")).unwrap();
        Emulated { tmp, path: vec![] }
    }

    /// Forgets the calls recorded so far.
    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.state().join("calls.log"));
    }

    /// Puts `dir` on PATH too (fake commands written by a test).
    pub fn add_path(&mut self, dir: PathBuf) {
        self.path.push(dir);
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn state(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// Writes a file in the scratch directory; returns its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Writes an executable file.
    pub fn write_exec(&self, name: &str, content: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(name, content);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        let p = self.dir().join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir().join(name).exists()
    }

    /// `config.yml` with `sites:` followed by `sites_yaml` (indented by the caller).
    pub fn config(&self, sites_yaml: &str) -> PathBuf {
        self.write("config.yml", &format!("sites:\n{sites_yaml}"))
    }

    /// Runs troika in the scratch directory with `-c config.yml`.
    pub fn troika(&self, args: &[&str]) -> Run {
        let mut path = std::env::join_paths(&self.path).unwrap();
        if let Some(p) = std::env::var_os("PATH") {
            path.push(":");
            path.push(p);
        }
        let config = self.dir().join("config.yml");
        let mut all: Vec<String> = vec!["-c".into(), config.display().to_string()];
        all.extend(args.iter().map(|s| s.to_string()));
        let out = std::process::Command::new(troika_bin())
            .args(&all)
            .current_dir(self.dir())
            .env("PATH", path)
            .env("TROIKA_EMU_STATE", self.state())
            .env_remove("TROIKA_CONFIG_FILE")
            .env_remove("FLUX_F58_FORCE_ASCII")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run troika");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            args: all,
        }
    }

    /// Every call of an emulated command so far.
    pub fn calls(&self) -> Vec<Call> {
        let log = std::fs::read_to_string(self.state().join("calls.log")).unwrap_or_default();
        let mut calls: Vec<Call> = Vec::new();
        let mut stdin: Option<String> = None;
        for line in log.split_inclusive('\n') {
            if let Some(s) = stdin.as_mut() {
                if line == "--- end stdin\n" {
                    calls.last_mut().expect("stdin after a call").stdin = stdin.take();
                } else {
                    s.push_str(line);
                }
                continue;
            }
            let line = line.strip_suffix('\n').unwrap_or(line);
            if let Some(name) = line.strip_prefix("=== ") {
                calls.push(Call {
                    name: name.to_string(),
                    argv: vec![],
                    stdin: None,
                });
            } else if line == "--- stdin" {
                stdin = Some(String::new());
            } else if let Some((_, v)) = line.split_once("]=") {
                calls
                    .last_mut()
                    .expect("argument after a call")
                    .argv
                    .push(v.to_string());
            }
        }
        calls
    }

    /// The calls of `name`, as argument vectors.
    pub fn argvs(&self, name: &str) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c.name == name)
            .map(|c| c.argv)
            .collect()
    }

    fn job_file(&self, key: &str, file: &str) -> PathBuf {
        self.state().join("jobs").join(key).join(file)
    }

    /// A job's state as the emulator keeps it.
    pub fn job_state(&self, key: &str) -> String {
        std::fs::read_to_string(self.job_file(key, "state"))
            .unwrap_or_else(|e| panic!("no job {key}: {e}"))
            .trim()
            .to_string()
    }

    pub fn set_job_state(&self, key: &str, state: &str) {
        std::fs::write(self.job_file(key, "state"), format!("{state}\n")).unwrap();
    }

    /// The signals the emulator delivered to a job.
    pub fn job_signals(&self, key: &str) -> Vec<String> {
        std::fs::read_to_string(self.job_file(key, "signals"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The script the scheduler received.
    pub fn job_script(&self, key: &str) -> String {
        std::fs::read_to_string(self.job_file(key, "script")).unwrap_or_else(|e| panic!("no job {key}: {e}"))
    }

    /// Makes emulated command `name` fail with `code`, printing `stderr`.
    pub fn fail(&self, name: &str, code: i32, stderr: &str) {
        self.write(&format!("state/fail/{name}"), &format!("{code}\n{stderr}\n"));
    }

    /// Makes emulated command `name` print `stdout` (and exit 0) instead of its answer.
    pub fn answer(&self, name: &str, stdout: &str) {
        self.write(&format!("state/stdout/{name}"), stdout);
    }
}

/// `args` as troika logs them in `Execute:` lines.
pub fn execute_line(args: &[&str]) -> String {
    args.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ")
}
