//! Every fixture, loaded into a real kube-apiserver (a cluster of its own,
//! `support::envtest::isolated`), gives live the findings it gives offline.
//! A server without a kubelet cannot show logs or answer probes: the
//! offline side is the fixture without its logs and probes, and what those
//! alone find is listed per fixture in a snapshot
//! (`real_fixtures__kubelet_only__*.snap`).

mod support;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::{Value, json};
use support::envtest;
use support::fixture;
use support::loader::{Loaded, load_fixture};

fn mlopsctl(args: &[&str]) -> (i32, Value, String) {
    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .timeout(Duration::from_secs(120))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{stdout}\n{stderr}"));
    (out.status.code().unwrap(), json, stderr)
}

/// mlopsctl for a command that prints no report: (exit code, stdout, stderr).
fn mlopsctl_status(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .timeout(Duration::from_secs(120))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A copy of the fixture without what only a kubelet or a broker shows.
fn without_kubelet(fixture: &Path, to: &Path, keep_kafka: bool) {
    for entry in std::fs::read_dir(fixture).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dropped = ["logs", "probes.yaml"].contains(&name.as_str())
            || (name == "kafka.yaml" && !keep_kafka);
        if !dropped && entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// (code, subject, message) of every finding, sorted.
fn headlines(report: &Value, loaded: Option<&Loaded>) -> Vec<String> {
    let mut out: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let line = format!(
                "{} {} {}",
                f["code"].as_str().unwrap(),
                f["subject"],
                f["message"]
            );
            loaded.map_or(line.clone(), |l| l.to_fixture(&line))
        })
        .collect();
    out.sort();
    out
}

/// The codes of the checks that could judge offline: live runs only these,
/// since a hand-made fixture that lacks a kind cannot judge what a live
/// List of it (merely empty) can.
fn judged(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "skipped")
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn parity(name: &str) {
    let Some(cluster) = envtest::isolated() else {
        return;
    };
    let fixture_dir = fixture(name);
    let loaded = load_fixture(&cluster.rest, &fixture_dir);
    let tmp = tempfile::tempdir().unwrap();
    let offline_dir = tmp.path().join("offline");
    std::fs::create_dir(&offline_dir).unwrap();
    without_kubelet(&fixture_dir, &offline_dir, false);

    let (_, offline, _) = mlopsctl(&[
        "doctor",
        "--snapshot",
        s(&offline_dir),
        "-o",
        "json",
        "--ignore",
        "KFK,CLU001",
    ]);
    let (_, full, _) = mlopsctl(&[
        "doctor",
        "--snapshot",
        s(&fixture_dir),
        "-o",
        "json",
        "--ignore",
        "KFK,CLU001",
    ]);
    let codes = judged(&offline).join(",");
    let kubeconfig = cluster.kubeconfig(tmp.path(), "default");
    let (_, live, stderr) = mlopsctl(&[
        "doctor",
        "--kubeconfig",
        s(&kubeconfig),
        "-A",
        "-o",
        "json",
        "--select",
        &codes,
    ]);
    let (l, o) = (headlines(&live, Some(&loaded)), headlines(&offline, None));
    // An aggregated API (metrics-server, KEDA's metrics adapter) is only
    // available when its pods run: kube-apiserver's own availability check
    // marks it unavailable in a cluster without a kubelet, whatever the
    // fixture's status said.
    let needs_kubelet =
        |h: &&String| h.starts_with("SCL001 ") && h.contains("\"kind\":\"APIService\"");
    let only_live: Vec<_> = l.iter().filter(|h| !o.contains(h)).collect();
    let only_offline: Vec<_> = o.iter().filter(|h| !l.contains(h)).collect();
    assert!(
        only_live.iter().all(needs_kubelet) && only_offline.is_empty(),
        "{name}: only live {only_live:#?}\nonly offline {only_offline:#?}\nskipped on load: {:#?}\n{stderr}",
        loaded.skipped
    );
    // What was read live, saved, reads back offline to the same findings.
    let saved = tmp.path().join("saved");
    let (code, _, save_err) = mlopsctl_status(&[
        "snapshot",
        "save",
        s(&saved),
        "--kubeconfig",
        s(&kubeconfig),
        "-A",
        "--select",
        &codes,
        "-q",
    ]);
    assert_eq!(code, 0, "{name}: snapshot save: {save_err}");
    let (_, replayed, _) = mlopsctl(&[
        "doctor",
        "--snapshot",
        s(&saved),
        "-o",
        "json",
        "--select",
        &codes,
    ]);
    assert_eq!(
        headlines(&replayed, Some(&loaded)),
        l,
        "{name}: snapshot save then doctor --snapshot"
    );
    // What needs a kubelet, listed per fixture: what the fixture's logs and
    // probes alone show, and the aggregated APIs that need running pods.
    let from_logs_and_probes: Vec<String> = headlines(&full, None)
        .into_iter()
        .filter(|h| !o.contains(h))
        .collect();
    let unavailable_apis: Vec<&String> = only_live.into_iter().filter(needs_kubelet).collect();
    insta::assert_yaml_snapshot!(
        format!("kubelet_only__{name}"),
        (from_logs_and_probes, unavailable_apis)
    );
}

