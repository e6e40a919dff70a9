//! GET requests to the API server: each one timed and recorded, transient
//! failures retried with a bounded backoff, every failure classified once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use kube::Client;
use kube::client::Body;

use crate::cluster::{ApiRequest, ApiStats};

/// Tries per request: the first plus two retries.
const MAX_ATTEMPTS: u32 = 3;
/// The longest a server's `Retry-After` is honoured; beyond it the request fails.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
const BACKOFF: Duration = Duration::from_millis(200);

/// Why a request did not return a 2xx body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error status; `message` is its Status message
    /// or the start of a plain-text body ("404 page not found").
    Status { code: u16, message: String },
    /// No answer within the request timeout.
    Timeout,
    /// The connection could not be made or broke (refused, DNS, TLS, reset).
    Transport(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status { code, message } if message.is_empty() => write!(f, "HTTP {code}"),
            Failure::Status { code, message } => write!(f, "HTTP {code}: {message}"),
            Failure::Timeout => f.write_str("no answer within the request timeout"),
            Failure::Transport(e) => f.write_str(e),
        }
    }
}

impl Failure {
    pub fn code(&self) -> Option<u16> {
        match self {
            Failure::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A client for plain GETs that keeps the measurements.
pub struct Api {
    client: Client,
    request_timeout: Duration,
    stats: Mutex<ApiStats>,
}

impl Api {
    pub fn new(client: Client, server: String, request_timeout: Duration) -> Self {
        Api {
            client,
            request_timeout,
            stats: Mutex::new(ApiStats {
                server,
                requests: Vec::new(),
            }),
        }
    }

    pub fn into_stats(self) -> ApiStats {
        self.stats.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// GET a path (with its query), retrying 429, 503, 504 and broken connections.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, Failure> {
        let mut attempt = 1;
        loop {
            let started = Instant::now();
            let outcome = tokio::time::timeout(self.request_timeout, self.once(path)).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            let (result, retry_after) = match outcome {
                Ok(r) => r,
                Err(_) => (Err(Failure::Timeout), None),
            };
            self.record(ApiRequest {
                path: path.to_string(),
                latency_ms,
                status: match &result {
                    Ok(_) => Some(200),
                    Err(f) => f.code(),
                },
                error: match &result {
                    Err(f @ (Failure::Timeout | Failure::Transport(_))) => Some(f.to_string()),
                    _ => None,
                },
                attempt,
            });
            let failure = match result {
                Ok(body) => return Ok(body),
                Err(f) => f,
            };
            let transient = match &failure {
                Failure::Status { code, .. } => matches!(code, 429 | 503 | 504),
                Failure::Transport(e) => is_reset(e),
                Failure::Timeout => false,
            };
            if !transient || attempt >= MAX_ATTEMPTS {
                return Err(failure);
            }
            let delay = match retry_after {
                Some(d) if d > MAX_RETRY_AFTER => return Err(failure),
                Some(d) => d,
                None => BACKOFF * 2u32.pow(attempt - 1),
            };
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One GET whose answer is data whatever its status (an HTTP probe through the
    /// API server's proxy): no retry, not counted in the API's own latency.
    pub async fn get_raw(&self, path: &str) -> Result<(u16, Vec<u8>), Failure> {
        match tokio::time::timeout(self.request_timeout, self.send(path)).await {
            Ok(result) => result.map(|(status, body, _)| (status, body)),
            Err(_) => Err(Failure::Timeout),
        }
    }

    async fn once(&self, path: &str) -> (Result<Vec<u8>, Failure>, Option<Duration>) {
        match self.send(path).await {
            Ok((status, body, _)) if (200..300).contains(&status) => (Ok(body), None),
            Ok((code, body, retry_after)) => (
                Err(Failure::Status {
                    code,
                    message: status_message(&body),
                }),
                retry_after,
            ),
            Err(failure) => (Err(failure), None),
        }
    }

    /// Send a GET and read the whole answer: (status, body, Retry-After).
    async fn send(&self, path: &str) -> Result<(u16, Vec<u8>, Option<Duration>), Failure> {
        let request = http::Request::get(path)
            .body(Body::from(Vec::new()))
            .map_err(|e| Failure::Transport(format!("bad request {path}: {e}")))?;
        let response = self.client.send(request).await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(&e))?
            .to_bytes();
        // Takes the joined buffer over rather than copying it (a List page is
        // megabytes).
        let body = Vec::from(body);
        Ok((status, body, retry_after))
    }

    fn record(&self, request: ApiRequest) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.requests.push(request);
    }
}

/// The `message` of a Status body, or the start of a plain-text one.
pub fn status_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(m) = v.get("message").and_then(|m| m.as_str())
    {
        return m.to_string();
    }
    let text = String::from_utf8_lossy(body);
    crate::analyzers::text::clip(text.trim(), 200)
}

/// An error and its causes on one line, the way people read them.
fn transport(err: &(dyn std::error::Error + 'static)) -> Failure {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let joined = parts.join(": ");
    if joined.contains("timed out") || joined.contains("deadline has elapsed") {
        return Failure::Timeout;
    }
    Failure::Transport(joined)
}

/// Whether a transport error is a dropped connection worth one more try.
fn is_reset(error: &str) -> bool {
    let e = error.to_lowercase();
    e.contains("connection reset")
        || e.contains("connection closed before message completed")
        || e.contains("broken pipe")
        || e.contains("incomplete message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_messages_from_json_and_plain_text() {
        assert_eq!(
            status_message(br#"{"kind":"Status","message":"pods is forbidden","code":403}"#),
            "pods is forbidden"
        );
        assert_eq!(
            status_message(b"404 page not found\n"),
            "404 page not found"
        );
        assert_eq!(
            Failure::Status {
                code: 404,
                message: "404 page not found".into()
            }
            .to_string(),
            "HTTP 404: 404 page not found"
        );
    }

    #[test]
    fn resets_are_transient_refusals_are_not() {
        assert!(is_reset(
            "error trying to connect: Connection reset by peer (os error 104)"
        ));
        assert!(!is_reset(
            "error trying to connect: Connection refused (os error 111)"
        ));
    }

    #[test]
    fn error_chains_are_joined() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(transport(&io), Failure::Transport("refused".into()));
    }
}
