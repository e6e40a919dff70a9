//! One module per subcommand: each turns parsed flags into work and output.

pub mod catalogue;
pub mod doctor;
pub mod fix;
pub mod fleet;
pub mod pack;
pub mod serve;
pub mod snapshot;
pub mod undo;

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::ColorChoice;
use crate::render::Style;

/// Process exit codes (DESIGN.md): stable, one meaning each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Healthy, or only findings below `--fail-on`.
    Ok = 0,
    /// Findings at or above `--fail-on`.
    Findings = 1,
    /// The tool could not do its job.
    Error = 2,
}

/// What commands need from the process environment, resolved once in `main`
/// so nothing below reads the environment or asks whether it is a terminal.
#[derive(Debug, Clone)]
pub struct Context {
    pub style: Style,
    pub cwd: PathBuf,
    /// `YYYY-MM-DD` in UTC, for suppression expiry.
    pub today: String,
    /// stdin and stderr are terminals: a person can be asked to confirm.
    pub interactive: bool,
    /// Where `fix` journals runs unless `--journal-dir` says otherwise.
    pub journal_dir: Option<PathBuf>,
}

/// Ask before changing a cluster: `--yes` answers; else a person on a
/// terminal is asked `question`; elsewhere nothing is changed. `doing` says
/// what is refused: "applying 3 change(s)".
pub fn confirm(yes: bool, ctx: &Context, doing: &str, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !ctx.interactive {
        anyhow::bail!(
            "not {doing} without confirmation: pass --yes (or --dry-run to see what the API \
             server would say); nothing was changed"
        );
    }
    if ask(question)? {
        Ok(())
    } else {
        anyhow::bail!("not confirmed: nothing was changed")
    }
}

/// `question [y/N]` on stderr, the answer from stdin.
pub fn ask(question: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// A day in UTC, `YYYY-MM-DD`, for suppression expiry: `main` takes today's
/// once, `serve` each run's.
pub fn utc_date(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Table width when stdout is not a terminal.
pub const DEFAULT_WIDTH: u16 = 160;

/// Colour and width, resolved once from the flag, `NO_COLOR` and the terminal.
pub fn resolve_style(choice: ColorChoice, no_color_env: bool) -> Style {
    let tty = std::io::stdout().is_terminal();
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && !no_color_env,
    };
    // Off a terminal, wrap at a width that reads well in CI logs and files.
    let width = if tty { None } else { Some(DEFAULT_WIDTH) };
    Style { color, width }
}

/// The config file and the catalogue with the config's overrides: loaded the
/// same way by doctor, fix and snapshot save.
pub struct Setup {
    pub config: crate::config::Config,
    pub catalogue: crate::catalogue::Catalogue,
}

impl Setup {
    /// The config and checks that `--config` and `--checks-dir` name.
    pub fn of(scope: &crate::cli::ScopeArgs, ctx: &Context) -> anyhow::Result<Setup> {
        Setup::load(scope.config.as_deref(), &scope.checks.dirs, ctx)
    }

    /// The pipeline of the checks `--select` and `--ignore` leave, with a
    /// baseline when given.
    pub fn scoped_pipeline<'a>(
        &'a self,
        scope: &crate::cli::ScopeArgs,
        today: &'a str,
        baseline: Option<&std::path::Path>,
    ) -> anyhow::Result<crate::pipeline::Pipeline<'a>> {
        self.pipeline(&scope.select, &scope.ignore, today, baseline)
    }

    pub fn load(
        config: Option<&std::path::Path>,
        check_dirs: &[PathBuf],
        ctx: &Context,
    ) -> anyhow::Result<Setup> {
        let config = crate::config::Config::load(config, &ctx.cwd)?;
        let overrides = crate::catalogue::Overrides {
            severity: config.severity.clone(),
            params: config.params.clone(),
            origin: config.origin(),
        };
        let catalogue = crate::catalogue::Catalogue::load_with(check_dirs, &overrides)?;
        Ok(Setup { config, catalogue })
    }

    /// The checks `--select` names (else the config's `select`), less `--ignore`
    /// and the config's `ignore`.
    pub fn checks(
        &self,
        select: &[String],
        ignore: &[String],
    ) -> anyhow::Result<Vec<&crate::catalogue::Check>> {
        let select = if select.is_empty() {
            &self.config.select
        } else {
            select
        };
        let ignore: Vec<String> = ignore.iter().chain(&self.config.ignore).cloned().collect();
        self.catalogue.select(select, &ignore)
    }

    /// The pipeline of these checks with the config's suppressions and, when
    /// given, a baseline.
    pub fn pipeline<'a>(
        &'a self,
        select: &[String],
        ignore: &[String],
        today: &'a str,
        baseline: Option<&std::path::Path>,
    ) -> anyhow::Result<crate::pipeline::Pipeline<'a>> {
        let baseline = baseline
            .map(|p| {
                crate::report::baseline::Baseline::read(p).map(|b| (b, p.display().to_string()))
            })
            .transpose()?;
        Ok(crate::pipeline::Pipeline {
            checks: self.checks(select, ignore)?,
            rules: &self.config.suppressions,
            origin: self.config.origin(),
            today,
            baseline,
        })
    }

    /// The namespace to look at: none with `-A`, else `-n`, else the config's.
    pub fn namespace<'a>(&'a self, scope: &'a crate::cli::ScopeArgs) -> Option<&'a str> {
        if scope.all_namespaces {
            None
        } else {
            scope
                .namespace
                .as_deref()
                .or(self.config.namespace.as_deref())
        }
    }
}
