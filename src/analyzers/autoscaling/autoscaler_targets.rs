//! `autoscaler-targets`: autoscalers that cannot act on their target — a
//! `scaleTargetRef` naming a missing workload (`AbleToScale=False FailedGetScale`),
//! a target without a usable selector (`InvalidSelector`), ScaledObject replica
//! bounds KEDA rejects, and a target scaled to zero under an HPA with
//! `minReplicas > 0` (`ScalingDisabled`).

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::Deserialize;

use crate::analyzers::autoscaling::scaling::{
    self, event_lines, hpa_condition, keda_owner, looks_keda_made, name_of, ns_of, qualified,
    scaled_object_target,
};
use crate::analyzers::conditions::condition;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::report::findings::{Applicability, Fix, Severity};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "autoscaler-targets",
    summary: "HPAs and ScaledObjects whose target is missing, unscalable, scaled to zero, or whose bounds are invalid",
    needs: &[Kind::HorizontalPodAutoscaler],
    // A target is called missing only when its kind was read.
    optional: &[
        Kind::ScaledObject,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::Event,
    ],
    data: &[],
    build: build::<AutoscalerTargets>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutoscalerTargets {}

impl Analyzer for AutoscalerTargets {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.hpas.is_empty() && view.custom(Kind::ScaledObject).next().is_none() {
            return Err("not applicable: no HorizontalPodAutoscalers or ScaledObjects".into());
        }
        let mut drafts = Vec::new();
        for hpa in view.hpas.iter() {
            drafts.extend(judge_hpa(view, hpa));
        }
        for so in view.custom(Kind::ScaledObject) {
            drafts.extend(judge_scaled_object(view, so));
        }
        Ok(drafts)
    }
}

/// Whether a workload of a scalable kind exists; `None` when the kind is not one
/// the view holds (or was not collected).
fn exists(view: &ClusterView, ns: &str, kind: &str, name: &str) -> Option<bool> {
    let (k, found) = match kind {
        "Deployment" => (Kind::Deployment, view.deployments.get(ns, name).is_some()),
        "StatefulSet" => (
            Kind::StatefulSet,
            view.stateful_sets.get(ns, name).is_some(),
        ),
        "ReplicaSet" => (Kind::ReplicaSet, view.replica_sets.get(ns, name).is_some()),
        _ => return None,
    };
    view.can_judge(k, ns).then_some(found)
}

/// Names of workloads of a kind in a namespace.
fn names_of_kind<'a>(view: &'a ClusterView, ns: &'a str, kind: &str) -> Vec<&'a str> {
    match kind {
        "Deployment" => view
            .deployments
            .in_namespace(ns)
            .map(|d| name_of(&d.metadata))
            .collect(),
        "StatefulSet" => view
            .stateful_sets
            .in_namespace(ns)
            .map(|d| name_of(&d.metadata))
            .collect(),
        "ReplicaSet" => view
            .replica_sets
            .in_namespace(ns)
            .map(|d| name_of(&d.metadata))
            .collect(),
        _ => Vec::new(),
    }
}

fn missing_target_fix(
    view: &ClusterView,
    r: &ObjectRef,
    resource: &str,
    path: &str,
    kind: &str,
    name: &str,
) -> Fix {
    let ns = r.namespace.as_deref().unwrap_or_default();
    match crate::analyzers::text::closest(name, &names_of_kind(view, ns, kind)) {
        Some(guess) => Fix::manual(format!(
            "Point {path} at the {kind} that exists ({kind} {guess} looks like the one meant), or delete {r} if its workload is gone."
        ))
        .with_kubectl(format!(
            "kubectl patch {resource} {}{} --type merge -p '{{\"spec\":{{\"scaleTargetRef\":{{\"name\":\"{guess}\"}}}}}}'",
            r.name,
            r.kubectl_ns()
        )),
        None => Fix::manual(format!(
            "Deploy {kind} {ns}/{name}, point {path} at the workload that should scale, or delete {r} if its workload is gone."
        )),
    }
}

