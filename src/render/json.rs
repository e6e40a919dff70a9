//! The JSON report: `Report` serialised as is, pretty-printed, one trailing newline.

use std::io::Write;

use anyhow::Result;

use crate::report::Report;

pub fn render(report: &Report, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)?;
    Ok(())
}
