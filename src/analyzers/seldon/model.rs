//! What the Seldon Core v2 analyzers share: reading status conditions (Models
//! and Pipelines put state and text in opposite fields), the namespace's
//! SeldonRuntime and SeldonConfig, the `seldon-kafka` ConfigMap, topic names,
//! pods. The dataflow engine's effective settings are in `dataflow`, Servers
//! and what Models ask of them in `servers`, the patches fixes send in `patches`.
//!
//! Names and defaults follow Seldon Core v2 (`operator/apis/mlops/v1alpha1`,
//! `operator/scheduler`, `scheduler/pkg/kafka`, `scheduler/data-flow`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::analyzers::conditions::{Condition, condition};
use crate::analyzers::seldon::dataflow::dataflow;
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};

/// The ConfigMap the operator writes from `kafkaConfig`, read by the gateways and scheduler.
pub const KAFKA_CONFIGMAP: &str = "seldon-kafka";
pub const DEFAULT_TOPIC_PREFIX: &str = "seldon";
/// The ConfigMap the operator writes from `tracingConfig`.
pub const TRACING_CONFIGMAP: &str = "seldon-tracing";

/// The kinds a user deploys into a namespace that need a SeldonRuntime there.
pub const WORKLOAD_CRS: &[Kind] = &[
    Kind::SeldonModel,
    Kind::SeldonPipeline,
    Kind::SeldonServer,
    Kind::SeldonExperiment,
];

/// A Model's or Pipeline's scheduler state and the text that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub ready: bool,
    /// `ScheduleFailed`, `ModelFailed`, `PipelineCreate`, …
    pub state: String,
    pub text: String,
    pub condition: Condition,
}

/// A Model's `ModelReady`: the operator writes the scheduler state into
/// `message` and the scheduler's reason text into `reason`.
pub fn model_state(model: &DynamicObject) -> Option<State> {
    let c = condition(model, &["ModelReady"])?;
    Some(State {
        ready: c.is_true(),
        state: c.message.clone(),
        text: c.reason.clone(),
        condition: c,
    })
}

/// A Pipeline's `PipelineReady`: the state is the `reason`, the text the `message`.
pub fn pipeline_state(pipeline: &DynamicObject) -> Option<State> {
    let c = condition(pipeline, &["PipelineReady"])?;
    Some(State {
        ready: c.is_true(),
        state: c.reason.clone(),
        text: c.message.clone(),
        condition: c,
    })
}

pub fn object_ref(kind: Kind, obj: &DynamicObject) -> ObjectRef {
    ObjectRef::of(kind, &obj.metadata)
}

/// Namespaces holding Models, Pipelines, Servers or Experiments, sorted.
pub fn workload_namespaces(view: &ClusterView) -> BTreeSet<String> {
    WORKLOAD_CRS
        .iter()
        .flat_map(|k| view.custom(*k))
        .map(|o| o.namespace().to_string())
        .collect()
}

/// Whether the view can tell what a namespace holds: it holds some object of
/// it, or the namespace does not exist at all. `-n` keeps only the selected
/// namespaces' objects (but every Namespace), so a Service missing from an
/// existing namespace with nothing in the view is unknown, not absent.
pub fn namespace_visible(view: &ClusterView, ns: &str) -> bool {
    if view.has(Kind::Namespace) && view.namespaces.get("", ns).is_none() {
        return true;
    }
    view.services.in_namespace(ns).next().is_some()
        || view.pods.in_namespace(ns).next().is_some()
        || view.config_maps.in_namespace(ns).next().is_some()
        || view.deployments.in_namespace(ns).next().is_some()
        || view.stateful_sets.in_namespace(ns).next().is_some()
        || view
            .custom
            .values()
            .any(|s| s.in_namespace(ns).next().is_some())
}

