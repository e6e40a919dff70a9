//! Metrics of a run, for Prometheus: the OpenMetrics text format
//! (<https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md>)
//! or Prometheus's older text format 0.0.4, which `promtool check metrics`,
//! the node exporter's textfile collector and the Pushgateway read.
//!
//! A report's metrics are gauges only, so the OpenMetrics output is also valid
//! 0.0.4 text (`# UNIT` and `# EOF` are comments there). Counters (`serve`'s
//! own) are where the two differ: OpenMetrics names the family without
//! `_total` and its sample with it; 0.0.4 names both with it.
//!
//! Labels carry names, codes and classes, never message text or values read
//! from objects (a Secret's data is never in a report anyway), and each value
//! is cut to [`MAX_LABEL_CHARS`], so a scrape stays small and its series few.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

mod text;

pub use text::{Flavor, MAX_LABEL_CHARS};
use text::{Writer, bounded, millis};

use crate::cluster::CoverageResult;
use crate::report::Report;
use crate::report::findings::{CheckResult, CheckStatus, Severity};

/// The report's metrics, then `# EOF` in OpenMetrics.
pub fn render(report: &Report, flavor: Flavor, out: &mut dyn Write) -> Result<()> {
    let mut w = Writer::new(flavor, out);
    report_families(&[(None, report)], &mut w)?;
    w.finish()
}

/// A fleet's metrics: each family once, every sample labelled with its
/// `cluster` (the kubeconfig context), and `mlopsctl_cluster_up` 0 for the
/// contexts that could not be reached.
pub fn render_fleet(
    reports: &[(&str, &Report)],
    unreachable: &[&str],
    flavor: Flavor,
    out: &mut dyn Write,
) -> Result<()> {
    let mut w = Writer::new(flavor, out);
    w.gauge(
        "mlopsctl_cluster_up",
        "1 when the cluster was reached and judged, 0 when it could not be reached.",
        None,
    )?;
    for (cluster, up) in reports
        .iter()
        .map(|(c, _)| (*c, 1.0))
        .chain(unreachable.iter().map(|c| (*c, 0.0)))
    {
        w.cluster = Some(bounded(cluster));
        w.sample("mlopsctl_cluster_up", &[], up)?;
    }
    let labelled: Vec<(Option<&str>, &Report)> =
        reports.iter().map(|(c, r)| (Some(*c), *r)).collect();
    report_families(&labelled, &mut w)?;
    w.finish()
}

/// The reports of one exposition, each with its cluster label (none for a
/// single cluster's).
type Labelled<'a> = [(Option<&'a str>, &'a Report)];

/// Write a family's samples once per report, under its cluster label.
fn each<'r>(
    reports: &Labelled<'r>,
    w: &mut Writer<'_>,
    mut samples: impl FnMut(&'r Report, &mut Writer<'_>) -> Result<()>,
) -> Result<()> {
    for (cluster, report) in reports {
        w.cluster = cluster.map(bounded);
        samples(report, w)?;
    }
    w.cluster = None;
    Ok(())
}

/// What `mlopsctl serve` says about its own runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServeStats {
    /// Runs since serve started, failed ones included.
    pub runs: u64,
    /// Runs that failed or overran their deadline.
    pub failures: u64,
    /// When the last run that gave a report started.
    pub last_success: Option<SystemTime>,
    /// Whether the last run to end failed (the report is then an older one's).
    pub last_failed: bool,
}

