//! JUnit XML: one test case per check, so CI shows every check — failed ones
//! with their findings, skipped ones as skipped with the reason.

use std::io::Write;

use anyhow::Result;
use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use crate::report::Report;
use crate::report::findings::CheckStatus;

pub fn render(report: &Report, out: &mut dyn Write) -> Result<()> {
    let mut suite = TestSuite::new("mlopsctl doctor");
    for check in &report.checks {
        let status = match check.status {
            CheckStatus::Pass => TestCaseStatus::success(),
            CheckStatus::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(check.reason.clone().unwrap_or_default());
                s
            }
            CheckStatus::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(check.reason.clone().unwrap_or_default());
                s
            }
            CheckStatus::Fail => {
                let findings: Vec<_> = report
                    .findings
                    .iter()
                    .filter(|f| f.code == check.code)
                    .collect();
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!(
                    "{} finding{}",
                    findings.len(),
                    if findings.len() == 1 { "" } else { "s" }
                ));
                s.set_type(check.severity.as_str());
                let text: Vec<String> = findings
                    .iter()
                    .map(|f| {
                        let mut lines =
                            vec![format!("[{}] {}: {}", f.severity, f.subject, f.message)];
                        lines.extend(f.evidence.iter().map(|e| format!("  evidence: {e}")));
                        if let Some(c) = &f.cause {
                            lines.push(format!("  caused by: {} on {}", c.code, c.subject));
                        }
                        if let Some(fix) = &f.fix {
                            lines.push(format!("  fix: {}", fix.description));
                            if let Some(cmd) = &fix.kubectl {
                                lines.push(format!("  $ {cmd}"));
                            }
                        }
                        lines.join("\n")
                    })
                    .collect();
                s.set_description(text.join("\n\n"));
                s
            }
        };
        let mut case = TestCase::new(format!("{} {}", check.code, check.title), status);
        case.set_classname(format!("mlopsctl.{}", check.name));
        suite.add_test_case(case);
    }
    let mut junit = JUnit::new("mlopsctl");
    junit.add_test_suite(suite);
    junit.serialize(&mut *out)?;
    writeln!(out)?;
    Ok(())
}
