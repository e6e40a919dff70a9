//! `scaling-limits`: autoscalers that want more replicas than they may have —
//! pinned at `maxReplicas` (`ScalingLimited=True TooManyReplicas`), or with
//! scale-up switched off (`behavior.scaleUp.selectPolicy: Disabled`). For an HPA
//! KEDA generated, the fix goes to the ScaledObject, never to the HPA.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::Deserialize;

use crate::analyzers::autoscaling::scaling::{self, hpa_condition, keda_owner, qualified};
use crate::analyzers::text::plural;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, manager_of};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "scaling-limits",
    summary: "autoscalers pinned at their maximum or with scale-up disabled",
    needs: &[Kind::HorizontalPodAutoscaler],
    // A KEDA-made HPA is fixed on its ScaledObject, named from the HPA if not read.
    optional: &[Kind::ScaledObject],
    data: &[],
    build: build::<ScalingLimits>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ScalingLimits {}

impl Analyzer for ScalingLimits {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.hpas.is_empty() {
            return Err("not applicable: no HorizontalPodAutoscalers".into());
        }
        let mut drafts = Vec::new();
        for hpa in view.hpas.iter() {
            let Some(spec) = hpa.spec.as_ref() else {
                continue;
            };
            // KEDA's HPA is changed through its ScaledObject, even when that was not collected.
            let owner = keda_owner(view, hpa)
                .map(|so| (scaling::custom_ref(so), manager_of(&so.metadata)))
                .or_else(|| scaling::keda_owner_ref(hpa).map(|r| (r, None)));
            let current = hpa
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0);
            let limited = hpa_condition(hpa, "ScalingLimited").filter(|c| c.is("True"));
            if current >= spec.max_replicas
                && let Some(cond) = limited
                    .as_ref()
                    .filter(|c| c.reason == "TooManyReplicas" || c.reason == "ScaleUpLimit")
            {
                let mut draft = pinned(hpa, owner.clone(), current, spec.max_replicas);
                draft
                    .evidence
                    .push(format!("HPA {}: {}", qualified(&hpa.metadata), cond.line()));
                drafts.push(draft);
            }
            let disabled = spec
                .behavior
                .as_ref()
                .and_then(|b| b.scale_up.as_ref())
                .and_then(|r| r.select_policy.as_deref())
                == Some("Disabled");
            if disabled {
                let mut draft = scale_up_disabled(hpa, owner.clone(), current);
                if let Some(cond) = limited.filter(|c| c.reason == "ScaleUpLimit") {
                    draft.evidence.push(format!(
                        "HPA {}: {} (a scale-up is being held back now)",
                        qualified(&hpa.metadata),
                        cond.line()
                    ));
                }
                drafts.push(draft);
            }
        }
        Ok(drafts)
    }
}

fn metrics_now(hpa: &HorizontalPodAutoscaler) -> Option<String> {
    let current: Vec<String> = hpa
        .status
        .as_ref()
        .and_then(|s| s.current_metrics.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let (name, v) = if let Some(r) = &m.resource {
                (r.name.clone(), &r.current)
            } else if let Some(e) = &m.external {
                (e.metric.name.clone(), &e.current)
            } else if let Some(c) = &m.container_resource {
                (format!("{} of {}", c.name, c.container), &c.current)
            } else {
                return None;
            };
            let value = v
                .average_utilization
                .map(|u| format!("{u}% of request"))
                .or_else(|| v.average_value.as_ref().map(|q| format!("average {}", q.0)))
                .or_else(|| v.value.as_ref().map(|q| q.0.clone()))?;
            Some(format!("{name} {value}"))
        })
        .collect();
    (!current.is_empty()).then(|| current.join(", "))
}

/// The ScaledObject behind a KEDA-made HPA, and the tool that manages it.
type Owner = Option<(ObjectRef, Option<String>)>;

