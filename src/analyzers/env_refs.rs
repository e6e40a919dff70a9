//! `env-refs`: env, envFrom and volumes that point at a ConfigMap or Secret (or
//! a key of one) that does not exist. The kubelet refuses to start such a
//! container (CreateContainerConfigError) or leaves the pod ContainerCreating.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::target::Target;
use super::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "env-refs",
    summary: "env, envFrom and volumes referring to a missing ConfigMap, Secret or key",
    needs: &[
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::Event,
        Kind::ConfigMap,
        Kind::Secret,
    ],
    data: &[],
    build: build::<EnvRefs>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvRefs {
    #[serde(default)]
    target: Target,
}

/// One reference from a pod spec.
struct Ref {
    kind: Kind,
    name: String,
    key: Option<String>,
    /// Where it is used: `env MLFLOW_S3_ENDPOINT_URL`, `envFrom`, `volume config`.
    used_by: String,
    container: Option<String>,
}

impl Analyzer for EnvRefs {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            for r in refs(&w, &self.target) {
                if !view.has(r.kind) {
                    continue; // not collected: cannot tell
                }
                if let Some(problem) = problem(view, w.namespace(), &r) {
                    drafts.push(finding(view, &w, &r, problem));
                }
            }
        }
        Ok(drafts)
    }
}

fn refs(w: &Workload<'_>, target: &Target) -> Vec<Ref> {
    let mut out = Vec::new();
    for c in target.containers(w) {
        for env in c.env.iter().flatten() {
            let Some(from) = &env.value_from else {
                continue;
            };
            if let Some(r) = from
                .config_map_key_ref
                .as_ref()
                .filter(|r| r.optional != Some(true))
            {
                out.push(Ref {
                    kind: Kind::ConfigMap,
                    name: r.name.clone(),
                    key: Some(r.key.clone()),
                    used_by: format!("env {}", env.name),
                    container: Some(c.name.clone()),
                });
            }
            if let Some(r) = from
                .secret_key_ref
                .as_ref()
                .filter(|r| r.optional != Some(true))
            {
                out.push(Ref {
                    kind: Kind::Secret,
                    name: r.name.clone(),
                    key: Some(r.key.clone()),
                    used_by: format!("env {}", env.name),
                    container: Some(c.name.clone()),
                });
            }
        }
        for from in c.env_from.iter().flatten() {
            if let Some(r) = from
                .config_map_ref
                .as_ref()
                .filter(|r| r.optional != Some(true))
            {
                out.push(Ref {
                    kind: Kind::ConfigMap,
                    name: r.name.clone(),
                    key: None,
                    used_by: "envFrom".into(),
                    container: Some(c.name.clone()),
                });
            }
            if let Some(r) = from
                .secret_ref
                .as_ref()
                .filter(|r| r.optional != Some(true))
            {
                out.push(Ref {
                    kind: Kind::Secret,
                    name: r.name.clone(),
                    key: None,
                    used_by: "envFrom".into(),
                    container: Some(c.name.clone()),
                });
            }
        }
    }
    for v in w.spec.volumes.iter().flatten() {
        if let Some(cm) = v.config_map.as_ref().filter(|s| s.optional != Some(true)) {
            out.push(Ref {
                kind: Kind::ConfigMap,
                name: cm.name.clone(),
                key: None,
                used_by: format!("volume {}", v.name),
                container: None,
            });
        }
        if let Some(s) = v.secret.as_ref().filter(|s| s.optional != Some(true))
            && let Some(name) = &s.secret_name
        {
            out.push(Ref {
                kind: Kind::Secret,
                name: name.clone(),
                key: None,
                used_by: format!("volume {}", v.name),
                container: None,
            });
        }
    }
    out
}

