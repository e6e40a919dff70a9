//! Analyzers: the pure, parameterised logic behind checks. A check YAML names
//! an analyzer and gives it parameters; the analyzer reads the ClusterView and
//! returns drafts of findings. Analyzers never print, never do I/O, never mutate.

pub mod address;
pub mod autoscaling;
pub mod cluster;
pub mod conditions;
pub mod gpu;
pub mod kafka;
pub mod kserve;
mod pattern;
pub mod quantity;
pub mod security;
pub mod seldon;
pub mod serving;
pub mod strimzi;
pub mod target;
pub mod text;
pub mod workloads;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::report::findings::{Fix, Severity};

/// A finding before the engine stamps it with the check's code, name and severity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub subject: ObjectRef,
    pub message: String,
    pub evidence: Vec<String>,
    pub fix: Option<Fix>,
    /// Findings this one may follow from, most likely first. The engine links the
    /// first that another check actually reported.
    pub causes: Vec<CauseHint>,
    /// Overrides the check's severity for this finding (e.g. a log signature's own).
    pub severity: Option<Severity>,
    /// The object the finding is about when it is not the subject: the
    /// missing Service, ConfigMap or Secret a workload refers to. Findings
    /// about one missing object are one incident, with one root.
    pub about: Option<ObjectRef>,
}

impl Draft {
    pub fn new(subject: ObjectRef, message: impl Into<String>) -> Self {
        Draft {
            subject,
            message: message.into(),
            evidence: Vec::new(),
            fix: None,
            causes: Vec::new(),
            severity: None,
            about: None,
        }
    }

    pub fn evidence(mut self, line: impl Into<String>) -> Self {
        self.evidence.push(line.into());
        self
    }

    pub fn fix(mut self, fix: Fix) -> Self {
        self.fix = Some(fix);
        self
    }

    /// The object this finding is about (see [`Draft::about`]).
    pub fn about(mut self, object: ObjectRef) -> Self {
        self.about = Some(object.object());
        self
    }

    /// Caused by the workloads behind a Service not running: their crash
    /// loop or unavailable rollout, when reported.
    pub fn caused_by_backends(
        mut self,
        view: &ClusterView,
        namespace: &str,
        service: &str,
    ) -> Self {
        for w in view.workloads_behind(namespace, service) {
            self = self
                .caused_by("container-failures", w.object_ref())
                .caused_by("rollout-status", w.object_ref());
        }
        self
    }

    pub fn caused_by(mut self, analyzer: &'static str, subject: ObjectRef) -> Self {
        self.causes.push(CauseHint {
            analyzer,
            subject: subject.object(),
        });
        self
    }
}

/// "This may be caused by whatever `analyzer` reported about `subject`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CauseHint {
    pub analyzer: &'static str,
    pub subject: ObjectRef,
}

/// An analyzer instantiated with a check's parameters.
pub trait Analyzer: Send + Sync + std::fmt::Debug {
    /// Judge the view. `Err` skips the check with that reason
    /// (e.g. "not applicable: no Seldon resources").
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String>;

    /// Whether `value`, found under `name` (or in a URL, with no name), is
    /// public knowledge this analyzer judges — a product's well-known
    /// default credential — that `snapshot save` keeps rather than redacts,
    /// so the saved snapshot is judged as the cluster was.
    fn is_public(&self, _name: &str, _value: &str) -> bool {
        false
    }
}

/// Extra data an analyzer reads besides objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Data {
    /// Container log tails.
    Logs,
    /// Kafka metadata, groups and offsets.
    Kafka,
    /// HTTP health probes through the API server proxy.
    Probes,
}

/// An analyzer's entry in the registry.
#[derive(Debug)]
pub struct AnalyzerDef {
    pub name: &'static str,
    /// One line for `mlopsctl checks` and the docs.
    pub summary: &'static str,
    /// Kinds the analyzer cannot judge without: when one could not be read
    /// the check is skipped with the reason.
    pub needs: &'static [Kind],
    /// Kinds that sharpen its judgement when readable (it asks `view.has`).
    pub optional: &'static [Kind],
    pub data: &'static [Data],
    /// Validate parameters and build the analyzer; the error names the field.
    pub build: fn(Value) -> Result<Box<dyn Analyzer>, String>,
}

