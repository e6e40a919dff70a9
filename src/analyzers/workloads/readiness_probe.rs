//! `readiness-probe`: serving workloads (a recognised model server, or the
//! backend of a Service) with a container that has no readiness probe, so the
//! Service sends requests to pods that are still loading their model.

use k8s_openapi::api::core::v1::{Container, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;
use serde_json::json;

use crate::analyzers::serving::servers::{self, ServerProfile};
use crate::analyzers::target::Target;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind, Workload, selector};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "readiness-probe",
    summary: "model servers and Service backends without a readiness probe",
    needs: &[
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
    ],
    optional: &[Kind::ReplicaSet, Kind::Service],
    data: &[Data::Logs],
    build: build::<ReadinessProbe>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReadinessProbe {
    #[serde(default)]
    target: Target,
    #[serde(default)]
    servers: Option<Vec<ServerProfile>>,
    #[serde(default)]
    extra_servers: Vec<ServerProfile>,
    /// Also judge containers that serve a Service's target port (any application,
    /// not only recognised model servers).
    #[serde(default)]
    service_backends: bool,
}

impl Analyzer for ReadinessProbe {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let profiles = servers::profiles(&self.servers, &self.extra_servers);
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            if !matches!(
                w.kind,
                Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
            ) {
                continue;
            }
            // An operator (Seldon's Server, ...) renders this pod and routes its
            // traffic; and a pod one of whose containers has a readiness probe is
            // already kept out of its Services until that probe passes.
            if servers::operator_owner(&w).is_some()
                || w.spec
                    .containers
                    .iter()
                    .any(|c| c.readiness_probe.is_some())
            {
                continue;
            }
            let services: Vec<&Service> = view
                .services
                .in_namespace(w.namespace())
                .filter(|s| {
                    s.spec
                        .as_ref()
                        .and_then(|spec| spec.selector.as_ref())
                        .is_some_and(|sel| {
                            selector::map_selects(
                                sel,
                                w.template_meta.and_then(|m| m.labels.as_ref()),
                            )
                        })
                })
                .collect();
            for c in self.target.containers(&w) {
                if c.readiness_probe.is_some()
                    || w.spec
                        .init_containers
                        .iter()
                        .flatten()
                        .any(|i| i.name == c.name)
                {
                    continue;
                }
                let server = servers::recognise(view, &w, c, &profiles);
                let backs: Vec<(&str, u16)> = services
                    .iter()
                    .filter_map(|s| {
                        served_port(s, c)
                            .map(|p| (s.metadata.name.as_deref().unwrap_or_default(), p))
                    })
                    .collect();
                if server.is_none() && (!self.service_backends || backs.is_empty()) {
                    continue;
                }
                drafts.push(finding(&w, c, server.as_ref(), &backs));
            }
        }
        Ok(drafts)
    }
}

/// The container port a Service sends traffic to, if this container has it.
fn served_port(svc: &Service, c: &Container) -> Option<u16> {
    let ports = svc.spec.as_ref()?.ports.as_ref()?;
    ports.iter().find_map(|sp| {
        let target = sp.target_port.clone().unwrap_or(IntOrString::Int(sp.port));
        c.ports.iter().flatten().find_map(|cp| {
            let hit = match &target {
                IntOrString::Int(n) => cp.container_port == *n,
                IntOrString::String(name) => cp.name.as_deref() == Some(name.as_str()),
            };
            hit.then(|| u16::try_from(cp.container_port).ok()).flatten()
        })
    })
}

