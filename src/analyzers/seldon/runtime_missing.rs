//! `seldon-runtime-missing`: Models, Pipelines, Servers or Experiments in a
//! namespace without a SeldonRuntime. Seldon Core v2 runs one scheduler per
//! namespace, created by that namespace's SeldonRuntime; without it nothing
//! schedules the resources and they never get a status.

use serde::Deserialize;

use crate::analyzers::seldon::model::{self, WORKLOAD_CRS};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-runtime-missing",
    summary: "Seldon resources in a namespace that has no SeldonRuntime (so no scheduler)",
    needs: &[Kind::SeldonRuntime],
    optional: &[
        Kind::SeldonModel,
        Kind::SeldonPipeline,
        Kind::SeldonServer,
        Kind::SeldonExperiment,
        Kind::SeldonConfig,
    ],
    data: &[],
    build: build::<RuntimeMissing>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuntimeMissing {}

impl Analyzer for RuntimeMissing {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonRuntime) {
            return Err(model::absent(view, "no SeldonRuntimes were read"));
        }
        let namespaces = model::workload_namespaces(view);
        if namespaces.is_empty() {
            return Err(
                "not applicable: no Seldon Models, Pipelines, Servers or Experiments".into(),
            );
        }
        let with_runtime: Vec<&str> = view
            .custom(Kind::SeldonRuntime)
            .map(|o| o.namespace())
            .collect();
        let mut drafts = Vec::new();
        for ns in namespaces
            .iter()
            .filter(|ns| !with_runtime.contains(&ns.as_str()))
        {
            let mut draft = Draft::new(
                ObjectRef::new("v1", "Namespace", None, ns),
                format!(
                    "namespace {ns} holds Seldon resources but no SeldonRuntime, so no scheduler serves them"
                ),
            );
            for kind in WORKLOAD_CRS {
                let names: Vec<&str> = view
                    .custom(*kind)
                    .filter(|o| o.namespace() == ns)
                    .map(|o| o.name())
                    .collect();
                if !names.is_empty() {
                    draft
                        .evidence
                        .push(format!("{}s: {}", kind.info().kind, names.join(", ")));
                }
            }
            let unscheduled = view
                .custom(Kind::SeldonModel)
                .filter(|m| m.namespace() == ns && model::model_state(m).is_none())
                .count();
            if unscheduled > 0 {
                draft.evidence.push(format!(
                    "{unscheduled} Model{} without any status: no scheduler has seen {}",
                    if unscheduled == 1 { "" } else { "s" },
                    if unscheduled == 1 { "it" } else { "them" }
                ));
            }
            if with_runtime.is_empty() {
                draft
                    .evidence
                    .push("no namespace has a SeldonRuntime".to_string());
            } else {
                let mut list = with_runtime.clone();
                list.sort();
                list.dedup();
                draft.evidence.push(format!(
                    "namespaces with a SeldonRuntime: {}",
                    list.join(", ")
                ));
            }
            let config = view
                .custom(Kind::SeldonConfig)
                .map(|o| o.name())
                .min()
                .unwrap_or("default")
                .to_string();
            drafts.push(draft.fix(
                Fix::manual(format!(
                    "Install a SeldonRuntime in namespace {ns} (the seldon-core-v2-runtime Helm chart, or a SeldonRuntime naming SeldonConfig {config}), or move the resources into a namespace that has one. Resources in {ns} are scheduled once its scheduler runs."
                ))
                .with_kubectl(format!(
                    "helm install seldon-v2-runtime seldon-charts/seldon-core-v2-runtime --namespace {ns}"
                )),
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
    fn namespace_without_runtime() {
        let drafts = run(
            "seldon-runtime-missing",
            "{}",
            &fixture("seldon-no-runtime"),
        );
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_every_namespace_has_one() {
        assert!(run("seldon-runtime-missing", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(
            run(
                "seldon-runtime-missing",
                "{}",
                &fixture("seldon-mesh-broken")
            )
            .is_empty()
        );
    }
}
