//! The kafka analyzers (`checks/kafka/`) and the domain model they share.

pub mod consumers;
pub mod model;
pub mod reachable;
pub mod topics;
