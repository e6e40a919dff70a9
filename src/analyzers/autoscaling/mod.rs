//! The autoscaling analyzers (`checks/autoscaling/`) and the domain model they share.

pub mod autoscaler_conflicts;
pub mod autoscaler_status;
pub mod autoscaler_targets;
pub mod hpa_requests;
pub mod inline_credentials;
pub mod keda_triggers;
pub mod metrics_api;
pub mod scaling;
pub mod scaling_limits;
pub mod triggers;
