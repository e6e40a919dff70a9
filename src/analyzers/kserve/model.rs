//! What the KServe analyzers share: an InferenceService's conditions and
//! `status.modelStatus`, its predictor's model format, the ServingRuntimes and
//! ClusterServingRuntimes that could serve it, and its predictor pods.
//!
//! Names and rules follow KServe (`pkg/apis/serving/v1beta1`
//! `inference_service_status.go` and `predictor_model.go`,
//! `pkg/apis/serving/v1alpha1/servingruntime_types.go`,
//! `pkg/controller/v1beta1/inferenceservice/components/predictor.go`).

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use crate::analyzers::conditions::{Condition, conditions};
use crate::analyzers::text::clip;
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};

/// The label KServe puts on every object it renders for an InferenceService.
pub const ISVC_LABEL: &str = "serving.kserve.io/inferenceservice";
/// The annotation that chooses the deployment mode.
pub const DEPLOYMENT_MODE_ANNOTATION: &str = "serving.kserve.io/deploymentMode";
/// The init container the storage initializer injector adds to download the model.
pub const STORAGE_INITIALIZER: &str = "storage-initializer";
/// The protocol KServe assumes when the predictor names none (`GetProtocol`).
pub const DEFAULT_PROTOCOL: &str = "v1";

/// The component conditions, in the order that explains `Ready`: the
/// predictor first, ingress last. `Ready` itself repeats whichever dependent
/// was marked False last, which is often only `IngressReady`'s
/// "Predictor ingress not created".
pub const COMPONENT_CONDITIONS: &[&str] = &[
    "PredictorReady",
    "TransformerReady",
    "ExplainerReady",
    "CanaryPredictorReady",
    "PredictorConfigurationReady",
    "LatestDeploymentReady",
    "PredictorRouteReady",
    "RoutesReady",
    "IngressReady",
];

pub fn annotation<'a>(obj: &'a DynamicObject, key: &str) -> Option<&'a str> {
    obj.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// The deployment mode the controller recorded, else the one asked for.
pub fn deployment_mode(isvc: &DynamicObject) -> Option<&str> {
    isvc.str_at("/status/deploymentMode")
        .filter(|m| !m.is_empty())
        .or_else(|| annotation(isvc, DEPLOYMENT_MODE_ANNOTATION))
}

/// ModelMesh InferenceServices are placed by the ModelMesh controller, with
/// rules of its own.
pub fn is_model_mesh(isvc: &DynamicObject) -> bool {
    deployment_mode(isvc) == Some("ModelMesh")
}

/// All of an InferenceService's conditions.
pub fn isvc_conditions(isvc: &DynamicObject) -> Vec<Condition> {
    conditions(isvc)
}

/// `status.modelStatus`: whether the predictor reflects the spec, and why not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelStatus {
    /// `UpToDate`, `InProgress`, `BlockedByFailedLoad`, `InvalidSpec`.
    pub transition: String,
    pub active_state: String,
    pub target_state: String,
    pub failure: Option<FailureInfo>,
}

/// `status.modelStatus.lastFailureInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureInfo {
    /// `ModelLoadFailed`, `RuntimeUnhealthy`, `RuntimeDisabled`,
    /// `NoSupportingRuntime`, `RuntimeNotRecognized`, `InvalidPredictorSpec`, …
    pub reason: String,
    pub message: String,
    pub location: String,
    pub exit_code: Option<i64>,
}

impl ModelStatus {
    /// The transitions that mean the model will not come up by itself.
    pub fn is_blocked(&self) -> bool {
        matches!(
            self.transition.as_str(),
            "BlockedByFailedLoad" | "InvalidSpec"
        ) || self.target_state == "FailedToLoad"
    }

    pub fn describe(&self) -> String {
        format!(
            "modelStatus: transitionStatus={} activeModelState={:?} targetModelState={:?}",
            self.transition, self.active_state, self.target_state
        )
    }
}

