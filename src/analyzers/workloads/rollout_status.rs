//! `rollout-status`: Deployments that are unavailable or whose rollout is stuck
//! (`Progressing=False` with `ProgressDeadlineExceeded`, `Available=False` with
//! `MinimumReplicasUnavailable`), linked to what their pods report.

use serde::Deserialize;

use crate::analyzers::target::Target;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, pod_label};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "rollout-status",
    summary: "Deployments unavailable or stuck rolling out, linked to their pods' failures",
    needs: &[Kind::Pod, Kind::Deployment],
    optional: &[Kind::ReplicaSet],
    data: &[],
    build: build::<RolloutStatus>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolloutStatus {
    #[serde(default)]
    target: Target,
}

/// Analyzers whose finding on the same workload explains a stuck rollout, most
/// specific first: the engine links the first one that fired.
const CAUSES: [&str; 6] = [
    "required-env",
    "env-refs",
    "unschedulable",
    "probe-fit",
    "container-failures",
    "probe-endpoints",
];

impl Analyzer for RolloutStatus {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            if w.kind != Kind::Deployment {
                continue;
            }
            let Some(d) = view.deployments.get(w.namespace(), w.name()) else {
                continue;
            };
            let status = d.status.as_ref();
            let conditions = status
                .and_then(|s| s.conditions.as_deref())
                .unwrap_or_default();
            let find = |t: &str, reason: &str| {
                conditions.iter().find(|c| {
                    c.type_ == t && c.status == "False" && c.reason.as_deref() == Some(reason)
                })
            };
            let stuck = find("Progressing", "ProgressDeadlineExceeded");
            let unavailable = find("Available", "MinimumReplicasUnavailable");
            let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            if stuck.is_none() && (unavailable.is_none() || wanted == 0) {
                continue;
            }
            let available = status.and_then(|s| s.available_replicas).unwrap_or(0);
            let subject = ObjectRef::of(Kind::Deployment, &d.metadata);
            let what = match (stuck, unavailable) {
                (Some(_), Some(_)) => "is stuck rolling out and unavailable",
                (Some(_), None) => "is stuck rolling out",
                _ => "is unavailable",
            };
            let mut draft = Draft::new(
                subject.clone().with_field("status.conditions"),
                format!(
                    "Deployment {} {what}: {available} of {wanted} replicas available",
                    w.name()
                ),
            );
            for c in [stuck, unavailable].into_iter().flatten() {
                draft.evidence.push(format!(
                    "condition {}={} ({}): {}",
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ));
            }
            for pod in view.pods_of(&w) {
                let mut line = format!("pod {}", pod_label(pod));
                let waiting: Vec<String> = pod
                    .status
                    .iter()
                    .flat_map(|s| s.container_statuses.iter().flatten())
                    .filter(|cs| !cs.ready)
                    .map(|cs| {
                        let state = cs
                            .state
                            .as_ref()
                            .and_then(|s| s.waiting.as_ref())
                            .and_then(|w| w.reason.clone())
                            .unwrap_or_else(|| "not ready".to_string());
                        format!("{} {state}, restartCount {}", cs.name, cs.restart_count)
                    })
                    .collect();
                if !waiting.is_empty() {
                    line.push_str(&format!(": {}", waiting.join("; ")));
                }
                draft.evidence.push(line);
            }
            for cause in CAUSES {
                draft = draft.caused_by(cause, subject.clone());
            }
            let revision: u32 = d
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"))
                .and_then(|r| r.parse().ok())
                .unwrap_or(1);
            let mut description = "Fix what keeps the pods from becoming ready (the linked finding, or the pods' events and logs), then watch the rollout finish.".to_string();
            let kubectl = if revision > 1 {
                description.push_str(&format!(
                    " To restore service first, roll back to revision {}: `kubectl rollout undo {}{}`.",
                    revision - 1,
                    subject.kubectl_name(),
                    subject.kubectl_ns()
                ));
                format!(
                    "kubectl rollout status {}{} --timeout=5m",
                    subject.kubectl_name(),
                    subject.kubectl_ns()
                )
            } else {
                format!(
                    "kubectl describe {}{}",
                    subject.kubectl_name(),
                    subject.kubectl_ns()
                )
            };
            drafts.push(draft.fix(Fix::manual(description).with_kubectl(kubectl)));
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn mlflow_serving_rollout_stuck() {
        let drafts = run("rollout-status", "{}", &fixture("mlflow-serving"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_rolled_out() {
        assert_eq!(
            run("rollout-status", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
