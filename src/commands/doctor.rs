//! `mlopsctl doctor`: collect, check, render, exit code.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Result, bail};

use super::Exit;
use crate::catalogue::Catalogue;
use crate::cli::DoctorArgs;
use crate::cluster::ClusterView;
use crate::collect::{self, Options, Plan, Scope};
use crate::render::{self, Style};
use crate::{engine, snapshot};

pub fn run(args: &DoctorArgs, style: Style, out: &mut dyn Write) -> Result<Exit> {
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    let checks = catalogue.select(&args.select, &args.ignore)?;
    let (view, source) = match &args.snapshot {
        Some(path) => (
            load_snapshot(path, args)?,
            format!("snapshot {}", path.display()),
        ),
        None => {
            let live = collect::live(
                &args.cluster,
                &Scope::from_flags(args.namespace.as_deref(), args.all_namespaces),
                &Plan::for_checks(&checks),
                Options {
                    progress: show_progress(args),
                    ..Options::default()
                },
            )?;
            (live.view, live.source)
        }
    };
    let report = engine::run(&checks, &view, source);
    render::render(&report, args.output, style, out)?;
    Ok(if report.fails(args.fail_on.threshold()) {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

fn load_snapshot(path: &Path, args: &DoctorArgs) -> Result<ClusterView> {
    let mut view = snapshot::load(path)?;
    if let Some(ns) = &args.namespace {
        if !view.namespace_exists(ns) {
            bail!(
                "namespace {ns} is not in snapshot {}: it holds {}",
                path.display(),
                view.namespace_names().collect::<Vec<_>>().join(", ")
            );
        }
        view.restrict_to(&BTreeSet::from([ns.clone()]));
    }
    Ok(view)
}

/// Progress only for a person watching a terminal, never around machine output.
fn show_progress(args: &DoctorArgs) -> bool {
    std::io::stderr().is_terminal() && !args.quiet && args.output != render::Format::Json
}
