//! The fix for an HPA left beside KEDA's: give the ScaledObject what the HPA
//! did (equivalent `cpu`/`memory` triggers, the replica range it lacks), then
//! delete the leftover HPA, never KEDA's own.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde_json::json;

use crate::analyzers::autoscaling::scaling::{self, name_of};
use crate::analyzers::autoscaling::triggers::triggers;
use crate::cluster::{DynamicObject, manager_of};
use crate::plan::Operation;
use crate::report::findings::{Applicability, Fix};

/// KEDA `cpu`/`memory` triggers equivalent to an HPA's Resource metrics, as JSON.
fn equivalent_triggers(
    h: &HorizontalPodAutoscaler,
    so: Option<&DynamicObject>,
) -> (Vec<serde_json::Value>, Vec<String>) {
    let has = |t: &str| so.is_some_and(|so| triggers(so).iter().any(|x| x.type_ == t));
    let mut out = Vec::new();
    let mut untranslated = Vec::new();
    for m in scaling::metrics(h) {
        let (name, target, container) = match (&m.resource, &m.container_resource) {
            (Some(r), _) => (r.name.as_str(), &r.target, None),
            (_, Some(c)) => (c.name.as_str(), &c.target, Some(c.container.as_str())),
            _ => {
                untranslated.push(scaling::describe_metric(m));
                continue;
            }
        };
        if !matches!(name, "cpu" | "memory") || has(name) {
            continue;
        }
        let value = match target.type_.as_str() {
            "Utilization" => target.average_utilization.map(|u| u.to_string()),
            _ => target.average_value.as_ref().map(|q| q.0.clone()),
        };
        let Some(value) = value else {
            untranslated.push(scaling::describe_metric(m));
            continue;
        };
        let mut metadata = json!({ "value": value });
        if let Some(c) = container {
            metadata["containerName"] = json!(c);
        }
        out.push(json!({ "type": name, "metricType": target.type_, "metadata": metadata }));
    }
    (out, untranslated)
}

fn trigger_yaml(t: &serde_json::Value) -> String {
    let mut s = format!(
        "- type: {}\n  metricType: {}\n  metadata:\n",
        t["type"].as_str().unwrap_or_default(),
        t["metricType"].as_str().unwrap_or_default()
    );
    if let Some(c) = t["metadata"]["containerName"].as_str() {
        s.push_str(&format!("    containerName: {c}\n"));
    }
    s.push_str(&format!(
        "    value: \"{}\"",
        t["metadata"]["value"].as_str().unwrap_or_default()
    ));
    s
}

