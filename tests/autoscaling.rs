//! The autoscaling checks end to end on the KEDA field report's cluster: the real
//! binary, its exit code and the JSON report with every root-cause link.

use std::path::PathBuf;

use assert_cmd::Command;

fn doctor(fixture: &str) -> (i32, serde_json::Value) {
    let out = Command::cargo_bin("mlopsctl")
        .expect("binary built")
        .env_clear()
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .args([
            "doctor",
            "--snapshot",
            fixture,
            "-o",
            "json",
            "--select",
            "SCL",
        ])
        .output()
        .expect("runs");
    let report = serde_json::from_slice(&out.stdout).expect("valid JSON");
    (out.status.code().expect("exited"), report)
}

#[test]
fn keda_field_report() {
    let (code, report) = doctor("fixtures/keda-autoscaling");
    assert_eq!(code, 1, "errors found");
    let text = report.to_string();
    assert!(
        !text.contains("Xk9-rabbit-2024"),
        "the RabbitMQ password is never printed"
    );
    insta::assert_json_snapshot!(report["findings"]);
}

#[test]
fn healthy_autoscaling_exits_0() {
    let (code, report) = doctor("fixtures/healthy-autoscaling");
    assert_eq!(code, 0);
    assert_eq!(report["findings"], serde_json::json!([]));
    let checks = report["checks"].as_array().expect("checks");
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{checks:#?}");
}
