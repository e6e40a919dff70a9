//! A stored baseline: the findings a team already knows about, so the gate
//! fails only on new ones (`doctor --write-baseline FILE`, then `--baseline FILE`).
//! A finding is identified by code, object and field path, not by its message,
//! whose numbers (restart counts, lag) change from run to run.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::report::findings::Finding;
use crate::report::suppress::subject_key;

pub const SCHEMA: &str = "mlopsctl.baseline/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub findings: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub code: String,
    /// `namespace/Kind/name`.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
    /// For people reading the file; not compared.
    #[serde(default)]
    pub message: String,
}

impl Entry {
    fn of(f: &Finding) -> Entry {
        Entry {
            code: f.code.clone(),
            subject: subject_key(&f.subject),
            field_path: f.subject.field_path.clone(),
            message: f.message.clone(),
        }
    }

    fn key(&self) -> (&str, &str, Option<&str>) {
        (&self.code, &self.subject, self.field_path.as_deref())
    }
}

impl Baseline {
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Baseline {
        let set: BTreeSet<Entry> = findings.into_iter().map(Entry::of).collect();
        Baseline {
            schema: SCHEMA.to_string(),
            findings: set.into_iter().collect(),
        }
    }

    pub fn contains(&self, f: &Finding) -> bool {
        let e = Entry::of(f);
        self.findings.iter().any(|b| b.key() == e.key())
    }

    pub fn read(path: &Path) -> Result<Baseline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read baseline {}", path.display()))?;
        let b: Baseline = serde_json::from_str(&text).with_context(|| {
            format!(
                "invalid baseline {}: write one with `doctor --write-baseline`",
                path.display()
            )
        })?;
        if b.schema != SCHEMA {
            bail!(
                "baseline {} has schema {}, expected {SCHEMA}",
                path.display(),
                b.schema
            );
        }
        Ok(b)
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(path, text)
            .with_context(|| format!("cannot write baseline {}", path.display()))
    }
}
