//! Changing a live cluster, the one place mlopsctl writes (DESIGN.md "Fix"):
//! [`client`] (the API requests a fix makes, behind [`client::Cluster`]),
//! [`journal`] (every change as it was and as it became, fsync'd before the
//! next), [`executor`] (a plan's operations applied with optimistic
//! concurrency, re-planned on conflict), [`undo`] (journaled objects
//! restored, refusing where they changed since).

pub mod client;
pub mod executor;
pub mod journal;
pub mod undo;

#[cfg(test)]
mod memory;
