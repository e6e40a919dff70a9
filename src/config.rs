//! `.mlopsctl.yaml`: a team's defaults for doctor, found upward from the
//! working directory or given with `--config`.
//!
//! ```yaml
//! namespace: flts                  # default scope when neither -n nor -A is given
//! select: [WKL, SEL]               # default --select
//! ignore: [SRV002]                 # always ignored (added to --ignore)
//! severity: {WKL006: info}         # severity overrides per code
//! params:                          # parameter overrides per code (merged into the check's)
//!   WKL004: {minRestarts: 5}
//! suppressions:
//!   - codes: [WKL007]              # codes or prefixes; empty means every code
//!     namespace: "legacy-*"        # * and ? wildcards; omitted means any
//!     kind: Deployment
//!     name: "old-*"
//!     reason: being decommissioned # required: say why
//!     expires: 2026-12-31          # optional: stops applying after this date
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use wildmatch::WildMatch;

use crate::cluster::ObjectRef;
use crate::report::findings::Severity;

pub const FILE_NAME: &str = ".mlopsctl.yaml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub select: Vec<String>,
    #[serde(default)]
    pub ignore: Vec<String>,
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    #[serde(default)]
    pub suppressions: Vec<Suppression>,
    /// Where it was read from, for messages.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Suppression {
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub reason: String,
    /// `YYYY-MM-DD`: the last day the suppression applies.
    #[serde(default)]
    pub expires: Option<String>,
}

impl Suppression {
    pub fn matches(&self, code: &str, subject: &ObjectRef) -> bool {
        let glob = |pattern: &Option<String>, value: &str| {
            pattern
                .as_ref()
                .is_none_or(|p| WildMatch::new(p).matches(value))
        };
        (self.codes.is_empty()
            || self
                .codes
                .iter()
                .any(|c| code.starts_with(&c.to_ascii_uppercase())))
            && glob(
                &self.namespace,
                subject.namespace.as_deref().unwrap_or_default(),
            )
            && self
                .kind
                .as_ref()
                .is_none_or(|k| k.eq_ignore_ascii_case(&subject.kind))
            && glob(&self.name, &subject.name)
    }

    /// Whether the suppression has expired on `today` (`YYYY-MM-DD`).
    pub fn expired(&self, today: &str) -> bool {
        self.expires.as_deref().is_some_and(|e| e < today)
    }

    /// `WKL007 Deployment legacy-*/old-*` for messages.
    pub fn describe(&self) -> String {
        let codes = if self.codes.is_empty() {
            "all codes".to_string()
        } else {
            self.codes.join(",")
        };
        format!(
            "{codes} on {} {}/{}",
            self.kind.as_deref().unwrap_or("*"),
            self.namespace.as_deref().unwrap_or("*"),
            self.name.as_deref().unwrap_or("*")
        )
    }
}

impl Config {
    /// `--config PATH`, or the first `.mlopsctl.yaml` from `cwd` upward, or defaults.
    pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Config> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => cwd
                .ancestors()
                .map(|d| d.join(FILE_NAME))
                .find(|p| p.is_file()),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config: Config = crate::yaml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        for s in &config.suppressions {
            if let Some(e) = &s.expires
                && !is_date(e)
            {
                bail!(
                    "invalid config file {}: suppression `{}`: expires `{e}` is not a YYYY-MM-DD date",
                    path.display(),
                    s.describe()
                );
            }
            if s.reason.trim().is_empty() {
                bail!(
                    "invalid config file {}: suppression `{}` needs a reason",
                    path.display(),
                    s.describe()
                );
            }
        }
        config.path = Some(path);
        Ok(config)
    }

    /// The file name for messages.
    pub fn origin(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| FILE_NAME.to_string(), |p| p.display().to_string())
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppressions_match_by_code_prefix_and_globs() {
        let s = Suppression {
            codes: vec!["wkl00".into()],
            namespace: Some("legacy-*".into()),
            kind: Some("deployment".into()),
            name: None,
            reason: "r".into(),
            expires: Some("2026-01-31".into()),
        };
        let subject = ObjectRef::new("apps/v1", "Deployment", Some("legacy-a"), "x");
        assert!(s.matches("WKL007", &subject));
        assert!(!s.matches("SEL001", &subject));
        assert!(!s.matches(
            "WKL007",
            &ObjectRef::new("apps/v1", "Deployment", Some("prod"), "x")
        ));
        assert!(!s.expired("2026-01-31"));
        assert!(s.expired("2026-02-01"));
    }

    #[test]
    fn found_upward_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "namespace: ml\nignore: [SRV]\n").unwrap();
        let c = Config::load(None, &nested).unwrap();
        assert_eq!(c.namespace.as_deref(), Some("ml"));
        std::fs::write(
            dir.path().join(FILE_NAME),
            "suppressions: [{codes: [X], reason: r, expires: soon}]\n",
        )
        .unwrap();
        let err = format!("{:#}", Config::load(None, &nested).unwrap_err());
        assert!(err.contains("not a YYYY-MM-DD date"), "{err}");
        std::fs::write(dir.path().join(FILE_NAME), "namspace: ml\n").unwrap();
        let err = format!("{:#}", Config::load(None, &nested).unwrap_err());
        assert!(err.contains("namspace"), "{err}");
    }
}
