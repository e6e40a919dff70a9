//! SARIF 2.1.0 through serde-sarif: one rule per selected check with its
//! documentation, one result per finding, located by the object (a logical
//! location `namespace/Kind/name`, with the field path).

use std::io::Write;

use anyhow::Result;
use serde_sarif::sarif;

use crate::catalogue::CheckSpec;
use crate::report::Report;
use crate::report::findings::Severity;

pub fn render(report: &Report, rules: &[&CheckSpec], out: &mut dyn Write) -> Result<()> {
    let descriptors: Vec<sarif::ReportingDescriptor> = rules
        .iter()
        .map(|spec| {
            let help = format!(
                "## What it checks\n{}\n## Why it matters\n{}\n## How to fix\n{}\n## Fix safety\n{}",
                spec.docs.what, spec.docs.why, spec.docs.fix, spec.docs.safety
            );
            sarif::ReportingDescriptor::builder()
                .id(spec.code.clone())
                .name(spec.name.clone())
                .short_description(&spec.title)
                .full_description(&spec.docs.what)
                .help(sarif::MultiformatMessageString::builder().text(help.clone()).markdown(help).build())
                .default_configuration(
                    sarif::ReportingConfiguration::builder().level(serde_json::json!(level(spec.severity).to_string())).build(),
                )
                .build()
        })
        .collect();
    let results: Vec<sarif::Result> = report
        .findings
        .iter()
        .map(|f| {
            let mut text = format!("{}: {}", f.subject, f.message);
            if let Some(fix) = &f.fix {
                text.push_str(&format!(
                    " Fix ({}): {}",
                    fix.applicability.as_str(),
                    fix.description
                ));
            }
            let fqn = format!(
                "{}/{}/{}",
                f.subject.namespace.as_deref().unwrap_or("(cluster)"),
                f.subject.kind,
                f.subject.name
            );
            let mut logical = vec![
                sarif::LogicalLocation::builder()
                    .name(f.subject.name.clone())
                    .kind(f.subject.kind.clone())
                    .fully_qualified_name(fqn.clone())
                    .build(),
            ];
            if let Some(path) = &f.subject.field_path {
                logical.push(
                    sarif::LogicalLocation::builder()
                        .name(path.clone())
                        .kind("member".to_string())
                        .fully_qualified_name(format!("{fqn}/{path}"))
                        .build(),
                );
            }
            let rule_index = rules
                .iter()
                .position(|r| r.code == f.code)
                .map(|i| i as i64)
                .unwrap_or(-1);
            let mut result = sarif::Result::builder()
                .rule_id(f.code.clone())
                .rule_index(rule_index)
                .level(level(f.severity))
                .message(&text)
                .locations(vec![
                    sarif::Location::builder()
                        .logical_locations(logical)
                        .build(),
                ])
                .partial_fingerprints(
                    [(
                        "mlopsctl/v1".to_string(),
                        format!(
                            "{}|{fqn}|{}",
                            f.code,
                            f.subject.field_path.as_deref().unwrap_or_default()
                        ),
                    )]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
                )
                .build();
            // A symptom points at the root of its incident.
            if let Some(root) = f
                .root
                .as_ref()
                .and_then(|id| report.findings.iter().find(|r| &r.id == id))
            {
                result.related_locations = Some(vec![
                    sarif::Location::builder()
                        .id(0)
                        .logical_locations(vec![
                            sarif::LogicalLocation::builder()
                                .name(root.subject.name.clone())
                                .kind(root.subject.kind.clone())
                                .fully_qualified_name(format!(
                                    "{}/{}/{}",
                                    root.subject.namespace.as_deref().unwrap_or("(cluster)"),
                                    root.subject.kind,
                                    root.subject.name
                                ))
                                .build(),
                        ])
                        .message(&format!("root cause: {} {}", root.code, root.message))
                        .build(),
                ]);
            }
            result
        })
        .collect();
    let driver = sarif::ToolComponent::builder()
        .name("mlopsctl")
        .version(env!("CARGO_PKG_VERSION").to_string())
        .rules(descriptors)
        .build();
    // A check that failed to run is a tool execution notification, and the
    // invocation did not succeed.
    let notifications: Vec<sarif::Notification> = report
        .errored()
        .map(|c| {
            sarif::Notification::builder()
                .message(&format!(
                    "{} failed to run: {}",
                    c.code,
                    c.reason.as_deref().unwrap_or_default()
                ))
                .level(serde_json::json!("error"))
                .associated_rule(
                    sarif::ReportingDescriptorReference::builder()
                        .id(c.code.clone())
                        .build(),
                )
                .build()
        })
        .collect();
    let run = if notifications.is_empty() {
        sarif::Run::builder().tool(driver).results(results).build()
    } else {
        let invocation = sarif::Invocation::builder()
            .execution_successful(false)
            .tool_execution_notifications(notifications)
            .build();
        sarif::Run::builder()
            .tool(driver)
            .results(results)
            .invocations(vec![invocation])
            .build()
    };
    let log = sarif::Sarif::builder()
        .version(sarif::Version::V2_1_0.to_string())
        .runs(vec![run])
        .build();
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)?;
    Ok(())
}

fn level(s: Severity) -> sarif::ResultLevel {
    match s {
        Severity::Error => sarif::ResultLevel::Error,
        Severity::Warning => sarif::ResultLevel::Warning,
        Severity::Info => sarif::ResultLevel::Note,
    }
}
