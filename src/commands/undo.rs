//! `mlopsctl undo [RUN-ID]`: take back what a `fix` run changed, fix by fix,
//! newest first, from the run's journal. Like `fix`, it shows what it will
//! change as diffs, asks on a terminal and needs `--yes` elsewhere, and
//! supports `--diff` and `--dry-run`; `--list` shows the journaled runs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use colored::Colorize;
use serde_json::Value;

use super::{Context, Exit};
use crate::changes::client::{Cluster, KubeCluster};
use crate::changes::fields::Drift;
use crate::changes::journal::{self, ClusterIdentity, Journal, Run, State};
use crate::changes::object::content;
use crate::changes::undo::{self, Blocked, GroupPlan, Nothing, Outcome, Restore};
use crate::cli::UndoArgs;
use crate::plan::diff;
use crate::snapshot::redact;

pub fn run(args: &UndoArgs, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    colored::control::set_override(ctx.style.color);
    let Some(dir) = args.journal_dir.clone().or_else(|| ctx.journal_dir.clone()) else {
        bail!("no journal directory: set XDG_STATE_HOME or HOME, or pass --journal-dir DIR");
    };
    let paths = journal::runs(&dir)?;
    if args.list {
        return list(&paths, &dir, out);
    }
    let path = match &args.run {
        Some(id) => {
            let path = dir.join(format!("{id}.jsonl"));
            if !path.is_file() {
                bail!(
                    "no run {id} in {}: `mlopsctl undo --list` shows the runs",
                    dir.display()
                );
            }
            path
        }
        None => match paths.last() {
            Some(p) => p.clone(),
            None => bail!("no runs journaled in {}: nothing to undo", dir.display()),
        },
    };
    let run = Run::read(&path)?;
    let groups = run.to_undo();
    if groups.is_empty() {
        writeln!(out, "Run {} has nothing left to undo.", run.id)?;
        return Ok(Exit::Ok);
    }
    let cluster = KubeCluster::connect(&args.cluster.settings())?;
    let here = ClusterIdentity {
        server: cluster.server.clone(),
        uid: cluster.identity(),
    };
    if let Some(why) = other_cluster(&run.cluster, &here)
        && !args.allow_other_cluster
    {
        bail!(
            "run {} changed another cluster: {why}. Pick its context with --context; \
             --allow-other-cluster undoes it here anyway",
            run.id
        );
    }

    let plans: Vec<GroupPlan> = groups
        .iter()
        .map(|g| undo::plan(g, &cluster, args.force))
        .collect();
    writeln!(
        out,
        "{}",
        format!(
            "Undo of run {} ({} fix{}, newest first)",
            run.id,
            plans.len(),
            if plans.len() == 1 { "" } else { "es" }
        )
        .bold()
    )?;
    for plan in &plans {
        print_plan(plan, ctx.style.color, out)?;
    }
    let blocked = plans.iter().filter(|p| p.blocked()).count();
    let writes: usize = plans
        .iter()
        .filter(|p| !p.blocked())
        .flat_map(|p| &p.steps)
        .filter(|s| matches!(s.restore, Ok(ref r) if !matches!(r, Restore::Nothing(_))))
        .count();
    let left_alone = if blocked > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    };
    if args.diff {
        return Ok(left_alone);
    }
    if args.dry_run {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            "Server-side dry run (nothing is changed):".bold()
        )?;
        let mut refused = 0;
        for plan in plans.iter().filter(|p| !p.blocked()) {
            let outcome = undo::undo(plan, &cluster, None)?;
            refused += usize::from(matches!(outcome, Outcome::Refused { .. }));
            writeln!(out, "  {}: {}", plan.finding, outcome_text(&outcome, true))?;
        }
        return Ok(if refused > 0 { Exit::Error } else { left_alone });
    }
    let mut journal = Journal::append(&run)?;
    if writes > 0 {
        super::confirm(
            args.yes,
            ctx,
            &format!("undoing {writes} change(s)"),
            &format!("Undo {writes} change(s) on {}?", run.source),
        )?;
    }
    writeln!(out)?;
    let (mut failed, mut left) = (0, 0);
    for plan in &plans {
        let outcome = undo::undo(plan, &cluster, Some(&mut journal))?;
        match outcome {
            Outcome::Restored => {}
            Outcome::LeftAlone => left += 1,
            Outcome::Refused { .. } | Outcome::Failed { .. } => failed += 1,
        }
        writeln!(out, "  {}: {}", plan.finding, outcome_text(&outcome, false))?;
    }
    Ok(if failed > 0 {
        Exit::Error
    } else if left > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

/// Why the cluster here is not the one the run changed, if it is not.
fn other_cluster(run: &ClusterIdentity, here: &ClusterIdentity) -> Option<String> {
    match (&run.uid, &here.uid) {
        (Some(then), Some(now)) if then != now => Some(format!(
            "its kube-system namespace was {then}, here it is {now} ({})",
            here.server
        )),
        (Some(_), Some(_)) => None,
        (Some(_), None) => Some(format!(
            "cannot tell which cluster {} is (its kube-system namespace cannot be read)",
            here.server
        )),
        // A journal without the identity: the server URL is all there is.
        (None, _) if run.server != here.server => Some(format!(
            "it was at {}, this context points at {}",
            run.server, here.server
        )),
        (None, _) => None,
    }
}

fn print_plan(plan: &GroupPlan, color: bool, out: &mut dyn Write) -> Result<()> {
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
    target: &crate::cluster::ObjectRef,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let yaml = |v: Option<&Value>| {
        v.map(|v| {
            let mut shown = content(v);
            redact::redact(&mut shown);
            diff::yaml(&shown)
        })
        .unwrap_or_default()
    };
    let text = diff::unified(
        &yaml(now),
        &yaml(after),
        &format!("{target} (cluster)"),
        &format!("{target} (after undo)"),
        color,
    );
    for line in text.lines() {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

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

fn list(paths: &[PathBuf], dir: &std::path::Path, out: &mut dyn Write) -> Result<Exit> {
    if paths.is_empty() {
        writeln!(out, "No runs journaled in {}.", dir.display())?;
        return Ok(Exit::Ok);
    }
    for path in paths {
        let run = match Run::read(path) {
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
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(server: &str, uid: Option<&str>) -> ClusterIdentity {
        ClusterIdentity {
            server: server.into(),
            uid: uid.map(String::from),
        }
    }

    #[test]
    fn the_cluster_is_known_by_its_kube_system_uid_not_its_url() {
        let in_cluster = "https://kubernetes.default.svc";
        // The same URL names many clusters.
        assert!(other_cluster(&id(in_cluster, Some("a")), &id(in_cluster, Some("b"))).is_some());
        // One cluster reached through two URLs is one cluster.
        assert!(
            other_cluster(
                &id(in_cluster, Some("a")),
                &id("https://127.0.0.1:6443", Some("a"))
            )
            .is_none()
        );
        // Unknown here: refused rather than guessed.
        assert!(other_cluster(&id(in_cluster, Some("a")), &id(in_cluster, None)).is_some());
        // A journal without the uid: the URL decides.
        assert!(other_cluster(&id("https://a", None), &id("https://a", Some("x"))).is_none());
        assert!(other_cluster(&id("https://a", None), &id("https://b", Some("x"))).is_some());
    }

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
