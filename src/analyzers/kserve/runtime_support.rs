//! `kserve-runtime-support`: InferenceServices whose predictor model no
//! ServingRuntime of their namespace nor ClusterServingRuntime can serve —
//! KServe's "No runtime found to support specified framework/version" — judged
//! from the specs alone, the way the controller selects: the model's
//! `mt:NAME[:VERSION]` among the runtime's formats (only `autoSelect` ones
//! unless the predictor names the runtime), the runtime not disabled, not
//! multi-model, speaking the predictor's protocol, multi-node exactly when the
//! predictor has a `workerSpec`. The runtimes that come closest are named.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::analyzers::kserve::model::{self as kserve, ModelSpec, Runtime};
use crate::analyzers::text::closest;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::plan::operation::Operation;
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "kserve-runtime-support",
    summary: "KServe InferenceServices whose model format no ServingRuntime or ClusterServingRuntime supports",
    needs: &[
        Kind::InferenceService,
        Kind::ServingRuntime,
        Kind::ClusterServingRuntime,
    ],
    optional: &[],
    data: &[],
    build: build::<RuntimeSupport>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuntimeSupport {
    /// How many of the closest runtimes to name.
    #[serde(default = "default_closest")]
    closest: usize,
}

fn default_closest() -> usize {
    3
}

/// Why a runtime cannot serve the model, when it is the only reason or the
/// first: what a person would change.
fn rejection(rt: &Runtime<'_>, model: &ModelSpec, named: bool) -> Option<String> {
    let formats = rt.versions_of(&model.format);
    if formats.is_empty() {
        return Some(format!("supports no {} format", model.format));
    }
    let described = rt.describe_formats(&model.format);
    if !rt.supports_format(model, true) {
        return Some(format!("supports {described}, not {}", model.describe()));
    }
    if !rt.supports_format(model, named) {
        return Some(format!(
            "supports {described} but autoSelect is off, so only a predictor that names it in spec.predictor.model.runtime gets it"
        ));
    }
    if rt.disabled {
        return Some(format!(
            "supports {described} but is disabled (spec.disabled)"
        ));
    }
    if rt.multi_model {
        return Some(format!(
            "supports {described} but is a multi-model (ModelMesh) runtime"
        ));
    }
    if !rt.supports_protocol(&model.protocol) {
        return Some(format!(
            "supports {described} but only protocol {}, and the predictor uses {}",
            rt.protocols.join(", "),
            model.protocol
        ));
    }
    if rt.multi_node != model.multi_node {
        return Some(if rt.multi_node {
            format!(
                "supports {described} but is multi-node (workerSpec) and the predictor has no workerSpec"
            )
        } else {
            format!("supports {described} but has no workerSpec and the predictor is multi-node")
        });
    }
    None
}

/// How many things keep a runtime from serving the model: the closest
/// runtime is the one a single change makes fit.
fn obstacles(rt: &Runtime<'_>, model: &ModelSpec) -> usize {
    [
        !rt.supports_format(model, true),
        !rt.supports_format(model, false),
        rt.disabled,
        rt.multi_model,
        !rt.supports_protocol(&model.protocol),
        rt.multi_node != model.multi_node,
    ]
    .into_iter()
    .filter(|b| *b)
    .count()
}

impl Analyzer for RuntimeSupport {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::InferenceService).next().is_none() {
            return Err("not applicable: no InferenceServices".into());
        }
        let mut drafts = Vec::new();
        for isvc in view.custom(Kind::InferenceService) {
            let ns = isvc.namespace();
            if kserve::is_model_mesh(isvc)
                || !view.can_judge(Kind::ServingRuntime, ns)
                || !view.can_judge(Kind::ClusterServingRuntime, "")
            {
                continue;
            }
            let Some(model) = kserve::model_spec(isvc) else {
                continue;
            };
            if let Some(d) = self.judge(view, isvc, &model) {
                drafts.push(d);
            }
        }
        Ok(drafts)
    }
}

