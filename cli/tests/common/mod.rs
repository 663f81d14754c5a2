//! Helpers every end-to-end test of the `simctl` binary uses (each test file is its own
//! crate, and not every one uses all of them).
#![allow(dead_code, reason = "each test crate uses some of these")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `simctl` from the workspace's root, so bundled paths resolve.
pub fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("simctl runs")
}

/// A fresh, empty directory for `name`, distinct per test crate and per process.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "simctl-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
