//! The serving analyzers (`checks/serving/`) and the domain model they share.

pub mod dependency_mismatch;
pub mod log_signatures;
pub mod probe_endpoints;
pub mod servers;
pub mod serving_workers;
