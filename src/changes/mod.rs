//! Changing a live cluster, the one place mlopsctl writes (DESIGN.md "Fix"):
//! [`client`] (the API requests a fix makes, behind [`client::Cluster`]),
//! [`journal`] (every change as it was and as it became, fsync'd before the
//! next), [`fields`] (the fields a change touched, before and after),
//! [`executor`] (a plan's operations applied with optimistic concurrency,
//! re-planned on conflict), [`undo`] (the fields a fix changed restored,
//! fix by fix, keeping every other change made since).

pub mod client;
pub mod executor;
pub mod fields;
pub mod journal;
pub mod object;
pub mod undo;

#[cfg(test)]
mod memory;
