//! Bounded log tails, chosen by relevance within [`MAX_LOGS`]: first the
//! containers whose logs decide a finding (restarting ones with their previous
//! log, not-ready ones, and the suspects other objects point at: the Seldon
//! dataflow engine, model servers, pods with BackOff/Unhealthy/Failed
//! warnings), then running ones, whose logs may say what is wrong while the pod
//! looks fine (a trainer that retries forever on a missing variable): one pod
//! per workload, round-robin across workloads and namespaces, so a Deployment
//! of 150 replicas cannot crowd out the one trainer.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::http::Api;
use super::list::encode;
use crate::analyzers::seldon::dataflow::DATAFLOW_COMPONENT;
use crate::cluster::{ClusterView, CoverageRecord, CoverageResult, Kind, LogKey, ObjectRef};
use crate::snapshot::MAX_LOG_BYTES;

/// Lines of each log tail, as `kubectl logs --tail`.
pub const TAIL_LINES: u32 = 200;
/// At most this many logs per run, so a big cluster stays quick.
pub const MAX_LOGS: usize = 100;
/// The coverage resource of container logs (read with `get pods/log`).
pub const LOG_RESOURCE: &str = "pods/log";

/// Warning event reasons that make a pod a suspect: its log says why.
const WARNING_REASONS: [&str; 3] = ["BackOff", "Unhealthy", "Failed"];
/// The label a Seldon Server's StatefulSet puts on its replicas.
const SERVER_POD_LABEL: &str = "seldon-server-name";
const NAME_LABEL: &str = "app.kubernetes.io/name";

/// The logs to read, and those the budget left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Most telling first, at most [`MAX_LOGS`].
    pub keys: Vec<LogKey>,
    /// Logs worth reading that did not fit in [`MAX_LOGS`], in the same order.
    pub left_out: Vec<LogKey>,
}

impl Wanted {
    /// The coverage record that says the budget cut logs, when it did: in the
    /// namespace of the logs left out when they are all in one, else cluster-wide.
    pub fn coverage(&self) -> Option<CoverageRecord> {
        let first = self.left_out.first()?;
        let one_namespace = self.left_out.iter().all(|k| k.namespace == first.namespace);
        Some(CoverageRecord {
            group: String::new(),
            version: "v1".into(),
            resource: LOG_RESOURCE.into(),
            namespace: one_namespace.then(|| first.namespace.clone()),
            result: CoverageResult::Limited,
            message: format!(
                "{} of {} container logs not read: at most {MAX_LOGS} a run, the most relevant first",
                self.left_out.len(),
                self.left_out.len() + self.keys.len()
            ),
        })
    }
}

/// Why a container's log is worth reading, most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Relevance {
    /// Restarted: its previous log says why it died.
    Restarting,
    NotReady,
    /// Running and ready, in a pod something else points at.
    Suspect,
    Running,
}

/// One container log that could be read, with what orders it.
struct Candidate {
    relevance: Relevance,
    /// The workload that owns the pod: (namespace, kind, name).
    workload: (String, String, String),
    /// Position of the container in the pod (init containers first).
    position: usize,
    key: LogKey,
}

