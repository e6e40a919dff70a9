//! The security analyzers (`checks/security/`) and the domain model they share.

pub mod workload_credentials;
