//! Kubernetes objects from JSON or YAML documents into the ClusterView: single
//! objects, `v1 List`s (as `kubectl get -o yaml|json` prints them) and streams.

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::autoscaling::v1 as autoscaling_v1;
use k8s_openapi::api::autoscaling::v2 as autoscaling_v2;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::events::v1 as events_v1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cluster::{ClusterView, DynamicObject, HasMeta, Kind, Store};

/// Parse a file's bytes into documents and hand each non-empty one to `each`.
pub fn parse_documents(
    bytes: &[u8],
    json: bool,
    each: &mut dyn FnMut(Value) -> Result<()>,
) -> Result<()> {
    if json {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            anyhow!(
                "line {}, column {}: invalid JSON: {e}",
                e.line(),
                e.column()
            )
        })?;
        return each(value);
    }
    let text = std::str::from_utf8(bytes).context("YAML files must be UTF-8")?;
    let docs = crate::yaml::documents(text)?;
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        each(doc).with_context(|| format!("in YAML document {}", i + 1))?;
    }
    Ok(())
}

/// Adds objects to a view, remembering which kinds it saw.
pub struct ObjectSink<'a> {
    view: &'a mut ClusterView,
}

impl<'a> ObjectSink<'a> {
    pub fn new(view: &'a mut ClusterView) -> Self {
        ObjectSink { view }
    }

    pub fn view(&mut self) -> &mut ClusterView {
        self.view
    }

    /// Add one document: an object or a List of objects.
    pub fn add(&mut self, doc: Value) -> Result<()> {
        let Value::Object(_) = doc else {
            bail!(
                "expected a Kubernetes object (a mapping with apiVersion and kind), found {}",
                type_name(&doc)
            );
        };
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind == "List" || (kind.ends_with("List") && doc.get("items").is_some()) {
            let Some(Value::Array(items)) = doc.get("items").cloned() else {
                bail!("a {kind} needs an `items` array");
            };
            // A typed list (`PodList`, as the API and `snapshot save` write them) says
            // its kind was collected even when it holds no items.
            if let (Some(item_kind), Some(api_version)) = (
                kind.strip_suffix("List").filter(|k| !k.is_empty()),
                doc.get("apiVersion").and_then(Value::as_str),
            ) && let Some(listed) = Kind::from_object(api_version, item_kind)
            {
                self.view.collected.insert(listed);
            }
            for (i, item) in items.into_iter().enumerate() {
                let label = describe(&item);
                self.add_object(item)
                    .with_context(|| format!("item {} of the {kind} ({label})", i + 1))?;
            }
            return Ok(());
        }
        let label = describe(&doc);
        self.add_object(doc)
            .with_context(|| format!("object {label}"))
    }

    fn add_object(&mut self, mut object: Value) -> Result<()> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind_name = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if api_version.is_empty() || kind_name.is_empty() {
            bail!("not a Kubernetes object: `apiVersion` and `kind` are required");
        }
        if object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_none()
        {
            bail!("`metadata.name` is required");
        }
        // managedFields are bookkeeping no check reads; dropping them halves big dumps.
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        let view = &mut *self.view;
        let Some(kind) = Kind::from_object(&api_version, &kind_name) else {
            view.other.push(dynamic(api_version, kind_name, object)?);
            return Ok(());
        };
        view.collected.insert(kind);
        match kind {
            Kind::Namespace => insert(&mut view.namespaces, object),
            Kind::Node => insert(&mut view.nodes, object),
            Kind::Pod => insert(&mut view.pods, object),
            Kind::Service => insert(&mut view.services, object),
            Kind::Endpoints => insert(&mut view.endpoints, object),
            Kind::EndpointSlice => insert(&mut view.endpoint_slices, object),
            Kind::ConfigMap => insert(&mut view.config_maps, object),
            Kind::Secret => insert(&mut view.secrets, object),
            Kind::Event if api_version == "events.k8s.io/v1" => {
                let event: events_v1::Event = typed(object)?;
                view.events.insert(core_event(event));
                Ok(())
            }
            Kind::Event => insert(&mut view.events, object),
            Kind::Deployment => insert(&mut view.deployments, object),
            Kind::ReplicaSet => insert(&mut view.replica_sets, object),
            Kind::StatefulSet => insert(&mut view.stateful_sets, object),
            Kind::DaemonSet => insert(&mut view.daemon_sets, object),
            Kind::Job => insert(&mut view.jobs, object),
            Kind::CronJob => insert(&mut view.cron_jobs, object),
            Kind::HorizontalPodAutoscaler if api_version == "autoscaling/v1" => {
                let hpa: autoscaling_v1::HorizontalPodAutoscaler = typed(object)?;
                view.hpas.insert(hpa_v2(hpa));
                Ok(())
            }
            Kind::HorizontalPodAutoscaler => insert(&mut view.hpas, object),
            custom => {
                view.custom.entry(custom).or_default().insert(dynamic(
                    api_version,
                    kind_name,
                    object,
                )?);
                Ok(())
            }
        }
    }
}

