//! `mlopsctl fix`: collect, check, plan the findings' operations, show each as
//! a diff of the object before → after; live ([`live`]), apply them journaled
//! and verify by collecting again; from a snapshot, where nothing can be
//! applied, verify on a copy of the snapshot and write the patches to
//! `--patch-file`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};
use colored::Colorize;
use serde::Serialize;
use serde_json::Value;

mod live;

use super::{Context, Exit, Setup};
use crate::changes::journal;
use crate::cli::FixArgs;
use crate::cluster::{ClusterView, ObjectRef};
use crate::collect::Scope;
use crate::pipeline::{self, Pipeline, Source};
use crate::plan::restart::NOW;
use crate::plan::{
    self, Change, Inputs, Operation, Plan, Planned, Status, Verification, diff, objects,
};
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
    colored::control::set_override(ctx.style.color);
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

/// Checks that failed to run, said before the plan; their findings (and
/// fixes) are unknown, so the run ends with exit 2 whatever else happens.
fn report_errored(report: &Report, out: &mut dyn Write) -> Result<bool> {
    let mut any = false;
    for c in report.errored() {
        any = true;
        writeln!(
            out,
            "{}",
            format!(
                "{} failed to run: {}",
                c.code,
                c.reason.as_deref().unwrap_or_default()
            )
            .red()
        )?;
    }
    Ok(any)
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
    print_plan(
        &plan,
        &view,
        "snapshot",
        &failed,
        ready_text,
        ctx.style.color,
        out,
    )?;
    print_verification(
        "Verify (the checks again on a copy of the snapshot with the changes)",
        &verification,
        plan.ready().next().is_some(),
        out,
    )?;
    if let Some(file) = &args.patch_file {
        let text = patch_file(path, &applied);
        std::fs::write(file, text)
            .with_context(|| format!("cannot write patches to {}", file.display()))?;
        writeln!(
            out,
            "{} patch{} written to {}: run the kubectl command of each entry to apply it",
            applied.len(),
            if applied.len() == 1 { "" } else { "es" },
            file.display()
        )?;
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

/// The plan: each fix with its status, operations and diffs. `failed` holds,
/// for each ready fix in order, why it could not be applied (if known yet).
fn print_plan(
    plan: &Plan,
    view: &ClusterView,
    source: &str,
    failed: &[Option<String>],
    ready_text: &str,
    color: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let ready = plan.ready().count();
    writeln!(
        out,
        "{}",
        format!(
            "{} fix{} planned, {ready} ready; {} finding{} without an automatic fix",
            plan.planned.len(),
            if plan.planned.len() == 1 { "" } else { "es" },
            plan.unfixable.len(),
            if plan.unfixable.len() == 1 { "" } else { "s" },
        )
        .bold()
    )?;
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
            print_operation(op, view, source, color, out)?;
        }
    }
    if !plan.unfixable.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", "Without an automatic fix:".bold())?;
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

fn print_operation(
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
            // Credentials in the object are shown redacted, like everywhere else.
            let yaml = |v: Option<&Value>| {
                v.map(|v| {
                    let mut shown = v.clone();
                    crate::snapshot::redact(&mut shown);
                    diff::yaml(&shown)
                })
                .unwrap_or_default()
            };
            let text = diff::unified(
                &yaml(before.as_ref()),
                &yaml(after.as_ref()),
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

fn print_verification(
    title: &str,
    v: &Verification,
    applied: bool,
    out: &mut dyn Write,
) -> Result<()> {
    if !applied {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        format!(
            "{title}: {} cleared, {} remaining, {} new",
            v.cleared.len(),
            v.remaining.len(),
            v.new.len()
        )
        .bold()
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
fn patch_file(snapshot: &Path, applied: &[&Planned]) -> String {
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
