//! Active HTTP probes through the API server's pod proxy
//! (`/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH`): each running pod's
//! HTTP readiness probe (or liveness probe when it has none), asked from
//! outside the node, so a check can tell "the server answers 400 while not
//! ready" from "nothing listens".

use std::time::Instant;

use k8s_openapi::api::core::v1::{Container, HTTPGetAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::http::{Api, Failure, status_message};
use std::collections::BTreeMap;

use crate::cluster::{ClusterView, CoverageRecord, CoverageResult, PROXY_RESOURCE, ProbeResult};

/// At most this many probes per run.
pub const MAX_PROBES: usize = 50;
/// Characters of a response body kept for interpretation.
const BODY_CHARS: usize = 200;

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub port: u16,
    pub path: String,
    pub https: bool,
}

/// The HTTP readiness (else liveness) probe of every container of running
/// pods, the first [`MAX_PROBES`] of them.
pub fn wanted(view: &ClusterView) -> Vec<Target> {
    let mut out = Vec::new();
    for pod in view.pods.iter() {
        // Each target is checked against those before it: stopping at the
        // budget keeps that linear in the pods (50,000 pods took seconds).
        if out.len() == MAX_PROBES {
            break;
        }
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        let (Some(ns), Some(name), Some(spec)) = (
            &pod.metadata.namespace,
            &pod.metadata.name,
            pod.spec.as_ref(),
        ) else {
            continue;
        };
        if !running {
            continue;
        }
        for c in &spec.containers {
            let action = [&c.readiness_probe, &c.liveness_probe]
                .into_iter()
                .flatten()
                .find_map(|p| p.http_get.as_ref());
            if let Some(action) = action
                && let Some(target) = target(ns, name, c, action)
                && !out.contains(&target)
                && out.len() < MAX_PROBES
            {
                out.push(target);
            }
        }
    }
    out
}

fn target(ns: &str, pod: &str, c: &Container, action: &HTTPGetAction) -> Option<Target> {
    let port = match &action.port {
        IntOrString::Int(p) => u16::try_from(*p).ok()?,
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok())?,
    };
    let path = action.path.clone().unwrap_or_else(|| "/".into());
    Some(Target {
        namespace: ns.to_string(),
        pod: pod.to_string(),
        port,
        path: if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        },
        https: action.scheme.as_deref() == Some("HTTPS"),
    })
}

/// What asking one endpoint through the pod proxy gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Probed {
    /// The endpoint's own answer: a status from the application, or nothing
    /// listening at the pod's address.
    Answer(ProbeResult),
    /// The API server did not reach the endpoint and said so itself
    /// (`address not allowed`, RBAC on `pods/proxy`, no such pod): the
    /// endpoint was not probed, which says nothing about it.
    NotProbed {
        target: Target,
        forbidden: bool,
        message: String,
    },
}

pub async fn probe(api: &Api, t: &Target) -> Probed {
    let scheme = if t.https { "https:" } else { "" };
    let url = format!(
        "/api/v1/namespaces/{}/pods/{scheme}{}:{}/proxy{}",
        t.namespace, t.pod, t.port, t.path
    );
    let started = Instant::now();
    let answer = api.get_raw(&url).await;
    let latency_ms = Some(started.elapsed().as_millis() as u64);
    let mut result = ProbeResult {
        namespace: t.namespace.clone(),
        pod: Some(t.pod.clone()),
        service: None,
        port: t.port,
        path: t.path.clone(),
        status: None,
        latency_ms,
        error: None,
        body: None,
    };
    match answer {
        Ok((status, body)) => match proxy_answer(status, &body) {
            Proxy::Endpoint => {
                result.status = Some(status);
                let text = String::from_utf8_lossy(&body);
                let text = text.trim();
                if !text.is_empty() {
                    result.body = Some(crate::analyzers::text::clip(text, BODY_CHARS));
                }
            }
            Proxy::Unreachable(error) => result.error = Some(error),
            Proxy::Refused(message) => {
                return Probed::NotProbed {
                    target: t.clone(),
                    forbidden: status == 403,
                    message,
                };
            }
        },
        Err(Failure::Timeout) => result.error = Some("no answer within the request timeout".into()),
        Err(e) => result.error = Some(e.to_string()),
    }
    Probed::Answer(result)
}

/// Who answered a proxied request.
#[derive(Debug, PartialEq)]
enum Proxy {
    /// The endpoint itself.
    Endpoint,
    /// The API server dialled the pod and nothing listened ("error trying to
    /// reach service: dial tcp …: connect: connection refused"): that is the
    /// endpoint's state.
    Unreachable(String),
    /// The API server answered for itself, without reaching the pod.
    Refused(String),
}

/// A `metav1.Status` body is the API server's, never an application's: any
/// refusal of its own (400 `address not allowed`, 403, 404, 503 `no
/// endpoints available`) means the endpoint was not probed; only a refused
/// connection at the pod's address is the endpoint's answer.
fn proxy_answer(status: u16, body: &[u8]) -> Proxy {
    if (200..300).contains(&status) {
        return Proxy::Endpoint;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Proxy::Endpoint;
    };
    if v.get("kind").and_then(|k| k.as_str()) != Some("Status")
        || v.get("apiVersion").and_then(|k| k.as_str()) != Some("v1")
    {
        return Proxy::Endpoint;
    }
    let message = status_message(body);
    if message.contains("connect: connection refused") {
        return Proxy::Unreachable(
            message
                .strip_prefix("error trying to reach service: ")
                .unwrap_or(&message)
                .to_string(),
        );
    }
    Proxy::Refused(if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    })
}

