//! `service-refs`: env values that name an in-cluster address (`http://mlflow:5000`,
//! `minio:9000`, `kafka.ns.svc:9092`) whose Service does not exist in that
//! namespace, lacks the port, or has no ready endpoints.

use k8s_openapi::api::core::v1::Service;
use serde::Deserialize;

use crate::analyzers::address::{Address, addresses};
use crate::analyzers::target::Target;
use crate::analyzers::text::closest;
use crate::analyzers::workloads::env::literal_env_expanded;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "service-refs",
    summary: "env values naming an in-cluster Service that is missing, lacks the port, or has no ready endpoints",
    needs: &[
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::Service,
    ],
    optional: &[
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Namespace,
        Kind::ReplicaSet,
    ],
    data: &[],
    build: build::<ServiceRefs>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceRefs {
    #[serde(default)]
    target: Target,
    /// Host names never judged (e.g. ones resolved by a sidecar or hostAliases).
    #[serde(default)]
    ignore_hosts: Vec<String>,
    /// Also report Services that exist but have no ready endpoints.
    #[serde(default = "yes")]
    check_endpoints: bool,
}

fn yes() -> bool {
    true
}

impl Analyzer for ServiceRefs {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::Service) {
            return Err("not collected: no Services were read".into());
        }
        let known_ns = |ns: &str| view.namespace_exists(ns);
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            for c in self.target.containers(&w) {
                for (name, value) in literal_env_expanded(view, w.namespace(), c) {
                    for addr in addresses(&value, w.namespace(), &known_ns) {
                        if self
                            .ignore_hosts
                            .iter()
                            .any(|h| *h == addr.host || *h == addr.service)
                        {
                            continue;
                        }
                        if let Some(draft) = self.judge(view, &w, &c.name, name, &value, &addr) {
                            drafts.push(draft);
                        }
                    }
                }
            }
        }
        Ok(drafts)
    }
}

impl ServiceRefs {
    fn judge(
        &self,
        view: &ClusterView,
        w: &Workload<'_>,
        container: &str,
        var: &str,
        value: &str,
        addr: &Address,
    ) -> Option<Draft> {
        let c = w
            .containers()
            .find(|c| c.name == container)
            .expect("container of this workload");
        let subject = w.container_ref(c, "env");
        let used = format!("env {var}={value} in container {container}");
        let ns = &addr.namespace;
        if !view.can_judge(Kind::Service, ns) {
            return None;
        }
        let service = ObjectRef::new("v1", "Service", Some(ns), &addr.service);
        let Some(svc) = view.services.get(ns, &addr.service) else {
            let mut draft = Draft::new(
                subject,
                format!(
                    "{var} points at {}, but Service {} does not exist in namespace {ns}",
                    addr.host, addr.service
                ),
            )
            .evidence(used)
            .about(service.clone());
            let mut others: Vec<&str> = view
                .services
                .in_namespace(ns)
                .filter_map(|s| s.metadata.name.as_deref())
                .collect();
            others.sort_unstable();
            draft.evidence.push(if others.is_empty() {
                format!("namespace {ns} has no Services")
            } else {
                format!("Services in namespace {ns}: {}", others.join(", "))
            });
            let guess = closest(&addr.service, &others);
            // The same Service in one other namespace: the usual slip is the
            // namespace (a short name used from another namespace, or the
            // namespace of another install), not the name.
            let elsewhere: Vec<&str> = view
                .services
                .iter()
                .filter(|s| s.metadata.name.as_deref() == Some(addr.service.as_str()))
                .filter_map(|s| s.metadata.namespace.as_deref())
                .filter(|other| *other != ns)
                .collect();
            if guess.is_none()
                && let [other] = elsewhere.as_slice()
            {
                draft.evidence.push(format!(
                    "Service {} exists in namespace {other}",
                    addr.service
                ));
                return Some(draft.fix(moved_fix(w, container, var, value, addr, other)));
            }
            return Some(draft.fix(fix_for(w, container, var, value, addr, guess)));
        };
        let spec = svc.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            return None;
        }
        if let Some(port) = addr.port {
            let ports: Vec<i32> = spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .map(|p| p.port)
                .collect();
            if !ports.is_empty() && !ports.contains(&port) {
                let list: Vec<String> = ports.iter().map(i32::to_string).collect();
                return Some(
                    Draft::new(
                        subject,
                        format!("{var} uses port {port}, but Service {ns}/{} exposes {}", addr.service, list.join(", ")),
                    )
                    .evidence(used)
                    .fix(Fix::manual(format!(
                        "Use one of the Service's ports ({}) in {var}, or add port {port} to Service {}.",
                        list.join(", "),
                        addr.service
                    ))),
                );
            }
        }
        if self.check_endpoints
            && has_selector(svc)
            && let Some(0) = view.ready_endpoints(ns, &addr.service)
        {
            let backing: Vec<String> = spec
                .and_then(|s| s.selector.as_ref())
                .map(|sel| {
                    view.pods_selected(ns, sel)
                        .map(crate::cluster::pod_label)
                        .collect()
                })
                .unwrap_or_default();
            let mut draft = Draft::new(
                subject,
                format!(
                    "{var} points at Service {ns}/{}, which has no ready endpoints",
                    addr.service
                ),
            )
            .evidence(used)
            .about(service);
            draft.evidence.push(if backing.is_empty() {
                "no pod matches the Service's selector".to_string()
            } else {
                format!("pods behind it: {}", backing.join(", "))
            });
            return Some(draft.fix(Fix::manual(format!(
                "Make the pods behind Service {} ready (see their findings), or fix its selector.",
                addr.service
            ))));
        }
        None
    }
}

