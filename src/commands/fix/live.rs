//! `mlopsctl fix` against a live cluster: collect, check, plan, confirm, then
//! apply the ready fixes through [`changes::executor`] with a journal, collect
//! again and plan again (isolated fixes go in the next pass) until nothing is
//! left to apply, and verify on the last collection.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Context, Exit, exit_with, fixed_findings, report_errored};
use crate::catalogue::Check;
use crate::changes::client::Cluster as _;
use crate::changes::client::KubeCluster;
use crate::changes::executor::{Executor, Outcome, Replan};
use crate::changes::journal::{ClusterIdentity, Journal};
use crate::cli::{DryRun, FixArgs};
use crate::cluster::{ClusterView, ObjectRef};
use crate::collect::{self, Scope};
use crate::kafka::{RdkafkaTopicAdmin, TopicAdmin};
use crate::pipeline::{Pipeline, Source};
use crate::plan::{self, Inputs, Plan, Planned, Status, objects};
use crate::render;
use crate::report::findings::Finding;

/// Collections at most: the first, then one after each pass of changes. A
/// plan that still has ready fixes after the last did not converge.
pub const MAX_PASSES: usize = 3;

/// How long topic creation may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(15);

pub fn run(
    args: &FixArgs,
    ctx: &Context,
    pipeline: &Pipeline<'_>,
    inputs: &Inputs,
    scope: Scope,
    out: &mut dyn Write,
) -> Result<Exit> {
    let settings = args.cluster.settings();
    let source = Source::Live {
        cluster: &settings,
        scope,
        progress: false,
    };
    let first = pipeline.run(&source)?;
    let errored = report_errored(&first.report, out)?;
    let plan = plan::planner::build(&first.report.findings, inputs, args.unsafe_fixes);
    let ready = plan.ready().count();
    let ready_text = match args.dry_run {
        Some(DryRun::Client) => "ready (dry run: not applied)",
        _ if args.diff => "ready (--diff: not applied)",
        Some(DryRun::Server) => "ready: sent with dryRun=All",
        None => "ready",
    };
    render::fix::plan(
        &plan,
        &first.view,
        "cluster",
        &[],
        ready_text,
        ctx.style.color,
        out,
    )?;
    if args.diff || args.dry_run == Some(DryRun::Client) || ready == 0 {
        if ready == 0 {
            writeln!(out)?;
            writeln!(out, "Nothing to apply.")?;
        }
        let exit = if first.report.findings.is_empty() {
            Exit::Ok
        } else {
            Exit::Findings
        };
        return Ok(exit_with(exit, errored));
    }

    let cluster = KubeCluster::connect(&settings)?;
    let bootstrap = collect::kafka_bootstrap(&settings, &cluster.source, &first.view);
    let admin = match &bootstrap {
        Some(bootstrap) => Some(RdkafkaTopicAdmin::new(
            bootstrap,
            &args.cluster.kafka_config,
            KAFKA_TIMEOUT,
        )?),
        None => None,
    };
    let topics = admin.as_ref().map(|a| a as &dyn TopicAdmin);

    if args.dry_run == Some(DryRun::Server) {
        let mut executor = Executor {
            cluster: &cluster,
            topics,
            journal: None,
        };
        let mut view = first.view;
        render::fix::heading("Server-side dry run (nothing is changed):", out)?;
        let mut refused = 0;
        for p in plan.ready() {
            let outcome = executor.apply(p, &mut replanner(&mut view, pipeline, inputs, args, p));
            if matches!(outcome, Outcome::Failed { .. }) {
                refused += 1;
            }
            render::fix::outcome(&p.label(), &outcome, true, out)?;
        }
        return Ok(exit_with(
            if refused > 0 {
                Exit::Error
            } else {
                Exit::Findings
            },
            errored,
        ));
    }

    let changes: usize = plan.ready().map(|p| p.operations.len()).sum();
    super::super::confirm(
        args.yes,
        ctx,
        &format!("applying {changes} change(s)"),
        &format!("Apply {changes} change(s) to {}?", first.report.source),
    )?;
    // What the person confirmed: the fixes shown ready, and those shown
    // isolated, which later passes apply once the field is free.
    let mut confirmed: BTreeSet<(String, ObjectRef)> = plan
        .planned
        .iter()
        .filter(|p| matches!(p.status, Status::Ready | Status::Isolated { .. }))
        .map(key)
        .collect();
    let dir = match args.journal_dir.clone().or_else(|| ctx.journal_dir.clone()) {
        Some(dir) => dir,
        None => bail!(
            "no place for the journal: set XDG_STATE_HOME or HOME, or pass --journal-dir DIR; \
             nothing was changed"
        ),
    };
    let identity = ClusterIdentity {
        server: cluster.server.clone(),
        uid: cluster.identity(),
    };
    let mut journal = Journal::create(&dir, &identity, &first.report.source)?;

    let initial = first.report.findings;
    let mut view = first.view;
    let mut plan = plan;
    let mut after = initial.clone();
    let mut attempted: BTreeSet<(String, ObjectRef)> = BTreeSet::new();
    let mut deferred: Vec<Planned> = Vec::new();
    let mut done: Vec<Planned> = Vec::new();
    let mut failures = 0;
    let mut converged = false;
    writeln!(out)?;
    for pass in 1..=MAX_PASSES {
        let fresh: Vec<Planned> = plan
            .ready()
            .filter(|p| !attempted.contains(&key(p)) && !deferred.iter().any(|d| key(d) == key(p)))
            .cloned()
            .collect();
        // A fix that was not in the plan the person confirmed (a finding that
        // appeared, or became ready, since) is shown and asked for again, or
        // left for the next run.
        let unconfirmed: Vec<Planned> = fresh
            .iter()
            .filter(|p| !confirmed.contains(&key(p)))
            .cloned()
            .collect();
        if !unconfirmed.is_empty() {
            if confirm_again(args, ctx, &unconfirmed, &view, out)? {
                confirmed.extend(unconfirmed.iter().map(key));
            } else {
                deferred.extend(unconfirmed);
            }
        }
        let ready: Vec<Planned> = fresh
            .into_iter()
            .filter(|p| confirmed.contains(&key(p)))
            .collect();
        if ready.is_empty() {
            converged = true;
            break;
        }
        if pass == MAX_PASSES {
            break;
        }
        render::fix::pass(pass, ready.len(), out)?;
        for p in &ready {
            attempted.insert(key(p));
            let mut executor = Executor {
                cluster: &cluster,
                topics,
                journal: Some(&mut journal),
            };
            let outcome = executor.apply(p, &mut replanner(&mut view, pipeline, inputs, args, p));
            match outcome {
                Outcome::Done { .. } => done.push(p.clone()),
                Outcome::Failed { .. } => failures += 1,
                Outcome::Superseded(_) => {}
            }
            render::fix::outcome(&p.label(), &outcome, false, out)?;
        }
        let again = pipeline.run(&source)?;
        view = again.view;
        after = again.report.findings;
        plan = plan::planner::build(&after, inputs, args.unsafe_fixes);
    }

    // Every selected check ran again, so checks that depended on the fixed
    // ones are verified too.
    let fixed = fixed_findings(&initial, done.iter());
    let verification = plan::verify(&initial, &fixed, &after);
    if !attempted.is_empty() {
        render::fix::verification(
            "Verify (the checks again on the cluster as it is now)",
            &verification,
            out,
        )?;
    }
    render::fix::deferred(&deferred, out)?;
    render::fix::journaled(&journal, out)?;
    if !converged {
        bail!(
            "did not converge: fixes were still ready after {} passes; the journal {} holds \
             every change made",
            MAX_PASSES - 1,
            journal.path().display()
        );
    }
    let exit = if failures > 0 {
        Exit::Error
    } else if verification.is_clean() && plan.planned.is_empty() && plan.unfixable.is_empty() {
        Exit::Ok
    } else {
        Exit::Findings
    };
    Ok(exit_with(exit, errored))
}

