//! What `mlopsctl checks test` prints: PASS or FAIL per case, with why.

use std::io::Write;

use anyhow::Result;
use colored::Colorize;

/// One case: PASS, or FAIL and its problems.
pub fn case(name: &str, problems: &[String], out: &mut dyn Write) -> Result<()> {
    if problems.is_empty() {
        writeln!(out, "{} {name}", "PASS".green())?;
    } else {
        writeln!(out, "{} {name}", "FAIL".red())?;
        for p in problems {
            writeln!(out, "     {p}")?;
        }
    }
    Ok(())
}

/// A check of the pack that fires in no case: its conditions may match nothing.
pub fn never_fires(code: &str, out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "{} {code} never fires in its tests: add a case where it must fire (its conditions may match nothing)",
        "FAIL".red(),
    )?;
    Ok(())
}
