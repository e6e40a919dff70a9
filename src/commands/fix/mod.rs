//! `mlopsctl fix`: collect, check, plan the findings' operations, show each as
//! a diff of the object before → after; live ([`live`]), apply them journaled
//! and verify by collecting again; from a snapshot, where nothing can be
//! applied, verify on a copy of the snapshot and write the patches to
//! `--patch-file`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

mod live;

use super::{Context, Exit, Setup};
use crate::changes::journal;
use crate::cli::FixArgs;
use crate::collect::Scope;
use crate::pipeline::{self, Pipeline, Source};
use crate::plan::restart::NOW;
use crate::plan::{self, Inputs, Operation, Planned, Status};
use crate::render;
use crate::report::Report;
use crate::report::findings::Finding;

pub fn run(args: &FixArgs, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    let setup = Setup::load(args.config.as_deref(), &args.checks.dirs, ctx)?;
    // The CODES select, as --select does for doctor; the config's select,
    // ignore and suppressions apply as they do for doctor.
    let pipeline = setup.pipeline(&args.codes, &[], &ctx.today, None)?;
    let mut pairs = args.set.clone();
    if !pairs.iter().any(|p| p.starts_with(&format!("{NOW}="))) {
        pairs.insert(0, format!("{NOW}={}", journal::now()));
    }
    let inputs = Inputs::parse(&pairs)?;
    render::use_color(ctx.style.color);
    let namespace = if args.all_namespaces {
        None
    } else {
        args.namespace
            .as_deref()
            .or(setup.config.namespace.as_deref())
    };
    match &args.snapshot {
        Some(path) => from_snapshot(path, namespace, args, ctx, &pipeline, &inputs, out),
        None => {
            let scope = Scope::from_flags(namespace, args.all_namespaces);
            live::run(args, ctx, &pipeline, &inputs, scope, out)
        }
    }
}

/// Checks that failed to run are said before the plan; their findings (and
/// fixes) are unknown, so the run ends with exit 2 whatever else happens.
fn report_errored(report: &Report, out: &mut dyn Write) -> Result<bool> {
    render::fix::errored(report, out)?;
    Ok(report.errored().next().is_some())
}

/// The exit code, or 2 when a check failed to run.
fn exit_with(exit: Exit, errored: bool) -> Exit {
    if errored { Exit::Error } else { exit }
}

/// From a snapshot nothing can be applied: plan, verify on a copy of the
/// snapshot, and write the patches for a person to apply.
fn from_snapshot(
    path: &Path,
    namespace: Option<&str>,
    args: &FixArgs,
    ctx: &Context,
    pipeline: &Pipeline<'_>,
    inputs: &Inputs,
    out: &mut dyn Write,
) -> Result<Exit> {
    let source = Source::Snapshot { path, namespace };
    let first = pipeline.run(&source)?;
    let (view, report) = (first.view, first.report);
    let errored = report_errored(&report, out)?;
    let plan = plan::planner::build(&report.findings, inputs, args.unsafe_fixes);

    // Offline apply: the ready fixes, in order, on a copy of the snapshot.
    let mut changed = pipeline::load_snapshot(path, namespace)?;
    let mut outcomes = Vec::new();
    for p in plan.ready() {
        let ops: Vec<&Operation> = p.operations.iter().collect();
        let results = plan::apply_to_view(&mut changed, &ops)?;
        outcomes.push(results.into_iter().find_map(Result::err));
    }
    let applied: Vec<&Planned> = plan
        .ready()
        .zip(&outcomes)
        .filter(|(_, err)| err.is_none())
        .map(|(p, _)| p)
        .collect();
    let fixed = fixed_findings(&report.findings, applied.iter().copied());
    let after = pipeline.judge(&changed, "verify".into());
    let verification = plan::verify(&report.findings, &fixed, &after.findings);

    let ready_text = if args.patch_file.is_some() {
        "ready, in the patch file"
    } else {
        "ready (pass --patch-file FILE to write it)"
    };
    let failed: Vec<Option<String>> = outcomes
        .iter()
        .map(|o| {
            o.as_ref()
                .map(|e| format!("cannot be applied to the snapshot: {e}"))
        })
        .collect();
    render::fix::plan(
        &plan,
        &view,
        "snapshot",
        &failed,
        ready_text,
        ctx.style.color,
        out,
    )?;
    if plan.ready().next().is_some() {
        render::fix::verification(
            "Verify (the checks again on a copy of the snapshot with the changes)",
            &verification,
            out,
        )?;
    }
    if let Some(file) = &args.patch_file {
        let text = render::fix::patch_file(path, &applied);
        std::fs::write(file, text)
            .with_context(|| format!("cannot write patches to {}", file.display()))?;
        render::fix::patches_written(applied.len(), file, out)?;
    }
    let done = plan.unfixable.is_empty()
        && plan.planned.iter().all(|p| p.status == Status::Ready)
        && outcomes.iter().all(Option::is_none)
        && verification.is_clean();
    Ok(exit_with(
        if done { Exit::Ok } else { Exit::Findings },
        errored,
    ))
}

/// The findings these fixes were made for.
fn fixed_findings<'a, 'p>(
    findings: &'a [Finding],
    fixes: impl Iterator<Item = &'p Planned> + Clone,
) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| {
            fixes
                .clone()
                .any(|p| p.code == f.code && p.subject == f.subject)
        })
        .collect()
}
