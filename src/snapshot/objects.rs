//! Kubernetes objects from JSON or YAML documents into the ClusterView: single
//! objects, `v1 List`s (as `kubectl get -o yaml|json` prints them) and streams.

use std::borrow::Cow;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::autoscaling::v1 as autoscaling_v1;
use k8s_openapi::api::autoscaling::v2 as autoscaling_v2;
use k8s_openapi::api::events::v1 as events_v1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess};
use serde_json::Value;
use serde_json::value::RawValue;

use super::leading::{self, Leading};
use crate::cluster::{ClusterView, Compact, DynamicObject, Event, HasMeta, Kind, Store};

/// One document or List item, either parsed YAML or raw JSON text. Raw text
/// (from `.json` files) is deserialized straight into typed structs, so a
/// 10,000-pod List never exists as one generic tree in memory.
pub enum Doc<'a> {
    Value(Value),
    /// JSON text.
    Raw(&'a str),
}

/// The fields read before deciding how to parse an object.
#[derive(Default)]
struct Head<'a> {
    api_version: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
    metadata: Option<HeadMeta<'a>>,
}

#[derive(Deserialize)]
struct HeadMeta<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(rename = "managedFields", borrow, default)]
    managed_fields: Option<&'a RawValue>,
}

impl Head<'_> {
    /// The object's `text` with `null` for its `metadata.managedFields`, when
    /// it has them: the server's bookkeeping of who set which field, often
    /// as long as the rest of the object. No check reads them, and typing
    /// them builds a tree of every field path only to drop it.
    fn without_managed_fields(&self, text: &str) -> Option<String> {
        let fields = self.metadata.as_ref()?.managed_fields?.get();
        // The head borrows from `text`: the fields are a slice of it.
        let start = (fields.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        let end = start + fields.len();
        let (before, after) = (text.get(..start)?, text.get(end..)?);
        Some([before, "null", after].concat())
    }

    /// Whether the head has all it is read for, so reading can stop.
    fn complete(&self, defaulted: bool) -> bool {
        let named = defaulted || (self.api_version.is_some() && self.kind.is_some());
        named && self.metadata.is_some()
    }

    /// `Pod ml/x` to name an object in an error.
    fn label(&self) -> String {
        let Some(kind) = self.kind.as_deref() else {
            return "object without a kind".to_string();
        };
        let meta = self.metadata.as_ref();
        let name = meta.and_then(|m| m.name.as_deref()).unwrap_or("<no name>");
        match meta.and_then(|m| m.namespace.as_deref()) {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        }
    }
}

pub(super) const NOT_AN_OBJECT: &str =
    "expected a Kubernetes object (a mapping with apiVersion and kind), found";

/// Reads an object's [`Head`] and stops once it has it, rather than scanning
/// the rest of the object (its spec and status, most of its text), which the
/// typed parse that follows reads anyway. `apiVersion`, `kind` and `metadata`
/// come first in what the API server, kubectl and sorted keys write.
struct HeadReader<'de> {
    head: Head<'de>,
    /// `apiVersion` and `kind` have defaults (a List's), so only `metadata`
    /// is waited for.
    defaulted: bool,
}

impl<'de> Leading<'de> for HeadReader<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let head = &mut self.head;
        match key {
            "apiVersion" => head.api_version = map.next_value::<Option<Text<'de>>>()?.map(|t| t.0),
            "kind" => head.kind = map.next_value::<Option<Text<'de>>>()?.map(|t| t.0),
            "metadata" => head.metadata = map.next_value()?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(head.complete(self.defaulted))
    }
}

