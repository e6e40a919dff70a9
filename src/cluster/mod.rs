//! The ClusterView: everything collected from a cluster or read from a
//! snapshot, indexed for the lookups checks need. Checks only read it.

mod api_stats;
mod compact;
mod kinds;
mod lean;
mod object_ref;
mod observations;
pub mod selector;
mod store;
mod workload;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Node, Pod, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use api_stats::{ApiRequest, ApiStats};
pub use compact::Compact;
pub use kinds::{Kind, KindInfo};
pub use lean::{Endpoint, EndpointConditions, EndpointSlice, Event, ReplicaSet};
pub use object_ref::ObjectRef;
pub use observations::{
    CoverageRecord, CoverageResult, GroupState, KafkaBroker, KafkaGroup, KafkaObservation,
    KafkaOffset, KafkaTopic, PROXY_RESOURCE, ProbeResult,
};
pub use store::{DynamicObject, HasMeta, Store};
pub use workload::{Workload, manager_of, pod_label};

/// Which log of a container: the running one, or the one before the last restart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogKey {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub previous: bool,
}

/// (kind, namespace, name) of an object, as indexes key it.
type Key = (Kind, String, String);

#[derive(Debug, Default)]
pub struct ClusterView {
    pub namespaces: Store<Namespace>,
    pub nodes: Store<Node>,
    pub pods: Store<Pod>,
    pub services: Store<Service>,
    pub endpoints: Store<Endpoints>,
    pub endpoint_slices: Store<EndpointSlice>,
    pub config_maps: Store<ConfigMap>,
    pub secrets: Store<Secret>,
    pub events: Store<Event>,
    pub deployments: Store<Deployment>,
    pub replica_sets: Store<ReplicaSet>,
    pub stateful_sets: Store<StatefulSet>,
    pub daemon_sets: Store<DaemonSet>,
    pub jobs: Store<Job>,
    pub cron_jobs: Store<CronJob>,
    pub hpas: Store<HorizontalPodAutoscaler>,
    /// Custom resources of the kinds checks know (Seldon, KEDA, APIService).
    pub custom: BTreeMap<Kind, Store<DynamicObject>>,
    /// Objects of kinds no check reads: kept, so nothing read is silently dropped.
    pub other: Vec<DynamicObject>,
    pub logs: BTreeMap<LogKey, String>,
    pub kafka: Option<KafkaObservation>,
    pub probes: Vec<ProbeResult>,
    pub coverage: Vec<CoverageRecord>,
    /// How the API server answered during a live collection (`api.yaml`).
    pub api: Option<ApiStats>,
    /// Kinds that were collected (listed live, or present in the snapshot).
    pub collected: BTreeSet<Kind>,
    /// The namespaces the view was narrowed to (`-n`); objects elsewhere were
    /// not kept, so their absence proves nothing.
    pub scope: Option<BTreeSet<String>>,
    index: Index,
}

/// Joins computed once after loading, so checks never do quadratic scans.
#[derive(Debug, Default)]
struct Index {
    /// Pod position → the workload that ultimately owns it.
    pods_by_owner: HashMap<Key, Vec<usize>>,
    /// Event position by the object it is about.
    events_by_object: HashMap<Key, Vec<usize>>,
    /// Namespaces any object lives in.
    namespaces_seen: BTreeSet<String>,
}

impl ClusterView {
    /// Custom resources of one kind (empty when none were collected).
    pub fn custom(&self, kind: Kind) -> impl Iterator<Item = &DynamicObject> {
        self.custom.get(&kind).into_iter().flat_map(Store::iter)
    }

    pub fn custom_get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&DynamicObject> {
        self.custom.get(&kind).and_then(|s| s.get(namespace, name))
    }

