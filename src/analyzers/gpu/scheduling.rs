//! `gpu-scheduling`: pods asking for a GPU (`nvidia.com/gpu`, a MIG profile,
//! `amd.com/gpu`) that the scheduler cannot place, with the reason judged
//! from the nodes: no node advertises the resource (the NVIDIA device plugin
//! is missing, not ready or not on the GPU nodes), every node that has it is
//! tainted against the pod, one pod asks for more than any node has, or the
//! MIG profile is one no node offers.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, Taint};
use serde::Deserialize;
use serde_json::json;

use super::model::{
    MIG_PREFIX, NVIDIA_GPU, gpus_in_use, is_condition_taint, is_gpu_node, node_gpus,
    node_name as name, pod_gpus, show_taint, toleration_for, untolerated,
};
use super::{plugin, taken};
use crate::analyzers::target::Target;
use crate::analyzers::workloads::unschedulable::unschedulable;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::plan::operation::Operation;
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "gpu-scheduling",
    summary: "GPU pods the scheduler cannot place: no device plugin, tainted GPU nodes, too many GPUs, a MIG profile no node offers",
    needs: &[
        Kind::Pod,
        Kind::Node,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
    ],
    optional: &[Kind::ReplicaSet, Kind::Event],
    data: &[],
    build: build::<GpuScheduling>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GpuScheduling {
    #[serde(default)]
    target: Target,
}

