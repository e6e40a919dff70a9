//! The CI gate: exit codes over --fail-on, --strict, --exit-zero and
//! --baseline; suppressions by annotation and by config, with expiry and the
//! report of suppressions that match nothing.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn fixture(name: &str) -> String {
    root().join("fixtures").join(name).display().to_string()
}

#[test]
fn exit_code_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broken = fixture("training-pipeline");
    let healthy = fixture("healthy");
    let cases: &[(&[&str], i32)] = &[
        (&["doctor", "--snapshot", &healthy], 0),
        (&["doctor", "--snapshot", &healthy, "--strict"], 0),
        (&["doctor", "--snapshot", &broken], 1),
        (&["doctor", "--snapshot", &broken, "--fail-on", "never"], 0),
        (&["doctor", "--snapshot", &broken, "--exit-zero"], 0),
        (
            &[
                "doctor",
                "--snapshot",
                &broken,
                "--select",
                "WKL003",
                "--fail-on",
                "info",
            ],
            1,
        ),
        (
            &[
                "doctor",
                "--snapshot",
                &broken,
                "--exit-zero",
                "--snapshot",
                "/nonexistent",
            ],
            2,
        ),
    ];
    for (args, want) in cases {
        let (code, _, stderr) = run_in(d, args);
        assert_eq!(code, *want, "{args:?}: {stderr}");
    }
}

#[test]
fn strict_fails_on_a_skipped_check() {
    let dir = tempfile::tempdir().unwrap();
    // The healthy pipeline, read by an account that may not list pods in flts.
    let snap = dir.path().join("snap");
    copy_dir(&root().join("fixtures/healthy"), &snap);
    std::fs::write(
        snap.join("coverage.yaml"),
        "- {group: \"\", version: v1, resource: pods, namespace: flts, result: forbidden, message: denied}\n",
    )
    .unwrap();
    let snap = snap.to_str().unwrap();
    let (code, out, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            snap,
            "--select",
            "WKL003",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "a skipped check does not fail by default");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["checks"][0]["status"], "skipped");
    assert_eq!(
        report["checks"][0]["reason"],
        "forbidden: list pods in namespace flts (denied)"
    );
    let (code, _, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            snap,
            "--select",
            "WKL003",
            "--strict",
        ],
    );
    assert_eq!(code, 1, "--strict fails on it");
    let (code, _, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            snap,
            "--select",
            "WKL003",
            "--strict",
            "--exit-zero",
        ],
    );
    assert_eq!(code, 2, "--strict and --exit-zero conflict");
}

#[test]
fn baseline_fails_only_on_new_findings() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.json");
    let b = baseline.to_str().unwrap();
    let (code, _, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            &fixture("training-pipeline"),
            "--select",
            "WKL003,WKL004",
            "--write-baseline",
            b,
        ],
    );
    assert_eq!(code, 1, "writing a baseline still reports");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    assert_eq!(stored["schema"], "mlopsctl.baseline/v1");
    assert_eq!(stored["findings"].as_array().unwrap().len(), 2);
    // The known findings no longer fail; a new one (WKL001) does.
    let (code, out, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            &fixture("training-pipeline"),
            "--select",
            "WKL003,WKL004",
            "--baseline",
            b,
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["suppressed"].as_array().unwrap().len(), 2);
    assert!(
        report["suppressed"][0]["by"]
            .as_str()
            .unwrap()
            .starts_with("baseline ")
    );
    let (code, _, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            &fixture("training-pipeline"),
            "--select",
            "WKL001,WKL003,WKL004",
            "--baseline",
            b,
        ],
    );
    assert_eq!(code, 1);
}

