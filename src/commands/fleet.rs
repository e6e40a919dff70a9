//! `mlopsctl doctor --context a,b,c` and `--all-contexts`: the same doctor
//! run on several clusters at once, one fleet report, the worst exit code. A
//! cluster that cannot be reached is reported and does not stop the others.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result, bail};

use super::{Context, Exit, Setup, doctor};
use crate::cli::DoctorArgs;
use crate::collect::{self, Scope, Settings};
use crate::pipeline::Source;
use crate::render::Format;
use crate::render::fleet::{Fleet, SCHEMA, Unreachable};

/// At most this many clusters are collected at once: each collection already
/// lists kinds concurrently, and a fleet of dozens must not open hundreds of
/// connections from one laptop.
const CONCURRENT_CLUSTERS: usize = 4;

/// The contexts to run on when the flags ask for more than one cluster,
/// in the order given (or the kubeconfig's), without repeats.
pub fn contexts(args: &DoctorArgs) -> Result<Option<Vec<String>>> {
    // A snapshot is one cluster; `--context` means nothing to it.
    if args.snapshot.is_some() {
        return Ok(None);
    }
    let names = if args.all_contexts {
        collect::context_names(&args.cluster.settings())?
    } else {
        match &args.cluster.context {
            Some(list) if list.contains(',') => list
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            _ => return Ok(None),
        }
    };
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    if unique.is_empty() {
        bail!("no contexts to check: the kubeconfig has none");
    }
    Ok(Some(unique))
}

pub fn run(
    args: &DoctorArgs,
    contexts: &[String],
    ctx: &Context,
    out: &mut dyn Write,
) -> Result<Exit> {
    // What has one cluster in it: a SARIF run, a baseline, a metrics push.
    if !matches!(
        args.output,
        Format::Table | Format::Json | Format::Prometheus
    ) {
        bail!(
            "a fleet report is a table, JSON or Prometheus metrics: use -o table, -o json or -o prometheus with several contexts"
        );
    }
    for (set, flag) in [
        (args.statistics, "--statistics"),
        (args.write_baseline.is_some(), "--write-baseline"),
        (args.push_url.is_some(), "--push-url"),
    ] {
        if set {
            bail!("{flag} takes one cluster: pass one --context");
        }
    }
    let setup = Setup::of(&args.scope, ctx)?;
    let pipeline = setup.scoped_pipeline(&args.scope, &ctx.today, args.baseline.as_deref())?;
    let namespace = setup.namespace(&args.scope);
    let base = args.cluster.settings();

    // Workers take the next context until none is left; results keep the
    // order asked for, whichever cluster answers first.
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, Result<crate::report::Report>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..CONCURRENT_CLUSTERS.min(contexts.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(name) = contexts.get(i) else {
                            break;
                        };
                        let settings = Settings {
                            context: Some(name.clone()),
                            ..base.clone()
                        };
                        let source = Source::Live {
                            cluster: &settings,
                            scope: Scope::from_flags(namespace, args.scope.all_namespaces),
                            // Several bars at once would garble the terminal.
                            progress: false,
                        };
                        // The view is dropped here: a fleet keeps reports only.
                        let report = pipeline.run(&source).map(|judged| judged.report);
                        done.push((i, report));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a fleet worker panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);

    let mut fleet = Fleet {
        schema: SCHEMA,
        reports: Vec::new(),
        contexts: Vec::new(),
        unreachable: Vec::new(),
    };
    let mut exit = Exit::Ok;
    for (i, result) in results {
        let cluster_exit = match result {
            Ok(report) => {
                let e = doctor::gate(args, &report);
                fleet.reports.push(report);
                fleet.contexts.push(contexts[i].clone());
                e
            }
            Err(e) => {
                fleet.unreachable.push(Unreachable {
                    context: contexts[i].clone(),
                    error: format!("{e:#}"),
                });
                Exit::Error
            }
        };
        exit = worst(exit, cluster_exit);
    }

    let mut buf = Vec::new();
    let sink: &mut dyn Write = if args.output_file.is_some() {
        &mut buf
    } else {
        &mut *out
    };
    match args.output {
        Format::Json => crate::render::fleet::json(&fleet, sink)?,
        Format::Prometheus => crate::render::fleet::prometheus(&fleet, sink)?,
        _ => crate::render::fleet::table(&fleet, ctx.style, sink)?,
    }
    if let Some(file) = &args.output_file {
        std::fs::write(file, buf)
            .with_context(|| format!("cannot write report to {}", file.display()))?;
        if !args.quiet {
            writeln!(out, "fleet report written to {}", file.display())?;
        }
    }
    Ok(exit)
}

/// Error over findings over healthy.
fn worst(a: Exit, b: Exit) -> Exit {
    if b as u8 > a as u8 { b } else { a }
}
