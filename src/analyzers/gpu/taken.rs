//! A GPU pod pending only because every GPU it could use is held by other
//! pods: the nodes have the resource, the pod tolerates them and fits them,
//! and the scheduler says `Insufficient nvidia.com/gpu`. The answer is who
//! holds the GPUs, since the usual holder is a notebook or an evaluation
//! left running, not a lack of nodes.

use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};

use super::model::{gpu_holders, is_condition_taint, node_gpus, node_name as name, untolerated};
use crate::analyzers::Draft;
use crate::cluster::{ClusterView, Workload};
use crate::report::findings::Fix;

/// A node the pod could run on, and who holds its GPUs.
pub struct Usable<'a> {
    pub node: &'a Node,
    pub allocatable: i64,
    pub holders: Vec<(&'a Pod, i64)>,
}

impl Usable<'_> {
    fn held(&self) -> i64 {
        self.holders.iter().map(|(_, n)| n).sum()
    }
}

/// The pods bound to `node` that hold some of `resource`.
fn holders<'a>(view: &'a ClusterView, node: &str, resource: &str) -> Vec<(&'a Pod, i64)> {
    let mut out: Vec<(&Pod, i64)> = gpu_holders(view)
        .filter(|(on, _, _)| *on == node)
        .filter_map(|(_, p, held)| held.get(resource).map(|n| (p, *n)))
        .collect();
    out.sort_by_key(|(p, _)| (p.metadata.namespace.clone(), p.metadata.name.clone()));
    out
}

/// Whether the pod's nodeSelector lets it onto `node`.
fn selected(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    spec.node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Every node the pod could use is full of `resource`, and the scheduler
/// says so (`says` is its Unschedulable message): the nodes, else `None`.
pub fn judge<'a>(
    view: &'a ClusterView,
    spec: &PodSpec,
    resource: &str,
    wanted: i64,
    says: &str,
) -> Option<Vec<Usable<'a>>> {
    if !says.contains(&format!("Insufficient {resource}")) {
        return None;
    }
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let usable: Vec<Usable> = view
        .nodes
        .iter()
        .filter(|n| selected(spec, n))
        .filter(|n| {
            untolerated(n, &tolerations)
                .iter()
                .all(|t| is_condition_taint(t))
        })
        .filter_map(|n| {
            let allocatable = *node_gpus(n).get(resource)?;
            (allocatable >= wanted).then(|| Usable {
                node: n,
                allocatable,
                holders: holders(view, name(n), resource),
            })
        })
        .collect();
    let full = !usable.is_empty() && usable.iter().all(|u| u.allocatable - u.held() < wanted);
    full.then_some(usable)
}

/// The finding: the nodes, their holders, and how to free a GPU.
pub fn draft(
    w: &Workload<'_>,
    count: &str,
    each: &str,
    resource: &str,
    usable: &[Usable<'_>],
    subject: crate::cluster::ObjectRef,
) -> Draft {
    let nodes: Vec<String> = usable
        .iter()
        .map(|u| {
            let held: Vec<String> = u
                .holders
                .iter()
                .map(|(p, n)| {
                    format!(
                        "{}/{} ({n})",
                        p.metadata.namespace.as_deref().unwrap_or_default(),
                        p.metadata.name.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            format!(
                "{} has {} and {} held by {}",
                name(u.node),
                u.allocatable,
                u.held(),
                if held.is_empty() {
                    "pods not read".to_string()
                } else {
                    held.join(", ")
                }
            )
        })
        .collect();
    let holders: Vec<&Pod> = usable
        .iter()
        .flat_map(|u| u.holders.iter().map(|(p, _)| *p))
        .collect();
    let mut draft = Draft::new(
        subject,
        format!(
            "{count} cannot be scheduled: every {resource} it could use is taken ({each}): {}",
            nodes.join("; ")
        ),
    );
    for p in &holders {
        let started = p
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .map(|t| t.0.to_string());
        draft.evidence.push(format!(
            "pod {}/{} holds {resource}{}{}",
            p.metadata.namespace.as_deref().unwrap_or_default(),
            p.metadata.name.as_deref().unwrap_or_default(),
            started.map_or(String::new(), |t| format!(", started {t}")),
            owner_of(p).map_or(String::new(), |o| format!(", of {o}"))
        ));
    }
    draft.fix(Fix::manual(format!(
        "Free a GPU for {}: stop a holder that no longer needs its GPU (a notebook or an evaluation left running holds it until it ends), give {} a higher PriorityClass so the scheduler may preempt lower-priority holders, or add GPU nodes (a cluster autoscaler adds them only from a node group with GPUs). Sharing a GPU (time-slicing or MIG in the device plugin's configuration) lets more pods fit.",
        w.object_ref(),
        w.object_ref()
    )))
}

/// `StatefulSet jupyter-alice`: the controller of a pod, for the evidence.
fn owner_of(p: &Pod) -> Option<String> {
    p.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| format!("{} {}", o.kind, o.name))
}
