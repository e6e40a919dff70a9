//! Objects as YAML, and the unified diff of an object before → after.

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
    let paint = |line: &str, tag: Option<ChangeTag>| -> String {
        // Each line painted on its own, so a colour never runs past its newline.
        let line = line.trim_end_matches('\n');
        // ANSI SGR codes written here rather than through `colored`, whose
        // process-wide switch belongs to the caller.
        let code = match tag {
            _ if !color => None,
            Some(ChangeTag::Delete) => Some(31),
            Some(ChangeTag::Insert) => Some(32),
            Some(ChangeTag::Equal) => None,
            None => Some(36),
        };
        let painted = match code {
            Some(code) => format!("\u{1b}[{code}m{line}\u{1b}[0m"),
            None => line.to_string(),
        };
        format!("{painted}\n")
    };
    let mut out = paint(&format!("--- {old}"), None);
    out.push_str(&paint(&format!("+++ {new}"), None));
    for hunk in udiff.iter_hunks() {
        out.push_str(&paint(&hunk.header().to_string(), None));
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            out.push_str(&paint(
                &format!("{sign}{}", change.value()),
                Some(change.tag()),
            ));
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
        let diff = unified("a: 1\n", "a: 2\n", "x", "y", true);
        assert!(diff.contains("\u{1b}["), "{diff:?}");
        // Every line closes its own colour.
        assert!(
            diff.lines().all(|l| !l.starts_with("\u{1b}[0m")),
            "{diff:?}"
        );
    }
}
