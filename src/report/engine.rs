//! Runs the selected checks on a ClusterView and builds the Report: findings
//! stamped with their check, linked to their causes, sorted.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::analyzers::Draft;
use crate::catalogue::Check;
use crate::cluster::{ClusterView, ObjectRef};
use crate::report::Report;
use crate::report::causes::{self, Traits};
use crate::report::findings::{Cause, CheckResult, CheckStatus, Finding};

/// What running one check gave: its drafts or the reason it was skipped, or
/// the message of its panic.
type Outcome = Result<Result<Vec<Draft>, String>, String>;

pub fn run(checks: &[&Check], view: &ClusterView, source: String) -> Report {
    let mut results = Vec::new();
    // (analyzer, subject) → the findings it produced, for cause links.
    let mut drafts_by_check: Vec<(&Check, Vec<Draft>)> = Vec::new();
    for (check, outcome) in checks.iter().zip(outcomes(checks, view)) {
        let (status, reason, drafts) = match outcome {
            Ok(Ok(d)) if d.is_empty() => (CheckStatus::Pass, None, d),
            Ok(Ok(d)) => (CheckStatus::Fail, None, d),
            Ok(Err(reason)) => (CheckStatus::Skipped, Some(reason), Vec::new()),
            Err(panic) => (
                CheckStatus::Error,
                Some(format!(
                    "the check failed to run ({panic}); the other checks are reported. \
                     This is a bug in mlopsctl: please report it with the object it ran on"
                )),
                Vec::new(),
            ),
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
    let mut traits = Vec::new();
    for (check, drafts) in &drafts_by_check {
        for d in drafts {
            let cause = d.causes.iter().find_map(|hint| {
                produced
                    .get(&(hint.analyzer, hint.subject.clone()))
                    .and_then(|list| list.iter().find(|(code, _)| *code != check.spec.code))
                    .map(|(_, cause)| cause.clone())
            });
            traits.push(Traits {
                symptom: check.spec.symptom,
                about: d.about.clone(),
            });
            findings.push(Finding {
                id: String::new(),
                code: check.spec.code.clone(),
                check: check.spec.name.clone(),
                severity: d.severity.unwrap_or(check.spec.severity),
                subject: d.subject.clone(),
                message: d.message.clone(),
                evidence: d.evidence.clone(),
                cause,
                root: None,
                fix: d.fix.clone(),
            });
        }
    }
    causes::link(&mut findings, &traits, view);
    findings.sort_by(|a, b| {
        (a.severity, &a.code, &a.subject, &a.message)
            .cmp(&(b.severity, &b.code, &b.subject, &b.message))
    });
    Report::new(source, results, findings, view.coverage.clone())
}

/// Every check's outcome, in the order of `checks`. Checks only read the
/// view, so they run on every core: on a big cluster a few of them take most
/// of the time after loading.
fn outcomes(checks: &[&Check], view: &ClusterView) -> Vec<Outcome> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS)
        .min(checks.len());
    if workers <= 1 {
        return checks.iter().map(|check| outcome(check, view)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Outcome>> = checks.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let take = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(check) = checks.get(i) else {
                    return done;
                };
                done.push((i, outcome(check, view)));
            }
        };
        let workers: Vec<_> = (0..workers).map(|_| scope.spawn(take)).collect();
        for worker in workers {
            // A check's panic is caught in it; a worker has nothing else to panic on.
            let done = worker.join().unwrap_or_else(|p| panic::resume_unwind(p));
            for (i, outcome) in done {
                slots[i] = Some(outcome);
            }
        }
    });
    slots.into_iter().flatten().collect()
}

/// Checks run at once at most: a few slow checks bound the run, and each
/// worker adds what its check allocates to the peak memory.
const MAX_WORKERS: usize = 4;

/// Run one check, or skip it when a kind it needs was not read.
fn outcome(check: &Check, view: &ClusterView) -> Outcome {
    let skip = check
        .def
        .needs
        .iter()
        .find_map(|kind| view.coverage_gap(*kind))
        .map(|gap| gap.detail());
    match skip {
        Some(reason) => Ok(Err(reason)),
        None => contained(|| check.analyzer.analyze(view)),
    }
}

thread_local! {
    /// Set while an analyzer runs: its panic is reported in the report, not
    /// printed by the default hook.
    static IN_ANALYZER: Cell<bool> = const { Cell::new(false) };
}

/// Run an analyzer; a panic in it becomes its message, so one broken check
/// never takes the others down.
fn contained<T>(analyze: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_ANALYZER.with(Cell::get) {
                default(info);
            }
        }));
    });
    IN_ANALYZER.with(|f| f.set(true));
    let outcome = panic::catch_unwind(AssertUnwindSafe(analyze));
    IN_ANALYZER.with(|f| f.set(false));
    outcome.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::Analyzer;
    use crate::catalogue::Catalogue;
    use crate::report::findings::CheckStatus;

    #[derive(Debug)]
    struct Panics;

    impl Analyzer for Panics {
        fn analyze(&self, _: &ClusterView) -> Result<Vec<Draft>, String> {
            let empty: Vec<usize> = Vec::new();
            Ok(vec![Draft::new(
                ObjectRef::new("v1", "Pod", None, "x"),
                empty[3].to_string(),
            )])
        }
    }

    #[test]
    fn a_panicking_check_fails_alone_and_the_others_are_reported() {
        let catalogue = Catalogue::load(&[]).unwrap();
        let mut broken = crate::catalogue::parse_check(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("checks/workloads/wkl004.yaml"),
            )
            .unwrap(),
            "wkl004.yaml",
        )
        .unwrap();
        broken.analyzer = Box::new(Panics);
        let mut checks = catalogue
            .select(&["WKL001".into(), "WKL003".into()], &[])
            .unwrap();
        checks.insert(1, &broken);
        let view = crate::analyzers::testing::fixture("training-pipeline");
        let report = run(&checks, &view, String::new());
        let statuses: Vec<(&str, CheckStatus)> = report
            .checks
            .iter()
            .map(|c| (c.code.as_str(), c.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("WKL001", CheckStatus::Fail),
                ("WKL004", CheckStatus::Error),
                ("WKL003", CheckStatus::Fail)
            ]
        );
        let reason = report.checks[1].reason.as_deref().unwrap();
        assert!(reason.contains("index out of bounds"), "{reason}");
        assert_eq!(report.summary.errored, 1);
        assert!(report.findings.iter().all(|f| f.code != "WKL004"));
        assert!(report.findings.iter().any(|f| f.code == "WKL003"));
    }
}
