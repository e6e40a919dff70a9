//! Trims the spare room serde leaves in an object's lists once it is typed.
//!
//! JSON gives no length before a list, so serde grows each `Vec` as it reads:
//! a Vec of small elements starts at room for four. A pod's one
//! ContainerStatus (752 bytes inline) then takes 3 KB, its one port, owner
//! reference and host IP four times theirs. Trimmed, the same pod takes 7.2
//! KB instead of 10.1 KB; a big cluster's view is mostly such objects.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerStatus, Endpoints, Namespace, Node, Pod, PodSpec,
    PodTemplateSpec, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::lean::{EndpointSlice, Event, ReplicaSet};

/// A typed object whose lists can give back their spare room.
pub trait Compact {
    fn compact(&mut self);
}

/// A list, or an optional one, to trim.
trait Trim {
    fn trim(&mut self);
}

impl<T> Trim for Vec<T> {
    fn trim(&mut self) {
        self.shrink_to_fit();
    }
}

impl<T> Trim for Option<Vec<T>> {
    fn trim(&mut self) {
        if let Some(list) = self {
            list.shrink_to_fit();
        }
    }
}

/// Trim every list named, each of them a field reached through `Option`s.
macro_rules! trim {
    ($($list:expr),* $(,)?) => {$( $list.trim(); )*};
}

impl Compact for ObjectMeta {
    fn compact(&mut self) {
        trim!(self.owner_references, self.finalizers);
    }
}

impl Compact for Container {
    fn compact(&mut self) {
        trim!(
            self.args,
            self.command,
            self.env,
            self.env_from,
            self.ports,
            self.resize_policy,
            self.volume_devices,
            self.volume_mounts,
        );
    }
}

impl Compact for ContainerStatus {
    fn compact(&mut self) {
        trim!(self.volume_mounts, self.allocated_resources_status);
    }
}

impl Compact for PodSpec {
    fn compact(&mut self) {
        trim!(
            self.containers,
            self.init_containers,
            self.ephemeral_containers,
            self.host_aliases,
            self.image_pull_secrets,
            self.readiness_gates,
            self.resource_claims,
            self.scheduling_gates,
            self.tolerations,
            self.topology_spread_constraints,
            self.volumes,
        );
        each(&mut self.containers);
        each(self.init_containers.iter_mut().flatten());
    }
}

impl Compact for PodTemplateSpec {
    fn compact(&mut self) {
        each(&mut self.metadata);
        each(&mut self.spec);
    }
}

impl Compact for Pod {
    fn compact(&mut self) {
        self.metadata.compact();
        each(&mut self.spec);
        if let Some(status) = &mut self.status {
            trim!(
                status.conditions,
                status.container_statuses,
                status.init_container_statuses,
                status.ephemeral_container_statuses,
                status.host_ips,
                status.pod_ips,
                status.resource_claim_statuses,
            );
            each(status.container_statuses.iter_mut().flatten());
            each(status.init_container_statuses.iter_mut().flatten());
        }
    }
}

/// The workloads: their pod template is most of them.
macro_rules! workload {
    ($($kind:ty => |$o:ident| $template:expr),* $(,)?) => {$(
        impl Compact for $kind {
            fn compact(&mut self) {
                self.metadata.compact();
                let $o = self;
                if let Some(template) = $template {
                    template.compact();
                }
                if let Some(status) = &mut $o.status {
                    trim!(status.conditions);
                }
            }
        }
    )*};
}

workload! {
    Deployment => |o| o.spec.as_mut().map(|s| &mut s.template),
    StatefulSet => |o| o.spec.as_mut().map(|s| &mut s.template),
    DaemonSet => |o| o.spec.as_mut().map(|s| &mut s.template),
    Job => |o| o.spec.as_mut().map(|s| &mut s.template),
}

impl Compact for CronJob {
    fn compact(&mut self) {
        self.metadata.compact();
        let template = self
            .spec
            .as_mut()
            .and_then(|s| s.job_template.spec.as_mut());
        if let Some(job) = template {
            job.template.compact();
        }
        if let Some(status) = &mut self.status {
            trim!(status.active);
        }
    }
}

impl Compact for HorizontalPodAutoscaler {
    fn compact(&mut self) {
        self.metadata.compact();
        if let Some(spec) = &mut self.spec {
            trim!(spec.metrics);
        }
        if let Some(status) = &mut self.status {
            trim!(status.conditions, status.current_metrics);
        }
    }
}

impl Compact for Service {
    fn compact(&mut self) {
        self.metadata.compact();
        if let Some(spec) = &mut self.spec {
            trim!(
                spec.ports,
                spec.cluster_ips,
                spec.ip_families,
                spec.external_ips
            );
        }
    }
}

impl Compact for Node {
    fn compact(&mut self) {
        self.metadata.compact();
        if let Some(spec) = &mut self.spec {
            trim!(spec.taints, spec.pod_cidrs);
        }
        if let Some(status) = &mut self.status {
            trim!(status.addresses, status.conditions, status.images);
        }
    }
}

impl Compact for Endpoints {
    fn compact(&mut self) {
        self.metadata.compact();
        trim!(self.subsets);
    }
}

impl Compact for EndpointSlice {
    fn compact(&mut self) {
        self.metadata.compact();
        trim!(self.endpoints);
        for endpoint in &mut self.endpoints {
            trim!(endpoint.addresses);
        }
    }
}

/// Kinds whose lists are few and short: their metadata's are trimmed.
macro_rules! metadata_only {
    ($($kind:ty),*) => {$(
        impl Compact for $kind {
            fn compact(&mut self) {
                self.metadata.compact();
            }
        }
    )*};
}

metadata_only!(Namespace, ConfigMap, Secret, Event, ReplicaSet);

fn each<'a, C: Compact + 'a>(items: impl IntoIterator<Item = &'a mut C>) {
    items.into_iter().for_each(C::compact);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod as the API server lists it gives back its lists' spare room.
    #[test]
    fn a_pod_keeps_no_spare_room() {
        let mut pod: Pod = serde_json::from_str(
            r#"{"metadata":{"name":"p","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"r","uid":"u"}]},
                "spec":{"containers":[{"name":"c","ports":[{"containerPort":8080}],"env":[{"name":"A","value":"1"}]}]},
                "status":{"containerStatuses":[{"name":"c","image":"i","imageID":"","ready":true,"restartCount":0}],
                          "podIPs":[{"ip":"10.0.0.1"}]}}"#,
        )
        .unwrap();
        let before = pod.clone();
        pod.compact();
        assert_eq!(pod, before);
        let status = pod.status.as_ref().unwrap();
        let statuses = status.container_statuses.as_ref().unwrap();
        assert_eq!(statuses.capacity(), 1);
        assert_eq!(status.pod_ips.as_ref().unwrap().capacity(), 1);
        let container = &pod.spec.as_ref().unwrap().containers[0];
        assert_eq!(container.ports.as_ref().unwrap().capacity(), 1);
        assert_eq!(container.env.as_ref().unwrap().capacity(), 1);
        let owners = pod.metadata.owner_references.as_ref().unwrap();
        assert_eq!(owners.capacity(), 1);
    }
}
