//! `--push-url`: PUT a run's metrics to a Prometheus Pushgateway
//! (<https://github.com/prometheus/pushgateway#api>), for runs that end
//! before anything could scrape them (a CronJob).
//!
//! The group is `job="mlopsctl"` and `instance` = the report's source
//! (`context prod (all namespaces)`, `snapshot PATH`): a PUT replaces the
//! whole group, so each cluster and scope keeps its own metrics and a
//! finding that is gone is gone from the gateway too.

use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::render::prometheus::{self, Flavor};
use crate::report::Report;

/// The whole push (connect, send, answer) gives up after this long.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Push the report's metrics; an answer other than 2xx is an error that says
/// what the gateway said.
pub fn push(base: &str, report: &Report) -> Result<()> {
    let url = group_url(base, &report.source)?;
    let mut body = Vec::new();
    // The push API reads the 0.0.4 text format (and protobuf), not OpenMetrics.
    prometheus::render(report, Flavor::Text, &mut body)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, put(&url, body))
            .await
            .map_err(|_| anyhow!("no answer within {}s", TIMEOUT.as_secs()))?
    });
    result.with_context(|| format!("cannot push the metrics to the Pushgateway at {url}"))
}

/// `--push-url`, checked when the flags are read: an http(s) base URL
/// without a query, trailing slashes dropped.
pub fn parse_base(text: &str) -> Result<String, String> {
    let base = text.trim().trim_end_matches('/');
    let example = "give the gateway's base URL, e.g. http://pushgateway:9091";
    let uri: Uri = base
        .parse()
        .map_err(|e| format!("`{text}` is not a URL ({e}): {example}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https"))
        || uri.host().is_none()
        || uri.query().is_some()
    {
        return Err(format!("`{text}`: {example}"));
    }
    Ok(base.to_string())
}

/// `BASE/metrics/job/mlopsctl/instance@base64/…`: the instance is base64url
/// encoded, as the Pushgateway allows for values with `/` (a snapshot path).
pub fn group_url(base: &str, instance: &str) -> Result<Uri> {
    // An empty value is `=` in the Pushgateway's encoding.
    let encoded = match URL_SAFE_NO_PAD.encode(instance) {
        e if e.is_empty() => "=".to_string(),
        e => e,
    };
    format!("{base}/metrics/job/mlopsctl/instance@base64/{encoded}")
        .parse()
        .with_context(|| format!("cannot make a Pushgateway URL of {base}"))
}

async fn put(url: &Uri, body: Vec<u8>) -> Result<()> {
    let request = Request::put(url.clone())
        .header(header::CONTENT_TYPE, Flavor::Text.content_type())
        .body(Full::new(Bytes::from(body)))?;
    let response = if url.scheme_str() == Some("https") {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("cannot read the system's CA certificates")?
            .https_only()
            .enable_http1()
            .build();
        Client::builder(TokioExecutor::new())
            .build(https)
            .request(request)
            .await?
    } else {
        Client::builder(TokioExecutor::new())
            .build_http()
            .request(request)
            .await?
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.into_body().collect().await?.to_bytes();
    let said: String = String::from_utf8_lossy(&body)
        .trim()
        .chars()
        .take(300)
        .collect();
    match status {
        StatusCode::BAD_REQUEST => bail!("the gateway refused the metrics (HTTP 400): {said}"),
        _ => bail!("HTTP {status}: {said}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_job_and_encoded_instance() {
        let base = parse_base("http://gw:9091/").unwrap();
        let url = group_url(&base, "snapshot fixtures/healthy").unwrap();
        assert_eq!(
            url.to_string(),
            "http://gw:9091/metrics/job/mlopsctl/instance@base64/c25hcHNob3QgZml4dHVyZXMvaGVhbHRoeQ"
        );
        assert!(
            group_url("http://gw:9091", "")
                .unwrap()
                .path()
                .ends_with("@base64/=")
        );
    }

    #[test]
    fn a_url_that_is_not_one_says_what_to_give() {
        for bad in ["gw:9091", "ftp://gw", "not a url", "http://gw:9091/?a=b"] {
            let e = parse_base(bad).unwrap_err();
            assert!(e.contains("e.g. http://pushgateway:9091"), "{e}");
        }
    }

    /// An https URL builds a TLS client (no crypto-provider panic) and fails
    /// with a connection error where nothing listens.
    #[test]
    fn an_https_gateway_that_is_down_is_an_error() {
        crate::collect::install_crypto_provider();
        let report = Report::new("context c".into(), Vec::new(), Vec::new(), Vec::new());
        let e = format!("{:#}", push("https://127.0.0.1:1", &report).unwrap_err());
        assert!(e.contains("cannot push the metrics"), "{e}");
    }
}