/// Why a GPU pod cannot be placed, judged from the nodes.
enum Verdict<'a> {
    /// No node advertises the resource.
    NotAdvertised,
    /// A MIG profile no node offers; the profiles nodes do offer.
    NoSuchProfile(BTreeMap<String, Vec<(&'a str, i64)>>),
    /// One pod asks for more than the largest node can allocate.
    TooMany { largest: (&'a str, i64) },
    /// Every node with the resource has placement taints (not the ones a
    /// node's condition sets) the pod does not tolerate.
    Tainted(Vec<(&'a Node, Vec<&'a Taint>)>),
    /// The pod could run on these nodes, but other pods hold their GPUs.
    Taken(Vec<taken::Usable<'a>>),
}

/// Why the pod cannot be placed; `says` is the scheduler's message.
fn judge<'a>(
    view: &'a ClusterView,
    spec: &PodSpec,
    resource: &str,
    wanted: i64,
    says: &str,
) -> Option<Verdict<'a>> {
    let offering: Vec<(&Node, i64)> = view
        .nodes
        .iter()
        .filter_map(|n| node_gpus(n).get(resource).map(|c| (n, *c)))
        .collect();
    if offering.is_empty() {
        if resource.starts_with(MIG_PREFIX) {
            let mut offered: BTreeMap<String, Vec<(&str, i64)>> = BTreeMap::new();
            for n in view.nodes.iter() {
                for (r, c) in node_gpus(n) {
                    if r.starts_with(MIG_PREFIX) || r == NVIDIA_GPU {
                        offered.entry(r).or_default().push((name(n), c));
                    }
                }
            }
            return Some(Verdict::NoSuchProfile(offered));
        }
        return Some(Verdict::NotAdvertised);
    }
    let largest = offering
        .iter()
        .max_by_key(|(n, c)| (*c, std::cmp::Reverse(name(n))))
        .map(|(n, c)| (name(n), *c))
        .expect("offering is not empty");
    if wanted > largest.1 {
        return Some(Verdict::TooMany { largest });
    }
    // The pod template's, so that a toleration added to it counts before the
    // pending pods are replaced.
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let blocked: Vec<(&Node, Vec<&Taint>)> = offering
        .iter()
        .map(|(n, _)| {
            let placement = untolerated(n, &tolerations)
                .into_iter()
                .filter(|t| !is_condition_taint(t))
                .collect();
            (*n, placement)
        })
        .collect();
    if blocked.iter().all(|(_, t)| !t.is_empty()) {
        return Some(Verdict::Tainted(blocked));
    }
    taken::judge(view, spec, resource, wanted, says).map(Verdict::Taken)
}

impl Analyzer for GpuScheduling {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        let mut in_use = None;
        for w in self.target.workloads(view) {
            let pods = view.pods_of(&w);
            let pending: Vec<(&Pod, String)> = pods
                .iter()
                .filter_map(|p| unschedulable(p).map(|m| (*p, m)))
                .filter(|(p, _)| !pod_gpus(p).is_empty())
                .collect();
            let Some((first, says)) = pending.first() else {
                continue;
            };
            let wants = pod_gpus(first);
            let Some((resource, wanted, verdict)) = wants
                .iter()
                .find_map(|(r, n)| judge(view, w.spec, r, *n, says).map(|v| (r.as_str(), *n, v)))
            else {
                continue;
            };
            let container = w
                .spec
                .containers
                .iter()
                .max_by_key(|c| {
                    super::model::container_gpus(c)
                        .get(resource)
                        .copied()
                        .unwrap_or(0)
                })
                .expect("a pod spec has containers");
            let subject = w.object_ref();
            let count = format!(
                "{} pod{} of {subject}",
                pending.len(),
                if pending.len() == 1 { "" } else { "s" }
            );
            let each = format!("each requests {wanted} {resource}");
            let mut evidence = Vec::new();
            for (p, m) in &pending {
                evidence.push(format!(
                    "pod {} PodScheduled=False (Unschedulable): {m}",
                    p.metadata.name.as_deref().unwrap_or_default()
                ));
            }
            let first_name = first.metadata.name.as_deref().unwrap_or_default();
            if let Some(e) = view
                .events_for(Kind::Pod, w.namespace(), first_name)
                .into_iter()
                .rev()
                .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
            {
                evidence.push(format!(
                    "event FailedScheduling ×{} on pod {first_name}: {}",
                    e.count.unwrap_or(1),
                    e.message.as_deref().unwrap_or_default()
                ));
            }
            let used = in_use.get_or_insert_with(|| gpus_in_use(view));
            for n in view.nodes.iter() {
                let offers = node_gpus(n);
                let held = used.get(name(n)).cloned().unwrap_or_default();
                let show = |m: &BTreeMap<String, i64>| {
                    if m.is_empty() {
                        "no GPU".to_string()
                    } else {
                        m.iter()
                            .map(|(r, c)| format!("{r} {c}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                let taints: Vec<String> = n
                    .spec
                    .as_ref()
                    .and_then(|s| s.taints.as_ref())
                    .into_iter()
                    .flatten()
                    .map(show_taint)
                    .collect();
                evidence.push(format!(
                    "node {}{}: allocatable {}; held by its pods {}; taints {}",
                    name(n),
                    if is_gpu_node(n) { " (GPU node)" } else { "" },
                    show(&offers),
                    show(&held),
                    if taints.is_empty() {
                        "none".to_string()
                    } else {
                        taints.join(", ")
                    }
                ));
            }
            let draft = match verdict {
                Verdict::NotAdvertised => {
                    let message = format!(
                        "{count} cannot be scheduled: no node advertises {resource} ({each})"
                    );
                    let draft = Draft::new(w.container_ref(container, "resources"), message);
                    if resource == NVIDIA_GPU {
                        plugin::explain(view, draft)
                    } else {
                        draft.fix(Fix::manual(format!(
                            "No node advertises {resource}: install and run the device plugin that registers it on the GPU nodes, then check `kubectl describe node` shows {resource} under Allocatable."
                        )))
                    }
                }
                Verdict::NoSuchProfile(offered) => {
                    let offers: Vec<String> = offered
                        .iter()
                        .map(|(r, nodes)| {
                            let on: Vec<String> =
                                nodes.iter().map(|(n, c)| format!("{n}: {c}")).collect();
                            format!("{r} ({})", on.join(", "))
                        })
                        .collect();
                    let offers = if offers.is_empty() {
                        "nodes offer no MIG profile and no whole GPU".to_string()
                    } else {
                        format!("nodes offer {}", offers.join("; "))
                    };
                    Draft::new(
                        w.container_ref(container, "resources"),
                        format!(
                            "{count} cannot be scheduled: the MIG profile {resource} is offered by no node ({each}); {offers}"
                        ),
                    )
                    .fix(Fix::manual(format!(
                        "Request a MIG profile the nodes offer in container {} instead of {resource} ({offers}), or have the GPU operator's MIG manager repartition a node into {resource} slices (its `nvidia.com/mig.config` label), which stops the pods using that GPU.",
                        container.name
                    )))
                }
                Verdict::TooMany { largest } => {
                    let mut description = format!(
                        "No single node has {wanted} {resource}: lower container {}'s {resource} to at most {} (spread the work over more pods, e.g. distributed training with one pod per node), or add a node with {wanted} GPUs.",
                        container.name, largest.1
                    );
                    let fix = if matches!(
                        w.kind,
                        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
                    ) {
                        Fix::manual(description).with_kubectl(format!(
                            "kubectl set resources {}{} -c {} --limits={resource}={n} --requests={resource}={n}",
                            subject.kubectl_name(),
                            subject.kubectl_ns(),
                            container.name,
                            n = largest.1
                        ))
                    } else {
                        description.push_str(&format!(
                            " The pod template of a {} cannot be changed in place: recreate it with the lower count.",
                            w.kind
                        ));
                        Fix::manual(description)
                    };
                    Draft::new(
                        w.container_ref(container, "resources"),
                        format!(
                            "{count} cannot be scheduled: {each}, more than any node has (the largest, {}, can allocate {})",
                            largest.0, largest.1
                        ),
                    )
                    .fix(fix)
                }
                Verdict::Taken(usable) => taken::draft(
                    &w,
                    &count,
                    &each,
                    resource,
                    &usable,
                    w.container_ref(container, "resources"),
                ),
                Verdict::Tainted(blocked) => tainted(
                    &w,
                    &count,
                    &each,
                    resource,
                    &blocked,
                    pods.len() == pending.len(),
                ),
            };
            let mut draft = draft;
            draft.evidence.extend(evidence);
            drafts.push(draft);
        }
        Ok(drafts)
    }
}

/// Every node with the resource is tainted against the pod: name the
/// tolerations to add; add them when one set of taints blocks every node and
/// the pod template can change.
fn tainted(
    w: &Workload<'_>,
    count: &str,
    each: &str,
    resource: &str,
    blocked: &[(&Node, Vec<&Taint>)],
    all_pending: bool,
) -> Draft {
    let sets: BTreeSet<Vec<String>> = blocked
        .iter()
        .map(|(_, t)| t.iter().map(|t| show_taint(t)).collect())
        .collect();
    let on: Vec<String> = blocked
        .iter()
        .map(|(n, t)| {
            let shown: Vec<String> = t.iter().map(|t| show_taint(t)).collect();
            format!("{} ({})", name(n), shown.join(", "))
        })
        .collect();
    let subject = w.object_ref();
    let draft = Draft::new(
        subject
            .clone()
            .with_field(format!("{}.tolerations", w.spec_path)),
        format!(
            "{count} cannot be scheduled: every node with {resource} has a taint the pod does not tolerate ({each}): {}",
            on.join("; ")
        ),
    );
    let mut seen = BTreeSet::new();
    let wanted: Vec<&Taint> = blocked
        .iter()
        .flat_map(|(_, t)| t.iter().copied())
        .filter(|t| seen.insert(show_taint(t)))
        .collect();
    let tolerations: Vec<serde_json::Value> = wanted
        .iter()
        .map(|t| serde_json::to_value(toleration_for(t)).expect("a toleration serializes"))
        .collect();
    let shown: Vec<String> = wanted.iter().map(|t| show_taint(t)).collect();
    let mut description = format!(
        "Add to {subject}'s pod template the toleration{} {} so its pods may run on the GPU nodes tainted {}.",
        if tolerations.len() == 1 { "" } else { "s" },
        serde_json::to_string(&tolerations).expect("JSON serializes"),
        shown.join(", ")
    );
    if let Some(manager) = w.manager() {
        description.push_str(&format!(
            " {subject} is managed by {manager}: add the toleration to its values too."
        ));
    }
    let patchable = matches!(w.kind, Kind::Deployment | Kind::StatefulSet);
    if sets.len() == 1 && patchable {
        // Only pods that cannot run are replaced when nothing of the workload runs.
        let applicability = if all_pending {
            Applicability::Safe
        } else {
            Applicability::Unsafe
        };
        let path = format!("{}/tolerations", w.spec_pointer());
        let op = Operation::patch(&subject, w.meta, applicability);
        let op = match &w.spec.tolerations {
            Some(current) => tolerations.iter().cloned().fold(
                op.test(
                    &path,
                    serde_json::to_value(current).expect("tolerations serialize"),
                ),
                |op, t| op.add(&format!("{path}/-"), t),
            ),
            None => op.add(&path, json!(tolerations)),
        };
        return draft.fix(Fix::new(applicability, description).with_operation(op));
    }
    if !patchable {
        description.push_str(&format!(
            " The pod template of a {} cannot be changed in place: recreate it with the toleration.",
            w.kind
        ));
    } else {
        description.push_str(" The GPU nodes carry different taints: choose the nodes the workload should run on and tolerate their taints.");
    }
    draft.fix(Fix::manual(description))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn gpu_scheduling_finds_each_reason() {
        let drafts = run("gpu-scheduling", "{}", &fixture("gpu-scheduling"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn the_device_plugin_not_on_the_gpu_node() {
        let drafts = run("gpu-scheduling", "{}", &fixture("gpu-device-plugin"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn every_gpu_taken_names_the_holders() {
        let drafts = run("gpu-scheduling", "{}", &fixture("gpu-exhausted"));
        assert_eq!(drafts.len(), 1);
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_gpu_training_is_quiet() {
        assert_eq!(
            run("gpu-scheduling", "{}", &fixture("healthy-gpu")),
            Vec::new()
        );
    }

    #[test]
    fn pods_without_gpus_are_not_judged() {
        assert_eq!(
            run("gpu-scheduling", "{}", &fixture("training-overload")),
            Vec::new()
        );
    }
}
