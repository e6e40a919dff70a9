//! All output: one renderer per report format, and what `fix` and `undo`
//! print (their plans, diffs, outcomes and verification). Renderers only print
//! what they are given; they decide nothing. Only the table, fix and undo
//! output is styled.

pub mod catalogue;
pub mod fix;
pub mod fleet;
mod github;
mod json;
mod junit;
mod markdown;
pub mod pack;
pub mod prometheus;
mod sarif;
pub mod statistics;
mod table;
pub mod undo;

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;

use crate::catalogue::CheckSpec;
use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A coloured table for people.
    Table,
    /// The versioned JSON report (see the README for the schema).
    Json,
    /// JUnit XML: one test case per check.
    Junit,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
    /// GitHub Actions annotations.
    Github,
    /// Markdown for a PR comment or the job summary.
    Markdown,
    /// OpenMetrics text for Prometheus: a node exporter textfile, or --push-url.
    Prometheus,
}

/// Resolved once from flags, the environment and the terminal; renderers read
/// nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Terminal width for wrapping tables, when known.
    pub width: Option<u16>,
}

/// Colour on or off for the styled output that follows. `colored` keeps a
/// process-wide switch; commands that print through `fix` and `undo` set it
/// once from the resolved style.
pub fn use_color(color: bool) {
    colored::control::set_override(color);
}

/// Render a report. `rules` documents every check (SARIF embeds it).
pub fn render(
    report: &Report,
    rules: &[&CheckSpec],
    format: Format,
    style: Style,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Table => table::render(report, style, out),
        Format::Json => json::render(report, out),
        Format::Junit => junit::render(report, out),
        Format::Sarif => sarif::render(report, rules, out),
        Format::Github => github::render(report, out),
        Format::Markdown => markdown::render(report, out),
        Format::Prometheus => prometheus::render(report, prometheus::Flavor::OpenMetrics, out),
    }
}

/// The one-line summary the table ends with, for `--output-file` runs.
pub fn summary_line(report: &Report) -> String {
    table::summary(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::report::findings::{CheckResult, CheckStatus, Severity};

    /// A run where one check failed to run: every format says so.
    #[test]
    fn a_check_that_failed_to_run_shows_in_every_format() {
        let failed = CheckResult {
            code: "WKL004".into(),
            name: "crash-loop".into(),
            title: "Container crash-looping".into(),
            severity: Severity::Error,
            status: CheckStatus::Error,
            reason: Some("the check failed to run (index out of bounds)".into()),
            findings: 0,
        };
        let report = Report::new("snapshot s".into(), vec![failed], Vec::new(), Vec::new());
        assert_eq!(report.summary.errored, 1);
        let catalogue = Catalogue::load(&[]).unwrap();
        let rules: Vec<&CheckSpec> = catalogue
            .select(&["WKL004".into()], &[])
            .unwrap()
            .into_iter()
            .map(|c| &c.spec)
            .collect();
        let style = Style {
            color: false,
            width: Some(100),
        };
        for format in [
            Format::Table,
            Format::Json,
            Format::Junit,
            Format::Sarif,
            Format::Github,
            Format::Markdown,
        ] {
            let mut out = Vec::new();
            render(&report, &rules, format, style, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains("index out of bounds"),
                "{format:?} does not say it:\n{text}"
            );
            if format == Format::Json {
                assert!(text.contains(r#""status": "error""#), "{text}");
            }
            if format == Format::Sarif {
                assert!(text.contains(r#""executionSuccessful": false"#), "{text}");
            }
        }
    }
}
