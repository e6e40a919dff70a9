//! `seldon-model-requirements`: Models no Server can take: the Server pinned in
//! `spec.server` does not exist, or no Server advertises every requirement
//! (`spec.requirements` plus `spec.modelType`) among its capabilities.

use serde::Deserialize;
use serde_json::json;

use crate::analyzers::seldon::model as seldon;
use crate::analyzers::seldon::server_capacity::serves;
use crate::analyzers::seldon::{patches, servers};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-model-requirements",
    summary: "Seldon Models whose requirements no Server's capabilities meet, or pinned to a missing Server",
    needs: &[Kind::SeldonModel, Kind::SeldonServer],
    optional: &[Kind::SeldonServerConfig, Kind::StatefulSet],
    data: &[],
    build: build::<ModelRequirements>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelRequirements {}

impl Analyzer for ModelRequirements {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonModel) || !view.has(Kind::SeldonServer) {
            return Err(seldon::absent(
                view,
                "Models and Servers were not both read",
            ));
        }
        if view.custom(Kind::SeldonModel).next().is_none() {
            return Err("not applicable: no Models".into());
        }
        let mut drafts = Vec::new();
        for m in view.custom(Kind::SeldonModel) {
            // Only what the scheduler refused: a Model without status was never sent to it.
            if !seldon::model_state(m).is_some_and(|s| !s.ready && s.state == "ScheduleFailed") {
                continue;
            }
            let ns = m.namespace();
            let servers: Vec<&DynamicObject> = view
                .custom(Kind::SeldonServer)
                .filter(|s| s.namespace() == ns)
                .collect();
            if let Some(d) = judge(view, m, &servers) {
                drafts.push(d);
            }
        }
        Ok(drafts)
    }
}

fn judge(view: &ClusterView, m: &DynamicObject, servers: &[&DynamicObject]) -> Option<Draft> {
    let name = m.name();
    let ns = m.namespace();
    let reqs = servers::model_requirements(m);
    let model_ref = seldon::object_ref(Kind::SeldonModel, m);
    let state = seldon::model_state(m);
    let mut evidence: Vec<String> = state.iter().map(|s| s.condition.describe()).collect();
    let capable: Vec<&str> = servers
        .iter()
        .filter(|s| {
            let caps = servers::server_capabilities(view, s);
            reqs.iter().all(|r| caps.contains(r))
        })
        .map(|s| s.name())
        .collect();

    if let Some(pinned) = m.str_at("/spec/server") {
        if servers.iter().any(|s| s.name() == pinned) {
            return None;
        }
        evidence.push(format!(
            "Servers in namespace {ns}: {}",
            if servers.is_empty() {
                "none".to_string()
            } else {
                servers
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
        let mut fix = Fix::manual(format!(
            "Create Server {pinned} in namespace {ns}, or point spec.server at an existing Server{}.",
            if capable.is_empty() {
                String::new()
            } else {
                format!(" that meets the requirements ({})", capable.join(", "))
            }
        ));
        if let Some(first) = capable.first() {
            fix = fix.with_kubectl(patches::patch_command(
                &model_ref,
                "merge",
                &json!({"spec": {"server": first}}),
            ));
        }
        let mut d = Draft::new(
            model_ref.with_field("spec.server"),
            format!(
                "Model {name} is pinned to Server {pinned}, which does not exist in namespace {ns}"
            ),
        );
        d.evidence = evidence;
        return Some(d.fix(fix));
    }
    if !capable.is_empty() || servers.iter().any(|s| serves(view, s, m)) {
        return None;
    }
    // A Server whose capabilities cannot be read (no ServerConfig or StatefulSet
    // in the view) might meet the requirements: do not claim none does.
    if servers
        .iter()
        .any(|s| servers::server_capabilities(view, s).is_empty())
    {
        return None;
    }
    for s in servers {
        let caps = servers::server_capabilities(view, s);
        let lacking: Vec<&str> = reqs
            .iter()
            .filter(|r| !caps.contains(r))
            .map(String::as_str)
            .collect();
        evidence.push(format!(
            "Server {} advertises {}; lacks {}",
            s.name(),
            if caps.is_empty() {
                "no capabilities".to_string()
            } else {
                caps.join(",")
            },
            lacking.join(", ")
        ));
    }
    if servers.is_empty() {
        evidence.push(format!("namespace {ns} has no Servers"));
    }
    let mut d = Draft::new(
        model_ref.with_field("spec.requirements"),
        format!(
            "no Server in namespace {ns} meets Model {name}'s requirements ({})",
            reqs.join(", ")
        ),
    );
    d.evidence = evidence;
    Some(d.fix(Fix::manual(format!(
        "Deploy a Server whose ServerConfig provides {} (e.g. `triton` for tensorflow/onnx/pytorch, `mlserver` for sklearn/xgboost/huggingface), add a capability the runtime really has through the Server's spec.extraCapabilities, or correct the Model's spec.requirements.",
        reqs.join(", ")
    ))))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn requirements_and_pins() {
        let drafts = run(
            "seldon-model-requirements",
            "{}",
            &fixture("seldon-misconfig"),
        );
        assert_eq!(drafts.len(), 2);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(
            run(
                "seldon-model-requirements",
                "{}",
                &fixture("healthy-seldon")
            )
            .is_empty()
        );
        // A model that matches but lacks replicas is the capacity check's, not this one's.
        assert!(
            run(
                "seldon-model-requirements",
                "{}",
                &fixture("seldon-mesh-broken")
            )
            .is_empty()
        );
    }
}
