//! `autoscaler-conflicts`: several HPAs for one workload — the same scale target,
//! or selectors over the same pods. The HPA controller then refuses to act on any
//! of them (`AmbiguousSelector`: `pods by selector … are controlled by multiple
//! HPAs`). The usual case is a hand-made HPA left beside KEDA's `keda-hpa-<name>`.

use std::collections::BTreeSet;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::Deserialize;
use serde_json::json;

use crate::analyzers::autoscaling::scaling::{
    self, hpa_condition, hpa_target, keda_owner, looks_keda_made, name_of, ns_of, qualified,
    shell_quote, triggers,
};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, manager_of, selector};
use crate::plan::Operation;
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "autoscaler-conflicts",
    summary: "several HPAs (e.g. a leftover beside KEDA's) scaling the same workload",
    needs: &[Kind::HorizontalPodAutoscaler],
    // Without workloads and pods only same-target and AmbiguousSelector conflicts show.
    optional: &[
        Kind::ScaledObject,
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
    ],
    data: &[],
    build: build::<AutoscalerConflicts>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutoscalerConflicts {}

impl Analyzer for AutoscalerConflicts {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.hpas.is_empty() {
            return Err("not applicable: no HorizontalPodAutoscalers".into());
        }
        let hpas: Vec<&HorizontalPodAutoscaler> = view.hpas.iter().collect();
        let pods: Vec<BTreeSet<String>> = hpas.iter().map(|h| selected_pods(view, h)).collect();
        // Union of conflicting pairs into groups (indexes into `hpas`).
        let mut group: Vec<usize> = (0..hpas.len()).collect();
        fn root(g: &mut [usize], mut i: usize) -> usize {
            while g[i] != i {
                i = g[i];
            }
            i
        }
        for i in 0..hpas.len() {
            for j in i + 1..hpas.len() {
                if conflict(&hpas, &pods, i, j) {
                    let (a, b) = (root(&mut group, i), root(&mut group, j));
                    group[b] = a;
                }
            }
        }
        let mut drafts = Vec::new();
        let mut seen = BTreeSet::new();
        for i in 0..hpas.len() {
            let r = root(&mut group, i);
            if !seen.insert(r) {
                continue;
            }
            let members: Vec<usize> = (0..hpas.len())
                .filter(|&j| root(&mut group, j) == r)
                .collect();
            if members.len() < 2 {
                continue;
            }
            let members: Vec<&HorizontalPodAutoscaler> = members.iter().map(|&j| hpas[j]).collect();
            let shared: BTreeSet<String> = members
                .iter()
                .map(|h| selected_pods(view, h))
                .reduce(|a, b| a.intersection(&b).cloned().collect())
                .unwrap_or_default();
            drafts.extend(judge_group(view, &members, &shared));
        }
        drafts.extend(latent(view));
        Ok(drafts)
    }
}

/// A ScaledObject whose HPA does not exist (yet) on a workload a plain HPA scales:
/// KEDA's admission webhook refuses such a ScaledObject (`the workload '…' of
/// type '…' is already managed by the hpa '…'`), and without the webhook the two
/// HPAs conflict as soon as KEDA creates its own.
fn latent(view: &ClusterView) -> Vec<Draft> {
    let mut out = Vec::new();
    for so in view.custom(Kind::ScaledObject) {
        let ns = ns_of(&so.metadata);
        let keda_hpa = scaling::scaled_object_hpa_name(so);
        if view.hpas.get(ns, &keda_hpa).is_some() {
            continue; // judged with the HPAs above
        }
        let Some((kind, name)) = scaling::scaled_object_target(so) else {
            continue;
        };
        for h in view.hpas.in_namespace(ns).filter(|h| {
            target(h) == Some((kind.as_str(), name.as_str()))
                && keda_owner(view, h).is_none()
                && !looks_keda_made(h)
        }) {
            let d = Draft::new(
                scaling::hpa_ref(h),
                format!(
                    "HPA {} scales {kind}/{name}, which ScaledObject {} also targets: KEDA's webhook refuses the ScaledObject, or, once KEDA creates {keda_hpa}, the two HPAs block each other (AmbiguousSelector)",
                    qualified(&h.metadata),
                    qualified(&so.metadata)
                ),
            )
            .evidence(describe(view, h))
            .evidence(format!(
                "ScaledObject {} targets {kind}/{name}; HPA {keda_hpa} does not exist yet",
                qualified(&so.metadata)
            ));
            out.push(d.fix(leftover_fix(h, &keda_hpa, Some(so))));
        }
    }
    out
}

