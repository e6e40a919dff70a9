//! Workloads: the objects that own a pod template, and the pods they run.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::{Kind, ObjectRef};

/// A Deployment, StatefulSet, DaemonSet, Job, CronJob, or a Pod without an owner.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    pub kind: Kind,
    pub meta: &'a ObjectMeta,
    /// The pod spec every pod of the workload is made from.
    pub spec: &'a PodSpec,
    pub template_meta: Option<&'a ObjectMeta>,
    pub selector: Option<&'a LabelSelector>,
    /// The JSON path of the pod spec inside the object, e.g. `spec.template.spec`.
    pub spec_path: &'static str,
}

impl<'a> Workload<'a> {
    pub fn namespace(&self) -> &'a str {
        self.meta.namespace.as_deref().unwrap_or_default()
    }

    pub fn name(&self) -> &'a str {
        self.meta.name.as_deref().unwrap_or_default()
    }

    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::of(self.kind, self.meta)
    }

    /// A reference to a field of one container, e.g. `spec.template.spec.containers[train].env`.
    pub fn container_ref(&self, container: &Container, field: &str) -> ObjectRef {
        let list = if self
            .spec
            .init_containers
            .iter()
            .flatten()
            .any(|c| c.name == container.name)
        {
            "initContainers"
        } else {
            "containers"
        };
        let suffix = if field.is_empty() {
            String::new()
        } else {
            format!(".{field}")
        };
        self.object_ref().with_field(format!(
            "{}.{list}[{}]{suffix}",
            self.spec_path, container.name
        ))
    }

    /// Init and regular containers, in the order the kubelet starts them.
    pub fn containers(&self) -> impl Iterator<Item = &'a Container> + 'a {
        self.spec
            .init_containers
            .iter()
            .flatten()
            .chain(self.spec.containers.iter())
    }

    /// Index of a container in its list, for JSON-patch paths.
    pub fn container_index(&self, name: &str) -> Option<(&'static str, usize)> {
        if let Some(i) = self.spec.containers.iter().position(|c| c.name == name) {
            return Some(("containers", i));
        }
        self.spec
            .init_containers
            .iter()
            .flatten()
            .position(|c| c.name == name)
            .map(|i| ("initContainers", i))
    }

    /// The JSON pointer of the pod spec, e.g. `/spec/template/spec`.
    pub fn spec_pointer(&self) -> String {
        format!("/{}", self.spec_path.replace('.', "/"))
    }

    /// The labels and annotations that say which tool manages this object.
    pub fn manager(&self) -> Option<String> {
        manager_of(self.meta)
    }
}

/// "Helm release flts" / "Argo CD application x" when an object is managed by a tool
/// that would undo a change made behind its back.
pub fn manager_of(meta: &ObjectMeta) -> Option<String> {
    let label = |k: &str| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get(k))
            .map(String::as_str)
    };
    let annotation = |k: &str| {
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(k))
            .map(String::as_str)
    };
    if let Some(release) = annotation("meta.helm.sh/release-name") {
        return Some(format!("Helm release {release}"));
    }
    if label("app.kubernetes.io/managed-by") == Some("Helm") {
        return Some("Helm".to_string());
    }
    if let Some(app) = label("argocd.argoproj.io/instance").or_else(|| {
        annotation("argocd.argoproj.io/tracking-id").and_then(|id| id.split(':').next())
    }) {
        return Some(format!("Argo CD application {app}"));
    }
    None
}

/// The pods of a workload with their containers' status, for evidence.
pub fn pod_label(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Unknown");
    format!("{name} ({phase})")
}

pub fn of_deployment(d: &Deployment) -> Option<Workload<'_>> {
    let s = d.spec.as_ref()?;
    Some(Workload {
        kind: Kind::Deployment,
        meta: &d.metadata,
        spec: s.template.spec.as_ref()?,
        template_meta: s.template.metadata.as_ref(),
        selector: Some(&s.selector),
        spec_path: "spec.template.spec",
    })
}

pub fn of_stateful_set(d: &StatefulSet) -> Option<Workload<'_>> {
    let s = d.spec.as_ref()?;
    Some(Workload {
        kind: Kind::StatefulSet,
        meta: &d.metadata,
        spec: s.template.spec.as_ref()?,
        template_meta: s.template.metadata.as_ref(),
        selector: Some(&s.selector),
        spec_path: "spec.template.spec",
    })
}

pub fn of_daemon_set(d: &DaemonSet) -> Option<Workload<'_>> {
    let s = d.spec.as_ref()?;
    Some(Workload {
        kind: Kind::DaemonSet,
        meta: &d.metadata,
        spec: s.template.spec.as_ref()?,
        template_meta: s.template.metadata.as_ref(),
        selector: Some(&s.selector),
        spec_path: "spec.template.spec",
    })
}

pub fn of_job(j: &Job) -> Option<Workload<'_>> {
    let s = j.spec.as_ref()?;
    Some(Workload {
        kind: Kind::Job,
        meta: &j.metadata,
        spec: s.template.spec.as_ref()?,
        template_meta: s.template.metadata.as_ref(),
        selector: s.selector.as_ref(),
        spec_path: "spec.template.spec",
    })
}

pub fn of_cron_job(c: &CronJob) -> Option<Workload<'_>> {
    let job = c.spec.as_ref()?.job_template.spec.as_ref()?;
    Some(Workload {
        kind: Kind::CronJob,
        meta: &c.metadata,
        spec: job.template.spec.as_ref()?,
        template_meta: job.template.metadata.as_ref(),
        selector: None,
        spec_path: "spec.jobTemplate.spec.template.spec",
    })
}

pub fn of_pod(p: &Pod) -> Option<Workload<'_>> {
    Some(Workload {
        kind: Kind::Pod,
        meta: &p.metadata,
        spec: p.spec.as_ref()?,
        template_meta: Some(&p.metadata),
        selector: None,
        spec_path: "spec",
    })
}
