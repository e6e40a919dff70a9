//! What the GPU analyzers share: which extended resources are GPUs, what a pod
//! asks of them and a node offers, taints against tolerations, and the NVIDIA
//! device plugin that makes a node advertise `nvidia.com/gpu`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, Node, Pod, Taint, Toleration};

use crate::analyzers::quantity::bytes;
use crate::cluster::ClusterView;

/// Whole NVIDIA GPUs, as the device plugin advertises them.
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";

/// The prefix of MIG profiles under the `mixed` strategy (`nvidia.com/mig-1g.5gb`).
pub const MIG_PREFIX: &str = "nvidia.com/mig-";

/// Node labels that say a node has an NVIDIA GPU: NFD's PCI vendor label
/// (10de is NVIDIA's vendor ID) and the label the device plugin's chart also
/// accepts to force a GPU deployment.
pub const GPU_NODE_LABELS: &[(&str, &str)] = &[
    ("nvidia.com/gpu.present", "true"),
    ("feature.node.kubernetes.io/pci-10de.present", "true"),
];

/// Whether an extended resource is a GPU (or a MIG slice of one).
pub fn is_gpu_resource(name: &str) -> bool {
    name == NVIDIA_GPU || name.starts_with(MIG_PREFIX) || name == "amd.com/gpu"
}

fn count(q: &str) -> i64 {
    bytes(q).map_or(0, |n| n.round() as i64)
}

/// The GPU resources a container asks for: its requests, or its limits where
/// it gives no request (the API server copies extended limits to requests).
pub fn container_gpus(c: &Container) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let Some(r) = &c.resources else {
        return out;
    };
    for map in [&r.limits, &r.requests].into_iter().flatten() {
        for (name, q) in map {
            if is_gpu_resource(name) {
                out.insert(name.clone(), count(&q.0));
            }
        }
    }
    out
}

/// What a pod spec's containers ask for, as the scheduler counts it: the sum
/// of its containers, or its largest init container when that is more.
pub fn spec_gpus(spec: &k8s_openapi::api::core::v1::PodSpec) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for c in &spec.containers {
        for (name, n) in container_gpus(c) {
            *out.entry(name).or_default() += n;
        }
    }
    for c in spec.init_containers.iter().flatten() {
        for (name, n) in container_gpus(c) {
            let e = out.entry(name).or_default();
            *e = (*e).max(n);
        }
    }
    out.retain(|_, n| *n > 0);
    out
}

pub fn pod_gpus(pod: &Pod) -> BTreeMap<String, i64> {
    pod.spec.as_ref().map(spec_gpus).unwrap_or_default()
}

/// The GPU resources a node can allocate (zero counts left out).
pub fn node_gpus(node: &Node) -> BTreeMap<String, i64> {
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .into_iter()
        .flatten()
        .filter(|(name, _)| is_gpu_resource(name))
        .map(|(name, q)| (name.clone(), count(&q.0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The pods bound to a node that hold GPUs, with the node's name and what
/// they hold (finished pods released theirs).
pub fn gpu_holders(
    view: &ClusterView,
) -> impl Iterator<Item = (&str, &Pod, BTreeMap<String, i64>)> {
    view.pods.iter().filter_map(|p| {
        let done = matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let node = p.spec.as_ref().and_then(|s| s.node_name.as_deref())?;
        let held = pod_gpus(p);
        (!done && !held.is_empty()).then_some((node, p, held))
    })
}

/// GPU resources the pods bound to each node hold.
pub fn gpus_in_use(view: &ClusterView) -> BTreeMap<&str, BTreeMap<String, i64>> {
    let mut out: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for (node, _, held) in gpu_holders(view) {
        for (name, n) in held {
            *out.entry(node).or_default().entry(name).or_default() += n;
        }
    }
    out
}

/// A node's name.
pub fn node_name(node: &Node) -> &str {
    node.metadata.name.as_deref().unwrap_or_default()
}

/// Whether the node is labelled as having an NVIDIA GPU.
pub fn is_gpu_node(node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    GPU_NODE_LABELS
        .iter()
        .any(|(k, v)| labels.and_then(|l| l.get(*k)).map(String::as_str) == Some(*v))
}

/// Whether one toleration tolerates a taint, as the scheduler decides it.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect_ok = t
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key = t.key.as_deref().unwrap_or_default();
    let exists = t.operator.as_deref() == Some("Exists");
    if key.is_empty() {
        return exists && effect_ok;
    }
    effect_ok
        && key == taint.key
        && (exists
            || t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default())
}

/// The taints of a node that keep new pods off it (`NoSchedule`, `NoExecute`)
/// and none of these tolerations tolerates.
pub fn untolerated<'a>(node: &'a Node, tolerations: &[Toleration]) -> Vec<&'a Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|taint| matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute"))
        .filter(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
        .collect()
}

/// A taint the node lifecycle controller sets for the node's condition
/// (`node.kubernetes.io/not-ready`, `…/unschedulable`, `…/memory-pressure`),
/// or the cloud provider until it initialises the node: it says the node is
/// unwell or cordoned, and tolerating it is never the fix for placement.
pub fn is_condition_taint(t: &Taint) -> bool {
    t.key.starts_with("node.kubernetes.io/")
        || t.key.starts_with("node.cloudprovider.kubernetes.io/")
}

/// `key=value:Effect`, as `kubectl taint` writes it.
pub fn show_taint(t: &Taint) -> String {
    match t.value.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={v}:{}", t.key, t.effect),
        None => format!("{}:{}", t.key, t.effect),
    }
}

/// The toleration that tolerates exactly this taint.
pub fn toleration_for(t: &Taint) -> Toleration {
    match t.value.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => Toleration {
            key: Some(t.key.clone()),
            operator: Some("Equal".into()),
            value: Some(v.to_string()),
            effect: Some(t.effect.clone()),
            ..Default::default()
        },
        None => Toleration {
            key: Some(t.key.clone()),
            operator: Some("Exists".into()),
            effect: Some(t.effect.clone()),
            ..Default::default()
        },
    }
}

