//! What the autoscaling analyzers share: HPA and KEDA conditions, which HPA a
//! ScaledObject owns, the workload an autoscaler targets, evidence lines. KEDA
//! triggers and the addresses and credentials in them are in `triggers`.

use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, MetricSpec};

use crate::analyzers::conditions::Condition;
use crate::analyzers::text::clip;
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef, Workload};

/// The conditions of an HPA as the controller wrote them.
pub fn hpa_conditions(hpa: &HorizontalPodAutoscaler) -> Vec<Condition> {
    hpa.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| Condition {
            type_: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
        })
        .collect()
}

pub fn hpa_condition(hpa: &HorizontalPodAutoscaler, type_: &str) -> Option<Condition> {
    hpa_conditions(hpa).into_iter().find(|c| c.type_ == type_)
}

pub fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

pub fn ns_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

pub fn hpa_ref(hpa: &HorizontalPodAutoscaler) -> ObjectRef {
    ObjectRef::of(Kind::HorizontalPodAutoscaler, &hpa.metadata)
}

/// A reference to a custom resource with the apiVersion it was read with.
pub fn custom_ref(obj: &DynamicObject) -> ObjectRef {
    ObjectRef::new(
        &obj.api_version,
        &obj.kind,
        obj.metadata.namespace.as_deref(),
        name_of(&obj.metadata),
    )
}

/// `default/orchestrator-hpa`.
pub fn qualified(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!("{}/{}", ns_of(meta), name_of(meta))
}

/// The ScaledObject that owns an HPA, if KEDA made it: by owner reference, by
/// the `scaledobject.keda.sh/name` label, or by the ScaledObject's `status.hpaName`.
pub fn keda_owner<'a>(
    view: &'a ClusterView,
    hpa: &HorizontalPodAutoscaler,
) -> Option<&'a DynamicObject> {
    let ns = ns_of(&hpa.metadata);
    let name = name_of(&hpa.metadata);
    let by_owner = hpa
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ScaledObject" && o.api_version.starts_with("keda.sh/"))
        .map(|o| o.name.clone());
    let by_label = hpa
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("scaledobject.keda.sh/name"))
        .cloned();
    for so_name in by_owner.into_iter().chain(by_label) {
        if let Some(so) = view.custom_get(Kind::ScaledObject, ns, &so_name)
            && scaled_object_hpa_name(so) == name
        {
            return Some(so);
        }
    }
    view.custom(Kind::ScaledObject)
        .find(|so| ns_of(&so.metadata) == ns && scaled_object_hpa_name(so) == name)
}

/// The ScaledObject an HPA says it belongs to (owner reference, else label), for
/// when the ScaledObject itself was not collected.
pub fn keda_owner_ref(hpa: &HorizontalPodAutoscaler) -> Option<ObjectRef> {
    let name = hpa
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ScaledObject" && o.api_version.starts_with("keda.sh/"))
        .map(|o| o.name.clone())
        .or_else(|| {
            hpa.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("scaledobject.keda.sh/name"))
                .cloned()
        })?;
    Some(ObjectRef::new(
        &Kind::ScaledObject.api_version(),
        Kind::ScaledObject.info().kind,
        hpa.metadata.namespace.as_deref(),
        &name,
    ))
}

/// Whether an HPA carries KEDA's marks even when its ScaledObject is not in the view.
pub fn looks_keda_made(hpa: &HorizontalPodAutoscaler) -> bool {
    let owned = hpa
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "ScaledObject" && o.api_version.starts_with("keda.sh/"));
    let label = |k: &str| {
        hpa.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(k))
            .map(String::as_str)
    };
    owned
        || label("scaledobject.keda.sh/name").is_some()
        || label("app.kubernetes.io/managed-by") == Some("keda-operator")
}

/// The HPA KEDA makes for a ScaledObject: `status.hpaName`, else the configured
/// `spec.advanced.horizontalPodAutoscalerConfig.name`, else `keda-hpa-<name>`.
pub fn scaled_object_hpa_name(so: &DynamicObject) -> String {
    so.str_at("/status/hpaName")
        .filter(|n| !n.is_empty())
        .or_else(|| {
            so.str_at("/spec/advanced/horizontalPodAutoscalerConfig/name")
                .filter(|n| !n.is_empty())
        })
        .map(str::to_string)
        .unwrap_or_else(|| format!("keda-hpa-{}", name_of(&so.metadata)))
}

/// (kind, name) of a ScaledObject's `spec.scaleTargetRef`; the kind defaults to Deployment.
pub fn scaled_object_target(so: &DynamicObject) -> Option<(String, String)> {
    let name = so.str_at("/spec/scaleTargetRef/name")?;
    let kind = so
        .str_at("/spec/scaleTargetRef/kind")
        .filter(|k| !k.is_empty())
        .unwrap_or("Deployment");
    Some((kind.to_string(), name.to_string()))
}

/// The workload an autoscaler scales, when it is of a kind the view holds.
pub fn target_workload<'a>(
    view: &'a ClusterView,
    namespace: &str,
    kind: &str,
    name: &str,
) -> Option<Workload<'a>> {
    view.workload(kind, namespace, name)
}