/// The logs worth reading, most telling first, at most [`MAX_LOGS`]: current and
/// previous for restarted containers, current for those not ready and for the
/// running containers of suspect pods; then current for other running ones,
/// one pod per workload per round, workloads of different namespaces
/// interleaved. The order depends only on the objects, never on the order the
/// API server listed them in. Completed pods and init containers are left out.
///
/// Called before [`ClusterView::finish`]: it reads the stores, never the indexes.
pub fn wanted(view: &ClusterView) -> Wanted {
    let warned = warned_pods(view);
    let mut candidates = Vec::new();
    for pod in view.pods.iter() {
        let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        let Some(status) = &pod.status else { continue };
        if status.phase.as_deref() == Some("Succeeded") {
            continue;
        }
        let owner = view.owner_of_pod(pod);
        let suspect = warned.contains(&(ns.as_str(), name.as_str()))
            || dataflow_engine(pod, &owner)
            || model_server(view, pod, &owner);
        let workload = (ns.clone(), owner.kind, owner.name);
        let statuses = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for (position, c) in statuses.enumerate() {
            let relevance = if c.restart_count > 0 {
                Relevance::Restarting
            } else if completed(c) {
                continue;
            } else if !c.ready {
                Relevance::NotReady
            } else if suspect {
                Relevance::Suspect
            } else {
                Relevance::Running
            };
            let previous = if relevance == Relevance::Restarting {
                &[true, false][..]
            } else {
                &[false][..]
            };
            for &previous in previous {
                candidates.push(Candidate {
                    relevance,
                    workload: workload.clone(),
                    position,
                    key: LogKey {
                        namespace: ns.clone(),
                        pod: name.clone(),
                        container: c.name.clone(),
                        previous,
                    },
                });
            }
        }
    }
    let mut keys = order(candidates);
    let left_out = keys.split_off(keys.len().min(MAX_LOGS));
    Wanted { keys, left_out }
}

/// Sort candidates: by relevance; within it by round (the rank of the pod in
/// its workload, so every workload gets one pod before any gets two, a workload
/// already read for a more telling reason starting its running pods one round
/// later), then by the workload's rank in its namespace (so namespaces take
/// turns), then by names. Previous logs before current ones.
fn order(candidates: Vec<Candidate>) -> Vec<LogKey> {
    type Workload = (String, String, String);
    // The pods of each workload and relevance, by name.
    let mut pods: BTreeMap<(Relevance, &Workload), BTreeSet<&str>> = BTreeMap::new();
    for c in &candidates {
        pods.entry((c.relevance, &c.workload))
            .or_default()
            .insert(&c.key.pod);
    }
    let telling: BTreeSet<&Workload> = pods
        .keys()
        .filter(|(r, _)| *r != Relevance::Running)
        .map(|(_, w)| *w)
        .collect();
    // Each workload's rank among its namespace's workloads, by kind and name.
    let mut workloads: BTreeSet<&Workload> = BTreeSet::new();
    workloads.extend(candidates.iter().map(|c| &c.workload));
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let slot: BTreeMap<&Workload, usize> = workloads
        .into_iter()
        .map(|w| {
            let n = seen.entry(w.0.as_str()).or_default();
            *n += 1;
            (w, *n - 1)
        })
        .collect();
    let rank: BTreeMap<(Relevance, &Workload, &str), usize> = pods
        .iter()
        .flat_map(|((r, w), names)| {
            names
                .iter()
                .enumerate()
                .map(move |(i, name)| ((*r, *w, *name), i))
        })
        .collect();
    let round = |c: &Candidate| {
        let rank = rank[&(c.relevance, &c.workload, c.key.pod.as_str())];
        let later = c.relevance == Relevance::Running && telling.contains(&c.workload);
        rank + usize::from(later)
    };
    let mut keyed: Vec<_> = candidates
        .iter()
        .map(|c| {
            (
                (
                    c.relevance,
                    round(c),
                    slot[&c.workload],
                    &c.workload,
                    &c.key.pod,
                    c.position,
                    !c.key.previous,
                ),
                &c.key,
            )
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, key)| key.clone()).collect()
}

/// Pods with a warning whose cause is in the log (BackOff, Unhealthy, Failed),
/// from the events listed, if any were.
fn warned_pods(view: &ClusterView) -> BTreeSet<(&str, &str)> {
    view.events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .filter(|e| {
            e.reason
                .as_deref()
                .is_some_and(|r| WARNING_REASONS.contains(&r))
        })
        .filter(|e| e.involved_object.kind.as_deref() == Some("Pod"))
        .filter_map(|e| {
            let ns = e
                .involved_object
                .namespace
                .as_deref()
                .or(e.metadata.namespace.as_deref())?;
            Some((ns, e.involved_object.name.as_deref()?))
        })
        .collect()
}

