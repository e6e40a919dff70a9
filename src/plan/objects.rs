//! Objects of a ClusterView as JSON, and changed objects put back into a view:
//! what the offline verify step runs the checks on.

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::apply::{TOPIC_API_VERSION, TOPIC_KIND, topic_object};
use crate::analyzers::kafka::model::NewTopicSpec;
use crate::cluster::{ClusterView, HasMeta, KafkaTopic, Kind, ObjectRef, Store};
use crate::snapshot::{Doc, ObjectSink};

/// An object of the view as the API server would return it, if it is there.
pub fn get(view: &ClusterView, target: &ObjectRef) -> Option<Value> {
    fn json<K: Serialize + HasMeta>(s: &Store<K>, ns: &str, name: &str) -> Option<Value> {
        s.get(ns, name)
            .map(|o| serde_json::to_value(o).expect("objects serialize"))
    }
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_str();
    if is_topic(target) {
        return topic(view, name);
    }
    match Kind::from_object(&target.api_version, &target.kind)? {
        Kind::Namespace => json(&view.namespaces, "", name),
        Kind::Node => json(&view.nodes, "", name),
        Kind::Pod => json(&view.pods, ns, name),
        Kind::Service => json(&view.services, ns, name),
        Kind::Endpoints => json(&view.endpoints, ns, name),
        Kind::EndpointSlice => json(&view.endpoint_slices, ns, name),
        Kind::ConfigMap => json(&view.config_maps, ns, name),
        Kind::Secret => json(&view.secrets, ns, name),
        Kind::Event => json(&view.events, ns, name),
        Kind::Deployment => json(&view.deployments, ns, name),
        Kind::ReplicaSet => json(&view.replica_sets, ns, name),
        Kind::StatefulSet => json(&view.stateful_sets, ns, name),
        Kind::DaemonSet => json(&view.daemon_sets, ns, name),
        Kind::Job => json(&view.jobs, ns, name),
        Kind::CronJob => json(&view.cron_jobs, ns, name),
        Kind::HorizontalPodAutoscaler => json(&view.hpas, ns, name),
        custom => view.custom_get(custom, ns, name).map(|o| o.data.clone()),
    }
}

/// Put a changed object into the view (replacing the one of the same name), or
/// remove the target when `object` is `None`. Rebuilds the view's indexes.
pub fn put(view: &mut ClusterView, target: &ObjectRef, object: Option<Value>) -> Result<()> {
    if is_topic(target) {
        return put_topic(view, target, object);
    }
    match object {
        Some(object) => ObjectSink::new(view).add(Doc::Value(object))?,
        None => remove(view, target)?,
    }
    view.finish();
    Ok(())
}

/// A Kafka topic target (`kafka/KafkaTopic NAME`), which lives in the view's
/// Kafka observation rather than in a store.
fn is_topic(target: &ObjectRef) -> bool {
    target.api_version == TOPIC_API_VERSION && target.kind == TOPIC_KIND
}

/// A topic of the observed Kafka in the shape [`topic_object`] gives a new one.
fn topic(view: &ClusterView, name: &str) -> Option<Value> {
    let t = view
        .kafka
        .as_ref()?
        .topics
        .iter()
        .find(|t| t.name == name)?;
    Some(topic_object(&NewTopicSpec {
        name: t.name.clone(),
        partitions: i32::try_from(t.partitions).unwrap_or(i32::MAX),
        // Unknown replication reads as -1, Kafka's "the broker's default".
        replication: t
            .replication
            .map_or(-1, |r| i32::try_from(r).unwrap_or(i32::MAX)),
        config: Vec::new(),
    }))
}

/// Add, replace or remove a topic in the view's Kafka observation.
fn put_topic(view: &mut ClusterView, target: &ObjectRef, object: Option<Value>) -> Result<()> {
    let Some(kafka) = view.kafka.as_mut() else {
        bail!("cannot change {target}: no Kafka was observed");
    };
    let Some(object) = object else {
        kafka.topics.retain(|t| t.name != target.name);
        return Ok(());
    };
    let count = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    };
    let Some(partitions) = count("/spec/partitions") else {
        bail!("{target}: spec.partitions must be a positive number");
    };
    kafka.topics.retain(|t| t.name != target.name);
    kafka.topics.push(KafkaTopic {
        name: target.name.clone(),
        partitions,
        // -1 (the broker's default) or absent: unknown.
        replication: count("/spec/replicationFactor"),
    });
    Ok(())
}

