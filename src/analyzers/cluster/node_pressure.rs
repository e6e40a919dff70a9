//! `node-pressure`: nodes under memory, disk or PID pressure, pods the kubelet
//! evicted from them, and nodes whose pods request more than they can allocate
//! — the overloaded single-node cluster where everything fails at once.

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::analyzers::quantity::{Resources, show_bytes};
use crate::analyzers::workloads::unschedulable::node_usage;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "node-pressure",
    summary: "nodes under memory/disk/PID pressure, evicted pods, requests above allocatable",
    needs: &[Kind::Node, Kind::Pod],
    optional: &[Kind::Deployment, Kind::ReplicaSet, Kind::StatefulSet],
    data: &[],
    build: build::<NodePressure>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePressure {
    /// Node conditions that mean pressure when True.
    #[serde(default = "conditions")]
    conditions: Vec<String>,
    /// How many evicted pods to quote.
    #[serde(default = "five")]
    max_pods: usize,
}

fn conditions() -> Vec<String> {
    ["MemoryPressure", "DiskPressure", "PIDPressure"]
        .map(String::from)
        .to_vec()
}

fn five() -> usize {
    5
}

fn evicted(pod: &Pod) -> bool {
    pod.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Failed") && s.reason.as_deref() == Some("Evicted")
    })
}

impl Analyzer for NodePressure {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        // Nodes that could not be read skip the check through coverage (they are
        // needed); a snapshot without Node objects has nothing to judge.
        let mut drafts = Vec::new();
        let usage = node_usage(view);
        for node in view.nodes.iter() {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            let pressures: Vec<_> = node
                .status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .filter(|c| c.status == "True" && self.conditions.contains(&c.type_))
                .collect();
            let evictions: Vec<&Pod> = view
                .pods
                .iter()
                .filter(|p| evicted(p))
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name))
                .collect();
            let (alloc, used) = usage.get(name).copied().unwrap_or_default();
            let over_cpu = alloc.cpu > 0.0 && used.cpu > alloc.cpu;
            let over_memory = alloc.memory > 0.0 && used.memory > alloc.memory;
            if pressures.is_empty() && evictions.is_empty() && !over_cpu && !over_memory {
                continue;
            }
            let mut what = Vec::new();
            if !pressures.is_empty() {
                what.push(format!(
                    "under {}",
                    pressures
                        .iter()
                        .map(|c| c.type_.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
            }
            if !evictions.is_empty() {
                what.push(format!(
                    "{} pod{} evicted",
                    evictions.len(),
                    if evictions.len() == 1 { "" } else { "s" }
                ));
            }
            if over_memory {
                what.push(format!(
                    "its pods request {} of memory but it can allocate {}",
                    show_bytes(used.memory),
                    show_bytes(alloc.memory)
                ));
            }
            if over_cpu {
                what.push(format!(
                    "its pods request {} CPU but it can allocate {}",
                    crate::analyzers::quantity::show_cpu(used.cpu),
                    crate::analyzers::quantity::show_cpu(alloc.cpu)
                ));
            }
            let subject = ObjectRef::of(Kind::Node, &node.metadata);
            let mut draft = Draft::new(
                subject.clone().with_field("status.conditions"),
                format!("node {name} is overloaded: {}", what.join("; ")),
            );
            for c in &pressures {
                draft.evidence.push(format!(
                    "condition {}=True ({}) since {}: {}",
                    c.type_,
                    c.reason.as_deref().unwrap_or_default(),
                    c.last_transition_time
                        .as_ref()
                        .map(|t| t.0.to_string())
                        .unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                ));
            }
            draft.evidence.push(format!(
                "allocatable {}; requested by its pods {}",
                alloc.show(),
                used.show()
            ));
            for p in evictions.iter().take(self.max_pods) {
                draft.evidence.push(format!(
                    "pod {}/{} Evicted: {}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default(),
                    p.status
                        .as_ref()
                        .and_then(|s| s.message.as_deref())
                        .unwrap_or_default()
                ));
            }
            // The workload asking for the most memory on this node is the first to scale down.
            let biggest = view
                .pods
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name))
                .filter(|p| !evicted(p))
                .map(|p| {
                    (
                        view.owner_of_pod(p),
                        crate::analyzers::quantity::pod_requests(p),
                    )
                })
                .filter(|(o, _)| o.kind == "Deployment" || o.kind == "StatefulSet")
                .fold(Vec::<(ObjectRef, Resources)>::new(), |mut acc, (o, r)| {
                    match acc.iter_mut().find(|(x, _)| *x == o) {
                        Some(entry) => entry.1 = entry.1 + r,
                        None => acc.push((o, r)),
                    }
                    acc
                })
                .into_iter()
                .max_by(|a, b| a.1.memory.total_cmp(&b.1.memory));
            let mut description = format!(
                "Give node {name} room: stop or scale down workloads that need not run at the same time, lower requests that are larger than the workload uses, or add capacity (another node, or more memory for the VM that runs it)."
            );
            if !evictions.is_empty() {
                description.push_str(" Evicted pods stay listed until deleted: `kubectl delete pods -A --field-selector=status.phase=Failed`.");
            }
            let kubectl = match &biggest {
                Some((owner, r)) => {
                    description.push_str(&format!(
                        " The largest request on the node is {owner}'s ({}).",
                        r.show()
                    ));
                    format!(
                        "kubectl scale {}{} --replicas=0",
                        owner.kubectl_name(),
                        owner.kubectl_ns()
                    )
                }
                None => format!("kubectl describe node {name}"),
            };
            drafts.push(draft.fix(Fix::manual(description).with_kubectl(kubectl)));
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn training_overload_node_under_pressure() {
        let drafts = run("node-pressure", "{}", &fixture("training-overload"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn requests_above_allocatable_fire_alone() {
        let mut view = fixture("healthy-serving");
        let mut node = view.nodes.iter().next().expect("a node").clone();
        let status = node.status.as_mut().expect("status");
        status.allocatable.as_mut().expect("allocatable").insert(
            "memory".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity("2Gi".into()),
        );
        view.nodes.insert(node);
        let drafts = run("node-pressure", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert_eq!(
            drafts[0].message,
            "node node-1 is overloaded: its pods request 2.5Gi of memory but it can allocate 2Gi"
        );
        assert_eq!(
            drafts[0].fix.as_ref().and_then(|f| f.kubectl.as_deref()),
            Some("kubectl scale deployment/churn-model -n ml --replicas=0")
        );
    }

    #[test]
    fn healthy_serving_node_has_room() {
        assert_eq!(
            run("node-pressure", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
