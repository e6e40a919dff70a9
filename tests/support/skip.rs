//! The one way a test says it did not run for lack of a tool or asset.

use std::io::Write as _;

/// Print `skipped: {why}` past the test harness's capture, so the line shows
/// in a passing run and `.ci/run` can find it.
pub fn skipped(why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}
