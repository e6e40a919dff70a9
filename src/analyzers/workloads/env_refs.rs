//! `env-refs`: env, envFrom and volumes that point at a ConfigMap or Secret (or
//! a key of one) that does not exist. The kubelet refuses to start such a
//! container (CreateContainerConfigError) or leaves the pod ContainerCreating.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::analyzers::target::Target;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, WORKLOAD_KINDS, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "env-refs",
    summary: "env, envFrom and volumes referring to a missing ConfigMap, Secret or key",
    needs: WORKLOAD_KINDS,
    optional: &[Kind::ConfigMap, Kind::Secret, Kind::ReplicaSet, Kind::Event],
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
                if !view.can_judge(r.kind, w.namespace()) {
                    continue; // not readable there: absence proves nothing
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
enum Problem {
    MissingObject,
    MissingKey { have: Vec<String> },
}

fn problem(view: &ClusterView, ns: &str, r: &Ref) -> Option<Problem> {
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
        (None, _) => Some(Problem::MissingObject),
        (Some(keys), Some(key)) if !keys.contains(key) => Some(Problem::MissingKey {
            have: keys.into_iter().cloned().collect(),
        }),
        _ => None,
    }
}

fn finding(view: &ClusterView, w: &Workload<'_>, r: &Ref, problem: Problem) -> Draft {
    let ns = w.namespace();
    let kind = r.kind.info().kind;
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
    let message = match (&problem, &r.key) {
        (Problem::MissingKey { have }, Some(key)) => format!(
            "{} refers to key {key} of {kind} {}, which has {}",
            r.used_by,
            r.name,
            if have.is_empty() {
                "no keys".to_string()
            } else {
                format!("only: {}", have.join(", "))
            }
        ),
        _ => format!(
            "{} refers to {kind} {}, which does not exist in namespace {ns}",
            r.used_by, r.name
        ),
    };
    let mut draft =
        Draft::new(subject, message).about(ObjectRef::new("v1", kind, Some(ns), &r.name));
    // What the kubelet said about this reference, from pod status and events.
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
                && let Some(msg) = waiting.message.as_deref().filter(|m| m.contains(&r.name))
            {
                let reason = waiting.reason.as_deref().unwrap_or_default();
                draft
                    .evidence
                    .push(format!("pod {name} container {}: {reason}: {msg}", cs.name));
            }
        }
        for e in view.events_for(Kind::Pod, ns, name) {
            let msg = e.message.as_deref().unwrap_or_default();
            if msg.contains(&r.name) {
                let reason = e.reason.as_deref().unwrap_or_default();
                let count = e.count.map(|c| format!(" (x{c})")).unwrap_or_default();
                draft
                    .evidence
                    .push(format!("event {reason} on pod {name}{count}: {msg}"));
            }
        }
    }
    let lower = kind.to_lowercase();
    let fix = match (&problem, &r.key) {
        (Problem::MissingKey { .. }, Some(key)) => Fix::manual(format!(
            "Add key {key} to {kind} {} in namespace {ns}, or correct the key in {}.",
            r.name,
            w.object_ref()
        ))
        .with_kubectl(format!("kubectl edit {lower} {} -n {ns}", r.name)),
        _ => {
            let key = r.key.as_deref().unwrap_or("KEY");
            let create = match r.kind {
                Kind::ConfigMap => format!(
                    "kubectl create configmap {} -n {ns} --from-literal={key}=<value>",
                    r.name
                ),
                _ => format!(
                    "kubectl create secret generic {} -n {ns} --from-literal={key}=<value>",
                    r.name
                ),
            };
            Fix::manual(format!(
                "Create {kind} {} in namespace {ns} (its values are yours to supply), or correct the reference in {}.",
                r.name,
                w.object_ref()
            ))
            .with_kubectl(create)
        }
    };
    draft.fix(fix)
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn fires_on_missing_config_map_secret_and_key() {
        let drafts = run("env-refs", "{}", &fixture("missing-config"));
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn quiet_when_references_resolve() {
        assert!(run("env-refs", "{}", &fixture("healthy")).is_empty());
        assert!(run("env-refs", "{}", &fixture("training-pipeline")).is_empty());
    }
}
