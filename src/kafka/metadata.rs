//! Brokers and topics from one all-topics metadata request.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::metadata::Metadata;
use rdkafka::types::RDKafkaRespErr;

use crate::cluster::{KafkaBroker, KafkaTopic};

/// Partitions of one topic, as the offsets step needs them.
pub(super) struct TopicPartitions {
    pub name: String,
    pub partitions: Vec<i32>,
}

pub(super) struct Layout {
    pub brokers: Vec<KafkaBroker>,
    pub topics: Vec<KafkaTopic>,
    pub partitions: Vec<TopicPartitions>,
}

/// Ask for every topic (`None`): naming one would be a request for that topic,
/// which some brokers answer by creating it.
pub(super) fn read(consumer: &BaseConsumer, timeout: Duration) -> Result<Layout, String> {
    let metadata = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| e.to_string())?;
    Ok(layout(&metadata))
}

fn layout(metadata: &Metadata) -> Layout {
    let mut brokers: Vec<KafkaBroker> = metadata
        .brokers()
        .iter()
        .map(|b| KafkaBroker {
            id: b.id(),
            host: b.host().to_string(),
            port: u16::try_from(b.port()).unwrap_or(0),
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    let mut topics = Vec::new();
    let mut partitions = Vec::new();
    for t in metadata.topics() {
        // A topic being deleted is answered as unknown; other topic-level
        // errors (leader not yet elected, not authorized) are about a topic
        // that exists.
        if t.error() == Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            continue;
        }
        let replication = t.partitions().iter().map(|p| p.replicas().len()).max();
        topics.push(KafkaTopic {
            name: t.name().to_string(),
            partitions: u32::try_from(t.partitions().len()).unwrap_or(u32::MAX),
            replication: replication.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
        });
        let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        partitions.push(TopicPartitions {
            name: t.name().to_string(),
            partitions: ids,
        });
    }
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    partitions.sort_by(|a, b| a.name.cmp(&b.name));
    Layout {
        brokers,
        topics,
        partitions,
    }
}