/// The SeldonRuntime of a namespace (the first by name when there are several).
pub fn runtime_in<'a>(view: &'a ClusterView, ns: &str) -> Option<&'a DynamicObject> {
    view.custom(Kind::SeldonRuntime)
        .filter(|r| r.namespace() == ns)
        .min_by_key(|r| r.name())
}

/// The SeldonConfig a runtime names; the operator reads it from its own
/// namespace, so any namespace in the view is accepted.
pub fn seldon_config<'a>(
    view: &'a ClusterView,
    runtime: &DynamicObject,
) -> Option<&'a DynamicObject> {
    let wanted = runtime.str_at("/spec/seldonConfig")?;
    view.custom(Kind::SeldonConfig).find(|c| c.name() == wanted)
}

/// The `name`/`value` pairs of a container's `env`, as JSON from a custom resource.
pub(super) fn env_of(container: &Value) -> Vec<(String, Option<String>)> {
    container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.get("name")?.as_str()?.to_string();
            Some((
                name,
                e.get("value").and_then(Value::as_str).map(str::to_string),
            ))
        })
        .collect()
}

/// The `kafka.json` of the namespace's `seldon-kafka` ConfigMap, if present.
pub fn kafka_json(view: &ClusterView, ns: &str) -> Option<Value> {
    let cm = view.config_maps.get(ns, KAFKA_CONFIGMAP)?;
    let text = cm.data.as_ref()?.get("kafka.json")?;
    serde_json::from_str(text).ok()
}

/// The Kafka address Seldon is configured with: the first runtime namespace's
/// `seldon-kafka` `bootstrap.servers`, else its dataflow engine's
/// `SELDON_KAFKA_BOOTSTRAP_SERVERS`. For a collector that was given none.
pub fn configured_kafka(view: &ClusterView) -> Option<String> {
    view.custom(Kind::SeldonRuntime)
        .map(|o| o.namespace())
        .find_map(|ns| {
            kafka_json(view, ns)
                .and_then(|j| j.get("bootstrap.servers")?.as_str().map(str::to_string))
                .or_else(|| dataflow(view, ns)?.kafka_bootstrap.map(|s| s.value))
        })
}

/// Why a Kafka check has no observation to judge: nothing in the view uses
/// Kafka (no Seldon resources, no workload with a KAFKA variable, workloads
/// read), or Kafka was not read.
pub fn no_kafka_observation(view: &ClusterView) -> String {
    let seldon = [Kind::SeldonModel, Kind::SeldonPipeline, Kind::SeldonRuntime]
        .iter()
        .any(|k| view.has(*k));
    let workloads_use_kafka = view.workloads().iter().any(|w| {
        w.containers().any(|c| {
            c.env
                .iter()
                .flatten()
                .any(|e| e.name.to_ascii_uppercase().contains("KAFKA"))
        })
    });
    // Without workloads in the view there is no telling whether anything uses Kafka.
    let workloads_read = view.has(Kind::Deployment) || view.has(Kind::StatefulSet);
    if seldon || workloads_use_kafka || !workloads_read {
        "not collected: Kafka was not read: give --kafka-bootstrap HOST:PORT (live) or a kafka.yaml (snapshot)".into()
    } else {
        "not applicable: nothing in the view uses Kafka".into()
    }
}

