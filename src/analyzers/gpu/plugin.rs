//! Why no node advertises `nvidia.com/gpu`: the NVIDIA device plugin
//! DaemonSet is missing, not ready, or not running on the GPU nodes.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};

use super::model::{
    GPU_NODE_LABELS, NVIDIA_GPU, is_device_plugin, is_gpu_node, node_name, untolerated,
};
use crate::analyzers::Draft;
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::report::findings::Fix;

/// Where the static manifest puts the plugin; the finding is about it when
/// no plugin DaemonSet exists at all.
const STATIC_NAMESPACE: &str = "kube-system";
const STATIC_NAME: &str = "nvidia-device-plugin-daemonset";

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Why the DaemonSet has no pod on this node: a nodeSelector the node does not
/// match, or a taint its pods do not tolerate.
fn why_not_on(ds: &DaemonSet, node: &Node) -> String {
    let Some(spec) = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return "its pod template is empty".to_string();
    };
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let missing: Vec<String> = spec
        .node_selector
        .iter()
        .flatten()
        .filter(|(k, v)| labels.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if !missing.is_empty() {
        return format!(
            "its nodeSelector {} does not match the node's labels",
            missing.join(", ")
        );
    }
    let taints = untolerated(node, spec.tolerations.as_deref().unwrap_or_default());
    if !taints.is_empty() {
        let shown: Vec<String> = taints.iter().map(|t| super::model::show_taint(t)).collect();
        return format!(
            "its pods do not tolerate the node's taint {}",
            shown.join(", ")
        );
    }
    "its node affinity excludes the node, or its pod there was not created yet".to_string()
}

