//! Objects as YAML, and the unified diff of an object before → after.

use colored::Colorize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

/// An object as YAML, the way a person reads it in `kubectl get -o yaml`.
pub fn yaml(value: &Value) -> String {
    serde_saphyr::to_string(value).expect("JSON values serialize as YAML")
}

/// A unified diff with three lines of context, coloured when `color`
/// (removed red, added green, hunk headers cyan). Empty when nothing changed.
pub fn unified(before: &str, after: &str, old: &str, new: &str, color: bool) -> String {
    let diff = TextDiff::from_lines(before, after);
    if diff.ratio() == 1.0 {
        return String::new();
    }
    let mut udiff = diff.unified_diff();
    udiff.context_radius(3).header(old, new);
    let mut out = String::new();
    let paint = |line: String, tag: Option<ChangeTag>| -> String {
        if !color {
            return line;
        }
        match tag {
            Some(ChangeTag::Delete) => line.red().to_string(),
            Some(ChangeTag::Insert) => line.green().to_string(),
            Some(ChangeTag::Equal) => line,
            None => line.cyan().to_string(),
        }
    };
    out.push_str(&paint(format!("--- {old}\n+++ {new}\n"), None));
    for hunk in udiff.iter_hunks() {
        out.push_str(&paint(format!("{}\n", hunk.header()), None));
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let mut line = format!("{sign}{}", change.value());
            if !line.ends_with('\n') {
                line.push('\n');
            }
            out.push_str(&paint(line, Some(change.tag())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shows_the_changed_lines_with_context() {
        let before = yaml(&json!({"spec": {"replicas": 1, "a": 1, "b": 2}}));
        let after = yaml(&json!({"spec": {"replicas": 3, "a": 1, "b": 2}}));
        let diff = unified(&before, &after, "before", "after", false);
        assert!(diff.starts_with("--- before\n+++ after\n@@"), "{diff}");
        assert!(diff.contains("-  replicas: 1\n+  replicas: 3\n"), "{diff}");
        assert_eq!(unified(&before, &before, "a", "b", false), "");
    }

    #[test]
    fn colour_only_when_asked() {
        colored::control::set_override(true);
        let diff = unified("a: 1\n", "a: 2\n", "x", "y", true);
        assert!(diff.contains("\u{1b}["), "{diff:?}");
    }
}
