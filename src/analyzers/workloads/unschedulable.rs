//! `unschedulable`: pods the scheduler cannot place (`PodScheduled=False`,
//! reason `Unschedulable`), with the scheduler's message, what the pod
//! requests and what each node has left.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Deserialize;

use crate::analyzers::quantity::{
    Resources, container_requests, pod_requests, show_bytes, show_cpu,
};
use crate::analyzers::target::Target;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "unschedulable",
    summary: "pods the scheduler cannot place, with their requests and the nodes' free capacity",
    needs: crate::analyzers::WORKLOAD_KINDS,
    optional: &[Kind::ReplicaSet, Kind::Event, Kind::Node],
    data: &[],
    build: build::<Unschedulable>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Unschedulable {
    #[serde(default)]
    target: Target,
}

/// The scheduler's verdict on a pod, when it could not place it.
pub fn unschedulable(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
        .map(|c| c.message.clone().unwrap_or_default())
}

/// Each node's allocatable capacity and what the pods on it request, by node
/// name, in one pass over the pods (finished pods release their requests).
pub fn node_usage(view: &ClusterView) -> BTreeMap<&str, (Resources, Resources)> {
    let mut out: BTreeMap<&str, (Resources, Resources)> = view
        .nodes
        .iter()
        .map(|n: &Node| {
            let alloc = Resources::of(n.status.as_ref().and_then(|s| s.allocatable.as_ref()));
            (
                n.metadata.name.as_deref().unwrap_or_default(),
                (alloc, Resources::default()),
            )
        })
        .collect();
    for p in view.pods.iter() {
        let done = matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref())
            && !done
            && let Some(entry) = out.get_mut(node)
        {
            entry.1 = entry.1 + pod_requests(p);
        }
    }
    out
}