fn finding(
    w: &Workload<'_>,
    c: &Container,
    server: Option<&servers::Server<'_>>,
    backs: &[(&str, u16)],
) -> Draft {
    let what = match server {
        Some(s) => s.profile.title.clone(),
        None => format!("the backend of Service {}", backs[0].0),
    };
    let mut draft = Draft::new(
        w.container_ref(c, "readinessProbe"),
        format!(
            "container {} runs {what} without a readinessProbe: its pods receive traffic as soon as they start, before {}, and keep receiving it when the server stops answering",
            c.name,
            if server.is_some() {
                "the model is loaded"
            } else {
                "the application is ready"
            }
        ),
    );
    for (svc, port) in backs {
        draft
            .evidence
            .push(format!("Service {svc} sends traffic to port {port}"));
    }
    if let Some(s) = server {
        draft.evidence.push(format!(
            "{} listens on port {} and serves readiness on {}",
            s.profile.title,
            s.port,
            s.profile.readiness_paths.join(", ")
        ));
    }
    if let Some(p) = &c.liveness_probe {
        draft.evidence.push(format!(
            "livenessProbe: {}",
            crate::analyzers::workloads::probe_fit::describe_probe(c, p)
        ));
    }
    let subject = w.object_ref();
    let (list, i) = w.container_index(&c.name).unwrap_or(("containers", 0));
    let path = format!("{}/{list}/{i}/readinessProbe", w.spec_pointer());
    let (applicability, handler, description) = match server {
        Some(s) => (
            Applicability::Safe,
            json!({"httpGet": {"path": s.profile.readiness_paths[0], "port": s.port}}),
            format!(
                "Add a readinessProbe on {}:{} ({}'s readiness route).",
                s.profile.readiness_paths[0], s.port, s.profile.title
            ),
        ),
        None => (
            Applicability::Manual,
            json!({"tcpSocket": {"port": backs[0].1}}),
            format!(
                "Add a readinessProbe: an httpGet on the application's health route if it has one, else at least a tcpSocket check of port {}.",
                backs[0].1
            ),
        ),
    };
    let mut probe = handler;
    probe["periodSeconds"] = json!(5);
    probe["timeoutSeconds"] = json!(5);
    probe["failureThreshold"] = json!(3);
    let ops = json!([{"op": "add", "path": path, "value": probe}]);
    let mut description = description;
    if let Some(manager) = w.manager() {
        description.push_str(&format!(
            " {subject} is managed by {manager}: add the probe to its chart too."
        ));
    }
    draft.fix(Fix::new(applicability, description).with_kubectl(format!(
        "kubectl patch {}{} --type=json -p '{ops}'",
        subject.kubectl_name(),
        subject.kubectl_ns()
    )))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn serving_workloads_without_readiness() {
        let drafts = run(
            "readiness-probe",
            "serviceBackends: true",
            &fixture("serving-workloads"),
        );
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_has_readiness() {
        assert_eq!(
            run("readiness-probe", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
        assert_eq!(
            run(
                "readiness-probe",
                "serviceBackends: true",
                &fixture("mlflow-serving")
            ),
            Vec::new()
        );
        // The shipped check judges model servers only: the infrastructure of the
        // training pipeline (Kafka, MinIO, MLflow tracking) is out of its scope.
        assert_eq!(
            run("readiness-probe", "{}", &fixture("healthy")),
            Vec::new()
        );
    }
}

#[cfg(test)]
mod owner_tests {
    use crate::analyzers::testing::run;
    use crate::snapshot;

    /// Seldon's operator renders the server's StatefulSet and routes its
    /// traffic through its agent: not this check's business.
    #[test]
    fn operator_rendered_servers_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sts.yaml");
        let sts = |owner: &str| {
            format!(
                r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: mlserver
  namespace: seldon-mesh
  {owner}
spec:
  selector: {{matchLabels: {{app: mlserver}}}}
  serviceName: mlserver
  template:
    metadata: {{labels: {{app: mlserver}}}}
    spec:
      containers:
        - {{name: mlserver, image: docker.io/seldonio/mlserver:1.6.1, ports: [{{containerPort: 9000, name: server-http}}]}}
"#
            )
        };
        std::fs::write(&file, sts("ownerReferences: [{apiVersion: mlops.seldon.io/v1alpha1, kind: Server, name: mlserver, uid: a1b2, controller: true}]")).unwrap();
        assert_eq!(
            run("readiness-probe", "{}", &snapshot::load(&file).unwrap()),
            Vec::new()
        );
        std::fs::write(&file, sts("labels: {app: mlserver}")).unwrap();
        assert_eq!(
            run("readiness-probe", "{}", &snapshot::load(&file).unwrap()).len(),
            1
        );
    }
}