/// What is wrong with a reference, if anything.
fn problem(view: &ClusterView, ns: &str, r: &Ref) -> Option<String> {
    let keys: Option<BTreeSet<&String>> = match r.kind {
        Kind::ConfigMap => view.config_maps.get(ns, &r.name).map(|cm| {
            cm.data
                .iter()
                .flat_map(|d| d.keys())
                .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
                .collect()
        }),
        _ => view.secrets.get(ns, &r.name).map(|s| {
            s.data
                .iter()
                .flat_map(|d| d.keys())
                .chain(s.string_data.iter().flat_map(|d| d.keys()))
                .collect()
        }),
    };
    match (keys, &r.key) {
        (None, _) => Some(format!(
            "{} {} does not exist in namespace {ns}",
            r.kind, r.name
        )),
        (Some(keys), Some(key)) if !keys.contains(key) => {
            let have: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            Some(format!(
                "{} {} has no key {key} (it has: {})",
                r.kind,
                r.name,
                if have.is_empty() {
                    "no keys".to_string()
                } else {
                    have.join(", ")
                }
            ))
        }
        _ => None,
    }
}

fn finding(view: &ClusterView, w: &Workload<'_>, r: &Ref, problem: String) -> Draft {
    let subject = match &r.container {
        Some(c) => {
            let container = w
                .containers()
                .find(|x| &x.name == c)
                .expect("container of this workload");
            w.container_ref(
                container,
                if r.used_by == "envFrom" {
                    "envFrom"
                } else {
                    "env"
                },
            )
        }
        None => w
            .object_ref()
            .with_field(format!("{}.volumes", w.spec_path)),
    };
    let mut draft = Draft::new(
        subject,
        format!(
            "{} refers to a missing {}: {problem}",
            r.used_by,
            r.kind.info().kind
        ),
    );
    // What the kubelet said, from pod status and events.
    for pod in view.pods_of(w) {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let statuses = pod.status.iter().flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        });
        for cs in statuses {
            if let Some(waiting) = cs.state.as_ref().and_then(|s| s.waiting.as_ref())
                && matches!(
                    waiting.reason.as_deref(),
                    Some("CreateContainerConfigError" | "ContainerCreating")
                )
            {
                draft.evidence.push(format!(
                    "pod {name} container {}: {} {}",
                    cs.name,
                    waiting.reason.as_deref().unwrap_or_default(),
                    waiting.message.as_deref().unwrap_or_default()
                ));
            }
        }
        for e in view.events_for(Kind::Pod, w.namespace(), name) {
            let msg = e.message.as_deref().unwrap_or_default();
            if msg.contains(&r.name) && msg.contains("not found") {
                draft.evidence.push(format!(
                    "event {} on pod {name}: {msg}",
                    e.reason.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    draft.evidence.dedup();
    let ns = w.namespace();
    let (create, what) = match (r.kind, &r.key) {
        (Kind::ConfigMap, Some(key)) => (
            format!(
                "kubectl create configmap {} -n {ns} --from-literal={key}=<value>",
                r.name
            ),
            "ConfigMap",
        ),
        (Kind::ConfigMap, None) => (
            format!(
                "kubectl create configmap {} -n {ns} --from-literal=KEY=<value>",
                r.name
            ),
            "ConfigMap",
        ),
        (_, Some(key)) => (
            format!(
                "kubectl create secret generic {} -n {ns} --from-literal={key}=<value>",
                r.name
            ),
            "Secret",
        ),
        (_, None) => (
            format!(
                "kubectl create secret generic {} -n {ns} --from-literal=KEY=<value>",
                r.name
            ),
            "Secret",
        ),
    };
    let key_text = r
        .key
        .as_ref()
        .map(|k| format!(" with key {k}"))
        .unwrap_or_default();
    draft.fix(
        Fix::manual(format!(
            "Create {what} {}{key_text} in namespace {ns} (its values are yours to supply), or correct the reference in {}; \
             if the {what} exists but the key does not, add the key with `kubectl edit`.",
            r.name,
            w.object_ref()
        ))
        .with_kubectl(create),
    )
}
