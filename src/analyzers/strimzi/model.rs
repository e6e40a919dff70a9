//! What the Strimzi checks (and KFK002, for declared topics) share: reading
//! `Kafka`, `KafkaNodePool` and `KafkaTopic` resources of `kafka.strimzi.io`.
//! Pure: no I/O.

use serde_json::Value;

use crate::analyzers::address::addresses;
pub use crate::analyzers::conditions::Condition;
use crate::cluster::{ClusterView, DynamicObject, Kind};

/// The label that binds a KafkaTopic or KafkaNodePool to its Kafka.
pub const CLUSTER_LABEL: &str = "strimzi.io/cluster";

/// The Kafka a KafkaTopic or KafkaNodePool names in `strimzi.io/cluster`.
pub fn cluster_label(obj: &DynamicObject) -> Option<&str> {
    obj.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(CLUSTER_LABEL))
        .map(String::as_str)
}

/// The Kafka resource a KafkaTopic belongs to, if it is in the view.
pub fn kafka_of<'a>(view: &'a ClusterView, obj: &DynamicObject) -> Option<&'a DynamicObject> {
    view.custom_get(Kind::StrimziKafka, obj.namespace(), cluster_label(obj)?)
}

/// The Kafka topic a KafkaTopic manages: `spec.topicName`, else its name.
pub fn topic_name(topic: &DynamicObject) -> &str {
    topic
        .data
        .pointer("/spec/topicName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| topic.name())
}

/// Whether the operator manages the topic (`strimzi.io/managed: "false"` says not).
pub fn managed(topic: &DynamicObject) -> bool {
    topic
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("strimzi.io/managed"))
        .is_none_or(|v| v != "false")
}

/// An integer field of the spec (`partitions`, `replicas`).
pub fn spec_int(obj: &DynamicObject, field: &str) -> Option<i64> {
    obj.data.pointer(&format!("/spec/{field}"))?.as_i64()
}

/// The `Ready` condition, when the operator wrote one.
pub fn ready(obj: &DynamicObject) -> Option<Condition> {
    crate::analyzers::conditions::condition(obj, &["Ready"])
}

/// The Kafka operator's `NotReady=True` condition (it writes `NotReady`,
/// not `Ready=False`, when a reconciliation fails), or `Ready=False`.
pub fn not_ready(kafka: &DynamicObject) -> Option<Condition> {
    crate::analyzers::conditions::conditions(kafka)
        .into_iter()
        .find(|c| {
            (c.type_ == "NotReady" && c.is_true()) || (c.type_ == "Ready" && c.status == "False")
        })
}

/// How many brokers a Kafka has and where that number comes from: the
/// `spec.replicas` of its KafkaNodePools with the broker role, or, without
/// node pools, `spec.kafka.replicas`.
pub fn brokers(view: &ClusterView, kafka: &DynamicObject) -> Option<(i64, String)> {
    let ns = kafka.namespace();
    let name = kafka.name();
    let pools: Vec<&DynamicObject> = view
        .custom(Kind::StrimziKafkaNodePool)
        .filter(|p| p.namespace() == ns && cluster_label(p) == Some(name))
        .filter(|p| {
            p.data
                .pointer("/spec/roles")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|r| r.as_str() == Some("broker")))
        })
        .collect();
    if !pools.is_empty() {
        let count: i64 = pools.iter().filter_map(|p| spec_int(p, "replicas")).sum();
        let names: Vec<String> = pools
            .iter()
            .map(|p| format!("{} ({})", p.name(), spec_int(p, "replicas").unwrap_or(0)))
            .collect();
        return Some((
            count,
            format!(
                "KafkaNodePool{} with the broker role: {}",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
        ));
    }
    let replicas = kafka.data.pointer("/spec/kafka/replicas")?.as_i64()?;
    Some((replicas, "spec.kafka.replicas".to_string()))
}

/// One listener of a Kafka, as its status reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub bootstrap: String,
}

