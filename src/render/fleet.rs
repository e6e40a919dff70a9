//! The fleet report: one `doctor` run over several kubeconfig contexts. JSON
//! is schema `mlopsctl.fleet/v1`, the per-cluster reports unchanged
//! (`mlopsctl.report/v1`, each naming its context in `source`); the table is
//! a section per cluster; the metrics are one exposition with a `cluster`
//! label.

use std::io::Write;

use anyhow::Result;
use colored::{ColoredString, Colorize};
use serde::Serialize;

use super::{Style, table};
use crate::report::Report;

pub const SCHEMA: &str = "mlopsctl.fleet/v1";

/// The clusters reached, in the order asked for, and those that were not.
#[derive(Debug, Serialize)]
pub struct Fleet {
    pub schema: &'static str,
    pub reports: Vec<Report>,
    /// The context of each report (`reports[i]`), for the metrics' `cluster`
    /// label; the JSON names it in each report's `source`.
    #[serde(skip)]
    pub contexts: Vec<String>,
    pub unreachable: Vec<Unreachable>,
}

/// A context whose collection failed: not reached, not judged.
#[derive(Debug, Serialize)]
pub struct Unreachable {
    pub context: String,
    pub error: String,
}

pub fn json(fleet: &Fleet, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, fleet)?;
    writeln!(out)?;
    Ok(())
}

/// One exposition for all clusters, each sample labelled with its context.
pub fn prometheus(fleet: &Fleet, out: &mut dyn Write) -> Result<()> {
    let reports: Vec<(&str, &Report)> = fleet
        .contexts
        .iter()
        .map(String::as_str)
        .zip(&fleet.reports)
        .collect();
    let unreachable: Vec<&str> = fleet
        .unreachable
        .iter()
        .map(|u| u.context.as_str())
        .collect();
    super::prometheus::render_fleet(
        &reports,
        &unreachable,
        super::prometheus::Flavor::OpenMetrics,
        out,
    )
}

pub fn table(fleet: &Fleet, style: Style, out: &mut dyn Write) -> Result<()> {
    colored::control::set_override(style.color);
    for report in &fleet.reports {
        writeln!(out, "{}", heading(&report.source))?;
        table::render(report, style, out)?;
        writeln!(out)?;
    }
    for cluster in &fleet.unreachable {
        writeln!(out, "{}", heading(&format!("context {}", cluster.context)))?;
        writeln!(out, "{} {}\n", "unreachable:".red().bold(), cluster.error)?;
    }
    let (findings, errors) = fleet.reports.iter().fold((0, 0), |(f, e), r| {
        (f + r.findings.len(), e + r.summary.errors)
    });
    writeln!(
        out,
        "{} clusters: {} reached, {} unreachable; {findings} findings ({errors} errors)",
        fleet.reports.len() + fleet.unreachable.len(),
        fleet.reports.len(),
        fleet.unreachable.len(),
    )?;
    Ok(())
}

fn heading(title: &str) -> ColoredString {
    format!("== {title} ==").bold()
}