/// Add to a draft about a pod no node can give `nvidia.com/gpu` what the
/// device plugin's state says, and the fix.
pub fn explain(view: &ClusterView, draft: Draft) -> Draft {
    let gpu_nodes: Vec<&Node> = view.nodes.iter().filter(|n| is_gpu_node(n)).collect();
    let plugins: Vec<&DaemonSet> = view
        .daemon_sets
        .iter()
        .filter(|d| is_device_plugin(d))
        .collect();
    let labels: Vec<String> = GPU_NODE_LABELS
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut draft = draft;
    if gpu_nodes.is_empty() {
        draft.message.push_str(&format!(
            ": no node is labelled as a GPU node ({})",
            labels.join(" or ")
        ));
        return draft.fix(Fix::manual(format!(
            "No node advertises {NVIDIA_GPU} and none is labelled as having an NVIDIA GPU: add a GPU node, or on the GPU nodes install the NVIDIA driver and container toolkit, then the device plugin (NFD labels the nodes {}).",
            labels[1]
        )));
    }
    let gpu_names: Vec<&str> = gpu_nodes.iter().map(|n| node_name(n)).collect();
    let Some(ds) = plugins.first() else {
        if !view.can_judge(Kind::DaemonSet, STATIC_NAMESPACE) {
            return draft;
        }
        draft.message.push_str(&format!(
            ": no NVIDIA device plugin DaemonSet runs, so GPU node{} {} register{} no GPU",
            if gpu_names.len() == 1 { "" } else { "s" },
            gpu_names.join(", "),
            if gpu_names.len() == 1 { "s" } else { "" }
        ));
        let about = ObjectRef::new("apps/v1", "DaemonSet", Some(STATIC_NAMESPACE), STATIC_NAME);
        return draft
            .about(about)
            .evidence(
                "no DaemonSet runs image nvcr.io/nvidia/k8s-device-plugin or carries the device plugin's labels (name=nvidia-device-plugin-ds, app=nvidia-device-plugin-daemonset, app.kubernetes.io/name=nvidia-device-plugin)",
            )
            .fix(Fix::manual(format!(
                "Deploy the NVIDIA device plugin on the GPU nodes (its Helm chart nvdp/nvidia-device-plugin, or the GPU operator), tolerating their taints; the nodes then list {NVIDIA_GPU} under Allocatable."
            )));
    };
    let ds_ref = ObjectRef::of(Kind::DaemonSet, &ds.metadata);
    let pods: Vec<&Pod> = view
        .workload(
            "DaemonSet",
            ds_ref.namespace.as_deref().unwrap_or_default(),
            &ds_ref.name,
        )
        .map(|w| view.pods_of(&w))
        .unwrap_or_default();
    let status = ds.status.as_ref();
    draft = draft.about(ds_ref.clone());
    draft = draft
        .caused_by("container-failures", ds_ref.clone())
        .caused_by("rollout-status", ds_ref.clone());
    draft.evidence.push(format!(
        "{ds_ref}: desired {}, ready {}",
        status.map_or(0, |s| s.desired_number_scheduled),
        status.map_or(0, |s| s.number_ready)
    ));
    let mut problems = Vec::new();
    for node in &gpu_nodes {
        let on: Vec<&&Pod> = pods
            .iter()
            .filter(|p| {
                p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name(node))
            })
            .collect();
        match on.first() {
            None => problems.push(format!(
                "has no pod on GPU node {}: {}",
                node_name(node),
                why_not_on(ds, node)
            )),
            Some(p) if !ready(p) => problems.push(format!(
                "has its pod {} on GPU node {} not ready ({})",
                p.metadata.name.as_deref().unwrap_or_default(),
                node_name(node),
                p.status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .unwrap_or("Unknown")
            )),
            Some(p) => problems.push(format!(
                "has its pod {} on GPU node {} ready yet registering no {NVIDIA_GPU}: its log says why (no driver, or the NVIDIA container runtime is not the node's default)",
                p.metadata.name.as_deref().unwrap_or_default(),
                node_name(node)
            )),
        }
    }
    draft.message.push_str(&format!(
        ": the device plugin {ds_ref} {}",
        problems.join("; ")
    ));
    draft.fix(Fix::manual(format!(
        "Make the device plugin {ds_ref} run and become ready on the GPU nodes ({}): match its nodeSelector and tolerations to their labels and taints, or fix what keeps its pods from starting; the nodes then list {NVIDIA_GPU} under Allocatable.",
        gpu_names.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::run;
    use crate::cluster::ObjectRef;

    #[test]
    fn no_device_plugin_at_all() {
        let from =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gpu-device-plugin");
        let tmp = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&from).unwrap().flatten() {
            std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
        }
        std::fs::write(
            tmp.path().join("daemonsets.yaml"),
            "apiVersion: apps/v1\nkind: DaemonSetList\nitems: []\n",
        )
        .unwrap();
        let view = crate::snapshot::load(tmp.path()).unwrap();
        let drafts = run("gpu-scheduling", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0].message.ends_with(
                "no NVIDIA device plugin DaemonSet runs, so GPU node gpu-t4-1 registers no GPU"
            ),
            "{}",
            drafts[0].message
        );
        assert_eq!(
            drafts[0].about,
            Some(ObjectRef::new(
                "apps/v1",
                "DaemonSet",
                Some("kube-system"),
                "nvidia-device-plugin-daemonset"
            ))
        );
    }

    /// gpu-device-plugin with healthy-gpu's device plugin (DaemonSet and pod,
    /// on the same node gpu-t4-1), its pod's Ready condition as given.
    fn plugin_on_the_node(ready: &str) -> crate::cluster::ClusterView {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let tmp = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(root.join("gpu-device-plugin"))
            .unwrap()
            .flatten()
        {
            std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
        }
        let healthy = root.join("healthy-gpu");
        std::fs::copy(
            healthy.join("daemonsets.yaml"),
            tmp.path().join("daemonsets.yaml"),
        )
        .unwrap();
        let pods: serde_json::Value =
            crate::yaml::from_str(&std::fs::read_to_string(healthy.join("pods.yaml")).unwrap())
                .unwrap();
        let mut plugin: Vec<serde_json::Value> = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["namespace"] == "kube-system")
            .cloned()
            .collect();
        for c in plugin[0]["status"]["conditions"].as_array_mut().unwrap() {
            if c["type"] == "Ready" {
                c["status"] = ready.into();
            }
        }
        let list = serde_json::json!({"apiVersion": "v1", "kind": "PodList", "items": plugin});
        std::fs::write(tmp.path().join("plugin-pods.json"), list.to_string()).unwrap();
        crate::snapshot::load(tmp.path()).unwrap()
    }

    #[test]
    fn the_device_plugin_runs_but_registers_nothing_or_is_not_ready() {
        let drafts = run("gpu-scheduling", "{}", &plugin_on_the_node("True"));
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0]
                .message
                .contains("on GPU node gpu-t4-1 ready yet registering no nvidia.com/gpu"),
            "{}",
            drafts[0].message
        );
        let drafts = run("gpu-scheduling", "{}", &plugin_on_the_node("False"));
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0]
                .message
                .contains("on GPU node gpu-t4-1 not ready (Running)"),
            "{}",
            drafts[0].message
        );
    }
}
