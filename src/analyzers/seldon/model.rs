//! What the Seldon Core v2 analyzers share: reading status conditions (Models
//! and Pipelines put state and text in opposite fields), the namespace's
//! SeldonRuntime and SeldonConfig, the dataflow engine's effective settings,
//! the `seldon-kafka` ConfigMap, Server capabilities and memory, topic names.
//!
//! Names and defaults follow Seldon Core v2 (`operator/apis/mlops/v1alpha1`,
//! `operator/scheduler`, `scheduler/pkg/kafka`, `scheduler/data-flow`).

use crate::analyzers::quantity;
use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod};
use serde_json::{Value, json};

use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};

/// The SeldonConfig component and container of the dataflow engine.
pub const DATAFLOW_COMPONENT: &str = "seldon-dataflow-engine";
pub const DATAFLOW_CONTAINER: &str = "dataflow-engine";
pub const UPSTREAM_HOST: &str = "SELDON_UPSTREAM_HOST";
pub const UPSTREAM_PORT: &str = "SELDON_UPSTREAM_PORT";
pub const KAFKA_BOOTSTRAP: &str = "SELDON_KAFKA_BOOTSTRAP_SERVERS";
/// The scheduler address the default SeldonConfig gives the dataflow engine.
pub const DEFAULT_UPSTREAM_HOST: &str = "seldon-scheduler";
pub const DEFAULT_UPSTREAM_PORT: &str = "9008";
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

/// One status condition as knative's duck type writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }

    /// `PipelineReady=False reason=PipelineCreate message="…"` for evidence.
    pub fn describe(&self) -> String {
        let mut s = format!("condition {}={}", self.type_, self.status);
        if !self.reason.is_empty() {
            s.push_str(&format!(" reason={:?}", self.reason));
        }
        if !self.message.is_empty() {
            s.push_str(&format!(" message={:?}", self.message));
        }
        s
    }
}

pub fn conditions(obj: &DynamicObject) -> Vec<Condition> {
    let text = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| Condition {
            type_: text(c, "type"),
            status: text(c, "status"),
            reason: text(c, "reason"),
            message: text(c, "message"),
        })
        .collect()
}

/// The first condition of one of these types (names changed across releases).
pub fn condition(obj: &DynamicObject, types: &[&str]) -> Option<Condition> {
    let all = conditions(obj);
    types
        .iter()
        .find_map(|t| all.iter().find(|c| c.type_ == *t).cloned())
}

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

pub fn name(obj: &DynamicObject) -> &str {
    obj.metadata.name.as_deref().unwrap_or_default()
}

pub fn namespace(obj: &DynamicObject) -> &str {
    obj.metadata.namespace.as_deref().unwrap_or_default()
}

pub fn object_ref(kind: Kind, obj: &DynamicObject) -> ObjectRef {
    ObjectRef::of(kind, &obj.metadata)
}

/// Namespaces holding Models, Pipelines, Servers or Experiments, sorted.
pub fn workload_namespaces(view: &ClusterView) -> BTreeSet<String> {
    WORKLOAD_CRS
        .iter()
        .flat_map(|k| view.custom(*k))
        .map(|o| namespace(o).to_string())
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
        .filter(|r| namespace(r) == ns)
        .min_by_key(|r| name(r))
}

/// The SeldonConfig a runtime names; the operator reads it from its own
/// namespace, so any namespace in the view is accepted.
pub fn seldon_config<'a>(
    view: &'a ClusterView,
    runtime: &DynamicObject,
) -> Option<&'a DynamicObject> {
    let wanted = runtime.str_at("/spec/seldonConfig")?;
    view.custom(Kind::SeldonConfig).find(|c| name(c) == wanted)
}

/// A `ConfigMap`-style reference to `spec.overrides[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvLocation {
    pub override_index: usize,
    pub container_index: usize,
    pub env_index: usize,
}

impl EnvLocation {
    /// The JSON pointer of the env entry's value inside the SeldonRuntime.
    pub fn value_pointer(&self) -> String {
        format!(
            "/spec/overrides/{}/podSpec/containers/{}/env/{}/value",
            self.override_index, self.container_index, self.env_index
        )
    }
}

