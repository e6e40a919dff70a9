//! `mlopsctl snapshot save DIR`: collect what the selected checks read from the
//! cluster and write it, redacted, in the snapshot layout.

use std::io::IsTerminal;

use anyhow::Result;

use super::{Context, Exit, Setup};
use crate::cli::SnapshotSaveArgs;
use crate::collect::{self, Options, Plan, Scope};
use crate::snapshot;

pub fn save(args: &SnapshotSaveArgs, ctx: &Context) -> Result<Exit> {
    // The same selection and scope as `doctor` with the same flags and config,
    // so the saved snapshot holds what doctor would have read.
    let setup = Setup::of(&args.scope, ctx)?;
    let checks = setup.checks(&args.scope.select, &args.scope.ignore)?;
    let namespace = setup.namespace(&args.scope);
    let live = collect::live(
        &args.cluster.settings(),
        &Scope::from_flags(namespace, args.scope.all_namespaces),
        &Plan::for_checks(&checks),
        Options {
            progress: std::io::stderr().is_terminal() && !args.quiet,
            keep_raw: true,
        },
    )?;
    // Public values a selected check judges (well-known default
    // credentials) stay, so the snapshot is judged as the cluster was.
    let keep = |name: &str, value: &str| checks.iter().any(|c| c.analyzer.is_public(name, value));
    let saved = snapshot::save(&args.dir, &live.raw, &live.view, &keep)?;
    if !args.quiet {
        // A log line, not a report: stdout stays empty.
        eprintln!(
            "saved {} objects of {} kinds, {} logs and {} coverage gaps from {} to {} \
             (Secret values and credential-like env values redacted)",
            saved.objects,
            saved.kinds,
            saved.logs,
            saved.gaps,
            live.source,
            args.dir.display()
        );
    }
    Ok(Exit::Ok)
}
