//! One paginated List per kind and namespace scope (`limit` + `continue`),
//! turned into objects or into a coverage record when the API says no.

use serde_json::Value;

use super::http::{Api, Failure};
use crate::cluster::{CoverageRecord, CoverageResult, Kind};

/// What listing one kind in one scope gave.
pub enum Listed {
    /// Every object, with `apiVersion` and `kind` set (List items lack them) and
    /// `managedFields` removed.
    Items(Vec<Value>),
    /// The API refused or failed; the checks that need the kind are skipped.
    Gap(CoverageRecord),
    /// The credentials were rejected (401): nothing else will work either.
    Unauthorized(String),
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

pub async fn list(api: &Api, kind: Kind, namespace: Option<&str>, page_size: u32) -> Listed {
    let base = path(kind, namespace);
    let mut items = Vec::new();
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
                items.clear();
                continue;
            }
            Err(failure) => return Listed::Gap(gap(kind, namespace, &failure)),
        };
        let mut page: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let failure = Failure::Transport(format!("the answer is not a JSON List: {e}"));
                return Listed::Gap(gap(kind, namespace, &failure));
            }
        };
        let api_version = page
            .get("apiVersion")
            .and_then(Value::as_str)
            .map_or_else(|| kind.api_version(), str::to_string);
        if let Some(Value::Array(page_items)) = page.get_mut("items").map(Value::take) {
            for mut item in page_items {
                if let Some(obj) = item.as_object_mut() {
                    obj.entry("apiVersion")
                        .or_insert_with(|| Value::String(api_version.clone()));
                    obj.entry("kind")
                        .or_insert_with(|| Value::String(kind.info().kind.to_string()));
                    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                        meta.remove("managedFields");
                    }
                }
                items.push(item);
            }
        }
        token = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Listed::Items(items);
        }
    }
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
