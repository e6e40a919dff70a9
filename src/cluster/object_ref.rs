//! A reference to one object, the subject of a finding.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::{HasMeta, Kind};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub namespace: Option<String>,
    pub kind: String,
    pub name: String,
    pub api_version: String,
    /// Where in the object the problem is, e.g. `spec.template.spec.containers[train].env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
}

impl ObjectRef {
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        ObjectRef {
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_string),
            kind: kind.to_string(),
            name: name.to_string(),
            api_version: api_version.to_string(),
            field_path: None,
        }
    }

    /// A reference to an object of a known kind.
    pub fn of(kind: Kind, meta: &ObjectMeta) -> Self {
        Self::new(
            &kind.api_version(),
            kind.info().kind,
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// A reference to a typed object.
    pub fn to<K: k8s_openapi::Resource + HasMeta>(object: &K) -> Self {
        let meta = object.meta();
        Self::new(
            K::API_VERSION,
            K::KIND,
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }

    /// A reference to an object given as JSON (as the API server sends it).
    pub fn of_json(object: &serde_json::Value) -> Self {
        let text = |p: &str| {
            object
                .pointer(p)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
        };
        Self::new(
            text("/apiVersion"),
            text("/kind"),
            object
                .pointer("/metadata/namespace")
                .and_then(serde_json::Value::as_str),
            text("/metadata/name"),
        )
    }

    pub fn with_field(mut self, path: impl Into<String>) -> Self {
        self.field_path = Some(path.into());
        self
    }

    /// The same object without the field path: what two findings share when
    /// they are about the same object.
    pub fn object(&self) -> ObjectRef {
        ObjectRef {
            field_path: None,
            ..self.clone()
        }
    }

    /// `deployment/train` as kubectl takes it.
    pub fn kubectl_name(&self) -> String {
        format!("{}/{}", self.kind.to_lowercase(), self.name)
    }

    /// ` -n NAMESPACE` for a kubectl command, or nothing for a cluster-scoped object.
    pub fn kubectl_ns(&self) -> String {
        self.namespace
            .as_deref()
            .map(|ns| format!(" -n {ns}"))
            .unwrap_or_default()
    }
}

impl fmt::Display for ObjectRef {
    /// `Deployment ml/train`, or `Node node-1` for a cluster-scoped object.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}
