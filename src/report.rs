//! The Report: what a doctor run found, in the shape of the versioned JSON schema.

use serde::{Deserialize, Serialize};

use crate::cluster::CoverageRecord;
use crate::findings::{CheckResult, CheckStatus, Finding, Severity};

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
    pub coverage: Vec<CoverageRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Report {
    pub fn new(
        source: String,
        checks: Vec<CheckResult>,
        findings: Vec<Finding>,
        coverage: Vec<CoverageRecord>,
    ) -> Self {
        let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        let status = |s: CheckStatus| checks.iter().filter(|c| c.status == s).count();
        let summary = Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            passed: status(CheckStatus::Pass),
            failed: status(CheckStatus::Fail),
            skipped: status(CheckStatus::Skipped),
        };
        Report {
            schema: SCHEMA_VERSION.to_string(),
            source,
            summary,
            checks,
            findings,
            coverage,
        }
    }

    /// Findings at or above `threshold`; `None` means `--fail-on never`.
    pub fn fails(&self, threshold: Option<Severity>) -> bool {
        threshold.is_some_and(|t| self.findings.iter().any(|f| f.severity.at_least(t)))
    }

    /// The findings that are roots (no cause among the reported findings), each
    /// followed by its symptoms: how people read a report.
    pub fn grouped(&self) -> Vec<(&Finding, Vec<&Finding>)> {
        let is_reported = |c: &crate::findings::Cause| {
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
