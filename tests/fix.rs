//! `mlopsctl fix` end to end from a snapshot: the printed plan (colour off)
//! and the patch file, as goldens; exit codes for unfixable findings.

use std::path::PathBuf;

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `mlopsctl fix ARGS --patch-file TMP --color never`; (exit code, stdout, patch file).
fn fix(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("patches.yaml");
    let out = Command::cargo_bin("mlopsctl")
        .expect("binary built")
        .env_clear()
        .current_dir(root())
        .arg("fix")
        .args(args)
        .args(["--color", "never", "--patch-file"])
        .arg(&file)
        .output()
        .expect("runs");
    let stdout = String::from_utf8(out.stdout)
        .expect("utf-8")
        .replace(&file.display().to_string(), "PATCH_FILE");
    let patches = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().expect("exited"), stdout, patches)
}

#[test]
fn training_pipeline_missing_env() {
    let (code, stdout, patches) = fix(&[
        "WKL001",
        "--snapshot",
        "fixtures/training-pipeline",
        "--set",
        "MODEL_TYPE=LSTM",
    ]);
    assert_eq!(code, 0, "{stdout}");
    // The plan says which Helm values to change too, so an upgrade keeps the fix.
    assert!(stdout.contains("managed by Helm release flts"), "{stdout}");
    insta::assert_snapshot!("training_pipeline_wkl001_plan", stdout);
    insta::assert_snapshot!("training_pipeline_wkl001_patches", patches);
}

