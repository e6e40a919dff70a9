//! `mlopsctl undo [RUN-ID]`: take back what a `fix` run changed, fix by fix,
//! newest first, from the run's journal. Like `fix`, it shows what it will
//! change as diffs, asks on a terminal and needs `--yes` elsewhere, and
//! supports `--diff` and `--dry-run`; `--list` shows the journaled runs.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};

use super::{Context, Exit};
use crate::changes::client::{Cluster, KubeCluster};
use crate::changes::journal::{self, ClusterIdentity, Journal, Run};
use crate::changes::undo::{self, GroupPlan, Outcome, Restore};
use crate::cli::UndoArgs;
use crate::render;

pub fn run(args: &UndoArgs, ctx: &Context, out: &mut dyn Write) -> Result<Exit> {
    render::use_color(ctx.style.color);
    let Some(dir) = args.journal_dir.clone().or_else(|| ctx.journal_dir.clone()) else {
        bail!("no journal directory: set XDG_STATE_HOME or HOME, or pass --journal-dir DIR");
    };
    let paths = journal::runs(&dir)?;
    if args.list {
        let runs: Vec<(&Path, Result<Run>)> =
            paths.iter().map(|p| (p.as_path(), Run::read(p))).collect();
        render::undo::runs(&runs, &dir, out)?;
        return Ok(Exit::Ok);
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
    let groups = run.to_undo();
    if groups.is_empty() {
        writeln!(out, "Run {} has nothing left to undo.", run.id)?;
        return Ok(Exit::Ok);
    }
    let cluster = KubeCluster::connect(&args.cluster.settings())?;
    let here = ClusterIdentity {
        server: cluster.server.clone(),
        uid: cluster.identity(),
    };
    if let Some(why) = other_cluster(&run.cluster, &here)
        && !args.allow_other_cluster
    {
        bail!(
            "run {} changed another cluster: {why}. Pick its context with --context; \
             --allow-other-cluster undoes it here anyway",
            run.id
        );
    }

    let plans: Vec<GroupPlan> = groups
        .iter()
        .map(|g| undo::plan(g, &cluster, args.force))
        .collect();
    render::undo::title(&run.id, plans.len(), out)?;
    for plan in &plans {
        render::undo::plan(plan, ctx.style.color, out)?;
    }
    let blocked = plans.iter().filter(|p| p.blocked()).count();
    let writes: usize = plans
        .iter()
        .filter(|p| !p.blocked())
        .flat_map(|p| &p.steps)
        .filter(|s| matches!(s.restore, Ok(ref r) if !matches!(r, Restore::Nothing(_))))
        .count();
    let left_alone = if blocked > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    };
    if args.diff {
        return Ok(left_alone);
    }
    if args.dry_run {
        render::fix::heading("Server-side dry run (nothing is changed):", out)?;
        let mut refused = 0;
        for plan in plans.iter().filter(|p| !p.blocked()) {
            let outcome = undo::undo(plan, &cluster, None)?;
            refused += usize::from(matches!(outcome, Outcome::Refused { .. }));
            render::undo::outcome(&plan.finding, &outcome, true, out)?;
        }
        return Ok(if refused > 0 { Exit::Error } else { left_alone });
    }
    let mut journal = Journal::append(&run)?;
    if writes > 0 {
        super::confirm(
            args.yes,
            ctx,
            &format!("undoing {writes} change(s)"),
            &format!("Undo {writes} change(s) on {}?", run.source),
        )?;
    }
    writeln!(out)?;
    let (mut failed, mut left) = (0, 0);
    for plan in &plans {
        let outcome = undo::undo(plan, &cluster, Some(&mut journal))?;
        match outcome {
            Outcome::Restored => {}
            Outcome::LeftAlone => left += 1,
            Outcome::Refused { .. } | Outcome::Failed { .. } => failed += 1,
        }
        render::undo::outcome(&plan.finding, &outcome, false, out)?;
    }
    Ok(if failed > 0 {
        Exit::Error
    } else if left > 0 {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

/// Why the cluster here is not the one the run changed, if it is not.
fn other_cluster(run: &ClusterIdentity, here: &ClusterIdentity) -> Option<String> {
    match (&run.uid, &here.uid) {
        (Some(then), Some(now)) if then != now => Some(format!(
            "its kube-system namespace was {then}, here it is {now} ({})",
            here.server
        )),
        (Some(_), Some(_)) => None,
        (Some(_), None) => Some(format!(
            "cannot tell which cluster {} is (its kube-system namespace cannot be read)",
            here.server
        )),
        // A journal without the identity: the server URL is all there is.
        (None, _) if run.server != here.server => Some(format!(
            "it was at {}, this context points at {}",
            run.server, here.server
        )),
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(server: &str, uid: Option<&str>) -> ClusterIdentity {
        ClusterIdentity {
            server: server.into(),
            uid: uid.map(String::from),
        }
    }

    #[test]
    fn the_cluster_is_known_by_its_kube_system_uid_not_its_url() {
        let in_cluster = "https://kubernetes.default.svc";
        // The same URL names many clusters.
        assert!(other_cluster(&id(in_cluster, Some("a")), &id(in_cluster, Some("b"))).is_some());
        // One cluster reached through two URLs is one cluster.
        assert!(
            other_cluster(
                &id(in_cluster, Some("a")),
                &id("https://127.0.0.1:6443", Some("a"))
            )
            .is_none()
        );
        // Unknown here: refused rather than guessed.
        assert!(other_cluster(&id(in_cluster, Some("a")), &id(in_cluster, None)).is_some());
        // A journal without the uid: the URL decides.
        assert!(other_cluster(&id("https://a", None), &id("https://a", Some("x"))).is_none());
        assert!(other_cluster(&id("https://a", None), &id("https://b", Some("x"))).is_some());
    }
}