/// A pod of Seldon's dataflow engine: its Deployment's, or labelled as one.
fn dataflow_engine(pod: &Pod, owner: &ObjectRef) -> bool {
    (owner.kind == Kind::Deployment.info().kind && owner.name == DATAFLOW_COMPONENT)
        || label(pod, NAME_LABEL) == Some(DATAFLOW_COMPONENT)
}

/// A replica of a Seldon Server: its StatefulSet is named after a Server (or
/// owned by one), or the pod carries the Server's label.
fn model_server(view: &ClusterView, pod: &Pod, owner: &ObjectRef) -> bool {
    if label(pod, SERVER_POD_LABEL).is_some() {
        return true;
    }
    if owner.kind != Kind::StatefulSet.info().kind {
        return false;
    }
    let ns = owner.namespace.as_deref().unwrap_or_default();
    view.custom_get(Kind::SeldonServer, ns, &owner.name)
        .is_some()
        || view
            .stateful_sets
            .get(ns, &owner.name)
            .and_then(|s| s.metadata.owner_references.as_ref())
            .is_some_and(|owners| {
                owners.iter().any(|o| {
                    o.kind == Kind::SeldonServer.info().kind
                        && o.api_version.starts_with(Kind::SeldonServer.info().group)
                })
            })
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// An init container that finished its work is not ready, and that is fine.
fn completed(c: &ContainerStatus) -> bool {
    c.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .is_some_and(|t| t.exit_code == 0)
}

/// What reading one log tail gave.
pub enum Tail {
    Read(String),
    /// None there: a container that never started, no previous instance. A
    /// missing log is not a collection failure.
    Missing,
    /// The API server refused (401, 403): the account may not `get pods/log`.
    Forbidden,
}

/// The coverage record for the logs the account may not read: one per
/// namespace where any was refused, so a person knows the log-derived
/// findings there could not be looked for.
pub fn forbidden(refused: &[LogKey]) -> Vec<CoverageRecord> {
    let mut per_namespace: std::collections::BTreeMap<&str, usize> = Default::default();
    for key in refused {
        *per_namespace.entry(key.namespace.as_str()).or_default() += 1;
    }
    per_namespace
        .into_iter()
        .map(|(ns, n)| CoverageRecord {
            group: String::new(),
            version: "v1".into(),
            resource: LOG_RESOURCE.into(),
            namespace: Some(ns.to_string()),
            result: CoverageResult::Forbidden,
            message: format!(
                "{n} container log{} not read: the account may not get pods/log here, so findings read from logs (missing variables, crash reasons, the dataflow engine's errors) cannot be looked for",
                if n == 1 { "" } else { "s" }
            ),
        })
        .collect()
}

/// One log tail.
pub async fn fetch(api: &Api, key: &LogKey) -> Tail {
    let mut path = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={}&tailLines={TAIL_LINES}&limitBytes={MAX_LOG_BYTES}",
        key.namespace,
        key.pod,
        encode(&key.container)
    );
    if key.previous {
        path.push_str("&previous=true");
    }
    match api.get(&path).await {
        Ok(body) => Tail::Read(String::from_utf8_lossy(&body).into_owned()),
        Err(f) if matches!(f.code(), Some(401 | 403)) => Tail::Forbidden,
        Err(_) => Tail::Missing,
    }
}

#[cfg(test)]
mod tests {
    use crate::cluster::Event;
    use serde_json::{Value, json};

    use super::*;