macro_rules! fixtures {
    ($($test:ident => $name:literal,)*) => {
        $(#[test] fn $test() { parity($name); })*
    };
}

fixtures! {
    gpu_device_plugin => "gpu-device-plugin",
    gpu_exhausted => "gpu-exhausted",
    gpu_scheduling => "gpu-scheduling",
    healthy => "healthy",
    healthy_autoscaling => "healthy-autoscaling",
    healthy_gpu => "healthy-gpu",
    healthy_kserve => "healthy-kserve",
    healthy_seldon => "healthy-seldon",
    healthy_serving => "healthy-serving",
    healthy_strimzi => "healthy-strimzi",
    healthy_upstream_keda => "healthy-upstream-keda",
    healthy_upstream_mlflow => "healthy-upstream-mlflow",
    healthy_upstream_seldon => "healthy-upstream-seldon",
    hpa_problems => "hpa-problems",
    kafka_training => "kafka-training",
    kafka_unreachable => "kafka-unreachable",
    keda_autoscaling => "keda-autoscaling",
    keda_problems => "keda-problems",
    kserve_broken => "kserve-broken",
    metrics_server_down => "metrics-server-down",
    missing_config => "missing-config",
    mlflow_serving => "mlflow-serving",
    seldon_mesh_broken => "seldon-mesh-broken",
    seldon_misconfig => "seldon-misconfig",
    seldon_no_runtime => "seldon-no-runtime",
    serving_workloads => "serving-workloads",
    strimzi_broken => "strimzi-broken",
    training_overload => "training-overload",
    training_pipeline => "training-pipeline",
}

/// SEL001 from the spec alone: seldon-mesh-broken with its dataflow engine
/// pointed at `seldon-scheduler.seldon-core`, a namespace the cluster does
/// not have. A control plane without a kubelet serves no logs, so only the
/// spec can show that the name resolves nowhere; live gives what the
/// snapshot without logs gives, inferred from the spec.
#[test]
fn sel001_an_upstream_in_no_namespace_is_found_without_logs() {
    let Some(cluster) = envtest::isolated() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fixture");
    std::fs::create_dir(&dir).unwrap();
    without_kubelet(&fixture("seldon-mesh-broken"), &dir, false);
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let renamed = text.replace(
            "seldon-scheduler.seldon-system",
            "seldon-scheduler.seldon-core",
        );
        std::fs::write(entry.path(), renamed).unwrap();
    }
    let loaded = load_fixture(&cluster.rest, &dir);
    let kubeconfig = cluster.kubeconfig(tmp.path(), "default");
    let select = ["--select", "SEL001"];
    let (_, live, stderr) = mlopsctl(
        &[
            &["doctor", "--kubeconfig", s(&kubeconfig), "-A", "-o", "json"][..],
            &select,
        ]
        .concat(),
    );
    let (_, offline, _) = mlopsctl(
        &[
            &["doctor", "--snapshot", s(&dir), "-o", "json"][..],
            &select,
        ]
        .concat(),
    );
    assert_eq!(
        headlines(&live, Some(&loaded)),
        headlines(&offline, None),
        "{stderr}"
    );
    let findings = live["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{stderr}");
    let f = &findings[0];
    assert_eq!(f["code"], "SEL001");
    assert_eq!(
        f["message"],
        "the dataflow engine cannot resolve its scheduler address seldon-scheduler.seldon-core:9008: namespace seldon-core does not exist and seldon-core is no public domain"
    );
    assert!(
        f["evidence"].as_array().unwrap().contains(&json!(
            "inferred from the spec: the engine's logs were not read"
        )),
        "{f:#}"
    );
}

