//! `seldon-model-failures`: Models whose replicas failed to load (`ModelFailed`).
//! The scheduler state is the `message` of `ModelReady`; the agent's reason is its `reason`.

use serde::Deserialize;

use crate::analyzers::seldon::model as seldon;
use crate::analyzers::seldon::server_capacity::serves;
use crate::analyzers::seldon::servers;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-model-failures",
    summary: "Seldon Models whose server agent failed to load them, with the agent's reason",
    needs: &[Kind::SeldonModel],
    optional: &[
        Kind::SeldonServer,
        Kind::SeldonServerConfig,
        Kind::StatefulSet,
        Kind::Event,
    ],
    data: &[],
    build: build::<ModelFailures>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelFailures {
    /// Scheduler states that mean the load failed.
    #[serde(default = "default_states")]
    states: Vec<String>,
}

fn default_states() -> Vec<String> {
    vec!["ModelFailed".to_string()]
}

impl Analyzer for ModelFailures {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonModel) {
            return Err(seldon::absent(view, "no Models were read"));
        }
        if view.custom(Kind::SeldonModel).next().is_none() {
            return Err("not applicable: no Models".into());
        }
        let mut drafts = Vec::new();
        for m in view.custom(Kind::SeldonModel) {
            let Some(s) = seldon::model_state(m) else {
                continue;
            };
            if s.ready || !self.states.contains(&s.state) {
                continue;
            }
            let name = m.name();
            let ns = m.namespace();
            let reason = if s.text.is_empty() {
                "no reason recorded"
            } else {
                s.text.as_str()
            };
            let mut draft = Draft::new(
                seldon::object_ref(Kind::SeldonModel, m).with_field("spec.storageUri"),
                format!("Model {name} failed to load: {reason}"),
            )
            .evidence(s.condition.describe());
            if let Some(uri) = m.str_at("/spec/storageUri") {
                draft.evidence.push(format!("spec.storageUri: {uri}"));
            }
            let reqs = servers::model_requirements(m);
            if !reqs.is_empty() {
                draft
                    .evidence
                    .push(format!("requirements: {}", reqs.join(", ")));
            }
            if let Some(server) = m.str_at("/spec/server") {
                draft.evidence.push(format!("spec.server: {server}"));
            }
            for e in view.events_for(Kind::SeldonModel, ns, name) {
                if e.type_.as_deref() == Some("Warning") {
                    draft.evidence.push(format!(
                        "event {}: {}",
                        e.reason.as_deref().unwrap_or_default(),
                        e.message.as_deref().unwrap_or_default()
                    ));
                }
            }
            let server = m
                .str_at("/spec/server")
                .map(str::to_string)
                .or_else(|| {
                    view.custom(Kind::SeldonServer)
                        .find(|s| s.namespace() == ns && serves(view, s, m))
                        .map(|s| s.name().to_string())
                })
                .unwrap_or_else(|| "<server>".to_string());
            drafts.push(draft.fix(
                Fix::manual(format!(
                    "Fix what the agent reports: check that spec.storageUri holds a model the runtime can read (files, model-settings.json, version folder), that spec.secretName grants access to it, and that the server runtime has the libraries the model needs. The agent's log on the server pods has the full error. After the fix, re-apply Model {name} (or bump a field) so the scheduler loads it again."
                ))
                .with_kubectl(format!("kubectl logs -n {ns} {server}-0 -c agent | grep {name}")),
            ));
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn quotes_the_agents_reason() {
        let drafts = run("seldon-model-failures", "{}", &fixture("seldon-misconfig"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("seldon-model-failures", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(
            run(
                "seldon-model-failures",
                "{}",
                &fixture("seldon-mesh-broken")
            )
            .is_empty()
        );
    }
}
