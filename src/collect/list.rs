//! One paginated List per kind and namespace scope (`limit` + `continue`),
//! each page typed into objects as soon as it arrives, or a coverage record
//! when the API says no.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess};
use serde_json::Value;
use serde_json::value::RawValue;

use super::http::{Api, Failure};
use crate::cluster::{ClusterView, CoverageRecord, CoverageResult, Kind};
use crate::snapshot::leading::{self, Leading};
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
    #[serde(borrow, default)]
    items: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    token: Option<String>,
}

/// The pages of one List typed so far.
#[derive(Default)]
struct Typed {
    view: Box<ClusterView>,
    count: usize,
    raw: Vec<Value>,
}

/// Why a page was not typed.
enum PageError {
    /// The answer is not a List: a gap, as when its start was not.
    NotAList(serde_json::Error),
    /// An item is not a valid object of its kind.
    Invalid(anyhow::Error),
}

impl Typed {
    /// Type every item of a page into the view (and keep it as JSON when asked).
    fn add_page(&mut self, body: &[u8], kind: Kind, keep_raw: bool) -> Result<(), PageError> {
        let page: Page<'_> = serde_json::from_slice(body).map_err(PageError::NotAList)?;
        self.add_items(page, kind, keep_raw)
            .map_err(PageError::Invalid)
    }

    fn add_items(&mut self, page: Page<'_>, kind: Kind, keep_raw: bool) -> anyhow::Result<()> {
        let kind_name = kind.info().kind;
        let api_version = page
            .api_version
            .as_deref()
            .map_or_else(|| kind.api_version(), str::to_string);
        let mut sink = ObjectSink::new(&mut self.view);
        for item in page.items.unwrap_or_default() {
            if keep_raw {
                self.raw.push(as_value(item, &api_version, kind_name)?);
            }
            sink.add_item(&api_version, kind_name, Doc::Raw(item.get()))?;
            self.count += 1;
        }
        Ok(())
    }
}

/// List `kind` page by page. A page is typed on a blocking thread while the
/// next one is fetched, so the server's work on a page overlaps ours on the
/// one before (it only starts a page when asked for it).
pub async fn list(
    api: &Api,
    kind: Kind,
    namespace: Option<&str>,
    page_size: u32,
    keep_raw: bool,
) -> Listed {
    let first = format!("{}?limit={page_size}", path(kind, namespace));
    let mut typed = Typed::default();
    let mut response = api.get(&first).await;
    // Whether `response` answers a `continue` request.
    let mut continued = false;
    let mut restarted = false;
    loop {
        let body = match response {
            Ok(body) => body,
            Err(Failure::Status { code: 401, message }) => return Listed::Unauthorized(message),
            // 410 Gone: the continue token expired (the list changed too much
            // between pages). Start over once, as a consistent list must.
            Err(Failure::Status { code: 410, .. }) if continued && !restarted => {
                restarted = true;
                continued = false;
                typed = Typed::default();
                response = api.get(&first).await;
                continue;
            }
            Err(failure) => return Listed::Gap(gap(kind, namespace, &failure)),
        };
        let token = match next_token(&body) {
            Ok(token) => token,
            Err(e) => return not_a_list(kind, namespace, &e),
        };
        // The page's text is dropped once typed.
        let typing = tokio::task::spawn_blocking(move || {
            let result = typed.add_page(&body, kind, keep_raw);
            (typed, result)
        });
        let next = match &token {
            Some(t) => Some(api.get(&format!("{first}&continue={}", encode(t))).await),
            None => None,
        };
        typed = match typing.await {
            Ok((typed, Ok(()))) => typed,
            Ok((_, Err(PageError::NotAList(e)))) => return not_a_list(kind, namespace, &e),
            Ok((_, Err(PageError::Invalid(e)))) => return Listed::Invalid(e),
            Err(e) => return Listed::Invalid(anyhow::anyhow!("typing a page failed: {e}")),
        };
        match next {
            Some(answer) => {
                response = answer;
                continued = true;
            }
            None => {
                return Listed::Items {
                    view: typed.view,
                    count: typed.count,
                    raw: typed.raw,
                };
            }
        }
    }
}

/// The token of the next page, from the page's `metadata`. The API server
/// writes it before the items, and reading stops there: the items are
/// megabytes, and the typing thread reads them anyway.
fn next_token(body: &[u8]) -> Result<Option<String>, serde_json::Error> {
    /// The page's `metadata` once read (`Some(None)`: `null`).
    struct Metadata(Option<Option<PageMeta>>);

    impl<'de> Leading<'de> for Metadata {
        fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
            if key == "metadata" {
                self.0 = Some(map.next_value()?);
                return Ok(true);
            }
            map.next_value::<IgnoredAny>()?;
            Ok(false)
        }
    }

    let mut metadata = Metadata(None);
    leading::read(body, &mut metadata)?;
    Ok(metadata
        .0
        .flatten()
        .and_then(|m| m.token)
        .filter(|t| !t.is_empty()))
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

/// An answer that is not a JSON List, as a gap.
fn not_a_list(kind: Kind, namespace: Option<&str>, e: &serde_json::Error) -> Listed {
    let failure = Failure::Transport(format!("the answer is not a JSON List: {e}"));
    Listed::Gap(gap(kind, namespace, &failure))
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

    /// The token is read from `metadata` wherever it is, and reading stops
    /// there; a body that is not a List is an error.
    #[test]
    fn next_tokens_come_from_the_pages_metadata() {
        let first = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc"},"items":[{"metadata":{"name":"p"}}]}"#;
        assert_eq!(next_token(first).unwrap().as_deref(), Some("abc"));
        // Reading stops at metadata: what follows is not read.
        assert_eq!(
            next_token(br#"{"metadata":{"continue":"x"},"items":[oops"#)
                .unwrap()
                .as_deref(),
            Some("x")
        );
        let last = br#"{"items":[],"metadata":{"resourceVersion":"7","continue":""}}"#;
        assert_eq!(next_token(last).unwrap(), None);
        assert_eq!(next_token(br#"{"items":[]}"#).unwrap(), None);
        assert!(next_token(b"<html>bad gateway</html>").is_err());
        assert!(next_token(br#"{"items":[}"#).is_err());
    }

    /// A page whose items are not a list is a gap, like an answer that is not a
    /// List from its start; an item that is not a Pod fails the listing.
    #[test]
    fn a_page_that_is_not_a_list_is_told_from_an_invalid_item() {
        let mut typed = Typed::default();
        let body = br#"{"metadata":{"continue":""},"items":{"oops":1}}"#;
        assert!(matches!(
            typed.add_page(body, Kind::Pod, false),
            Err(PageError::NotAList(_))
        ));
        let body = br#"{"items":[{"metadata":{"name":"p"},"spec":{"containers":7}}]}"#;
        let Err(PageError::Invalid(e)) = typed.add_page(body, Kind::Pod, false) else {
            panic!("an invalid Pod is an invalid item");
        };
        assert!(format!("{e:#}").contains("Pod p"), "{e:#}");
        let body = br#"{"items":[{"metadata":{"name":"p","namespace":"ml"}}]}"#;
        assert!(typed.add_page(body, Kind::Pod, false).is_ok());
        assert_eq!(typed.count, 1);
    }

    #[test]
    fn continue_tokens_are_encoded() {
        assert_eq!(encode("eyJ2Ijoi+/=="), "eyJ2Ijoi%2B%2F%3D%3D");
    }
}