/// The namespace the KEDA operator runs in: its Deployment's, else `keda`.
pub fn keda_namespace(view: &ClusterView) -> String {
    view.deployments
        .iter()
        .find(|d| {
            name_of(&d.metadata) == "keda-operator"
                || d.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app.kubernetes.io/name"))
                    .is_some_and(|n| n == "keda-operator")
        })
        .map(|d| ns_of(&d.metadata).to_string())
        .unwrap_or_else(|| "keda".to_string())
}

/// The HPA's target workload.
pub fn hpa_target<'a>(
    view: &'a ClusterView,
    hpa: &HorizontalPodAutoscaler,
) -> Option<Workload<'a>> {
    let spec = hpa.spec.as_ref()?;
    target_workload(
        view,
        ns_of(&hpa.metadata),
        &spec.scale_target_ref.kind,
        &spec.scale_target_ref.name,
    )
}

/// `Deployment/orchestrator`, as `kubectl get hpa` prints the reference.
pub fn hpa_reference(hpa: &HorizontalPodAutoscaler) -> String {
    hpa.spec
        .as_ref()
        .map(|s| format!("{}/{}", s.scale_target_ref.kind, s.scale_target_ref.name))
        .unwrap_or_default()
}

pub fn metrics(hpa: &HorizontalPodAutoscaler) -> &[MetricSpec] {
    hpa.spec
        .as_ref()
        .and_then(|s| s.metrics.as_deref())
        .unwrap_or_default()
}

/// `cpu Utilization 70%`, `external s0-prometheus AverageValue 50`: one metric, readable.
pub fn describe_metric(m: &MetricSpec) -> String {
    let target = |t: &k8s_openapi::api::autoscaling::v2::MetricTarget| match t.type_.as_str() {
        "Utilization" => format!(
            "Utilization {}%",
            t.average_utilization
                .map(|u| u.to_string())
                .unwrap_or_default()
        ),
        "AverageValue" => format!(
            "AverageValue {}",
            t.average_value
                .as_ref()
                .map(|q| q.0.as_str())
                .unwrap_or_default()
        ),
        other => format!(
            "{other} {}",
            t.value.as_ref().map(|q| q.0.as_str()).unwrap_or_default()
        ),
    };
    if let Some(r) = &m.resource {
        format!("resource {} {}", r.name, target(&r.target))
    } else if let Some(r) = &m.container_resource {
        format!(
            "container resource {} of {} {}",
            r.name,
            r.container,
            target(&r.target)
        )
    } else if let Some(e) = &m.external {
        format!("external {} {}", e.metric.name, target(&e.target))
    } else if let Some(p) = &m.pods {
        format!("pods {} {}", p.metric.name, target(&p.target))
    } else if let Some(o) = &m.object {
        format!("object {} {}", o.metric.name, target(&o.target))
    } else {
        m.type_.clone()
    }
}

/// Events about an object with one of these reasons, newest last, as evidence
/// lines: `event KEDAScalerFailed (x44): error establishing …`.
pub fn event_lines(
    view: &ClusterView,
    kind: Kind,
    namespace: &str,
    name: &str,
    reasons: &[&str],
) -> Vec<String> {
    view.events_for(kind, namespace, name)
        .into_iter()
        .filter(|e| {
            e.reason
                .as_deref()
                .is_some_and(|r| reasons.is_empty() || reasons.contains(&r))
        })
        .map(|e| {
            let count = e
                .count
                .filter(|c| *c > 1)
                .map(|c| format!(" (x{c})"))
                .unwrap_or_default();
            format!(
                "event {}{count}: {}",
                e.reason.as_deref().unwrap_or_default(),
                clip(e.message.as_deref().unwrap_or_default(), 400)
            )
        })
        .collect()
}

/// Helpers for the autoscaling analyzers' tests.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::{Value, json};

    use crate::analyzers::Draft;
    use crate::analyzers::testing::{fixture, run};

    /// What a snapshot shows of drafts: everything a user would read.
    pub fn summary(drafts: &[Draft]) -> Vec<Value> {
        drafts
            .iter()
            .map(|d| {
                json!({
                    "subject": d.subject.to_string(),
                    "field": d.subject.field_path,
                    "message": d.message,
                    "evidence": d.evidence,
                    "severity": d.severity.map(|s| s.as_str()),
                    "causes": d.causes.iter().map(|c| format!("{} {}", c.analyzer, c.subject)).collect::<Vec<_>>(),
                    "fix": d.fix,
                })
            })
            .collect()
    }

    /// Run an analyzer with its default parameters on a fixture.
    pub fn drafts(analyzer: &str, fixture_name: &str) -> Vec<Draft> {
        run(analyzer, "{}", &fixture(fixture_name))
    }

    /// The analyzer fires on none of the healthy or unrelated fixtures given.
    pub fn silent_on(analyzer: &str, fixtures: &[&str]) {
        for f in fixtures {
            let found = drafts(analyzer, f);
            assert!(
                found.is_empty(),
                "{analyzer} fired on {f}: {:#?}",
                summary(&found)
            );
        }
    }
}
