//! One renderer per output format. Renderers only print what the Report holds;
//! they decide nothing. Only the table renderer styles its output.

mod json;
mod table;

use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;

use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A coloured table for people.
    Table,
    /// The versioned JSON report (see the README for the schema).
    Json,
}

/// Resolved once from flags, the environment and the terminal; renderers read
/// nothing else.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    /// Terminal width for wrapping tables, when known.
    pub width: Option<u16>,
}

pub fn render(report: &Report, format: Format, style: Style, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => table::render(report, style, out),
        Format::Json => json::render(report, out),
    }
}
