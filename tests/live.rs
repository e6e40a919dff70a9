//! The live path end to end: the real binary (and the collector as a library)
//! against the in-process API server in `support/`, through a generated
//! kubeconfig. No cluster needed; every test takes well under a few seconds.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use mlopsctl::cluster::{CoverageResult, Kind};
use mlopsctl::collect::Settings;
use mlopsctl::collect::{self, Options, Plan, Scope};
use serde_json::{Value, json};
use support::{ApiServer, Faults, fixture};

fn mlopsctl() -> Command {
    let mut cmd = Command::cargo_bin("mlopsctl").expect("binary built");
    cmd.env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .timeout(Duration::from_secs(60));
    cmd
}

/// Run and return (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = mlopsctl().args(args).output().expect("runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn training_pipeline(faults: Faults) -> (ApiServer, tempfile::TempDir, PathBuf) {
    let server = ApiServer::start(&fixture("training-pipeline"), Vec::new(), faults);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(tmp.path(), "flts");
    (server, tmp, kubeconfig)
}

#[test]
fn live_findings_match_the_saved_snapshot_and_the_fixture() {
    let (_server, tmp, kubeconfig) = training_pipeline(Faults::default());
    let (code, live, stderr) = run(&["doctor", "--kubeconfig", s(&kubeconfig), "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "no progress off a terminal: {stderr}");
    let live = json_of(&live);
    assert_eq!(live["source"], "context test (namespace flts)");
    assert!(!live["findings"].as_array().unwrap().is_empty());

    let dir = tmp.path().join("snap");
    let (code, stdout, stderr) =
        run(&["snapshot", "save", s(&dir), "--kubeconfig", s(&kubeconfig)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("saved "), "{stderr}");
    assert!(dir.join("pods.json").is_file() && dir.join("deployments.apps.json").is_file());
    assert!(dir.join("api.yaml").is_file());

    let (code, offline, stderr) = run(&["doctor", "--snapshot", s(&dir), "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let offline = json_of(&offline);
    assert_eq!(live["findings"], offline["findings"]);
    assert_eq!(live["checks"], offline["checks"]);

    // And the live run finds what the hand-made fixture shows offline (the
    // evidence may list objects in the API's order, sorted by name). Kafka is
    // observed with a Kafka client, not through the API server: its checks
    // are left out of the comparison.
    let (_, fixture_run, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "-o",
        "json",
        "--ignore",
        "KFK",
    ]);
    assert_eq!(
        headlines(&live),
        headlines(&json_of(&fixture_run)),
        "live vs fixture"
    );
}

/// code, subject and message of every finding.
fn headlines(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].to_string(),
                f["subject"].to_string(),
                f["message"].to_string(),
            )
        })
        .collect()
}

#[test]
fn one_paginated_list_per_kind_and_no_object_gets() {
    let (server, _tmp, kubeconfig) = training_pipeline(Faults::default());
    let (code, _, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--chunk-size",
        "2",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let requests = server.requests();
    let pod_pages: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("/api/v1/namespaces/flts/pods?"))
        .collect();
    let pods: usize = 9;
    assert_eq!(pod_pages.len(), usize::div_ceil(pods, 2), "{pod_pages:#?}");
    assert_eq!(pod_pages[0], "/api/v1/namespaces/flts/pods?limit=2");
    assert!(
        pod_pages[1..]
            .iter()
            .all(|r| r.contains("&continue=eyJvZmZzZXQiOn0%3D"))
    );
    // One first page per kind: nobody lists a kind twice.
    let firsts: Vec<&String> = requests
        .iter()
        .filter(|r| r.ends_with("?limit=2"))
        .collect();
    let mut unique = firsts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(firsts.len(), unique.len(), "{firsts:#?}");
    // No per-object GETs: only lists, log tails, probes and /version.
    for r in &requests {
        let path = r.split('?').next().unwrap();
        let segments = path.trim_matches('/').split('/').count();
        let is_list = r.contains("limit=2");
        assert!(
            is_list || path.ends_with("/log") || path.contains("/proxy/") || path == "/version",
            "unexpected request {r} ({segments} segments)"
        );
    }
}

