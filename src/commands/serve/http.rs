//! `serve`'s HTTP side: four read-only routes on hyper's HTTP/1 server,
//! drained on shutdown. The responses are made from a copy of the state taken
//! under the lock; rendering happens outside it.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::Shared;
use crate::render::prometheus::{self, Flavor};

/// A client that has not sent its headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

const ROUTES: &str = "/metrics, /report, /healthz, /readyz";

/// Answer on `listener` until `shutdown` resolves, then let open requests
/// finish for at most `drain`.
pub async fn serve(
    listener: TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let state = state.clone();
                    let service = service_fn(move |req| {
                        let answer = respond(&state, &req);
                        async move { Ok::<_, Infallible>(answer) }
                    });
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // A client that goes away mid-request is its own business.
                        let _ = connection.await;
                    });
                }
                // Out of file descriptors and the like: pass, and keep serving.
                Err(e) => {
                    super::log(format_args!("cannot accept a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        super::log(format_args!(
            "connections still open after {}s: closing them",
            drain.as_secs()
        ));
    }
    Ok(())
}

fn respond<B>(state: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut answer = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        answer
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return answer;
    }
    let (report, stats) = {
        let state = state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (state.report.clone(), state.stats.clone())
    };
    let not_yet = || text(StatusCode::SERVICE_UNAVAILABLE, "no run has finished yet\n");
    match req.uri().path() {
        "/metrics" => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let flavor = Flavor::negotiate(accept);
            let mut body = Vec::new();
            match prometheus::render_serve(report.as_deref(), &stats, flavor, &mut body) {
                Ok(()) => with_type(StatusCode::OK, flavor.content_type(), body),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}\n")),
            }
        }
        "/report" => match report {
            Some(report) => match serde_json::to_vec_pretty(&*report) {
                Ok(body) => with_type(StatusCode::OK, "application/json", body),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e}\n")),
            },
            None => not_yet(),
        },
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if report.is_some() => text(StatusCode::OK, "ready\n"),
        "/readyz" => not_yet(),
        _ => text(StatusCode::NOT_FOUND, &format!("not found: try {ROUTES}\n")),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    with_type(
        status,
        "text/plain; charset=utf-8",
        body.as_bytes().to_vec(),
    )
}

fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::*;
    use crate::report::Report;

    fn get(state: &Shared, path: &str, accept: Option<&str>) -> (StatusCode, String, String) {
        let mut req = Request::get(path);
        if let Some(accept) = accept {
            req = req.header(header::ACCEPT, accept);
        }
        let response = respond(state, &req.body(()).unwrap());
        let content_type = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let status = response.status();
        let body = futures::executor::block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[test]
    fn before_the_first_run_only_health_and_counters() {
        let state = Shared::default();
        assert_eq!(get(&state, "/healthz", None).0, StatusCode::OK);
        assert_eq!(
            get(&state, "/readyz", None).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            get(&state, "/report", None).0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let (status, _, metrics) = get(&state, "/metrics", None);
        assert_eq!(status, StatusCode::OK);
        assert!(metrics.contains("mlopsctl_serve_runs_total 0"), "{metrics}");
        assert!(!metrics.contains("mlopsctl_finding"), "{metrics}");
    }

    #[test]
    fn after_a_run_the_report_in_the_format_asked() {
        let state = Shared::default();
        state.write().unwrap().report = Some(Arc::new(Report::new(
            "snapshot s".into(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )));
        assert_eq!(get(&state, "/readyz", None).0, StatusCode::OK);
        let (_, content_type, json) = get(&state, "/report", None);
        assert_eq!(content_type, "application/json");
        assert!(json.contains(r#""source": "snapshot s""#), "{json}");
        let (_, content_type, text) = get(&state, "/metrics", Some("text/plain"));
        assert!(content_type.starts_with("text/plain; version=0.0.4"));
        assert!(
            text.contains("mlopsctl_findings{severity=\"error\"} 0") && !text.contains("# EOF")
        );
        let (_, content_type, om) = get(
            &state,
            "/metrics",
            Some("application/openmetrics-text;version=1.0.0"),
        );
        assert!(content_type.starts_with("application/openmetrics-text"));
        assert!(om.ends_with("# EOF\n"), "{om}");
    }

    #[test]
    fn other_paths_and_methods_say_what_there_is() {
        let state = Shared::default();
        let (status, _, body) = get(&state, "/", None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("/metrics"), "{body}");
        let post = Request::post("/metrics").body(()).unwrap();
        assert_eq!(
            respond(&state, &post).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
