//! One module per subcommand: each turns parsed flags into work and output.

pub mod catalogue;
pub mod doctor;
pub mod fix;
pub mod pack;
pub mod snapshot;

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
