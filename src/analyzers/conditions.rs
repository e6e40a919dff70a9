//! Status conditions as controllers write them: custom resources (Seldon,
//! KServe, Strimzi, KEDA, APIServices) and, through the autoscaling model,
//! HPAs.

use serde_json::Value;

use crate::analyzers::text::clip;
use crate::cluster::DynamicObject;

/// One status condition as knative's duck type writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }

    pub fn is(&self, status: &str) -> bool {
        self.status == status
    }

    /// `ScalingActive=False AmbiguousSelector: pods by selector …`, as evidence.
    pub fn line(&self) -> String {
        let mut out = format!("{}={}", self.type_, self.status);
        if !self.reason.is_empty() {
            out.push(' ');
            out.push_str(&self.reason);
        }
        if !self.message.is_empty() {
            out.push_str(": ");
            out.push_str(&clip(&self.message, 400));
        }
        out
    }

    /// `PipelineReady=False reason=PipelineCreate message="…"` for evidence.
    pub fn describe(&self) -> String {
        let mut s = format!("condition {}={}", self.type_, self.status);
        if !self.reason.is_empty() {
            s.push_str(&format!(" reason={:?}", self.reason));
        }
        if !self.message.is_empty() {
            s.push_str(&format!(" message={:?}", self.message));
        }
        s
    }
}

pub fn conditions(obj: &DynamicObject) -> Vec<Condition> {
    let text = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| Condition {
            type_: text(c, "type"),
            status: text(c, "status"),
            reason: text(c, "reason"),
            message: text(c, "message"),
        })
        .collect()
}

/// The first condition of one of these types (names changed across releases).
pub fn condition(obj: &DynamicObject, types: &[&str]) -> Option<Condition> {
    let all = conditions(obj);
    types
        .iter()
        .find_map(|t| all.iter().find(|c| c.type_ == *t).cloned())
}
