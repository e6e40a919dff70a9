//! The report stage: what the checks found, as a Report in the shape of the
//! versioned JSON schema. [`engine`] runs the checks and links causes,
//! [`findings`] is the data, [`suppress`] and [`baseline`] set aside what a
//! team accepted.

pub mod baseline;
pub mod engine;
pub mod findings;
pub mod suppress;

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
        };
        report.recount();
        report
    }

    /// Recompute the summary and each check's status from the findings, after
    /// some were suppressed.
    pub fn recount(&mut self) {
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

    /// The findings that are roots (no cause among the reported findings), each
    /// followed by its symptoms: how people read a report.
    pub fn grouped(&self) -> Vec<(&Finding, Vec<&Finding>)> {
        let is_reported = |c: &crate::report::findings::Cause| {
            self.findings
                .iter()
                .any(|f| f.code == c.code && f.subject == c.subject)
        };
        let mut out: Vec<(&Finding, Vec<&Finding>)> = Vec::new();
        for f in &self.findings {
            if f.cause.as_ref().is_some_and(is_reported) {
                continue;
            }
            let symptoms = self
                .findings
                .iter()
                .filter(|s| {
                    s.cause
                        .as_ref()
                        .is_some_and(|c| c.code == f.code && c.subject == f.subject)
                })
                .collect();
            out.push((f, symptoms));
        }
        out
    }
}
