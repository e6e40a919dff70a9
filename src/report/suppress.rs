//! Findings a team has chosen to accept: by annotation on the object, by the
//! config file, or by a stored baseline. Suppressed findings stay in the JSON
//! report (with who suppressed them) but no longer fail the gate.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterView, ObjectRef};
use crate::config::Suppression;
use crate::report::Report;
use crate::report::baseline::Baseline;
use crate::report::findings::Finding;

/// `mlopsctl.io/ignore: "WKL006,SEC002"` (codes or prefixes, or `all`).
pub const IGNORE_ANNOTATION: &str = "mlopsctl.io/ignore";
/// Why, shown in the report.
pub const REASON_ANNOTATION: &str = "mlopsctl.io/ignore-reason";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    pub finding: Finding,
    /// `annotation mlopsctl.io/ignore (reason)`, `config .mlopsctl.yaml (reason)`, `baseline FILE`.
    pub by: String,
}

/// Move suppressed findings out of the report's findings, and note
/// suppressions that matched nothing or have expired.
pub fn apply(
    report: &mut Report,
    view: &ClusterView,
    rules: &[Suppression],
    origin: &str,
    today: &str,
    baseline: Option<(&Baseline, &str)>,
) {
    let mut used = BTreeSet::new();
    let mut kept = Vec::new();
    for f in std::mem::take(&mut report.findings) {
        let by = by_annotation(view, &f)
            .or_else(|| {
                rules
                    .iter()
                    .enumerate()
                    .find(|(_, r)| !r.expired(today) && r.matches(&f.code, &f.subject))
                    .map(|(i, r)| {
                        used.insert(i);
                        format!("config {origin} ({})", r.reason)
                    })
            })
            .or_else(|| {
                baseline
                    .filter(|(b, _)| b.contains(&f))
                    .map(|(_, path)| format!("baseline {path}"))
            });
        match by {
            Some(by) => report.suppressed.push(Suppressed { finding: f, by }),
            None => kept.push(f),
        }
    }
    report.findings = kept;
    for (i, r) in rules.iter().enumerate() {
        if r.expired(today) {
            report.notes.push(format!(
                "suppression {} in {origin} expired on {}; its findings are reported again",
                r.describe(),
                r.expires.as_deref().unwrap_or_default()
            ));
        } else if !used.contains(&i) {
            report.notes.push(format!(
                "suppression {} in {origin} matched nothing: remove it",
                r.describe()
            ));
        }
    }
    report.recount();
}

/// An ignore annotation on the subject, or on the workload that owns it.
fn by_annotation(view: &ClusterView, f: &Finding) -> Option<String> {
    let meta = view.object_meta(&f.subject)?;
    let annotations = meta.annotations.as_ref()?;
    let codes = annotations.get(IGNORE_ANNOTATION)?;
    let hit = codes
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .any(|c| c.eq_ignore_ascii_case("all") || f.code.starts_with(&c.to_ascii_uppercase()));
    hit.then(|| match annotations.get(REASON_ANNOTATION) {
        Some(reason) => format!("annotation {IGNORE_ANNOTATION} ({reason})"),
        None => format!("annotation {IGNORE_ANNOTATION}"),
    })
}

/// The object a reference names, without its field path.
pub fn subject_key(r: &ObjectRef) -> String {
    format!(
        "{}/{}/{}",
        r.namespace.as_deref().unwrap_or_default(),
        r.kind,
        r.name
    )
}
