//! The repair of a dataflow engine that cannot reach its scheduler: point its
//! upstream address at the namespace's scheduler Service (in the SeldonRuntime,
//! which the operator rolls out), or restart an engine stuck on a failed lookup.

use serde_json::Value;

use crate::analyzers::seldon::dataflow::{
    DATAFLOW_COMPONENT, DATAFLOW_CONTAINER, DEFAULT_UPSTREAM_HOST, Dataflow, UPSTREAM_HOST,
    UPSTREAM_PORT,
};
use crate::analyzers::seldon::patches;
use crate::cluster::{ClusterView, ObjectRef};
use crate::plan::{Operation, restart};
use crate::report::findings::{Applicability, Fix};

/// The scheduler Service of a namespace and its dataflow port, when it is healthy.
pub(super) struct Scheduler {
    name: String,
    port: i32,
    ready: bool,
}

pub(super) fn scheduler_service(view: &ClusterView, ns: &str) -> Option<Scheduler> {
    let dataflow_port = |svc: &k8s_openapi::api::core::v1::Service| {
        svc.spec.as_ref().and_then(|s| {
            s.ports.iter().flatten().find_map(|p| {
                (p.name.as_deref() == Some("dataflow") || p.port == 9008).then_some(p.port)
            })
        })
    };
    let svc = view
        .services
        .get(ns, DEFAULT_UPSTREAM_HOST)
        .filter(|s| dataflow_port(s).is_some())
        .or_else(|| {
            view.services
                .in_namespace(ns)
                .find(|s| dataflow_port(s).is_some())
        })?;
    let name = svc.metadata.name.clone()?;
    Some(Scheduler {
        port: dataflow_port(svc)?,
        ready: view.ready_endpoints(ns, &name).is_none_or(|n| n > 0),
        name,
    })
}

pub(super) fn fix(
    df: &Dataflow<'_>,
    runtime: &ObjectRef,
    host: &str,
    port: &str,
    scheduler: Option<Scheduler>,
    restart: Option<Operation>,
) -> Fix {
    let owner_note = format!(
        " The operator owns Deployment {DATAFLOW_COMPONENT} and reverts edits made there; it rolls the dataflow pods once the SeldonRuntime changes.{}",
        patches::managed_note(df.runtime, "The SeldonRuntime")
    );
    let Some(s) = scheduler else {
        return Fix::manual(format!(
            "Deploy the scheduler in namespace {} (its SeldonRuntime creates Service seldon-scheduler), or set {UPSTREAM_HOST}/{UPSTREAM_PORT} in SeldonRuntime {}'s {DATAFLOW_COMPONENT} override to a scheduler that exists.{owner_note}",
            runtime.namespace.as_deref().unwrap_or_default(),
            runtime.name
        ));
    };
    let new_port = s.port.to_string();
    let mut ops = Vec::new();
    let mut changes = Vec::new();
    if host != s.name {
        match patches::set_env_ops(df, &df.upstream_host.source, UPSTREAM_HOST, host, &s.name) {
            Some(o) => ops.extend(o),
            None => {
                return Fix::manual(format!(
                    "Set {UPSTREAM_HOST}={} on container {DATAFLOW_CONTAINER} in SeldonRuntime {}'s {DATAFLOW_COMPONENT} override.{owner_note}",
                    s.name, runtime.name
                ));
            }
        }
        changes.push(format!("{UPSTREAM_HOST} from {host} to {}", s.name));
    }
    if port != new_port {
        match patches::set_env_ops(df, &df.upstream_port.source, UPSTREAM_PORT, port, &new_port) {
            Some(o) => ops.extend(o),
            None => {
                return Fix::manual(format!(
                    "Set {UPSTREAM_PORT}={new_port} on container {DATAFLOW_CONTAINER} in SeldonRuntime {}'s {DATAFLOW_COMPONENT} override.{owner_note}",
                    runtime.name
                ));
            }
        }
        changes.push(format!("{UPSTREAM_PORT} from {port} to {new_port}"));
    }
    if ops.is_empty() {
        if let Some(op) = restart.filter(|_| s.ready) {
            // The address is right and the scheduler serves, yet the engine
            // failed to resolve it (it started before the scheduler Service
            // existed, or DNS failed once): the JVM caches the failed lookup
            // and the engine keeps its broken subscription until it restarts.
            return Fix::new(
                Applicability::Unsafe,
                format!(
                    "The address already names Service {}:{}, which has ready endpoints, but the engine failed to resolve it and has not recovered: restart Deployment {DATAFLOW_COMPONENT} (what `kubectl rollout restart` does: annotate its pod template with {}). Pipelines stop streaming while the new pod starts; the SeldonRuntime is not changed.",
                    s.name,
                    s.port,
                    restart::RESTARTED_AT
                ),
            )
            .with_operation(op);
        }
        return Fix::manual(format!(
            "The address already names Service {}:{}; make its scheduler pods ready (see the scheduler's own findings).",
            s.name, s.port
        ));
    }
    let applicability = if s.ready {
        Applicability::Safe
    } else {
        Applicability::Manual
    };
    Fix::new(
        applicability,
        format!(
            "Point the dataflow engine at the scheduler Service {}:{} in its own namespace: in SeldonRuntime {}, change {}.{owner_note}",
            s.name,
            s.port,
            runtime.name,
            changes.join(" and ")
        ),
    )
    .with_kubectl(patches::patch_command(runtime, "json", &Value::Array(ops)))
}
