//! One module per subcommand: each turns parsed flags into work and output.

pub mod catalogue;
pub mod doctor;

use std::io::IsTerminal;

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

/// Colour and width, resolved once from the flag, `NO_COLOR` and the terminal.
pub fn resolve_style(choice: ColorChoice, no_color_env: bool) -> Style {
    let tty = std::io::stdout().is_terminal();
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty && !no_color_env,
    };
    Style { color, width: None }
}