/// The coverage records of endpoints the API server did not probe: one per
/// namespace and kind of refusal, naming the endpoints.
pub fn not_probed(refusals: &[(Target, bool, String)]) -> Vec<CoverageRecord> {
    let mut grouped: BTreeMap<(String, bool), (String, Vec<String>)> = BTreeMap::new();
    for (t, forbidden, message) in refusals {
        let entry = grouped
            .entry((t.namespace.clone(), *forbidden))
            .or_insert_with(|| (message.clone(), Vec::new()));
        entry.1.push(format!("{}:{}{}", t.pod, t.port, t.path));
    }
    grouped
        .into_iter()
        .map(
            |((namespace, forbidden), (message, endpoints))| CoverageRecord {
                group: String::new(),
                version: "v1".into(),
                resource: PROXY_RESOURCE.into(),
                namespace: Some(namespace),
                result: if forbidden {
                    CoverageResult::Forbidden
                } else {
                    CoverageResult::Failed
                },
                message: format!(
                    "the API server did not reach {} health endpoint{} ({}): {message}",
                    endpoints.len(),
                    if endpoints.len() == 1 { "" } else { "s" },
                    endpoints.join(", ")
                ),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_probes_of_running_pods() {
        let view = crate::analyzers::testing::fixture("training-pipeline");
        let targets = wanted(&view);
        assert_eq!(targets.len(), 1, "{targets:#?}");
        assert!(targets[0].pod.starts_with("inference-"));
        assert_eq!(
            (targets[0].port, targets[0].path.as_str()),
            (8000, "/health")
        );
    }

    /// The first MAX_PROBES distinct targets, in the pods' order.
    #[test]
    fn probes_stop_at_the_budget() {
        let mut view = ClusterView::default();
        let mut sink = crate::snapshot::ObjectSink::new(&mut view);
        for i in 0..MAX_PROBES + 10 {
            let pod = format!(
                r#"{{"metadata":{{"name":"p{i:03}","namespace":"ml"}},
                    "spec":{{"containers":[{{"name":"c","readinessProbe":{{"httpGet":{{"path":"/ready","port":8080}}}}}},
                                           {{"name":"d","readinessProbe":{{"httpGet":{{"path":"/ready","port":8080}}}}}}]}},
                    "status":{{"phase":"Running"}}}}"#
            );
            sink.add_item("v1", "Pod", crate::snapshot::Doc::Raw(&pod))
                .unwrap();
        }
        let targets = wanted(&view);
        // Two containers of a pod probing one endpoint are one target.
        assert_eq!(targets.len(), MAX_PROBES);
        assert_eq!(targets[0].pod, "p000");
        assert_eq!(
            targets[MAX_PROBES - 1].pod,
            format!("p{:03}", MAX_PROBES - 1)
        );
    }

    #[test]
    fn a_refused_connection_is_the_endpoints_answer() {
        let refused = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"error trying to reach service: dial tcp 10.244.1.7:8000: connect: connection refused","reason":"ServiceUnavailable","code":503}"#;
        assert_eq!(
            proxy_answer(503, refused),
            Proxy::Unreachable("dial tcp 10.244.1.7:8000: connect: connection refused".into())
        );
        assert_eq!(proxy_answer(503, b"upstream busy"), Proxy::Endpoint);
        assert_eq!(
            proxy_answer(400, br#"{"error":"not ready"}"#),
            Proxy::Endpoint
        );
    }

    #[test]
    fn the_api_servers_own_refusals_are_not_the_endpoints() {
        // What kube-apiserver answers for a pod at a loopback address, and
        // for a user without pods/proxy.
        let not_allowed = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"address not allowed","reason":"BadRequest","code":400}"#;
        assert_eq!(
            proxy_answer(400, not_allowed),
            Proxy::Refused("address not allowed".into())
        );
        let forbidden = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"p\" is forbidden: User \"u\" cannot get resource \"pods/proxy\"","reason":"Forbidden","code":403}"#;
        assert!(
            matches!(proxy_answer(403, forbidden), Proxy::Refused(m) if m.contains("pods/proxy"))
        );
        let no_endpoints = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"x\"","reason":"ServiceUnavailable","code":503}"#;
        assert!(matches!(proxy_answer(503, no_endpoints), Proxy::Refused(_)));
    }

    #[test]
    fn refusals_become_one_coverage_record_per_namespace() {
        let target = |pod: &str| Target {
            namespace: "ml".into(),
            pod: pod.into(),
            port: 8080,
            path: "/ready".into(),
            https: false,
        };
        let records = not_probed(&[
            (target("a"), false, "address not allowed".into()),
            (target("b"), false, "address not allowed".into()),
        ]);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].resource, "pods/proxy");
        assert_eq!(
            records[0].message,
            "the API server did not reach 2 health endpoints (a:8080/ready, b:8080/ready): address not allowed"
        );
        assert_eq!(
            records[0].describe(),
            "failed: get pods/proxy in namespace ml"
        );
    }
}