    /// The metadata of the object a reference names, if it is in the view.
    pub fn object_meta(&self, r: &ObjectRef) -> Option<&ObjectMeta> {
        let ns = r.namespace.as_deref().unwrap_or_default();
        let name = r.name.as_str();
        fn get<'a, K: HasMeta>(s: &'a Store<K>, ns: &str, name: &str) -> Option<&'a ObjectMeta> {
            s.get(ns, name).map(HasMeta::meta)
        }
        match Kind::from_object(&r.api_version, &r.kind)? {
            Kind::Namespace => get(&self.namespaces, "", name),
            Kind::Node => get(&self.nodes, "", name),
            Kind::Pod => get(&self.pods, ns, name),
            Kind::Service => get(&self.services, ns, name),
            Kind::Endpoints => get(&self.endpoints, ns, name),
            Kind::EndpointSlice => get(&self.endpoint_slices, ns, name),
            Kind::ConfigMap => get(&self.config_maps, ns, name),
            Kind::Secret => get(&self.secrets, ns, name),
            Kind::Event => get(&self.events, ns, name),
            Kind::Deployment => get(&self.deployments, ns, name),
            Kind::ReplicaSet => get(&self.replica_sets, ns, name),
            Kind::StatefulSet => get(&self.stateful_sets, ns, name),
            Kind::DaemonSet => get(&self.daemon_sets, ns, name),
            Kind::Job => get(&self.jobs, ns, name),
            Kind::CronJob => get(&self.cron_jobs, ns, name),
            Kind::HorizontalPodAutoscaler => get(&self.hpas, ns, name),
            custom => self.custom.get(&custom).and_then(|s| get(s, ns, name)),
        }
    }

    /// The custom resource an operator's label on `r` says it was rendered
    /// for ([`kinds::RENDERED_BY_LABEL`]), in `r`'s namespace.
    pub fn rendered_by(&self, r: &ObjectRef) -> Option<ObjectRef> {
        let labels = self.object_meta(r)?.labels.as_ref()?;
        kinds::RENDERED_BY_LABEL.iter().find_map(|(label, kind)| {
            let name = labels.get(*label)?;
            Some(ObjectRef::new(
                &kind.api_version(),
                kind.info().kind,
                r.namespace.as_deref(),
                name,
            ))
        })
    }

    /// Was this kind collected? A kind absent from a snapshot was not.
    pub fn has(&self, kind: Kind) -> bool {
        self.collected.contains(&kind)
    }

    /// What stopped a kind from being collected, if anything did.
    pub fn coverage_gap(&self, kind: Kind) -> Option<&CoverageRecord> {
        let info = kind.info();
        self.coverage
            .iter()
            .find(|c| c.group == info.group && c.resource == info.plural)
    }

    /// Whether objects of this namespace were kept (every namespace unless `-n`).
    pub fn in_scope(&self, namespace: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|scope| scope.contains(namespace))
    }

    /// Whether objects of `kind` in `namespace` were read, so that an absent
    /// one really is absent: the kind was collected and no coverage record says
    /// it was unreadable there (or cluster-wide).
    pub fn can_judge(&self, kind: Kind, namespace: &str) -> bool {
        let info = kind.info();
        self.has(kind)
            && self.in_scope(namespace)
            && !self.coverage.iter().any(|c| {
                c.group == info.group
                    && c.resource == info.plural
                    && c.namespace.as_deref().is_none_or(|ns| ns == namespace)
            })
    }

    /// Whether a namespace exists (as an object, or because something lives in it).
    pub fn namespace_exists(&self, namespace: &str) -> bool {
        self.namespaces.get("", namespace).is_some()
            || self.index.namespaces_seen.contains(namespace)
    }

    /// All namespaces that hold objects, sorted.
    pub fn namespace_names(&self) -> impl Iterator<Item = &str> {
        self.index.namespaces_seen.iter().map(String::as_str)
    }

    /// Every workload: Deployments, StatefulSets, DaemonSets, Jobs not made by a
    /// CronJob, CronJobs, and Pods that no controller owns.
    pub fn workloads(&self) -> Vec<Workload<'_>> {
        let mut out = Vec::new();
        out.extend(self.deployments.iter().filter_map(workload::of_deployment));
        out.extend(
            self.stateful_sets
                .iter()
                .filter_map(workload::of_stateful_set),
        );
        out.extend(self.daemon_sets.iter().filter_map(workload::of_daemon_set));
        out.extend(
            self.jobs
                .iter()
                .filter(|j| owner_kind(&j.metadata) != Some("CronJob"))
                .filter_map(workload::of_job),
        );
        out.extend(self.cron_jobs.iter().filter_map(workload::of_cron_job));
        out.extend(
            self.pods
                .iter()
                .filter(|p| owner_kind(&p.metadata).is_none())
                .filter_map(workload::of_pod),
        );
        out
    }

    /// One workload by kind (`Deployment`, `StatefulSet`, …), namespace and name,
    /// by index: callers that look one up per object stay linear.
    pub fn workload(&self, kind: &str, namespace: &str, name: &str) -> Option<Workload<'_>> {
        match kind {
            "Deployment" => self
                .deployments
                .get(namespace, name)
                .and_then(workload::of_deployment),
            "StatefulSet" => self
                .stateful_sets
                .get(namespace, name)
                .and_then(workload::of_stateful_set),
            "DaemonSet" => self
                .daemon_sets
                .get(namespace, name)
                .and_then(workload::of_daemon_set),
            "Job" => self.jobs.get(namespace, name).and_then(workload::of_job),
            "CronJob" => self
                .cron_jobs
                .get(namespace, name)
                .and_then(workload::of_cron_job),
            "Pod" => self.pods.get(namespace, name).and_then(workload::of_pod),
            _ => None,
        }
    }

    /// The pods a workload runs, found through owner references (ReplicaSet →
    /// Deployment, Job → CronJob) so renamed labels cannot mislead it.
    pub fn pods_of(&self, workload: &Workload<'_>) -> Vec<&Pod> {
        let key = (
            workload.kind,
            workload.namespace().to_string(),
            workload.name().to_string(),
        );
        if workload.kind == Kind::Pod {
            return self.pods.get(&key.1, &key.2).into_iter().collect();
        }
        self.index
            .pods_by_owner
            .get(&key)
            .map(|ids| ids.iter().filter_map(|&i| self.pods.at(i)).collect())
            .unwrap_or_default()
    }

    /// The workload that ultimately owns a pod (the pod itself when nothing does).
    pub fn owner_of_pod(&self, pod: &Pod) -> ObjectRef {
        let (kind, ns, name) = self.top_owner(&pod.metadata, Kind::Pod);
        ObjectRef::new(&kind.api_version(), kind.info().kind, Some(&ns), &name)
    }

    /// Pods in a namespace selected by a Service-style selector.
    pub fn pods_selected<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods
            .in_namespace(namespace)
            .filter(move |p| selector::map_selects(selector, p.metadata.labels.as_ref()))
    }

    /// The workloads whose pods a Service selects (by their pod template's
    /// labels, so a workload with no pod left still counts).
    pub fn workloads_behind(&self, namespace: &str, service: &str) -> Vec<Workload<'_>> {
        let Some(selector) = self
            .services
            .get(namespace, service)
            .and_then(|s| s.spec.as_ref()?.selector.as_ref())
            .filter(|s| !s.is_empty())
        else {
            return Vec::new();
        };
        self.workloads()
            .into_iter()
            .filter(|w| {
                w.namespace() == namespace
                    && selector::map_selects(
                        selector,
                        w.template_meta.and_then(|m| m.labels.as_ref()),
                    )
            })
            .collect()
    }

    /// Events about an object, oldest first.
    pub fn events_for(&self, kind: Kind, namespace: &str, name: &str) -> Vec<&Event> {
        let key = (kind, namespace.to_string(), name.to_string());
        let mut events: Vec<&Event> = self
            .index
            .events_by_object
            .get(&key)
            .map(|ids| ids.iter().filter_map(|&i| self.events.at(i)).collect())
            .unwrap_or_default();
        events.sort_by_key(|e| event_time(e));
        events
    }

    /// The log tail of a container, current or previous.
    pub fn log(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Option<&str> {
        self.logs
            .get(&LogKey {
                namespace: namespace.to_string(),
                pod: pod.to_string(),
                container: container.to_string(),
                previous,
            })
            .map(String::as_str)
    }

    /// Both logs of a container (previous first, as they happened), whichever exist.
    pub fn logs_of<'a>(
        &'a self,
        namespace: &'a str,
        pod: &'a str,
        container: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        [true, false]
            .into_iter()
            .filter_map(move |previous| self.log(namespace, pod, container, previous))
    }

    /// Ready endpoint addresses of a Service, from EndpointSlices or else Endpoints.
    /// `None` when neither kind was collected, so the answer is unknown.
    pub fn ready_endpoints(&self, namespace: &str, service: &str) -> Option<usize> {
        if self.has(Kind::EndpointSlice) {
            let count = self
                .endpoint_slices
                .in_namespace(namespace)
                .filter(|s| {
                    s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("kubernetes.io/service-name"))
                        == Some(&service.to_string())
                })
                .flat_map(|s| s.endpoints.iter())
                .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
                .map(|e| e.addresses.len())
                .sum();
            return Some(count);
        }
        if self.has(Kind::Endpoints) {
            let count = self
                .endpoints
                .get(namespace, service)
                .map(|e| {
                    e.subsets
                        .iter()
                        .flatten()
                        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                        .sum()
                })
                .unwrap_or(0);
            return Some(count);
        }
        None
    }

    /// Build the indexes. Called once by whoever filled the view.
    /// Move everything `part` holds into this view: the live collector types each
    /// kind into a view of its own while the others are still being listed.
    /// Indexes are built by [`ClusterView::finish`] afterwards.
    pub fn absorb(&mut self, part: ClusterView) {
        let ClusterView {
            namespaces,
            nodes,
            pods,
            services,
            endpoints,
            endpoint_slices,
            config_maps,
            secrets,
            events,
            deployments,
            replica_sets,
            stateful_sets,
            daemon_sets,
            jobs,
            cron_jobs,
            hpas,
            custom,
            other,
            logs,
            kafka,
            probes,
            coverage,
            api,
            collected,
            scope,
            index: _,
        } = part;
        self.namespaces.append(namespaces);
        self.nodes.append(nodes);
        self.pods.append(pods);
        self.services.append(services);
        self.endpoints.append(endpoints);
        self.endpoint_slices.append(endpoint_slices);
        self.config_maps.append(config_maps);
        self.secrets.append(secrets);
        self.events.append(events);
        self.deployments.append(deployments);
        self.replica_sets.append(replica_sets);
        self.stateful_sets.append(stateful_sets);
        self.daemon_sets.append(daemon_sets);
        self.jobs.append(jobs);
        self.cron_jobs.append(cron_jobs);
        self.hpas.append(hpas);
        for (kind, store) in custom {
            self.custom.entry(kind).or_default().append(store);
        }
        self.other.extend(other);
        self.logs.extend(logs);
        self.kafka = self.kafka.take().or(kafka);
        self.probes.extend(probes);
        self.coverage.extend(coverage);
        self.api = self.api.take().or(api);
        self.collected.extend(collected);
        if let Some(scope) = scope {
            self.scope.get_or_insert_default().extend(scope);
        }
    }

    pub fn finish(&mut self) {
        let mut index = Index::default();
        for (i, pod) in self.pods.iter().enumerate() {
            let owner = self.top_owner(&pod.metadata, Kind::Pod);
            if owner.0 != Kind::Pod {
                index.pods_by_owner.entry(owner).or_default().push(i);
            }
        }
        for (i, event) in self.events.iter().enumerate() {
            let obj = &event.involved_object;
            let kind = obj
                .kind
                .as_deref()
                .and_then(|k| Kind::from_object(obj.api_version.as_deref().unwrap_or("v1"), k));
            if let (Some(kind), Some(name)) = (kind, obj.name.as_ref()) {
                let ns = obj
                    .namespace
                    .clone()
                    .or_else(|| event.metadata.namespace.clone())
                    .unwrap_or_default();
                index
                    .events_by_object
                    .entry((kind, ns, name.clone()))
                    .or_default()
                    .push(i);
            }
        }
        index.namespaces_seen = self
            .all_meta()
            .filter_map(|m| m.namespace.clone())
            .collect();
        index.namespaces_seen.extend(
            self.namespaces
                .iter()
                .filter_map(|n| n.metadata.name.clone()),
        );
        self.index = index;
    }

    /// Keep only objects in these namespaces (and cluster-scoped ones). Used for `-n`.
    pub fn restrict_to(&mut self, namespaces: &BTreeSet<String>) {
        fn keep<K: HasMeta>(store: &mut Store<K>, namespaces: &BTreeSet<String>) {
            store.retain(|o| {
                o.meta()
                    .namespace
                    .as_ref()
                    .is_none_or(|ns| namespaces.contains(ns))
            });
        }
        keep(&mut self.pods, namespaces);
        keep(&mut self.services, namespaces);
        keep(&mut self.endpoints, namespaces);
        keep(&mut self.endpoint_slices, namespaces);
        keep(&mut self.config_maps, namespaces);
        keep(&mut self.secrets, namespaces);
        keep(&mut self.events, namespaces);
        keep(&mut self.deployments, namespaces);
        keep(&mut self.replica_sets, namespaces);
        keep(&mut self.stateful_sets, namespaces);
        keep(&mut self.daemon_sets, namespaces);
        keep(&mut self.jobs, namespaces);
        keep(&mut self.cron_jobs, namespaces);
        keep(&mut self.hpas, namespaces);
        for store in self.custom.values_mut() {
            keep(store, namespaces);
        }
        self.other.retain(|o| {
            o.metadata
                .namespace
                .as_ref()
                .is_none_or(|ns| namespaces.contains(ns))
        });
        self.logs.retain(|k, _| namespaces.contains(&k.namespace));
        self.probes.retain(|p| namespaces.contains(&p.namespace));
        self.scope = Some(namespaces.clone());
        self.finish();
    }

    fn all_meta(&self) -> impl Iterator<Item = &ObjectMeta> {
        fn metas<K: HasMeta>(s: &Store<K>) -> impl Iterator<Item = &ObjectMeta> {
            s.iter().map(HasMeta::meta)
        }
        metas(&self.pods)
            .chain(metas(&self.services))
            .chain(metas(&self.config_maps))
            .chain(metas(&self.secrets))
            .chain(metas(&self.deployments))
            .chain(metas(&self.stateful_sets))
            .chain(metas(&self.daemon_sets))
            .chain(metas(&self.jobs))
            .chain(metas(&self.cron_jobs))
            .chain(metas(&self.hpas))
            .chain(self.custom.values().flat_map(metas))
            .chain(self.other.iter().map(|o| &o.metadata))
    }

    /// Follow controller owner references up to the top: Pod → ReplicaSet →
    /// Deployment, Pod → Job → CronJob. When the ReplicaSet is not in the view
    /// (a hand-made snapshot), its Deployment is its name less the pod-template-hash.
    /// Only a pod's ReplicaSet or Job is followed further, so an owner cycle in a
    /// hand-made snapshot (a ReplicaSet controlled by itself) cannot recurse forever.
    fn top_owner(&self, meta: &ObjectMeta, kind: Kind) -> Key {
        let ns = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let Some(owner) = controller(meta) else {
            return (kind, ns, name);
        };
        match owner.kind.as_str() {
            "ReplicaSet" => match self.replica_sets.get(&ns, &owner.name) {
                Some(rs) if kind == Kind::Pod => self.top_owner(&rs.metadata, Kind::ReplicaSet),
                Some(_) => (Kind::ReplicaSet, ns, owner.name.clone()),
                None => {
                    let hash = meta
                        .labels
                        .as_ref()
                        .and_then(|l| l.get("pod-template-hash"));
                    match hash.and_then(|h| owner.name.strip_suffix(&format!("-{h}"))) {
                        Some(deployment) => (Kind::Deployment, ns, deployment.to_string()),
                        None => (Kind::ReplicaSet, ns, owner.name.clone()),
                    }
                }
            },
            "Job" => match self.jobs.get(&ns, &owner.name) {
                Some(job) if kind == Kind::Pod => self.top_owner(&job.metadata, Kind::Job),
                _ => (Kind::Job, ns, owner.name.clone()),
            },
            other => match Kind::from_object(&owner.api_version, other) {
                Some(k) => (k, ns, owner.name.clone()),
                None => (kind, ns, name),
            },
        }
    }
}

fn controller(
    meta: &ObjectMeta,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    let owners = meta.owner_references.as_ref()?;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
}

fn owner_kind(meta: &ObjectMeta) -> Option<&str> {
    controller(meta).map(|o| o.kind.as_str())
}

/// When an event last happened, for ordering.
pub fn event_time(event: &Event) -> String {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .or_else(|| event.event_time.as_ref().map(|t| t.0.to_string()))
        .or_else(|| {
            event
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
        })
        .unwrap_or_default()
}
