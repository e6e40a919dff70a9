//! `seldon-server-capacity`: Models the scheduler could not place because no
//! matching Server had enough suitable replicas. Each model replica needs its
//! own server replica, and the models on a replica must fit its memory request
//! plus the overcommit (`SELDON_OVERCOMMIT_PERCENTAGE`, 10% by default).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::analyzers::conditions;
use crate::analyzers::seldon::model;
use crate::analyzers::seldon::servers::{self, ReplicaMemory};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind};
use crate::plan::Operation;
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-server-capacity",
    summary: "Seldon Models that failed to schedule because their Server has too few replicas or too little memory",
    needs: &[Kind::SeldonModel, Kind::SeldonServer],
    optional: &[Kind::SeldonServerConfig, Kind::StatefulSet],
    data: &[],
    build: build::<ServerCapacity>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerCapacity {}

/// The scheduler's text when matching servers exist but lack replicas.
pub const NOT_ENOUGH_REPLICAS: &str = "enough suitable replicas";

/// Whether a Server can host a Model by name and capabilities.
pub fn serves(view: &ClusterView, server: &DynamicObject, model: &DynamicObject) -> bool {
    match model.str_at("/spec/server") {
        Some(pinned) => pinned == server.name(),
        None => {
            let caps = servers::server_capabilities(view, server);
            servers::model_requirements(model)
                .iter()
                .all(|r| caps.contains(r))
        }
    }
}

impl Analyzer for ServerCapacity {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonModel) || !view.has(Kind::SeldonServer) {
            return Err(model::absent(view, "Models and Servers were not both read"));
        }
        if view.custom(Kind::SeldonModel).next().is_none() {
            return Err("not applicable: no Models".into());
        }
        // Server (ns, name) → the Models that failed for lack of replicas.
        let mut failing: BTreeMap<(String, String), Vec<&DynamicObject>> = BTreeMap::new();
        for m in view.custom(Kind::SeldonModel) {
            let Some(s) = model::model_state(m) else {
                continue;
            };
            if s.ready || s.state != "ScheduleFailed" || !s.text.contains(NOT_ENOUGH_REPLICAS) {
                continue;
            }
            let ns = m.namespace();
            for server in view
                .custom(Kind::SeldonServer)
                .filter(|s| s.namespace() == ns && serves(view, s, m))
            {
                failing
                    .entry((ns.to_string(), server.name().to_string()))
                    .or_default()
                    .push(m);
            }
        }
        let mut drafts = Vec::new();
        for ((ns, name), models) in failing {
            let server = view
                .custom_get(Kind::SeldonServer, &ns, &name)
                .expect("found above");
            drafts.extend(judge(view, server, &models));
        }
        Ok(drafts)
    }
}