/// Every analyzer, by name.
pub static ANALYZERS: &[&AnalyzerDef] = &[
    &workloads::required_env::DEF,
    &workloads::env_refs::DEF,
    &workloads::container_failures::DEF,
    &workloads::service_refs::DEF,
    &autoscaling::metrics_api::DEF,
    &autoscaling::hpa_requests::DEF,
    &autoscaling::scaling_limits::DEF,
    &autoscaling::autoscaler_conflicts::DEF,
    &autoscaling::keda_triggers::DEF,
    &autoscaling::inline_credentials::DEF,
    &autoscaling::autoscaler_targets::DEF,
    &autoscaling::autoscaler_status::DEF,
    &workloads::probe_fit::DEF,
    &workloads::readiness_probe::DEF,
    &workloads::unschedulable::DEF,
    &workloads::rollout_status::DEF,
    &workloads::selector_drift::DEF,
    &serving::dependency_mismatch::DEF,
    &serving::serving_workers::DEF,
    &serving::probe_endpoints::DEF,
    &serving::log_signatures::DEF,
    &security::workload_credentials::DEF,
    &cluster::node_pressure::DEF,
    &workloads::provided_values::DEF,
    &seldon::dataflow_scheduler::DEF,
    &seldon::pipelines::DEF,
    &seldon::server_capacity::DEF,
    &seldon::model_failures::DEF,
    &seldon::server_scale::DEF,
    &seldon::model_requirements::DEF,
    &seldon::runtime_missing::DEF,
    &seldon::tracing_collector::DEF,
    &seldon::kafka_bootstrap::DEF,
    &kserve::isvc_ready::DEF,
    &kserve::runtime_support::DEF,
    &kafka::reachable::DEF,
    &kafka::topics::DEF,
    &kafka::consumers::DEF,
    &strimzi::topic_ready::DEF,
    &strimzi::kafka_ready::DEF,
    &strimzi::bootstrap::DEF,
    &cluster::api_latency::DEF,
    &gpu::scheduling::DEF,
];

pub fn find(name: &str) -> Option<&'static AnalyzerDef> {
    ANALYZERS.iter().copied().find(|a| a.name == name)
}

/// The kinds a workload analyzer cannot judge without.
pub const WORKLOAD_KINDS: &[Kind] = &[
    Kind::Pod,
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::Job,
    Kind::CronJob,
];

/// What sharpens a workload analyzer's evidence: ReplicaSets link pods to their
/// Deployment (the pod-template-hash does when they are missing), Events explain.
pub const WORKLOAD_CONTEXT: &[Kind] = &[Kind::ReplicaSet, Kind::Event];

/// Parse parameters into an analyzer's params struct; unknown fields are errors,
/// and the error names the path of the bad field.
pub fn params<P: DeserializeOwned>(value: Value) -> Result<P, String> {
    let value = if value.is_null() {
        Value::Object(Default::default())
    } else {
        value
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

/// Build helper: parse params of type `P` and box it as the analyzer.
pub fn build<P: Analyzer + DeserializeOwned + 'static>(
    value: Value,
) -> Result<Box<dyn Analyzer>, String> {
    params::<P>(value).map(|p| Box::new(p) as Box<dyn Analyzer>)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for analyzer unit tests: load a fixture snapshot, run an analyzer.
    use std::path::Path;

    use super::*;

    pub fn fixture(name: &str) -> ClusterView {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        crate::snapshot::load(&path).unwrap_or_else(|e| panic!("fixture {name}: {e:#}"))
    }

    /// Run an analyzer with YAML parameters.
    pub fn run(analyzer: &str, params_yaml: &str, view: &ClusterView) -> Vec<Draft> {
        let def = find(analyzer).expect("analyzer exists");
        let value: Value = crate::yaml::from_str(params_yaml).expect("params parse");
        let analyzer = (def.build)(value).expect("params valid");
        analyzer.analyze(view).expect("not skipped")
    }

    /// A fixture whose first Deployment's first container `edit` changed.
    pub fn with_first_container(
        name: &str,
        edit: impl FnOnce(&mut k8s_openapi::api::core::v1::Container),
    ) -> ClusterView {
        let mut view = fixture(name);
        let mut d = view
            .deployments
            .iter()
            .next()
            .expect("a Deployment")
            .clone();
        let spec = d.spec.as_mut().and_then(|s| s.template.spec.as_mut());
        edit(&mut spec.expect("a pod template").containers[0]);
        view.deployments.insert(d);
        view.finish();
        view
    }

    /// Snapshot form of drafts: what fired, on what, why, with what fix and cause hints.
    pub fn summary(drafts: &[Draft]) -> serde_json::Value {
        Value::Array(
                drafts
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "subject": d.subject.to_string(),
                            "field": d.subject.field_path,
                            "message": d.message,
                            "evidence": d.evidence,
                            "severity": d.severity.map(|s| s.as_str()),
                            "fix": d.fix.as_ref().map(|f| serde_json::json!({
                                "applicability": format!("{:?}", f.applicability),
                                "description": f.description,
                                "kubectl": f.kubectl,
                            })),
                            "causes": d.causes.iter().map(|c| format!("{} {}", c.analyzer, c.subject)).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            )
    }
}
