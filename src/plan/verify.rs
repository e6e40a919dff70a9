//! Verify: run the checks that found the problems again on the changed view
//! (a copy of the snapshot with the patched objects offline; a re-collection
//! live) and say which findings cleared, which remain, and which are new.

use std::collections::BTreeSet;

use anyhow::Result;
use serde::Serialize;

use super::apply::{ApplyError, apply};
use super::objects;
use super::operation::Operation;
use crate::catalogue::Check;
use crate::cluster::{ClusterView, ObjectRef};
use crate::engine;
use crate::findings::Finding;

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

/// Run `checks` on `after` and compare with `before` (everything they found
/// before the change) and `fixed` (the findings the change was meant to fix).
pub fn verify(
    checks: &[&Check],
    before: &[Finding],
    fixed: &[&Finding],
    after: &ClusterView,
) -> Verification {
    let report = engine::run(checks, after, "verify".to_string());
    let now: BTreeSet<_> = report.findings.iter().map(key).collect();
    let was: BTreeSet<_> = before.iter().map(key).collect();
    let (remaining, cleared): (Vec<Finding>, Vec<Finding>) = fixed
        .iter()
        .map(|f| (*f).clone())
        .partition(|f| now.contains(&key(f)));
    let new = report
        .findings
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
