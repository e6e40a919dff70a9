//! The YAML format of a check file.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::findings::Severity;

/// ```yaml
/// code: WKL001
/// name: required-env-missing
/// title: Required environment variable missing
/// severity: error
/// analyzer: required-env
/// params: { ... }            # the analyzer's parameters
/// docs:
///   what: What the check looks at.
///   why: Why it matters.
///   fix: How to fix it.
///   safety: What `mlopsctl fix` does, and whether it is safe.
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub code: String,
    pub name: String,
    pub title: String,
    pub severity: Severity,
    pub analyzer: String,
    #[serde(default)]
    pub params: Value,
    /// Its findings describe an effect (a crash loop, an unavailable rollout,
    /// a log line, an endpoint not ready): one on an object that another
    /// object renders (a Deployment of an operator's custom resource, KEDA's
    /// HPA) hangs under that object's finding, the likelier root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub symptom: bool,
    pub docs: Docs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    pub what: String,
    pub why: String,
    pub fix: String,
    pub safety: String,
}

impl CheckSpec {
    /// Rules serde cannot express; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let letters = self
            .code
            .chars()
            .take_while(char::is_ascii_uppercase)
            .count();
        let digits = &self.code[letters..];
        if !(2..=5).contains(&letters)
            || digits.len() != 3
            || !digits.chars().all(|c| c.is_ascii_digit())
        {
            return Err(format!(
                "field `code`: `{}` is not a check code: use 2-5 capital letters and 3 digits, e.g. WKL001",
                self.code
            ));
        }
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(format!(
                "field `name`: `{}` must be lowercase words joined by '-'",
                self.name
            ));
        }
        for (field, text) in [
            ("title", &self.title),
            ("docs.what", &self.docs.what),
            ("docs.why", &self.docs.why),
            ("docs.fix", &self.docs.fix),
            ("docs.safety", &self.docs.safety),
        ] {
            if text.trim().is_empty() {
                return Err(format!("field `{field}` must not be empty"));
            }
        }
        Ok(())
    }
}