#[test]
fn select_narrows_what_is_listed() {
    let (server, _tmp, kubeconfig) = training_pipeline(Faults::default());
    let (code, _, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--select",
        "WKL001",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let requests = server.requests();
    assert!(requests.iter().any(|r| r.contains("/pods?")));
    for absent in ["/configmaps", "/secrets", "/services", "/endpointslices"] {
        assert!(
            !requests.iter().any(|r| r.contains(absent)),
            "{absent} listed: {requests:#?}"
        );
    }
}

#[test]
fn a_forbidden_kind_skips_the_checks_that_need_it() {
    let (_server, _tmp, kubeconfig) = training_pipeline(Faults {
        forbidden: vec!["services".into(), "secrets".into()],
        ..Faults::default()
    });
    let (code, stdout, stderr) = run(&["doctor", "--kubeconfig", s(&kubeconfig), "-o", "json"]);
    assert_eq!(
        code, 1,
        "findings of the other checks still decide: {stderr}"
    );
    let report = json_of(&stdout);
    let check = |code: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"] == code)
            .unwrap()
            .clone()
    };
    // Services are needed by WKL007: it is skipped with the reason.
    assert_eq!(check("WKL007")["status"], "skipped");
    let reason = check("WKL007")["reason"].as_str().unwrap().to_string();
    assert!(
        reason
            .starts_with("forbidden: list services in namespace flts (services is forbidden: User"),
        "{reason}"
    );
    // Secrets only sharpen WKL002: it still runs.
    assert_ne!(check("WKL002")["status"], "skipped");
    assert_eq!(check("WKL001")["status"], "fail");
    let coverage = report["coverage"].as_array().unwrap();
    let services = coverage
        .iter()
        .find(|c| c["resource"] == "services")
        .unwrap();
    assert_eq!(services["result"], "forbidden");
    assert!(
        services["message"]
            .as_str()
            .unwrap()
            .starts_with("services is forbidden: User \"system:serviceaccount:flts:doctor\""),
        "{services}"
    );
    // --strict turns the gap into a failing run; still not exit 2.
    let (code, _, _) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--strict",
        "--fail-on",
        "never",
    ]);
    assert_eq!(code, 1);
}

fn settings(kubeconfig: &Path) -> Settings {
    Settings {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        chunk_size: 500,
        kafka_bootstrap: None,
        kafka_config: Vec::new(),
    }
}

#[test]
fn absent_groups_are_not_installed_failures_are_failed_and_503_is_retried() {
    collect::install_crypto_provider();
    let (_server, _tmp, kubeconfig) = training_pipeline(Faults {
        failing: vec!["configmaps".into()],
        flaky_once: vec!["pods".into()],
        ..Faults::default()
    });
    let plan = Plan {
        kinds: [
            Kind::ScaledObject,
            Kind::SeldonModel,
            Kind::Pod,
            Kind::ConfigMap,
            Kind::ApiService,
        ]
        .into(),
        logs: false,
        probes: false,
        kafka: false,
    };
    let collected = collect::live(
        &settings(&kubeconfig),
        &Scope::ContextNamespace,
        &plan,
        Options::default(),
    )
    .unwrap();
    let view = &collected.view;
    let result = |resource: &str| {
        view.coverage
            .iter()
            .find(|c| c.resource == resource)
            .map(|c| (c.result, c.message.clone()))
    };
    assert_eq!(
        result("scaledobjects"),
        Some((
            CoverageResult::NotInstalled,
            "the API server does not serve keda.sh/v1alpha1".into()
        ))
    );
    assert_eq!(result("models").unwrap().0, CoverageResult::NotInstalled);
    let (failed, message) = result("configmaps").unwrap();
    assert_eq!(failed, CoverageResult::Failed);
    assert!(
        message.contains("HTTP 500") && message.contains("etcdserver"),
        "{message}"
    );
    assert!(view.has(Kind::Pod) && view.pods.len() == 9);
    assert!(
        view.has(Kind::ApiService),
        "an empty list is still collected"
    );
    assert!(!view.has(Kind::ScaledObject) && !view.has(Kind::ConfigMap));
    let api = view.api.as_ref().unwrap();
    let pods: Vec<_> = api
        .requests
        .iter()
        .filter(|r| r.path.contains("/pods?"))
        .collect();
    assert_eq!(pods.len(), 2, "{pods:#?}");
    assert_eq!((pods[0].status, pods[0].attempt), (Some(503), 1));
    assert_eq!((pods[1].status, pods[1].attempt), (Some(200), 2));
}

