//! What `mlopsctl fix` prints: the plan (each fix with its status and a diff
//! per operation), the outcome of each change, the verification, and the
//! patch file written from a snapshot. The fix command decides; this prints.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use colored::Colorize;
use serde::Serialize;
use serde_json::Value;

use crate::analyzers::text::plural;
use crate::changes::executor::Outcome;
use crate::changes::journal::Journal;
use crate::cluster::{ClusterView, ObjectRef};
use crate::plan::{self, Change, Operation, Plan, Planned, Status, Verification, diff, objects};
use crate::report::Report;

/// Checks that failed to run, said before the plan: their findings (and
/// fixes) are unknown.
pub fn errored(report: &Report, out: &mut dyn Write) -> Result<()> {
    for c in report.errored() {
        let line = format!(
            "{} failed to run: {}",
            c.code,
            c.reason.as_deref().unwrap_or_default()
        );
        writeln!(out, "{}", line.red())?;
    }
    Ok(())
}

/// A section's title, such as "Server-side dry run (nothing is changed):".
pub fn heading(title: &str, out: &mut dyn Write) -> Result<()> {
    writeln!(out)?;
    writeln!(out, "{}", title.bold())?;
    Ok(())
}

/// The plan: each fix with its status, operations and diffs. `failed` holds,
/// for each ready fix in order, why it could not be applied (if known yet);
/// `source` names where the objects were read ("cluster", "snapshot").
pub fn plan(
    plan: &Plan,
    view: &ClusterView,
    source: &str,
    failed: &[Option<String>],
    ready_text: &str,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let ready = plan.ready().count();
    let title = format!(
        "{} fix{} planned, {ready} ready; {} finding{} without an automatic fix",
        plan.planned.len(),
        if plan.planned.len() == 1 { "" } else { "es" },
        plan.unfixable.len(),
        plural(plan.unfixable.len()),
    );
    writeln!(out, "{}", title.bold())?;
    let mut outcome = failed.iter();
    for p in &plan.planned {
        writeln!(out)?;
        let field = p
            .subject
            .field_path
            .as_deref()
            .map_or(String::new(), |f| format!("  {f}"));
        writeln!(
            out,
            "{} {}{field}",
            p.code.bold(),
            p.subject.object().to_string().bold()
        )?;
        writeln!(out, "  {}", p.message)?;
        writeln!(out, "  fix: {}", p.description)?;
        let failed = if p.status == Status::Ready {
            outcome.next().and_then(Option::as_deref)
        } else {
            None
        };
        writeln!(
            out,
            "  {}: {}",
            p.applicability.as_str(),
            status_text(&p.status, failed.unwrap_or(ready_text))
        )?;
        for op in &p.operations {
            operation(op, view, source, color, out)?;
        }
    }
    if !plan.unfixable.is_empty() {
        heading("Without an automatic fix:", out)?;
        for f in &plan.unfixable {
            let how = f
                .fix
                .as_ref()
                .map_or(String::new(), |fix| format!(" ({})", fix.description));
            writeln!(
                out,
                "  {} {}: {}{how}",
                f.code,
                f.subject.object(),
                f.message
            )?;
        }
    }
    Ok(())
}

