//! `mlopsctl doctor`: collect, check, render, exit code.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::{Result, bail};

use super::Exit;
use crate::catalogue::Catalogue;
use crate::cli::DoctorArgs;
use crate::render::{self, Style};
use crate::{engine, snapshot};

pub fn run(args: &DoctorArgs, style: Style, out: &mut dyn Write) -> Result<Exit> {
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    let checks = catalogue.select(&args.select, &args.ignore)?;
    let Some(path) = &args.snapshot else {
        bail!(
            "no cluster source: live clusters are not supported by this build yet; \
             capture one with `kubectl get … -o yaml` and pass it with --snapshot PATH"
        );
    };
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
    let report = engine::run(&checks, &view, format!("snapshot {}", path.display()));
    render::render(&report, args.output, style, out)?;
    Ok(if report.fails(args.fail_on.threshold()) {
        Exit::Findings
    } else {
        Exit::Ok
    })
}
