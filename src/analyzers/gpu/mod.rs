//! The GPU analyzers (`checks/gpu/`) and the domain model they share.

pub mod model;
pub mod plugin;
pub mod scheduling;
pub mod taken;
