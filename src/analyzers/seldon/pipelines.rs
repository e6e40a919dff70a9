//! `seldon-pipelines`: Pipelines that are not ready, each with one root cause
//! and its symptoms grouped as evidence. A Pipeline's `PipelineReady` holds the
//! scheduler state in `reason` (`PipelineCreate`, `PipelineFailed`, …) and the
//! text in `message` — the opposite of a Model's `ModelReady`.

use serde::Deserialize;

use crate::analyzers::conditions;
use crate::analyzers::kafka::reachable as kafka_reachable;
use crate::analyzers::seldon::dataflow;
use crate::analyzers::seldon::model::{self, State};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-pipelines",
    summary: "Seldon Pipelines not ready, explained down to the dataflow engine, models, gateway or Kafka",
    needs: &[Kind::SeldonPipeline],
    optional: &[
        Kind::SeldonModel,
        Kind::SeldonServer,
        Kind::SeldonRuntime,
        Kind::Deployment,
    ],
    data: &[],
    build: build::<SeldonPipelines>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SeldonPipelines {}

/// The scheduler text Seldon writes when no dataflow engine is connected.
const NO_DATAFLOW: &str = "no dataflow engines available";
const PIPELINE_GATEWAY: &str = "seldon-pipelinegateway";

impl Analyzer for SeldonPipelines {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonPipeline) {
            return Err(model::absent(view, "no Pipelines were read"));
        }
        if view.custom(Kind::SeldonPipeline).next().is_none() {
            return Err("not applicable: no Pipelines".into());
        }
        let mut drafts = Vec::new();
        for p in view.custom(Kind::SeldonPipeline) {
            if p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let state = model::pipeline_state(p).or_else(|| {
                conditions::condition(p, &["Ready"]).map(|c| State {
                    ready: c.is_true(),
                    state: c.reason.clone(),
                    text: c.message.clone(),
                    condition: c,
                })
            });
            let Some(state) = state else {
                continue; // not reconciled yet: no status to judge
            };
            if !state.ready {
                drafts.push(judge(view, p, &state));
            }
        }
        Ok(drafts)
    }
}

/// The Models a Pipeline's steps name.
fn step_models(p: &DynamicObject) -> Vec<String> {
    p.pointer("/spec/steps")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("name").and_then(serde_json::Value::as_str))
        .map(str::to_string)
        .collect()
}

