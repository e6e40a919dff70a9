//! `-o prometheus` and `--push-url`: Prometheus's own linter accepts the
//! metrics of every fixture, and a push is the PUT a Pushgateway expects.

#[path = "support/promtool.rs"]
mod promtool;
#[path = "support/skip.rs"]
mod skip;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use promtool::promtool;
use skip::skipped;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn doctor(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(root())
        .arg("doctor")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn promtool_accepts_the_metrics_of_every_fixture() {
    let Some(promtool) = promtool() else {
        skipped("promtool not installed (apt-get install prometheus)");
        return;
    };
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() > 10);
    for fixture in fixtures {
        let out = doctor(&["--snapshot", fixture.to_str().unwrap(), "-o", "prometheus"]);
        let metrics = String::from_utf8(out.stdout).unwrap();
        assert!(
            metrics.ends_with("# EOF\n"),
            "{}: {metrics}",
            fixture.display()
        );
        assert_promtool_accepts(&promtool, &metrics, &fixture);
        assert_no_message_text(&fixture, &metrics);
    }
}

/// Labels are names and classes: no finding's message or evidence, no skip
/// reason, no API server message is in the metrics.
fn assert_no_message_text(fixture: &Path, metrics: &str) {
    let out = doctor(&["--snapshot", fixture.to_str().unwrap(), "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let texts = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            let evidence = f["evidence"].as_array().cloned().unwrap_or_default();
            evidence.into_iter().chain([f["message"].clone()])
        })
        .chain(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["reason"].clone()),
        )
        .filter_map(|t| t.as_str().map(str::to_string))
        // A short one ("OOMKilled", a name) may be a label by right.
        .filter(|t| t.len() > 24);
    for text in texts {
        assert!(
            !metrics.contains(&text),
            "{}: {text:?} is in the metrics",
            fixture.display()
        );
    }
}

/// `promtool check metrics` accepts the metrics of `what`.
fn assert_promtool_accepts(promtool: &Path, metrics: &str, what: &Path) {
    if let Err(said) = promtool::check(promtool, metrics) {
        panic!("{}: promtool says {said}", what.display());
    }
}

/// What the fake gateway received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    body: String,
}

/// A one-request HTTP server on loopback answering `status`; the test reads
/// what it received.
async fn gateway(status: StatusCode) -> (SocketAddr, Arc<Mutex<Option<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let record = record.clone();
            async move {
                let method = req.method().to_string();
                let path = req.uri().path().to_string();
                let content_type = req
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let body = req.into_body().collect().await?.to_bytes();
                *record.lock().unwrap() = Some(Received {
                    method,
                    path,
                    content_type,
                    body: String::from_utf8(body.to_vec()).unwrap(),
                });
                let answer = if status.is_success() {
                    ""
                } else {
                    "pushed metrics are invalid or inconsistent with existing metrics"
                };
                let mut response = Response::new(Full::new(Bytes::from(answer)));
                *response.status_mut() = status;
                Ok::<_, hyper::Error>(response)
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
    (addr, seen)
}

async fn doctor_pushing(url: String) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        doctor(&[
            "--snapshot",
            "fixtures/rbac-restricted",
            "-o",
            "json",
            "--push-url",
            &url,
        ])
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn push_url_puts_the_text_format_to_the_group_of_the_source() {
    let (addr, seen) = gateway(StatusCode::OK).await;
    let out = doctor_pushing(format!("http://{addr}/")).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The report is printed as asked, the metrics go to the gateway.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["source"], "snapshot fixtures/rbac-restricted");
    let got = seen
        .lock()
        .unwrap()
        .clone()
        .expect("the gateway got a request");
    assert_eq!(got.method, "PUT");
    // base64url of "snapshot fixtures/rbac-restricted".
    assert_eq!(
        got.path,
        "/metrics/job/mlopsctl/instance@base64/c25hcHNob3QgZml4dHVyZXMvcmJhYy1yZXN0cmljdGVk"
    );
    assert!(
        got.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        got.content_type
    );
    assert!(
        got.body.contains("mlopsctl_finding{code=\"WKL001\""),
        "{}",
        got.body
    );
    assert!(got.body.contains("mlopsctl_last_run_timestamp_seconds "));
    assert!(!got.body.contains("# EOF"), "the push API reads 0.0.4 text");
    if let Some(promtool) = promtool() {
        assert_promtool_accepts(&promtool, &got.body, Path::new("the push"));
    }
}

#[tokio::test]
async fn a_gateway_that_refuses_the_push_fails_the_run_with_its_answer() {
    let (addr, _) = gateway(StatusCode::BAD_REQUEST).await;
    let out = doctor_pushing(format!("http://{addr}")).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot push the metrics") && stderr.contains("inconsistent"),
        "{stderr}"
    );
    // The report was printed before the push failed.
    assert!(!out.stdout.is_empty());
}

#[test]
fn a_push_url_that_is_not_one_is_refused_with_an_example() {
    let out = doctor(&[
        "--snapshot",
        "fixtures/healthy",
        "-q",
        "--push-url",
        "pushgateway:9091",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("http://pushgateway:9091"), "{stderr}");
}
