//! What the Kafka checks, the fix plans and the Kafka client share: pure
//! data, no I/O.

use serde::{Deserialize, Serialize};

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication: i32,
    /// Topic configs, e.g. `("retention.ms", "604800000")`.
    pub config: Vec<(String, String)>,
}
