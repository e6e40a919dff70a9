//! `mlopsctl checks` and `mlopsctl explain CODE`.

use std::io::Write;

use anyhow::{Result, bail};
use colored::Colorize;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use super::Exit;
use crate::catalogue::{Catalogue, Check};
use crate::cli::{ChecksArgs, ExplainArgs};
use crate::render::{Format, Style};

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

pub fn list(args: &ChecksArgs, style: Style, out: &mut dyn Write) -> Result<Exit> {
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    match args.output {
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
    Ok(Exit::Ok)
}

pub fn explain(args: &ExplainArgs, style: Style, out: &mut dyn Write) -> Result<Exit> {
    colored::control::set_override(style.color);
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    let Some(check) = catalogue.get(&args.code) else {
        bail!(
            "unknown check code `{}`: run `mlopsctl checks` for the catalogue",
            args.code
        );
    };
    write!(out, "{}", explanation(check))?;
    Ok(Exit::Ok)
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
