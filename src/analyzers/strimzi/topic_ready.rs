//! `strimzi-topic-ready`: KafkaTopics the Strimzi topic operator could not
//! reconcile (`Ready=False`), with the operator's reason and message, the
//! topic's spec and the brokers its Kafka has; and KafkaTopics no operator
//! will ever reconcile (`orphan_topic.rs`).

use serde::Deserialize;
use serde_json::json;

use crate::analyzers::seldon::model as seldon;
use crate::analyzers::seldon::patches::patch_command;
use crate::analyzers::strimzi::model::{self, Condition};
use crate::analyzers::strimzi::orphan_topic;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "strimzi-topic-ready",
    summary: "Strimzi KafkaTopics the topic operator could not reconcile (Ready=False)",
    needs: &[Kind::StrimziKafkaTopic],
    optional: &[Kind::StrimziKafka, Kind::StrimziKafkaNodePool],
    data: &[Data::Kafka],
    build: build::<TopicReady>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopicReady {}

/// Kafka's message when a topic asks for more replicas than there are brokers.
const TOO_FEW_BROKERS: &str = "larger than available brokers";
/// The topic operator's `NotSupported` messages.
const PARTITION_DECREASE: &str = "Decreasing partitions not supported";
const RF_CHANGE: &str = "Replication factor change not supported";

impl Analyzer for TopicReady {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::StrimziKafkaTopic).next().is_none() {
            return Err("not applicable: no Strimzi KafkaTopics".into());
        }
        let mut drafts = Vec::new();
        for topic in view.custom(Kind::StrimziKafkaTopic) {
            let Some(ready) = model::ready(topic) else {
                // Never reconciled: new, or no operator will ever see it.
                drafts.extend(orphan_topic::judge(view, topic));
                continue;
            };
            if ready.status != "False" || topic.metadata.deletion_timestamp.is_some() {
                continue;
            }
            drafts.push(judge(view, topic, &ready));
        }
        Ok(drafts)
    }
}

/// A topic's partitions and replication factor, as the brokers report them.
type Layout = (u32, Option<u32>);

/// The observed topic's partitions and replication, when mlopsctl observed
/// the brokers of this topic's Kafka.
fn observed(
    view: &ClusterView,
    kafka: Option<&DynamicObject>,
    name: &str,
) -> Option<(String, Option<Layout>)> {
    let k = view.kafka.as_ref().filter(|k| k.reachable)?;
    let kafka = kafka?;
    model::listener_for(view, kafka, &k.bootstrap, kafka.namespace())?;
    let topic = k
        .topics
        .iter()
        .find(|t| t.name == name)
        .map(|t| (t.partitions, t.replication));
    Some((k.bootstrap.clone(), topic))
}