fn pinned(hpa: &HorizontalPodAutoscaler, owner: Owner, current: i32, max: i32) -> Draft {
    let targets: Vec<String> = scaling::metrics(hpa)
        .iter()
        .map(scaling::describe_metric)
        .collect();
    let mut evidence = vec![format!(
        "currentReplicas {current}, maxReplicas {max}, desiredReplicas {}",
        hpa.status
            .as_ref()
            .map(|s| s.desired_replicas)
            .unwrap_or_default()
    )];
    if let Some(now) = metrics_now(hpa) {
        evidence.push(format!(
            "current metrics: {now}; targets: {}",
            targets.join(", ")
        ));
    }
    let mut draft = match owner {
        Some((so_ref, manager)) => {
            let mut d = Draft::new(
                so_ref.clone().with_field("spec.maxReplicaCount"),
                format!(
                    "{} runs at its maximum of {max} replicas and wants more: {so_ref} caps it (maxReplicaCount), so load above that is not absorbed",
                    scaling::hpa_reference(hpa),
                ),
            )
            .evidence(format!(
                "HPA {} was generated by KEDA for this ScaledObject; change the ScaledObject, KEDA overwrites the HPA",
                qualified(&hpa.metadata)
            ));
            let mut description = format!(
                "Raise spec.maxReplicaCount of ScaledObject {} (give the new maximum with `--set maxReplicaCount=N`), after checking the nodes can hold that many pods; or make each replica handle more load.",
                so_ref.name
            );
            if let Some(m) = manager {
                description.push_str(&format!(
                    " The ScaledObject is managed by {m}: change the chart's value too."
                ));
            }
            d = d.fix(Fix::new(Applicability::Unsafe, description).with_kubectl(format!(
                "kubectl patch scaledobject {}{} --type merge -p '{{\"spec\":{{\"maxReplicaCount\":<N>}}}}'",
                so_ref.name,
                so_ref.kubectl_ns()
            )));
            d
        }
        None => {
            let r = scaling::hpa_ref(hpa);
            let mut description = format!(
                "Raise spec.maxReplicas of HPA {} (give the new maximum with `--set maxReplicas=N`), after checking the nodes can hold that many pods; or make each replica handle more load.",
                r.name
            );
            if let Some(m) = manager_of(&hpa.metadata) {
                description.push_str(&format!(
                    " The HPA is managed by {m}: change the chart's value too."
                ));
            }
            Draft::new(
                r.clone().with_field("spec.maxReplicas"),
                format!(
                    "{} runs at its maximum of {max} replicas and wants more: HPA {} cannot add capacity",
                    scaling::hpa_reference(hpa),
                    qualified(&hpa.metadata)
                ),
            )
            .fix(Fix::new(Applicability::Unsafe, description).with_kubectl(format!(
                "kubectl patch hpa {}{} --type merge -p '{{\"spec\":{{\"maxReplicas\":<N>}}}}'",
                r.name,
                r.kubectl_ns()
            )))
        }
    };
    let mut all = evidence;
    all.append(&mut draft.evidence);
    draft.evidence = all;
    draft
}

fn scale_up_disabled(hpa: &HorizontalPodAutoscaler, owner: Owner, current: i32) -> Draft {
    let evidence = format!(
        "behavior.scaleUp.selectPolicy: Disabled; currentReplicas {current}, desiredReplicas {}",
        hpa.status
            .as_ref()
            .map(|s| s.desired_replicas)
            .unwrap_or_default()
    );
    match owner {
        Some((so_ref, _)) => {
            Draft::new(
                so_ref
                    .clone()
                    .with_field("spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleUp.selectPolicy"),
                format!(
                    "{so_ref} disables scale-up (selectPolicy: Disabled): {} never grows beyond {current} replica{} whatever the load",
                    scaling::hpa_reference(hpa),
                    plural(current)
                ),
            )
            .evidence(evidence)
            .fix(
                Fix::new(
                    Applicability::Unsafe,
                    format!(
                        "Remove selectPolicy from the scale-up behavior of ScaledObject {} (the default, Max, lets it scale up), unless scale-up was switched off on purpose.",
                        so_ref.name
                    ),
                )
                .with_kubectl(format!(
                    "kubectl patch scaledobject {}{} --type json -p '[{{\"op\":\"remove\",\"path\":\"/spec/advanced/horizontalPodAutoscalerConfig/behavior/scaleUp/selectPolicy\"}}]'",
                    so_ref.name,
                    so_ref.kubectl_ns()
                )),
            )
        }
        None => {
            let r = scaling::hpa_ref(hpa);
            Draft::new(
                r.clone().with_field("spec.behavior.scaleUp.selectPolicy"),
                format!(
                    "HPA {} disables scale-up (selectPolicy: Disabled): {} never grows beyond {current} replica{} whatever the load",
                    qualified(&hpa.metadata),
                    scaling::hpa_reference(hpa),
                    plural(current)
                ),
            )
            .evidence(evidence)
            .fix(
                Fix::new(
                    Applicability::Unsafe,
                    format!(
                        "Remove selectPolicy from the scale-up behavior of HPA {} (the default, Max, lets it scale up), unless scale-up was switched off on purpose.",
                        r.name
                    ),
                )
                .with_kubectl(format!(
                    "kubectl patch hpa {}{} --type json -p '[{{\"op\":\"remove\",\"path\":\"/spec/behavior/scaleUp/selectPolicy\"}}]'",
                    r.name,
                    r.kubectl_ns()
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};
    use crate::analyzers::testing::{fixture, run};
    use crate::cluster::Kind;

    #[test]
    fn hpas_at_their_maximum_or_with_scale_up_disabled() {
        let found = drafts("scaling-limits", "hpa-problems");
        assert_eq!(found.len(), 2);
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn a_keda_hpa_is_fixed_on_its_scaled_object() {
        let found = drafts("scaling-limits", "keda-problems");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject.kind, "ScaledObject");
        assert!(
            !found[0]
                .fix
                .as_ref()
                .unwrap()
                .kubectl
                .as_deref()
                .unwrap()
                .contains("patch hpa")
        );
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn a_keda_hpa_points_at_its_scaled_object_even_when_that_was_not_collected() {
        let mut view = fixture("keda-problems");
        view.custom.remove(&Kind::ScaledObject);
        view.collected.remove(&Kind::ScaledObject);
        let found = run("scaling-limits", "{}", &view);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject.kind, "ScaledObject");
        assert_eq!(found[0].subject.name, "text-embedder");
    }

    #[test]
    fn quiet_within_range() {
        silent_on(
            "scaling-limits",
            &[
                "healthy-autoscaling",
                "keda-autoscaling",
                "metrics-server-down",
            ],
        );
    }
}
