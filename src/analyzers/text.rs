//! Small text helpers analyzers share for evidence.

/// The last `n` non-empty lines of a log, each cut to a readable length.
pub fn last_lines(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| clip(l, 300))
        .collect()
}

/// Cut a line to at most `max` characters, marking the cut.
pub fn clip(line: &str, max: usize) -> String {
    let line = line.trim_end();
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// A secret as it is shown: not one character of it, nor its length.
pub fn mask(_secret: &str) -> String {
    "****".to_string()
}

/// The plural `s` for a count: `1 restart`, `3 restarts`.
pub fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}

/// The name most like the one asked for, if any is close (a likely typo).
pub fn closest<'a>(wanted: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|n| (strsim::jaro_winkler(wanted, n), *n))
        .filter(|(score, n)| *score >= 0.85 || wanted.starts_with(*n) || n.starts_with(wanted))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_skips_blanks_and_clips() {
        let log = "a\n\nb\nc\n\n";
        assert_eq!(last_lines(log, 2), vec!["b", "c"]);
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(clip("日本語テキスト", 3), "日本語…");
    }

    #[test]
    fn masks_keep_no_secret() {
        // Not a character of it, nor its length.
        assert_eq!(mask("minioadmin"), "****");
        assert_eq!(mask("ab"), "****");
    }
}
