//! `mlopsctl doctor`: collect, check, suppress, render, gate.

use std::io::{IsTerminal, Write};

use anyhow::{Context as _, Result};

use super::{Context, Exit, Setup};
use crate::cli::DoctorArgs;
use crate::collect::Scope;
use crate::pipeline::Source;
use crate::render::{self, Format};
use crate::report::Report;
use crate::report::baseline::Baseline;

pub fn run(args: &DoctorArgs, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    if let Some(contexts) = super::fleet::contexts(args)? {
        return super::fleet::run(args, &contexts, ctx, out);
    }
    let setup = Setup::of(&args.scope, ctx)?;
    let pipeline = setup.scoped_pipeline(&args.scope, &ctx.today, args.baseline.as_deref())?;
    let namespace = setup.namespace(&args.scope);
    let settings = args.cluster.settings();
    let source = match &args.snapshot {
        Some(path) => Source::Snapshot { path, namespace },
        None => Source::Live {
            cluster: &settings,
            scope: Scope::from_flags(namespace, args.scope.all_namespaces),
            progress: show_progress(args),
        },
    };
    let judged = pipeline.run(&source)?;
    // doctor ends after this report: freeing a big view object by object
    // would take an eighth of the run (10,000 pods) and give nothing back.
    std::mem::forget(judged.view);
    let report = judged.report;
    if let Some(path) = &args.write_baseline {
        Baseline::of(&report.findings).write(path)?;
    }

    let rules: Vec<_> = pipeline.checks.iter().map(|c| &c.spec).collect();
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
    if let Some(url) = &args.push_url {
        // The report is out first: a gateway that is down loses the metrics,
        // not the report.
        out.flush()?;
        crate::push::push(url, &report)?;
    }
    Ok(gate(args, &report))
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
        render::statistics::render(report, args.output, out)
    } else {
        render::render(report, rules, args.output, ctx.style, out)
    }
}

/// The exit code: 2 when a check failed to run; findings at or above
/// `--fail-on`, checks skipped for lack of data under `--strict`;
/// `--exit-zero` reports without gating.
pub(super) fn gate(args: &DoctorArgs, report: &Report) -> Exit {
    // A check that failed to run means the tool did not do its whole job.
    if report.errored().next().is_some() {
        return Exit::Error;
    }
    let skipped = report.checks.iter().any(|c| c.lacks_data());
    let fails = report.fails(args.fail_on.threshold()) || (args.strict && skipped);
    if fails && !args.exit_zero {
        Exit::Findings
    } else {
        Exit::Ok
    }
}