impl FailureInfo {
    pub fn describe(&self) -> String {
        let mut s = format!("modelStatus.lastFailureInfo: reason={}", self.reason);
        if let Some(code) = self.exit_code {
            s.push_str(&format!(" exitCode={code}"));
        }
        if !self.location.is_empty() {
            s.push_str(&format!(" location={}", self.location));
        }
        if !self.message.is_empty() {
            let text = error_text(&self.message).unwrap_or_default();
            s.push_str(&format!(" message={text:?}"));
        }
        s
    }
}

pub fn model_status(isvc: &DynamicObject) -> Option<ModelStatus> {
    let ms = isvc.pointer("/status/modelStatus")?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let failure = ms.get("lastFailureInfo").map(|f| FailureInfo {
        reason: text(f.get("reason")),
        message: text(f.get("message")),
        location: text(f.get("location")),
        exit_code: f
            .get("exitCode")
            .and_then(Value::as_i64)
            .filter(|c| *c != 0),
    });
    Some(ModelStatus {
        transition: text(ms.get("transitionStatus")),
        active_state: text(ms.pointer("/states/activeModelState")),
        target_state: text(ms.pointer("/states/targetModelState")),
        failure,
    })
}

/// The error a log (or a termination message, which is its tail) ends with:
/// the text after the storage package's `LEVEL [file:function():line]`
/// prefix of its last ERROR line, else its last line.
pub fn error_text(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let line = lines
        .iter()
        .rev()
        .find(|l| l.contains(" ERROR ") || l.contains("Error:"))
        .or(lines.last())?;
    let text = line
        .split_once("] ")
        .filter(|(head, _)| head.contains(" ERROR ["))
        .map_or(*line, |(_, rest)| rest);
    Some(clip(text.trim(), 300))
}

/// `spec.predictor.model.modelFormat` and what decides which runtime serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub format: String,
    pub version: Option<String>,
    /// `spec.predictor.model.runtime`: a runtime chosen by name.
    pub runtime: Option<String>,
    pub protocol: String,
    /// `spec.predictor.workerSpec` is set: only multi-node runtimes qualify.
    pub multi_node: bool,
}

impl ModelSpec {
    /// `sklearn` or `sklearn version "1.5"`.
    pub fn describe(&self) -> String {
        match &self.version {
            Some(v) => format!("{} version {v:?}", self.format),
            None => self.format.clone(),
        }
    }
}

pub fn model_spec(isvc: &DynamicObject) -> Option<ModelSpec> {
    let model = isvc.pointer("/spec/predictor/model")?;
    let format = model.pointer("/modelFormat/name")?.as_str()?.to_string();
    let text = |p: &str| model.pointer(p).and_then(Value::as_str).map(str::to_string);
    Some(ModelSpec {
        format,
        version: text("/modelFormat/version"),
        runtime: text("/runtime"),
        protocol: text("/protocolVersion").unwrap_or_else(|| DEFAULT_PROTOCOL.to_string()),
        multi_node: isvc.pointer("/spec/predictor/workerSpec").is_some(),
    })
}

/// One entry of `spec.supportedModelFormats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedFormat {
    pub name: String,
    pub version: Option<String>,
    pub auto_select: bool,
}

/// A ServingRuntime or ClusterServingRuntime, as far as matching goes.
#[derive(Debug, Clone)]
pub struct Runtime<'a> {
    pub kind: Kind,
    pub object: &'a DynamicObject,
    pub formats: Vec<SupportedFormat>,
    pub disabled: bool,
    pub multi_model: bool,
    pub multi_node: bool,
    pub protocols: Vec<String>,
}