fn remove(view: &mut ClusterView, target: &ObjectRef) -> Result<()> {
    fn drop_from<K: HasMeta>(s: &mut Store<K>, ns: &str, name: &str) {
        s.retain(|o| {
            let m = o.meta();
            !(m.namespace.as_deref().unwrap_or_default() == ns && m.name.as_deref() == Some(name))
        });
    }
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_str();
    let Some(kind) = Kind::from_object(&target.api_version, &target.kind) else {
        bail!("cannot remove {target}: mlopsctl does not read its kind");
    };
    match kind {
        Kind::Namespace => drop_from(&mut view.namespaces, "", name),
        Kind::Node => drop_from(&mut view.nodes, "", name),
        Kind::Pod => drop_from(&mut view.pods, ns, name),
        Kind::Service => drop_from(&mut view.services, ns, name),
        Kind::Endpoints => drop_from(&mut view.endpoints, ns, name),
        Kind::EndpointSlice => drop_from(&mut view.endpoint_slices, ns, name),
        Kind::ConfigMap => drop_from(&mut view.config_maps, ns, name),
        Kind::Secret => drop_from(&mut view.secrets, ns, name),
        Kind::Event => drop_from(&mut view.events, ns, name),
        Kind::Deployment => drop_from(&mut view.deployments, ns, name),
        Kind::ReplicaSet => drop_from(&mut view.replica_sets, ns, name),
        Kind::StatefulSet => drop_from(&mut view.stateful_sets, ns, name),
        Kind::DaemonSet => drop_from(&mut view.daemon_sets, ns, name),
        Kind::Job => drop_from(&mut view.jobs, ns, name),
        Kind::CronJob => drop_from(&mut view.cron_jobs, ns, name),
        Kind::HorizontalPodAutoscaler => drop_from(&mut view.hpas, ns, name),
        custom => {
            if let Some(store) = view.custom.get_mut(&custom) {
                drop_from(store, ns, name);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::analyzers::testing::fixture;

    fn trainer() -> ObjectRef {
        ObjectRef::new("apps/v1", "Deployment", Some("flts"), "train-lstm")
    }

    #[test]
    fn typed_objects_come_back_with_api_version_and_kind() {
        let view = fixture("training-pipeline");
        let object = get(&view, &trainer()).expect("in the fixture");
        assert_eq!(object["kind"], json!("Deployment"));
        assert_eq!(object["apiVersion"], json!("apps/v1"));
        assert!(object["metadata"]["resourceVersion"].is_string());
    }

    #[test]
    fn topics_are_read_from_and_written_to_the_kafka_observation() {
        let mut view = fixture("kafka-training");
        let target = ObjectRef::new(TOPIC_API_VERSION, TOPIC_KIND, None, "model-selected");
        assert_eq!(get(&view, &target), None);
        let spec = NewTopicSpec {
            name: "model-selected".into(),
            partitions: 3,
            replication: 1,
            config: Vec::new(),
        };
        put(&mut view, &target, Some(topic_object(&spec))).unwrap();
        assert_eq!(get(&view, &target), Some(topic_object(&spec)));
        let kafka = view.kafka.as_ref().unwrap();
        let t = kafka.topics.iter().find(|t| t.name == "model-selected");
        assert_eq!(t.map(|t| (t.partitions, t.replication)), Some((3, Some(1))));
        put(&mut view, &target, None).unwrap();
        assert_eq!(get(&view, &target), None);
        // A topic without partitions is refused and changes nothing.
        let bad = serde_json::json!({"spec": {"partitions": 0}});
        let training = ObjectRef::new(TOPIC_API_VERSION, TOPIC_KIND, None, "training-data");
        assert!(put(&mut view, &training, Some(bad)).is_err());
        assert!(get(&view, &training).is_some());
    }

    #[test]
    fn put_replaces_and_removes() {
        let mut view = fixture("training-pipeline");
        let mut object = get(&view, &trainer()).unwrap();
        object["spec"]["replicas"] = json!(7);
        put(&mut view, &trainer(), Some(object)).unwrap();
        assert_eq!(
            get(&view, &trainer()).unwrap()["spec"]["replicas"],
            json!(7)
        );
        put(&mut view, &trainer(), None).unwrap();
        assert_eq!(get(&view, &trainer()), None);
    }
}
