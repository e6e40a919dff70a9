//! `mlopsctl serve` as a process: its endpoints, a clean exit on SIGTERM,
//! runs that fail while the API server is away and recover when it is back,
//! and a real Prometheus scraping it. Loopback addresses only.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use support::skip::skipped;
use support::{ApiServer, Faults, fixture};

/// A running `serve`, stopped (SIGKILL) if a test fails before it does.
struct Serve {
    child: Child,
    addr: SocketAddr,
    stderr: Receiver<String>,
}

impl Serve {
    fn start(args: &[&str]) -> Serve {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("mlopsctl"))
            .env_clear()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let (send, stderr) = channel();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        // Its first line says where it listens.
        let first = stderr
            .recv_timeout(Duration::from_secs(20))
            .expect("serve says where it listens");
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        Serve {
            child,
            addr,
            stderr,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        get(self.addr, path, "text/plain")
    }

    /// Poll `path` until it answers `status` (bounded).
    fn wait_for(&self, path: &str, status: u16, within: Duration) -> String {
        let end = Instant::now() + within;
        loop {
            let (got, body) = self.get(path);
            if got == status {
                return body;
            }
            assert!(
                Instant::now() < end,
                "{path} still answers {got} after {within:?}: {body}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, and the exit code.
    fn stop(mut self) -> (i32, Vec<String>) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signals the child this test started, by its pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let end = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < end, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let said = self.stderr.try_iter().collect();
        (status.code().expect("exited, not killed"), said)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GET over a fresh connection: (status, body).
fn get(addr: SocketAddr, path: &str, accept: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_string())
}

#[test]
fn serves_the_last_run_and_stops_cleanly_on_sigterm() {
    let serve = Serve::start(&["--snapshot", "fixtures/rbac-restricted", "--interval", "1s"]);
    assert_eq!(serve.get("/healthz"), (200, "ok\n".to_string()));
    serve.wait_for("/readyz", 200, Duration::from_secs(20));
    let (status, report) = serve.get("/report");
    assert_eq!(status, 200);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["source"], "snapshot fixtures/rbac-restricted");
    let (status, metrics) = serve.get("/metrics");
    assert_eq!(status, 200);
    for family in [
        "mlopsctl_finding{code=\"WKL001\"",
        "mlopsctl_check_skipped{code=\"SCL001\",reason_class=\"forbidden\"} 1",
        "# TYPE mlopsctl_serve_runs_total counter",
        "mlopsctl_serve_run_failures_total 0",
        "mlopsctl_last_run_timestamp_seconds ",
    ] {
        assert!(metrics.contains(family), "{family} in {metrics}");
    }
    promtool_accepts(&metrics);
    let (_, openmetrics) = get(serve.addr, "/metrics", "application/openmetrics-text");
    assert!(openmetrics.ends_with("# EOF\n"));
    assert_eq!(serve.get("/nothing").0, 404);
    let (code, said) = serve.stop();
    assert_eq!(code, 0, "{said:?}");
    assert!(said.iter().any(|l| l.contains("stopped")), "{said:?}");
}

#[test]
fn runs_fail_while_the_api_server_is_away_and_recover_when_it_is_back() {
    let server = ApiServer::start(&fixture("training-pipeline"), Vec::new(), Faults::default());
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(tmp.path(), "flts");
    let reachable = std::fs::read_to_string(&kubeconfig).unwrap();
    let serve = Serve::start(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--interval",
        "1s",
        "--timeout",
        "5s",
    ]);
    serve.wait_for("/readyz", 200, Duration::from_secs(30));
    let first = serve.get("/report").1;

    // The kubeconfig is read on every run: point it where nothing listens.
    let away = reachable.replace(&server.url, &support::refused_server());
    std::fs::write(&kubeconfig, away).unwrap();
    let metrics = wait_for_metric(&serve, "mlopsctl_serve_last_run_failed 1");
    assert!(!metrics.contains("mlopsctl_serve_run_failures_total 0"));
    // The last good report is still served, and the pod stays ready.
    assert_eq!(serve.get("/readyz").0, 200);
    assert_eq!(serve.get("/report").1, first);
    assert!(metrics.contains("mlopsctl_finding{"), "{metrics}");

    std::fs::write(&kubeconfig, reachable).unwrap();
    wait_for_metric(&serve, "mlopsctl_serve_last_run_failed 0");
    let (code, said) = serve.stop();
    assert_eq!(code, 0);
    assert!(said.iter().any(|l| l.contains("failed")), "{said:?}");
}

/// promtool (when installed) reads the 0.0.4 text a scraper gets without
/// asking for OpenMetrics, counters included.
fn promtool_accepts(metrics: &str) {
    // tests/prometheus.rs says when it is missing.
    if let Some(promtool) = support::promtool::promtool()
        && let Err(said) = support::promtool::check(&promtool, metrics)
    {
        panic!("promtool: {said}");
    }
}

fn wait_for_metric(serve: &Serve, line: &str) -> String {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = serve.get("/metrics").1;
        if metrics.lines().any(|l| l == line) {
            return metrics;
        }
        assert!(Instant::now() < end, "no {line} within 30s: {metrics}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Debian's `prometheus` package; `.ci/run` installs it and fails if this skipped.
fn prometheus_binary() -> Option<PathBuf> {
    Some(PathBuf::from("/usr/bin/prometheus")).filter(|p| p.is_file())
}

#[test]
fn a_real_prometheus_scrapes_serve() {
    let Some(prometheus) = prometheus_binary() else {
        skipped("prometheus not installed (apt-get install prometheus)");
        return;
    };
    let serve = Serve::start(&["--snapshot", "fixtures/rbac-restricted", "--interval", "1s"]);
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
             scrape_configs:\n- job_name: mlopsctl\n  static_configs:\n  - targets: ['{}']\n",
            serve.addr
        ),
    )
    .unwrap();
    let web = free_loopback_port();
    let mut server = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            tmp.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus starts");
    let seen = query_until_samples(web, "mlopsctl_finding", Duration::from_secs(30));
    let up = query_until_samples(web, "up{job=\"mlopsctl\"} == 1", Duration::from_secs(10));
    // Counters went through Prometheus's parser too (OpenMetrics, negotiated).
    let runs = query_until_samples(web, "mlopsctl_serve_runs_total", Duration::from_secs(10));
    let _ = server.kill();
    let _ = server.wait();
    let log = std::fs::read_to_string(tmp.path().join("prometheus.log")).unwrap_or_default();
    let seen = seen.unwrap_or_else(|| panic!("no mlopsctl_finding in Prometheus: {log}"));
    assert!(seen.contains("\"code\":\"WKL001\""), "{seen}");
    assert!(up.is_some(), "the target is not up: {log}");
    assert!(runs.is_some(), "no mlopsctl_serve_runs_total: {log}");
    assert_eq!(serve.stop().0, 0);
}

fn free_loopback_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Prometheus's `/api/v1/query` until its result has samples: the answer, or
/// `None` after `within`.
fn query_until_samples(web: SocketAddr, query: &str, within: Duration) -> Option<String> {
    let end = Instant::now() + within;
    let path = format!("/api/v1/query?query={}", encode(query));
    while Instant::now() < end {
        if TcpStream::connect(web).is_ok() {
            let (status, body) = get(web, &path, "application/json");
            if status == 200 && !body.contains("\"result\":[]") {
                return Some(body);
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// Percent-encoding of a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
