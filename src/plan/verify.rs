//! Verify: run the checks that found the problems again on the changed view
//! (a copy of the snapshot with the patched objects offline; a re-collection
//! live) and say which findings cleared, which remain, and which are new.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use super::apply::{ApplyError, apply};
use super::objects;
use super::operation::Operation;
use crate::cluster::{ClusterView, ObjectRef};
use crate::report::findings::Finding;

/// What re-running the checks said.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Verification {
    /// Fixed findings the checks no longer report.
    pub cleared: Vec<Finding>,
    /// Fixed findings the checks still report.
    pub remaining: Vec<Finding>,
    /// Findings of these checks that were not there before the change.
    pub new: Vec<Finding>,
}

impl Verification {
    pub fn is_clean(&self) -> bool {
        self.remaining.is_empty() && self.new.is_empty()
    }
}

/// A finding's identity across runs: its numbers in the message may change.
fn key(f: &Finding) -> (&str, &ObjectRef) {
    (f.code.as_str(), &f.subject)
}

/// Compare what the checks find after the change (`after`) with what they
/// found before it (`before`) and the findings the change was meant to fix
/// (`fixed`).
pub fn verify(before: &[Finding], fixed: &[&Finding], after: &[Finding]) -> Verification {
    let now: BTreeSet<_> = after.iter().map(key).collect();
    let was: BTreeSet<_> = before.iter().map(key).collect();
    let (remaining, cleared): (Vec<Finding>, Vec<Finding>) = fixed
        .iter()
        .map(|f| (*f).clone())
        .partition(|f| now.contains(&key(f)));
    let new = after
        .iter()
        .filter(|f| !was.contains(&key(f)))
        .cloned()
        .collect();
    Verification {
        cleared,
        remaining,
        new,
    }
}

/// Apply operations one after another to the objects of a view, as a server
/// would; returns each one's outcome. A failed one changes nothing.
pub fn apply_to_view(
    view: &mut ClusterView,
    operations: &[&Operation],
) -> Result<Vec<Result<(), ApplyError>>> {
    let mut outcomes = Vec::with_capacity(operations.len());
    for op in operations {
        let before = objects::get(view, &op.target);
        match apply(op, before.as_ref()) {
            Ok(after) => {
                objects::put(view, &op.target, after)?;
                outcomes.push(Ok(()));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testing::fixture;
    use crate::catalogue::Catalogue;
    use crate::plan::{Inputs, objects, planner};
    use crate::report::engine;

    /// Plan the fixes of one check on a fixture, apply every operation's JSON
    /// patch to the fixture object with `json-patch`, put the objects back into
    /// a fresh copy of the fixture, and verify.
    fn fix_offline(scenario: &str, code: &str, set: &[&str]) -> Verification {
        let catalogue = Catalogue::load(&[]).unwrap();
        let checks = catalogue.select(&[code.to_string()], &[]).unwrap();
        let view = fixture(scenario);
        let report = engine::run(&checks, &view, scenario.to_string());
        assert!(!report.findings.is_empty(), "{code} fires on {scenario}");
        let plan = planner::build(&report.findings, &Inputs::parse(set).unwrap(), true);
        assert_eq!(plan.ready().count(), report.findings.len(), "{plan:#?}");
        let mut changed = fixture(scenario);
        for p in plan.ready() {
            for op in &p.operations {
                let mut object = objects::get(&view, &op.target).expect("target in fixture");
                json_patch::patch(&mut object, &op.json_patch()).expect("patch applies");
                objects::put(&mut changed, &op.target, Some(object)).unwrap();
            }
        }
        let fixed: Vec<&Finding> = report.findings.iter().collect();
        let after = engine::run(&checks, &changed, String::new()).findings;
        verify(&report.findings, &fixed, &after)
    }

    #[test]
    fn adding_the_missing_variable_clears_wkl001() {
        let v = fix_offline("training-pipeline", "WKL001", &["MODEL_TYPE=LSTM"]);
        assert_eq!((v.cleared.len(), v.remaining.len(), v.new.len()), (1, 0, 0));
    }

    #[test]
    fn raising_the_memory_limit_clears_wkl003() {
        let v = fix_offline("training-pipeline", "WKL003", &["memory=2Gi"]);
        assert_eq!((v.cleared.len(), v.remaining.len(), v.new.len()), (1, 0, 0));
    }

    #[test]
    fn scaling_the_server_up_clears_sel003() {
        let v = fix_offline("seldon-mesh-broken", "SEL003", &[]);
        assert_eq!((v.cleared.len(), v.remaining.len(), v.new.len()), (1, 0, 0));
    }

    #[test]
    fn unchanged_view_leaves_findings_remaining() {
        let catalogue = Catalogue::load(&[]).unwrap();
        let checks = catalogue.select(&["WKL001".to_string()], &[]).unwrap();
        let view = fixture("training-pipeline");
        let report = engine::run(&checks, &view, String::new());
        let fixed: Vec<&Finding> = report.findings.iter().collect();
        let v = verify(&report.findings, &fixed, &report.findings);
        assert!(v.cleared.is_empty() && v.new.is_empty());
        assert_eq!(v.remaining.len(), report.findings.len());
        assert!(!v.is_clean());
    }

    #[test]
    fn a_finding_not_there_before_is_new() {
        // As if the change had broken the trainer: before it nothing fired.
        let catalogue = Catalogue::load(&[]).unwrap();
        let checks = catalogue.select(&["WKL001".to_string()], &[]).unwrap();
        let after = engine::run(&checks, &fixture("training-pipeline"), String::new()).findings;
        let v = verify(&[], &[], &after);
        assert_eq!(v.new.len(), 1, "{v:#?}");
        assert_eq!(v.new[0].subject.name, "train-lstm");
        assert!(!v.is_clean());
    }
}