fn judge(view: &ClusterView, p: &DynamicObject, state: &State) -> Draft {
    let ns = p.namespace();
    let subject = model::object_ref(Kind::SeldonPipeline, p).with_field("status.conditions");
    let mut evidence = vec![state.condition.describe()];
    for c in conditions::conditions(p) {
        if !c.is_true() && c.type_ != state.condition.type_ && c.type_ != "Ready" {
            evidence.push(c.describe());
        }
    }

    // Models behind the steps.
    let mut missing = Vec::new();
    let mut unready = Vec::new();
    for m in step_models(p) {
        match view.custom_get(Kind::SeldonModel, ns, &m) {
            None => missing.push(m),
            Some(model) => match model::model_state(model) {
                Some(s) if s.ready => {}
                Some(s) => {
                    let gw = model
                        .str_at("/status/modelgwReady")
                        .map_or(String::new(), |g| format!(", status.modelgwReady={g}"));
                    evidence.push(format!("Model {m}: {} ({}){gw}", s.state, s.text));
                    unready.push(model);
                }
                None => {
                    evidence.push(format!("Model {m}: no ModelReady condition yet"));
                    unready.push(model);
                }
            },
        }
    }
    for m in &missing {
        evidence.push(format!(
            "step {m} names Model {m}, which does not exist in namespace {ns}"
        ));
    }

    // The gateway's Deployment, or else the Pipeline's own `PipelineGwReady` (2.9+).
    let gateway_down = gateway_unready(view, ns).or_else(|| {
        conditions::condition(p, &["PipelineGwReady"])
            .filter(|c| !c.is_true() && !c.message.contains(NO_DATAFLOW))
            .map(|c| c.describe())
    });
    if let Some(g) = &gateway_down
        && !evidence.contains(g)
    {
        evidence.push(g.clone());
    }
    let kafka_down = view.kafka.as_ref().is_some_and(|k| !k.reachable);

    let runtime = model::runtime_in(view, ns).map(|r| model::object_ref(Kind::SeldonRuntime, r));
    let no_dataflow = state.text.contains(NO_DATAFLOW);
    let creating = matches!(state.state.as_str(), "PipelineCreate" | "PipelineCreating");
    let name = p.name();

    let dataflow_root = no_dataflow
        || (creating
            && missing.is_empty()
            && unready.is_empty()
            && gateway_down.is_none()
            && !kafka_down);
    let (root, fix) = if dataflow_root {
        (
            "no dataflow engine is connected to the scheduler, so the scheduler cannot create it"
                .to_string(),
            Fix::manual(format!(
                "Fix the dataflow engine's connection to the scheduler in namespace {ns} (see the dataflow finding). The scheduler creates the Pipeline once an engine connects: no change to Pipeline {name} is needed."
            )),
        )
    } else if !missing.is_empty() {
        (
            format!(
                "its step{} {} name{} no Model",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if missing.len() == 1 { "s" } else { "" }
            ),
            Fix::manual(format!(
                "Create the missing Model{} in namespace {ns}, or correct the step names in Pipeline {name}.",
                if missing.len() == 1 { "" } else { "s" }
            )),
        )
    } else if !unready.is_empty() {
        let names: Vec<&str> = unready.iter().map(|m| m.name()).collect();
        (
            format!(
                "Model{} {} {} not ready",
                if names.len() == 1 { "" } else { "s" },
                names.join(", "),
                if names.len() == 1 { "is" } else { "are" }
            ),
            Fix::manual(format!(
                "Make the Models ready (see their findings); Pipeline {name} follows on its own."
            )),
        )
    } else if let Some(g) = &gateway_down {
        (
            format!("the pipeline gateway is not ready ({g})"),
            Fix::manual(format!(
                "Make Deployment {PIPELINE_GATEWAY} in namespace {ns} ready (see its pods' findings)."
            )),
        )
    } else if kafka_down {
        (
            "Kafka is unreachable, so its topics cannot be created".to_string(),
            Fix::manual("Make Kafka reachable (see the Kafka finding); the dataflow engine then creates the pipeline's streams.".to_string()),
        )
    } else {
        (
            format!(
                "the scheduler reports: {}",
                if state.text.is_empty() {
                    "no reason given"
                } else {
                    &state.text
                }
            ),
            Fix::manual(format!(
                "Read the scheduler's and the dataflow engine's logs in namespace {ns} for Pipeline {name}; `seldon pipeline status {name}` shows the same state."
            )),
        )
    };
    if dataflow_root && let Some(d) = view.deployments.get(ns, dataflow::DATAFLOW_COMPONENT) {
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let ready = d
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0);
        evidence.push(format!(
            "{}: {ready}/{want} replicas ready",
            ObjectRef::to(d)
        ));
    }
    let shown_state = if state.state.is_empty() {
        String::new()
    } else {
        format!(" (state {})", state.state)
    };
    let mut draft = Draft::new(
        subject,
        format!("Pipeline {name} is not ready{shown_state}: {root}"),
    );
    draft.evidence = evidence;
    if dataflow_root && let Some(r) = &runtime {
        draft = draft.caused_by("seldon-dataflow-scheduler", r.clone());
    }
    for m in &unready {
        let model = model::object_ref(Kind::SeldonModel, m);
        draft = draft
            .caused_by("seldon-model-failures", model.clone())
            .caused_by("seldon-model-requirements", model);
        for s in view
            .custom(Kind::SeldonServer)
            .filter(|s| s.namespace() == ns)
        {
            draft = draft.caused_by(
                "seldon-server-capacity",
                model::object_ref(Kind::SeldonServer, s),
            );
        }
    }
    if kafka_down {
        draft = draft.caused_by("kafka-reachable", kafka_reachable::subject(view));
    }
    match runtime {
        Some(r) if draft.causes.is_empty() => {
            draft = draft.caused_by("seldon-dataflow-scheduler", r);
        }
        Some(_) => {}
        // No SeldonRuntime: nothing in the namespace can make it ready.
        None => {
            draft = draft.caused_by(
                "seldon-runtime-missing",
                ObjectRef::new("v1", "Namespace", None, ns),
            );
        }
    }
    draft.fix(fix)
}

