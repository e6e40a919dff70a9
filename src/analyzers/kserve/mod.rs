//! The KServe analyzers (`checks/kserve/`) and the domain model they share.

pub mod isvc_ready;
pub mod knative;
pub mod model;
pub mod runtime_support;
