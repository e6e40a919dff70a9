//! Lean types for the kinds a big cluster has most of, beside its Pods: Events,
//! ReplicaSets and EndpointSlices. Each holds the fields checks read, under
//! k8s-openapi's names, and nothing else: a field no check reads is skipped
//! while parsing, never materialised. k8s-openapi's structs keep every field
//! inline (its ReplicaSet is 2.3 KB before its pod template's contents).
//!
//! `snapshot save` writes the objects as they were listed, not these.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

use super::HasMeta;

/// A core/v1 Event (an `events.k8s.io/v1` one is converted on reading).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub involved_object: ObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<MicroTime>,
}

/// An apps/v1 ReplicaSet: checks follow it from a Pod to its Deployment, so its
/// metadata is what they read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSet {
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// A discovery/v1 EndpointSlice: which addresses of a Service are ready.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSlice {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub endpoints: Vec<Endpoint>,
}

/// One endpoint of an [`EndpointSlice`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<EndpointConditions>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
}

/// `null` where a list is expected is an empty list, as k8s-openapi reads it.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

macro_rules! has_meta {
    ($($t:ty),*) => {$(
        impl HasMeta for $t {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    )*};
}

has_meta!(Event, ReplicaSet, EndpointSlice);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field a check reads comes through; the rest is not kept.
    #[test]
    fn the_lean_kinds_keep_what_checks_read() {
        let event: Event = serde_json::from_str(
            r#"{"metadata":{"name":"p.1","namespace":"ml","creationTimestamp":"2026-01-01T00:00:00Z"},
                "involvedObject":{"kind":"Pod","namespace":"ml","name":"p","apiVersion":"v1"},
                "reason":"BackOff","message":"Back-off restarting","type":"Warning","count":7,
                "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:05:00Z",
                "source":{"component":"kubelet","host":"n1"},"reportingComponent":"kubelet"}"#,
        )
        .unwrap();
        assert_eq!(event.involved_object.name.as_deref(), Some("p"));
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(event.count, Some(7));
        assert!(event.last_timestamp.is_some());
        let slice: EndpointSlice = serde_json::from_str(
            r#"{"metadata":{"name":"s-1","labels":{"kubernetes.io/service-name":"s"}},"addressType":"IPv4",
                "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":false,"serving":true},
                              "targetRef":{"kind":"Pod","name":"p"},"nodeName":"n1"},
                             {"addresses":["10.0.0.2"]}],"ports":null}"#,
        )
        .unwrap();
        assert_eq!(slice.endpoints.len(), 2);
        assert_eq!(
            slice.endpoints[0].conditions,
            Some(EndpointConditions { ready: Some(false) })
        );
        let empty: EndpointSlice =
            serde_json::from_str(r#"{"metadata":{"name":"s-2"},"endpoints":null}"#).unwrap();
        assert!(empty.endpoints.is_empty());
        let rs: ReplicaSet = serde_json::from_str(
            r#"{"metadata":{"name":"web-5d9","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"u","controller":true}]},
                "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"c"}]}}}}"#,
        )
        .unwrap();
        assert_eq!(rs.metadata.owner_references.unwrap()[0].name, "web");
    }
}
