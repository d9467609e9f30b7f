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
