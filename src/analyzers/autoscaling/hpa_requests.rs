//! `hpa-requests`: a Utilization target on a resource that some container of the
//! target's pods does not request. The HPA controller sums the requests of every
//! container (sidecars included) and gives up with `missing request for cpu in
//! container …` when one has none.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use serde::Deserialize;

use crate::analyzers::autoscaling::scaling::{
    self, event_lines, hpa_condition, hpa_target, keda_owner, metrics, qualified,
};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "hpa-requests",
    summary: "Utilization targets on a resource some container of the target does not request",
    needs: &[
        Kind::HorizontalPodAutoscaler,
        Kind::Deployment,
        Kind::StatefulSet,
    ],
    // Pods show requests a LimitRange defaulted; ScaledObjects name KEDA's HPAs.
    optional: &[Kind::Pod, Kind::ReplicaSet, Kind::ScaledObject, Kind::Event],
    data: &[],
    build: build::<HpaRequests>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HpaRequests {}

/// A container of a workload that lacks a request, and who needs it.
#[derive(Default)]
struct Gap {
    hpas: Vec<String>,
    evidence: Vec<String>,
}

impl Analyzer for HpaRequests {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.hpas.is_empty() {
            return Err("not applicable: no HorizontalPodAutoscalers".into());
        }
        // (workload kind, namespace, name, container, resource) → the HPAs that need it.
        let mut gaps: BTreeMap<(Kind, String, String, String, String), Gap> = BTreeMap::new();
        for hpa in view.hpas.iter() {
            let Some(w) = hpa_target(view, hpa) else {
                continue;
            };
            let pods = view.pods_of(&w);
            for m in metrics(hpa) {
                let (resource, only) = match (&m.resource, &m.container_resource) {
                    (Some(r), _) if r.target.type_ == "Utilization" => (r.name.as_str(), None),
                    (_, Some(c)) if c.target.type_ == "Utilization" => {
                        (c.name.as_str(), Some(c.container.as_str()))
                    }
                    _ => continue,
                };
                if pod_level_request(&w, resource) {
                    continue;
                }
                for c in counted(&w) {
                    if only.is_some_and(|o| o != c.name) || requests(c, resource) {
                        continue;
                    }
                    if defaulted_in_pods(&pods, &c.name, resource) {
                        continue; // a LimitRange gave the running pods a request
                    }
                    let key = (
                        w.kind,
                        w.namespace().to_string(),
                        w.name().to_string(),
                        c.name.clone(),
                        resource.to_string(),
                    );
                    let gap = gaps.entry(key).or_default();
                    let mut who = format!("HPA {}", qualified(&hpa.metadata));
                    if let Some(so) = keda_owner(view, hpa) {
                        who.push_str(&format!(
                            " (made by KEDA for ScaledObject {})",
                            qualified(&so.metadata)
                        ));
                    }
                    gap.hpas.push(who.clone());
                    gap.evidence.push(format!(
                        "{who} scales {} on {}",
                        scaling::hpa_reference(hpa),
                        scaling::describe_metric(m)
                    ));
                    // The controller's words for this very container, when it said them.
                    let words = format!("missing request for {resource} in container {} ", c.name);
                    if let Some(cond) = hpa_condition(hpa, "ScalingActive")
                        .filter(|c| c.is("False") && c.message.contains(&words))
                    {
                        gap.evidence.push(format!(
                            "HPA {}: {}",
                            qualified(&hpa.metadata),
                            cond.line()
                        ));
                    } else {
                        gap.evidence.extend(
                            event_lines(
                                view,
                                Kind::HorizontalPodAutoscaler,
                                w.namespace(),
                                scaling::name_of(&hpa.metadata),
                                &[
                                    "FailedGetResourceMetric",
                                    "FailedGetContainerResourceMetric",
                                ],
                            )
                            .into_iter()
                            .filter(|l| l.contains(&words))
                            .take(1),
                        );
                    }
                }
            }
        }
        let mut drafts = Vec::new();
        for ((kind, ns, name, container, resource), gap) in gaps {
            let Some(w) = scaling::target_workload(view, &ns, kind.info().kind, &name) else {
                continue;
            };
            let mut draft = finding(&w, &container, &resource, gap);
            if !view.can_judge(Kind::Pod, &ns) {
                draft.evidence.push(
                    "pods were not collected: a request a LimitRange defaults into them would not show here"
                        .to_string(),
                );
            }
            drafts.push(draft);
        }
        Ok(drafts)
    }
}

/// The containers whose requests the HPA sums: regular containers and sidecars
/// (init containers with `restartPolicy: Always`).
fn counted<'a>(w: &Workload<'a>) -> impl Iterator<Item = &'a Container> + 'a {
    w.spec.containers.iter().chain(
        w.spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always")),
    )
}