#[test]
fn training_pipeline_oom_needs_unsafe_then_applies() {
    let (code, stdout, patches) = fix(&[
        "WKL003",
        "--snapshot",
        "fixtures/training-pipeline",
        "--set",
        "memory=2Gi",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("skipped: unsafe, pass --unsafe"),
        "{stdout}"
    );
    assert!(stdout.contains("0 patches written"), "{stdout}");
    assert!(!patches.contains("kubectl patch"), "{patches}");

    let (code, stdout, patches) = fix(&[
        "WKL003",
        "--snapshot",
        "fixtures/training-pipeline",
        "--set",
        "memory=2Gi",
        "--unsafe",
    ]);
    assert_eq!(code, 0, "{stdout}");
    insta::assert_snapshot!("training_pipeline_wkl003_plan", stdout);
    insta::assert_snapshot!("training_pipeline_wkl003_patches", patches);
}

#[test]
fn seldon_server_scale_up() {
    // Adding capacity adds pods that cost money and must fit the nodes: unsafe.
    let (code, stdout, _) = fix(&["SEL003", "--snapshot", "fixtures/seldon-mesh-broken"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("skipped: unsafe, pass --unsafe"),
        "{stdout}"
    );
    let (code, stdout, patches) = fix(&[
        "SEL003",
        "--snapshot",
        "fixtures/seldon-mesh-broken",
        "--unsafe",
    ]);
    assert_eq!(code, 0, "{stdout}");
    insta::assert_snapshot!("seldon_sel003_plan", stdout);
    insta::assert_snapshot!("seldon_sel003_patches", patches);
}

#[test]
fn a_missing_input_is_shown_and_fails_the_run() {
    let (code, stdout, _) = fix(&["WKL001", "--snapshot", "fixtures/training-pipeline"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("manual: needs --set MODEL_TYPE=VALUE"),
        "{stdout}"
    );
    assert!(stdout.contains("value: ${MODEL_TYPE}"), "{stdout}");
}

#[test]
fn findings_without_operations_fail_the_run() {
    // WKL002 (env-refs) has only manual fixes so far.
    let (code, stdout, _) = fix(&["WKL", "--snapshot", "fixtures/training-pipeline"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Without an automatic fix:"), "{stdout}");
}

#[test]
fn bad_set_is_an_error() {
    let out = Command::cargo_bin("mlopsctl")
        .expect("binary built")
        .env_clear()
        .current_dir(root())
        .args([
            "fix",
            "--snapshot",
            "fixtures/training-pipeline",
            "--set",
            "oops",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected KEY=VALUE"));
}

#[test]
fn keda_trigger_address_names_the_argo_managed_field() {
    let (code, stdout, patches) = fix(&["SCL005", "--snapshot", "fixtures/keda-problems"]);
    assert_eq!(code, 0, "{stdout}");
    // batch-scorer is tracked by Argo CD: the plan names the field to change there.
    assert!(
        stdout.contains(
            "The fields of ScaledObject inference/batch-scorer this fix changes: spec.triggers[0].metadata.serverAddress."
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 cleared, 0 remaining, 0 new"), "{stdout}");
    assert!(
        patches.contains("prometheus-server.inference.svc.cluster.local:9090"),
        "{patches}"
    );
}

#[test]
fn leftover_hpa_is_deleted_after_its_trigger_moves_to_keda() {
    let (code, stdout, patches) = fix(&[
        "SCL004",
        "--snapshot",
        "fixtures/keda-autoscaling",
        "--unsafe",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("1 cleared, 0 remaining, 0 new"), "{stdout}");
    let add = patches
        .find("path: /spec/triggers/-")
        .expect("trigger added");
    let delete = patches.find("delete: true").expect("HPA deleted");
    assert!(
        add < delete,
        "the trigger is added before the HPA goes:\n{patches}"
    );
    assert!(!patches.contains("name: keda-hpa-"), "{patches}");
}

#[test]
fn probe_repair_waits_for_unsafe() {
    let (code, stdout, _) = fix(&["WKL005", "--snapshot", "fixtures/mlflow-serving"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("skipped: unsafe, pass --unsafe"),
        "{stdout}"
    );
    let (code, stdout, _) = fix(&[
        "WKL005",
        "--snapshot",
        "fixtures/mlflow-serving",
        "--unsafe",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("2 cleared, 0 remaining, 0 new"), "{stdout}");
}

#[test]
fn a_memory_limit_is_never_lowered() {
    // The trainer's limit is 512Mi: a smaller value is refused, and said so.
    let (code, stdout, patches) = fix(&[
        "WKL003",
        "--snapshot",
        "fixtures/training-pipeline",
        "--set",
        "memory=256Mi",
        "--unsafe",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("not applied: --set memory=256Mi is not above the current 512Mi"),
        "{stdout}"
    );
    assert!(!patches.contains("kubectl patch"), "{patches}");
}

/// A copy of a fixture with annotations added to one Deployment (which
/// has some already).
fn annotated(fixture: &str, deployment: &str, annotations: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("fixtures").join(fixture)).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let path = dir.path().join("deployments.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let at = text
        .find(&format!("    name: {deployment}\n"))
        .expect("the deployment in the fixture");
    let open = at
        + text[at..].find("    annotations:\n").expect("annotations")
        + "    annotations:\n".len();
    let added: String = annotations
        .iter()
        .map(|(k, v)| format!("      {k}: {v}\n"))
        .collect();
    std::fs::write(&path, format!("{}{added}{}", &text[..open], &text[open..])).unwrap();
    dir
}

#[test]
fn a_suppressed_finding_is_never_planned() {
    let dir = annotated(
        "training-pipeline",
        "train-lstm",
        &[
            ("mlopsctl.io/ignore", "WKL001"),
            ("mlopsctl.io/ignore-reason", "migrating"),
        ],
    );
    let (code, stdout, patches) = fix(&[
        "WKL001",
        "--snapshot",
        dir.path().to_str().unwrap(),
        "--set",
        "MODEL_TYPE=X",
    ]);
    assert!(!stdout.contains("train-lstm"), "{stdout}");
    assert!(!patches.contains("train-lstm"), "{patches}");
    assert_eq!(code, 0, "nothing left to fix: {stdout}");
}

#[test]
fn the_namespace_and_the_config_scope_a_snapshot_fix_as_they_scope_doctor() {
    // -n narrows the snapshot: no fix in a namespace that is not looked at.
    let (code, stdout, _) = fix(&[
        "SEL003",
        "--snapshot",
        "fixtures/seldon-mesh-broken",
        "--unsafe",
        "-n",
        "seldon-system",
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 fixes planned"), "{stdout}");
    // The config file's ignore applies to fix as to doctor.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "ignore: [SEL003]\n").unwrap();
    let (code, stdout, _) = fix(&[
        "SEL",
        "--snapshot",
        "fixtures/seldon-mesh-broken",
        "--unsafe",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!stdout.contains("SEL003"), "{stdout}");
    assert_ne!(code, 2, "{stdout}");
}