#[test]
fn a_server_that_never_answers_fails_fast_with_exit_2() {
    let url = support::silent_server();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = support::kubeconfig(tmp.path(), &url, "flts");
    let started = Instant::now();
    let (code, stdout, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--request-timeout",
        "500ms",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        stderr.contains(&format!("cannot reach the API server at {url}"))
            && stderr.contains("no answer within the request timeout")
            && stderr.contains("--request-timeout"),
        "{stderr}"
    );
}

#[test]
fn a_refused_connection_names_the_server_and_what_to_check() {
    let url = support::refused_server();
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = support::kubeconfig(tmp.path(), &url, "flts");
    let (code, _, stderr) = run(&["doctor", "--kubeconfig", s(&kubeconfig)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the API server at {url} (context test)"
        )) && stderr.to_lowercase().contains("refused")
            && stderr.contains("is the cluster running"),
        "{stderr}"
    );
}

#[test]
fn the_run_deadline_bounds_a_slow_server() {
    let (_server, _tmp, kubeconfig) = training_pipeline(Faults {
        delay: Duration::from_millis(400),
        ..Faults::default()
    });
    let started = Instant::now();
    let (code, _, stderr) = run(&["doctor", "--kubeconfig", s(&kubeconfig), "--timeout", "1s"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        stderr.contains("did not finish within --timeout 1s"),
        "{stderr}"
    );
}

/// Trap 1: an https client must find its crypto provider (no panic, exit 2).
#[test]
fn an_https_server_builds_a_tls_client() {
    let server = ApiServer::start(&fixture("healthy"), Vec::new(), Faults::default());
    let https = server.url.replace("http://", "https://");
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = support::kubeconfig(tmp.path(), &https, "flts");
    let (code, _, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--request-timeout",
        "2s",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the API server at {https}")),
        "{stderr}"
    );
}

/// A half-open TLS handshake: the server accepts the connection and never
/// answers the ClientHello. The request timeout bounds it; exit 2, no hang.
#[test]
fn a_tls_handshake_that_never_completes_is_bounded_by_the_request_timeout() {
    let https = support::silent_server().replace("http://", "https://");
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = support::kubeconfig(tmp.path(), &https, "flts");
    let started = Instant::now();
    let (code, _, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--request-timeout",
        "500ms",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        stderr.contains(&format!("cannot reach the API server at {https}"))
            && stderr.contains("--request-timeout"),
        "{stderr}"
    );
}

#[test]
fn bad_kubeconfig_and_context_are_exit_2_with_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let (code, _, stderr) = run(&["doctor", "--kubeconfig", s(&missing)]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("cannot read kubeconfig {}", missing.display())),
        "{stderr}"
    );

    let kubeconfig = support::kubeconfig(tmp.path(), "http://127.0.0.1:1", "flts");
    let (code, _, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--context",
        "prod",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("context prod is not in the kubeconfig") && stderr.contains("test"),
        "{stderr}"
    );
}

