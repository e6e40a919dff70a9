//! `doctor` over several contexts: two in-process API servers and a context
//! whose server is gone, in one kubeconfig.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;
use support::{ApiServer, Faults, fixture, silent_server};

/// Contexts `prod` (a healthy cluster), `staging` (the training-pipeline
/// incident) and `gone` (a closed loopback port).
struct Fleet {
    _servers: [ApiServer; 2],
    _dir: tempfile::TempDir,
    kubeconfig: String,
}

fn fleet() -> Fleet {
    let prod = ApiServer::start(&fixture("healthy"), Vec::new(), Faults::default());
    let staging = ApiServer::start(&fixture("training-pipeline"), Vec::new(), Faults::default());
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(
        dir.path(),
        &[
            ("prod", &prod.url),
            ("staging", &staging.url),
            ("gone", &gone),
        ],
    );
    Fleet {
        _servers: [prod, staging],
        kubeconfig,
        _dir: dir,
    }
}

/// A kubeconfig in `dir` with one context, and cluster, per (name, URL).
fn kubeconfig(dir: &Path, contexts: &[(&str, &str)]) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {}\nclusters:\n",
        contexts[0].0
    );
    for (name, url) in contexts {
        text += &format!("- name: {name}\n  cluster:\n    server: {url}\n");
    }
    text += "contexts:\n";
    for (name, _) in contexts {
        text += &format!("- name: {name}\n  context:\n    cluster: {name}\n    user: test\n");
    }
    text += "users:\n- name: test\n  user:\n    token: test-token\n";
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Run doctor on all namespaces; (exit code, stdout).
fn doctor(kubeconfig: &str, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .timeout(Duration::from_secs(60))
        .args([
            "doctor",
            "-A",
            "--kubeconfig",
            kubeconfig,
            "--connect-timeout",
            "2s",
        ])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn sources(fleet: &Value) -> Vec<&str> {
    fleet["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect()
}

#[test]
fn an_unreachable_cluster_is_reported_and_the_others_still_checked() {
    let f = fleet();
    let (code, stdout) = doctor(
        &f.kubeconfig,
        &["--context", "staging,gone,prod", "-o", "json"],
    );
    let fleet: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(fleet["schema"], "mlopsctl.fleet/v1");
    // In the order asked for, whichever answered first.
    assert_eq!(
        sources(&fleet),
        [
            "context staging (all namespaces)",
            "context prod (all namespaces)"
        ]
    );
    for report in fleet["reports"].as_array().unwrap() {
        assert_eq!(report["schema"], "mlopsctl.report/v1");
    }
    assert!(fleet["reports"][0]["summary"]["errors"].as_u64().unwrap() > 0);
    assert_eq!(fleet["reports"][1]["summary"]["errors"], 0);
    let unreachable = fleet["unreachable"].as_array().unwrap();
    assert_eq!(unreachable.len(), 1);
    assert_eq!(unreachable[0]["context"], "gone");
    let error = unreachable[0]["error"].as_str().unwrap();
    assert!(error.contains("cannot reach the API server"), "{error}");
    // The worst: a cluster not reached is an error.
    assert_eq!(code, 2);
}

#[test]
fn the_exit_code_is_the_worst_of_the_clusters() {
    let f = fleet();
    let (code, stdout) = doctor(&f.kubeconfig, &["--context", "prod,staging", "-o", "json"]);
    let fleet: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(fleet["unreachable"], Value::Array(Vec::new()));
    assert_eq!(code, 1, "staging's findings fail the gate");
    let (code, _) = doctor(&f.kubeconfig, &["--context", "prod,staging", "--exit-zero"]);
    assert_eq!(code, 0);
}

#[test]
fn all_contexts_gives_a_table_section_per_cluster() {
    let f = fleet();
    let (code, stdout) = doctor(&f.kubeconfig, &["--all-contexts", "--color", "never"]);
    assert_eq!(code, 2);
    let sections: Vec<&str> = stdout.lines().filter(|l| l.starts_with("== ")).collect();
    // Reached clusters first, in the kubeconfig's order, then the others.
    assert_eq!(
        sections,
        [
            "== context prod (all namespaces) ==",
            "== context staging (all namespaces) ==",
            "== context gone =="
        ]
    );
    assert!(
        stdout.contains("unreachable: cannot reach the API server"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 clusters: 2 reached, 1 unreachable;"),
        "{stdout}"
    );
}

/// One exposition for the fleet: each family once, every sample labelled
/// with its context, and whether each cluster was reached; promtool reads it.
#[test]
fn a_fleets_metrics_carry_the_cluster_label() {
    let f = fleet();
    let (code, stdout) = doctor(
        &f.kubeconfig,
        &["--context", "staging,gone,prod", "-o", "prometheus"],
    );
    assert_eq!(code, 2);
    assert_eq!(stdout.matches("# TYPE mlopsctl_finding gauge").count(), 1);
    for line in [
        "mlopsctl_cluster_up{cluster=\"staging\"} 1",
        "mlopsctl_cluster_up{cluster=\"prod\"} 1",
        "mlopsctl_cluster_up{cluster=\"gone\"} 0",
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line}\n{stdout}");
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("mlopsctl_finding{cluster=\"staging\",code=")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .filter(|l| !l.starts_with('#'))
            .all(|l| l.contains("cluster=\"")),
        "{stdout}"
    );
    if let Some(promtool) = support::promtool::promtool() {
        support::promtool::check(&promtool, &stdout).unwrap();
    }
}

#[test]
fn formats_with_one_cluster_in_them_are_refused() {
    let f = fleet();
    for args in [
        &["--context", "prod,staging", "-o", "sarif"][..],
        &["--all-contexts", "--statistics"][..],
    ] {
        let (code, stdout) = doctor(&f.kubeconfig, args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
    }
}

/// Clusters are collected at the same time: two that never answer cost one
/// `--timeout`, not two, and the one that answers is still reported.
#[test]
fn clusters_that_hang_are_waited_for_together() {
    let prod = ApiServer::start(&fixture("healthy"), Vec::new(), Faults::default());
    let (hung1, hung2) = (silent_server(), silent_server());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(
        dir.path(),
        &[("hung1", &hung1), ("prod", &prod.url), ("hung2", &hung2)],
    );
    let started = Instant::now();
    let (code, stdout) = doctor(
        &kubeconfig,
        &[
            "--all-contexts",
            "-o",
            "json",
            "--timeout",
            "3s",
            "--request-timeout",
            "3s",
        ],
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let fleet: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sources(&fleet), ["context prod (all namespaces)"]);
    let unreachable: Vec<&str> = fleet["unreachable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["context"].as_str().unwrap())
        .collect();
    assert_eq!(unreachable, ["hung1", "hung2"]);
    assert_eq!(code, 2);
}
