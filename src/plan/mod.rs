//! Fix plans as data (DESIGN.md "Fix"): operations on objects with their
//! preconditions and inputs, planned with ruff-style isolation, applied to
//! objects with `json-patch`, and verified by running the checks again.
//!
//! One file per concern: [`operation`] (the data), [`inputs`] (`--set`),
//! [`planner`] (statuses and isolation), [`apply`] (one operation on one
//! object), [`objects`] (objects of a ClusterView as JSON), [`verify`] (checks
//! again on the changed view), [`restart`] (rollout restart), [`diff`] (YAML
//! diffs for the plan printout).

pub mod apply;
pub mod diff;
pub mod inputs;
pub mod objects;
pub mod operation;
pub mod planner;
pub mod restart;
pub mod verify;

#[cfg(test)]
mod tests;

pub use apply::{ApplyError, apply};
pub use inputs::{Inputs, TOPIC_PARTITIONS, TOPIC_REPLICATION};
pub use operation::{Change, Input, Operation, Precondition, placeholder};
pub use planner::{Managed, ManagedChange, Plan, Planned, Status};
pub use verify::{Verification, apply_to_view, verify};
