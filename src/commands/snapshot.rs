//! `mlopsctl snapshot save DIR`: collect what the selected checks read from the
//! cluster and write it, redacted, in the snapshot layout.

use std::io::IsTerminal;

use anyhow::Result;

use super::Exit;
use crate::catalogue::Catalogue;
use crate::cli::SnapshotSaveArgs;
use crate::collect::{self, Options, Plan, Scope};
use crate::snapshot;

pub fn save(args: &SnapshotSaveArgs) -> Result<Exit> {
    let catalogue = Catalogue::load(&args.checks.dirs)?;
    let checks = catalogue.select(&args.select, &args.ignore)?;
    let live = collect::live(
        &args.cluster,
        &Scope::from_flags(args.namespace.as_deref(), args.all_namespaces),
        &Plan::for_checks(&checks),
        Options {
            progress: std::io::stderr().is_terminal() && !args.quiet,
            keep_raw: true,
        },
    )?;
    let saved = snapshot::save(&args.dir, &live.raw, &live.view)?;
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
