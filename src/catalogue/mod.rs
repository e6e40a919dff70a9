//! The check catalogue: shipped checks embedded at build time plus the user's
//! `--checks DIR` files. A user check with a shipped code replaces it.

mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub use spec::{CheckSpec, Docs};

use serde_json::Value;

use crate::analyzers::{self, Analyzer, AnalyzerDef};
use crate::report::findings::Severity;

mod shipped {
    include!(concat!(env!("OUT_DIR"), "/shipped_checks.rs"));
}

/// A check ready to run: its spec, its analyzer built from the parameters, and
/// where it came from.
#[derive(Debug)]
pub struct Check {
    pub spec: CheckSpec,
    pub analyzer: Box<dyn Analyzer>,
    pub def: &'static AnalyzerDef,
    /// `checks/workloads/wkl001.yaml (shipped)` or the user's file path.
    pub origin: String,
}

#[derive(Debug, Default)]
pub struct Catalogue {
    /// By code, so listing and selection are ordered.
    checks: BTreeMap<String, Check>,
}

impl Catalogue {
    /// The shipped checks and then each user directory, in order.
    pub fn load(user_dirs: &[PathBuf]) -> Result<Catalogue> {
        Self::load_with(user_dirs, &Overrides::default())
    }

    /// Like [`Catalogue::load`], with a config file's severity and parameter
    /// overrides applied before each analyzer is built.
    pub fn load_with(user_dirs: &[PathBuf], overrides: &Overrides) -> Result<Catalogue> {
        let mut specs: Vec<(CheckSpec, String, bool)> = Vec::new();
        for (path, text) in shipped::SHIPPED {
            let origin = format!("checks/{path} (shipped)");
            specs.push((parse_spec(text, &origin)?, origin, false));
        }
        for dir in user_dirs {
            for file in yaml_files(dir)? {
                let text = fs::read_to_string(&file)
                    .with_context(|| format!("cannot read check file {}", file.display()))?;
                let origin = file.display().to_string();
                specs.push((parse_spec(&text, &origin)?, origin, true));
            }
        }
        let codes: BTreeSet<&str> = specs.iter().map(|(s, _, _)| s.code.as_str()).collect();
        for code in overrides.severity.keys().chain(overrides.params.keys()) {
            if !codes.contains(code.as_str()) {
                bail!(
                    "{}: override for unknown check code `{code}`",
                    overrides.origin
                );
            }
        }
        let mut catalogue = Catalogue::default();
        for (mut spec, origin, user) in specs {
            if let Some(severity) = overrides.severity.get(&spec.code) {
                spec.severity = *severity;
            }
            if let Some(params) = overrides.params.get(&spec.code) {
                merge(&mut spec.params, params);
            }
            catalogue.add(build_check(spec, &origin)?, user)?;
        }
        Ok(catalogue)
    }

    fn add(&mut self, check: Check, user: bool) -> Result<()> {
        if let Some(existing) = self.checks.get(&check.spec.code)
            && !(user && existing.origin.ends_with("(shipped)"))
        {
            bail!(
                "{}: code {} is already used by {}; codes must be unique",
                check.origin,
                check.spec.code,
                existing.origin
            );
        }
        self.checks.insert(check.spec.code.clone(), check);
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Check> {
        self.checks.values()
    }

    pub fn get(&self, code: &str) -> Option<&Check> {
        self.checks.get(&code.to_ascii_uppercase())
    }

    /// Checks selected by `--select` and not removed by `--ignore`; each
    /// selector is a code or a prefix (`WKL`, `SEL00`). A selector that matches
    /// nothing is an error, so a typo never silently disables a gate.
    pub fn select(&self, select: &[String], ignore: &[String]) -> Result<Vec<&Check>> {
        for sel in select.iter().chain(ignore) {
            let sel = sel.to_ascii_uppercase();
            if !self.checks.keys().any(|code| code.starts_with(&sel)) {
                bail!(
                    "unknown check code or prefix `{sel}`: run `mlopsctl checks` for the catalogue"
                );
            }
        }
        let matches = |code: &str, list: &[String]| {
            list.iter()
                .any(|s| code.starts_with(&s.to_ascii_uppercase()))
        };
        Ok(self
            .checks
            .values()
            .filter(|c| select.is_empty() || matches(&c.spec.code, select))
            .filter(|c| !matches(&c.spec.code, ignore))
            .collect())
    }
}

/// The README's check table, generated so it cannot drift from the catalogue.
pub fn markdown_table(catalogue: &Catalogue) -> String {
    let mut out = String::from("| code | severity | title | analyzer |\n|---|---|---|---|\n");
    for c in catalogue.iter() {
        out.push_str(&format!(
            "| {} | {} | {} | `{}` |\n",
            c.spec.code, c.spec.severity, c.spec.title, c.spec.analyzer
        ));
    }
    out
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir)
        .with_context(|| format!("cannot read checks directory {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            // A check pack keeps its test cases (snapshots) under tests/.
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            out.extend(yaml_files(&path)?);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Per-code changes from a config file.
#[derive(Debug, Default)]
pub struct Overrides {
    pub severity: BTreeMap<String, Severity>,
    pub params: BTreeMap<String, Value>,
    /// Where they come from, for messages.
    pub origin: String,
}

/// Overlay `patch`'s fields onto `base` (objects merge key by key; anything else replaces).
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Parse and validate one check file; errors name the file and the field.
pub fn parse_check(text: &str, origin: &str) -> Result<Check> {
    build_check(parse_spec(text, origin)?, origin)
}

fn parse_spec(text: &str, origin: &str) -> Result<CheckSpec> {
    let spec: CheckSpec =
        crate::yaml::from_str(text).with_context(|| format!("invalid check file {origin}"))?;
    spec.validate()
        .map_err(|e| anyhow::anyhow!("invalid check file {origin}: {e}"))?;
    Ok(spec)
}

fn build_check(spec: CheckSpec, origin: &str) -> Result<Check> {
    let Some(def) = analyzers::find(&spec.analyzer) else {
        let known: Vec<&str> = analyzers::ANALYZERS.iter().map(|a| a.name).collect();
        bail!(
            "invalid check file {origin}: field `analyzer`: unknown analyzer `{}` (known: {})",
            spec.analyzer,
            known.join(", ")
        );
    };
    let analyzer = (def.build)(spec.params.clone())
        .map_err(|e| anyhow::anyhow!("invalid check file {origin}: field `params.{e}"))?;
    Ok(Check {
        spec,
        analyzer,
        def,
        origin: origin.to_string(),
    })
}
