//! The shipped catalogue: well-formed, documented, every check fires on some
//! fixture, healthy fixtures stay quiet, and the README's table is current.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mlopsctl::catalogue::{self, Catalogue};
use mlopsctl::report::engine;
use mlopsctl::snapshot;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn shipped_checks_are_well_formed_and_unique() {
    let catalogue = Catalogue::load(&[]).expect("shipped catalogue loads");
    let files = walk(&root().join("checks"));
    assert_eq!(
        catalogue.iter().count(),
        files.len(),
        "one check per file, codes unique"
    );
    for check in catalogue.iter() {
        let file = files
            .iter()
            .find(|f| name(f) == format!("{}.yaml", check.spec.code.to_lowercase()))
            .unwrap_or_else(|| {
                panic!(
                    "{} lives in checks/<area>/{}.yaml",
                    check.spec.code,
                    check.spec.code.to_lowercase()
                )
            });
        assert!(file.exists());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_check_fires_somewhere_and_healthy_fixtures_are_quiet() {
    let catalogue = Catalogue::load(&[]).unwrap();
    let checks = catalogue.select(&[], &[]).unwrap();
    let mut fired = BTreeSet::new();
    for dir in fixture_dirs() {
        let view = snapshot::load(&dir).unwrap_or_else(|e| panic!("{}: {e:#}", dir.display()));
        let report = engine::run(&checks, &view, name(&dir));
        if name(&dir).starts_with("healthy") {
            let found: Vec<String> = report
                .findings
                .iter()
                .map(|f| format!("{} {}: {}", f.code, f.subject, f.message))
                .collect();
            assert!(
                found.is_empty(),
                "healthy fixture {} has findings:\n{}",
                name(&dir),
                found.join("\n")
            );
        }
        fired.extend(report.findings.iter().map(|f| f.code.clone()));
    }
    let never: Vec<&str> = catalogue
        .iter()
        .map(|c| c.spec.code.as_str())
        .filter(|c| !fired.contains(*c))
        .collect();
    assert!(never.is_empty(), "checks no fixture fires: {never:?}");
}

/// `CODE Kind namespace/name` of a finding's subject.
fn root_line(f: &mlopsctl::report::findings::Finding) -> String {
    let s = &f.subject;
    match &s.namespace {
        Some(ns) => format!("{} {} {ns}/{}", f.code, s.kind, s.name),
        None => format!("{} {} {}", f.code, s.kind, s.name),
    }
}

/// Each fixture with findings declares its true roots in `roots.txt`; the
/// report shows exactly those as roots, and every other finding under one.
#[test]
fn every_fixture_shows_its_true_roots_and_nothing_else_as_a_root() {
    let catalogue = Catalogue::load(&[]).unwrap();
    let checks = catalogue.select(&[], &[]).unwrap();
    for dir in fixture_dirs() {
        let view = snapshot::load(&dir).unwrap();
        let report = engine::run(&checks, &view, name(&dir));
        let shown: BTreeSet<String> = report
            .grouped()
            .iter()
            .map(|(root, _)| root_line(root))
            .collect();
        let file = dir.join("roots.txt");
        let declared: BTreeSet<String> = match std::fs::read_to_string(&file) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect(),
            Err(_) if report.findings.is_empty() => BTreeSet::new(),
            Err(e) => panic!("{}: {e}: declare the fixture's true roots", file.display()),
        };
        assert_eq!(shown, declared, "roots of fixture {}", name(&dir));
        let (roots, symptoms) = report.incidents();
        assert_eq!(roots + symptoms, report.findings.len());
    }
}

#[test]
fn example_checks_load() {
    let catalogue =
        Catalogue::load(&[root().join("examples/checks")]).expect("examples are valid checks");
    assert!(catalogue.get("SITE001").is_some());
}

#[test]
fn readme_check_table_is_current() {
    let catalogue = Catalogue::load(&[]).unwrap();
    let table = catalogue::markdown_table(&catalogue);
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- checks:start -->\n", "<!-- checks:end -->");
    let a = readme
        .find(start)
        .expect("README has the checks:start marker")
        + start.len();
    let b = readme.find(end).expect("README has the checks:end marker");
    if readme[a..b] != table {
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..a], &readme[b..])).unwrap();
        } else {
            panic!(
                "README check table is stale: run `UPDATE_README=1 cargo test --test catalogue`"
            );
        }
    }
}