fn judge_hpa(view: &ClusterView, hpa: &HorizontalPodAutoscaler) -> Vec<Draft> {
    let Some(spec) = hpa.spec.as_ref() else {
        return Vec::new();
    };
    let ns = ns_of(&hpa.metadata);
    let r = scaling::hpa_ref(hpa);
    let kind = spec.scale_target_ref.kind.as_str();
    let target = spec.scale_target_ref.name.as_str();
    let keda = keda_owner(view, hpa).is_some() || looks_keda_made(hpa);
    let events = |reasons: &[&str]| {
        event_lines(
            view,
            Kind::HorizontalPodAutoscaler,
            ns,
            name_of(&hpa.metadata),
            reasons,
        )
        .into_iter()
        .rev()
        .take(1)
    };
    let able = hpa_condition(hpa, "AbleToScale").filter(|c| c.is("False"));
    let active = hpa_condition(hpa, "ScalingActive").filter(|c| c.is("False"));
    let mut drafts = Vec::new();
    // KEDA's HPAs follow their ScaledObject: its target is judged there.
    if !keda && exists(view, ns, kind, target) == Some(false) {
        let mut d = Draft::new(
            r.clone().with_field("spec.scaleTargetRef.name"),
            format!(
                "HPA {} targets {kind} {target}, which does not exist in namespace {ns}: it scales nothing",
                qualified(&hpa.metadata)
            ),
        );
        d.evidence.extend(
            able.iter()
                .map(|c| format!("HPA {}: {}", qualified(&hpa.metadata), c.line())),
        );
        d.evidence.extend(events(&["FailedGetScale"]));
        drafts.push(d.fix(missing_target_fix(
            view,
            &r,
            "hpa",
            "spec.scaleTargetRef.name",
            kind,
            target,
        )));
    } else if let Some(c) = able.filter(|c| c.reason == "FailedGetScale") {
        let d = Draft::new(
            r.clone().with_field("spec.scaleTargetRef"),
            format!(
                "HPA {} cannot read the scale of {kind} {target}: {}",
                qualified(&hpa.metadata),
                c.message
            ),
        )
        .evidence(format!("HPA {}: {}", qualified(&hpa.metadata), c.line()));
        drafts.push(d.fix(Fix::manual(format!(
            "Check spec.scaleTargetRef of HPA {} (apiVersion, kind and name must name a workload with a scale subresource: Deployment, StatefulSet, ReplicaSet or a custom resource that declares one).",
            r.name
        ))));
    }
    if let Some(c) = active.as_ref().filter(|c| c.reason == "InvalidSelector") {
        drafts.push(
            Draft::new(
                r.clone().with_field("spec.scaleTargetRef"),
                format!(
                    "{kind} {target} has no usable label selector in its scale subresource, so HPA {} cannot find its pods",
                    qualified(&hpa.metadata)
                ),
            )
            .evidence(format!("HPA {}: {}", qualified(&hpa.metadata), c.line()))
            .fix(Fix::manual(format!(
                "Give {kind} {target} a label selector its scale subresource reports (for a custom resource, `scale.labelSelectorPath` in its CRD), or target the workload that owns the pods."
            ))),
        );
    }
    let min = spec.min_replicas.unwrap_or(1);
    let target_replicas =
        scaling::target_workload(view, ns, kind, target).and_then(|_| match kind {
            "Deployment" => view
                .deployments
                .get(ns, target)
                .and_then(|d| d.spec.as_ref()?.replicas),
            "StatefulSet" => view
                .stateful_sets
                .get(ns, target)
                .and_then(|d| d.spec.as_ref()?.replicas),
            _ => None,
        });
    let disabled = active.as_ref().filter(|c| c.reason == "ScalingDisabled");
    if !keda && min > 0 && (disabled.is_some() || target_replicas == Some(0)) {
        let mut d = Draft::new(
            r.clone(),
            format!(
                "{kind} {target} is scaled to 0 replicas, so HPA {} is switched off (ScalingDisabled) although its minReplicas is {min}",
                qualified(&hpa.metadata)
            ),
        );
        if let Some(c) = disabled {
            d.evidence
                .push(format!("HPA {}: {}", qualified(&hpa.metadata), c.line()));
        }
        if target_replicas == Some(0) {
            d.evidence
                .push(format!("{kind} {ns}/{target}: spec.replicas 0"));
        }
        d.severity = Some(Severity::Warning);
        drafts.push(d.fix(
            Fix::new(
                Applicability::Unsafe,
                format!(
                    "If {kind} {target} was scaled to zero on purpose (maintenance), this is expected and autoscaling resumes once it has replicas again; otherwise scale it back to the HPA's minimum, {min}."
                ),
            )
            .with_kubectl(format!(
                "kubectl scale {}/{target} -n {ns} --replicas={min}",
                kind.to_lowercase()
            )),
        ));
    }
    drafts
}