/// The fixture taken by a ServiceAccount that may not list Secrets or
/// HorizontalPodAutoscalers: live, as that account, on the shipped doctor
/// role less those two, the same findings, and the same checks skipped.
#[test]
fn rbac_restricted_as_the_restricted_account() {
    let Some(cluster) = envtest::isolated() else {
        return;
    };
    let name = "rbac-restricted";
    let fixture_dir = fixture(name);
    let loaded = load_fixture(&cluster.rest, &fixture_dir);
    let mut role = shipped_role("deploy/rbac-doctor.yaml", "ClusterRole");
    role["metadata"]["name"] = json!("doctor-without-secrets-and-hpas");
    let rules = role["rules"].as_array_mut().unwrap();
    for rule in rules.iter_mut() {
        let resources = rule["resources"].as_array_mut().unwrap();
        resources.retain(|r| r != "secrets" && r != "horizontalpodautoscalers");
    }
    rules.retain(|r| !r["resources"].as_array().unwrap().is_empty());
    cluster.rest.create(&role);
    let token =
        cluster
            .rest
            .service_account("flts", "mlopsctl", "doctor-without-secrets-and-hpas", None);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = cluster.kubeconfig_for(tmp.path(), "flts", &token);

    let offline_dir = tmp.path().join("offline");
    std::fs::create_dir(&offline_dir).unwrap();
    without_kubelet(&fixture_dir, &offline_dir, false);
    let ignore = ["--ignore", "KFK,CLU001,SRV003"];
    let (_, offline, _) = mlopsctl(
        &[
            &["doctor", "--snapshot", s(&offline_dir), "-o", "json"][..],
            &ignore,
        ]
        .concat(),
    );
    let (code, live, stderr) = mlopsctl(
        &[
            &["doctor", "--kubeconfig", s(&kubeconfig), "-o", "json"][..],
            &ignore,
        ]
        .concat(),
    );
    assert_ne!(code, 2, "{stderr}");
    assert_eq!(
        headlines(&live, Some(&loaded)),
        headlines(&offline, None),
        "{stderr}"
    );
    let skipped = |r: &Value| -> Vec<String> {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "skipped")
            .map(|c| c["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(skipped(&live), skipped(&offline));
}

/// A ServiceAccount bound to the built-in `view` role in one namespace: the
/// kinds it may not list (Secrets, cluster-scoped Nodes and APIServices)
/// skip the checks that need them, with the API server's reason; nothing is
/// an error.
#[test]
fn a_view_only_account_gets_skipped_checks_never_an_error() {
    let Some(cluster) = envtest::isolated() else {
        return;
    };
    load_fixture(&cluster.rest, &fixture("training-pipeline"));
    let token = cluster
        .rest
        .service_account("flts", "viewer", "view", Some("flts"));
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = cluster.kubeconfig_for(tmp.path(), "flts", &token);
    for scope in [&["-n", "flts"][..], &["-A"][..]] {
        let (code, report, stderr) = mlopsctl(
            &[
                &["doctor", "--kubeconfig", s(&kubeconfig), "-o", "json"][..],
                scope,
            ]
            .concat(),
        );
        assert_ne!(code, 2, "{scope:?}: {stderr}");
        let reasons: Vec<String> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "skipped")
            .map(|c| {
                format!(
                    "{}: {}",
                    c["code"].as_str().unwrap(),
                    c["reason"].as_str().unwrap_or_default()
                )
            })
            .collect();
        assert!(
            reasons.iter().any(|r| r.contains("forbidden")),
            "{scope:?}: {reasons:#?}"
        );
        assert!(
            report["coverage"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["result"] == "forbidden" || c["resource"] == "pods/proxy"),
            "{scope:?}: {}",
            report["coverage"]
        );
    }
}

/// The shipped doctor role less `get pods/log`: the logs the API server
/// refuses are said in the coverage, per namespace, and the run goes on.
#[test]
fn logs_the_account_may_not_read_are_said_in_the_coverage() {
    let Some(cluster) = envtest::isolated() else {
        return;
    };
    load_fixture(&cluster.rest, &fixture("training-pipeline"));
    let mut role = shipped_role("deploy/rbac-doctor.yaml", "ClusterRole");
    role["metadata"]["name"] = json!("doctor-without-logs");
    let rules = role["rules"].as_array_mut().unwrap();
    for rule in rules.iter_mut() {
        let resources = rule["resources"].as_array_mut().unwrap();
        resources.retain(|r| r != "pods/log");
    }
    rules.retain(|r| !r["resources"].as_array().unwrap().is_empty());
    cluster.rest.create(&role);
    let token = cluster
        .rest
        .service_account("flts", "mlopsctl", "doctor-without-logs", None);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = cluster.kubeconfig_for(tmp.path(), "flts", &token);
    let (code, report, stderr) =
        mlopsctl(&["doctor", "--kubeconfig", s(&kubeconfig), "-A", "-o", "json"]);
    assert_ne!(code, 2, "{stderr}");
    let refused: Vec<&Value> = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["resource"] == "pods/log")
        .collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|c| c["result"] == "forbidden"),
        "{}",
        report["coverage"]
    );
    assert!(
        refused.iter().any(|c| c["namespace"] == "flts"),
        "{}",
        report["coverage"]
    );
}

/// One object of a shipped manifest, by kind.
fn shipped_role(path: &str, kind: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap();
    let mut found = None;
    mlopsctl::snapshot::parse_documents(text.as_bytes(), false, &mut |doc| {
        if let mlopsctl::snapshot::Doc::Value(v) = doc
            && v["kind"] == kind
        {
            found = Some(v);
        }
        Ok(())
    })
    .unwrap();
    found.unwrap_or_else(|| panic!("no {kind} in {path}"))
}
