//! `kubectl rollout restart` as an operation: the annotation kubectl sets on
//! the pod template, so the controller rolls every pod.

use serde_json::{Value, json};

use super::operation::{Operation, escape, placeholder};
use crate::cluster::{Kind, Workload};
use crate::report::findings::Applicability;

/// The annotation `kubectl rollout restart` writes (kubectl's
/// `polymorphichelpers/objectrestarter.go`), with an RFC 3339 time.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The input holding the current time; `mlopsctl fix` gives it unless `--set now=…`.
pub const NOW: &str = "now";

/// Restart the pods of a Deployment, StatefulSet or DaemonSet (the kinds kubectl
/// can restart); `None` for other workloads. Unsafe: every pod is replaced.
pub fn restart(w: &Workload<'_>) -> Option<Operation> {
    if !matches!(
        w.kind,
        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
    ) {
        return None;
    }
    let spec = w.spec_pointer();
    let template = spec.strip_suffix("/spec").unwrap_or(&spec);
    let meta = format!("{template}/metadata");
    let annotations = w.template_meta.and_then(|m| m.annotations.as_ref());
    let op = Operation::patch(&w.object_ref(), w.meta, Applicability::Unsafe)
        .input(NOW, "the time of the restart (RFC 3339), given by mlopsctl");
    let value: Value = placeholder(NOW);
    Some(match (w.template_meta, annotations) {
        (Some(_), Some(_)) => op.add(
            &format!("{meta}/annotations/{}", escape(RESTARTED_AT)),
            value,
        ),
        (Some(_), None) => op.add(
            &format!("{meta}/annotations"),
            json!({ RESTARTED_AT: value }),
        ),
        (None, _) => op.add(&meta, json!({"annotations": { RESTARTED_AT: value }})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testing::fixture;
    use crate::plan::{Inputs, apply::apply, objects};

    #[test]
    fn annotates_the_pod_template_like_kubectl() {
        let view = fixture("training-pipeline");
        let workloads = view.workloads();
        let w = workloads
            .iter()
            .find(|w| w.kind == Kind::Deployment && w.name() == "train-lstm")
            .unwrap();
        let op = restart(w).unwrap();
        assert_eq!(op.applicability, Applicability::Unsafe);
        let op = Inputs::parse(&["now=2026-11-29T19:00:00Z"])
            .unwrap()
            .fill(&op)
            .unwrap();
        let before = objects::get(&view, &w.object_ref());
        let after = apply(&op, before.as_ref()).unwrap().unwrap();
        assert_eq!(
            after["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT],
            json!("2026-11-29T19:00:00Z")
        );
        // Nothing else of the template changed.
        assert_eq!(
            after["spec"]["template"]["spec"],
            before.unwrap()["spec"]["template"]["spec"]
        );
    }

    #[test]
    fn bare_pods_and_jobs_cannot_be_restarted() {
        let view = fixture("training-pipeline");
        for w in view.workloads() {
            let restartable = matches!(
                w.kind,
                Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
            );
            assert_eq!(restart(&w).is_some(), restartable, "{}", w.object_ref());
        }
    }
}
