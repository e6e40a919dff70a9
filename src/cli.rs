//! Command-line flags, in kubectl's habits (`-n`, `-A`, `-o`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::findings::Severity;
use crate::render::Format;

#[derive(Debug, Parser)]
#[command(
    name = "mlopsctl",
    version,
    about = "Diagnose and repair MLOps platforms on Kubernetes"
)]
pub struct Cli {
    /// When to colour output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks and report findings with their causes and fixes.
    Doctor(DoctorArgs),
    /// List the check catalogue.
    Checks(ChecksArgs),
    /// Print a check's documentation.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Read a snapshot (a directory in the snapshot layout, or one file) instead of a cluster.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Only look at this namespace.
    #[arg(
        short,
        long,
        value_name = "NAMESPACE",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// Look at all namespaces.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only run these checks (codes or prefixes, comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub select: Vec<String>,
    /// Do not run these checks (codes or prefixes).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub ignore: Vec<String>,
    #[command(flatten)]
    pub checks: CatalogueArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Print only the report, no hints.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CatalogueArgs {
    /// Add the checks in this directory (a check with a shipped code replaces it).
    #[arg(long = "checks", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Info,
    Never,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Info => Some(Severity::Info),
            FailOn::Never => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct ChecksArgs {
    #[command(flatten)]
    pub checks: CatalogueArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The check code, e.g. WKL001.
    pub code: String,
    #[command(flatten)]
    pub checks: CatalogueArgs,
}
