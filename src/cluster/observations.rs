//! What was observed besides Kubernetes objects: Kafka, HTTP probes, and what
//! could not be collected. These are the `kafka.yaml`, `probes.yaml` and
//! `coverage.yaml` files of a snapshot; the schemas are documented in the README.

use serde::{Deserialize, Serialize};

/// Observed Kafka state (`kafka.yaml`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaObservation {
    /// The bootstrap address that was used.
    pub bootstrap: String,
    /// Whether a metadata request succeeded.
    #[serde(default = "yes")]
    pub reachable: bool,
    /// The error when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub brokers: Vec<KafkaBroker>,
    #[serde(default)]
    pub topics: Vec<KafkaTopic>,
    #[serde(default)]
    pub groups: Vec<KafkaGroup>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaBroker {
    pub id: i32,
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaTopic {
    pub name: String,
    pub partitions: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaGroup {
    pub name: String,
    pub state: GroupState,
    pub members: u32,
    #[serde(default)]
    pub offsets: Vec<KafkaOffset>,
}

/// Consumer group states as Kafka's DescribeGroups reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupState {
    Stable,
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Dead,
    Unknown,
}

/// A committed offset and the partition's high watermark; lag is their difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaOffset {
    pub topic: String,
    pub partition: i32,
    /// `None` when the group has never committed on this partition.
    pub committed: Option<i64>,
    pub high: i64,
}

impl KafkaOffset {
    /// Messages not yet consumed: everything when nothing was committed.
    pub fn lag(&self) -> i64 {
        (self.high - self.committed.unwrap_or(0)).max(0)
    }
}

/// One HTTP probe made through the API server proxy (`probes.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeResult {
    pub namespace: String,
    /// The pod probed; exactly one of `pod` and `service` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub port: u16,
    pub path: String,
    /// HTTP status, `None` when no response came back.
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the response body, for interpretation (e.g. MLServer's 400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// The coverage resource of health endpoints the API server did not proxy to.
pub const PROXY_RESOURCE: &str = "pods/proxy";

/// Something that could not be collected (`coverage.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageRecord {
    pub group: String,
    pub version: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub result: CoverageResult,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CoverageResult {
    Forbidden,
    NotInstalled,
    Failed,
    /// Read in part, within a budget (`pods/log`: at most so many logs a run);
    /// the message says how much was left out.
    Limited,
}

impl CoverageResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverageResult::Forbidden => "forbidden",
            CoverageResult::NotInstalled => "not installed",
            CoverageResult::Failed => "failed",
            CoverageResult::Limited => "limited",
        }
    }
}

impl CoverageRecord {
    /// "forbidden: list horizontalpodautoscalers in namespace ml",
    /// "failed: get pods/proxy in namespace ml"; a limited read says how much
    /// was left out ("limited: get pods/log cluster-wide (37 of 137 …)").
    pub fn describe(&self) -> String {
        let scope = self.namespace.as_deref().map_or_else(
            || "cluster-wide".to_string(),
            |ns| format!("in namespace {ns}"),
        );
        // A subresource (`pods/proxy`, `pods/log`) is read with get, a kind listed.
        let verb = if self.resource.contains('/') {
            "get"
        } else {
            "list"
        };
        let what = format!("{}: {verb} {} {scope}", self.result.as_str(), self.resource);
        match (self.result, self.message.as_str()) {
            (CoverageResult::Limited, message) if !message.is_empty() => {
                format!("{what} ({message})")
            }
            _ => what,
        }
    }

    /// [`describe`](Self::describe) with the API server's own message.
    pub fn detail(&self) -> String {
        match self.message.as_str() {
            _ if self.result == CoverageResult::Limited => self.describe(),
            "" => self.describe(),
            message => format!("{} ({message})", self.describe()),
        }
    }
}
