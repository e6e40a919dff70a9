//! How to reach a cluster and its Kafka, resolved once from the command line
//! (`cli::ClusterArgs::settings`): the collector and the write path take
//! these, never the CLI's own types.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `--kubeconfig`; else `$KUBECONFIG`, `~/.kube/config`, in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`; else the kubeconfig's current context.
    pub context: Option<String>,
    /// One API request at most.
    pub request_timeout: Duration,
    /// Connecting to the API server at most.
    pub connect_timeout: Duration,
    /// The whole collection at most.
    pub timeout: Duration,
    /// Objects per page of a List.
    pub chunk_size: u32,
    /// Where to read Kafka, when given.
    pub kafka_bootstrap: Option<String>,
    /// librdkafka properties for reaching Kafka (SASL/SSL).
    pub kafka_config: Vec<(String, String)>,
}