/// A fix's identity across passes: its check and its subject.
fn key(p: &Planned) -> (String, ObjectRef) {
    (p.code.clone(), p.subject.clone())
}

/// Fixes not in the confirmed plan: on a terminal without `--yes`, show
/// them with their diffs and ask; otherwise leave them for the next run.
fn confirm_again(
    args: &FixArgs,
    ctx: &Context,
    fixes: &[Planned],
    view: &ClusterView,
    out: &mut dyn Write,
) -> Result<bool> {
    if args.yes || !ctx.interactive {
        return Ok(false);
    }
    render::fix::heading("New since the plan was confirmed:", out)?;
    let plan = Plan {
        planned: fixes.to_vec(),
        unfixable: Vec::new(),
    };
    render::fix::plan(&plan, view, "cluster", &[], "ready", ctx.style.color, out)?;
    out.flush()?;
    let changes: usize = fixes.iter().map(|p| p.operations.len()).sum();
    super::super::ask(&format!("Apply these {changes} change(s) too?"))
}

/// Re-plan one fix on the object as it is now: put it into the view, run the
/// fix's check again (suppressions included), and plan its finding for the
/// same subject.
fn replanner<'a>(
    view: &'a mut ClusterView,
    pipeline: &'a Pipeline<'a>,
    inputs: &'a Inputs,
    args: &'a FixArgs,
    planned: &'a Planned,
) -> impl FnMut(Option<&serde_json::Value>) -> Replan + 'a {
    move |fresh| {
        let target = &planned.operations[0].target;
        if let Err(e) = objects::put(view, target, fresh.cloned()) {
            return Replan::Gone(format!("cannot read {target} again: {e:#}"));
        }
        let check: Vec<&Check> = pipeline
            .checks
            .iter()
            .copied()
            .filter(|c| c.spec.code == planned.code)
            .collect();
        let report = pipeline.judge_with(&check, view, String::new());
        let Some(finding) = report
            .findings
            .iter()
            .find(|f: &&Finding| f.subject == planned.subject)
        else {
            return Replan::Gone(format!(
                "{} changed meanwhile and {} no longer finds a problem there",
                target, planned.code
            ));
        };
        let plan = plan::planner::build(std::slice::from_ref(finding), inputs, args.unsafe_fixes);
        match plan.planned.into_iter().next() {
            Some(p) if p.status == Status::Ready => Replan::Again(Box::new(p)),
            Some(p) => Replan::Gone(format!(
                "{} changed meanwhile and its fix is no longer ready ({:?})",
                target, p.status
            )),
            None => Replan::Gone(format!(
                "{} changed meanwhile and has no automatic fix any more",
                target
            )),
        }
    }
}