/// `serve`'s `/metrics`: the last good report's families (none before the
/// first run), then serve's own.
pub fn render_serve(
    report: Option<&Report>,
    stats: &ServeStats,
    flavor: Flavor,
    out: &mut dyn Write,
) -> Result<()> {
    let mut w = Writer::new(flavor, out);
    if let Some(report) = report {
        report_families(&[(None, report)], &mut w)?;
    }
    w.counter(
        "mlopsctl_serve_runs",
        "Runs since serve started, failed ones included.",
    )?;
    w.counter_sample("mlopsctl_serve_runs", stats.runs)?;
    w.counter(
        "mlopsctl_serve_run_failures",
        "Runs that failed or overran the run deadline; the last good report is kept.",
    )?;
    w.counter_sample("mlopsctl_serve_run_failures", stats.failures)?;
    w.gauge(
        "mlopsctl_serve_last_run_failed",
        "1 when the last run to end failed, so the metrics above are an older run's.",
        None,
    )?;
    w.sample(
        "mlopsctl_serve_last_run_failed",
        &[],
        if stats.last_failed { 1.0 } else { 0.0 },
    )?;
    if let Some(at) = stats.last_success {
        w.gauge(
            "mlopsctl_serve_last_success_timestamp_seconds",
            "When the last run that gave a report started, in seconds since the Unix epoch.",
            Some("seconds"),
        )?;
        w.sample(
            "mlopsctl_serve_last_success_timestamp_seconds",
            &[],
            millis(
                at.duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64(),
            ),
        )?;
    }
    w.finish()
}

/// Every family the reports give.
fn report_families(reports: &Labelled<'_>, w: &mut Writer<'_>) -> Result<()> {
    findings(reports, w)?;
    w.gauge(
        "mlopsctl_findings",
        "Findings of the last run by severity, suppressed ones not counted.",
        None,
    )?;
    each(reports, w, |report, w| {
        for severity in [Severity::Error, Severity::Warning, Severity::Info] {
            let n = report
                .findings
                .iter()
                .filter(|f| f.severity == severity)
                .count();
            w.sample(
                "mlopsctl_findings",
                &[("severity", severity.as_str())],
                n as f64,
            )?;
        }
        Ok(())
    })?;
    w.gauge(
        "mlopsctl_suppressed_findings",
        "Findings of the last run set aside by annotation, config or baseline.",
        None,
    )?;
    each(reports, w, |report, w| {
        w.sample(
            "mlopsctl_suppressed_findings",
            &[],
            report.suppressed.len() as f64,
        )
    })?;
    checks(reports, w)?;
    coverage(reports, w)?;
    if reports.iter().any(|(_, r)| r.timing.is_some()) {
        w.gauge(
            "mlopsctl_last_run_timestamp_seconds",
            "When the last run started, in seconds since the Unix epoch.",
            Some("seconds"),
        )?;
        each(reports, w, |report, w| match report.timing {
            Some(t) => w.sample(
                "mlopsctl_last_run_timestamp_seconds",
                &[],
                millis(
                    t.started
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs_f64(),
                ),
            ),
            None => Ok(()),
        })?;
        w.gauge(
            "mlopsctl_run_duration_seconds",
            "How long the last run took to collect and check.",
            Some("seconds"),
        )?;
        each(reports, w, |report, w| match report.timing {
            Some(t) => w.sample(
                "mlopsctl_run_duration_seconds",
                &[],
                millis(t.duration.as_secs_f64()),
            ),
            None => Ok(()),
        })?;
    }
    Ok(())
}

/// One sample per (check, object, role); its value is how many findings the
/// check made on the object (1, unless e.g. two of its containers failed).
fn findings(reports: &Labelled<'_>, w: &mut Writer<'_>) -> Result<()> {
    w.gauge(
        "mlopsctl_finding",
        "Problems the last run found, per check and object: role is root for \
         the cause of an incident, symptom for what follows from one.",
        None,
    )?;
    each(reports, w, finding_samples)
}

fn finding_samples(report: &Report, w: &mut Writer<'_>) -> Result<()> {
    let mut series: BTreeMap<[String; 7], usize> = BTreeMap::new();
    for f in &report.findings {
        let role = if f.root.is_none() { "root" } else { "symptom" };
        let key = [
            f.code.as_str(),
            f.check.as_str(),
            f.severity.as_str(),
            f.subject.namespace.as_deref().unwrap_or_default(),
            f.subject.kind.as_str(),
            f.subject.name.as_str(),
            role,
        ]
        .map(bounded);
        *series.entry(key).or_default() += 1;
    }
    const NAMES: [&str; 7] = [
        "code",
        "check",
        "severity",
        "namespace",
        "kind",
        "name",
        "role",
    ];
    for (values, n) in &series {
        let labels: Vec<(&str, &str)> = NAMES
            .iter()
            .zip(values)
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        w.sample("mlopsctl_finding", &labels, *n as f64)?;
    }
    Ok(())
}