#[test]
fn kubeconfig_env_may_list_several_files() {
    let (_server, tmp, kubeconfig) = training_pipeline(Faults::default());
    let empty = tmp.path().join("empty.yaml");
    std::fs::write(&empty, "apiVersion: v1\nkind: Config\n").unwrap();
    let list = std::env::join_paths([empty, kubeconfig]).unwrap();
    let out = mlopsctl()
        .env("KUBECONFIG", list)
        .args(["doctor", "-o", "json", "--select", "WKL001"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn snapshot_save_redacts_every_secret_value() {
    let secret_b64 = "aHVudGVyMi1zZWNyZXQtdmFsdWU="; // hunter2-secret-value
    let applied = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "flts"},
                         "data": {"password": secret_b64}})
    .to_string();
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "flts", "uid": "6a1c", "resourceVersion": "9001",
                     "creationTimestamp": "2025-11-02T10:01:10Z",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
        "type": "Opaque", "data": {"password": secret_b64}});
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "feature-store", "namespace": "flts", "uid": "77b2", "resourceVersion": "9002",
                     "creationTimestamp": "2025-11-02T10:01:10Z"},
        "spec": {"selector": {"matchLabels": {"app": "feature-store"}},
                 "template": {"metadata": {"labels": {"app": "feature-store"}},
                              "spec": {"containers": [{"name": "app", "image": "feast:0.40",
                                  "env": [{"name": "DB_PASSWORD", "value": "hunter2-env-value"},
                                          {"name": "DATABASE_URL", "value": "postgresql://feast:hunter2-url-pass@db:5432/feast"}]}]}}}});
    let server = ApiServer::start(
        &fixture("training-pipeline"),
        vec![secret, deployment],
        Faults::default(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(tmp.path(), "flts");
    let dir = tmp.path().join("snap");
    let (code, _, stderr) = run(&[
        "snapshot",
        "save",
        s(&dir),
        "--kubeconfig",
        s(&kubeconfig),
        "-q",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    let mut files = Vec::new();
    walk(&dir, &mut files);
    assert!(files.len() > 5);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for leak in ["hunter2", secret_b64] {
            assert!(!text.contains(leak), "{} leaks {leak}", file.display());
        }
    }
    let secrets = json_of(&std::fs::read_to_string(dir.join("secrets.json")).unwrap());
    assert_eq!(secrets["kind"], "SecretList");
    assert_eq!(secrets["items"][0]["data"], json!({"password": ""}));
    let deployments = std::fs::read_to_string(dir.join("deployments.apps.json")).unwrap();
    assert!(deployments.contains("postgresql://feast:REDACTED@db:5432/feast"));
    // The redacted tree is still a valid snapshot.
    let (code, _, stderr) = run(&["doctor", "--snapshot", s(&dir), "-o", "json"]);
    assert_eq!(code, 1, "{stderr}");

    let (code, _, stderr) = run(&["snapshot", "save", s(&dir), "--kubeconfig", s(&kubeconfig)]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not empty"), "{stderr}");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn collect_with(faults: Faults, plan: &Plan) -> mlopsctl::cluster::ClusterView {
    collect::install_crypto_provider();
    let (_server, _tmp, kubeconfig) = training_pipeline(faults);
    collect::live(
        &settings(&kubeconfig),
        &Scope::ContextNamespace,
        plan,
        Options::default(),
    )
    .unwrap()
    .view
}

#[test]
fn probes_go_through_the_pod_proxy() {
    let plan = Plan {
        kinds: [Kind::Pod].into(),
        logs: false,
        probes: true,
        kafka: false,
    };
    let pod = "inference-flmj6qcsgg-lzpvt";
    let view = collect_with(
        Faults {
            proxied: vec![(
                pod.into(),
                8000,
                "/health".into(),
                200,
                "{\"status\":\"ok\"}".into(),
            )],
            ..Faults::default()
        },
        &plan,
    );
    assert_eq!(view.probes.len(), 1);
    let probe = &view.probes[0];
    assert_eq!(
        (
            probe.pod.as_deref(),
            probe.port,
            probe.path.as_str(),
            probe.status
        ),
        (Some(pod), 8000, "/health", Some(200))
    );
    assert_eq!(probe.body.as_deref(), Some("{\"status\":\"ok\"}"));

    let view = collect_with(
        Faults {
            proxied: vec![(
                pod.into(),
                8000,
                "/health".into(),
                0,
                "dial tcp 10.244.1.7:8000: connect: connection refused".into(),
            )],
            ..Faults::default()
        },
        &plan,
    );
    let probe = &view.probes[0];
    assert_eq!(probe.status, None);
    assert_eq!(
        probe.error.as_deref(),
        Some("dial tcp 10.244.1.7:8000: connect: connection refused")
    );
}

#[test]
fn an_expired_continue_token_restarts_the_list_once() {
    let (server, _tmp, kubeconfig) = training_pipeline(Faults {
        expire_continue_once: vec!["pods".into()],
        ..Faults::default()
    });
    let args = Settings {
        chunk_size: 4,
        ..settings(&kubeconfig)
    };
    collect::install_crypto_provider();
    let plan = Plan {
        kinds: [Kind::Pod].into(),
        logs: false,
        probes: false,
        kafka: false,
    };
    let view = collect::live(&args, &Scope::ContextNamespace, &plan, Options::default())
        .unwrap()
        .view;
    assert_eq!(view.pods.len(), 9);
    let firsts = server
        .requests()
        .iter()
        .filter(|r| r.ends_with("/pods?limit=4"))
        .count();
    assert_eq!(firsts, 2, "{:#?}", server.requests());
}

#[test]
fn throttled_and_dropped_requests_are_retried() {
    let plan = Plan {
        kinds: [Kind::Pod, Kind::Service].into(),
        logs: false,
        probes: false,
        kafka: false,
    };
    let view = collect_with(
        Faults {
            throttled_once: vec!["pods".into()],
            dropped_once: vec!["services".into()],
            ..Faults::default()
        },
        &plan,
    );
    assert!(view.coverage.is_empty(), "{:#?}", view.coverage);
    assert_eq!(view.pods.len(), 9);
    assert!(view.has(Kind::Service) && !view.services.is_empty());
    let api = view.api.unwrap();
    let attempts = |what: &str| {
        api.requests
            .iter()
            .filter(|r| r.path.contains(what))
            .map(|r| (r.status, r.attempt))
            .collect::<Vec<_>>()
    };
    assert_eq!(attempts("/pods?"), [(Some(429), 1), (Some(200), 2)]);
    assert_eq!(attempts("/services?"), [(None, 1), (Some(200), 2)]);
}

#[test]
fn a_failing_credential_plugin_is_exit_2_with_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = tmp.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
         contexts:\n- name: eks\n  context: {cluster: c, user: u}\ncurrent-context: eks\n\
         users:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n\
         \x20     command: /bin/false\n      interactiveMode: Never\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["doctor", "--kubeconfig", s(&kubeconfig)]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "cannot get credentials for the API server at https://127.0.0.1:1 (context eks"
        ) && stderr.contains("log in again"),
        "{stderr}"
    );
}