impl Analyzer for Unschedulable {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        let mut usage = None;
        for w in self.target.workloads(view) {
            let pending: Vec<(&Pod, String)> = view
                .pods_of(&w)
                .into_iter()
                .filter_map(|p| unschedulable(p).map(|m| (p, m)))
                .collect();
            let Some((first, message)) = pending.first() else {
                continue;
            };
            let requests = pod_requests(first);
            let short: Vec<&str> = ["cpu", "memory", "pods", "ephemeral-storage"]
                .into_iter()
                .filter(|r| message.contains(&format!("Insufficient {r}")))
                .collect();
            // The container asking for the most of what is short is the one to change.
            let biggest = w
                .spec
                .containers
                .iter()
                .max_by(|a, b| {
                    let (ra, rb) = (container_requests(a), container_requests(b));
                    let key = |r: Resources| {
                        if short.contains(&"cpu") && !short.contains(&"memory") {
                            r.cpu
                        } else {
                            r.memory
                        }
                    };
                    key(ra).total_cmp(&key(rb))
                })
                .expect("a pod spec has containers");
            let why = if short.is_empty() {
                message.clone()
            } else {
                format!("insufficient {}", short.join(" and "))
            };
            let mut draft = Draft::new(
                w.container_ref(biggest, "resources.requests"),
                format!(
                    "{} pod{} of {} cannot be scheduled: {why} (each pod requests {})",
                    pending.len(),
                    if pending.len() == 1 { "" } else { "s" },
                    w.object_ref(),
                    requests.show()
                ),
            );
            for (p, m) in &pending {
                draft.evidence.push(format!(
                    "pod {} PodScheduled=False (Unschedulable): {m}",
                    p.metadata.name.as_deref().unwrap_or_default()
                ));
            }
            for c in &w.spec.containers {
                draft.evidence.push(format!(
                    "container {} requests {}",
                    c.name,
                    container_requests(c).show()
                ));
            }
            let mut most_free = Resources::default();
            let usage = usage.get_or_insert_with(|| node_usage(view));
            for (node, (alloc, used)) in usage.iter() {
                let (alloc, used) = (*alloc, *used);
                let free = Resources {
                    cpu: (alloc.cpu - used.cpu).max(0.0),
                    memory: (alloc.memory - used.memory).max(0.0),
                };
                most_free.cpu = most_free.cpu.max(free.cpu);
                most_free.memory = most_free.memory.max(free.memory);
                draft.evidence.push(format!(
                    "node {node}: allocatable {}; requested by its pods {}; free {}",
                    alloc.show(),
                    used.show(),
                    free.show()
                ));
            }
            let first_name = first.metadata.name.as_deref().unwrap_or_default();
            if let Some(e) = view
                .events_for(Kind::Pod, w.namespace(), first_name)
                .into_iter()
                .rev()
                .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
            {
                draft.evidence.push(format!(
                    "event FailedScheduling ×{} on pod {first_name}: {}",
                    e.count.unwrap_or(1),
                    e.message.as_deref().unwrap_or_default()
                ));
            }
            // A pod asking for a GPU hangs under GPU001 on its workload, which
            // names why no node can take it.
            let gpu = !crate::analyzers::gpu::model::pod_gpus(first).is_empty();
            if gpu {
                draft = draft.caused_by("gpu-scheduling", w.object_ref());
                if short.is_empty() {
                    // Lowering CPU or memory would not help: nothing of those is short.
                    drafts.push(draft.fix(Fix::manual(format!(
                        "The scheduler names no shortage of CPU or memory for {}: its pods wait for the GPUs the GPU scheduling check (GPU001) explains.",
                        w.object_ref()
                    ))));
                    continue;
                }
            }
            for node in view.nodes.iter() {
                draft = draft.caused_by("node-pressure", ObjectRef::of(Kind::Node, &node.metadata));
            }
            let subject = w.object_ref();
            let mut flags = Vec::new();
            if short.contains(&"cpu") {
                flags.push(format!(
                    "cpu={}",
                    if view.nodes.is_empty() {
                        "<cpu>".to_string()
                    } else {
                        show_cpu(most_free.cpu.floor())
                    }
                ));
            }
            if short.contains(&"memory") || flags.is_empty() {
                flags.push(format!(
                    "memory={}",
                    if view.nodes.is_empty() {
                        "<memory>".to_string()
                    } else {
                        show_bytes(most_free.memory)
                    }
                ));
            }
            let scheduled = view.pods_of(&w).len() - pending.len();
            // When no node has even half of what a pod asks for, shrinking requests
            // would only hide the shortage: run fewer pods instead.
            let too_small = (short.contains(&"memory") && most_free.memory * 2.0 < requests.memory)
                || (short.contains(&"cpu") && most_free.cpu * 2.0 < requests.cpu);
            let scalable = matches!(w.kind, Kind::Deployment | Kind::StatefulSet);
            let mut description = if too_small && scalable && scheduled > 0 {
                format!(
                    "No node has room for another pod of {subject} (the most free is {}): run the {scheduled} pod{} that fit, or free capacity by scaling down workloads that need not run at the same time, or add a node / give the node more memory and CPU.",
                    most_free.show(),
                    if scheduled == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "Lower the requests of container {} to what a node has free ({}), or free capacity: scale down workloads that need not run at the same time, or add a node / give the node more memory and CPU.",
                    biggest.name,
                    most_free.show()
                )
            };
            if let Some(manager) = w.manager() {
                description.push_str(&format!(
                    " {subject} is managed by {manager}: change its values too."
                ));
            }
            let kubectl = if too_small && scalable && scheduled > 0 {
                format!(
                    "kubectl scale {}{} --replicas={scheduled}",
                    subject.kubectl_name(),
                    subject.kubectl_ns()
                )
            } else {
                format!(
                    "kubectl set resources {}{} -c {} --requests={}",
                    subject.kubectl_name(),
                    subject.kubectl_ns(),
                    biggest.name,
                    flags.join(",")
                )
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
    fn training_overload_pending_pods() {
        let drafts = run("unschedulable", "{}", &fixture("training-overload"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn gpu_pods_hang_under_the_gpu_check() {
        let drafts = run("unschedulable", "{}", &fixture("gpu-scheduling"));
        assert_eq!(drafts.len(), 3);
        for d in &drafts {
            let first = d.causes.first().expect("a cause hint");
            assert_eq!(first.analyzer, "gpu-scheduling");
            assert_eq!(first.subject, d.subject.object());
        }
    }

    #[test]
    fn healthy_serving_all_scheduled() {
        assert_eq!(
            run("unschedulable", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
