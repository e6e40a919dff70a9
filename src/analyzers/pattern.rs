//! Regexes given as check parameters. The `regex` crate matches in linear time;
//! the compiled size is bounded too, so a user's pattern cannot blow up memory.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer};

/// The most a compiled pattern may take (the crate's default is 10 MiB).
const SIZE_LIMIT: usize = 1 << 20;

/// A regex from YAML, compiled with a bounded size.
#[derive(Debug, Clone)]
pub struct Pattern(pub Regex);

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, String> {
        RegexBuilder::new(text)
            .size_limit(SIZE_LIMIT)
            .build()
            .map(Pattern)
            .map_err(|e| format!("invalid pattern `{text}`: {e}"))
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Pattern::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_validated() {
        assert!(
            Pattern::new("division by zero")
                .unwrap()
                .is_match("ZeroDivisionError: division by zero")
        );
        assert!(Pattern::new("(unclosed").is_err());
        // A pattern whose compiled program is far beyond the limit is refused.
        assert!(Pattern::new(r"\w{5000}\w{5000}").is_err());
    }
}
