//! The seldon analyzers (`checks/seldon/`) and the domain model they share.

pub mod dataflow;
pub mod dataflow_scheduler;
pub mod kafka_bootstrap;
pub mod model;
pub mod model_failures;
pub mod model_requirements;
pub mod patches;
pub mod pipelines;
pub mod runtime_missing;
pub mod server_capacity;
pub mod server_scale;
pub mod servers;
pub mod tracing_collector;
