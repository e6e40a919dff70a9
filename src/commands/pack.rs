//! `mlopsctl checks test DIR`: a team's checks tested like code. DIR holds the
//! check files and `tests/<case>/expect.yaml`, each naming a snapshot and what
//! must and must not fire on it:
//!
//! ```yaml
//! snapshot: snapshot            # relative to the case folder (default: snapshot)
//! fires:
//!   - {code: SITE001, subject: Deployment flts/train-lstm}   # subject optional
//! quiet: [SITE002]              # codes that must not fire
//! ```
//!
//! A case judges the checks it names; a check it names must not be skipped.
//! A check of the pack that fires in no case fails the run: a condition that
//! can match nothing must never pass silently.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use super::{Context, Exit};
use crate::catalogue::Catalogue;
use crate::pipeline::{Pipeline, Source};
use crate::render;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default = "default_snapshot")]
    snapshot: PathBuf,
    #[serde(default)]
    fires: Vec<Fires>,
    #[serde(default)]
    quiet: Vec<String>,
}

fn default_snapshot() -> PathBuf {
    PathBuf::from("snapshot")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fires {
    code: String,
    #[serde(default)]
    subject: Option<String>,
}

pub fn test(dir: &Path, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    render::use_color(ctx.style.color);
    let catalogue = Catalogue::load(&[dir.to_path_buf()])?;
    let pack: Vec<_> = catalogue
        .iter()
        .filter(|c| !c.origin.ends_with("(shipped)"))
        .collect();
    if pack.is_empty() {
        bail!("no check files in {}", dir.display());
    }
    let tests_dir = dir.join("tests");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&tests_dir)
        .with_context(|| {
            format!(
                "cannot read {}: a check pack keeps its cases in tests/<case>/",
                tests_dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expect.yaml").is_file())
        .collect();
    cases.sort();
    if cases.is_empty() {
        bail!(
            "no test cases in {}: add tests/<case>/expect.yaml",
            tests_dir.display()
        );
    }
    // The same pipeline as doctor's: a case's annotations suppress as they
    // would on a cluster; a pack is tested without any config file.
    let pipeline = Pipeline {
        checks: pack.clone(),
        rules: &[],
        origin: String::new(),
        today: &ctx.today,
        baseline: None,
    };
    let mut failed = 0;
    let mut fired_anywhere = BTreeSet::new();
    for case in &cases {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expect_path = case.join("expect.yaml");
        let text = std::fs::read_to_string(&expect_path)?;
        let expect: Expect = crate::yaml::from_str(&text)
            .with_context(|| format!("invalid {}", expect_path.display()))?;
        let source = Source::Snapshot {
            path: &case.join(&expect.snapshot),
            namespace: None,
        };
        let report = pipeline
            .run(&source)
            .with_context(|| format!("case {name}: cannot load its snapshot"))?
            .report;
        fired_anywhere.extend(report.findings.iter().map(|f| f.code.clone()));
        let mut problems = Vec::new();
        for want in &expect.fires {
            let hit = report.findings.iter().any(|f| {
                f.code == want.code
                    && want
                        .subject
                        .as_ref()
                        .is_none_or(|s| *s == f.subject.to_string())
            });
            if !hit {
                let on = want
                    .subject
                    .as_ref()
                    .map(|s| format!(" on {s}"))
                    .unwrap_or_default();
                problems.push(format!("expected {}{on}, which did not fire", want.code));
            }
        }
        for code in &expect.quiet {
            for f in report.findings.iter().filter(|f| &f.code == code) {
                problems.push(format!(
                    "{code} must not fire, but did on {}: {}",
                    f.subject, f.message
                ));
            }
        }
        // A check the case is about must run; the others may lack its data.
        let judged: BTreeSet<&str> = expect
            .fires
            .iter()
            .map(|f| f.code.as_str())
            .chain(expect.quiet.iter().map(String::as_str))
            .collect();
        for skipped in report
            .checks
            .iter()
            .filter(|c| c.reason.is_some() && judged.contains(c.code.as_str()))
        {
            problems.push(format!(
                "{} was skipped: {}",
                skipped.code,
                skipped.reason.as_deref().unwrap_or_default()
            ));
        }
        failed += usize::from(!problems.is_empty());
        render::pack::case(&name, &problems, out)?;
    }
    for check in &pack {
        if !fired_anywhere.contains(&check.spec.code) {
            failed += 1;
            render::pack::never_fires(&check.spec.code, out)?;
        }
    }
    writeln!(
        out,
        "{} passed, {failed} failed",
        cases.len() + pack.len() - failed
    )?;
    Ok(if failed > 0 { Exit::Findings } else { Exit::Ok })
}
