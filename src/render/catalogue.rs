//! What `mlopsctl checks` and `mlopsctl explain` print: the catalogue as a
//! table or JSON, and one check's documentation.

use std::io::Write;

use anyhow::Result;
use colored::Colorize;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use super::{Format, Style};
use crate::catalogue::{Catalogue, Check};

/// A catalogue entry as `checks -o json` prints it.
#[derive(Serialize)]
struct Entry<'a> {
    code: &'a str,
    name: &'a str,
    title: &'a str,
    severity: &'a str,
    analyzer: &'a str,
    origin: &'a str,
    docs: &'a crate::catalogue::Docs,
}

/// The catalogue: JSON for `-o json`, a table otherwise.
pub fn list(
    catalogue: &Catalogue,
    format: Format,
    style: Style,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Json => {
            let entries: Vec<Entry> = catalogue
                .iter()
                .map(|c| Entry {
                    code: &c.spec.code,
                    name: &c.spec.name,
                    title: &c.spec.title,
                    severity: c.spec.severity.as_str(),
                    analyzer: &c.spec.analyzer,
                    origin: &c.origin,
                    docs: &c.spec.docs,
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &entries)?;
            writeln!(out)?;
        }
        _ => {
            colored::control::set_override(style.color);
            let mut table = Table::new();
            table.load_style(presets::UTF8_HORIZONTAL_ONLY);
            table.set_content_arrangement(ContentArrangement::Dynamic);
            table.set_header(vec!["code", "severity", "title", "analyzer"]);
            for c in catalogue.iter() {
                table.add_row(vec![
                    c.spec.code.as_str(),
                    c.spec.severity.as_str(),
                    c.spec.title.as_str(),
                    c.spec.analyzer.as_str(),
                ]);
            }
            writeln!(out, "{table}")?;
        }
    }
    Ok(())
}

/// A check's documentation as `explain` prints it (Markdown-like sections).
pub fn explanation(check: &Check) -> String {
    let s = &check.spec;
    let section = |title: &str, body: &str| format!("\n{}\n{}\n", title.bold(), body.trim_end());
    format!(
        "{} {} ({})\n{}: {} · analyzer: {} · from {}\n{}{}{}{}",
        s.code.bold(),
        s.title.bold(),
        s.name,
        "severity",
        s.severity,
        s.analyzer,
        check.origin,
        section("## What it checks", &s.docs.what),
        section("## Why it matters", &s.docs.why),
        section("## How to fix", &s.docs.fix),
        section("## Fix safety", &s.docs.safety),
    )
}
