//! `probe-endpoints`: inference endpoints that did not answer ready when
//! mlopsctl probed them (`probes.yaml`, or live through the API server's
//! proxy), interpreted with the server's own status codes: MLServer and Triton
//! answer 400 while not ready, MLflow's /ping answers 404 when the model did
//! not load.

use k8s_openapi::api::core::v1::{Container, Pod};
use serde::Deserialize;

use crate::analyzers::serving::servers::{self, ServerProfile};
use crate::analyzers::target::Target;
use crate::analyzers::text::clip;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, PROXY_RESOURCE, ProbeResult, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "probe-endpoints",
    summary: "inference endpoints that did not answer ready when probed, with the server's meaning of the status",
    needs: &[
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
    ],
    optional: &[Kind::ReplicaSet, Kind::Service],
    data: &[Data::Probes, Data::Logs],
    build: build::<ProbeEndpoints>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeEndpoints {
    #[serde(default)]
    target: Target,
    #[serde(default)]
    servers: Option<Vec<ServerProfile>>,
    #[serde(default)]
    extra_servers: Vec<ServerProfile>,
}

impl Analyzer for ProbeEndpoints {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        // The API server refused to proxy every probe: nothing was asked of
        // the endpoints, so nothing can be said of them.
        if view.probes.is_empty()
            && let Some(gap) = view.coverage.iter().find(|c| c.resource == PROXY_RESOURCE)
        {
            return Err(format!("not probed: {}", gap.detail()));
        }
        // No probe results: no inference endpoint was probed, nothing to judge.
        let profiles = servers::profiles(&self.servers, &self.extra_servers);
        let workloads = self.target.workloads(view);
        let mut drafts = Vec::new();
        for r in &view.probes {
            if r.status.is_some_and(|s| (200..300).contains(&s)) {
                continue;
            }
            let pod = probed_pod(view, r);
            let owner = pod.map(|p| view.owner_of_pod(p));
            let workload = owner
                .as_ref()
                .and_then(|o| workloads.iter().find(|w| w.object_ref() == *o));
            if !self.target.namespaces.is_empty() && workload.is_none() {
                continue;
            }
            let container = workload.and_then(|w| serving_container(w, r.port));
            let server = match (workload, container) {
                (Some(w), Some(c)) => servers::recognise(view, w, c, &profiles),
                _ => None,
            };
            let meaning = interpret(r, server.as_ref().map(|s| s.profile));
            let subject = match &owner {
                Some(o) => o.clone(),
                None => match &r.service {
                    Some(s) => ObjectRef::new("v1", "Service", Some(&r.namespace), s),
                    None => ObjectRef::new(
                        "v1",
                        "Pod",
                        Some(&r.namespace),
                        r.pod.as_deref().unwrap_or_default(),
                    ),
                },
            };
            let target = r
                .pod
                .as_deref()
                .map(|p| format!("pod {p}"))
                .or_else(|| r.service.as_deref().map(|s| format!("service {s}")))
                .unwrap_or_default();
            let mut draft = Draft::new(
                subject.clone(),
                format!(
                    "{}{} endpoint :{}{} is not ready: {meaning}",
                    server
                        .as_ref()
                        .map(|s| format!("{} ", s.profile.title))
                        .unwrap_or_default(),
                    if r.path.contains("/models/") {
                        "model"
                    } else {
                        "health"
                    },
                    r.port,
                    r.path
                ),
            );
            draft.evidence.push(match (r.status, &r.error) {
                (Some(status), _) => format!(
                    "GET {target}:{}{} answered {status}{}",
                    r.port,
                    r.path,
                    r.body
                        .as_deref()
                        .map(|b| format!(": {}", clip(b.trim(), 200)))
                        .unwrap_or_default()
                ),
                (None, Some(e)) => format!("GET {target}:{}{} failed: {e}", r.port, r.path),
                (None, None) => format!("GET {target}:{}{} got no answer", r.port, r.path),
            });
            if let Some(s) = &server {
                draft.evidence.push(format!(
                    "{} listens on {}:{} and serves health on {}",
                    s.profile.title,
                    s.host,
                    s.port,
                    s.profile.readiness_paths.join(", ")
                ));
            }
            if let (Some(pod), Some(c), Some(_)) = (pod, container, r.status) {
                let name = pod.metadata.name.as_deref().unwrap_or_default();
                if let Some(log) = view.log(&r.namespace, name, &c.name, false) {
                    for line in crate::analyzers::text::last_lines(log, 2) {
                        draft
                            .evidence
                            .push(format!("log {name}/{}: {line}", c.name));
                    }
                }
            }
            draft = draft
                .caused_by("probe-fit", subject.clone())
                .caused_by("unschedulable", subject.clone())
                .caused_by("container-failures", subject.clone())
                .caused_by("dependency-mismatch", subject.clone());
            let fix = match (&r.pod, container) {
                (Some(p), Some(c)) => Fix::manual(format!(
                    "Read the server's log for why it is not ready, and fix that (a linked finding may already say): `kubectl logs -n {} {p} -c {}`.",
                    r.namespace, c.name
                ))
                .with_kubectl(format!(
                    "kubectl get --raw /api/v1/namespaces/{}/pods/{p}:{}/proxy{}",
                    r.namespace, r.port, r.path
                )),
                _ => Fix::manual(format!(
                    "Check the pods behind {target} and their logs; probe again with the command shown."
                ))
                .with_kubectl(format!(
                    "kubectl get --raw /api/v1/namespaces/{}/{}:{}/proxy{}",
                    r.namespace,
                    r.service
                        .as_deref()
                        .map(|s| format!("services/{s}"))
                        .or_else(|| r.pod.as_deref().map(|p| format!("pods/{p}")))
                        .unwrap_or_default(),
                    r.port,
                    r.path
                )),
            };
            drafts.push(draft.fix(fix));
        }
        Ok(drafts)
    }
}

