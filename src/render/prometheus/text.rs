//! The two text formats' mechanics: content negotiation, metric families
//! written one after the other, label escaping and bounding.

use std::io::Write;

use anyhow::Result;

/// Kubernetes names go up to 253 characters; a label longer than this is
/// noise on a dashboard and weight in the TSDB.
pub const MAX_LABEL_CHARS: usize = 128;

/// Which text format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// OpenMetrics 1.0: `# UNIT` lines, counters as `name` + `name_total`, `# EOF`.
    OpenMetrics,
    /// Prometheus text format 0.0.4.
    Text,
}

impl Flavor {
    /// The `Content-Type` of a response or push in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Flavor::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Flavor::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// OpenMetrics when an `Accept` header asks for it, as Prometheus does
    /// (`application/openmetrics-text;version=1.0.0,…;q=0.75,text/plain;…`);
    /// else the 0.0.4 text every scraper reads.
    pub fn negotiate(accept: Option<&str>) -> Flavor {
        let asks = accept.is_some_and(|a| {
            a.split(',').any(|part| {
                let mut params = part.split(';').map(str::trim);
                let wanted = params.next() == Some("application/openmetrics-text");
                // `q=0` means "not this one".
                let refused = params.any(|p| p.strip_prefix("q=").is_some_and(is_zero_q));
                wanted && !refused
            })
        });
        if asks {
            Flavor::OpenMetrics
        } else {
            Flavor::Text
        }
    }
}

fn is_zero_q(q: &str) -> bool {
    q.parse::<f64>().is_ok_and(|q| q == 0.0)
}

/// Writes metric families one after the other (they must not interleave).
pub(super) struct Writer<'a> {
    flavor: Flavor,
    out: &'a mut dyn Write,
    /// The `cluster` label every sample gets while set: a fleet's metrics
    /// hold one family for all clusters, told apart by it.
    pub(super) cluster: Option<String>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(flavor: Flavor, out: &'a mut dyn Write) -> Self {
        Writer {
            flavor,
            out,
            cluster: None,
        }
    }

    /// Start a gauge family; `unit` (e.g. `seconds`) must end its name.
    pub(super) fn gauge(&mut self, name: &str, help: &str, unit: Option<&str>) -> Result<()> {
        debug_assert!(unit.is_none_or(|u| name.ends_with(&format!("_{u}"))));
        writeln!(self.out, "# HELP {name} {}", checked_help(help))?;
        writeln!(self.out, "# TYPE {name} gauge")?;
        if let (Flavor::OpenMetrics, Some(unit)) = (self.flavor, unit) {
            writeln!(self.out, "# UNIT {name} {unit}")?;
        }
        Ok(())
    }

    /// Start a counter family; `name` is without `_total`, which
    /// [`counter_sample`](Self::counter_sample) adds.
    pub(super) fn counter(&mut self, name: &str, help: &str) -> Result<()> {
        let family = match self.flavor {
            Flavor::OpenMetrics => name.to_string(),
            Flavor::Text => format!("{name}_total"),
        };
        writeln!(self.out, "# HELP {family} {}", checked_help(help))?;
        writeln!(self.out, "# TYPE {family} counter")?;
        Ok(())
    }

    /// A sample of the gauge family just started.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> Result<()> {
        write!(self.out, "{name}")?;
        let cluster = self.cluster.as_deref().map(|c| ("cluster", c));
        if !labels.is_empty() || cluster.is_some() {
            let pairs: Vec<String> = cluster
                .iter()
                .chain(labels)
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            write!(self.out, "{{{}}}", pairs.join(","))?;
        }
        writeln!(self.out, " {value}")?;
        Ok(())
    }

    /// The one sample of the counter family just started.
    pub(super) fn counter_sample(&mut self, name: &str, value: u64) -> Result<()> {
        writeln!(self.out, "{name}_total {value}")?;
        Ok(())
    }

    /// End the exposition (`# EOF` is required in OpenMetrics).
    pub(super) fn finish(self) -> Result<()> {
        if self.flavor == Flavor::OpenMetrics {
            writeln!(self.out, "# EOF")?;
        }
        Ok(())
    }
}

/// Seconds to the millisecond: finer is noise, and shorter to read.
pub(super) fn millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// A label value cut to [`MAX_LABEL_CHARS`] characters (not bytes, so never
/// inside a UTF-8 sequence), the cut marked with an ellipsis.
pub(super) fn bounded(value: &str) -> String {
    if value.chars().count() <= MAX_LABEL_CHARS {
        return value.to_string();
    }
    value
        .chars()
        .take(MAX_LABEL_CHARS - 1)
        .chain(['…'])
        .collect()
}

/// Label values escape backslash, double quote and line feed (both formats).
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', r#"\""#)
        .replace('\n', r"\n")
}

/// HELP texts are ours, and kept free of what the two formats escape
/// differently (0.0.4 rejects `\"`, OpenMetrics requires it).
fn checked_help(text: &str) -> &str {
    debug_assert!(!text.contains(['\\', '"', '\n']), "{text}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_bounded() {
        assert_eq!(escape_label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
        let long = "é".repeat(300);
        let cut = bounded(&long);
        assert_eq!(cut.chars().count(), MAX_LABEL_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(bounded("train"), "train");
    }

    #[test]
    fn openmetrics_is_negotiated_from_accept() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                          version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Flavor::negotiate(Some(prometheus)), Flavor::OpenMetrics);
        assert_eq!(Flavor::negotiate(Some("text/plain")), Flavor::Text);
        assert_eq!(Flavor::negotiate(None), Flavor::Text);
        assert_eq!(
            Flavor::negotiate(Some("application/openmetrics-text; q=0")),
            Flavor::Text
        );
    }
}