/// Where an effective dataflow setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The SeldonRuntime's `spec.overrides` (appended, so it wins).
    Override(EnvLocation),
    /// The SeldonConfig's component definition.
    SeldonConfig(String),
    /// Only the running Deployment has it (hand-edited, or no config in the view).
    Deployment,
    /// Nobody sets it: the default applies.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub source: Source,
}

impl Setting {
    pub fn describe(&self, var: &str) -> String {
        let from = match &self.source {
            Source::Override(loc) => format!(
                "from SeldonRuntime override spec.overrides[{}], appended after the SeldonConfig's env so it wins",
                loc.override_index
            ),
            Source::SeldonConfig(name) => format!("from SeldonConfig/{name}"),
            Source::Deployment => "set on the Deployment only".to_string(),
            Source::Default => "not set: the default applies".to_string(),
        };
        format!("{var}={} ({from})", self.value)
    }
}

/// The dataflow engine as the namespace's runtime declares it and the Deployment runs it.
#[derive(Debug, Clone)]
pub struct Dataflow<'a> {
    pub runtime: &'a DynamicObject,
    /// Index of the `seldon-dataflow-engine` entry in `spec.overrides`.
    pub override_index: Option<usize>,
    pub disabled: bool,
    /// Replicas from the override (or else the SeldonConfig component).
    pub replicas: Option<i64>,
    pub upstream_host: Setting,
    pub upstream_port: Setting,
    pub kafka_bootstrap: Option<Setting>,
    pub deployment: Option<&'a k8s_openapi::api::apps::v1::Deployment>,
    pub pods: Vec<&'a Pod>,
}