/// The topic prefix Seldon uses in a namespace (`topicPrefix` in `kafka.json`, default `seldon`).
pub fn topic_prefix(view: &ClusterView, ns: &str) -> String {
    kafka_json(view, ns)
        .and_then(|j| {
            j.get("topicPrefix")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_TOPIC_PREFIX.to_string())
}

pub fn model_topics(prefix: &str, ns: &str, model: &str) -> [String; 2] {
    [
        format!("{prefix}.{ns}.model.{model}.inputs"),
        format!("{prefix}.{ns}.model.{model}.outputs"),
    ]
}

pub fn pipeline_topics(prefix: &str, ns: &str, pipeline: &str) -> [String; 2] {
    [
        format!("{prefix}.{ns}.pipeline.{pipeline}.inputs"),
        format!("{prefix}.{ns}.pipeline.{pipeline}.outputs"),
    ]
}

pub fn errors_topic(prefix: &str, ns: &str) -> String {
    format!("{prefix}.{ns}.errors.errors")
}

/// Whether a pod's every container is ready.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

pub fn pod_restarts(pod: &Pod) -> i32 {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .map(|c| c.restart_count)
        .sum()
}

/// The SeldonRuntimes to judge, or why a runtime check has nothing to judge.
pub fn runtimes(view: &ClusterView) -> Result<Vec<&DynamicObject>, String> {
    if !view.has(Kind::SeldonRuntime) {
        return Err(absent(view, "no SeldonRuntimes were read"));
    }
    let runtimes: Vec<_> = view.custom(Kind::SeldonRuntime).collect();
    if runtimes.is_empty() {
        return Err("not applicable: no SeldonRuntime".into());
    }
    Ok(runtimes)
}

/// Why a Seldon check has nothing to read: no Seldon kind at all in the view
/// means Seldon Core v2 is not installed there; some but not the one needed
/// means it was not collected.
pub fn absent(view: &ClusterView, what: &str) -> String {
    let seldon = [
        Kind::SeldonModel,
        Kind::SeldonPipeline,
        Kind::SeldonServer,
        Kind::SeldonRuntime,
        Kind::SeldonConfig,
        Kind::SeldonServerConfig,
        Kind::SeldonExperiment,
    ];
    if seldon.iter().any(|k| view.has(*k)) {
        format!("not collected: {what}")
    } else {
        "not installed: no Seldon Core v2 resources (mlops.seldon.io) were found".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_pipeline_conditions_are_read_the_right_way_round() {
        let view = crate::analyzers::testing::fixture("seldon-mesh-broken");
        let model = view
            .custom_get(Kind::SeldonModel, "seldon-mesh", "response-generator")
            .expect("model");
        let s = model_state(model).expect("state");
        assert_eq!(s.state, "ScheduleFailed");
        assert!(s.text.starts_with("Failed to schedule model"));
        let p = view
            .custom_get(Kind::SeldonPipeline, "seldon-mesh", "chatbot-pipeline")
            .expect("pipeline");
        let s = pipeline_state(p).expect("state");
        assert_eq!(s.state, "PipelineCreate");
        assert_eq!(s.text, "no dataflow engines available to handle pipeline");
    }

    /// The whole catalogue of Seldon and Kafka checks on the field report's
    /// namespace: what fires, and which finding each symptom follows from.
    #[test]
    fn field_report_findings_link_to_their_roots() {
        let catalogue = crate::catalogue::Catalogue::load(&[]).expect("catalogue");
        let checks = catalogue
            .select(&["SEL".to_string(), "KFK".to_string()], &[])
            .expect("select");
        let view = crate::analyzers::testing::fixture("seldon-mesh-broken");
        let report = crate::report::engine::run(&checks, &view, "test".into());
        let links: Vec<String> = report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {}{}",
                    f.code,
                    f.subject,
                    f.cause
                        .as_ref()
                        .map(|c| format!(" <- {} {}", c.code, c.subject))
                        .unwrap_or_default()
                )
            })
            .collect();
        insta::assert_yaml_snapshot!(links);
        let healthy = crate::analyzers::testing::fixture("healthy-seldon");
        assert!(
            crate::report::engine::run(&checks, &healthy, "test".into())
                .findings
                .is_empty()
        );
    }

    #[test]
    fn topic_names_follow_seldon() {
        assert_eq!(
            model_topics("seldon", "seldon-mesh", "iris")[0],
            "seldon.seldon-mesh.model.iris.inputs"
        );
        assert_eq!(
            pipeline_topics("seldon", "ns", "p")[1],
            "seldon.ns.pipeline.p.outputs"
        );
        assert_eq!(errors_topic("seldon", "ns"), "seldon.ns.errors.errors");
    }
}
