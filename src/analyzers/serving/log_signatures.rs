//! `log-signatures`: known failure lines in container logs, each with its
//! explanation, severity and hint — a site-extensible list in the check's
//! parameters.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer};

use crate::analyzers::pattern::Pattern;
use crate::analyzers::target::Target;
use crate::analyzers::text::clip;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::ClusterView;
use crate::report::findings::{Fix, Severity};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "log-signatures",
    summary: "known failure lines in container logs, with explanation, severity and hint (YAML list)",
    needs: WORKLOAD_KINDS,
    optional: WORKLOAD_CONTEXT,
    data: &[Data::Logs],
    build: build::<LogSignatures>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogSignatures {
    #[serde(default)]
    target: Target,
    signatures: Vec<Signature>,
    /// How many matching lines to quote per finding.
    #[serde(default = "three")]
    max_lines: usize,
}

fn three() -> usize {
    3
}

/// ```yaml
/// - regex: 'division by zero'
///   title: Division by zero in inference
///   explanation: A scaler fitted on a zero-variance feature has scale_ = 0 ...
///   severity: error          # optional: the check's severity otherwise
///   hint: Replace zero scales with 1.0 before inverse_transform ...
///   causedBy: [service-refs] # optional: analyzers whose finding on the same workload is the root cause
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Signature {
    regex: Pattern,
    title: String,
    explanation: String,
    #[serde(default)]
    severity: Option<Severity>,
    hint: String,
    #[serde(default)]
    caused_by: Vec<AnalyzerName>,
}

/// The name of a registered analyzer.
#[derive(Debug, Clone, Copy)]
pub struct AnalyzerName(&'static str);

impl<'de> Deserialize<'de> for AnalyzerName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        crate::analyzers::find(&name)
            .map(|def| AnalyzerName(def.name))
            .ok_or_else(|| serde::de::Error::custom(format!("unknown analyzer `{name}`")))
    }
}

impl Analyzer for LogSignatures {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            let pods = view.pods_of(&w);
            for c in self.target.containers(&w) {
                for sig in &self.signatures {
                    let mut count = 0;
                    let mut quoted: BTreeSet<String> = BTreeSet::new();
                    let mut lines = Vec::new();
                    let mut first_pod = None;
                    for pod in &pods {
                        let name = pod.metadata.name.as_deref().unwrap_or_default();
                        for log in view.logs_of(w.namespace(), name, &c.name) {
                            for line in log.lines().filter(|l| sig.regex.is_match(l)) {
                                count += 1;
                                first_pod.get_or_insert(name);
                                let text = clip(line.trim(), 300);
                                if lines.len() < self.max_lines && quoted.insert(text.clone()) {
                                    lines.push(format!("log {name}/{}: {text}", c.name));
                                }
                            }
                        }
                    }
                    if count == 0 {
                        continue;
                    }
                    let subject = w.object_ref();
                    let mut draft = Draft::new(
                        w.container_ref(c, ""),
                        format!(
                            "{} (container {}, {count} line{}): {}",
                            sig.title,
                            c.name,
                            if count == 1 { "" } else { "s" },
                            sig.explanation.trim()
                        ),
                    );
                    draft.evidence = lines;
                    draft.severity = sig.severity;
                    for cause in &sig.caused_by {
                        draft = draft.caused_by(cause.0, subject.clone());
                    }
                    let pod = first_pod.unwrap_or_default();
                    drafts.push(draft.fix(Fix::manual(sig.hint.trim()).with_kubectl(format!(
                        "kubectl logs -n {} {pod} -c {} --timestamps | grep -P '{}'",
                        w.namespace(),
                        c.name,
                        sig.regex.0.as_str().replace('\'', "'\\''")
                    ))));
                }
            }
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};
    use crate::report::findings::Severity;

    const PARAMS: &str = r#"
signatures:
  - regex: 'division by zero'
    title: Division by zero
    explanation: a zero scale.
    severity: error
    hint: Fix the scaler.
  - regex: 'UNKNOWN_TOPIC_OR_PART(?:ITION)?|Unknown topic or partition'
    title: Kafka topic missing
    explanation: the topic does not exist.
    hint: Create it.
"#;

    #[test]
    fn matches_signatures_with_their_severity() {
        let drafts = run("log-signatures", PARAMS, &fixture("serving-workloads"));
        assert!(drafts.iter().any(|d| d.severity == Some(Severity::Error)));
        assert!(drafts.iter().any(|d| d.severity.is_none()));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn unknown_cause_analyzer_is_refused() {
        let def = crate::analyzers::find("log-signatures").unwrap();
        let params = serde_json::json!({"signatures": [{"regex": "x", "title": "t", "explanation": "e", "hint": "h", "causedBy": ["nope"]}]});
        let err = (def.build)(params).unwrap_err();
        assert!(err.contains("unknown analyzer `nope`"), "{err}");
    }

    #[test]
    fn healthy_serving_logs_are_clean() {
        let view = fixture("healthy-serving");
        assert_eq!(run("log-signatures", PARAMS, &view), Vec::new());
    }
}