fn env_of(container: &Value) -> Vec<(String, Option<String>)> {
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

fn component_container(component: &Value) -> Option<(usize, &Value)> {
    let containers = component.pointer("/podSpec/containers")?.as_array()?;
    containers
        .iter()
        .enumerate()
        .find(|(_, c)| c.get("name").and_then(Value::as_str) == Some(DATAFLOW_CONTAINER))
}

fn last_literal(env: &[EnvVar], var: &str) -> Option<String> {
    env.iter()
        .rev()
        .find(|e| e.name == var)
        .and_then(|e| e.value.clone())
}

/// Resolve the dataflow engine of a namespace, if it has a SeldonRuntime.
pub fn dataflow<'a>(view: &'a ClusterView, ns: &str) -> Option<Dataflow<'a>> {
    let runtime = runtime_in(view, ns)?;
    let config = seldon_config(view, runtime);
    let overrides = runtime
        .pointer("/spec/overrides")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let override_index = overrides
        .iter()
        .position(|o| o.get("name").and_then(Value::as_str) == Some(DATAFLOW_COMPONENT));
    let ov = override_index.map(|i| &overrides[i]);
    let component = config.and_then(|c| {
        c.pointer("/spec/components")
            .and_then(Value::as_array)?
            .iter()
            .find(|o| o.get("name").and_then(Value::as_str) == Some(DATAFLOW_COMPONENT))
    });
    let deployment = view.deployments.get(ns, DATAFLOW_COMPONENT);
    let running_env: Option<&Vec<EnvVar>> = deployment
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.iter().find(|c| c.name == DATAFLOW_CONTAINER))
        .and_then(|c: &Container| c.env.as_ref());

    let setting = |var: &str, default: Option<&str>| -> Option<Setting> {
        let from_override = ov.and_then(|o| {
            let (ci, c) = component_container(o)?;
            let env = env_of(c);
            let ei = env.iter().rposition(|(n, _)| n == var)?;
            Some((
                env[ei].1.clone().unwrap_or_default(),
                EnvLocation {
                    override_index: override_index.expect("override found"),
                    container_index: ci,
                    env_index: ei,
                },
            ))
        });
        let from_config = component.and_then(|c| {
            let (_, c) = component_container(c)?;
            env_of(c).into_iter().rev().find(|(n, _)| n == var)?.1
        });
        let running = running_env.and_then(|env| last_literal(env, var));
        let source = match (&from_override, &from_config, &running) {
            (Some((_, loc)), _, _) => Source::Override(*loc),
            (None, Some(_), _) => {
                Source::SeldonConfig(config.map(|c| name(c).to_string()).unwrap_or_default())
            }
            (None, None, Some(_)) => Source::Deployment,
            (None, None, None) => Source::Default,
        };
        // What runs wins; the declared value stands in when the Deployment is not in the view.
        let value = running
            .or_else(|| from_override.map(|(v, _)| v))
            .or(from_config)
            .or_else(|| default.map(str::to_string))?;
        Some(Setting { value, source })
    };
    let upstream_host = setting(UPSTREAM_HOST, Some(DEFAULT_UPSTREAM_HOST)).expect("has default");
    let upstream_port = setting(UPSTREAM_PORT, Some(DEFAULT_UPSTREAM_PORT)).expect("has default");
    let kafka_bootstrap = setting(KAFKA_BOOTSTRAP, None);
    let disabled = ov
        .and_then(|o| o.get("disable"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let replicas = ov
        .and_then(|o| o.get("replicas"))
        .and_then(Value::as_i64)
        .or_else(|| {
            component
                .and_then(|c| c.get("replicas"))
                .and_then(Value::as_i64)
        });
    let pods = view
        .workloads()
        .into_iter()
        .find(|w| {
            w.kind == Kind::Deployment && w.namespace() == ns && w.name() == DATAFLOW_COMPONENT
        })
        .map(|w| view.pods_of(&w))
        .unwrap_or_default();
    Some(Dataflow {
        runtime,
        override_index,
        disabled,
        replicas,
        upstream_host,
        upstream_port,
        kafka_bootstrap,
        deployment,
        pods,
    })
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
        .map(namespace)
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

/// Bytes as a person reads them, in the units they were likely given in:
/// `1.1G` for decimal quantities, `1.5Gi`/`300Mi` for binary ones.
pub fn bytes(n: f64) -> String {
    fn show(v: f64, unit: &str) -> String {
        if (v - v.round()).abs() < 0.05 {
            format!("{}{unit}", v.round())
        } else {
            format!("{v:.1}{unit}")
        }
    }
    let decimal = n >= 1e6 && (n % 1e6).abs() < 1.0;
    let units: [(&str, f64); 3] = if decimal {
        [("G", 1e9), ("M", 1e6), ("k", 1e3)]
    } else {
        [
            ("Gi", 1024.0 * 1024.0 * 1024.0),
            ("Mi", 1024.0 * 1024.0),
            ("Ki", 1024.0),
        ]
    };
    units
        .iter()
        .find(|(_, size)| n >= *size)
        .map_or_else(|| format!("{n}"), |(unit, size)| show(n / size, unit))
}

/// The ServerConfig a Server is made from.
pub fn server_config<'a>(
    view: &'a ClusterView,
    server: &DynamicObject,
) -> Option<&'a DynamicObject> {
    let wanted = server.str_at("/spec/serverConfig")?;
    let ns = namespace(server);
    let all: Vec<&DynamicObject> = view
        .custom(Kind::SeldonServerConfig)
        .filter(|c| name(c) == wanted)
        .collect();
    all.iter()
        .find(|c| namespace(c) == ns)
        .or_else(|| all.first())
        .copied()
}

