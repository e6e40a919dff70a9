//! The table for people: findings grouped by severity, each root followed by
//! the symptoms it causes, then skipped checks and a summary line.

use std::io::Write;

use anyhow::Result;
use colored::{ColoredString, Colorize};
use comfy_table::{Cell, ContentArrangement, Table, presets};

use super::Style;
use crate::report::Report;
use crate::report::findings::{Applicability, CheckStatus, Finding, Severity};

pub fn render(report: &Report, style: Style, out: &mut dyn Write) -> Result<()> {
    // `colored` keeps a process-wide switch; set it from the resolved style.
    colored::control::set_override(style.color);
    let groups = report.grouped();
    for severity in [Severity::Error, Severity::Warning, Severity::Info] {
        let rows: Vec<_> = groups
            .iter()
            .filter(|(f, _)| f.severity == severity)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let count = rows.iter().map(|(_, s)| 1 + s.len()).sum::<usize>();
        writeln!(
            out,
            "{}",
            paint(severity, &format!("{} ({count})", heading(severity))).bold()
        )?;
        let mut table = Table::new();
        table.load_style(presets::UTF8_HORIZONTAL_ONLY);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(w) = style.width {
            table.set_width(w);
        }
        table.set_header(vec!["code", "subject", "finding", "fix"]);
        for (root, symptoms) in rows {
            table.add_row(row(root, false));
            for s in symptoms {
                table.add_row(row(s, true));
            }
        }
        writeln!(out, "{table}")?;
        writeln!(out)?;
    }
    let errored: Vec<_> = report.errored().collect();
    if !errored.is_empty() {
        writeln!(out, "{}", "Checks that failed to run".red().bold())?;
        for c in errored {
            writeln!(
                out,
                "  {} {}: {}",
                c.code,
                c.title,
                c.reason.as_deref().unwrap_or_default()
            )?;
        }
        writeln!(out)?;
    }
    let (lacking, not_applicable): (Vec<_>, Vec<_>) = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Skipped)
        .partition(|c| c.lacks_data());
    if !lacking.is_empty() {
        writeln!(out, "{}", "Skipped checks".bold())?;
        for c in lacking {
            writeln!(
                out,
                "  {} {}: {}",
                c.code,
                c.title,
                c.reason.as_deref().unwrap_or_default().dimmed()
            )?;
        }
        writeln!(out)?;
    }
    if !not_applicable.is_empty() {
        let codes: Vec<&str> = not_applicable.iter().map(|c| c.code.as_str()).collect();
        let line = format!(
            "Nothing to check for {} (see -o json for why)",
            codes.join(", ")
        );
        writeln!(out, "{}", line.dimmed())?;
    }
    for note in &report.notes {
        writeln!(out, "{} {note}", "note:".yellow())?;
    }
    if !report.suppressed.is_empty() {
        writeln!(
            out,
            "{}",
            format!(
                "{} suppressed findings (see -o json)",
                report.suppressed.len()
            )
            .dimmed()
        )?;
    }
    writeln!(out, "{}", summary(report))?;
    Ok(())
}

fn heading(s: Severity) -> &'static str {
    match s {
        Severity::Error => "Errors",
        Severity::Warning => "Warnings",
        Severity::Info => "Info",
    }
}

fn paint(s: Severity, text: &str) -> ColoredString {
    match s {
        Severity::Error => text.red(),
        Severity::Warning => text.yellow(),
        Severity::Info => text.blue(),
    }
}

fn row(f: &Finding, symptom: bool) -> Vec<Cell> {
    let code = if symptom {
        format!("  ↳ {}", f.code)
    } else {
        f.code.clone()
    };
    let mut subject = f.subject.to_string();
    if let Some(path) = &f.subject.field_path {
        subject.push_str(&format!("\n{}", path.dimmed()));
    }
    let mut finding = f.message.clone();
    if let Some(cause) = f.cause.as_ref().filter(|_| symptom) {
        finding.push_str(&format!(
            "\n{}",
            format!("caused by {} on {}", cause.code, cause.subject).dimmed()
        ));
    }
    for e in &f.evidence {
        finding.push_str(&format!("\n{}", format!("• {e}").dimmed()));
    }
    let fix = f
        .fix
        .as_ref()
        .map(|fix| {
            let tag = match fix.applicability {
                Applicability::Safe => "[safe fix]".green(),
                Applicability::Unsafe => "[unsafe fix]".yellow(),
                Applicability::Manual => "[manual]".normal(),
            };
            let mut text = format!("{tag} {}", fix.description);
            if let Some(cmd) = &fix.kubectl {
                text.push_str(&format!("\n$ {}", cmd.cyan()));
            }
            text
        })
        .unwrap_or_default();
    vec![
        Cell::new(paint(f.severity, &code)),
        Cell::new(subject),
        Cell::new(finding),
        Cell::new(fix),
    ]
}

pub fn summary(report: &Report) -> String {
    let s = &report.summary;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut parts = vec![
        paint(Severity::Error, &plural(s.errors, "error")).to_string(),
        paint(Severity::Warning, &plural(s.warnings, "warning")).to_string(),
        plural(s.infos, "info"),
    ];
    parts.push(format!(
        "{} checks: {} passed, {} failed, {} skipped",
        s.passed + s.failed + s.skipped,
        s.passed,
        s.failed,
        s.skipped
    ));
    let mut line = parts.join(", ");
    if !report.coverage.is_empty() {
        line.push_str(&format!(
            "\nNot collected: {}",
            report
                .coverage
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    line
}