/// Every status of every check, 1 for the one it ended in (so an alert can
/// tell "passes" from "not reported"), and why the skipped ones were skipped.
fn checks(reports: &Labelled<'_>, w: &mut Writer<'_>) -> Result<()> {
    const STATUSES: [CheckStatus; 4] = [
        CheckStatus::Pass,
        CheckStatus::Fail,
        CheckStatus::Skipped,
        CheckStatus::Error,
    ];
    w.gauge(
        "mlopsctl_check_status",
        "How each check ended in the last run: 1 for its status, 0 for the others. \
         error means the check failed to run (a bug in mlopsctl).",
        None,
    )?;
    each(reports, w, |report, w| {
        for check in &report.checks {
            let (code, name) = (bounded(&check.code), bounded(&check.name));
            for status in STATUSES {
                let value = if check.status == status { 1.0 } else { 0.0 };
                w.sample(
                    "mlopsctl_check_status",
                    &[
                        ("code", &code),
                        ("check", &name),
                        ("status", status.as_str()),
                    ],
                    value,
                )?;
            }
        }
        Ok(())
    })?;
    w.gauge(
        "mlopsctl_check_skipped",
        "Checks the last run skipped, by why: forbidden, not_installed, failed or \
         limited (reading what they need), not_collected, not_applicable (nothing to judge).",
        None,
    )?;
    each(reports, w, |report, w| {
        for check in report
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Skipped)
        {
            w.sample(
                "mlopsctl_check_skipped",
                &[
                    ("code", &bounded(&check.code)),
                    ("reason_class", reason_class(check)),
                ],
                1.0,
            )?;
        }
        Ok(())
    })
}

/// A skipped check's reason, reduced to its class: the reasons start with
/// one (`forbidden: list …`, `not applicable: no HPAs`); the rest is text
/// that must not become a label.
fn reason_class(check: &CheckResult) -> &'static str {
    let reason = check.reason.as_deref().unwrap_or_default();
    CLASSES
        .iter()
        .find(|(prefix, _)| reason.starts_with(prefix))
        .map_or("other", |(_, class)| class)
}

/// Reason prefixes and their classes.
const CLASSES: [(&str, &str); 6] = [
    ("forbidden", "forbidden"),
    ("not installed", "not_installed"),
    ("failed", "failed"),
    ("limited", "limited"),
    ("not collected", "not_collected"),
    ("not applicable", "not_applicable"),
];

/// What could not be read: one sample per resource and namespace.
fn coverage(reports: &Labelled<'_>, w: &mut Writer<'_>) -> Result<()> {
    w.gauge(
        "mlopsctl_coverage_gap",
        "What the last run could not read, by resource, namespace (empty: \
         cluster-wide) and result: forbidden, not_installed, failed, limited.",
        None,
    )?;
    each(reports, w, coverage_samples)
}

