//! The live Kafka reader: what `kafka.yaml` records, read from a broker with
//! rdkafka.
//!
//! [`observe`] makes one all-topics metadata request through a *consumer*
//! handle with `allow.auto.create.topics=false` (a producer handle's metadata
//! request creates missing topics on brokers that allow it), lists and
//! describes consumer groups ([`GroupAdmin`]), and reads each group's
//! committed offsets and the partitions' high watermarks. Every call is bounded
//! by the timeout given: an unreachable or silent broker yields
//! `reachable: false` with the error, never a hang.
//!
//! rdkafka's calls block the calling thread: call [`observe`] from a plain
//! thread or `tokio::task::spawn_blocking`.
//!
//! Topic creation for fixes sits behind [`TopicAdmin`].

mod config;
mod groups;
mod metadata;
mod observe;
mod topics;

#[cfg(test)]
mod tests;

pub use config::client_config;
pub use groups::{GroupAdmin, GroupInfo, RdkafkaGroupAdmin};
pub use observe::{observe, observe_with};
pub use topics::{NewTopicSpec, RdkafkaTopicAdmin, TopicAdmin, TopicOutcome, TopicStatus};

#[cfg(test)]
pub(crate) use groups::doubles::StaticGroups;
#[cfg(test)]
pub(crate) use topics::doubles::FakeTopics;