/// Whether a DaemonSet runs the NVIDIA device plugin: its image
/// (`nvcr.io/nvidia/k8s-device-plugin`), or the labels of the static manifest
/// (`name=nvidia-device-plugin-ds`), the Helm chart
/// (`app.kubernetes.io/name=nvidia-device-plugin`) or the GPU operator
/// (`app=nvidia-device-plugin-daemonset`). The chart's GPU feature discovery
/// and MPS DaemonSets share the image and are not the plugin.
pub fn is_device_plugin(ds: &DaemonSet) -> bool {
    let name = ds.metadata.name.as_deref().unwrap_or_default();
    if name.contains("gpu-feature-discovery") || name.contains("mps-control-daemon") {
        return false;
    }
    let template = ds.spec.as_ref().map(|s| &s.template);
    let labelled = [
        ("name", "nvidia-device-plugin-ds"),
        ("app", "nvidia-device-plugin-daemonset"),
        ("app.kubernetes.io/name", "nvidia-device-plugin"),
    ]
    .iter()
    .any(|(k, v)| {
        [
            ds.metadata.labels.as_ref(),
            template.and_then(|t| t.metadata.as_ref()?.labels.as_ref()),
        ]
        .into_iter()
        .flatten()
        .any(|l| l.get(*k).map(String::as_str) == Some(*v))
    });
    let image = template
        .and_then(|t| t.spec.as_ref())
        .into_iter()
        .flat_map(|s| s.containers.iter())
        .any(|c| {
            c.image
                .as_deref()
                .is_some_and(|i| i.contains("/k8s-device-plugin"))
        });
    labelled || image
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(String::from),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn tolerations_match_as_the_scheduler_matches_them() {
        let gpu = taint("nvidia.com/gpu", Some("present"), "NoSchedule");
        let exists = Toleration {
            key: Some("nvidia.com/gpu".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        };
        assert!(tolerates(&exists, &gpu));
        let other_value = Toleration {
            key: Some("nvidia.com/gpu".into()),
            value: Some("absent".into()),
            ..Default::default()
        };
        assert!(!tolerates(&other_value, &gpu));
        assert!(tolerates(&toleration_for(&gpu), &gpu));
        let everything = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert!(tolerates(&everything, &gpu));
        let wrong_effect = Toleration {
            effect: Some("NoExecute".into()),
            ..exists
        };
        assert!(!tolerates(&wrong_effect, &gpu));
        assert!(!is_condition_taint(&gpu));
        assert!(is_condition_taint(&taint(
            "node.kubernetes.io/not-ready",
            None,
            "NoSchedule"
        )));
        assert_eq!(show_taint(&gpu), "nvidia.com/gpu=present:NoSchedule");
        assert_eq!(
            show_taint(&taint("dedicated", None, "NoExecute")),
            "dedicated:NoExecute"
        );
    }

    #[test]
    fn gpu_resources() {
        assert!(is_gpu_resource("nvidia.com/gpu"));
        assert!(is_gpu_resource("nvidia.com/mig-1g.5gb"));
        assert!(is_gpu_resource("amd.com/gpu"));
        assert!(!is_gpu_resource("nvidia.com/gpu.present"));
        assert!(!is_gpu_resource("memory"));
    }
}