    /// A pod in `ns` owned by `owner` (kind, name), its containers (name, ready, restarts).
    fn pod(
        ns: &str,
        name: &str,
        owner: Option<(&str, &str)>,
        labels: Value,
        containers: &[(&str, bool, i32)],
    ) -> Pod {
        let owners: Vec<Value> = owner
            .into_iter()
            .map(|(kind, name)| {
                let api_version = if kind == "Job" { "batch/v1" } else { "apps/v1" };
                json!({"apiVersion": api_version, "kind": kind, "name": name,
                       "uid": format!("uid-{name}"), "controller": true})
            })
            .collect();
        let statuses: Vec<Value> = containers
            .iter()
            .map(|(c, ready, restarts)| {
                json!({"name": c, "image": "i", "imageID": "", "ready": ready,
                       "restartCount": restarts, "state": {"running": {}}})
            })
            .collect();
        let specs: Vec<Value> = containers
            .iter()
            .map(|(c, ..)| json!({"name": c}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": owners},
            "spec": {"containers": specs},
            "status": {"phase": "Running", "containerStatuses": statuses},
        }))
        .unwrap()
    }

    /// A replica of Deployment `deployment` (its ReplicaSet not listed).
    fn replica(ns: &str, deployment: &str, i: usize, containers: &[(&str, bool, i32)]) -> Pod {
        pod(
            ns,
            &format!("{deployment}-5d9-{i:03}"),
            Some(("ReplicaSet", &format!("{deployment}-5d9"))),
            json!({"pod-template-hash": "5d9"}),
            containers,
        )
    }

    const READY: &[(&str, bool, i32)] = &[("main", true, 0)];

    /// 150 ready replicas of `web` in namespace a, and a ready trainer Job in b.
    fn crowded() -> ClusterView {
        let mut view = ClusterView::default();
        for i in 0..150 {
            view.pods.insert(replica("a", "web", i, READY));
        }
        view.pods.insert(pod(
            "b",
            "train-x7k2p",
            Some(("Job", "train")),
            json!({}),
            &[("trainer", true, 0)],
        ));
        view
    }

    fn position(keys: &[LogKey], pod: &str) -> Option<usize> {
        keys.iter().position(|k| k.pod == pod)
    }

    #[test]
    fn troubled_containers_first_previous_only_after_a_restart() {
        let view = crate::analyzers::testing::fixture("training-pipeline");
        let wanted = wanted(&view);
        assert!(wanted.left_out.is_empty() && wanted.coverage().is_none());
        let keys = wanted.keys;
        let status = |key: &LogKey| {
            let pod = view.pods.get(&key.namespace, &key.pod).unwrap();
            pod.status
                .as_ref()
                .unwrap()
                .container_statuses
                .iter()
                .flatten()
                .find(|c| c.name == key.container)
                .unwrap()
                .clone()
        };
        let troubled = |key: &LogKey| {
            let s = status(key);
            s.restart_count > 0 || !s.ready
        };
        let first_running = keys.iter().position(|k| !troubled(k)).unwrap();
        assert!(first_running > 0, "{keys:#?}");
        assert!(
            keys[first_running..]
                .iter()
                .all(|k| !troubled(k) && !k.previous)
        );
        assert!(
            keys.iter()
                .all(|k| !k.previous || status(k).restart_count > 0)
        );
        assert!(keys.iter().any(|k| k.pod.starts_with("train-lstm")));
    }

    #[test]
    fn a_lone_trainer_is_read_beside_150_replicas_and_the_cut_is_said() {
        let wanted = wanted(&crowded());
        assert_eq!(wanted.keys.len(), MAX_LOGS);
        // One pod per workload first: web's first replica, then the trainer.
        assert_eq!(position(&wanted.keys, "web-5d9-000"), Some(0));
        assert_eq!(position(&wanted.keys, "train-x7k2p"), Some(1));
        assert_eq!(wanted.keys[1].container, "trainer");
        assert_eq!(wanted.left_out.len(), 51);
        let gap = wanted.coverage().unwrap();
        assert_eq!(
            (gap.resource.as_str(), gap.namespace.as_deref(), gap.result),
            ("pods/log", Some("a"), CoverageResult::Limited)
        );
        assert_eq!(
            gap.describe(),
            "limited: get pods/log in namespace a (51 of 151 container logs not read: \
             at most 100 a run, the most relevant first)"
        );
        assert_eq!(gap.detail(), gap.describe());
    }

    #[test]
    fn a_restarting_container_always_comes_first_with_its_previous_log() {
        let mut view = crowded();
        // Last in the list and in name order, restarting, in a crowded namespace.
        view.pods.insert(replica(
            "z",
            "zz",
            9,
            &[("sidecar", true, 0), ("main", true, 3)],
        ));
        view.pods.insert(replica("z", "zz", 10, READY));
        let keys = wanted(&view).keys;
        let first: Vec<_> = keys[..2]
            .iter()
            .map(|k| (k.pod.as_str(), k.container.as_str(), k.previous))
            .collect();
        assert_eq!(
            first,
            [("zz-5d9-009", "main", true), ("zz-5d9-009", "main", false)]
        );
        // Its workload has had its turn: its running pods wait a round.
        let sidecar = keys
            .iter()
            .position(|k| k.pod == "zz-5d9-009" && k.container == "sidecar")
            .unwrap();
        assert!(sidecar > position(&keys, "train-x7k2p").unwrap());
        assert!(position(&keys, "web-5d9-001").unwrap() < sidecar);
    }

    #[test]
    fn every_workload_gets_one_pod_before_any_gets_two() {
        let mut view = ClusterView::default();
        for (ns, deployment, replicas) in [("a", "web", 5), ("a", "api", 3), ("b", "worker", 4)] {
            for i in 0..replicas {
                view.pods.insert(replica(ns, deployment, i, READY));
            }
        }
        view.pods
            .insert(pod("b", "debug", None, json!({}), &[("shell", true, 0)]));
        let keys = wanted(&view).keys;
        let pods: Vec<&str> = keys.iter().map(|k| k.pod.as_str()).collect();
        assert_eq!(
            pods[..8],
            [
                // Round one: namespaces take turns, workloads by kind and name.
                "api-5d9-000",
                "worker-5d9-000",
                "web-5d9-000",
                "debug",
                // Round two: the bare pod has no second.
                "api-5d9-001",
                "worker-5d9-001",
                "web-5d9-001",
                "api-5d9-002",
            ]
        );
        assert_eq!(keys.len(), 13);
    }

    #[test]
    fn suspects_are_read_before_running_pods() {
        let mut view = crowded();
        // The dataflow engine, by its Deployment; a model server, by its Server.
        view.pods.insert(replica(
            "y",
            DATAFLOW_COMPONENT,
            0,
            &[("dataflow-engine", true, 0)],
        ));
        view.pods.insert(pod(
            "y",
            "mlserver-0",
            Some(("StatefulSet", "mlserver")),
            json!({}),
            &[("mlserver", true, 0), ("agent", true, 0)],
        ));
        crate::snapshot::add_file(
            &mut view,
            std::path::Path::new("servers.yaml"),
            b"apiVersion: mlops.seldon.io/v1alpha1\nkind: Server\n\
              metadata: {name: mlserver, namespace: y}\nspec: {serverConfig: mlserver}\n",
        )
        .unwrap();
        // A replica of web with a BackOff warning, and one with a Normal event.
        let event = |pod: &str, type_: &str, reason: &str| -> Event {
            serde_json::from_value(json!({
                "metadata": {"name": format!("{pod}.1"), "namespace": "a"},
                "involvedObject": {"kind": "Pod", "name": pod, "namespace": "a"},
                "type": type_, "reason": reason,
            }))
            .unwrap()
        };
        view.events
            .insert(event("web-5d9-149", "Warning", "BackOff"));
        view.events.insert(event("web-5d9-148", "Normal", "Pulled"));
        let keys = wanted(&view).keys;
        let pods: Vec<&str> = keys[..4].iter().map(|k| k.pod.as_str()).collect();
        assert_eq!(
            pods,
            [
                "web-5d9-149",
                &format!("{DATAFLOW_COMPONENT}-5d9-000"),
                "mlserver-0",
                "mlserver-0",
            ]
        );
        assert!(position(&keys, "train-x7k2p").is_some());
        assert!(position(&keys, "web-5d9-148").is_none());
    }

    #[test]
    fn the_order_does_not_depend_on_the_list_order() {
        let forward = crowded();
        let mut backward = ClusterView::default();
        for pod in forward.pods.iter().rev() {
            backward.pods.insert(pod.clone());
        }
        let (a, b) = (wanted(&forward), wanted(&backward));
        assert_eq!(a, b);
        assert_eq!(a, wanted(&forward));
    }
}