/// A string borrowed from the text where it has no escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Doc<'_> {
    /// The object's head. With `defaulted`, its `apiVersion` and `kind` have
    /// defaults, and reading stops at `metadata`.
    fn head(&self, defaulted: bool) -> Result<Head<'_>> {
        match self {
            Doc::Raw(text) => {
                if !text.starts_with('{') {
                    bail!("{NOT_AN_OBJECT} {}", json_type(text));
                }
                let mut reader = HeadReader {
                    head: Head::default(),
                    defaulted,
                };
                leading::read(text.as_bytes(), &mut reader).map_err(|e| anyhow!("{e}"))?;
                Ok(reader.head)
            }
            Doc::Value(v @ Value::Object(_)) => {
                let text = |p: &str| v.pointer(p).and_then(Value::as_str).map(Cow::Borrowed);
                Ok(Head {
                    api_version: text("/apiVersion"),
                    kind: text("/kind"),
                    metadata: Some(HeadMeta {
                        name: text("/metadata/name"),
                        namespace: text("/metadata/namespace"),
                        managed_fields: None,
                    }),
                })
            }
            Doc::Value(v) => bail!("{NOT_AN_OBJECT} {}", type_name(v)),
        }
    }

    /// Deserialize into a typed struct, naming the path of a field that fails
    /// (`spec.containers[0].ports[0].containerPort`). Raw text is parsed
    /// without tracking the path; after a failure it is read again as a
    /// generic tree, whose parse tracks it. One path-tracking copy of every
    /// kind's deserializer (over `Value`) serves both, which keeps the binary
    /// a megabyte smaller than a second copy over text would.
    fn parse<K: DeserializeOwned>(self) -> Result<K> {
        fn describe<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> anyhow::Error {
            let path = e.path().to_string();
            anyhow!("field `{path}`: {}", e.into_inner())
        }
        match self {
            Doc::Value(v) => serde_path_to_error::deserialize(v).map_err(describe),
            Doc::Raw(text) => serde_json::from_str(text).or_else(|e| {
                let tree: Value = serde_json::from_str(text).map_err(|_| anyhow!("{e}"))?;
                Doc::Value(tree).parse()
            }),
        }
    }

    fn into_value(self) -> Result<Value> {
        match self {
            Doc::Value(v) => Ok(v),
            Doc::Raw(text) => Ok(serde_json::from_str(text)?),
        }
    }
}

impl<'a> Doc<'a> {
    /// The items of a List, borrowing the file's text rather than copying it.
    fn into_items(self, kind: &str) -> Result<Vec<Doc<'a>>> {
        #[derive(Deserialize)]
        struct Items<'a> {
            #[serde(borrow)]
            items: Option<Vec<&'a RawValue>>,
        }
        match self {
            Doc::Raw(raw) => {
                let parsed: Items<'a> = serde_json::from_str(raw)
                    .map_err(|e| anyhow!("a {kind} needs an `items` array: {e}"))?;
                let items = parsed
                    .items
                    .ok_or_else(|| anyhow!("a {kind} needs an `items` array"))?;
                Ok(items.into_iter().map(|raw| Doc::Raw(raw.get())).collect())
            }
            Doc::Value(Value::Object(mut map)) => match map.remove("items") {
                Some(Value::Array(items)) => Ok(items.into_iter().map(Doc::Value).collect()),
                _ => bail!("a {kind} needs an `items` array"),
            },
            Doc::Value(v) => bail!("{NOT_AN_OBJECT} {}", type_name(&v)),
        }
    }
}

/// Parse a file's bytes into documents and hand each non-empty one to `each`.
pub fn parse_documents(
    bytes: &[u8],
    json: bool,
    each: &mut dyn FnMut(Doc<'_>) -> Result<()>,
) -> Result<()> {
    if json {
        let raw: &RawValue = serde_json::from_slice(bytes).map_err(|e| {
            anyhow!(
                "line {}, column {}: invalid JSON: {e}",
                e.line(),
                e.column()
            )
        })?;
        return each(Doc::Raw(raw.get()));
    }
    let text = std::str::from_utf8(bytes).context("YAML files must be UTF-8")?;
    let docs = crate::yaml::documents(text)?;
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        each(Doc::Value(doc)).with_context(|| format!("in YAML document {}", i + 1))?;
    }
    Ok(())
}

/// Adds objects to a view, remembering which kinds it saw.
pub struct ObjectSink<'a> {
    view: &'a mut ClusterView,
}

impl<'a> ObjectSink<'a> {
    pub fn new(view: &'a mut ClusterView) -> Self {
        ObjectSink { view }
    }

    pub fn view(&mut self) -> &mut ClusterView {
        self.view
    }

    /// Add one document: an object, or a List of objects (`kind: List` or
    /// `kind: PodList` with an `items` array).
    pub fn add(&mut self, doc: Doc<'_>) -> Result<()> {
        let head = doc.head(false)?;
        let kind = head.kind.as_deref().unwrap_or_default().to_string();
        if kind.ends_with("List") {
            self.note_list(head.api_version.as_deref(), &kind);
            drop(head);
            for (i, item) in doc.into_items(&kind)?.into_iter().enumerate() {
                self.add_list_item(i + 1, &kind, item)?;
            }
            return Ok(());
        }
        let label = head.label();
        drop(head);
        self.add_object(doc).with_context(|| label)
    }

    /// A typed List (`PodList`, as the API and `snapshot save` write them) says
    /// its kind was collected, even when it holds no items.
    pub(super) fn note_list(&mut self, api_version: Option<&str>, list_kind: &str) {
        if let (Some(item_kind), Some(api_version)) = (
            list_kind.strip_suffix("List").filter(|k| !k.is_empty()),
            api_version,
        ) && let Some(listed) = Kind::from_object(api_version, item_kind)
        {
            self.view.collected.insert(listed);
        }
    }

