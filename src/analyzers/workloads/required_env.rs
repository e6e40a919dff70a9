//! `required-env`: environment variables a workload must define, from the
//! check's list and from the application's own complaint in its log.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::analyzers::target::Target;
use crate::analyzers::text::clip;
use crate::analyzers::workloads::env::env_names;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::plan::{Operation, placeholder};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "required-env",
    summary: "variables a workload must define, by contract or because its log says they are missing",
    needs: WORKLOAD_KINDS,
    data: &[Data::Logs],
    optional: WORKLOAD_CONTEXT,
    build: build::<RequiredEnv>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequiredEnv {
    #[serde(default)]
    target: Target,
    /// Variables every selected container must define.
    #[serde(default)]
    required: Vec<String>,
    /// Log lines that name a missing variable in a named group `var`.
    #[serde(default)]
    log_patterns: Vec<VarPattern>,
}

/// A regex with a `var` capture group.
#[derive(Debug)]
pub struct VarPattern(Regex);

impl<'de> Deserialize<'de> for VarPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let re = Regex::new(&text).map_err(serde::de::Error::custom)?;
        if !re.capture_names().any(|n| n == Some("var")) {
            return Err(serde::de::Error::custom(format!(
                "pattern `{text}` needs a named group `(?P<var>...)` for the variable"
            )));
        }
        Ok(VarPattern(re))
    }
}

/// Why a variable is believed missing.
#[derive(Default)]
struct Missing {
    required: bool,
    log_lines: Vec<String>,
}

impl Analyzer for RequiredEnv {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            for container in self.target.containers(&w) {
                let env = env_names(view, w.namespace(), container);
                let mut missing: BTreeMap<String, Missing> = BTreeMap::new();
                if env.unresolved.is_empty() {
                    for var in self.required.iter().filter(|v| !env.names.contains(*v)) {
                        missing.entry(var.clone()).or_default().required = true;
                    }
                }
                for (pod, line, var) in self.log_complaints(view, &w, &container.name) {
                    if !env.names.contains(&var) {
                        let entry = missing.entry(var).or_default();
                        let evidence = format!("log of pod {pod}: {}", clip(&line, 240));
                        if entry.log_lines.len() < 2 && !entry.log_lines.contains(&evidence) {
                            entry.log_lines.push(evidence);
                        }
                    }
                }
                for (var, why) in missing {
                    drafts.push(finding(&w, &container.name, &var, why, &env));
                }
            }
        }
        Ok(drafts)
    }
}