fn target(h: &HorizontalPodAutoscaler) -> Option<(&str, &str)> {
    h.spec.as_ref().map(|s| {
        (
            s.scale_target_ref.kind.as_str(),
            s.scale_target_ref.name.as_str(),
        )
    })
}

/// Pods the HPA's target selects, by the target's selector (as the controller does).
fn selected_pods(view: &ClusterView, h: &HorizontalPodAutoscaler) -> BTreeSet<String> {
    let Some(w) = hpa_target(view, h) else {
        return BTreeSet::new();
    };
    let Some(sel) = w.selector else {
        return BTreeSet::new();
    };
    view.pods
        .in_namespace(w.namespace())
        .filter(|p| selector::selects(sel, p.metadata.labels.as_ref()))
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

fn conflict(
    hpas: &[&HorizontalPodAutoscaler],
    pods: &[BTreeSet<String>],
    i: usize,
    j: usize,
) -> bool {
    let (a, b) = (hpas[i], hpas[j]);
    if ns_of(&a.metadata) != ns_of(&b.metadata) {
        return false;
    }
    let same_target = target(a).is_some() && target(a) == target(b);
    let overlap = !pods[i].is_disjoint(&pods[j]);
    let named = |h: &HorizontalPodAutoscaler, other: &HorizontalPodAutoscaler| {
        hpa_condition(h, "ScalingActive").is_some_and(|c| {
            c.reason == "AmbiguousSelector"
                && ambiguous_hpas(&c.message).contains(&qualified(&other.metadata))
        })
    };
    same_target || overlap || named(a, b) || named(b, a)
}

/// The HPAs an `AmbiguousSelector` message names: `… multiple HPAs: [ns/a ns/b]`.
pub fn ambiguous_hpas(message: &str) -> Vec<String> {
    message
        .rsplit_once("multiple HPAs: [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn describe(view: &ClusterView, h: &HorizontalPodAutoscaler) -> String {
    let made = match keda_owner(view, h) {
        Some(so) => format!("made by KEDA for ScaledObject {}", qualified(&so.metadata)),
        None if looks_keda_made(h) => "made by KEDA".to_string(),
        None => "not made by KEDA".to_string(),
    };
    let spec = h.spec.as_ref();
    let metrics: Vec<String> = scaling::metrics(h)
        .iter()
        .map(scaling::describe_metric)
        .collect();
    format!(
        "HPA {} ({made}) scales {} on {}, minReplicas {}, maxReplicas {}",
        qualified(&h.metadata),
        scaling::hpa_reference(h),
        if metrics.is_empty() {
            "cpu (default)".to_string()
        } else {
            metrics.join(", ")
        },
        spec.and_then(|s| s.min_replicas).unwrap_or(1),
        spec.map(|s| s.max_replicas).unwrap_or_default()
    )
}

fn judge_group(
    view: &ClusterView,
    members: &[&HorizontalPodAutoscaler],
    shared: &BTreeSet<String>,
) -> Vec<Draft> {
    let is_keda =
        |h: &&HorizontalPodAutoscaler| keda_owner(view, h).is_some() || looks_keda_made(h);
    let keda: Vec<&HorizontalPodAutoscaler> = members.iter().copied().filter(is_keda).collect();
    let plain: Vec<&HorizontalPodAutoscaler> =
        members.iter().copied().filter(|h| !is_keda(h)).collect();
    let mut evidence: Vec<String> = members.iter().map(|h| describe(view, h)).collect();
    for h in members {
        if let Some(c) =
            hpa_condition(h, "ScalingActive").filter(|c| c.reason == "AmbiguousSelector")
        {
            evidence.push(format!("HPA {}: {}", qualified(&h.metadata), c.line()));
        }
    }
    if !shared.is_empty() {
        let list: Vec<&str> = shared.iter().map(String::as_str).take(5).collect();
        evidence.push(format!("pods selected by all of them: {}", list.join(", ")));
    }
    let mut drafts = Vec::new();
    if let Some(keda_hpa) = keda.first() {
        let so = keda_owner(view, keda_hpa);
        for h in &plain {
            let mut d = Draft::new(
                scaling::hpa_ref(h),
                format!(
                    "HPA {} is left beside KEDA's HPA {} on {}: with two HPAs over the same pods the HPA controller acts on neither (AmbiguousSelector), so the workload does not autoscale",
                    qualified(&h.metadata),
                    name_of(&keda_hpa.metadata),
                    scaling::hpa_reference(h)
                ),
            );
            d.evidence = evidence.clone();
            drafts.push(d.fix(leftover_fix(h, name_of(&keda_hpa.metadata), so)));
        }
        if plain.is_empty() {
            // Two KEDA-made HPAs: two ScaledObjects on one workload.
            let newest = newest(&keda);
            let so = keda_owner(view, newest);
            let subject = so
                .map(scaling::custom_ref)
                .unwrap_or_else(|| scaling::hpa_ref(newest));
            let mut d = Draft::new(
                subject.clone(),
                format!(
                    "{} ScaledObjects scale {}: their HPAs cover the same pods, so the HPA controller acts on none of them (AmbiguousSelector)",
                    keda.len(),
                    scaling::hpa_reference(newest)
                ),
            );
            d.evidence = evidence.clone();
            drafts.push(d.fix(Fix::manual(format!(
                "Keep one ScaledObject per workload: merge the triggers of {} into the other ScaledObject and delete it.",
                subject
            ))));
        }
    } else {
        let newest = newest(&plain);
        let mut d = Draft::new(
            scaling::hpa_ref(newest),
            format!(
                "{} HPAs scale the same pods ({}): the HPA controller acts on none of them (AmbiguousSelector)",
                plain.len(),
                scaling::hpa_reference(newest)
            ),
        );
        d.evidence = evidence;
        drafts.push(d.fix(Fix::manual(format!(
            "Keep one HPA per workload: merge the metrics of HPA {} into the other one (an HPA takes several metrics and follows the highest), then delete it.",
            qualified(&newest.metadata)
        ))
        .with_kubectl(format!(
            "kubectl delete hpa {} -n {}",
            name_of(&newest.metadata),
            ns_of(&newest.metadata)
        ))));
    }
    drafts
}

fn newest<'a>(hpas: &[&'a HorizontalPodAutoscaler]) -> &'a HorizontalPodAutoscaler {
    hpas.iter()
        .copied()
        .max_by_key(|h| {
            (
                h.metadata.creation_timestamp.as_ref().map(|t| t.0),
                h.metadata.name.clone(),
            )
        })
        .expect("a non-empty group")
}

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

