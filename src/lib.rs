//! mlopsctl: diagnose and repair MLOps platforms on Kubernetes.
//!
//! collect (snapshot) → [`cluster::ClusterView`] → checks ([`analyzers`] via the
//! [`catalogue`]) → [`report::Report`] → [`render`].

pub mod analyzers;
pub mod catalogue;
pub mod changes;
pub mod cli;
pub mod cluster;
pub mod collect;
pub mod commands;
pub mod config;
pub mod kafka;
pub mod pipeline;
pub mod plan;
pub mod push;
pub mod rbac;
pub mod render;
pub mod report;
pub mod snapshot;
pub mod yaml;

use std::io::Write;

use clap::CommandFactory;
use cli::{Cli, Command, SnapshotCommand};
use commands::{Context, Exit};

/// Run a parsed command line, writing the report to `out`.
pub fn run(cli: &Cli, ctx: &Context, out: &mut dyn Write) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Doctor(args) => commands::doctor::run(args, ctx, out),
        Command::Fix(args) => commands::fix::run(args, ctx, out),
        Command::Serve(args) => commands::serve::run(args, ctx),
        Command::Undo(args) => commands::undo::run(args, ctx, out),
        Command::Checks(args) => match &args.action {
            Some(cli::ChecksAction::Test { dir }) => commands::pack::test(dir, ctx, out),
            None => commands::catalogue::list(args, ctx.style, out),
        },
        Command::Explain(args) => commands::catalogue::explain(args, ctx.style, out),
        Command::Snapshot(SnapshotCommand::Save(args)) => commands::snapshot::save(args, ctx),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(*shell, &mut cmd, "mlopsctl", out);
            Ok(Exit::Ok)
        }
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(out)?;
            Ok(Exit::Ok)
        }
    }
}