/// What happens to a fix; `ready` says it for a ready one.
fn status_text(status: &Status, ready: &str) -> String {
    match status {
        Status::Ready => ready.to_string(),
        Status::SkippedUnsafe => "skipped: unsafe, pass --unsafe to include it".into(),
        Status::NeedsInput { missing } => format!(
            "needs {}",
            missing
                .iter()
                .map(|m| format!("--set {m}=VALUE"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Status::Manual => "shown only: a person must make this change".into(),
        Status::InputRefused { reason } => format!("not applied: {reason}"),
        Status::Isolated { by } => format!(
            "isolated: it changes the same field as {by}; run fix again once that is applied"
        ),
    }
}

/// One operation: its target, missing inputs, the object's diff (credentials
/// redacted) and the kubectl command of what is sent.
fn operation(
    op: &Operation,
    view: &ClusterView,
    source: &str,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let rv = op
        .precondition
        .resource_version
        .as_deref()
        .map_or(String::new(), |rv| format!(" at resourceVersion {rv}"));
    writeln!(out, "  target: {} {}{rv}", op.target.api_version, op.target)?;
    for input in &op.inputs {
        writeln!(
            out,
            "  input {}: {} (missing, shown as {})",
            input.name,
            input.description,
            plan::placeholder(&input.name).as_str().unwrap_or_default()
        )?;
    }
    // Show where placeholders go, even while inputs are missing.
    let shown = Operation {
        inputs: Vec::new(),
        ..op.clone()
    };
    let before = objects::get(view, &op.target);
    match plan::apply(&shown, before.as_ref()) {
        Ok(mut after) => {
            // A topic's number still to be given shows as its placeholder.
            if let (Change::CreateTopic(_), Some(topic)) = (&op.change, after.as_mut()) {
                for input in &op.inputs {
                    let field = match input.name.as_str() {
                        plan::inputs::TOPIC_PARTITIONS => "partitions",
                        plan::inputs::TOPIC_REPLICATION => "replicationFactor",
                        _ => continue,
                    };
                    topic["spec"][field] = plan::placeholder(&input.name);
                }
            }
            let text = redacted_diff(
                before.as_ref(),
                after.as_ref(),
                &format!("{} ({source})", op.target),
                &format!("{} (planned)", op.target),
                color,
            );
            for line in text.lines() {
                writeln!(out, "  {line}")?;
            }
        }
        Err(e) => writeln!(out, "  {}", format!("cannot show the change: {e}").red())?,
    }
    writeln!(out, "  {}", op.kubectl())?;
    Ok(())
}

/// A unified diff of two objects as YAML, credentials redacted as they are
/// everywhere else.
pub(super) fn redacted_diff(
    before: Option<&Value>,
    after: Option<&Value>,
    old: &str,
    new: &str,
    color: bool,
) -> String {
    let yaml = |v: Option<&Value>| {
        v.map(|v| {
            let mut shown = v.clone();
            crate::snapshot::redact(&mut shown);
            diff::yaml(&shown)
        })
        .unwrap_or_default()
    };
    diff::unified(&yaml(before), &yaml(after), old, new, color)
}

/// The start of a pass of changes.
pub fn pass(pass: usize, fixes: usize, out: &mut dyn Write) -> Result<()> {
    let title = format!("Pass {pass}: applying {fixes} fix(es)");
    writeln!(out, "{}", title.bold())?;
    Ok(())
}

/// One fix's outcome, as a line of a pass (or of the server-side dry run).
pub fn outcome(label: &str, outcome: &Outcome, dry_run: bool, out: &mut dyn Write) -> Result<()> {
    let text = match outcome {
        Outcome::Done { .. } if dry_run => {
            "the API server accepts every change".green().to_string()
        }
        Outcome::Done { changes } => format!(
            "applied ({} change{})",
            changes.len(),
            plural(changes.len())
        )
        .green()
        .to_string(),
        Outcome::Superseded(why) => format!("not needed any more: {why}"),
        Outcome::Failed { reason, .. } if dry_run => {
            format!("would fail: {reason}").red().to_string()
        }
        Outcome::Failed { reason, changes } => {
            let made = if changes.is_empty() {
                "nothing was changed".to_string()
            } else {
                format!(
                    "{} change{} made before it stay journaled",
                    changes.len(),
                    plural(changes.len())
                )
            };
            format!("failed: {reason}; {made}").red().to_string()
        }
    };
    writeln!(out, "  {label}: {text}")?;
    Ok(())
}

/// Findings cleared, remaining and new after the changes.
pub fn verification(title: &str, v: &Verification, out: &mut dyn Write) -> Result<()> {
    heading(
        &format!(
            "{title}: {} cleared, {} remaining, {} new",
            v.cleared.len(),
            v.remaining.len(),
            v.new.len()
        ),
        out,
    )?;
    let lines = [
        ("cleared", &v.cleared),
        ("remaining", &v.remaining),
        ("new", &v.new),
    ];
    for (what, findings) in lines {
        for f in findings {
            writeln!(
                out,
                "  {what}: {} {}: {}",
                f.code,
                f.subject.object(),
                f.message
            )?;
        }
    }
    Ok(())
}

/// Fixes left for the next run because they were not in the confirmed plan.
pub fn deferred(fixes: &[Planned], out: &mut dyn Write) -> Result<()> {
    if fixes.is_empty() {
        return Ok(());
    }
    heading(
        "Not applied: new since the plan was confirmed (run mlopsctl fix again to see and \
         confirm them):",
        out,
    )?;
    for p in fixes {
        writeln!(out, "  {}: {}", p.label(), p.message)?;
    }
    Ok(())
}

/// Where the run's changes are journaled, and how to take them back.
pub fn journaled(journal: &Journal, out: &mut dyn Write) -> Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "Journal: {} (run {}); `mlopsctl undo {}` restores what this run changed.",
        journal.path().display(),
        journal.run(),
        journal.run()
    )?;
    Ok(())
}

/// The patches applied to a snapshot's copy, written for a person to apply.
pub fn patches_written(count: usize, file: &Path, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{count} patch{} written to {}: run the kubectl command of each entry to apply it",
        if count == 1 { "" } else { "es" },
        file.display()
    )?;
    Ok(())
}

/// One entry of the patch file.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PatchEntry<'a> {
    finding: String,
    message: &'a str,
    applicability: &'static str,
    target: &'a ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_version: Option<&'a str>,
    /// The JSON patch (tests first), for a patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<Vec<json_patch::PatchOperation>>,
    /// The object, for a creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    create: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    delete: bool,
    kubectl: String,
}

#[derive(Serialize)]
struct PatchFile<'a> {
    patches: Vec<PatchEntry<'a>>,
}

/// The patch file: a header saying how to use it, then YAML.
pub fn patch_file(snapshot: &Path, applied: &[&Planned]) -> String {
    let mut patches = Vec::new();
    for p in applied {
        for op in &p.operations {
            patches.push(PatchEntry {
                finding: p.label(),
                message: &p.message,
                applicability: p.applicability.as_str(),
                target: &op.target,
                resource_version: op.precondition.resource_version.as_deref(),
                patch: matches!(op.change, Change::JsonPatch(_)).then(|| op.json_patch()),
                create: match &op.change {
                    Change::Create(object) => Some(object.clone()),
                    Change::CreateTopic(topic) => Some(plan::apply::topic_object(topic)),
                    _ => None,
                },
                delete: matches!(op.change, Change::Delete),
                kubectl: op.kubectl(),
            });
        }
    }
    let header = format!(
        "# Patches planned by `mlopsctl fix` from snapshot {}.\n\
         # Run each entry's `kubectl` command, in order. Each patch starts with JSON-patch\n\
         # `test` operations: the API server refuses it (nothing changes) when the field\n\
         # moved since the snapshot. `resourceVersion` is the version planned against.\n",
        snapshot.display()
    );
    // One line per command, so it can be copied as it is.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    let body = serde_saphyr::to_string_with_options(&PatchFile { patches }, options)
        .expect("patch file serializes");
    format!("{header}{body}")
}
