//! What the dataflow engine's own log says about its scheduler address: the
//! address it connects to, and whether it failed to resolve the upstream host.
//! Only the pods that run after the last rollout restart count.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use k8s_openapi::jiff;
use regex::Regex;

use crate::analyzers::seldon::dataflow::{DATAFLOW_CONTAINER, Dataflow};
use crate::analyzers::text::clip;
use crate::cluster::ClusterView;
use crate::plan::restart;

/// `will connect to HOST:PORT` (PipelineSubscriber.subscribe).
static CONNECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"will connect to (?P<host>[^\s:]+):(?P<port>\d+)").expect("regex")
});
/// grpc-java's DnsNameResolver and the JVM's resolver.
static UNRESOLVED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:Unable to resolve host (?P<a>[^\s:]+)|UnknownHostException: (?P<b>[^\s:]+): Name or service not known)")
        .expect("regex")
});

/// The engine's log, as evidence about its upstream address.
pub(super) struct EngineLog {
    /// Quoted lines, one per kind of message and host.
    pub lines: Vec<String>,
    /// The engine failed to resolve the upstream host.
    pub resolve_failed: bool,
    /// The address the engine last said it connects to.
    pub connects_to: Option<String>,
    /// Some log of the engine's current pods was read (live, the kubelet
    /// answered and reading logs was allowed).
    pub read: bool,
}

/// Read the logs of the engine's current pods about `host`, its upstream host:
/// only failures to resolve that host blame the scheduler address; other
/// hosts (the tracing collector, Kafka) are other checks' business.
pub(super) fn read(view: &ClusterView, ns: &str, df: &Dataflow<'_>, host: &str) -> EngineLog {
    let mut log_lines: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut resolve_failed = false;
    let mut connects_to: Option<String> = None;
    let mut read = false;
    // Pods created before the last rollout restart are being replaced: what
    // they logged says nothing about the engine that runs next.
    let restarted = df.deployment.and_then(restarted_at);
    for pod in df.pods.iter().filter(|p| {
        !restarted.is_some_and(|r| {
            p.metadata
                .creation_timestamp
                .as_ref()
                .is_some_and(|c| c.0 < r)
        })
    }) {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        for log in view.logs_of(ns, name, DATAFLOW_CONTAINER) {
            read = true;
            for line in log.lines() {
                if let Some(c) = CONNECT.captures(line) {
                    connects_to = Some(format!("{}:{}", &c["host"], &c["port"]));
                    if seen.insert(format!("connect {}", &c["host"])) {
                        log_lines.push(format!("{name}: {}", clip(line.trim(), 240)));
                    }
                }
                if let Some(c) = UNRESOLVED.captures(line) {
                    let unresolved = c
                        .name("a")
                        .or(c.name("b"))
                        .expect("one alternative")
                        .as_str();
                    if unresolved == host {
                        resolve_failed = true;
                        let key = if c.name("a").is_some() { "grpc" } else { "jvm" };
                        if seen.insert(format!("{key} {unresolved}")) {
                            log_lines.push(format!("{name}: {}", clip(line.trim(), 240)));
                        }
                    }
                }
            }
        }
    }
    EngineLog {
        lines: log_lines,
        resolve_failed,
        connects_to,
        read,
    }
}

/// When the Deployment was last restarted (`kubectl rollout restart`'s annotation).
fn restarted_at(d: &k8s_openapi::api::apps::v1::Deployment) -> Option<jiff::Timestamp> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(restart::RESTARTED_AT)?
        .parse()
        .ok()
}
