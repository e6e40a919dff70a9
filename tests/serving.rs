//! The serving, workload, security and cluster checks end to end on their
//! fixtures: findings, the causes the engine links, and the fix texts.

use std::path::PathBuf;

use mlopsctl::catalogue::Catalogue;
use mlopsctl::report::engine;
use mlopsctl::snapshot;

fn report(fixture: &str) -> mlopsctl::report::Report {
    let catalogue = Catalogue::load(&[]).expect("shipped catalogue");
    let prefixes: Vec<String> = ["WKL", "SRV", "SEC", "CLU"].map(String::from).to_vec();
    let checks = catalogue.select(&prefixes, &[]).expect("codes exist");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    let view = snapshot::load(&dir).expect("fixture loads");
    engine::run(&checks, &view, fixture.to_string())
}

/// The MLflow serving incident: the probes that do not fit are the root cause
/// of the unready endpoint and the stuck rollout.
#[test]
fn mlflow_serving_chain() {
    let report = report("mlflow-serving");
    let linked: Vec<(String, String)> = report
        .findings
        .iter()
        .filter_map(|f| {
            f.cause.as_ref().map(|c| {
                (
                    format!("{} {}", f.code, f.subject.name),
                    format!("{} {}", c.code, c.subject.name),
                )
            })
        })
        .collect();
    assert!(linked.contains(&(
        "SRV003 classification-serving".to_string(),
        "WKL005 classification-serving".to_string()
    )));
    assert!(linked.contains(&(
        "WKL009 classification-serving".to_string(),
        "WKL005 classification-serving".to_string()
    )));
    insta::assert_yaml_snapshot!(report.findings);
}

#[test]
fn serving_workloads() {
    insta::assert_yaml_snapshot!(report("serving-workloads").findings);
}

#[test]
fn training_overload() {
    let report = report("training-overload");
    let pending = report
        .findings
        .iter()
        .find(|f| f.code == "WKL008")
        .expect("unschedulable locust workers");
    assert_eq!(
        pending.cause.as_ref().map(|c| c.code.as_str()),
        Some("CLU002")
    );
    insta::assert_yaml_snapshot!(report.findings);
}

#[test]
fn healthy_serving_is_quiet() {
    assert_eq!(report("healthy-serving").findings, Vec::new());
}
