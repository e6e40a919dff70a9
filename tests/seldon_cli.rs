//! The Seldon and Kafka checks through the real binary on the field report's
//! `seldon-mesh` namespace: exit codes, the JSON findings with their cause
//! links, and `--checks` with the training pipeline's topic contract.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("mlopsctl")
        .expect("binary built")
        .env_clear()
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("exited"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
    )
}

#[test]
fn field_report_namespace_json() {
    let (code, stdout) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/seldon-mesh-broken",
        "-o",
        "json",
        "--select",
        "SEL,KFK",
    ]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    insta::assert_json_snapshot!(report["findings"]);
}

#[test]
fn healthy_seldon_exits_0() {
    let (code, stdout) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/healthy-seldon",
        "--color",
        "never",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 errors, 0 warnings"), "{stdout}");
}

#[test]
fn training_topics_contract_as_a_user_check() {
    let (code, stdout) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/kafka-training",
        "--checks",
        "examples/checks",
        "-o",
        "json",
        "--select",
        "FLTS001",
    ]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).expect("JSON report");
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["code"], "FLTS001");
    assert!(
        findings[0]["message"]
            .as_str()
            .expect("message")
            .contains("model-selected")
    );
}