/// The finding for one Server, or `None` while it scales up to enough replicas.
fn judge(view: &ClusterView, server: &DynamicObject, failing: &[&DynamicObject]) -> Option<Draft> {
    let ns = server.namespace();
    let name = server.name();
    let replicas = server.i64_at("/spec/replicas").unwrap_or(1);
    let max = server.i64_at("/spec/maxReplicas").filter(|m| *m > 0);
    let loaded = server.i64_at("/status/loadedModels");
    let memory = servers::server_memory(view, server);

    // The ready Models this Server hosts as far as the view tells (pinned, or matching).
    let hosted: Vec<&DynamicObject> = view
        .custom(Kind::SeldonModel)
        .filter(|m| m.namespace() == ns)
        .filter(|m| model::model_state(m).is_some_and(|s| s.ready))
        .filter(|m| serves(view, server, m))
        .collect();

    let mut evidence = Vec::new();
    for m in failing {
        let s = model::model_state(m).expect("failing models have a state");
        evidence.push(format!(
            "Model {}: {} {} ({})",
            m.name(),
            s.condition.type_,
            s.state,
            s.text
        ));
    }
    let want_replicas = failing
        .iter()
        .map(|m| servers::model_replicas(m))
        .max()
        .unwrap_or(1);
    for m in failing {
        let mem = servers::model_memory(m)
            .map_or(String::new(), |b| format!(" of {} each", servers::bytes(b)));
        evidence.push(format!(
            "Model {} wants {} replica{}{mem}; each model replica needs its own Server replica",
            m.name(),
            servers::model_replicas(m),
            if servers::model_replicas(m) == 1 {
                ""
            } else {
                "s"
            }
        ));
    }
    // 2.8 writes StatefulSetReady, later releases StatefulSetOrDeploymentReady.
    if let Some(c) = conditions::condition(
        server,
        &["StatefulSetOrDeploymentReady", "StatefulSetReady"],
    ) && !c.is_true()
    {
        evidence.push(c.describe());
    }
    evidence.push(format!(
        "Server {name}: spec.replicas {replicas}, maxReplicas {}, status.loadedModels {} (model replicas loaded)",
        max.map_or("unset".to_string(), |m| m.to_string()),
        loaded.map_or("unknown".to_string(), |l| l.to_string())
    ));

    // Memory: every model replica on some server replica.
    let demand: f64 = hosted
        .iter()
        .chain(failing)
        .filter_map(|m| servers::model_memory(m).map(|b| b * servers::model_replicas(m) as f64))
        .sum();
    let mut need = want_replicas;
    let mut too_big = Vec::new();
    if let Some(ReplicaMemory {
        request,
        overcommit_percent,
    }) = memory
    {
        let capacity = memory.expect("some").capacity();
        evidence.push(format!(
            "each replica offers {} for models ({} memory request + {overcommit_percent}% overcommit); Models here need {} in total",
            servers::bytes(capacity),
            servers::bytes(request),
            servers::bytes(demand)
        ));
        if capacity > 0.0 {
            need = need.max((demand / capacity).ceil() as i64);
        }
        for m in failing {
            if servers::model_memory(m).is_some_and(|b| b > capacity) {
                too_big.push(m.name().to_string());
            }
        }
    }
    let models: Vec<&str> = failing.iter().map(|m| m.name()).collect();
    let subject = model::object_ref(Kind::SeldonServer, server).with_field("spec.replicas");
    let server_ref = subject.object();

    if !too_big.is_empty() {
        return with_evidence(Draft::new(
            subject,
            format!(
                "Model{} {} need{} more memory than one replica of Server {name} offers, so more replicas cannot help",
                if too_big.len() == 1 { "" } else { "s" },
                too_big.join(", "),
                if too_big.len() == 1 { "s" } else { "" }
            ),
        )
        .fix(Fix::manual(format!(
            "Give Server {name} a larger memory request (in its ServerConfig or spec.podSpec), or lower the Model's spec.memory if it overstates what it needs."
        ))), evidence);
    }
    let observed = server.i64_at("/status/replicas");
    if need <= replicas && observed.is_some_and(|o| o < replicas) {
        // Scaling up to enough replicas (the fix was applied): the scheduler
        // places the Models as replicas join; a stalled scale-up shows on the
        // Server's and Models' own conditions.
        return None;
    }
    if need <= replicas {
        return with_evidence(Draft::new(
            subject,
            format!(
                "Model{} {} could not be scheduled on Server {name} although its {replicas} replicas should be enough: some replicas are not serving",
                if models.len() == 1 { "" } else { "s" },
                models.join(", ")
            ),
        )
        .fix(Fix::manual(format!(
            "Make all replicas of Server {name} ready (see the StatefulSet's pods); the scheduler retries the Models when replicas join."
        ))), evidence);
    }
    let mut raise_max = String::new();
    if let Some(m) = max
        && m < need
    {
        raise_max = format!(
            " and maxReplicas from {m} to {need} (Seldon rejects replicas above maxReplicas, as `kubectl scale` alone would hit: `scaling spec is invalid: number of replicas {need} must be <= max replicas {m}`)"
        );
    }
    let scale = scale_up(server, &server_ref, need, max.filter(|m| *m < need));
    with_evidence(Draft::new(
        subject,
        format!(
            "Server {name} has too few replicas: Model{} {} need{} {need} and it runs {replicas}{}",
            if models.len() == 1 { "" } else { "s" },
            models.join(", "),
            if models.len() == 1 { "s" } else { "" },
            max.map_or(String::new(), |m| format!(" (maxReplicas {m})"))
        ),
    )
    .fix(
        Fix::new(
            Applicability::Unsafe,
            format!(
                "Scale Server {name} up: raise replicas from {replicas} to {need}{raise_max}. Only adds replicas, but each one is a pod that needs room on the nodes and costs money: unsafe, applied with --unsafe. The scheduler then places the waiting Models."
            ),
        )
        .with_operation(scale),
    ), evidence)
}

/// Raise `spec.replicas` to `need`, and `spec.maxReplicas` with it when it is
/// below (`low_max`). Guarded by the current values: it only ever scales up.
fn scale_up(
    server: &DynamicObject,
    target: &crate::cluster::ObjectRef,
    need: i64,
    low_max: Option<i64>,
) -> Operation {
    // Adding capacity is unsafe: more pods, which may not fit the nodes.
    let mut op = Operation::patch(target, &server.metadata, Applicability::Unsafe);
    op = match server.pointer("/spec/replicas") {
        Some(old) => op
            .test("/spec/replicas", old.clone())
            .replace("/spec/replicas", json!(need)),
        None => op.add("/spec/replicas", json!(need)),
    };
    if let Some(m) = low_max {
        op = op
            .test("/spec/maxReplicas", json!(m))
            .replace("/spec/maxReplicas", json!(need));
    }
    op
}

/// A draft with its evidence lines.
fn with_evidence(mut draft: Draft, lines: Vec<String>) -> Option<Draft> {
    draft.evidence = lines;
    Some(draft)
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn server_needs_more_replicas() {
        let drafts = run(
            "seldon-server-capacity",
            "{}",
            &fixture("seldon-mesh-broken"),
        );
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("seldon-server-capacity", "{}", &fixture("healthy-seldon")).is_empty());
    }
}