/// `status.listeners[]` with their `bootstrapServers`.
pub fn listeners(kafka: &DynamicObject) -> Vec<Listener> {
    kafka
        .data
        .pointer("/status/listeners")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some(Listener {
                name: l.get("name")?.as_str()?.to_string(),
                bootstrap: l.get("bootstrapServers")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// `host:port` pairs of a bootstrap list, in-cluster names reduced to
/// `service.namespace:port` so `a.ns`, `a.ns.svc` and the full name compare
/// equal; `namespace` is where a short name resolves.
pub fn endpoints(view: &ClusterView, list: &str, namespace: &str) -> Vec<String> {
    let known_ns = |n: &str| view.namespace_exists(n);
    list.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(
            |token| match addresses(token, namespace, &known_ns).first() {
                Some(a) => format!(
                    "{}.{}:{}",
                    a.service,
                    a.namespace,
                    a.port.map_or(String::new(), |p| p.to_string())
                ),
                None => token.to_ascii_lowercase(),
            },
        )
        .collect()
}

/// The listener of a Kafka whose bootstrap addresses include every address
/// of `bootstrap` (resolved from `namespace`), if one does.
pub fn listener_for(
    view: &ClusterView,
    kafka: &DynamicObject,
    bootstrap: &str,
    namespace: &str,
) -> Option<Listener> {
    let wanted = endpoints(view, bootstrap, namespace);
    if wanted.is_empty() {
        return None;
    }
    let ns = kafka.namespace();
    listeners(kafka).into_iter().find(|l| {
        let have = endpoints(view, &l.bootstrap, ns);
        wanted.iter().all(|w| have.contains(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testing::fixture;

    #[test]
    fn bootstrap_forms_compare_equal() {
        let view = fixture("healthy-strimzi");
        let kafka = view
            .custom_get(Kind::StrimziKafka, "streaming", "events")
            .expect("in the fixture");
        let name = |b: &str, ns: &str| listener_for(&view, kafka, b, ns).map(|l| l.name);
        for b in [
            "events-kafka-bootstrap.streaming:9092",
            "events-kafka-bootstrap.streaming.svc:9092",
            "events-kafka-bootstrap.streaming.svc.cluster.local:9092",
        ] {
            assert_eq!(name(b, "apps").as_deref(), Some("plain"), "{b}");
        }
        assert_eq!(
            name("events-kafka-bootstrap:9093", "streaming").as_deref(),
            Some("tls")
        );
        assert_eq!(name("events-kafka-bootstrap.streaming:9091", "apps"), None);
        assert_eq!(name("events-kafka-bootstrap:9092", "apps"), None);
        assert_eq!(name("", "apps"), None);
    }

    #[test]
    fn brokers_come_from_node_pools_else_the_spec() {
        let view = fixture("healthy-strimzi");
        let kafka = view
            .custom_get(Kind::StrimziKafka, "streaming", "events")
            .expect("in the fixture");
        assert_eq!(brokers(&view, kafka).map(|b| b.0), Some(1));
        let mut legacy = kafka.clone();
        legacy.data["spec"]["kafka"]["replicas"] = 3.into();
        let without_pools = fixture("healthy");
        assert_eq!(
            brokers(&without_pools, &legacy),
            Some((3, "spec.kafka.replicas".to_string()))
        );
        assert_eq!(brokers(&without_pools, kafka), None);
    }

    #[test]
    fn topic_names_and_management() {
        let view = fixture("strimzi-broken");
        let t = view
            .custom_get(Kind::StrimziKafkaTopic, "streaming", "orders")
            .expect("in the fixture");
        assert_eq!(topic_name(t), "orders");
        assert!(managed(t));
        let mut renamed = t.clone();
        renamed.data["spec"]["topicName"] = "orders.v2".into();
        assert_eq!(topic_name(&renamed), "orders.v2");
        let mut unmanaged = t.clone();
        unmanaged
            .metadata
            .annotations
            .get_or_insert_default()
            .insert("strimzi.io/managed".into(), "false".into());
        assert!(!managed(&unmanaged));
    }
}