/// Why the namespace's pipeline gateway is not ready, if it is not.
fn gateway_unready(view: &ClusterView, ns: &str) -> Option<String> {
    let d = view.deployments.get(ns, PIPELINE_GATEWAY)?;
    let status = d.status.as_ref();
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = status.and_then(|s| s.ready_replicas).unwrap_or(0);
    (want > 0 && ready == 0).then(|| format!("{}: {ready}/{want} replicas ready", ObjectRef::to(d)))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn pipeline_waits_for_a_dataflow_engine() {
        let drafts = run("seldon-pipelines", "{}", &fixture("seldon-mesh-broken"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("seldon-pipelines", "{}", &fixture("healthy-seldon")).is_empty());
    }

    /// Set a condition of a Seldon object in a loaded view.
    fn set_condition(
        view: &mut crate::cluster::ClusterView,
        kind: crate::cluster::Kind,
        name: &str,
        type_: &str,
        status: &str,
        reason: &str,
        message: &str,
    ) {
        let store = view.custom.get_mut(&kind).expect("kind loaded");
        let mut obj = store.get("seldon-mesh", name).expect("object").clone();
        for c in obj.data["status"]["conditions"]
            .as_array_mut()
            .expect("conditions")
        {
            if c["type"] == type_ || c["type"] == "Ready" {
                c["status"] = status.into();
                c["reason"] = reason.into();
                c["message"] = message.into();
            }
        }
        store.insert(obj);
    }

    #[test]
    fn a_failed_step_model_is_the_root() {
        use crate::cluster::Kind;
        let mut view = fixture("healthy-seldon");
        set_condition(
            &mut view,
            Kind::SeldonModel,
            "intent-classifier",
            "ModelReady",
            "False",
            "Failed to schedule model as no matching server had enough suitable replicas",
            "ScheduleFailed",
        );
        set_condition(
            &mut view,
            Kind::SeldonPipeline,
            "chatbot-pipeline",
            "PipelineReady",
            "False",
            "PipelineFailed",
            "Some models are not available",
        );
        set_condition(
            &mut view,
            Kind::SeldonPipeline,
            "chatbot-pipeline",
            "ModelsReady",
            "False",
            "",
            "Some models are not available",
        );
        let drafts = run("seldon-pipelines", "{}", &view);
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn the_pipeline_gateway_condition_is_read() {
        use crate::cluster::Kind;
        let mut view = fixture("healthy-seldon");
        set_condition(
            &mut view,
            Kind::SeldonPipeline,
            "chatbot-pipeline",
            "PipelineGwReady",
            "False",
            "PipelineFailed",
            "pipeline gateway failed to subscribe to pipeline outputs",
        );
        set_condition(
            &mut view,
            Kind::SeldonPipeline,
            "chatbot-pipeline",
            "PipelineReady",
            "False",
            "PipelineFailed",
            "pipeline gateway failed to subscribe to pipeline outputs",
        );
        let drafts = run("seldon-pipelines", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0]
                .message
                .contains("the pipeline gateway is not ready"),
            "{}",
            drafts[0].message
        );
    }
}
