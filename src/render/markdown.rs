//! Markdown for a PR comment or `$GITHUB_STEP_SUMMARY`: a summary, a table of
//! findings (roots with their symptoms), the details, and skipped checks.

use std::io::Write;

use anyhow::Result;

use crate::report::Report;
use crate::report::findings::{CheckStatus, Finding, Severity};

pub fn render(report: &Report, out: &mut dyn Write) -> Result<()> {
    let s = &report.summary;
    let icon = if s.errors > 0 {
        "❌"
    } else if s.warnings > 0 {
        "⚠️"
    } else {
        "✅"
    };
    writeln!(out, "## {icon} mlopsctl doctor\n")?;
    writeln!(
        out,
        "**{} errors, {} warnings, {} infos** · {} checks: {} passed, {} failed, {} skipped · {}\n",
        s.errors,
        s.warnings,
        s.infos,
        s.passed + s.failed + s.skipped,
        s.passed,
        s.failed,
        s.skipped,
        cell(&report.source)
    )?;
    if !report.findings.is_empty() {
        writeln!(out, "| | code | subject | finding | fix |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for (root, symptoms) in report.grouped() {
            row(out, root, false)?;
            for s in symptoms {
                row(out, s, true)?;
            }
        }
        writeln!(out)?;
        writeln!(out, "<details><summary>Evidence</summary>\n")?;
        for f in &report.findings {
            writeln!(out, "#### {} · {}\n", f.code, cell(&f.subject.to_string()))?;
            writeln!(out, "{}\n", f.message)?;
            if !f.evidence.is_empty() {
                writeln!(out, "```text")?;
                for e in &f.evidence {
                    writeln!(out, "{}", e.replace("```", "'''"))?;
                }
                writeln!(out, "```\n")?;
            }
            if let Some(cmd) = f.fix.as_ref().and_then(|x| x.kubectl.as_ref()) {
                writeln!(out, "```sh\n{cmd}\n```\n")?;
            }
        }
        writeln!(out, "</details>\n")?;
    }
    // Checks that did not judge, each with its reason.
    for (title, status) in [
        ("Checks that failed to run", CheckStatus::Error),
        ("Skipped checks", CheckStatus::Skipped),
    ] {
        let listed: Vec<_> = report
            .checks
            .iter()
            .filter(|c| c.status == status)
            .collect();
        if listed.is_empty() {
            continue;
        }
        writeln!(out, "**{title}**\n")?;
        for c in listed {
            writeln!(
                out,
                "- {} {}: {}",
                c.code,
                cell(&c.title),
                cell(c.reason.as_deref().unwrap_or_default())
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn row(out: &mut dyn Write, f: &Finding, symptom: bool) -> Result<()> {
    let icon = match f.severity {
        Severity::Error => "🔴",
        Severity::Warning => "🟡",
        Severity::Info => "🔵",
    };
    let code = if symptom {
        format!("↳ {}", f.code)
    } else {
        f.code.clone()
    };
    let fix = f
        .fix
        .as_ref()
        .map(|x| format!("*{}* {}", x.applicability.as_str(), cell(&x.description)))
        .unwrap_or_default();
    writeln!(
        out,
        "| {icon} | {code} | {} | {} | {fix} |",
        cell(&f.subject.to_string()),
        cell(&f.message)
    )?;
    Ok(())
}

/// Text safe inside a table cell: no pipes, no newlines, no raw HTML.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
