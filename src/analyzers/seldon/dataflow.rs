//! The dataflow engine of a namespace as its SeldonRuntime declares it and its
//! Deployment runs it: each effective setting (`SELDON_UPSTREAM_HOST`, …) with
//! where it comes from — a SeldonRuntime override (appended, so it wins), the
//! SeldonConfig, the Deployment alone, or the default.

use k8s_openapi::api::core::v1::{Container, EnvVar, Pod};
use serde_json::Value;

use crate::analyzers::seldon::model::{env_of, runtime_in, seldon_config};
use crate::cluster::{ClusterView, DynamicObject, Kind};

/// The SeldonConfig component and container of the dataflow engine.
pub const DATAFLOW_COMPONENT: &str = "seldon-dataflow-engine";
pub const DATAFLOW_CONTAINER: &str = "dataflow-engine";
pub const UPSTREAM_HOST: &str = "SELDON_UPSTREAM_HOST";
pub const UPSTREAM_PORT: &str = "SELDON_UPSTREAM_PORT";
pub const KAFKA_BOOTSTRAP: &str = "SELDON_KAFKA_BOOTSTRAP_SERVERS";
/// The scheduler address the default SeldonConfig gives the dataflow engine.
pub const DEFAULT_UPSTREAM_HOST: &str = "seldon-scheduler";
pub const DEFAULT_UPSTREAM_PORT: &str = "9008";

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
                Source::SeldonConfig(config.map(|c| c.name().to_string()).unwrap_or_default())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