fn insert<K: DeserializeOwned + HasMeta>(store: &mut Store<K>, object: Value) -> Result<()> {
    store.insert(typed(object)?);
    Ok(())
}

/// Deserialize with the path of the field that failed (`spec.containers[0].name`).
fn typed<K: DeserializeOwned>(object: Value) -> Result<K> {
    serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        anyhow!("field `{path}`: {}", e.into_inner())
    })
}

fn dynamic(api_version: String, kind: String, data: Value) -> Result<DynamicObject> {
    let metadata: ObjectMeta =
        typed(data.get("metadata").cloned().unwrap_or(Value::Null)).context("in metadata")?;
    Ok(DynamicObject {
        api_version,
        kind,
        metadata,
        data,
    })
}

fn describe(object: &Value) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object");
    let ns = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<no name>");
    match ns {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// An `events.k8s.io/v1` Event in the shape of a core Event, so checks read one kind.
fn core_event(e: events_v1::Event) -> Event {
    let count = e.series.as_ref().map(|s| s.count).or(e.deprecated_count);
    let last = e.series.as_ref().map(|s| s.last_observed_time.clone());
    Event {
        involved_object: e.regarding.unwrap_or_default(),
        message: e.note,
        reason: e.reason,
        type_: e.type_,
        count,
        event_time: last.or(e.event_time),
        last_timestamp: e.deprecated_last_timestamp,
        first_timestamp: e.deprecated_first_timestamp,
        metadata: e.metadata,
        reporting_component: e.reporting_controller,
        reporting_instance: e.reporting_instance,
        ..Event::default()
    }
}

/// An `autoscaling/v1` HPA as the v2 API would show it: its CPU target becomes a
/// Resource metric.
fn hpa_v2(h: autoscaling_v1::HorizontalPodAutoscaler) -> autoscaling_v2::HorizontalPodAutoscaler {
    let spec = h.spec.map(|s| autoscaling_v2::HorizontalPodAutoscalerSpec {
        max_replicas: s.max_replicas,
        min_replicas: s.min_replicas,
        scale_target_ref: autoscaling_v2::CrossVersionObjectReference {
            api_version: s.scale_target_ref.api_version,
            kind: s.scale_target_ref.kind,
            name: s.scale_target_ref.name,
        },
        metrics: s.target_cpu_utilization_percentage.map(|pct| {
            vec![autoscaling_v2::MetricSpec {
                type_: "Resource".into(),
                resource: Some(autoscaling_v2::ResourceMetricSource {
                    name: "cpu".into(),
                    target: autoscaling_v2::MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(pct),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]
        }),
        behavior: None,
    });
    let status = h
        .status
        .map(|s| autoscaling_v2::HorizontalPodAutoscalerStatus {
            current_replicas: Some(s.current_replicas),
            desired_replicas: s.desired_replicas,
            last_scale_time: s.last_scale_time,
            observed_generation: s.observed_generation,
            ..Default::default()
        });
    autoscaling_v2::HorizontalPodAutoscaler {
        metadata: h.metadata,
        spec,
        status,
    }
}
