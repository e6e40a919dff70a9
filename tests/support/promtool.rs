//! Prometheus's own linter, `promtool check metrics`, from Debian's
//! `prometheus` package (`.ci/run` installs it).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// promtool on the PATH, if installed.
pub fn promtool() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    })
}

/// What promtool says of `metrics`: `Ok` when it exits 0 and prints
/// nothing (lint problems exit 3), else what it printed.
pub fn check(promtool: &std::path::Path, metrics: &str) -> Result<(), String> {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(said)
    }
}
