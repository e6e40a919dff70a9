//! From scope to findings, the one way `doctor`, `fix` (every pass, live
//! and from a snapshot) and `checks test` get them: collect (a live cluster
//! or a snapshot, narrowed to `-n`) → the selected checks → suppressions
//! (annotations, the config file's rules, a baseline). A finding a team
//! suppressed is suppressed everywhere: `fix` never plans a change for it.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Instant, SystemTime};

use anyhow::{Result, bail};

use crate::catalogue::Check;
use crate::cluster::ClusterView;
use crate::collect::{self, Options, Plan, Scope, Settings};
use crate::config::Suppression;
use crate::report::baseline::Baseline;
use crate::report::{Report, Timing, engine, suppress};
use crate::snapshot;

/// Where the objects come from.
pub enum Source<'a> {
    /// A snapshot directory or file, narrowed to one namespace with `-n`.
    Snapshot {
        path: &'a Path,
        namespace: Option<&'a str>,
    },
    /// A live cluster.
    Live {
        cluster: &'a Settings,
        scope: Scope,
        progress: bool,
    },
}

/// What the pipeline judged, and on what.
pub struct Judged {
    pub view: ClusterView,
    pub report: Report,
}

/// The checks and the suppressions that apply to their findings.
pub struct Pipeline<'a> {
    pub checks: Vec<&'a Check>,
    /// The config file's suppression rules, and where they come from.
    pub rules: &'a [Suppression],
    pub origin: String,
    /// `YYYY-MM-DD`, for rules that expire.
    pub today: &'a str,
    /// Findings accepted in a baseline file (its path, for the report).
    pub baseline: Option<(Baseline, String)>,
}

impl Pipeline<'_> {
    /// Collect from the source, then judge.
    pub fn run(&self, source: &Source<'_>) -> Result<Judged> {
        let started = SystemTime::now();
        let clock = Instant::now();
        let (view, label) = match source {
            Source::Snapshot { path, namespace } => (
                load_snapshot(path, *namespace)?,
                format!("snapshot {}", path.display()),
            ),
            Source::Live {
                cluster,
                scope,
                progress,
            } => {
                let live = collect::live(
                    cluster,
                    scope,
                    &Plan::for_checks(&self.checks),
                    Options {
                        progress: *progress,
                        ..Options::default()
                    },
                )?;
                (live.view, live.source)
            }
        };
        let mut report = self.judge(&view, label);
        report.timing = Some(Timing {
            started,
            duration: clock.elapsed(),
        });
        Ok(Judged { view, report })
    }

    /// Run the checks on a view and move the suppressed findings aside.
    pub fn judge(&self, view: &ClusterView, source: String) -> Report {
        self.judge_with(&self.checks, view, source)
    }

    /// [`judge`](Self::judge) with some of the checks only (a fix re-planned
    /// by its own check).
    pub fn judge_with(&self, checks: &[&Check], view: &ClusterView, source: String) -> Report {
        let mut report = engine::run(checks, view, source);
        suppress::apply(
            &mut report,
            view,
            self.rules,
            &self.origin,
            self.today,
            self.baseline.as_ref().map(|(b, p)| (b, p.as_str())),
        );
        report
    }
}

/// A snapshot, narrowed to `namespace` when one is given.
pub fn load_snapshot(path: &Path, namespace: Option<&str>) -> Result<ClusterView> {
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