fn has_selector(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|s| !s.is_empty())
}

fn fix_for(
    w: &Workload<'_>,
    container: &str,
    var: &str,
    value: &str,
    addr: &Address,
    guess: Option<&str>,
) -> Fix {
    let subject = w.object_ref();
    match guess {
        Some(g) => {
            let new_value = value.replacen(&addr.service, g, 1);
            Fix::manual(format!(
                "Point {var} at an existing Service (Service {g} looks like the one meant: {var}={new_value}), or create Service {} in namespace {}.",
                addr.service, addr.namespace
            ))
            .with_kubectl(format!(
                "kubectl set env {}{} -c {container} {var}={new_value}",
                subject.kubectl_name(),
                subject.kubectl_ns()
            ))
        }
        None => Fix::manual(format!(
            "Create Service {} in namespace {} (or deploy what should serve it), or point {var} at the right address.",
            addr.service, addr.namespace
        )),
    }
}

/// Point the variable at the same Service in namespace `other`.
fn moved_fix(
    w: &Workload<'_>,
    container: &str,
    var: &str,
    value: &str,
    addr: &Address,
    other: &str,
) -> Fix {
    let subject = w.object_ref();
    let host = addr.in_namespace(other);
    let new_value = value.replacen(&addr.host, &host, 1);
    Fix::manual(format!(
        "Service {} is in namespace {other}, not {}: point {var} at it there ({var}={new_value}). Restarts the pods.",
        addr.service, addr.namespace
    ))
    .with_kubectl(format!(
        "kubectl set env {}{} -c {container} {var}={new_value}",
        subject.kubectl_name(),
        subject.kubectl_ns()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            closest("mlflow-server", &["mlflow", "minio"]),
            Some("mlflow")
        );
        assert_eq!(closest("redis", &["mlflow", "minio"]), None);
    }
}

#[cfg(test)]
mod fixture_tests {
    use crate::analyzers::testing::{fixture, run, with_first_container};

    #[test]
    fn tracking_uri_naming_a_missing_service() {
        let drafts = run("service-refs", "{}", &fixture("training-pipeline"));
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn the_same_service_in_another_namespace_is_named() {
        let view = with_first_container("healthy-strimzi", |c| {
            for e in c.env.iter_mut().flatten() {
                if e.name == "KAFKA_BOOTSTRAP_SERVERS" {
                    e.value = Some("events-kafka-bootstrap.apps.svc:9092".into());
                }
            }
        });
        let drafts = run("service-refs", "{}", &view);
        assert_eq!(drafts.len(), 1, "{drafts:?}");
        let fix = drafts[0].fix.as_ref().unwrap();
        assert!(
            fix.kubectl
                .as_deref()
                .unwrap()
                .ends_with("KAFKA_BOOTSTRAP_SERVERS=events-kafka-bootstrap.streaming.svc:9092"),
            "{fix:?}"
        );
    }

    #[test]
    fn quiet_when_every_address_resolves() {
        assert!(run("service-refs", "{}", &fixture("healthy")).is_empty());
    }

    #[test]
    fn ignored_hosts_are_not_judged() {
        let drafts = run(
            "service-refs",
            "{ignoreHosts: [mlflow-server]}",
            &fixture("training-pipeline"),
        );
        assert!(drafts.is_empty());
    }

    /// An MLflow install keeps bucket URLs (`s3://mlflow-artifacts/…`) and
    /// registered models (`models:/churn/3`) in env: neither names a Service.
    #[test]
    fn bucket_and_model_uris_are_not_services() {
        let view = fixture("healthy-upstream-mlflow");
        let values: Vec<String> = view
            .workloads()
            .iter()
            .flat_map(|w| {
                w.containers()
                    .flat_map(crate::analyzers::workloads::env::literal_env)
                    .map(|(_, v)| v.to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(values.iter().any(|v| v.starts_with("s3://")), "{values:?}");
        assert!(run("service-refs", "{}", &view).is_empty());
    }

    /// An env value is judged as the kubelet sets it: `$(VAR)` expanded.
    #[test]
    fn addresses_are_read_after_var_expansion() {
        let view = with_first_container("healthy", |c| {
            c.env = Some(
                serde_json::from_value(serde_json::json!([
                    {"name": "TRACKING_HOST", "value": "mlflw"},
                    {"name": "MLFLOW_TRACKING_URI", "value": "http://$(TRACKING_HOST):5000"},
                ]))
                .unwrap(),
            );
        });
        let ns = view
            .deployments
            .iter()
            .next()
            .unwrap()
            .metadata
            .namespace
            .clone()
            .unwrap();
        let drafts = run("service-refs", "{}", &view);
        assert_eq!(drafts.len(), 1, "{drafts:?}");
        assert!(
            drafts[0]
                .message
                .contains(&format!("Service mlflw does not exist in namespace {ns}")),
            "{}",
            drafts[0].message
        );
    }
}
