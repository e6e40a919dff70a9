//! mlopsctl: diagnose and repair MLOps platforms on Kubernetes.
//!
//! collect (snapshot) → [`cluster::ClusterView`] → checks ([`analyzers`] via the
//! [`catalogue`]) → [`report::Report`] → [`render`].

pub mod analyzers;
pub mod catalogue;
pub mod cli;
pub mod cluster;
pub mod collect;
pub mod commands;
pub mod engine;
pub mod findings;
pub mod render;
pub mod report;
pub mod snapshot;
pub mod yaml;

use std::io::Write;

use cli::{Cli, Command, SnapshotCommand};
use commands::Exit;

/// Run a parsed command line, writing the report to `out`.
pub fn run(cli: &Cli, no_color_env: bool, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let style = commands::resolve_style(cli.color, no_color_env);
    match &cli.command {
        Command::Doctor(args) => commands::doctor::run(args, style, out),
        Command::Checks(args) => commands::catalogue::list(args, style, out),
        Command::Explain(args) => commands::catalogue::explain(args, style, out),
        Command::Snapshot(SnapshotCommand::Save(args)) => commands::snapshot::save(args),
    }
}