/// A copy of the training pipeline with an ignore annotation on the trainer.
fn annotated_snapshot(dir: &Path) -> PathBuf {
    let snap = dir.join("snap");
    copy_dir(&root().join("fixtures/training-pipeline"), &snap);
    let path = snap.join("deployments.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = "      meta.helm.sh/release-name: flts\n";
    let first = text.find(marker).unwrap();
    let train_lstm = text.find("name: train-lstm").unwrap();
    let at = text[train_lstm..]
        .find(marker)
        .map(|i| i + train_lstm)
        .unwrap_or(first);
    let mut out = text.clone();
    out.insert_str(at, "      mlopsctl.io/ignore: WKL001\n      mlopsctl.io/ignore-reason: MODEL_TYPE comes from a sidecar\n");
    std::fs::write(&path, out).unwrap();
    snap
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn annotation_suppresses_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let snap = annotated_snapshot(dir.path());
    let (code, out, stderr) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            snap.to_str().unwrap(),
            "--select",
            "WKL001",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    assert_eq!(report["checks"][0]["status"], "pass");
    assert_eq!(
        report["suppressed"][0]["by"],
        "annotation mlopsctl.io/ignore (MODEL_TYPE comes from a sidecar)"
    );
}

#[test]
fn config_file_scope_overrides_suppressions_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("repo/sub");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(
        dir.path().join("repo/.mlopsctl.yaml"),
        r#"
namespace: flts
ignore: [WKL002]
severity: {WKL007: warning}
params: {WKL004: {minRestarts: 3, logLines: 1}}
suppressions:
  - codes: [WKL003]
    kind: Deployment
    name: nonml-*
    reason: prophet is being rewritten
    expires: 2099-12-31
  - codes: [WKL001]
    name: train-lstm
    reason: old exception
    expires: 2020-01-31
  - codes: [WKL007]
    namespace: other
    reason: nothing matches this
"#,
    )
    .unwrap();
    let (code, out, stderr) = run_in(
        &nested,
        &[
            "doctor",
            "--snapshot",
            &fixture("training-pipeline"),
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"WKL002"), "ignored by config");
    let findings = report["findings"].as_array().unwrap();
    let wkl007 = findings.iter().find(|f| f["code"] == "WKL007").unwrap();
    assert_eq!(wkl007["severity"], "warning", "severity override");
    let wkl004 = findings.iter().find(|f| f["code"] == "WKL004").unwrap();
    assert_eq!(
        wkl004["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.as_str().unwrap().starts_with("log "))
            .count(),
        1,
        "param override"
    );
    assert!(
        findings.iter().all(|f| f["code"] != "WKL003"),
        "suppressed by config"
    );
    assert!(
        findings.iter().any(|f| f["code"] == "WKL001"),
        "expired suppression no longer applies"
    );
    let notes: Vec<&str> = report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("expired on 2020-01-31")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("matched nothing")),
        "{notes:?}"
    );
    // A typo in the config is an error, not a silent default.
    std::fs::write(
        dir.path().join("repo/.mlopsctl.yaml"),
        "severity: {WKL999: info}\n",
    )
    .unwrap();
    let (code, _, stderr) = run_in(
        &nested,
        &["doctor", "--snapshot", &fixture("training-pipeline")],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown check code `WKL999`"), "{stderr}");
}

#[test]
fn output_file_and_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    let (code, out, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            &fixture("training-pipeline"),
            "-o",
            "junit",
            "--output-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("8 errors") && out.contains("report written to"),
        "{out}"
    );
    assert!(std::fs::read_to_string(&file).unwrap().starts_with("<?xml"));
    let (_, out, _) = run_in(
        dir.path(),
        &[
            "doctor",
            "--snapshot",
            &fixture("training-pipeline"),
            "--statistics",
            "-o",
            "json",
        ],
    );
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats.as_array().unwrap().len(), 7);
    assert_eq!(stats[0]["count"], 2);
}

#[test]
fn check_pack_tests() {
    let (code, out, stderr) = run_in(
        &root(),
        &["checks", "test", "examples/checks", "--color", "never"],
    );
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(
        out.contains("PASS contract-met") && out.contains("PASS trainers-missing-seed"),
        "{out}"
    );
    // A pack whose check fires nowhere fails, even with no failing case.
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path();
    std::fs::write(
        pack.join("never.yaml"),
        "code: SITE020\nname: never\ntitle: t\nseverity: error\nanalyzer: required-env\nparams: {target: {names: [nothing-is-called-this]}, required: [X]}\ndocs: {what: a, why: b, fix: c, safety: d}\n",
    )
    .unwrap();
    std::fs::create_dir_all(pack.join("tests/a")).unwrap();
    std::fs::write(
        pack.join("tests/a/expect.yaml"),
        format!("snapshot: {}\nquiet: [SITE020]\n", fixture("healthy")),
    )
    .unwrap();
    let (code, out, _) = run_in(pack, &["checks", "test", ".", "--color", "never"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("SITE020 never fires in its tests"), "{out}");
}

#[test]
fn version_completions_and_man_page() {
    let (code, out, _) = run_in(&root(), &["--version"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("mlopsctl 0.1.0 (commit ") && out.contains(std::env::consts::ARCH),
        "{out}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = run_in(&root(), &["completions", shell]);
        assert_eq!(code, 0);
        assert!(out.contains("doctor"), "{shell}");
    }
    let (code, out, _) = run_in(&root(), &["man"]);
    assert_eq!(code, 0);
    assert!(out.contains(".TH mlopsctl"), "{out}");
}
