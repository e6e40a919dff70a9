//! `mlopsctl doctor`: collect, check, suppress, render, gate.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use comfy_table::{Table, presets};
use serde::Serialize;

use super::{Context, Exit, Setup};
use crate::baseline::Baseline;
use crate::cli::DoctorArgs;
use crate::cluster::ClusterView;
use crate::collect::{self, Options, Plan, Scope};
use crate::render::{self, Format};
use crate::report::Report;
use crate::{engine, snapshot, suppress};

pub fn run(args: &DoctorArgs, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    let setup = Setup::load(args.scope.config.as_deref(), &args.scope.checks.dirs, ctx)?;
    let config = &setup.config;
    let checks = setup.checks(&args.scope.select, &args.scope.ignore)?;
    let namespace = setup.namespace(&args.scope);
    let (view, source) = match &args.snapshot {
        Some(path) => (
            load_snapshot(path, namespace)?,
            format!("snapshot {}", path.display()),
        ),
        None => {
            let live = collect::live(
                &args.cluster,
                &Scope::from_flags(namespace, args.scope.all_namespaces),
                &Plan::for_checks(&checks),
                Options {
                    progress: show_progress(args),
                    ..Options::default()
                },
            )?;
            (live.view, live.source)
        }
    };
    let mut report = engine::run(&checks, &view, source);

    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    let baseline_ref = baseline
        .as_ref()
        .zip(args.baseline.as_deref().map(|p| p.display().to_string()));
    suppress::apply(
        &mut report,
        &view,
        &config.suppressions,
        &config.origin(),
        &ctx.today,
        baseline_ref.as_ref().map(|(b, p)| (*b, p.as_str())),
    );
    if let Some(path) = &args.write_baseline {
        Baseline::of(&report.findings).write(path)?;
    }

    let rules: Vec<_> = checks.iter().map(|c| &c.spec).collect();
    match &args.output_file {
        Some(file) => {
            let mut buf = Vec::new();
            emit(args, &report, &rules, ctx, &mut buf)?;
            std::fs::write(file, buf)
                .with_context(|| format!("cannot write report to {}", file.display()))?;
            if !args.quiet {
                writeln!(out, "{}", render::summary_line(&report))?;
                writeln!(out, "report written to {}", file.display())?;
            }
        }
        None => emit(args, &report, &rules, ctx, out)?,
    }
    Ok(gate(args, &report))
}

fn load_snapshot(path: &Path, namespace: Option<&str>) -> Result<ClusterView> {
    let mut view = snapshot::load(path)?;
    if let Some(ns) = namespace {
        if !view.namespace_exists(ns) {
            bail!(
                "namespace {ns} is not in snapshot {}: it holds {}",
                path.display(),
                view.namespace_names().collect::<Vec<_>>().join(", ")
            );
        }
        view.restrict_to(&BTreeSet::from([ns.to_string()]));
    }
    Ok(view)
}

/// Progress only for a person watching a terminal, never around machine output.
fn show_progress(args: &DoctorArgs) -> bool {
    std::io::stderr().is_terminal() && !args.quiet && args.output != Format::Json
}

fn emit(
    args: &DoctorArgs,
    report: &Report,
    rules: &[&crate::catalogue::CheckSpec],
    ctx: &Context,
    out: &mut dyn Write,
) -> Result<()> {
    if args.statistics {
        statistics(report, args.output, out)
    } else {
        render::render(report, rules, args.output, ctx.style, out)
    }
}

/// The exit code: findings at or above `--fail-on`, checks skipped for lack of
/// data under `--strict`; `--exit-zero` reports without gating.
fn gate(args: &DoctorArgs, report: &Report) -> Exit {
    let skipped = report.checks.iter().any(|c| c.lacks_data());
    let fails = report.fails(args.fail_on.threshold()) || (args.strict && skipped);
    if fails && !args.exit_zero {
        Exit::Findings
    } else {
        Exit::Ok
    }
}

#[derive(Serialize)]
struct Stat<'a> {
    code: &'a str,
    severity: &'a str,
    count: usize,
    title: &'a str,
}

/// Findings per code, most frequent first.
fn statistics(report: &Report, format: Format, out: &mut dyn Write) -> Result<()> {
    let mut stats: Vec<Stat> = report
        .checks
        .iter()
        .filter(|c| c.findings > 0)
        .map(|c| Stat {
            code: &c.code,
            severity: c.severity.as_str(),
            count: c.findings,
            title: &c.title,
        })
        .collect();
    stats.sort_by(|a, b| b.count.cmp(&a.count).then(a.code.cmp(b.code)));
    if format == Format::Json {
        serde_json::to_writer_pretty(&mut *out, &stats)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    for s in &stats {
        table.add_row(vec![
            s.count.to_string(),
            s.code.to_string(),
            s.severity.to_string(),
            s.title.to_string(),
        ]);
    }
    writeln!(out, "{table}")?;
    Ok(())
}
