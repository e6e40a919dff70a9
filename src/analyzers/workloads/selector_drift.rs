//! `selector-drift`: workloads whose immutable `spec.selector` no longer agrees
//! with the labels their chart or manifest now gives them, so the next
//! `helm upgrade` or `kubectl apply` fails with
//! `spec.selector: Invalid value: ...: field is immutable`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::analyzers::target::Target;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "selector-drift",
    summary: "workload selectors that disagree with their chart's labels or last-applied manifest (immutable field)",
    needs: &[Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet],
    optional: &[],
    data: &[],
    build: build::<SelectorDrift>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelectorDrift {
    #[serde(default)]
    target: Target,
    /// Labels whose value changes with every release: never put them in a selector.
    #[serde(default = "volatile")]
    volatile_keys: Vec<String>,
    /// The labels a Helm chart selects on by convention.
    #[serde(default = "chart_keys")]
    chart_keys: Vec<String>,
}

fn volatile() -> Vec<String> {
    ["helm.sh/chart", "app.kubernetes.io/version", "chart"]
        .map(String::from)
        .to_vec()
}

fn chart_keys() -> Vec<String> {
    ["app.kubernetes.io/name", "app.kubernetes.io/instance"]
        .map(String::from)
        .to_vec()
}

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl Analyzer for SelectorDrift {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            if !matches!(
                w.kind,
                Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
            ) {
                continue;
            }
            let selector: BTreeMap<String, String> = w
                .selector
                .and_then(|s| s.match_labels.clone())
                .unwrap_or_default();
            if selector.is_empty() {
                continue;
            }
            let labels = w.meta.labels.clone().unwrap_or_default();
            let mut reasons = Vec::new();
            for key in self
                .volatile_keys
                .iter()
                .filter(|k| selector.contains_key(*k))
            {
                reasons.push(format!(
                    "the selector contains {key}={}, which changes with every release",
                    selector[key]
                ));
            }
            for (key, value) in &selector {
                if let Some(now) = labels.get(key)
                    && now != value
                    && !self.volatile_keys.contains(key)
                {
                    reasons.push(format!(
                        "the selector has {key}={value} but the object is now labelled {key}={now}"
                    ));
                }
            }
            let helm = w.manager().filter(|m| m.starts_with("Helm"));
            let applied_with_kubectl = w
                .meta
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(LAST_APPLIED));
            // Charts may select on their own labels (KEDA's `app:`); what drifts is
            // an object kubectl created from another manifest and Helm then adopted.
            if let Some(manager) = helm.as_ref().filter(|_| applied_with_kubectl) {
                let chart_labels: Vec<&String> = self
                    .chart_keys
                    .iter()
                    .filter(|k| labels.contains_key(*k))
                    .collect();
                if !chart_labels.is_empty()
                    && !self.chart_keys.iter().any(|k| selector.contains_key(k))
                {
                    reasons.push(format!(
                        "it was applied with kubectl and is now managed by {manager}, labelled {}, but its selector uses none of them ({}): it comes from the kubectl manifest, and the chart's selector differs",
                        chart_labels
                            .iter()
                            .map(|k| format!("{k}={}", labels[*k]))
                            .collect::<Vec<_>>()
                            .join(", "),
                        describe(&selector)
                    ));
                }
            }
            if let Some(applied) = last_applied_selector(&w)
                && applied != selector
            {
                reasons.push(format!(
                    "the manifest last applied with kubectl selects {} but the live selector is {}",
                    describe(&applied),
                    describe(&selector)
                ));
            }
            if reasons.is_empty() {
                continue;
            }
            drafts.push(finding(&w, &selector, helm.as_deref(), reasons));
        }
        Ok(drafts)
    }
}

fn describe(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `spec.selector.matchLabels` of the last-applied-configuration annotation.
fn last_applied_selector(w: &Workload<'_>) -> Option<BTreeMap<String, String>> {
    let text = w.meta.annotations.as_ref()?.get(LAST_APPLIED)?;
    let doc: Value = serde_json::from_str(text).ok()?;
    let labels = doc.pointer("/spec/selector/matchLabels")?.as_object()?;
    Some(
        labels
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect(),
    )
}

fn finding(
    w: &Workload<'_>,
    selector: &BTreeMap<String, String>,
    helm: Option<&str>,
    reasons: Vec<String>,
) -> Draft {
    let subject = w.object_ref();
    let mut draft = Draft::new(
        subject.clone().with_field("spec.selector"),
        format!(
            "{} cannot be updated in place: {}; re-applying it fails with `spec.selector: Invalid value: ...: field is immutable`",
            subject, reasons[0]
        ),
    );
    draft
        .evidence
        .push(format!("spec.selector.matchLabels: {}", describe(selector)));
    if let Some(labels) = &w.meta.labels {
        draft
            .evidence
            .push(format!("metadata.labels: {}", describe(labels)));
    }
    if let Some(labels) = w.template_meta.and_then(|m| m.labels.as_ref()) {
        draft.evidence.push(format!(
            "spec.template.metadata.labels: {}",
            describe(labels)
        ));
    }
    for r in reasons.iter().skip(1) {
        draft.evidence.push(format!("also: {r}"));
    }
    let kind = w.kind.info().kind.to_lowercase();
    let ns = subject.kubectl_ns();
    let apply = match helm {
        Some(_) => "helm upgrade <release> <chart> -n <namespace>".to_string(),
        None => format!("kubectl apply{ns} -f <{}-manifest.yaml>", w.name()),
    };
    let description = format!(
        "The selector is immutable: recreate the {kind} without downtime. (1) `kubectl delete {kind}/{name}{ns} --cascade=orphan` removes only the {kind}; its ReplicaSet and pods keep serving. (2) Apply the new definition (`{apply}`): it starts pods with the new labels. Make sure every Service selects labels both old and new pods carry during the switch. (3) `kubectl rollout status {kind}/{name}{ns}`. (4) Delete the orphaned ReplicaSet: `kubectl delete rs{ns} -l {old}` (list it with `kubectl get rs{ns} -l {old}` first: if the new pods also carry these labels, delete the old ReplicaSet by name). If the new selector also matches the old pods, the new {kind} adopts them instead, and step 4 is not needed.",
        name = w.name(),
        old = describe(selector),
    );
    draft.fix(Fix::manual(description).with_kubectl(format!(
        "kubectl delete {kind}/{name}{ns} --cascade=orphan && {apply} && kubectl rollout status {kind}/{name}{ns} && kubectl delete rs{ns} -l {old}",
        name = w.name(),
        old = describe(selector),
    )))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn serving_workloads_selector_drift() {
        let drafts = run("selector-drift", "{}", &fixture("serving-workloads"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_selectors_agree() {
        assert_eq!(
            run("selector-drift", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