fn leftover_fix(h: &HorizontalPodAutoscaler, keda_hpa: &str, so: Option<&DynamicObject>) -> Fix {
    let ns = ns_of(&h.metadata);
    let name = name_of(&h.metadata);
    let delete = format!("kubectl delete hpa {name} -n {ns}");
    let so_name = so.map(|s| name_of(&s.metadata).to_string());
    let (adds, untranslated) = equivalent_triggers(h, so);
    let mut description = format!(
        "Delete HPA {name}, which KEDA does not manage, so that KEDA's HPA {} scales the workload alone. Never delete {}: KEDA owns and recreates it.",
        keda_hpa, keda_hpa
    );
    let mut command = delete.clone();
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
        if let Some(so_name) = &so_name {
            let ops: Vec<serde_json::Value> = adds
                .iter()
                .map(|t| json!({"op": "add", "path": "/spec/triggers/-", "value": t}))
                .collect();
            command = format!(
                "kubectl patch scaledobject {so_name} -n {ns} --type json -p {} && {delete}",
                shell_quote(&serde_json::Value::Array(ops).to_string())
            );
        }
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
    let mut fix = Fix::new(applicability, description).with_kubectl(command);
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
    use super::ambiguous_hpas;

    #[test]
    fn reads_the_hpas_an_ambiguous_selector_names() {
        assert_eq!(
            ambiguous_hpas(
                "pods by selector app=x are controlled by multiple HPAs: [default/a default/b]"
            ),
            vec!["default/a", "default/b"]
        );
        assert!(ambiguous_hpas("something else").is_empty());
    }
}