pub(super) fn leftover_fix(
    h: &HorizontalPodAutoscaler,
    keda_hpa: &str,
    so: Option<&DynamicObject>,
) -> Fix {
    let name = name_of(&h.metadata);
    let so_name = so.map(|s| name_of(&s.metadata).to_string());
    let (adds, untranslated) = equivalent_triggers(h, so);
    let mut description = format!(
        "Delete HPA {name}, which KEDA does not manage, so that KEDA's HPA {} scales the workload alone. Never delete {}: KEDA owns and recreates it.",
        keda_hpa, keda_hpa
    );
    if !adds.is_empty() {
        let so_label = so_name
            .clone()
            .unwrap_or_else(|| "the ScaledObject".to_string());
        let yaml: Vec<String> = adds.iter().map(trigger_yaml).collect();
        description = format!(
            "HPA {name} scales on {}, which ScaledObject {so_label} does not: first add the equivalent trigger to {so_label}'s spec.triggers:\n{}\nthen delete HPA {name} (KEDA does not manage it) so that KEDA's HPA {} scales the workload alone. Never delete {}: KEDA owns and recreates it.",
            adds.iter()
                .map(|t| t["type"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" and "),
            yaml.join("\n"),
            keda_hpa,
            keda_hpa
        );
    }
    if let Some(so) = so {
        let range: Vec<String> = match missing_range(h, so) {
            (Some(min), Some(max)) => vec![
                format!("minReplicaCount {min}"),
                format!("maxReplicaCount {max}"),
            ],
            (Some(min), None) => vec![format!("minReplicaCount {min}")],
            (None, Some(max)) => vec![format!("maxReplicaCount {max}")],
            (None, None) => Vec::new(),
        };
        if !range.is_empty() {
            description.push_str(&format!(
                " The ScaledObject sets no replica range of its own, so the fix also gives it the HPA's ({}); KEDA's defaults (0 and 100) would otherwise apply.",
                range.join(", ")
            ));
        }
    }
    if !untranslated.is_empty() {
        description.push_str(&format!(
            " HPA {name} also scales on {}, which has no automatic KEDA equivalent: add a matching trigger by hand if it is still wanted.",
            untranslated.join(", ")
        ));
    }
    description.push_str(&format!(
        " (Alternatively let KEDA adopt it: annotate the ScaledObject with scaledobject.keda.sh/transfer-hpa-ownership: \"true\" and set spec.advanced.horizontalPodAutoscalerConfig.name: {name}.)"
    ));
    if let Some(m) = so.and_then(|s| manager_of(&s.metadata)) {
        description.push_str(&format!(
            " The ScaledObject is managed by {m}: add the trigger to the chart's values too, or the next upgrade removes it."
        ));
    }
    // A metric with no KEDA equivalent, or triggers to add without a
    // ScaledObject to add them to: deleting the HPA would lose what it did.
    let applicability = if !untranslated.is_empty() || (!adds.is_empty() && so.is_none()) {
        Applicability::Manual
    } else {
        Applicability::Unsafe
    };
    let mut fix = Fix::new(applicability, description);
    if let Some(so) = so
        && let Some(op) = adopt_into(h, so, &adds, applicability)
    {
        fix = fix.with_operation(op);
    }
    fix.with_operation(Operation::delete(
        &scaling::hpa_ref(h),
        &h.metadata,
        applicability,
    ))
}

/// The HPA's minReplicas and maxReplicas where the ScaledObject sets no
/// minReplicaCount or maxReplicaCount.
fn missing_range(h: &HorizontalPodAutoscaler, so: &DynamicObject) -> (Option<i32>, Option<i32>) {
    let spec = h.spec.as_ref();
    let min = so
        .pointer("/spec/minReplicaCount")
        .is_none()
        .then(|| spec.and_then(|s| s.min_replicas).unwrap_or(1));
    let max = so
        .pointer("/spec/maxReplicaCount")
        .is_none()
        .then(|| spec.map(|s| s.max_replicas))
        .flatten();
    (min, max)
}

/// Give the ScaledObject what the leftover HPA did: its equivalent triggers,
/// and its replica range when the ScaledObject sets none (KEDA's defaults,
/// 0 and 100, would otherwise replace the HPA's). `None`: nothing to add.
fn adopt_into(
    h: &HorizontalPodAutoscaler,
    so: &DynamicObject,
    adds: &[serde_json::Value],
    applicability: Applicability,
) -> Option<Operation> {
    let (min, max) = missing_range(h, so);
    if adds.is_empty() && min.is_none() && max.is_none() {
        return None;
    }
    let mut op = Operation::patch(&scaling::custom_ref(so), &so.metadata, applicability);
    if !adds.is_empty() {
        op = match so.pointer("/spec/triggers") {
            Some(current) => {
                let op = op.test("/spec/triggers", current.clone());
                adds.iter()
                    .fold(op, |op, t| op.add("/spec/triggers/-", t.clone()))
            }
            None => op.add("/spec/triggers", json!(adds)),
        };
    }
    if let Some(n) = min {
        op = op.add("/spec/minReplicaCount", json!(n));
    }
    if let Some(n) = max {
        op = op.add("/spec/maxReplicaCount", json!(n));
    }
    Some(op)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec};

    use crate::analyzers::testing::{fixture, run};
    use crate::cluster::{Kind, Store};
    use crate::plan::Change;
    use crate::report::findings::Applicability;

    #[test]
    fn a_scaled_object_without_a_range_takes_the_hpas() {
        // Without minReplicaCount/maxReplicaCount KEDA would scale 0..100 once
        // the HPA (2..8) is gone: the plan carries the HPA's range over.
        let mut view = fixture("keda-autoscaling");
        let store = view.custom.get_mut(&Kind::ScaledObject).unwrap();
        let mut objects: Vec<_> = store.iter().cloned().collect();
        for so in &mut objects {
            let spec = so.data["spec"].as_object_mut().unwrap();
            spec.remove("minReplicaCount");
            spec.remove("maxReplicaCount");
        }
        *store = Store::default();
        for so in objects {
            store.insert(so);
        }
        view.finish();
        let found = run("autoscaler-conflicts", "{}", &view);
        let patch = &found[0].fix.as_ref().unwrap().operations[0];
        let Change::JsonPatch(ops) = &patch.change else {
            panic!("a patch first: {patch:?}");
        };
        let text = serde_json::to_string(ops).unwrap();
        assert!(
            text.contains(r#"{"op":"add","path":"/spec/minReplicaCount","value":2}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"{"op":"add","path":"/spec/maxReplicaCount","value":8}"#),
            "{text}"
        );
        let description = &found[0].fix.as_ref().unwrap().description;
        assert!(
            description.contains("(minReplicaCount 2, maxReplicaCount 8)"),
            "{description}"
        );
    }

    #[test]
    fn a_metric_keda_cannot_express_keeps_the_fix_manual() {
        let mut view = fixture("keda-autoscaling");
        let hpas: Vec<HorizontalPodAutoscaler> = view.hpas.iter().cloned().collect();
        view.hpas = Store::default();
        for mut h in hpas {
            if h.metadata.name.as_deref() == Some("orchestrator-hpa") {
                let pods: MetricSpec = serde_json::from_value(serde_json::json!({
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "queue_depth"},
                        "target": {"type": "AverageValue", "averageValue": "30"}
                    }
                }))
                .unwrap();
                h.spec
                    .as_mut()
                    .unwrap()
                    .metrics
                    .get_or_insert_default()
                    .push(pods);
            }
            view.hpas.insert(h);
        }
        view.finish();
        let found = run("autoscaler-conflicts", "{}", &view);
        let fix = found[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, Applicability::Manual);
        assert!(
            fix.description.contains("no automatic KEDA equivalent"),
            "{}",
            fix.description
        );
        assert!(
            fix.operations
                .iter()
                .all(|o| o.applicability == Applicability::Manual)
        );
    }
}