impl RuntimeSupport {
    fn judge(&self, view: &ClusterView, isvc: &DynamicObject, model: &ModelSpec) -> Option<Draft> {
        let name = isvc.name();
        let ns = isvc.namespace();
        let subject = ObjectRef::of(Kind::InferenceService, &isvc.metadata);
        let model_line = format!(
            "spec.predictor.model.modelFormat: {} (protocol {}{})",
            model.describe(),
            model.protocol,
            if model.multi_node { ", multi-node" } else { "" }
        );
        let fix_kubectl =
            format!("kubectl get servingruntimes -n {ns}; kubectl get clusterservingruntimes");

        if let Some(wanted) = &model.runtime {
            // A runtime chosen by name: it must exist and fit.
            let Some(rt) = kserve::named_runtime(view, ns, wanted) else {
                let runtimes = kserve::runtimes_for(view, ns);
                let names: Vec<&str> = runtimes.iter().map(|r| r.name()).collect();
                let mut draft = Draft::new(
                    subject.with_field("spec.predictor.model.runtime"),
                    format!(
                        "InferenceService {name} names runtime {wanted}, but no ServingRuntime in {ns} nor ClusterServingRuntime has that name"
                    ),
                )
                .evidence(model_line);
                if let Some(near) = closest(wanted, &names) {
                    draft
                        .evidence
                        .push(format!("a runtime with a similar name exists: {near}"));
                }
                let supporting: Vec<String> = runtimes
                    .iter()
                    .filter(|r| rejection(r, model, false).is_none())
                    .map(Runtime::label)
                    .collect();
                if !supporting.is_empty() {
                    draft.evidence.push(format!(
                        "runtimes that would serve {}: {}",
                        model.describe(),
                        supporting.join(", ")
                    ));
                }
                return Some(draft.fix(
                    Fix::manual(format!(
                        "Set spec.predictor.model.runtime to a runtime that exists (or remove it to let KServe choose one that supports {}), or create the ServingRuntime {wanted} in {ns}.",
                        model.describe()
                    ))
                    .with_kubectl(fix_kubectl),
                ));
            };
            let why = rejection(&rt, model, true)?;
            return Some(
                Draft::new(
                    subject.with_field("spec.predictor.model.runtime"),
                    format!(
                        "InferenceService {name} names {}, which cannot serve {}: it {why}",
                        rt.label(),
                        model.describe()
                    ),
                )
                .evidence(model_line)
                .evidence(format!("{}: {why}", rt.label()))
                .fix(
                    Fix::manual(format!(
                        "Name a runtime that supports {} in spec.predictor.model.runtime (or remove it to let KServe choose), or change {} to support it.",
                        model.describe(),
                        rt.label()
                    ))
                    .with_kubectl(fix_kubectl),
                ),
            );
        }

        let runtimes = kserve::runtimes_for(view, ns);
        if runtimes
            .iter()
            .any(|r| rejection(r, model, false).is_none())
        {
            return None;
        }
        // The closest: same format name first (one change away), then a
        // format whose name looks like a typo of the model's.
        let format_names: Vec<&str> = runtimes
            .iter()
            .flat_map(|r| r.formats.iter().map(|f| f.name.as_str()))
            .collect();
        let typo = closest(&model.format, &format_names).filter(|n| *n != model.format);
        let mut near: Vec<(&Runtime<'_>, String)> = runtimes
            .iter()
            .filter(|r| !r.versions_of(&model.format).is_empty())
            .filter_map(|r| rejection(r, model, false).map(|why| (r, why)))
            .collect();
        // Fewest obstacles first, the namespace's own runtimes before the
        // cluster's, then by name: the same answer however the view was listed.
        near.sort_by_key(|(r, _)| {
            (
                obstacles(r, model),
                r.kind != Kind::ServingRuntime,
                r.name().to_string(),
            )
        });
        if near.is_empty()
            && let Some(t) = typo
        {
            near = runtimes
                .iter()
                .filter(|r| !r.versions_of(t).is_empty())
                .map(|r| (r, format!("supports {}", r.describe_formats(t))))
                .collect();
            near.sort_by_key(|(r, _)| (r.kind != Kind::ServingRuntime, r.name().to_string()));
        }
        near.truncate(self.closest);

        let mut message = format!(
            "No runtime supports the model format of InferenceService {name}: {}",
            model.describe()
        );
        if let Some((rt, why)) = near.first() {
            message.push_str(&format!("; closest: {} ({why})", rt.label()));
        } else if runtimes.is_empty() {
            message.push_str(&format!(
                "; there is no ServingRuntime in {ns} and no ClusterServingRuntime"
            ));
        }
        let mut draft = Draft::new(
            subject.with_field("spec.predictor.model.modelFormat"),
            message,
        )
        .evidence(model_line);
        for (rt, why) in &near {
            draft.evidence.push(format!("{}: {why}", rt.label()));
        }
        if let Some(t) = typo {
            draft
                .evidence
                .push(format!("a format with a similar name is supported: {t}"));
        }
        if let Some(f) = kserve::model_status(isvc).and_then(|m| m.failure) {
            draft.evidence.push(f.describe());
        }
        let suggestion = match near.first() {
            Some((rt, _)) => {
                let versions: Vec<String> = rt
                    .versions_of(&model.format)
                    .iter()
                    .filter_map(|f| f.version.clone())
                    .collect();
                if model.version.is_some() && !versions.is_empty() {
                    format!(
                        "Set spec.predictor.model.modelFormat.version to a version {} supports ({}) — versions match as text, exactly as the runtime lists them, so a library's full version does not match its major — or remove it",
                        rt.label(),
                        versions.join(", ")
                    )
                } else {
                    format!(
                        "Make {} fit (see why it does not above), or name it in spec.predictor.model.runtime",
                        rt.label()
                    )
                }
            }
            None => format!(
                "Correct spec.predictor.model.modelFormat.name{}, or install a ServingRuntime that supports {}",
                typo.map(|t| format!(" (did you mean {t}?)"))
                    .unwrap_or_default(),
                model.format
            ),
        };
        let text = format!(
            "{suggestion}. KServe creates no predictor until a runtime fits; it retries on its own after the change."
        );
        // Naming a runtime is safe only when exactly one would then fit.
        let nameable: Vec<&Runtime<'_>> = runtimes
            .iter()
            .filter(|r| only_autoselect_keeps_out(r, model))
            .collect();
        Some(draft.fix(match nameable.as_slice() {
            [rt] => name_runtime(isvc, rt, text),
            _ => Fix::manual(text).with_kubectl(fix_kubectl),
        }))
    }
}

/// Whether the runtime would serve the model if the predictor named it:
/// autoSelect off is all that keeps it out.
fn only_autoselect_keeps_out(rt: &Runtime<'_>, model: &ModelSpec) -> bool {
    obstacles(rt, model) == 1 && rejection(rt, model, true).is_none()
}

/// Name the runtime in `spec.predictor.model.runtime`. Safe: the
/// InferenceService has no predictor while no runtime fits, so naming the
/// one that does only creates it; the test on the model format keeps the
/// patch from landing on a spec someone changed since.
fn name_runtime(isvc: &DynamicObject, rt: &Runtime<'_>, text: String) -> Fix {
    let subject = ObjectRef::of(Kind::InferenceService, &isvc.metadata);
    let format = isvc
        .pointer("/spec/predictor/model/modelFormat")
        .cloned()
        .unwrap_or(Value::Null);
    let op = Operation::patch(&subject, &isvc.metadata, Applicability::Safe)
        .test("/spec/predictor/model/modelFormat", format)
        .add("/spec/predictor/model/runtime", json!(rt.name()));
    Fix::new(
        Applicability::Safe,
        format!(
            "Name {} in spec.predictor.model.runtime: it supports the model and only its autoSelect: false kept KServe from choosing it. {text}",
            rt.label()
        ),
    )
    .with_operation(op)
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn names_the_closest_runtimes() {
        let drafts = run("kserve-runtime-support", "{}", &fixture("kserve-broken"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    /// A view of one InferenceService and the given runtimes.
    fn view(model: &str, predictor_extra: &str, runtimes: &str) -> crate::cluster::ClusterView {
        let isvc = format!(
            "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {{name: m, namespace: ml}}\nspec:\n  predictor:\n    model: {model}\n{predictor_extra}"
        );
        let mut view = crate::cluster::ClusterView::default();
        let empty_srs =
            "apiVersion: serving.kserve.io/v1alpha1\nkind: ServingRuntimeList\nitems: []\n";
        let empty_csrs =
            "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntimeList\nitems: []\n";
        for (file, text) in [
            ("isvc.yaml", isvc.as_str()),
            ("srs.yaml", empty_srs),
            ("csrs.yaml", empty_csrs),
            ("runtimes.yaml", runtimes),
        ] {
            crate::snapshot::add_file(&mut view, std::path::Path::new(file), text.as_bytes())
                .unwrap();
        }
        view.finish();
        view
    }

    const SKLEARN_CSR: &str = "apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata: {name: sk}\nspec:\n  protocolVersions: [v1, v2]\n  supportedModelFormats: [{name: sklearn, version: \"1\", autoSelect: true}]\n";

    fn messages(view: &crate::cluster::ClusterView) -> Vec<String> {
        run("kserve-runtime-support", "{}", view)
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn follows_kserves_selection_rules() {
        // No version matches any version; the exact version matches.
        assert!(messages(&view("{modelFormat: {name: sklearn}}", "", SKLEARN_CSR)).is_empty());
        assert!(
            messages(&view(
                "{modelFormat: {name: sklearn, version: \"1\"}}",
                "",
                SKLEARN_CSR
            ))
            .is_empty()
        );
        // A format without autoSelect serves only a predictor that names the runtime.
        let manual = SKLEARN_CSR.replace("autoSelect: true", "autoSelect: false");
        assert_eq!(
            messages(&view("{modelFormat: {name: sklearn}}", "", &manual)),
            [
                "No runtime supports the model format of InferenceService m: sklearn; closest: ClusterServingRuntime sk (supports sklearn \"1\" autoSelect=false but autoSelect is off, so only a predictor that names it in spec.predictor.model.runtime gets it)"
            ]
        );
        assert!(
            messages(&view(
                "{modelFormat: {name: sklearn}, runtime: sk}",
                "",
                &manual
            ))
            .is_empty()
        );
        // Disabled, another protocol, multi-node: each keeps the runtime out.
        let disabled = SKLEARN_CSR.replace("spec:\n", "spec:\n  disabled: true\n");
        assert_eq!(
            messages(&view("{modelFormat: {name: sklearn}}", "", &disabled)).len(),
            1
        );
        assert_eq!(
            messages(&view(
                "{modelFormat: {name: sklearn}, protocolVersion: grpc-v2}",
                "",
                SKLEARN_CSR
            )),
            [
                "No runtime supports the model format of InferenceService m: sklearn; closest: ClusterServingRuntime sk (supports sklearn \"1\" but only protocol v1, v2, and the predictor uses grpc-v2)"
            ]
        );
        assert_eq!(
            messages(&view(
                "{modelFormat: {name: sklearn}}",
                "    workerSpec: {}\n",
                SKLEARN_CSR
            ))
            .len(),
            1
        );
        // A typo of the format name, and a named runtime that does not exist.
        assert_eq!(
            messages(&view("{modelFormat: {name: sklaern}}", "", SKLEARN_CSR)),
            [
                "No runtime supports the model format of InferenceService m: sklaern; closest: ClusterServingRuntime sk (supports sklearn \"1\")"
            ]
        );
        assert_eq!(
            messages(&view(
                "{modelFormat: {name: sklearn}, runtime: kserve-sklearn}",
                "",
                SKLEARN_CSR
            )),
            [
                "InferenceService m names runtime kserve-sklearn, but no ServingRuntime in ml nor ClusterServingRuntime has that name"
            ]
        );
    }

    #[test]
    fn names_the_one_runtime_only_autoselect_keeps_out() {
        let manual = SKLEARN_CSR.replace("autoSelect: true", "autoSelect: false");
        let drafts = run(
            "kserve-runtime-support",
            "{}",
            &view("{modelFormat: {name: sklearn}}", "", &manual),
        );
        let fix = drafts[0].fix.as_ref().unwrap();
        assert_eq!(
            fix.applicability,
            crate::report::findings::Applicability::Safe
        );
        insta::assert_json_snapshot!(fix.operations);
        // Two runtimes that would fit once named: which one is a person's choice.
        let two = format!("{manual}---\n{}", manual.replace("name: sk}", "name: sk2}"));
        let drafts = run(
            "kserve-runtime-support",
            "{}",
            &view("{modelFormat: {name: sklearn}}", "", &two),
        );
        let fix = drafts[0].fix.as_ref().unwrap();
        assert!(fix.operations.is_empty());
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("kserve-runtime-support", "{}", &fixture("healthy-kserve")).is_empty());
    }
}