fn coverage_samples(report: &Report, w: &mut Writer<'_>) -> Result<()> {
    let mut series: BTreeMap<[String; 4], usize> = BTreeMap::new();
    for c in &report.coverage {
        let result = match c.result {
            CoverageResult::Forbidden => "forbidden",
            CoverageResult::NotInstalled => "not_installed",
            CoverageResult::Failed => "failed",
            CoverageResult::Limited => "limited",
        };
        let key = [
            c.group.as_str(),
            c.resource.as_str(),
            c.namespace.as_deref().unwrap_or_default(),
            result,
        ]
        .map(bounded);
        *series.entry(key).or_default() += 1;
    }
    for (values, n) in &series {
        let labels: Vec<(&str, &str)> = ["group", "resource", "namespace", "result"]
            .into_iter()
            .zip(values.iter().map(String::as_str))
            .collect();
        w.sample("mlopsctl_coverage_gap", &labels, *n as f64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::cluster::{CoverageRecord, ObjectRef};
    use crate::report::Timing;
    use crate::report::findings::Finding;

    fn finding(code: &str, name: &str) -> Finding {
        let subject = ObjectRef::new("apps/v1", "Deployment", Some("ml"), name);
        Finding {
            id: Finding::id_of(code, &subject),
            code: code.into(),
            check: "crash-loop".into(),
            severity: Severity::Error,
            subject,
            message: "the secret value hunter2 leaked into a message".into(),
            evidence: vec!["password=hunter2".into()],
            cause: None,
            root: None,
            fix: None,
        }
    }

    fn check(status: CheckStatus, reason: Option<&str>) -> CheckResult {
        CheckResult {
            code: "WKL004".into(),
            name: "crash-loop".into(),
            title: "Container crash-looping".into(),
            severity: Severity::Error,
            status,
            reason: reason.map(str::to_string),
            findings: 0,
        }
    }

    fn text(report: &Report, flavor: Flavor) -> String {
        let mut out = Vec::new();
        render(report, flavor, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_report_with_fixed_times() {
        let odd = "a\"b\\c\nd".to_string() + &"x".repeat(300);
        let mut report = Report::new(
            "snapshot s".into(),
            vec![check(CheckStatus::Fail, None)],
            vec![finding("WKL004", "train"), finding("WKL004", &odd)],
            vec![CoverageRecord {
                group: "autoscaling".into(),
                version: "v2".into(),
                resource: "horizontalpodautoscalers".into(),
                namespace: None,
                result: CoverageResult::Forbidden,
                message: "user \"x\" cannot list".into(),
            }],
        );
        report.timing = Some(Timing {
            started: SystemTime::UNIX_EPOCH + Duration::from_millis(1_765_000_000_250),
            duration: Duration::from_micros(1_500_400),
        });
        let out = text(&report, Flavor::OpenMetrics);
        assert!(!out.contains("hunter2"), "no message or evidence text");
        assert!(!out.contains("cannot list"), "no API server message");
        assert!(out.ends_with("# EOF\n"));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn skipped_checks_are_reduced_to_a_class() {
        let class = |r: &str| reason_class(&check(CheckStatus::Skipped, Some(r)));
        assert_eq!(class("forbidden: list pods in namespace ml"), "forbidden");
        assert_eq!(class("not installed: no Seldon"), "not_installed");
        assert_eq!(class("not applicable: no HPAs"), "not_applicable");
        assert_eq!(
            class("not collected: no Services were read"),
            "not_collected"
        );
        assert_eq!(class("something new"), "other");
        // Every prefix that means "nothing to judge" has its class.
        for prefix in crate::report::findings::NOTHING_TO_JUDGE {
            assert_ne!(class(prefix), "other", "{prefix}");
        }
    }

    #[test]
    fn serve_counters_are_named_per_flavor() {
        let stats = ServeStats {
            runs: 3,
            failures: 1,
            last_success: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_765_000_000)),
            last_failed: true,
        };
        for (flavor, family) in [
            (Flavor::OpenMetrics, "# TYPE mlopsctl_serve_runs counter"),
            (Flavor::Text, "# TYPE mlopsctl_serve_runs_total counter"),
        ] {
            let mut out = Vec::new();
            render_serve(None, &stats, flavor, &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(out.contains(family), "{out}");
            assert!(out.contains("\nmlopsctl_serve_runs_total 3\n"), "{out}");
            assert!(
                out.contains("\nmlopsctl_serve_run_failures_total 1\n"),
                "{out}"
            );
            assert!(
                out.contains("\nmlopsctl_serve_last_run_failed 1\n"),
                "{out}"
            );
            assert!(
                out.contains("\nmlopsctl_serve_last_success_timestamp_seconds 1765000000\n"),
                "{out}"
            );
            assert_eq!(out.ends_with("# EOF\n"), flavor == Flavor::OpenMetrics);
        }
    }

    #[test]
    fn the_0_0_4_text_has_no_openmetrics_lines() {
        let mut report = Report::new("snapshot s".into(), Vec::new(), Vec::new(), Vec::new());
        report.timing = Some(Timing {
            started: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
        });
        let out = text(&report, Flavor::Text);
        assert!(!out.contains("# UNIT") && !out.contains("# EOF"), "{out}");
    }
}
