//! The cluster analyzers (`checks/cluster/`) and the domain model they share.

pub mod api_latency;
pub mod node_pressure;
