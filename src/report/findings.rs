//! Findings, fixes and the status of each check: the data every renderer prints.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::ObjectRef;
use crate::plan::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    // Declared most severe first so sorting puts errors on top.
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// Is this at least as severe as `threshold`?
    pub fn at_least(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `fix` may apply a plan on its own, after `--unsafe`, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Cannot break anything that works: applied by `fix`.
    Safe,
    /// Changes behaviour (deletes, restarts, capacity): applied with `--unsafe`.
    Unsafe,
    /// Needs a person (a value only they know, a cluster-admin step): shown only.
    Manual,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
            Applicability::Manual => "manual",
        }
    }
}

/// A suggested fix: what to do, and the command a person would type.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub applicability: Applicability,
    pub description: String,
    /// The equivalent kubectl (or other CLI) command, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubectl: Option<String>,
    /// The changes `mlopsctl fix` makes, as data (none: shown, never applied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<Operation>,
}

/// Like the derived Debug, without `operations` while there are none, so debug
/// snapshots of fixes without operations read as before.
impl fmt::Debug for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Fix");
        d.field("applicability", &self.applicability)
            .field("description", &self.description)
            .field("kubectl", &self.kubectl);
        if !self.operations.is_empty() {
            d.field("operations", &self.operations);
        }
        d.finish()
    }
}

impl Fix {
    pub fn new(applicability: Applicability, description: impl Into<String>) -> Self {
        Fix {
            applicability,
            description: description.into(),
            kubectl: None,
            operations: Vec::new(),
        }
    }

    pub fn manual(description: impl Into<String>) -> Self {
        Self::new(Applicability::Manual, description)
    }

    /// The command a person would type, for a fix without operations; a fix
    /// with operations shows the command of exactly what is sent.
    pub fn with_kubectl(mut self, command: impl Into<String>) -> Self {
        if self.operations.is_empty() {
            self.kubectl = Some(command.into());
        }
        self
    }

    /// Add a change `mlopsctl fix` can make; several are applied in order.
    /// Its kubectl command is then the operations' own (`test`s included,
    /// quoted for the shell), one per line.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        self.operations.push(operation);
        let commands: Vec<String> = self.operations.iter().map(Operation::kubectl).collect();
        self.kubectl = Some(commands.join("\n"));
        self
    }
}

/// The finding another finding follows from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cause {
    pub code: String,
    pub subject: ObjectRef,
}

/// One problem found by one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable across runs: the check's code and the subject
    /// (`WKL004:Deployment/ml/train#spec.template.spec.containers[train]`).
    #[serde(default)]
    pub id: String,
    pub code: String,
    /// The check's name, e.g. `required-env`.
    pub check: String,
    pub severity: Severity,
    pub subject: ObjectRef,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// For a symptom, the id of the root of its incident (the top of its
    /// cause chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

impl Finding {
    /// The stable id of a finding of `code` on `subject`.
    pub fn id_of(code: &str, subject: &ObjectRef) -> String {
        let place = match &subject.namespace {
            Some(ns) => format!("{}/{ns}/{}", subject.kind, subject.name),
            None => format!("{}/{}", subject.kind, subject.name),
        };
        match &subject.field_path {
            Some(field) => format!("{code}:{place}#{field}"),
            None => format!("{code}:{place}"),
        }
    }

    /// The key a cause link points at.
    pub fn as_cause(&self) -> Cause {
        Cause {
            code: self.code.clone(),
            subject: self.subject.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skipped,
    /// The check failed to run (its analyzer panicked): a bug in mlopsctl,
    /// reported with its message; the run exits 2.
    Error,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Skipped => "skipped",
            CheckStatus::Error => "error",
        }
    }
}

/// The reason prefixes of a check that had nothing to judge (no HPAs on the
/// cluster; Seldon not installed): skipped, but not for lack of data, so
/// `--strict` lets them pass.
pub const NOTHING_TO_JUDGE: [&str; 2] = ["not applicable", "not installed"];

/// How one selected check ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub code: String,
    pub name: String,
    pub title: String,
    pub severity: Severity,
    pub status: CheckStatus,
    /// Why the check was skipped, or why it failed to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub findings: usize,
}

impl CheckResult {
    /// Skipped because something could not be read (forbidden, not installed,
    /// not collected), as opposed to having nothing to judge.
    pub fn lacks_data(&self) -> bool {
        self.status == CheckStatus::Skipped
            && !self
                .reason
                .as_deref()
                .is_some_and(|r| NOTHING_TO_JUDGE.iter().any(|p| r.starts_with(p)))
    }
}
