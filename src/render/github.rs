//! GitHub Actions workflow commands: one annotation per finding.
//! <https://docs.github.com/actions/reference/workflow-commands-for-github-actions>

use std::io::Write;

use anyhow::Result;

use crate::report::Report;
use crate::report::findings::Severity;

pub fn render(report: &Report, out: &mut dyn Write) -> Result<()> {
    for f in &report.findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut message = format!("{}: {}", f.subject, f.message);
        for e in &f.evidence {
            message.push_str(&format!("\n{e}"));
        }
        if let Some(fix) = &f.fix {
            message.push_str(&format!("\nFix: {}", fix.description));
            if let Some(cmd) = &fix.kubectl {
                message.push_str(&format!("\n$ {cmd}"));
            }
        }
        let title = format!("{} {}", f.code, f.check);
        writeln!(
            out,
            "::{level} title={}::{}",
            escape_property(&title),
            escape_data(&message)
        )?;
    }
    for c in report.errored() {
        writeln!(
            out,
            "::error title={}::{}",
            escape_property(&format!("{} failed to run", c.code)),
            escape_data(c.reason.as_deref().unwrap_or_default())
        )?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "::notice title=mlopsctl::{}",
        escape_data(&format!(
            "{} errors, {} warnings, {} infos; checks: {} passed, {} failed, {} skipped",
            s.errors, s.warnings, s.infos, s.passed, s.failed, s.skipped
        ))
    )?;
    Ok(())
}

/// Escaping for a command's message, as the Actions runner decodes it.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping for a property value: also `:` and `,`.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_expects() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
