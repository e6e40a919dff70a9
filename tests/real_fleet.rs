//! A fleet report from a real kube-apiserver: two contexts (two users, two
//! namespaces) on one control plane and a third whose server is gone.

mod support;

use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;
use support::envtest::{self, ADMIN_TOKEN};

#[test]
fn two_users_in_two_namespaces_and_a_cluster_gone_give_one_fleet_report() {
    let Some(plane) = envtest::shared(false) else {
        return;
    };
    let (team_a, team_b) = (plane.namespace("fleet-a"), plane.namespace("fleet-b"));
    // The second user may only view its own namespace: what it cannot list is
    // coverage in its report, not an unreachable cluster.
    let viewer = plane
        .rest
        .service_account(&team_b, "viewer", "view", Some(&team_b));
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let url = &plane.url;
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: admin\n\
         clusters:\n\
         - name: envtest\n  cluster:\n    server: {url}\n    insecure-skip-tls-verify: true\n\
         - name: gone\n  cluster:\n    server: {gone}\n\
         contexts:\n\
         - name: admin\n  context:\n    cluster: envtest\n    user: admin\n    namespace: {team_a}\n\
         - name: viewer\n  context:\n    cluster: envtest\n    user: viewer\n    namespace: {team_b}\n\
         - name: gone\n  context:\n    cluster: gone\n    user: admin\n\
         users:\n\
         - name: admin\n  user:\n    token: {ADMIN_TOKEN}\n\
         - name: viewer\n  user:\n    token: {viewer}\n"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();

    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .timeout(Duration::from_secs(120))
        .args(["doctor", "--all-contexts", "-o", "json", "--kubeconfig"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let fleet: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}\n{stderr}"));
    assert_eq!(fleet["schema"], "mlopsctl.fleet/v1");
    let reports = fleet["reports"].as_array().unwrap();
    let sources: Vec<&str> = reports
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            format!("context admin (namespace {team_a})"),
            format!("context viewer (namespace {team_b})"),
        ]
    );
    let forbidden = |report: &Value| {
        report["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["result"] == "forbidden")
    };
    assert!(!forbidden(&reports[0]), "the admin reads everything");
    assert!(
        forbidden(&reports[1]),
        "the viewer may not list all: {}",
        reports[1]["coverage"]
    );
    let unreachable = fleet["unreachable"].as_array().unwrap();
    assert_eq!(unreachable.len(), 1, "{unreachable:?}");
    assert_eq!(unreachable[0]["context"], "gone");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}
