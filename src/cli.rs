//! Command-line flags, in kubectl's habits (`-n`, `-A`, `-o`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::findings::Severity;

/// `0.1.0 (commit 1a2b3c4d5e6f, x86_64-unknown-linux-gnu)`: what a bug report needs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("MLOPSCTL_COMMIT"),
    ", ",
    env!("MLOPSCTL_TARGET"),
    ")"
);
use crate::render::Format;

#[derive(Debug, Parser)]
#[command(
    name = "mlopsctl",
    version = VERSION,
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
    /// Plan the fixes of the findings, show their diffs, apply them (journaled), and verify.
    Fix(FixArgs),
    /// Restore what a `fix` run changed, from its journal.
    Undo(UndoArgs),
    /// List the check catalogue.
    Checks(ChecksArgs),
    /// Print a check's documentation.
    Explain(ExplainArgs),
    /// Run doctor every --interval and serve the last run's metrics (/metrics), JSON
    /// report (/report), /healthz and /readyz over HTTP. Never writes to the cluster.
    Serve(ServeArgs),
    /// Capture what `doctor` reads from a cluster into a snapshot directory.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Read a snapshot (a directory in the snapshot layout, or one file) instead of a cluster.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Write the report to this file; a one-line summary still goes to stdout.
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
    /// Exit 1 also when a check was skipped (forbidden, not installed, not collected).
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 even when findings fail the gate (errors still exit 2).
    #[arg(long, conflicts_with = "strict")]
    pub exit_zero: bool,
    /// Only fail on findings not in this baseline (see --write-baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Store the current findings as a baseline, for --baseline.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Print counts per code instead of the findings.
    #[arg(long)]
    pub statistics: bool,
    /// Print only the report, no hints.
    #[arg(short, long)]
    pub quiet: bool,
    /// Check every context of the kubeconfig, a few at a time, into one fleet report.
    #[arg(long, conflicts_with_all = ["snapshot", "context"])]
    pub all_contexts: bool,
    /// Also PUT the run's metrics (see -o prometheus) to the Pushgateway at this URL,
    /// e.g. http://pushgateway:9091, grouped as job=mlopsctl, instance=the report's source.
    #[arg(long, value_name = "URL", value_parser = crate::push::parse_base)]
    pub push_url: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Read a snapshot instead of a cluster, on every run (for tests and demos).
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only report findings not in this baseline (see doctor --write-baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// The address to serve on (use 127.0.0.1:0 for any free loopback port).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9464")]
    pub listen: std::net::SocketAddr,
    /// How often to run, from one run's start to the next's (e.g. 10m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub interval: Duration,
    /// Give up on a run after this long: it counts as failed and the last good report stays.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_duration)]
    pub run_deadline: Duration,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// How to reach a live cluster, in kubectl's habits.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, which may list several files, then
    /// ~/.kube/config, then the in-cluster service account).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current-context). `doctor` takes
    /// several, comma-separated, for one fleet report.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Give up on one API request after this long (e.g. 10s, 500ms, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Give up on connecting to the API server after this long.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Give up on the whole collection after this long.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// List objects in pages of this many (kubectl's --chunk-size).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_size: u32,
    /// Read Kafka at this address (HOST:PORT, e.g. through a port-forward).
    /// Without it, Kafka is read only from inside the cluster, at the address
    /// Seldon is configured with.
    #[arg(long, value_name = "HOST:PORT")]
    pub kafka_bootstrap: Option<String>,
    /// A librdkafka property for reaching Kafka (SASL/SSL), e.g. security.protocol=SASL_SSL.
    #[arg(long = "kafka-config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub kafka_config: Vec<(String, String)>,
}

impl ClusterArgs {
    /// The connection settings the collector and the write path take.
    pub fn settings(&self) -> crate::collect::Settings {
        crate::collect::Settings {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            chunk_size: self.chunk_size,
            kafka_bootstrap: self.kafka_bootstrap.clone(),
            kafka_config: self.kafka_config.clone(),
        }
    }
}

/// `KEY=VALUE` into its two halves.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// `10s`, `500ms`, `2m`, `1h`, or plain seconds (`30`), as kubectl's `--request-timeout` takes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 10s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}`: use ms, s, m or h"
            ));
        }
    };
    if seconds <= 0.0 || !seconds.is_finite() {
        return Err(format!("`{text}`: a timeout must be more than zero"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Collect from the cluster what the selected checks read and write it to DIR in the
    /// snapshot layout, with Secret values and credential-like env values redacted.
    Save(SnapshotSaveArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotSaveArgs {
    /// The directory to write (created; must be empty if it exists).
    pub dir: PathBuf,
    /// Collect what doctor with these flags would read.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    /// Only fix the findings of these checks (codes or prefixes); every check when none.
    #[arg(value_name = "CODES", value_delimiter = ',')]
    pub codes: Vec<String>,
    /// Read a snapshot (a directory in the snapshot layout, or one file) instead of a cluster.
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// A value a fix needs, e.g. `--set MODEL_TYPE=LSTM`; `OBJECT/KEY=VALUE` for one object only.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Include unsafe fixes (restarts, resource changes); without it they are listed as skipped.
    #[arg(long = "unsafe")]
    pub unsafe_fixes: bool,
    /// Write the planned patches to this file (YAML with one kubectl command each).
    #[arg(long, value_name = "FILE")]
    pub patch_file: Option<PathBuf>,
    /// Change nothing: `server` (the default) sends every change with dryRun=All and
    /// reports what the API server says; `client` only prints the plan.
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, default_missing_value = "server")]
    pub dry_run: Option<DryRun>,
    /// Print the plan with the diff of each object, then exit.
    #[arg(long)]
    pub diff: bool,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
    /// Where run journals are written (default: $XDG_STATE_HOME/mlopsctl/journal).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
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
    #[command(flatten)]
    pub checks: CatalogueArgs,
    /// Config file (default: .mlopsctl.yaml in this directory or above).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Send each change with dryRun=All: the API server validates it, stores nothing.
    Server,
    /// Print the plan only.
    Client,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The run to undo (default: the last one).
    #[arg(value_name = "RUN-ID", conflicts_with = "list")]
    pub run: Option<String>,
    /// List the journaled runs and what each changed.
    #[arg(long)]
    pub list: bool,
    /// Restore fields the fix changed that someone changed again since (only those fields).
    #[arg(long)]
    pub force: bool,
    /// Undo a run that changed another cluster than the context's (known by its
    /// kube-system namespace's uid).
    #[arg(long)]
    pub allow_other_cluster: bool,
    /// Print what undo would change, as diffs, then exit.
    #[arg(long, conflicts_with = "dry_run")]
    pub diff: bool,
    /// Send every restore with dryRun=All and report what the API server says; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Undo without asking (required when stdin is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
    /// Where run journals are (default: $XDG_STATE_HOME/mlopsctl/journal).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Which namespaces and which checks: the same for doctor and snapshot save,
/// so a saved snapshot holds what doctor would have read.
#[derive(Debug, Args)]
pub struct ScopeArgs {
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
    /// Config file (default: .mlopsctl.yaml in this directory or above).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
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
    #[command(subcommand)]
    pub action: Option<ChecksAction>,
    #[command(flatten)]
    pub checks: CatalogueArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Subcommand)]
pub enum ChecksAction {
    /// Run a check pack's tests: DIR holds check files and tests/<case>/ folders,
    /// each with a snapshot/ and an expect.yaml of what must and must not fire.
    Test {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The check code, e.g. WKL001.
    pub code: String,
    #[command(flatten)]
    pub checks: CatalogueArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_kubectl_takes_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }
}
