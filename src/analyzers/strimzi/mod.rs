//! The Strimzi analyzers (`checks/strimzi/`, `kafka.strimzi.io`) and the
//! model they share with the Kafka checks.

pub mod bootstrap;
pub mod kafka_ready;
pub mod model;
pub mod orphan_topic;
pub mod security;
pub mod topic_ready;