/// The pod a probe reached: the named one, or one the Service selects.
fn probed_pod<'v>(view: &'v ClusterView, r: &'v ProbeResult) -> Option<&'v Pod> {
    if let Some(p) = &r.pod {
        return view.pods.get(&r.namespace, p);
    }
    let svc = view.services.get(&r.namespace, r.service.as_deref()?)?;
    let selector = svc.spec.as_ref()?.selector.as_ref()?;
    view.pods_selected(&r.namespace, selector).next()
}

/// The container that owns the probed port (declared, or the only container).
fn serving_container<'w>(w: &Workload<'w>, port: u16) -> Option<&'w Container> {
    let containers = &w.spec.containers;
    containers
        .iter()
        .find(|c| {
            c.ports
                .iter()
                .flatten()
                .any(|p| p.container_port == i32::from(port))
        })
        .or_else(|| (containers.len() == 1).then(|| &containers[0]))
}

/// What the answer means, in the server's own terms where its profile knows them.
fn interpret(r: &ProbeResult, profile: Option<&ServerProfile>) -> String {
    match r.status {
        None => {
            let error = r.error.as_deref().unwrap_or("no response");
            if error.contains("connection refused") {
                format!(
                    "nothing accepts connections on port {} at the pod IP ({error})",
                    r.port
                )
            } else if error.contains("deadline")
                || error.contains("timeout")
                || error.contains("Timeout")
            {
                format!("no answer in time: the server is busy or hung ({error})")
            } else {
                error.to_string()
            }
        }
        Some(code) => match profile.and_then(|p| p.statuses.get(&code.to_string())) {
            Some(meaning) => format!("answered {code}: {meaning}"),
            None if code >= 500 => format!("answered {code}: the server failed while answering"),
            None => format!("answered {code}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn mlflow_serving_endpoint_refused() {
        let drafts = run("probe-endpoints", "{}", &fixture("mlflow-serving"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn serving_workloads_statuses_interpreted() {
        let drafts = run("probe-endpoints", "{}", &fixture("serving-workloads"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_endpoints_ready() {
        assert_eq!(
            run("probe-endpoints", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
