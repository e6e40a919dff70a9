//! `mlopsctl undo [RUN-ID]`: restore what a `fix` run changed, newest change
//! first, from the run's journal; `--list` shows the journaled runs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use colored::Colorize;

use super::{Context, Exit};
use crate::changes::client::KubeCluster;
use crate::changes::journal::{self, Journal, Run, State};
use crate::changes::undo::{Undone, undo};
use crate::cli::UndoArgs;

pub fn run(args: &UndoArgs, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    colored::control::set_override(ctx.style.color);
    let Some(dir) = args.journal_dir.clone().or_else(|| ctx.journal_dir.clone()) else {
        bail!("no journal directory: set XDG_STATE_HOME or HOME, or pass --journal-dir DIR");
    };
    let paths = journal::runs(&dir)?;
    if args.list {
        return list(&paths, &dir, out);
    }
    let path = match &args.run {
        Some(id) => {
            let path = dir.join(format!("{id}.jsonl"));
            if !path.is_file() {
                bail!(
                    "no run {id} in {}: `mlopsctl undo --list` shows the runs",
                    dir.display()
                );
            }
            path
        }
        None => match paths.last() {
            Some(p) => p.clone(),
            None => bail!("no runs journaled in {}: nothing to undo", dir.display()),
        },
    };
    let run = Run::read(&path)?;
    let changes: Vec<_> = run.to_undo().collect();
    if changes.is_empty() {
        writeln!(out, "Run {} has nothing left to undo.", run.id)?;
        return Ok(Exit::Ok);
    }
    let cluster = KubeCluster::connect(&args.cluster)?;
    if cluster.server != run.server && !args.force {
        bail!(
            "run {} changed the cluster at {}, but this context points at {}: pick its context \
             with --context, or pass --force",
            run.id,
            run.server,
            cluster.server
        );
    }
    let mut journal = Journal::append(&run)?;
    writeln!(
        out,
        "{}",
        format!(
            "Undoing run {} ({} change(s), newest first)",
            run.id,
            changes.len()
        )
        .bold()
    )?;
    let (mut refused, mut failed) = (0, 0);
    for change in changes {
        let outcome = undo(change, &cluster, &mut journal, args.force)?;
        let text = match &outcome {
            Undone::Restored => "restored".green().to_string(),
            Undone::AlreadyAsBefore => "already as before the fix".to_string(),
            Undone::Refused(why) => {
                refused += 1;
                format!("left alone: {why}").yellow().to_string()
            }
            Undone::Failed(why) => {
                failed += 1;
                format!("failed: {why}").red().to_string()
            }
        };
        writeln!(
            out,
            "  #{} {} ({}): {text}",
            change.seq, change.operation.target, change.finding
        )?;
    }
    Ok(if failed > 0 {
        Exit::Error
    } else if refused > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

fn list(paths: &[PathBuf], dir: &std::path::Path, out: &mut dyn Write) -> Result<Exit> {
    if paths.is_empty() {
        writeln!(out, "No runs journaled in {}.", dir.display())?;
        return Ok(Exit::Ok);
    }
    for path in paths {
        let run = match Run::read(path) {
            Ok(run) => run,
            Err(e) => {
                writeln!(out, "{}: {e:#}", path.display())?;
                continue;
            }
        };
        let count = |f: fn(&State) -> bool| run.changes.iter().filter(|c| f(&c.state)).count();
        let applied = count(|s| matches!(s, State::Applied { .. }));
        let undone = count(|s| matches!(s, State::Undone));
        let refused = count(|s| matches!(s, State::Refused { .. }));
        let interrupted = count(|s| matches!(s, State::Interrupted));
        let mut parts = vec![format!("{applied} applied")];
        for (n, what) in [
            (undone, "undone"),
            (refused, "refused"),
            (interrupted, "interrupted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        writeln!(
            out,
            "{}  {}  {} at {}: {}",
            run.id.bold(),
            run.started,
            run.source,
            run.server,
            parts.join(", ")
        )?;
        let mut findings: Vec<&str> = run.changes.iter().map(|c| c.finding.as_str()).collect();
        findings.dedup();
        for f in findings {
            writeln!(out, "    {f}")?;
        }
    }
    Ok(Exit::Ok)
}
