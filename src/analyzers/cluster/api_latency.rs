//! `api-latency`: a slow or flaky API server, from the requests the live
//! collector made (or a snapshot's `api.yaml`): the p95 latency above a
//! threshold, and requests that failed transiently and had to be retried.
//! Everything else mlopsctl reports depends on this server answering.

use serde::Deserialize;

use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ApiStats, ClusterView, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "api-latency",
    summary: "a slow or flaky API server: p95 request latency above a threshold, retried requests",
    needs: &[],
    optional: &[],
    data: &[],
    build: build::<ApiLatency>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiLatency {
    /// Report when the 95th-percentile request latency is above this.
    #[serde(default = "default_p95_ms")]
    p95_ms: u64,
    /// Report when more requests than this had to be retried.
    #[serde(default)]
    max_retries: usize,
    /// How many slow or retried requests to quote as evidence.
    #[serde(default = "default_examples")]
    examples: usize,
}

fn default_p95_ms() -> u64 {
    1000
}

fn default_examples() -> usize {
    3
}

/// The API server as people address it: the `kubernetes` Service in `default`.
fn api_server() -> ObjectRef {
    ObjectRef::new("v1", "Service", Some("default"), "kubernetes")
}

impl Analyzer for ApiLatency {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let Some(api) = view.api.as_ref().filter(|a| !a.requests.is_empty()) else {
            return Err(
                "not applicable: API latency is measured during a live collection \
                 (a snapshot carries it in api.yaml)"
                    .into(),
            );
        };
        let mut drafts = Vec::new();
        let p95 = api.percentile_ms(95).unwrap_or_default();
        if p95 > self.p95_ms {
            let mut draft = Draft::new(
                api_server(),
                format!(
                    "the API server at {} is slow: 95% of requests took up to {p95} ms \
                     (threshold {} ms)",
                    api.server, self.p95_ms
                ),
            )
            .evidence(summary(api));
            for r in api.slowest(self.examples) {
                draft = draft.evidence(r.describe());
            }
            drafts.push(draft.fix(fix()));
        }
        let retried: Vec<_> = api.retries().collect();
        if retried.len() > self.max_retries {
            let failures: Vec<_> = api.failures().collect();
            let mut draft = Draft::new(
                api_server(),
                format!(
                    "the API server at {} is flaky: {} of {} requests failed transiently \
                     (429, 5xx or a dropped connection) and were retried",
                    api.server,
                    retried.len(),
                    api.requests.len() - retried.len()
                ),
            )
            .evidence(summary(api));
            for r in failures.iter().take(self.examples) {
                draft = draft.evidence(r.describe());
            }
            drafts.push(draft.fix(fix()));
        }
        Ok(drafts)
    }
}

fn summary(api: &ApiStats) -> String {
    let p = |n| api.percentile_ms(n).unwrap_or_default();
    format!(
        "{} requests: p50 {} ms, p95 {} ms, max {} ms; {} retried, {} failed",
        api.requests.len(),
        p(50),
        p(95),
        p(100),
        api.retries().count(),
        api.failures().count()
    )
}

fn fix() -> Fix {
    Fix::manual(
        "Check the API server's health checks and load: its readiness \
         (etcd, informers), its request metrics (apiserver_request_duration_seconds, \
         apiserver_flowcontrol_rejected_requests_total) and whether a client or \
         controller floods it; on a managed cluster, check the provider's control-plane status.",
    )
    .with_kubectl("kubectl get --raw='/readyz?verbose'")
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn slow_and_flaky_api_server() {
        let view = fixture("slow-api-server");
        let drafts = run("api-latency", "{}", &view);
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn quiet_below_the_thresholds() {
        let view = fixture("slow-api-server");
        let drafts = run("api-latency", "{p95Ms: 10000, maxRetries: 5}", &view);
        assert!(drafts.is_empty(), "{drafts:#?}");
    }

    #[test]
    fn skipped_without_measurements() {
        let view = fixture("healthy");
        let def = crate::analyzers::find("api-latency").unwrap();
        let analyzer = (def.build)(serde_json::json!({})).unwrap();
        assert!(
            analyzer
                .analyze(&view)
                .unwrap_err()
                .starts_with("not applicable")
        );
    }
}
