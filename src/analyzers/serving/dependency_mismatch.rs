//! `dependency-mismatch`: MLflow's own warning that the serving environment
//! does not have the package versions the model was logged with
//! (`mlflow/utils/requirements_utils.py`, `mlflow/pyfunc/__init__.py`), parsed
//! into one evidence line per package.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::analyzers::serving::servers::{flag_value, words};
use crate::analyzers::target::Target;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::{ClusterView, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "dependency-mismatch",
    summary: "MLflow warns that the serving environment's packages differ from the model's requirements",
    needs: WORKLOAD_KINDS,
    optional: WORKLOAD_CONTEXT,
    data: &[Data::Logs],
    build: build::<DependencyMismatch>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DependencyMismatch {
    #[serde(default)]
    target: Target,
}

/// `_warn_dependency_requirement_mismatches`: the header, then ` - ` lines.
const HEADER: &str = "Detected one or more mismatches between the model's dependencies and the current Python environment";

/// `_MismatchedPackageInfo.__str__`: `{package} (current: {installed or 'uninstalled'}, required: {requirement})`
static PACKAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*-\s+(?P<pkg>[A-Za-z0-9][A-Za-z0-9._\-\[\],]*) \(current: (?P<current>[^,()]+), required: (?P<required>[^()]+)\)\s*$")
        .expect("valid regex")
});

/// `mlflow.pyfunc`: the Python the model was saved with differs from the running one.
static PYTHON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"The version of Python that the model was saved in, `Python (?P<saved>[^`]+)`, differs from the version of Python that is currently running, `Python (?P<running>[^`]+)`")
        .expect("valid regex")
});

#[derive(Default)]
struct Seen {
    /// package → (current, required)
    packages: BTreeMap<String, (String, String)>,
    python: Option<(String, String)>,
    pods: Vec<String>,
}

impl Analyzer for DependencyMismatch {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            for c in self.target.containers(&w) {
                let mut seen = Seen::default();
                for pod in view.pods_of(&w) {
                    let name = pod.metadata.name.as_deref().unwrap_or_default();
                    let mut found = false;
                    for log in view.logs_of(w.namespace(), name, &c.name) {
                        found |= parse(log, &mut seen);
                    }
                    if found {
                        seen.pods.push(name.to_string());
                    }
                }
                if !seen.packages.is_empty() || seen.python.is_some() {
                    drafts.push(finding(&w, c, seen));
                }
            }
        }
        Ok(drafts)
    }
}

/// Read the warnings of one log into `seen`; whether any was found.
fn parse(log: &str, seen: &mut Seen) -> bool {
    let mut found = false;
    let mut in_block = false;
    for line in log.lines() {
        if line.contains(HEADER) {
            in_block = true;
            found = true;
            continue;
        }
        if in_block {
            match PACKAGE.captures(line) {
                Some(c) => {
                    seen.packages.insert(
                        c["pkg"].to_string(),
                        (
                            c["current"].trim().to_string(),
                            c["required"].trim().to_string(),
                        ),
                    );
                    continue;
                }
                None => in_block = false,
            }
        }
        if let Some(c) = PYTHON.captures(line) {
            found = true;
            seen.python = Some((c["running"].to_string(), c["saved"].to_string()));
        }
    }
    found
}

fn finding(w: &Workload<'_>, c: &k8s_openapi::api::core::v1::Container, seen: Seen) -> Draft {
    let mut names: Vec<String> = seen.packages.keys().cloned().collect();
    if seen.python.is_some() {
        names.push("Python".to_string());
    }
    let mut draft = Draft::new(
        w.container_ref(c, "image"),
        format!(
            "the model served by container {} was logged with other versions of {} than its image has; predictions may differ from the ones validated",
            c.name,
            names.join(", ")
        ),
    );
    for (pkg, (current, required)) in &seen.packages {
        draft
            .evidence
            .push(format!("{pkg}: current {current}, required {required}"));
    }
    if let Some((running, saved)) = &seen.python {
        draft.evidence.push(format!(
            "Python: current {running}, model saved with {saved}"
        ));
    }
    draft.evidence.push(format!(
        "MLflow warned in the log of pod{} {}",
        if seen.pods.len() == 1 { "" } else { "s" },
        seen.pods.join(", ")
    ));
    let model_uri =
        flag_value(&words(c), &["--model-uri".into(), "-m".into()]).map(|(v, _)| v.to_string());
    let uri = model_uri.as_deref().unwrap_or("<model-uri>");
    let pins: Vec<&str> = seen
        .packages
        .values()
        .map(|(_, required)| required.as_str())
        .collect();
    let mut description = format!(
        "Build the serving image of container {} from the model's own requirements ({}{}), or serve with `--env-manager virtualenv` (or `uv`) so MLflow creates the model's environment; alternatively re-log the model from an environment that matches the image.",
        c.name,
        pins.join(", "),
        seen.python
            .as_ref()
            .map(|(_, saved)| format!(", Python {saved}"))
            .unwrap_or_default()
    );
    description
        .push_str(" MLflow writes the full list with `mlflow.pyfunc.get_model_dependencies`.");
    draft.fix(Fix::manual(description).with_kubectl(format!(
        "python -c \"import mlflow; print(mlflow.pyfunc.get_model_dependencies('{uri}'))\""
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn parses_mlflow_warning() {
        let log = "2025/11/12 09:14:04 WARNING mlflow.utils.requirements_utils: Detected one or more mismatches between the model's dependencies and the current Python environment:\n - numpy (current: 2.3.4, required: numpy==1.26.4)\n - pytest (current: uninstalled, required: pytest==9.1.1)\nTo fix the mismatches, call `mlflow.pyfunc.get_model_dependencies(model_uri)` ...\n - not (current: a, required: package line)\n";
        let mut seen = Seen::default();
        assert!(parse(log, &mut seen));
        assert_eq!(
            seen.packages.keys().collect::<Vec<_>>(),
            ["numpy", "pytest"]
        );
        assert_eq!(seen.packages["pytest"].0, "uninstalled");
    }

    #[test]
    fn mlflow_serving_mismatch() {
        let drafts = run("dependency-mismatch", "{}", &fixture("mlflow-serving"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_has_none() {
        assert_eq!(
            run("dependency-mismatch", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
