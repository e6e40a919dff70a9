//! One paginated List per kind and namespace scope (`limit` + `continue`),
//! each page typed into objects as soon as it arrives, or a coverage record
//! when the API says no.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::http::{Api, Failure};
use crate::cluster::{ClusterView, CoverageRecord, CoverageResult, Kind};
use crate::snapshot::{Doc, ObjectSink};

/// What listing one kind in one scope gave.
pub enum Listed {
    /// The objects, typed into a view of their own (merged by the caller).
    Items {
        view: Box<ClusterView>,
        count: usize,
        /// Every object as JSON, with `apiVersion` and `kind` set (List items
        /// lack them) and `managedFields` removed, when asked for.
        raw: Vec<Value>,
    },
    /// The API refused or failed; the checks that need the kind are skipped.
    Gap(CoverageRecord),
    /// The credentials were rejected (401): nothing else will work either.
    Unauthorized(String),
    /// An object the API sent is not a valid object of its kind.
    Invalid(anyhow::Error),
}

/// The collection path of a kind, cluster-wide or in one namespace.
pub fn path(kind: Kind, namespace: Option<&str>) -> String {
    let info = kind.info();
    let base = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    match namespace.filter(|_| info.namespaced) {
        Some(ns) => format!("{base}/namespaces/{ns}/{}", info.plural),
        None => format!("{base}/{}", info.plural),
    }
}

/// One page of a List, its items left as text until each is typed.
#[derive(Deserialize)]
struct Page<'a> {
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<Cow<'a, str>>,
    #[serde(default)]
    metadata: Option<PageMeta>,
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    token: Option<String>,
}

pub async fn list(
    api: &Api,
    kind: Kind,
    namespace: Option<&str>,
    page_size: u32,
    keep_raw: bool,
) -> Listed {
    let base = path(kind, namespace);
    let kind_name = kind.info().kind;
    let mut view = Box::<ClusterView>::default();
    let mut count = 0;
    let mut raw = Vec::new();
    let mut token: Option<String> = None;
    let mut restarted = false;
    loop {
        let mut url = format!("{base}?limit={page_size}");
        if let Some(t) = &token {
            url.push_str("&continue=");
            url.push_str(&encode(t));
        }
        let body = match api.get(&url).await {
            Ok(body) => body,
            Err(Failure::Status { code: 401, message }) => return Listed::Unauthorized(message),
            // 410 Gone: the continue token expired (the list changed too much
            // between pages). Start over once, as a consistent list must.
            Err(Failure::Status { code: 410, .. }) if token.is_some() && !restarted => {
                restarted = true;
                token = None;
                view = Box::default();
                count = 0;
                raw.clear();
                continue;
            }
            Err(failure) => return Listed::Gap(gap(kind, namespace, &failure)),
        };
        let page: Page<'_> = match serde_json::from_slice(&body) {
            Ok(page) => page,
            Err(e) => {
                let failure = Failure::Transport(format!("the answer is not a JSON List: {e}"));
                return Listed::Gap(gap(kind, namespace, &failure));
            }
        };
        let api_version = page
            .api_version
            .as_deref()
            .map_or_else(|| kind.api_version(), str::to_string);
        let mut sink = ObjectSink::new(&mut view);
        for item in page.items.unwrap_or_default() {
            if keep_raw {
                match as_value(item, &api_version, kind_name) {
                    Ok(value) => raw.push(value),
                    Err(e) => return Listed::Invalid(e),
                }
            }
            if let Err(e) = sink.add_item(&api_version, kind_name, Doc::Raw(item)) {
                return Listed::Invalid(e);
            }
            count += 1;
        }
        token = page
            .metadata
            .and_then(|m| m.token)
            .filter(|t| !t.is_empty());
        // The page's text is dropped here, before the next one is fetched.
        if token.is_none() {
            return Listed::Items { view, count, raw };
        }
    }
}

/// A listed item as a JSON value for `snapshot save`: with `apiVersion` and
/// `kind`, without `managedFields`.
fn as_value(item: &RawValue, api_version: &str, kind: &str) -> anyhow::Result<Value> {
    let mut value: Value = serde_json::from_str(item.get())?;
    if let Some(obj) = value.as_object_mut() {
        obj.entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_string()));
        obj.entry("kind")
            .or_insert_with(|| Value::String(kind.to_string()));
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    Ok(value)
}

/// A refusal or failure as coverage data.
fn gap(kind: Kind, namespace: Option<&str>, failure: &Failure) -> CoverageRecord {
    let info = kind.info();
    let (result, message) = match failure {
        Failure::Status { code: 403, message } => (CoverageResult::Forbidden, message.clone()),
        // A plain-text "404 page not found": the group or version is not served
        // (a CRD that is not installed). Matched on the code, not the body.
        Failure::Status { code: 404, .. } => (
            CoverageResult::NotInstalled,
            format!("the API server does not serve {}", kind.api_version()),
        ),
        other => (CoverageResult::Failed, other.to_string()),
    };
    CoverageRecord {
        group: info.group.to_string(),
        version: info.version.to_string(),
        resource: info.plural.to_string(),
        namespace: namespace.filter(|_| info.namespaced).map(str::to_string),
        result,
        message,
    }
}

/// Percent-encode a query value (continue tokens are base64 with `=` and `/`).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_group_and_scope() {
        assert_eq!(path(Kind::Pod, Some("ml")), "/api/v1/namespaces/ml/pods");
        assert_eq!(path(Kind::Pod, None), "/api/v1/pods");
        assert_eq!(path(Kind::Node, Some("ml")), "/api/v1/nodes");
        assert_eq!(
            path(Kind::ScaledObject, Some("ml")),
            "/apis/keda.sh/v1alpha1/namespaces/ml/scaledobjects"
        );
        assert_eq!(
            path(Kind::ApiService, Some("ml")),
            "/apis/apiregistration.k8s.io/v1/apiservices"
        );
    }

    #[test]
    fn gaps_classify_by_status_code() {
        let forbidden = gap(
            Kind::HorizontalPodAutoscaler,
            Some("ml"),
            &Failure::Status {
                code: 403,
                message: "denied".into(),
            },
        );
        assert_eq!(
            forbidden.describe(),
            "forbidden: list horizontalpodautoscalers in namespace ml"
        );
        let absent = gap(
            Kind::ScaledObject,
            None,
            &Failure::Status {
                code: 404,
                message: "404 page not found".into(),
            },
        );
        assert_eq!(absent.result, CoverageResult::NotInstalled);
        assert_eq!(
            gap(Kind::Pod, None, &Failure::Timeout).result,
            CoverageResult::Failed
        );
    }

    #[test]
    fn continue_tokens_are_encoded() {
        assert_eq!(encode("eyJ2Ijoi+/=="), "eyJ2Ijoi%2B%2F%3D%3D");
    }
}
