//! The report stage: what the checks found, as a Report in the shape of the
//! versioned JSON schema. [`engine`] runs the checks and links causes,
//! [`findings`] is the data, [`suppress`] and [`baseline`] set aside what a
//! team accepted.

pub mod baseline;
pub mod causes;
pub mod engine;
pub mod findings;
pub mod suppress;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::cluster::CoverageRecord;
use crate::report::findings::{CheckResult, CheckStatus, Finding, Severity};
use crate::report::suppress::Suppressed;

/// Bumped when a field changes meaning or disappears; adding fields does not.
pub const SCHEMA_VERSION: &str = "mlopsctl.report/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub schema: String,
    /// `snapshot PATH` or `context NAME`.
    pub source: String,
    pub summary: Summary,
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    /// Findings accepted by annotation, config or baseline: kept, but not gating.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Suppressed>,
    pub coverage: Vec<CoverageRecord>,
    /// Things the user should know about the run itself (stale suppressions, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// When the run started and how long it took, for the metrics. Not in the
    /// JSON: it would make two reports of the same cluster differ.
    #[serde(skip)]
    pub timing: Option<Timing>,
}

/// When a run (collection and checks) started, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub started: SystemTime,
    pub duration: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Checks that failed to run (a bug in mlopsctl; the run exits 2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errored: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Report {
    pub fn new(
        source: String,
        checks: Vec<CheckResult>,
        findings: Vec<Finding>,
        coverage: Vec<CoverageRecord>,
    ) -> Self {
        let mut report = Report {
            schema: SCHEMA_VERSION.to_string(),
            source,
            summary: Summary::default(),
            checks,
            findings,
            suppressed: Vec::new(),
            coverage,
            notes: Vec::new(),
            timing: None,
        };
        report.recount();
        report
    }

    /// Recompute the roots, the summary and each check's status from the
    /// findings, after some were suppressed (a suppressed root leaves its
    /// symptoms to the next cause up the chain, or makes them roots).
    pub fn recount(&mut self) {
        causes::stamp(&mut self.findings);
        for check in &mut self.checks {
            if matches!(check.status, CheckStatus::Skipped | CheckStatus::Error) {
                continue;
            }
            check.findings = self
                .findings
                .iter()
                .filter(|f| f.code == check.code)
                .count();
            check.status = if check.findings == 0 {
                CheckStatus::Pass
            } else {
                CheckStatus::Fail
            };
        }
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let status = |s: CheckStatus| self.checks.iter().filter(|c| c.status == s).count();
        self.summary = Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            passed: status(CheckStatus::Pass),
            failed: status(CheckStatus::Fail),
            skipped: status(CheckStatus::Skipped),
            errored: status(CheckStatus::Error),
        };
    }

    /// The checks that failed to run.
    pub fn errored(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Error)
    }

    /// Findings at or above `threshold`; `None` means `--fail-on never`.
    pub fn fails(&self, threshold: Option<Severity>) -> bool {
        threshold.is_some_and(|t| self.findings.iter().any(|f| f.severity.at_least(t)))
    }

    /// The incidents: each root (a finding without a reported cause) followed
    /// by every finding whose cause chain leads to it, nearest first.
    pub fn grouped(&self) -> Vec<(&Finding, Vec<&Finding>)> {
        self.findings
            .iter()
            .filter(|f| f.root.is_none())
            .map(|root| {
                let symptoms = self
                    .findings
                    .iter()
                    .filter(|s| s.root.as_deref() == Some(root.id.as_str()))
                    .collect();
                (root, symptoms)
            })
            .collect()
    }

    /// How many findings are roots, and how many are symptoms of one.
    pub fn incidents(&self) -> (usize, usize) {
        let symptoms = self.findings.iter().filter(|f| f.root.is_some()).count();
        (self.findings.len() - symptoms, symptoms)
    }
}