    /// Add the `n`th item of a List, which names its own `apiVersion` and `kind`.
    /// An error names the item and the object.
    pub(super) fn add_list_item(&mut self, n: usize, list_kind: &str, item: Doc<'_>) -> Result<()> {
        self.labelled(item, None, Self::add_object)
            .map_err(|(e, label)| e.context(format!("item {n} of the {list_kind} ({label})")))
    }

    /// Add one item of a List as the API server sends it: without `apiVersion`
    /// and `kind`, which are the List's (`api_version`, `kind`). An item that has
    /// them keeps its own. Errors name the object.
    pub fn add_item(&mut self, api_version: &str, kind: &str, doc: Doc<'_>) -> Result<()> {
        self.labelled(doc, Some(kind), |sink, doc| {
            sink.add_typed(doc, api_version, kind)
        })
        .map_err(|(e, label)| e.context(label))
    }

    /// Run `add` on `doc`; on failure, also give the object's label. Raw text
    /// is read again for the label only then; a parsed tree is labelled first,
    /// since `add` takes it.
    fn labelled(
        &mut self,
        doc: Doc<'_>,
        kind: Option<&str>,
        add: impl FnOnce(&mut Self, Doc<'_>) -> Result<()>,
    ) -> Result<(), (anyhow::Error, String)> {
        match doc {
            Doc::Raw(raw) => {
                add(self, Doc::Raw(raw)).map_err(|e| (e, label_of(&Doc::Raw(raw), kind)))
            }
            value => {
                let label = label_of(&value, kind);
                add(self, value).map_err(|e| (e, label))
            }
        }
    }

    fn add_object(&mut self, doc: Doc<'_>) -> Result<()> {
        self.add_typed(doc, "", "")
    }

    /// Add one object; `apiVersion` and `kind` default to the given ones.
    fn add_typed(
        &mut self,
        doc: Doc<'_>,
        default_api_version: &str,
        default_kind: &str,
    ) -> Result<()> {
        let head = doc.head(!default_api_version.is_empty() && !default_kind.is_empty())?;
        let api_version = head
            .api_version
            .as_deref()
            .unwrap_or(default_api_version)
            .to_string();
        let kind_name = head.kind.as_deref().unwrap_or(default_kind).to_string();
        if api_version.is_empty() || kind_name.is_empty() {
            bail!("not a Kubernetes object: `apiVersion` and `kind` are required");
        }
        if head
            .metadata
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .is_none()
        {
            bail!("`metadata.name` is required");
        }
        let trimmed = match doc {
            Doc::Raw(text) => head.without_managed_fields(text),
            Doc::Value(_) => None,
        };
        drop(head);
        let doc = match &trimmed {
            Some(text) => Doc::Raw(text),
            None => doc,
        };
        let view = &mut *self.view;
        let Some(kind) = Kind::from_object(&api_version, &kind_name) else {
            view.other.push(dynamic(api_version, kind_name, doc)?);
            return Ok(());
        };
        view.collected.insert(kind);
        match kind {
            Kind::Namespace => insert(&mut view.namespaces, doc),
            Kind::Node => insert(&mut view.nodes, doc),
            Kind::Pod => insert(&mut view.pods, doc),
            Kind::Service => insert(&mut view.services, doc),
            Kind::Endpoints => insert(&mut view.endpoints, doc),
            Kind::EndpointSlice => insert(&mut view.endpoint_slices, doc),
            Kind::ConfigMap => insert(&mut view.config_maps, doc),
            Kind::Secret => insert(&mut view.secrets, doc),
            Kind::Event if api_version == "events.k8s.io/v1" => {
                let event: events_v1::Event = doc.parse()?;
                view.events.insert(core_event(event));
                Ok(())
            }
            Kind::Event => insert(&mut view.events, doc),
            Kind::Deployment => insert(&mut view.deployments, doc),
            Kind::ReplicaSet => insert(&mut view.replica_sets, doc),
            Kind::StatefulSet => insert(&mut view.stateful_sets, doc),
            Kind::DaemonSet => insert(&mut view.daemon_sets, doc),
            Kind::Job => insert(&mut view.jobs, doc),
            Kind::CronJob => insert(&mut view.cron_jobs, doc),
            Kind::HorizontalPodAutoscaler if api_version == "autoscaling/v1" => {
                let hpa: autoscaling_v1::HorizontalPodAutoscaler = doc.parse()?;
                view.hpas.insert(hpa_v2(hpa));
                Ok(())
            }
            Kind::HorizontalPodAutoscaler => insert(&mut view.hpas, doc),
            custom => {
                let object = dynamic(api_version, kind_name, doc)?;
                view.custom.entry(custom).or_default().insert(object);
                Ok(())
            }
        }
    }
}

/// `Pod ml/x` for an error about `doc`, whose kind defaults to `kind`.
fn label_of(doc: &Doc<'_>, kind: Option<&str>) -> String {
    match doc.head(false) {
        Ok(mut head) => {
            if let Some(kind) = kind {
                head.kind.get_or_insert(Cow::Borrowed(kind));
            }
            head.label()
        }
        Err(_) => "not an object".into(),
    }
}

fn insert<K>(store: &mut Store<K>, doc: Doc<'_>) -> Result<()>
where
    K: DeserializeOwned + HasMeta + Compact,
{
    let mut object: K = doc.parse()?;
    // managedFields are bookkeeping no check reads; dropping them halves big dumps.
    object.meta_mut().managed_fields = None;
    object.compact();
    store.insert(object);
    Ok(())
}

fn dynamic(api_version: String, kind: String, doc: Doc<'_>) -> Result<DynamicObject> {
    let mut data = doc.into_value()?;
    if let Some(object) = data.as_object_mut() {
        // List items come without them; checks read the object whole.
        object
            .entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.clone()));
        object
            .entry("kind")
            .or_insert_with(|| Value::String(kind.clone()));
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    let metadata: ObjectMeta = Doc::Value(data.get("metadata").cloned().unwrap_or(Value::Null))
        .parse()
        .context("in metadata")?;
    Ok(DynamicObject {
        api_version,
        kind,
        metadata,
        data,
    })
}

/// What a JSON text holds, by its first character, for an error message.
fn json_type(text: &str) -> &'static str {
    match text.chars().next() {
        Some('[') => "a list",
        Some('"') => "a string",
        Some('t' | 'f') => "a boolean",
        Some('n') => "nothing",
        _ => "a number",
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// An `events.k8s.io/v1` Event in the shape of a core Event, so checks read one kind.
fn core_event(e: events_v1::Event) -> Event {
    let count = e.series.as_ref().map(|s| s.count).or(e.deprecated_count);
    let last = e.series.as_ref().map(|s| s.last_observed_time.clone());
    Event {
        involved_object: e.regarding.unwrap_or_default(),
        message: e.note,
        reason: e.reason,
        type_: e.type_,
        count,
        event_time: last.or(e.event_time),
        last_timestamp: e.deprecated_last_timestamp,
        first_timestamp: e.deprecated_first_timestamp,
        metadata: e.metadata,
    }
}

/// An `autoscaling/v1` HPA as the v2 API would show it: its CPU target becomes a
/// Resource metric.
fn hpa_v2(h: autoscaling_v1::HorizontalPodAutoscaler) -> autoscaling_v2::HorizontalPodAutoscaler {
    let spec = h.spec.map(|s| autoscaling_v2::HorizontalPodAutoscalerSpec {
        max_replicas: s.max_replicas,
        min_replicas: s.min_replicas,
        scale_target_ref: autoscaling_v2::CrossVersionObjectReference {
            api_version: s.scale_target_ref.api_version,
            kind: s.scale_target_ref.kind,
            name: s.scale_target_ref.name,
        },
        metrics: s.target_cpu_utilization_percentage.map(|pct| {
            vec![autoscaling_v2::MetricSpec {
                type_: "Resource".into(),
                resource: Some(autoscaling_v2::ResourceMetricSource {
                    name: "cpu".into(),
                    target: autoscaling_v2::MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(pct),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]
        }),
        behavior: None,
    });
    // v1 keeps the controller's conditions in an annotation, as JSON.
    let conditions: Option<Vec<autoscaling_v2::HorizontalPodAutoscalerCondition>> = h
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("autoscaling.alpha.kubernetes.io/conditions"))
        .and_then(|json| serde_json::from_str(json).ok());
    let status = h
        .status
        .map(|s| autoscaling_v2::HorizontalPodAutoscalerStatus {
            current_replicas: Some(s.current_replicas),
            desired_replicas: s.desired_replicas,
            last_scale_time: s.last_scale_time,
            observed_generation: s.observed_generation,
            conditions,
            ..Default::default()
        });
    autoscaling_v2::HorizontalPodAutoscaler {
        metadata: h.metadata,
        spec,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head is read up to `metadata` and the object's own `apiVersion` and
    /// `kind`, wherever they are, and no further.
    #[test]
    fn heads_stop_once_complete() {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"ml"},"spec":{"containers":[]},"kind":"Pod","status":{},"apiVersion":"v1"}"#,
        )
        .unwrap();
        let doc = Doc::Raw(raw.get());
        let head = doc.head(false).unwrap();
        assert_eq!(head.label(), "Pod ml/p");
        assert_eq!(head.api_version.as_deref(), Some("v1"));
        // With a List's defaults, reading stops at `metadata`.
        let head = doc.head(true).unwrap();
        assert!(head.kind.is_none() && head.api_version.is_none());
        assert_eq!(head.metadata.unwrap().name.as_deref(), Some("p"));
        let list: Box<RawValue> = serde_json::from_str(r#"{"items":[],"kind":"List"}"#).unwrap();
        let list = Doc::Raw(list.get());
        let head = list.head(false).unwrap();
        assert_eq!(head.kind.as_deref(), Some("List"));
        assert!(head.metadata.is_none());
        let bad: Box<RawValue> = serde_json::from_str(r#"{"kind":7}"#).unwrap();
        assert!(Doc::Raw(bad.get()).head(false).is_err());
    }

    /// managedFields become `null` in the text that is typed; the same words
    /// elsewhere in the object are left alone.
    #[test]
    fn managed_fields_are_cut_from_the_text() {
        let text = r#"{"metadata":{"name":"p","annotations":{"a":"\"managedFields\":[1]"},"managedFields":[{"manager":"k","fieldsV1":{"f:spec":{}}}],"uid":"u"},"spec":{}}"#;
        let doc = Doc::Raw(text);
        let head = doc.head(true).unwrap();
        assert_eq!(
            head.without_managed_fields(text).unwrap(),
            r#"{"metadata":{"name":"p","annotations":{"a":"\"managedFields\":[1]"},"managedFields":null,"uid":"u"},"spec":{}}"#
        );
        let plain = r#"{"metadata":{"name":"p"}}"#;
        let doc = Doc::Raw(plain);
        assert!(
            doc.head(true)
                .unwrap()
                .without_managed_fields(plain)
                .is_none()
        );
    }

    #[test]
    fn list_items_take_the_lists_api_version_and_kind() {
        let mut view = ClusterView::default();
        let mut sink = ObjectSink::new(&mut view);
        let pod: Box<RawValue> = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"ml","managedFields":[{"manager":"k"}]},"spec":{"containers":[]}}"#,
        )
        .unwrap();
        sink.add_item("v1", "Pod", Doc::Raw(pod.get())).unwrap();
        let model: Box<RawValue> = serde_json::from_str(
            r#"{"metadata":{"name":"iris","namespace":"seldon-mesh"},"spec":{"storageUri":"gs://x"}}"#,
        )
        .unwrap();
        sink.add_item("mlops.seldon.io/v1alpha1", "Model", Doc::Raw(model.get()))
            .unwrap();
        let bad: Box<RawValue> = serde_json::from_str(
            r#"{"metadata":{"name":"q","namespace":"ml"},"spec":{"containers":3}}"#,
        )
        .unwrap();
        let err = format!(
            "{:#}",
            sink.add_item("v1", "Pod", Doc::Raw(bad.get())).unwrap_err()
        );
        assert!(
            err.starts_with("Pod ml/q: field `spec.containers`"),
            "{err}"
        );
        let pod = view.pods.get("ml", "p").unwrap();
        assert!(pod.metadata.managed_fields.is_none());
        let model = view
            .custom_get(Kind::SeldonModel, "seldon-mesh", "iris")
            .unwrap();
        assert_eq!(
            model.str_at("/apiVersion"),
            Some("mlops.seldon.io/v1alpha1")
        );
        assert_eq!(model.str_at("/kind"), Some("Model"));
        assert!(view.has(Kind::Pod) && view.has(Kind::SeldonModel));
    }

    #[test]
    fn absorbing_a_view_moves_its_objects() {
        let mut one = ClusterView::default();
        let mut two = ClusterView::default();
        for (view, name) in [(&mut one, "a"), (&mut two, "b")] {
            let raw: Box<RawValue> = serde_json::from_str(&format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"ml"}}}}"#
            ))
            .unwrap();
            ObjectSink::new(view)
                .add_item("v1", "ConfigMap", Doc::Raw(raw.get()))
                .unwrap();
        }
        one.absorb(two);
        assert_eq!(one.config_maps.len(), 2);
        assert_eq!(one.config_maps.in_namespace("ml").count(), 2);
        assert!(one.has(Kind::ConfigMap));
    }
}
