//! Replays the committed fuzz inputs (`fuzz/corpus/*/seed-*` and
//! `fuzz/regressions/*/*`) through the fuzz targets' own bodies, so the targets
//! keep compiling and every crash the fuzzer found stays fixed. Seeds are made
//! from valid fixtures and must load; regression inputs must give an error or a
//! result, never a panic. See the README's "Fuzzing" section.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn files(dir: &Path, seeds_only: bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            !seeds_only
                || p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .collect();
    out.sort();
    out
}

/// Run every committed input of `target`; returns how many seeds there were.
fn replay<T>(target: &str, body: fn(&[u8]) -> Result<T, String>) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = files(&fuzz.join("corpus").join(target), true);
    let regressions = files(&fuzz.join("regressions").join(target), false);
    let mut failures = Vec::new();
    for (file, must_load) in seeds
        .iter()
        .map(|f| (f, true))
        .chain(regressions.iter().map(|f| (f, false)))
    {
        let data = fs::read(file).unwrap();
        match catch_unwind(AssertUnwindSafe(|| body(&data))) {
            Err(_) => failures.push(format!("{}: panicked", file.display())),
            Ok(Err(e)) if must_load => failures.push(format!("{}: {e}", file.display())),
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    seeds.len()
}

#[test]
fn snapshot_file_corpus() {
    assert!(replay("snapshot_file", harness::snapshot_file) >= 20);
}

#[test]
fn check_spec_corpus() {
    assert!(replay("check_spec", harness::check_spec) >= 40);
}

#[test]
fn log_signatures_corpus() {
    assert!(replay("log_signatures", harness::log_signatures) >= 5);
}

#[test]
fn log_signatures_seed_finds_its_signatures() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/log_signatures/seed-srv004-serving-workloads-inference.log");
    let drafts = harness::log_signatures(&fs::read(seed).unwrap()).unwrap();
    assert!(drafts > 0, "the shipped signatures match the fixture's log");
}
