//! KafkaTopics no topic operator will ever reconcile. Strimzi's topic
//! operator watches the KafkaTopics of its Kafka's namespace that carry
//! `strimzi.io/cluster: <that Kafka>`; a KafkaTopic without the label, with
//! a name that is no Kafka there, or in another namespace than its Kafka is
//! never picked up. It gets no status at all, so `kubectl get kafkatopic`
//! shows an empty READY column and nothing says why; the topic never exists
//! and its clients fail with UNKNOWN_TOPIC_OR_PARTITION.

use serde_json::json;

use crate::analyzers::Draft;
use crate::analyzers::seldon::model as seldon;
use crate::analyzers::seldon::patches::patch_command;
use crate::analyzers::strimzi::model::{self, CLUSTER_LABEL};
use crate::analyzers::text::closest;
use crate::cluster::{ClusterView, DynamicObject, Kind};
use crate::report::findings::Fix;

/// A finding for a KafkaTopic with no status whose label leads to no Kafka
/// of its namespace; `None` when it does, or when no Kafka was read (a run
/// limited to other namespaces cannot tell).
pub fn judge(view: &ClusterView, topic: &DynamicObject) -> Option<Draft> {
    if topic.data.pointer("/status").is_some_and(|s| !s.is_null())
        || model::kafka_of(view, topic).is_some()
    {
        return None;
    }
    let kafkas: Vec<&DynamicObject> = view.custom(Kind::StrimziKafka).collect();
    if kafkas.is_empty() {
        return None;
    }
    let ns = topic.namespace();
    let here: Vec<&str> = kafkas
        .iter()
        .filter(|k| k.namespace() == ns)
        .map(|k| k.name())
        .collect();
    let subject = seldon::object_ref(Kind::StrimziKafkaTopic, topic);
    let name = topic.name();
    let label = model::cluster_label(topic);
    let elsewhere = label.and_then(|l| kafkas.iter().find(|k| k.name() == l));
    let (message, suggestion) = match (label, elsewhere) {
        (None, _) => (
            format!(
                "KafkaTopic {ns}/{name} has no {CLUSTER_LABEL} label: no topic operator picks it up, so topic {} is never created",
                model::topic_name(topic)
            ),
            (here.len() == 1).then(|| here[0]),
        ),
        (Some(l), Some(k)) => (
            format!(
                "KafkaTopic {ns}/{name} names Kafka {l}, which is in namespace {}: its topic operator watches only that namespace, so topic {} is never created",
                k.namespace(),
                model::topic_name(topic)
            ),
            None,
        ),
        (Some(l), None) => (
            format!(
                "KafkaTopic {ns}/{name} names Kafka {l} in {CLUSTER_LABEL}, but namespace {ns} has no Kafka {l}: no topic operator picks it up, so topic {} is never created",
                model::topic_name(topic)
            ),
            closest(l, &here).or_else(|| (here.len() == 1).then(|| here[0])),
        ),
    };
    let mut d = Draft::new(
        subject
            .clone()
            .with_field(format!("metadata.labels[{CLUSTER_LABEL}]")),
        message,
    )
    .evidence("status: none (no operator has reconciled it)".to_string())
    .evidence(format!(
        "Kafkas in namespace {ns}: {}",
        if here.is_empty() {
            "none".to_string()
        } else {
            here.join(", ")
        }
    ));
    if let Some(k) = elsewhere {
        d = d.evidence(format!(
            "Kafka {} is in namespace {}",
            k.name(),
            k.namespace()
        ));
    }
    let fix = match (suggestion, elsewhere) {
        (Some(k), _) => Fix::manual(format!(
            "Label KafkaTopic {name} with {CLUSTER_LABEL}={k}, the Kafka of its namespace; its topic operator then creates the topic."
        ))
        .with_kubectl(patch_command(
            &subject,
            "merge",
            &json!({"metadata": {"labels": {CLUSTER_LABEL: k}}}),
        )),
        (None, Some(k)) => Fix::manual(format!(
            "Create the KafkaTopic in namespace {} beside Kafka {} (and delete this one), or deploy a topic operator that watches {ns}.",
            k.namespace(),
            k.name()
        )),
        (None, None) => Fix::manual(format!(
            "Set {CLUSTER_LABEL} on KafkaTopic {name} to the Kafka it belongs to, in the namespace of that Kafka."
        )),
    };
    Some(d.fix(fix))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    fn with_topic(ns: &str, labels: &str) -> crate::cluster::ClusterView {
        let mut view = fixture("healthy-strimzi");
        let text = format!(
            "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata: {{name: t, namespace: {ns}, labels: {labels}}}\nspec: {{partitions: 1}}\n"
        );
        crate::snapshot::add_file(&mut view, std::path::Path::new("t.yaml"), text.as_bytes())
            .unwrap();
        view.finish();
        view
    }

    #[test]
    fn a_topic_no_operator_watches() {
        let unlabelled = run("strimzi-topic-ready", "{}", &with_topic("streaming", "{}"));
        assert_eq!(
            unlabelled[0].message,
            "KafkaTopic streaming/t has no strimzi.io/cluster label: no topic operator picks it up, so topic t is never created"
        );
        assert!(unlabelled[0].fix.as_ref().unwrap().kubectl.is_some());
        let elsewhere = run(
            "strimzi-topic-ready",
            "{}",
            &with_topic("apps", "{strimzi.io/cluster: events}"),
        );
        assert_eq!(
            elsewhere[0].message,
            "KafkaTopic apps/t names Kafka events, which is in namespace streaming: its topic operator watches only that namespace, so topic t is never created"
        );
        // Labelled for the Kafka of its namespace: merely not reconciled yet.
        let fine = with_topic("streaming", "{strimzi.io/cluster: events}");
        assert!(run("strimzi-topic-ready", "{}", &fine).is_empty());
    }
}
