//! One renderer per output format. Renderers only print what the Report holds;
//! they decide nothing. Only the table renderer styles its output.

mod github;
mod json;
mod junit;
mod markdown;
mod sarif;
mod table;

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
}

/// Resolved once from flags, the environment and the terminal; renderers read
/// nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Terminal width for wrapping tables, when known.
    pub width: Option<u16>,
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
    }
}

/// The one-line summary the table ends with, for `--output-file` runs.
pub fn summary_line(report: &Report) -> String {
    table::summary(report)
}