impl RequiredEnv {
    /// (pod, line, variable) for every log line that names a missing variable.
    fn log_complaints(
        &self,
        view: &ClusterView,
        w: &Workload<'_>,
        container: &str,
    ) -> Vec<(String, String, String)> {
        if self.log_patterns.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for pod in view.pods_of(w) {
            let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
            for log in view.logs_of(w.namespace(), pod_name, container) {
                for line in log.lines() {
                    for VarPattern(re) in &self.log_patterns {
                        if let Some(var) = re.captures(line).and_then(|c| c.name("var")) {
                            out.push((
                                pod_name.to_string(),
                                line.trim().to_string(),
                                var.as_str().to_string(),
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

fn finding(
    w: &Workload<'_>,
    container: &str,
    var: &str,
    why: Missing,
    env: &crate::analyzers::workloads::env::EnvNames,
) -> Draft {
    let c = w
        .containers()
        .find(|c| c.name == container)
        .expect("container of this workload");
    let reason = match (why.required, why.log_lines.is_empty()) {
        (true, true) => "the check requires it".to_string(),
        (true, false) => "the check requires it and the application reports it missing".to_string(),
        (false, _) => "the application reports it missing".to_string(),
    };
    let mut draft = Draft::new(
        w.container_ref(c, "env"),
        format!("container {container} does not define {var}: {reason}"),
    );
    draft.evidence.extend(why.log_lines);
    let defined: Vec<&str> = env.names.iter().map(String::as_str).collect();
    draft.evidence.push(if defined.is_empty() {
        format!("container {container} defines no environment variables")
    } else {
        format!("container {container} defines: {}", defined.join(", "))
    });
    let subject = w.object_ref();
    let mut description = format!(
        "Set {var} on container {container} of {subject}; its value is site-specific, so give it with `mlopsctl fix --set {var}=VALUE`."
    );
    if let Some(manager) = w.manager() {
        description.push_str(&format!(
            " {subject} is managed by {manager}: add {var} to its values too, or the next upgrade removes it."
        ));
    }
    let fix = Fix::manual(description);
    // The command a person would type only where there is no operation to show.
    draft.fix(match add_env(w, c, var) {
        Some(op) => fix.with_operation(op),
        None => fix.with_kubectl(format!(
            "kubectl set env {}{} -c {container} {var}=<value>",
            subject.kubectl_name(),
            subject.kubectl_ns()
        )),
    })
}

/// Add `var` to the container, its value from `--set VAR=VALUE`. Safe once the
/// value is given: the container cannot start without it. `None` for Jobs and
/// bare Pods, whose pod template cannot change.
fn add_env(w: &Workload<'_>, c: &Container, var: &str) -> Option<Operation> {
    if matches!(w.kind, Kind::Job | Kind::Pod) {
        return None;
    }
    let (list, i) = w.container_index(&c.name)?;
    let base = format!("{}/{list}/{i}", w.spec_pointer());
    let entry = json!({"name": var, "value": placeholder(var)});
    let op = Operation::patch(&w.object_ref(), w.meta, Applicability::Safe)
        .test(&format!("{base}/name"), json!(c.name))
        .input(var, format!("the value of {var} for container {}", c.name));
    Some(match &c.env {
        Some(env) => op
            .test(
                &format!("{base}/env"),
                serde_json::to_value(env).expect("env serializes"),
            )
            .add(&format!("{base}/env/-"), entry),
        None => op.add(&format!("{base}/env"), json!([entry])),
    })
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    const SHIPPED: &str = include_str!("../../../checks/workloads/wkl001.yaml");

    fn shipped_params() -> String {
        let spec: serde_json::Value = crate::yaml::from_str(SHIPPED).unwrap();
        serde_json::to_string(&spec["params"]).unwrap()
    }

    #[test]
    fn fires_on_the_trainer_that_reports_model_type_missing() {
        let drafts = run(
            "required-env",
            &shipped_params(),
            &fixture("training-pipeline"),
        );
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn quiet_on_the_healthy_pipeline() {
        assert!(run("required-env", &shipped_params(), &fixture("healthy")).is_empty());
    }

    #[test]
    fn a_contract_requires_variables_without_any_log() {
        let params = r#"{target: {labels: {app.kubernetes.io/component: training}}, required: [MODEL_TYPE, SAMPLE_SEED]}"#;
        let drafts = run("required-env", params, &fixture("healthy"));
        let messages: Vec<_> = drafts
            .iter()
            .map(|d| (d.subject.name.as_str(), d.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            vec![
                (
                    "nonml-prophet",
                    "container prophet does not define SAMPLE_SEED: the check requires it"
                ),
                (
                    "train-gru",
                    "container train-gru does not define SAMPLE_SEED: the check requires it"
                ),
                (
                    "train-lstm",
                    "container train-lstm does not define SAMPLE_SEED: the check requires it"
                ),
            ]
        );
    }

    #[test]
    fn patterns_need_a_var_group() {
        let def = crate::analyzers::find("required-env").unwrap();
        let err = (def.build)(serde_json::json!({"logPatterns": ["not defined"]})).unwrap_err();
        assert!(err.contains("named group `(?P<var>...)`"), "{err}");
        let err = (def.build)(serde_json::json!({"requird": []})).unwrap_err();
        assert!(err.contains("unknown field `requird`"), "{err}");
    }
}
