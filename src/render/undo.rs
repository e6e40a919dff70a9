//! What `mlopsctl undo` prints: each fix's steps with their diffs or why they
//! are left alone, each fix's outcome, and the list of journaled runs.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use colored::Colorize;
use serde_json::Value;

use crate::changes::fields::Drift;
use crate::changes::journal::{Run, State};
use crate::changes::object::content;
use crate::changes::undo::{Blocked, GroupPlan, Nothing, Outcome, Restore};
use crate::cluster::ObjectRef;
use crate::snapshot::redact;

/// The title: which run, how many fixes.
pub fn title(run: &str, fixes: usize, out: &mut dyn Write) -> Result<()> {
    let title = format!(
        "Undo of run {run} ({fixes} fix{}, newest first)",
        if fixes == 1 { "" } else { "es" }
    );
    writeln!(out, "{}", title.bold())?;
    Ok(())
}

/// One fix's outcome, as a line.
pub fn outcome(finding: &str, outcome: &Outcome, dry_run: bool, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "  {finding}: {}", outcome_text(outcome, dry_run))?;
    Ok(())
}

/// One fix's undo: each step with its diff, or why it is left alone.
pub fn plan(plan: &GroupPlan, color: bool, out: &mut dyn Write) -> Result<()> {
    writeln!(out)?;
    let seqs: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|s| &s.changes)
        .map(|s| format!("#{s}"))
        .collect();
    writeln!(out, "{} ({})", plan.finding.bold(), seqs.join(", "))?;
    for step in &plan.steps {
        let target = &step.target;
        match &step.restore {
            Ok(Restore::Patch { now, after, .. }) => {
                writeln!(out, "  restore the fields the fix changed on {target}:")?;
                show_diff(Some(now), Some(after), target, color, out)?;
            }
            Ok(Restore::Create { object }) => {
                writeln!(out, "  create {target} again (the fix deleted it):")?;
                show_diff(None, Some(object), target, color, out)?;
            }
            Ok(Restore::Delete { now, .. }) => {
                writeln!(out, "  delete {target} (the fix created it):")?;
                show_diff(Some(now), None, target, color, out)?;
            }
            Ok(Restore::Nothing(Nothing::AsBefore)) => {
                writeln!(out, "  {target}: already as before the fix")?;
            }
            Ok(Restore::Nothing(Nothing::DeletedSince)) => {
                writeln!(out, "  {target}: deleted since the fix; it stays deleted")?;
            }
            Ok(Restore::Nothing(Nothing::ExistsAgain)) => {
                writeln!(
                    out,
                    "  {target}: exists again (made since the fix); left as it is"
                )?;
            }
            Err(Blocked::Drift(drift)) => {
                writeln!(
                    out,
                    "  {}",
                    format!("left alone: {target} changed since the fix:").yellow()
                )?;
                for d in drift {
                    writeln!(out, "    {} (--force restores it)", drift_text(d))?;
                }
            }
            Err(Blocked::Replaced) => writeln!(
                out,
                "  {}",
                format!("left alone: {target} is another object than the fix created").yellow()
            )?,
            Err(Blocked::Topic(why) | Blocked::Unreadable(why)) => {
                writeln!(out, "  {}", format!("left alone: {why}").yellow())?;
            }
        }
        for d in &step.forced {
            writeln!(out, "    --force: {}; restored anyway", drift_text(d))?;
        }
    }
    if plan.blocked() && plan.writes() {
        writeln!(
            out,
            "  nothing of this fix is restored while a change of it is left alone"
        )?;
    }
    Ok(())
}

/// `spec.replicas is 5 now; the fix set 3`, credentials masked.
fn drift_text(d: &Drift) -> String {
    let credential = d.path.names().any(redact::is_credential_name);
    let shown = |v: &Option<Value>| match v {
        None => "absent".to_string(),
        Some(_) if credential => redact::REDACTED.to_string(),
        Some(v) => crate::analyzers::text::clip(&redact::redact_urls(&v.to_string()), 120),
    };
    format!(
        "{} is {} now; the fix set {}",
        d.path,
        shown(&d.found),
        shown(&d.expected)
    )
}

/// The object now → after the step, as YAML, credentials redacted.
fn show_diff(
    now: Option<&Value>,
    after: Option<&Value>,
    target: &ObjectRef,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let (now, after) = (now.map(content), after.map(content));
    let text = super::fix::redacted_diff(
        now.as_ref(),
        after.as_ref(),
        &format!("{target} (cluster)"),
        &format!("{target} (after undo)"),
        color,
    );
    for line in text.lines() {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

/// How one fix's undo ended.
fn outcome_text(outcome: &Outcome, dry_run: bool) -> String {
    match outcome {
        Outcome::Restored if dry_run => "the API server accepts every step".green().to_string(),
        Outcome::Restored => "restored".green().to_string(),
        Outcome::LeftAlone => "left alone (see above)".yellow().to_string(),
        Outcome::Refused { target, reason } => format!(
            "{}: the API server refuses {target}: {reason}; nothing of this fix was changed",
            if dry_run {
                "would fail"
            } else {
                "not restored"
            }
        )
        .red()
        .to_string(),
        Outcome::Failed {
            target,
            reason,
            state,
        } => format!("failed at {target}: {reason}; {state}")
            .red()
            .to_string(),
    }
}

/// The journaled runs, oldest first, each with its counts and findings; a
/// journal that cannot be read is listed with why.
pub fn runs(runs: &[(&Path, Result<Run>)], dir: &Path, out: &mut dyn Write) -> Result<()> {
    if runs.is_empty() {
        writeln!(out, "No runs journaled in {}.", dir.display())?;
        return Ok(());
    }
    for (path, run) in runs {
        let run = match run {
            Ok(run) => run,
            Err(e) => {
                writeln!(out, "{}: {e:#}", path.display())?;
                continue;
            }
        };
        let count = |f: fn(&State) -> bool| run.changes.iter().filter(|c| f(&c.state)).count();
        let applied = count(|s| matches!(s, State::Applied));
        let undone = count(|s| matches!(s, State::Undone));
        let refused = count(|s| matches!(s, State::Refused { .. }));
        let interrupted = count(|s| matches!(s, State::Interrupted));
        let mut parts = vec![format!("{applied} applied")];
        for (n, what) in [
            (undone, "undone"),
            (refused, "refused"),
            (interrupted, "interrupted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        writeln!(
            out,
            "{}  {}  {} at {}: {}",
            run.id.bold(),
            run.started,
            run.source,
            run.cluster.server,
            parts.join(", ")
        )?;
        let mut findings: Vec<&str> = run.changes.iter().map(|c| c.finding.as_str()).collect();
        findings.dedup();
        for f in findings {
            writeln!(out, "    {f}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show_in_drift() {
        use crate::changes::fields::{FieldPath, Step};
        let d = Drift {
            path: FieldPath(vec![
                Step::Key("env".into()),
                Step::Named {
                    name: "DB_PASSWORD".into(),
                },
                Step::Key("value".into()),
            ]),
            expected: Some(Value::String("hunter2".into())),
            found: Some(Value::String("s3cret".into())),
        };
        let text = drift_text(&d);
        assert!(
            !text.contains("hunter2") && !text.contains("s3cret"),
            "{text}"
        );
        let url = Drift {
            path: FieldPath(vec![Step::Key("uri".into())]),
            expected: Some(Value::String("postgres://u:hunter2@db/x".into())),
            found: None,
        };
        assert!(
            !drift_text(&url).contains("hunter2"),
            "{}",
            drift_text(&url)
        );
    }
}