#[cfg(test)]
mod fixture_tests {
    use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec};

    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};
    use crate::analyzers::testing::{fixture, run};
    use crate::cluster::{Kind, Store};
    use crate::plan::Change;
    use crate::report::findings::Applicability;

    #[test]
    fn leftover_hpa_beside_kedas() {
        let found = drafts("autoscaler-conflicts", "keda-autoscaling");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject.name, "orchestrator-hpa");
        let kubectl = found[0].fix.as_ref().unwrap().kubectl.clone().unwrap();
        assert!(kubectl.contains("\"type\":\"cpu\""), "{kubectl}");
        assert!(
            kubectl.ends_with("kubectl delete horizontalpodautoscaler/orchestrator-hpa -n default"),
            "{kubectl}"
        );
        assert!(!kubectl.contains("delete hpa keda-hpa"));
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn the_plan_adds_the_trigger_then_deletes_only_the_leftover() {
        let found = drafts("autoscaler-conflicts", "keda-autoscaling");
        let fix = found[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, Applicability::Unsafe);
        let targets: Vec<String> = fix
            .operations
            .iter()
            .map(|o| o.target.to_string())
            .collect();
        assert_eq!(
            targets,
            [
                "ScaledObject default/ml-autoscaling-orchestrator-scaler",
                "HorizontalPodAutoscaler default/orchestrator-hpa"
            ]
        );
        assert!(matches!(fix.operations[1].change, Change::Delete));
        insta::assert_yaml_snapshot!(fix.operations);
    }

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

    #[test]
    fn two_plain_hpas_keep_the_older_one() {
        let mut view = fixture("keda-autoscaling");
        view.custom.remove(&Kind::ScaledObject);
        let hpas: Vec<HorizontalPodAutoscaler> = view.hpas.iter().cloned().collect();
        view.hpas = Store::default();
        for mut h in hpas {
            h.metadata.owner_references = None;
            h.metadata.labels = None;
            view.hpas.insert(h);
        }
        view.finish();
        let found = run("autoscaler-conflicts", "{}", &view);
        assert_eq!(found.len(), 1);
        // keda-hpa-… was created after orchestrator-hpa: it is the one to merge and delete.
        assert_eq!(
            found[0].subject.name,
            "keda-hpa-ml-autoscaling-orchestrator-scaler"
        );
        assert_eq!(
            found[0].fix.as_ref().unwrap().applicability,
            Applicability::Manual
        );
    }

    #[test]
    fn a_scaled_object_beside_a_plain_hpa_before_keda_made_its_own() {
        let mut view = fixture("keda-autoscaling");
        view.hpas
            .retain(|h| h.metadata.name.as_deref() == Some("orchestrator-hpa"));
        view.finish();
        let found = run("autoscaler-conflicts", "{}", &view);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject.name, "orchestrator-hpa");
        assert!(
            found[0]
                .message
                .contains("ScaledObject default/ml-autoscaling-orchestrator-scaler also targets")
        );
        let kubectl = found[0].fix.as_ref().unwrap().kubectl.clone().unwrap();
        assert!(kubectl.contains("\"type\":\"cpu\""), "{kubectl}");
    }

    #[test]
    fn quiet_with_one_autoscaler_per_workload() {
        silent_on(
            "autoscaler-conflicts",
            &[
                "healthy-autoscaling",
                "hpa-problems",
                "keda-problems",
                "metrics-server-down",
            ],
        );
    }
}
