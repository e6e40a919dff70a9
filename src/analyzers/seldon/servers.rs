//! Seldon Servers and what Models ask of them: a Server's ServerConfig, the
//! capabilities it advertises and the memory one replica offers; a Model's
//! requirements, replicas and memory; bytes as a person reads them.

use serde_json::Value;

use crate::analyzers::quantity;
use crate::analyzers::seldon::model::env_of;
use crate::cluster::{ClusterView, DynamicObject, Kind};

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
    let ns = server.namespace();
    let all: Vec<&DynamicObject> = view
        .custom(Kind::SeldonServerConfig)
        .filter(|c| c.name() == wanted)
        .collect();
    all.iter()
        .find(|c| c.namespace() == ns)
        .or_else(|| all.first())
        .copied()
}

/// The pod spec a Server's replicas run: its StatefulSet when in the view,
/// else its ServerConfig's pod spec as JSON.
fn server_containers(view: &ClusterView, server: &DynamicObject) -> Vec<Value> {
    if let Some(sts) = view.stateful_sets.get(server.namespace(), server.name())
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
}
