//! The workloads analyzers (`checks/workloads/`) and the domain model they share.

pub mod container_failures;
pub mod env;
pub mod env_refs;
pub mod probe_fit;
pub mod provided_values;
pub mod readiness_probe;
pub mod required_env;
pub mod rollout_status;
pub mod selector_drift;
pub mod service_refs;
pub mod unschedulable;