fn judge(view: &ClusterView, topic: &DynamicObject, ready: &Condition) -> Draft {
    let ns = topic.namespace();
    let name = model::topic_name(topic);
    let subject = seldon::object_ref(Kind::StrimziKafkaTopic, topic);
    let partitions = model::spec_int(topic, "partitions");
    let replicas = model::spec_int(topic, "replicas");
    let cluster = model::cluster_label(topic).unwrap_or_default();
    let kafka = model::kafka_of(view, topic);
    let brokers = kafka.and_then(|k| model::brokers(view, k));
    let seen = observed(view, kafka, name);

    let mut evidence = vec![ready.describe()];
    let show = |v: Option<i64>| v.map_or("the broker default".to_string(), |n| n.to_string());
    evidence.push(format!(
        "spec: topic {name}, partitions {}, replicas {}",
        show(partitions),
        show(replicas)
    ));
    match (&brokers, kafka) {
        (Some((n, from)), _) => evidence.push(format!(
            "Kafka {ns}/{cluster} has {n} broker{} ({from})",
            if *n == 1 { "" } else { "s" }
        )),
        (None, Some(_)) => {}
        (None, None) => evidence.push(format!(
            "Kafka {ns}/{cluster} (label {}) is not in the view",
            model::CLUSTER_LABEL
        )),
    }
    if let Some((bootstrap, t)) = &seen {
        evidence.push(match t {
            Some((p, Some(r))) => format!(
                "Kafka at {bootstrap} has topic {name} with {p} partitions, replication {r}"
            ),
            Some((p, None)) => format!("Kafka at {bootstrap} has topic {name} with {p} partitions"),
            None => format!("Kafka at {bootstrap} has no topic {name}"),
        });
    }

    let said = if ready.message.is_empty() {
        ready.reason.clone()
    } else {
        format!("{}: {}", ready.reason, ready.message)
    };
    let broker_count = brokers.as_ref().map(|(n, _)| *n);
    let too_few = ready.message.contains(TOO_FEW_BROKERS)
        || matches!((replicas, broker_count), (Some(r), Some(b)) if r > b);

    let (subject, message, fix) = if too_few {
        let message = match (replicas, broker_count) {
            (Some(r), Some(b)) => format!(
                "KafkaTopic {ns}/{} asks for replication factor {r} but Kafka {cluster} has {b} broker{}: the topic operator cannot create topic {name} ({said})",
                topic.name(),
                if b == 1 { "" } else { "s" }
            ),
            _ => format!(
                "KafkaTopic {ns}/{} asks for more replicas than Kafka {cluster} has brokers: the topic operator cannot create topic {name} ({said})",
                topic.name()
            ),
        };
        let mut fix = Fix::manual(format!(
            "Either lower spec.replicas of KafkaTopic {} to at most the broker count{} (fewer copies of each partition), or add brokers to Kafka {cluster} (spec.replicas of a KafkaNodePool with the broker role). The topic operator retries on its next reconciliation.",
            topic.name(),
            broker_count.map_or(String::new(), |b| format!(", {b}"))
        ));
        if let Some(b) = broker_count.filter(|b| *b > 0) {
            fix = fix.with_kubectl(patch_command(
                &subject,
                "merge",
                &json!({"spec": {"replicas": b}}),
            ));
        }
        (subject.with_field("spec.replicas"), message, fix)
    } else if ready.message.contains(PARTITION_DECREASE) {
        let now = seen.as_ref().and_then(|(_, t)| t.map(|(p, _)| p));
        let message = format!(
            "KafkaTopic {ns}/{} lowers spec.partitions{} below the partition count topic {name} has: Kafka cannot remove partitions, so the topic operator stopped reconciling it ({said})",
            topic.name(),
            partitions.map_or(String::new(), |p| format!(" to {p}")),
        );
        let mut fix = Fix::manual(format!(
            "Set spec.partitions of KafkaTopic {} back to the topic's partition count{}; a topic with fewer partitions can only be a new topic (another spec.topicName), with its data moved.",
            topic.name(),
            now.map_or(String::new(), |p| format!(" ({p})"))
        ));
        if let Some(p) = now {
            fix = fix.with_kubectl(patch_command(
                &subject,
                "merge",
                &json!({"spec": {"partitions": p}}),
            ));
        }
        (subject.with_field("spec.partitions"), message, fix)
    } else if ready.message.contains(RF_CHANGE) {
        let message = format!(
            "KafkaTopic {ns}/{} changes the replication factor of topic {name}, which the topic operator does only through Cruise Control ({said})",
            topic.name()
        );
        let fix = Fix::manual(format!(
            "Enable Cruise Control in Kafka {cluster} (spec.cruiseControl) so the topic operator can change the replication factor, or set spec.replicas of KafkaTopic {} back to the topic's current replication factor.",
            topic.name()
        ));
        (subject.with_field("spec.replicas"), message, fix)
    } else {
        let message = format!(
            "KafkaTopic {ns}/{} is not ready: the topic operator could not reconcile topic {name} ({said})",
            topic.name()
        );
        let fix = Fix::manual(match ready.reason.as_str() {
            "ResourceConflict" => format!(
                "Another KafkaTopic manages topic {name} (the message names the oldest): delete this one, or give it another spec.topicName."
            ),
            _ => format!(
                "Read the reason and message, then the logs of container topic-operator in Deployment {cluster}-entity-operator in {ns}; fix the spec and the operator retries on its next reconciliation."
            ),
        });
        (subject, message, fix)
    };
    let mut d = Draft::new(subject, message);
    d.evidence = evidence;
    if let Some(k) = kafka {
        d = d.caused_by(
            "strimzi-kafka-ready",
            ObjectRef::of(Kind::StrimziKafka, &k.metadata),
        );
    }
    d.fix(fix)
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn names_the_reason_the_spec_and_the_brokers() {
        let drafts = run("strimzi-topic-ready", "{}", &fixture("strimzi-broken"));
        assert_eq!(drafts.len(), 3);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("strimzi-topic-ready", "{}", &fixture("healthy-strimzi")).is_empty());
    }
}
