//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The troika binary built by cargo for these tests.
pub fn troika_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_troika"))
}

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---- Scratch directories, running troika, polling (used by slurm.rs and direct.rs) ----

/// A fresh directory under the system temporary directory, removed on drop.
/// When the test fails (the thread is panicking) it is kept, and its path
/// printed, so that the scripts, logs and job outputs can be inspected.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// `<tmp>/troika-it-<name>-<pid>-<n>`, created empty.
    pub fn new(name: &str) -> ScratchDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("troika-it-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        ScratchDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }

    /// Writes `name` in the directory with `mode`; returns its path.
    pub fn write(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.join(name);
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", p.display()));
        p
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: keeping {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The outcome of one troika run.
pub struct TroikaRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
    pub args: Vec<String>,
}

impl TroikaRun {
    /// Panics, showing the run, unless troika exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
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
}

/// Runs troika with `args` in `dir` (its working directory), with
/// TROIKA_CONFIG_FILE unset.
pub fn troika_in(dir: &Path, args: &[&str]) -> TroikaRun {
    let start = std::time::Instant::now();
    let out = std::process::Command::new(troika_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("TROIKA_CONFIG_FILE")
        .env_remove("ECF_HOST")
        .env_remove("ECF_PORT")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", troika_bin().display()));
    TroikaRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// Calls `f` every 50 ms until it returns `Some`, for at most `timeout`;
/// panics with `what` (and the last `describe()`) when the time is up.
pub fn poll_until<T>(what: &str, timeout: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if std::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Waits until `f` returns true, for at most `timeout` (see [`poll_until`]).
pub fn wait_until(what: &str, timeout: std::time::Duration, mut f: impl FnMut() -> bool) {
    poll_until(what, timeout, || f().then_some(()))
}

/// A finished process's status and output, for assertion messages.
pub fn describe(o: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The content of a file, empty when it cannot be read (not there yet).
pub fn read_or_empty(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Waits until file `p` contains `needle`; returns the content.
pub fn wait_for_content(p: &Path, needle: &str, timeout: std::time::Duration) -> String {
    poll_until(&format!("{} to contain {needle:?}", p.display()), timeout, || {
        let s = read_or_empty(p);
        s.contains(needle).then_some(s)
    })
}

/// The job id troika wrote to `<script>.jid`, checked to be `N\n`.
pub fn read_jid(script: &Path) -> String {
    let p = PathBuf::from(format!("{}.jid", script.display()));
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    let id = s
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{}: no final newline: {s:?}", p.display()));
    assert!(
        !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()),
        "{}: not a number: {s:?}",
        p.display()
    );
    id.to_string()
}

/// `<script><suffix>`, e.g. `sibling(script, ".killlog")`.
pub fn sibling(script: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", script.display()))
}
