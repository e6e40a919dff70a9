//! `autoscaler-conflicts`: several HPAs for one workload — the same scale target,
//! or selectors over the same pods. The HPA controller then refuses to act on any
//! of them (`AmbiguousSelector`: `pods by selector … are controlled by multiple
//! HPAs`). The usual case is a hand-made HPA left beside KEDA's `keda-hpa-<name>`;
//! its fix is in `leftover`.

mod leftover;

use std::collections::BTreeSet;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::Deserialize;

use crate::analyzers::autoscaling::scaling::{
    self, hpa_condition, hpa_target, keda_owner, looks_keda_made, name_of, ns_of, qualified,
};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, selector};
use crate::report::findings::Fix;

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
        // HPAs conflict only within a namespace: comparing them there keeps a
        // cluster of thousands of HPAs from being judged pair by pair.
        let mut namespaces: Vec<&str> = view.hpas.iter().map(|h| ns_of(&h.metadata)).collect();
        namespaces.sort_unstable();
        namespaces.dedup();
        let mut drafts = Vec::new();
        for ns in namespaces {
            let hpas: Vec<&HorizontalPodAutoscaler> = view.hpas.in_namespace(ns).collect();
            drafts.extend(conflicts_among(view, &hpas));
        }
        drafts.extend(latent(view));
        Ok(drafts)
    }
}

/// The groups of conflicting HPAs among `hpas` (of one namespace), judged.
fn conflicts_among(view: &ClusterView, hpas: &[&HorizontalPodAutoscaler]) -> Vec<Draft> {
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
            if conflict(hpas, &pods, i, j) {
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
    drafts
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
            out.push(d.fix(leftover::leftover_fix(h, &keda_hpa, Some(so))));
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

/// Whether two HPAs of one namespace scale the same pods.
fn conflict(
    hpas: &[&HorizontalPodAutoscaler],
    pods: &[BTreeSet<String>],
    i: usize,
    j: usize,
) -> bool {
    let (a, b) = (hpas[i], hpas[j]);
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
            drafts.push(d.fix(leftover::leftover_fix(h, name_of(&keda_hpa.metadata), so)));
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
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

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