fn judge_scaled_object(view: &ClusterView, so: &DynamicObject) -> Vec<Draft> {
    let ns = ns_of(&so.metadata);
    let r = scaling::custom_ref(so);
    let ready = condition(so, &["Ready"]).filter(|c| c.is("False"));
    let evidence = |d: &mut Draft| {
        if let Some(c) = &ready {
            d.evidence.push(format!(
                "ScaledObject {}: {}",
                qualified(&so.metadata),
                c.line()
            ));
        }
        d.evidence.extend(
            event_lines(
                view,
                Kind::ScaledObject,
                ns,
                name_of(&so.metadata),
                &["ScaledObjectCheckFailed"],
            )
            .into_iter()
            .rev()
            .take(1),
        );
    };
    let mut drafts = Vec::new();
    if let Some((kind, target)) = scaled_object_target(so)
        && exists(view, ns, &kind, &target) == Some(false)
    {
        let mut d = Draft::new(
            r.clone().with_field("spec.scaleTargetRef.name"),
            format!(
                "ScaledObject {} targets {kind} {target}, which does not exist in namespace {ns}: KEDA creates no HPA and scales nothing",
                qualified(&so.metadata)
            ),
        );
        evidence(&mut d);
        drafts.push(d.fix(missing_target_fix(
            view,
            &r,
            "scaledobject",
            "spec.scaleTargetRef.name",
            &kind,
            &target,
        )));
    }
    // KEDA's own bounds check (CheckReplicaCountBoundsAreValid).
    let int = |p: &str| so.i64_at(p);
    let min = int("/spec/minReplicaCount")
        .map(|m| if m > 0 { m } else { 1 })
        .unwrap_or(0);
    let max = int("/spec/maxReplicaCount").unwrap_or(100);
    let problem = if min > max {
        Some((
            "spec.minReplicaCount",
            format!("MinReplicaCount={min} must be less than MaxReplicaCount={max}"),
        ))
    } else {
        int("/spec/idleReplicaCount")
            .filter(|idle| *idle >= min)
            .map(|idle| {
                (
                    "spec.idleReplicaCount",
                    format!("IdleReplicaCount={idle} must be less than MinReplicaCount={min}"),
                )
            })
    };
    if let Some((field, why)) = problem {
        let mut d = Draft::new(
            r.clone().with_field(field),
            format!(
                "ScaledObject {} has replica bounds KEDA rejects ({why}): KEDA does not reconcile it",
                qualified(&so.metadata)
            ),
        );
        evidence(&mut d);
        drafts.push(d.fix(Fix::manual(format!(
            "Make idleReplicaCount < minReplicaCount <= maxReplicaCount in ScaledObject {}; which bound is wrong is your call.",
            r.name
        ))
        .with_kubectl(format!(
            "kubectl patch scaledobject {}{} --type merge -p '{{\"spec\":{{\"minReplicaCount\":<min>,\"maxReplicaCount\":<max>}}}}'",
            r.name,
            r.kubectl_ns()
        ))));
    }
    drafts
}

#[cfg(test)]
mod tests {
    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};

    #[test]
    fn hpa_targets() {
        let found = drafts("autoscaler-targets", "hpa-problems");
        assert_eq!(found.len(), 2);
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn scaled_object_targets_and_bounds() {
        let found = drafts("autoscaler-targets", "keda-problems");
        assert_eq!(found.len(), 2);
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn quiet_when_targets_exist() {
        silent_on(
            "autoscaler-targets",
            &[
                "healthy-autoscaling",
                "keda-autoscaling",
                "metrics-server-down",
            ],
        );
    }
}
