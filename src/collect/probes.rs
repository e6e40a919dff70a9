//! Active HTTP probes through the API server's pod proxy
//! (`/api/v1/namespaces/NS/pods/POD:PORT/proxy/PATH`): each running pod's
//! HTTP readiness probe (or liveness probe when it has none), asked from
//! outside the node, so a check can tell "the server answers 400 while not
//! ready" from "nothing listens".

use std::time::Instant;

use k8s_openapi::api::core::v1::{Container, HTTPGetAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::http::{Api, Failure, status_message};
use crate::cluster::{ClusterView, ProbeResult};

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

/// The HTTP readiness (else liveness) probe of every container of running pods.
pub fn wanted(view: &ClusterView) -> Vec<Target> {
    let mut out = Vec::new();
    for pod in view.pods.iter() {
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
            {
                out.push(target);
            }
        }
    }
    out.truncate(MAX_PROBES);
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

pub async fn probe(api: &Api, t: &Target) -> ProbeResult {
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
        Ok((status, body)) => match proxy_error(status, &body) {
            // The API server could not reach the pod: no answer from the server itself.
            Some(error) => result.error = Some(error),
            None => {
                result.status = Some(status);
                let text = String::from_utf8_lossy(&body);
                let text = text.trim();
                if !text.is_empty() {
                    result.body = Some(crate::analyzers::text::clip(text, BODY_CHARS));
                }
            }
        },
        Err(Failure::Timeout) => result.error = Some("no answer within the request timeout".into()),
        Err(e) => result.error = Some(e.to_string()),
    }
    result
}

/// The proxy's own failure ("error trying to reach service: dial tcp …:
/// connect: connection refused"), as opposed to the pod's answer.
fn proxy_error(status: u16, body: &[u8]) -> Option<String> {
    if !matches!(status, 502 | 503) {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if v.get("kind").and_then(|k| k.as_str()) != Some("Status") {
        return None;
    }
    let message = status_message(body);
    Some(
        message
            .strip_prefix("error trying to reach service: ")
            .unwrap_or(&message)
            .to_string(),
    )
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

    #[test]
    fn proxy_failures_are_errors_not_statuses() {
        let refused = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"error trying to reach service: dial tcp 10.244.1.7:8000: connect: connection refused","reason":"ServiceUnavailable","code":503}"#;
        assert_eq!(
            proxy_error(503, refused).as_deref(),
            Some("dial tcp 10.244.1.7:8000: connect: connection refused")
        );
        assert_eq!(proxy_error(503, b"upstream busy"), None);
        assert_eq!(proxy_error(400, refused), None);
    }
}
