//! How the API server answered while it was being collected from (`api.yaml`
//! in a snapshot): one record per HTTP request, retries included, so a slow or
//! flaky API server is a finding like any other and testable offline.

use serde::{Deserialize, Serialize};

/// Every request a live collection made, in the order they finished.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiStats {
    /// The API server URL.
    pub server: String,
    #[serde(default)]
    pub requests: Vec<ApiRequest>,
}

/// One HTTP request to the API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRequest {
    /// Path and query, e.g. `/api/v1/namespaces/ml/pods?limit=500`.
    pub path: String,
    /// Time until the whole response was read (or the request failed).
    pub latency_ms: u64,
    /// HTTP status; `None` when no response came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// 1 for the first try, 2 and up for retries of the same request.
    #[serde(default = "first")]
    pub attempt: u32,
}

fn first() -> u32 {
    1
}

impl ApiStats {
    /// The latency below which `pct` percent of requests finished (nearest rank).
    pub fn percentile_ms(&self, pct: u32) -> Option<u64> {
        let mut all: Vec<u64> = self.requests.iter().map(|r| r.latency_ms).collect();
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        let rank = (pct.min(100) as usize * all.len()).div_ceil(100).max(1);
        Some(all[rank - 1])
    }

    /// Requests that were retries of an earlier attempt.
    pub fn retries(&self) -> impl Iterator<Item = &ApiRequest> {
        self.requests.iter().filter(|r| r.attempt > 1)
    }

    /// Attempts that got no answer or a server error (5xx, 429).
    pub fn failures(&self) -> impl Iterator<Item = &ApiRequest> {
        self.requests
            .iter()
            .filter(|r| r.status.is_none_or(|s| s >= 500 || s == 429))
    }

    /// The slowest requests first.
    pub fn slowest(&self, n: usize) -> Vec<&ApiRequest> {
        let mut all: Vec<&ApiRequest> = self.requests.iter().collect();
        all.sort_by(|a, b| b.latency_ms.cmp(&a.latency_ms).then(a.path.cmp(&b.path)));
        all.truncate(n);
        all
    }
}

impl ApiRequest {
    /// `GET /api/v1/pods?limit=500 → 200 in 812 ms (retry 2)`
    pub fn describe(&self) -> String {
        let outcome = match (&self.status, &self.error) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => format!("no answer ({e})"),
            (None, None) => "no answer".to_string(),
        };
        let retry = if self.attempt > 1 {
            format!(" (retry {})", self.attempt - 1)
        } else {
            String::new()
        };
        format!(
            "GET {} → {outcome} in {} ms{retry}",
            self.path, self.latency_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ms: u64, attempt: u32, status: Option<u16>) -> ApiRequest {
        ApiRequest {
            path: format!("/api/v1/pods?{ms}"),
            latency_ms: ms,
            status,
            error: None,
            attempt,
        }
    }

    #[test]
    fn percentiles_retries_and_failures() {
        let stats = ApiStats {
            server: "https://k".into(),
            requests: (1..=20)
                .map(|i| req(i * 10, 1, Some(200)))
                .chain([req(5000, 2, Some(503)), req(40, 1, None)])
                .collect(),
        };
        assert_eq!(stats.percentile_ms(50), Some(100));
        assert_eq!(stats.percentile_ms(95), Some(200));
        assert_eq!(stats.percentile_ms(100), Some(5000));
        assert_eq!(stats.retries().count(), 1);
        assert_eq!(stats.failures().count(), 2);
        assert_eq!(
            stats.slowest(1)[0].describe(),
            "GET /api/v1/pods?5000 → 503 in 5000 ms (retry 1)"
        );
        assert_eq!(ApiStats::default().percentile_ms(95), None);
    }
}
