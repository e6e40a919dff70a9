//! YAML parsing with the limits mlopsctl needs, and errors that name the line.

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Options for small hand-written files (checks, config, observations):
/// YAML 1.2 booleans only, so `on`/`yes` stay strings.
fn strict_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

/// Options for snapshot files: kubectl dumps of thousands of objects exceed the
/// default event, node and document budgets; the depth and alias limits stay,
/// so a nesting or billion-laughs bomb is still refused.
fn snapshot_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = None;
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    budget.max_documents = usize::MAX;
    budget.max_total_scalar_bytes = usize::MAX;
    budget.max_depth = 128;
    options.budget = Some(budget);
    options.strict_booleans = true;
    options
}

pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_saphyr::from_str_with_options(text, strict_options()).map_err(describe)
}

/// Every document of a (possibly multi-document) YAML stream.
pub fn documents(text: &str) -> Result<Vec<Value>> {
    serde_saphyr::from_multiple_with_options(text, snapshot_options()).map_err(describe)
}

fn describe(err: serde_saphyr::Error) -> anyhow::Error {
    let message = err.without_snippet().to_string();
    match err.location() {
        Some(loc) if !message.contains("line ") => {
            anyhow!("line {}, column {}: {message}", loc.line(), loc.column())
        }
        _ => anyhow!("{message}"),
    }
}
