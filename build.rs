//! Embeds the shipped check catalogue (`checks/**/*.yaml`) in the binary, and
//! the commit and target that `--version` prints.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

fn main() {
    embed_checks();
    // A container build's context has no `.git`: the Dockerfile passes the commit in.
    println!("cargo:rerun-if-env-changed=MLOPSCTL_COMMIT");
    let commit = env::var("MLOPSCTL_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=MLOPSCTL_COMMIT={commit}");
    println!(
        "cargo:rustc-env=MLOPSCTL_TARGET={}",
        env::var("TARGET").expect("cargo sets TARGET")
    );
    // In a linked worktree `.git` is a file: HEAD lives in the worktree's git
    // dir and branches in the common one. A path that does not exist would
    // rerun this script (and rebuild the crate) on every build.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
    }
    // Only the checked-out branch's ref: watching every branch rebuilt the
    // crate whenever another worktree of the repository committed. A ref git
    // has packed lives in `packed-refs`; a detached HEAD is HEAD itself.
    if let (Some(dir), Some(branch)) = (
        git(&["rev-parse", "--git-common-dir"]),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ) {
        let loose = Path::new(&dir).join(&branch);
        if loose.exists() {
            println!("cargo:rerun-if-changed={}", loose.display());
        } else {
            println!("cargo:rerun-if-changed={dir}/packed-refs");
        }
    }
}

/// A git command's output, trimmed; `None` outside a repository.
fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn embed_checks() {
    // Read at run time: a build script compiled for one checkout can be
    // reused by another that shares the target directory.
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("checks");
    println!("cargo:rerun-if-changed=checks");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut out = String::from(
        "/// Shipped checks: (path under checks/, YAML text).\npub static SHIPPED: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .expect("under checks/")
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            file.display().to_string()
        )
        .expect("write to string");
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("shipped_checks.rs");
    fs::write(dest, out).expect("write generated catalogue");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
}