/// The pod spec a Server's replicas run: its StatefulSet when in the view,
/// else its ServerConfig's pod spec as JSON.
fn server_containers(view: &ClusterView, server: &DynamicObject) -> Vec<Value> {
    if let Some(sts) = view.stateful_sets.get(namespace(server), name(server))
        && let Some(spec) = sts.spec.as_ref().and_then(|s| s.template.spec.as_ref())
        && let Ok(Value::Array(cs)) = serde_json::to_value(&spec.containers)
    {
        return cs;
    }
    server_config(view, server)
        .and_then(|c| c.pointer("/spec/podSpec/containers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn agent_env(containers: &[Value], var: &str) -> Option<String> {
    let agent = containers
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some("agent"))?;
    env_of(agent).into_iter().rev().find(|(n, _)| n == var)?.1
}

/// What a Server advertises: `spec.capabilities` replaces the ServerConfig's
/// `SELDON_SERVER_CAPABILITIES`; `spec.extraCapabilities` adds to them.
pub fn server_capabilities(view: &ClusterView, server: &DynamicObject) -> Vec<String> {
    let list = |p: &str| -> Option<Vec<String>> {
        Some(
            server
                .pointer(p)?
                .as_array()?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    };
    let mut caps = list("/spec/capabilities").unwrap_or_else(|| {
        agent_env(
            &server_containers(view, server),
            "SELDON_SERVER_CAPABILITIES",
        )
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
    });
    caps.extend(list("/spec/extraCapabilities").unwrap_or_default());
    caps
}

/// Memory one Server replica offers models: the server container's memory
/// request (`MEMORY_REQUEST`) times 1 + `SELDON_OVERCOMMIT_PERCENTAGE`/100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaMemory {
    pub request: f64,
    pub overcommit_percent: f64,
}

impl ReplicaMemory {
    pub fn capacity(&self) -> f64 {
        self.request * (1.0 + self.overcommit_percent / 100.0)
    }
}

pub fn server_memory(view: &ClusterView, server: &DynamicObject) -> Option<ReplicaMemory> {
    let containers = server_containers(view, server);
    let request = containers
        .iter()
        .filter(|c| {
            !matches!(
                c.get("name").and_then(Value::as_str),
                Some("agent" | "rclone")
            )
        })
        .find_map(|c| {
            c.pointer("/resources/requests/memory")
                .and_then(Value::as_str)
        })
        .and_then(quantity::bytes)?;
    let overcommit_percent = agent_env(&containers, "SELDON_OVERCOMMIT_PERCENTAGE")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    Some(ReplicaMemory {
        request,
        overcommit_percent,
    })
}

/// What a Model asks of a server: `spec.requirements` plus `spec.modelType`.
pub fn model_requirements(model: &DynamicObject) -> Vec<String> {
    let mut reqs: Vec<String> = model
        .pointer("/spec/requirements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    if let Some(t) = model.str_at("/spec/modelType") {
        reqs.push(t.to_string());
    }
    reqs
}

/// Desired replicas of a Model (`spec.replicas`, else `minReplicas`, else 1).
pub fn model_replicas(model: &DynamicObject) -> i64 {
    model
        .i64_at("/spec/replicas")
        .or_else(|| model.i64_at("/spec/minReplicas"))
        .unwrap_or(1)
}

pub fn model_memory(model: &DynamicObject) -> Option<f64> {
    model
        .str_at("/spec/memory")
        .and_then(quantity::bytes)
        .or_else(|| model.pointer("/spec/memory").and_then(Value::as_f64))
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

/// JSON-patch operations that set one dataflow env var in the SeldonRuntime.
pub fn set_env_ops(
    df: &Dataflow<'_>,
    source: &Source,
    var: &str,
    old: &str,
    new: &str,
) -> Option<Vec<Value>> {
    if let Source::Override(loc) = source {
        let path = loc.value_pointer();
        return Some(vec![
            json!({"op": "test", "path": path, "value": old}),
            json!({"op": "replace", "path": path, "value": new}),
        ]);
    }
    let entry = json!({"name": var, "value": new});
    let container = json!({"name": DATAFLOW_CONTAINER, "env": [entry]});
    let overrides = df
        .runtime
        .pointer("/spec/overrides")
        .and_then(Value::as_array);
    let op =
        |path: String, value: Value| Some(vec![json!({"op": "add", "path": path, "value": value})]);
    match (df.override_index, overrides) {
        (Some(i), Some(list)) => {
            let base = format!("/spec/overrides/{i}");
            let Some(pod) = list[i].get("podSpec") else {
                return op(
                    format!("{base}/podSpec"),
                    json!({"containers": [container]}),
                );
            };
            let Some(containers) = pod.get("containers").and_then(Value::as_array) else {
                return op(format!("{base}/podSpec/containers"), json!([container]));
            };
            match containers
                .iter()
                .position(|c| c.get("name").and_then(Value::as_str) == Some(DATAFLOW_CONTAINER))
            {
                None => op(format!("{base}/podSpec/containers/-"), container),
                Some(ci) if containers[ci].get("env").is_some() => {
                    op(format!("{base}/podSpec/containers/{ci}/env/-"), entry)
                }
                Some(ci) => op(
                    format!("{base}/podSpec/containers/{ci}/env"),
                    json!([entry]),
                ),
            }
        }
        (_, list) => {
            let value = json!({"name": DATAFLOW_COMPONENT, "podSpec": {"containers": [container]}});
            match list {
                Some(_) => op("/spec/overrides/-".to_string(), value),
                None => op("/spec/overrides".to_string(), json!([value])),
            }
        }
    }
}

/// `kubectl patch KIND NAME -n NS --type=TYPE -p 'BODY'`, as a person would type it.
pub fn patch_command(subject: &ObjectRef, patch_type: &str, body: &Value) -> String {
    format!(
        "kubectl patch {} {}{} --type={patch_type} -p '{}'",
        subject.kind.to_lowercase(),
        subject.name,
        subject.kubectl_ns(),
        body
    )
}

/// Where the SeldonRuntime is managed from, for fix descriptions.
pub fn managed_note(obj: &DynamicObject, what: &str) -> String {
    match crate::cluster::manager_of(&obj.metadata) {
        Some(manager) => format!(
            " {what} is managed by {manager}: put the same change in its values, or the next upgrade reverts it."
        ),
        None => String::new(),
    }
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
pub(crate) mod testing {
    //! Snapshot form of drafts: what fired, on what, why, with what fix and cause hints.
    use serde_json::{Value, json};

    use crate::analyzers::Draft;

    pub fn summary(drafts: &[Draft]) -> Value {
        Value::Array(
            drafts
                .iter()
                .map(|d| {
                    json!({
                        "subject": d.subject.to_string(),
                        "field": d.subject.field_path,
                        "message": d.message,
                        "evidence": d.evidence,
                        "severity": d.severity.map(|s| s.as_str()),
                        "fix": d.fix.as_ref().map(|f| json!({
                            "applicability": format!("{:?}", f.applicability),
                            "description": f.description,
                            "kubectl": f.kubectl,
                        })),
                        "causes": d.causes.iter().map(|c| format!("{} {}", c.analyzer, c.subject)).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity::bytes("1G"), Some(1e9));
        assert_eq!(quantity::bytes("512Mi"), Some(536_870_912.0));
        assert_eq!(quantity::bytes("100m"), Some(0.1));
        assert_eq!(quantity::bytes("3"), Some(3.0));
        assert_eq!(quantity::bytes("1Q"), None);
        assert_eq!(bytes(1024.0 * 1024.0 * 300.0), "300Mi");
        assert_eq!(bytes(1.1e9), "1.1G");
    }

    #[test]
    fn the_override_env_wins_and_is_located() {
        let view = crate::analyzers::testing::fixture("seldon-mesh-broken");
        let df = dataflow(&view, "seldon-mesh").expect("runtime exists");
        assert_eq!(df.upstream_host.value, "seldon-scheduler.seldon-system");
        assert_eq!(
            df.upstream_host.source,
            Source::Override(EnvLocation {
                override_index: 2,
                container_index: 0,
                env_index: 0
            })
        );
        assert_eq!(df.upstream_port.value, "9008");
        assert_eq!(
            df.upstream_port.source,
            Source::SeldonConfig("default".into())
        );
        let healthy = crate::analyzers::testing::fixture("healthy-seldon");
        assert_eq!(
            dataflow(&healthy, "seldon-mesh")
                .expect("runtime")
                .upstream_host
                .value,
            "seldon-scheduler"
        );
    }

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