/// A request, or a limit (the API server copies a limit into a missing request).
fn requests(c: &Container, resource: &str) -> bool {
    let r = c.resources.as_ref();
    r.and_then(|r| r.requests.as_ref())
        .is_some_and(|m| m.contains_key(resource))
        || r.and_then(|r| r.limits.as_ref())
            .is_some_and(|m| m.contains_key(resource))
}

fn pod_level_request(w: &Workload<'_>, resource: &str) -> bool {
    w.spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .is_some_and(|m| m.contains_key(resource))
}

fn defaulted_in_pods(pods: &[&Pod], container: &str, resource: &str) -> bool {
    !pods.is_empty()
        && pods.iter().all(|p| {
            p.spec
                .iter()
                .flat_map(|s| {
                    s.containers
                        .iter()
                        .chain(s.init_containers.iter().flatten())
                })
                .any(|c| c.name == container && requests(c, resource))
        })
}

fn finding(w: &Workload<'_>, container: &str, resource: &str, gap: Gap) -> Draft {
    let c = w
        .containers()
        .find(|c| c.name == container)
        .expect("container of this workload");
    let subject = w.object_ref();
    let sidecar = w
        .spec
        .init_containers
        .iter()
        .flatten()
        .any(|i| i.name == container);
    let mut draft = Draft::new(
        w.container_ref(c, &format!("resources.requests.{resource}")),
        format!(
            "{} scales {subject} on {resource} utilization, but {} {container} requests no {resource}: utilization is a percentage of the requests, so the HPA cannot compute it (missing request for {resource} in container {container})",
            gap.hpas.first().cloned().unwrap_or_default(),
            if sidecar { "sidecar" } else { "container" },
        ),
    );
    draft.evidence.extend(gap.evidence);
    let others: Vec<String> = counted(w)
        .filter(|o| o.name != container)
        .map(|o| {
            let req = o
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|m| m.get(resource))
                .map(|q| q.0.clone())
                .unwrap_or_else(|| "none".into());
            format!("{} requests {resource} {req}", o.name)
        })
        .collect();
    if !others.is_empty() {
        draft
            .evidence
            .push(format!("other containers: {}", others.join(", ")));
    }
    let mut description = format!(
        "Give container {container} of {subject} a {resource} request; the right value depends on what it uses, so mlopsctl applies only a value you give with `--set {resource}=VALUE` (with `--unsafe`). Every container counts, sidecars included; alternatively scale on a ContainerResource metric of the main container only."
    );
    if let Some(manager) = w.manager() {
        description.push_str(&format!(
            " {subject} is managed by {manager}: set the request in its values too, or the next upgrade removes it."
        ));
    }
    draft.fix(
        Fix::new(Applicability::Unsafe, description).with_kubectl(format!(
            "kubectl set resources {}{} -c {container} --requests={resource}=<value>",
            subject.kubectl_name(),
            subject.kubectl_ns()
        )),
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};
    use crate::analyzers::testing::{fixture, run};
    use crate::cluster::Store;

    #[test]
    fn sidecar_without_cpu_request() {
        let found = drafts("hpa-requests", "hpa-problems");
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].subject.field_path.as_deref(),
            Some("spec.template.spec.initContainers[log-shipper].resources.requests.cpu")
        );
        insta::assert_yaml_snapshot!(summary(&found));
    }

    fn cpu(q: &str) -> std::collections::BTreeMap<String, Quantity> {
        [("cpu".to_string(), Quantity(q.to_string()))]
            .into_iter()
            .collect()
    }

    #[test]
    fn a_limit_or_a_limitrange_default_counts_as_a_request() {
        // A limit: the API server copies it into the missing request.
        let mut view = fixture("hpa-problems");
        let deployments: Vec<Deployment> = view.deployments.iter().cloned().collect();
        view.deployments = Store::default();
        for mut d in deployments {
            let spec = d
                .spec
                .as_mut()
                .and_then(|s| s.template.spec.as_mut())
                .unwrap();
            for c in spec.init_containers.iter_mut().flatten() {
                c.resources.get_or_insert_default().limits = Some(cpu("100m"));
            }
            view.deployments.insert(d);
        }
        view.finish();
        assert!(run("hpa-requests", "{}", &view).is_empty());

        // Requests a LimitRange gave the running pods.
        let mut view = fixture("hpa-problems");
        let pods: Vec<Pod> = view.pods.iter().cloned().collect();
        view.pods = Store::default();
        for mut p in pods {
            for c in p
                .spec
                .as_mut()
                .unwrap()
                .init_containers
                .iter_mut()
                .flatten()
            {
                c.resources.get_or_insert_default().requests = Some(cpu("50m"));
            }
            view.pods.insert(p);
        }
        view.finish();
        assert!(run("hpa-requests", "{}", &view).is_empty());
    }

    #[test]
    fn quiet_when_every_container_requests() {
        silent_on(
            "hpa-requests",
            &[
                "healthy-autoscaling",
                "keda-autoscaling",
                "metrics-server-down",
                "keda-problems",
            ],
        );
    }
}