#[test]
fn a_healthy_cluster_is_exit_0_live_in_all_namespaces() {
    let server = ApiServer::start(&fixture("healthy"), Vec::new(), Faults::default());
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = server.kubeconfig(tmp.path(), "default");
    let (code, stdout, stderr) =
        run(&["doctor", "--kubeconfig", s(&kubeconfig), "-A", "-o", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report = json_of(&stdout);
    assert_eq!(report["source"], "context test (all namespaces)");
    assert_eq!(report["findings"], json!([]));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("/api/v1/pods?limit=500")),
        "-A lists cluster-wide"
    );
}

#[test]
fn live_runs_find_what_the_fixtures_show_offline() {
    // Fixtures that hold every kind their checks read (a hand-made snapshot
    // that lacks a kind is "not collected" offline, while a live List of it
    // is merely empty).
    for name in [
        "keda-autoscaling",
        "hpa-problems",
        "keda-problems",
        "metrics-server-down",
        "healthy-autoscaling",
        "rbac-restricted",
        "healthy-seldon",
        "seldon-mesh-broken",
        "seldon-misconfig",
        "seldon-no-runtime",
    ] {
        let server = ApiServer::start(&fixture(name), Vec::new(), Faults::default());
        let tmp = tempfile::tempdir().unwrap();
        let kubeconfig = server.kubeconfig(tmp.path(), "default");
        // Kafka is observed with a Kafka client, not through the API server;
        // probes (SRV003) are compared where the fixture recorded them.
        let fixture_dir = fixture(name);
        let ignore = if fixture_dir.join("probes.yaml").is_file() {
            "KFK"
        } else {
            "KFK,SRV003"
        };
        let (_, live, stderr) = run(&[
            "doctor",
            "--kubeconfig",
            s(&kubeconfig),
            "-A",
            "-o",
            "json",
            "--ignore",
            ignore,
        ]);
        let (_, offline, _) = run(&[
            "doctor",
            "--snapshot",
            s(&fixture_dir),
            "-o",
            "json",
            "--ignore",
            ignore,
        ]);
        let (live, offline) = (json_of(&live), json_of(&offline));
        let (l, o) = (headlines(&live), headlines(&offline));
        let only_live: Vec<_> = l.iter().filter(|h| !o.contains(h)).collect();
        let only_offline: Vec<_> = o.iter().filter(|h| !l.contains(h)).collect();
        assert!(
            only_live.is_empty() && only_offline.is_empty(),
            "{name}: only live {only_live:#?}\nonly offline {only_offline:#?}\n{stderr}"
        );
        let statuses = |r: &Value| -> Vec<(String, String)> {
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["code"] != "CLU001")
                .map(|c| (c["code"].to_string(), c["status"].to_string()))
                .collect()
        };
        assert_eq!(statuses(&live), statuses(&offline), "{name}");
    }
}

