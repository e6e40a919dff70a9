//! Runs the selected checks on a ClusterView and builds the Report: findings
//! stamped with their check, linked to their causes, sorted.

use std::collections::HashMap;

use crate::analyzers::Draft;
use crate::catalogue::Check;
use crate::cluster::{ClusterView, ObjectRef};
use crate::findings::{Cause, CheckResult, CheckStatus, Finding};
use crate::report::Report;

pub fn run(checks: &[&Check], view: &ClusterView, source: String) -> Report {
    let mut results = Vec::new();
    // (analyzer, subject) → the findings it produced, for cause links.
    let mut drafts_by_check: Vec<(&Check, Vec<Draft>)> = Vec::new();
    for check in checks {
        let skip = check
            .def
            .needs
            .iter()
            .find_map(|kind| view.coverage_gap(*kind))
            .map(|gap| gap.detail());
        let outcome = match skip {
            Some(reason) => Err(reason),
            None => check.analyzer.analyze(view),
        };
        let (status, reason, drafts) = match outcome {
            Ok(d) if d.is_empty() => (CheckStatus::Pass, None, d),
            Ok(d) => (CheckStatus::Fail, None, d),
            Err(reason) => (CheckStatus::Skipped, Some(reason), Vec::new()),
        };
        results.push(CheckResult {
            code: check.spec.code.clone(),
            name: check.spec.name.clone(),
            title: check.spec.title.clone(),
            severity: check.spec.severity,
            status,
            reason,
            findings: drafts.len(),
        });
        drafts_by_check.push((check, drafts));
    }

    let mut produced: HashMap<(&str, ObjectRef), Vec<(&str, Cause)>> = HashMap::new();
    for (check, drafts) in &drafts_by_check {
        for d in drafts {
            let cause = Cause {
                code: check.spec.code.clone(),
                subject: d.subject.clone(),
            };
            produced
                .entry((check.def.name, d.subject.object()))
                .or_default()
                .push((check.spec.code.as_str(), cause));
        }
    }

    let mut findings = Vec::new();
    for (check, drafts) in &drafts_by_check {
        for d in drafts {
            let cause = d.causes.iter().find_map(|hint| {
                produced
                    .get(&(hint.analyzer, hint.subject.clone()))
                    .and_then(|list| list.iter().find(|(code, _)| *code != check.spec.code))
                    .map(|(_, cause)| cause.clone())
            });
            findings.push(Finding {
                code: check.spec.code.clone(),
                check: check.spec.name.clone(),
                severity: d.severity.unwrap_or(check.spec.severity),
                subject: d.subject.clone(),
                message: d.message.clone(),
                evidence: d.evidence.clone(),
                cause,
                fix: d.fix.clone(),
            });
        }
    }
    findings.sort_by(|a, b| {
        (a.severity, &a.code, &a.subject, &a.message)
            .cmp(&(b.severity, &b.code, &b.subject, &b.message))
    });
    Report::new(source, results, findings, view.coverage.clone())
}