impl Runtime<'_> {
    pub fn name(&self) -> &str {
        self.object.name()
    }

    /// `ClusterServingRuntime kserve-sklearnserver`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.name())
    }

    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef::of(self.kind, &self.object.metadata)
    }

    /// KServe's `IsProtocolVersionSupported`: a runtime listing no protocols takes any.
    pub fn supports_protocol(&self, protocol: &str) -> bool {
        self.protocols.is_empty() || self.protocols.iter().any(|p| p == protocol)
    }

    /// KServe's `RuntimeSupportsModel`: the model's `mt:NAME[:VERSION]` label
    /// is among the runtime's, which come only from formats with `autoSelect`
    /// unless the predictor names the runtime. Versions compare as strings.
    pub fn supports_format(&self, model: &ModelSpec, named: bool) -> bool {
        self.formats.iter().any(|f| {
            (named || f.auto_select)
                && f.name == model.format
                && match &model.version {
                    None => true,
                    Some(v) => f.version.as_ref() == Some(v),
                }
        })
    }

    /// The runtime's formats of this name: `1, 2` or `(any version)`.
    pub fn versions_of(&self, format: &str) -> Vec<&SupportedFormat> {
        self.formats.iter().filter(|f| f.name == format).collect()
    }

    /// `sklearn 1` / `sklearn 1 (autoSelect false)` for each format of this name.
    pub fn describe_formats(&self, format: &str) -> String {
        self.versions_of(format)
            .iter()
            .map(|f| {
                let mut s = match &f.version {
                    Some(v) => format!("{} {v:?}", f.name),
                    None => format!("{} (no version)", f.name),
                };
                if !f.auto_select {
                    s.push_str(" autoSelect=false");
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn runtime(kind: Kind, obj: &DynamicObject) -> Runtime<'_> {
    let formats = obj
        .pointer("/spec/supportedModelFormats")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some(SupportedFormat {
                name: f.get("name")?.as_str()?.to_string(),
                version: f.get("version").and_then(Value::as_str).map(str::to_string),
                auto_select: f.get("autoSelect").and_then(Value::as_bool) == Some(true),
            })
        })
        .collect();
    let flag = |p: &str| obj.pointer(p).and_then(Value::as_bool) == Some(true);
    Runtime {
        kind,
        object: obj,
        formats,
        disabled: flag("/spec/disabled"),
        multi_model: flag("/spec/multiModel"),
        multi_node: obj.pointer("/spec/workerSpec").is_some(),
        protocols: obj
            .pointer("/spec/protocolVersions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    }
}

/// The runtimes an InferenceService in `ns` can use: the namespace's
/// ServingRuntimes first, then the ClusterServingRuntimes, as KServe looks.
pub fn runtimes_for<'a>(view: &'a ClusterView, ns: &str) -> Vec<Runtime<'a>> {
    let mut out: Vec<Runtime<'a>> = view
        .custom(Kind::ServingRuntime)
        .filter(|r| r.namespace() == ns)
        .map(|r| runtime(Kind::ServingRuntime, r))
        .collect();
    out.extend(
        view.custom(Kind::ClusterServingRuntime)
            .map(|r| runtime(Kind::ClusterServingRuntime, r)),
    );
    out
}

/// The runtime a predictor names: a ServingRuntime of its namespace wins
/// over a ClusterServingRuntime of the same name (`GetServingRuntime`).
pub fn named_runtime<'a>(view: &'a ClusterView, ns: &str, name: &str) -> Option<Runtime<'a>> {
    view.custom_get(Kind::ServingRuntime, ns, name)
        .map(|r| runtime(Kind::ServingRuntime, r))
        .or_else(|| {
            view.custom_get(Kind::ClusterServingRuntime, "", name)
                .map(|r| runtime(Kind::ClusterServingRuntime, r))
        })
}

/// The predictor pods of an InferenceService, by KServe's labels.
pub fn predictor_pods<'a>(view: &'a ClusterView, isvc: &DynamicObject) -> Vec<&'a Pod> {
    let name = isvc.name();
    let ns = isvc.namespace().to_string();
    view.pods
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            let label = |k: &str| labels.and_then(|l| l.get(k)).map(String::as_str);
            label(ISVC_LABEL) == Some(name) && label("component").is_none_or(|c| c == "predictor")
        })
        .collect()
}
