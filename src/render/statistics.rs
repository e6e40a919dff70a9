//! `doctor --statistics`: findings per check, most frequent first, each
//! split into roots (incidents) and symptoms of them.

use std::io::Write;

use anyhow::Result;
use comfy_table::{Table, presets};
use serde::Serialize;

use super::Format;
use crate::analyzers::text::plural;
use crate::report::Report;

#[derive(Serialize)]
struct Stat<'a> {
    code: &'a str,
    severity: &'a str,
    count: usize,
    /// Findings of this check that are roots of an incident.
    roots: usize,
    /// Findings of this check under another finding's root.
    symptoms: usize,
    title: &'a str,
}

pub fn render(report: &Report, format: Format, out: &mut dyn Write) -> Result<()> {
    let mut stats: Vec<Stat> = report
        .checks
        .iter()
        .filter(|c| c.findings > 0)
        .map(|c| {
            let symptoms = report
                .findings
                .iter()
                .filter(|f| f.code == c.code && f.root.is_some())
                .count();
            Stat {
                code: &c.code,
                severity: c.severity.as_str(),
                count: c.findings,
                roots: c.findings.saturating_sub(symptoms),
                symptoms,
                title: &c.title,
            }
        })
        .collect();
    stats.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(b.code)));
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &stats)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    for s in &stats {
        table.add_row(vec![
            s.count.to_string(),
            s.code.to_string(),
            s.severity.to_string(),
            format!(
                "{} root{}, {} symptom{}",
                s.roots,
                plural(s.roots),
                s.symptoms,
                plural(s.symptoms)
            ),
            s.title.to_string(),
        ]);
    }
    writeln!(out, "{table}")?;
    let (roots, symptoms) = report.incidents();
    writeln!(
        out,
        "{} findings: {roots} root{}, {symptoms} symptom{} of them",
        roots + symptoms,
        plural(roots),
        plural(symptoms)
    )?;
    Ok(())
}