#[test]
fn snapshot_save_follows_the_config_like_doctor() {
    let (server, tmp, kubeconfig) = training_pipeline(Faults::default());
    let config = tmp.path().join("mlopsctl.yaml");
    std::fs::write(&config, "namespace: flts\nselect: [WKL001]\n").unwrap();
    let dir = tmp.path().join("snap");
    let (code, _, stderr) = run(&[
        "snapshot",
        "save",
        s(&dir),
        "--kubeconfig",
        s(&kubeconfig),
        "--config",
        s(&config),
        "-q",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.join("pods.json").is_file());
    assert!(
        !dir.join("services.json").exists(),
        "WKL001 reads no Services"
    );
    assert!(dir.join("logs/flts").is_dir());
    assert!(
        server.requests().iter().all(|r| !r.contains("/services")),
        "{:#?}",
        server.requests()
    );
}

#[test]
fn kafka_is_read_only_where_asked_and_its_failure_is_a_finding() {
    let (_server, _tmp, kubeconfig) = training_pipeline(Faults::default());
    // From outside the cluster, without --kafka-bootstrap, Kafka is not read:
    // the Kafka checks say why instead of calling in-cluster names unreachable.
    let (code, stdout, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--select",
        "KFK001",
        "-o",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report = json_of(&stdout);
    assert_eq!(report["checks"][0]["status"], "skipped");
    assert!(
        report["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("--kafka-bootstrap"),
        "{report}"
    );
    // Pointed at a closed port, the read fails within its bound and KFK001 names it.
    let (code, stdout, stderr) = run(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "--select",
        "KFK001",
        "--kafka-bootstrap",
        "127.0.0.1:1",
        "--kafka-config",
        "client.id=mlopsctl-test",
        // The run's deadline bounds the Kafka read too.
        "--timeout",
        "4s",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    let report = json_of(&stdout);
    assert_eq!(report["findings"][0]["code"], "KFK001", "{report}");
    assert!(stdout.contains("127.0.0.1:1"), "{stdout}");
}
