//! The real binary, end to end: exit codes, table and JSON goldens with colour
//! off, the catalogue commands and bad input. The environment is cleared so the
//! host's settings cannot leak in.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mlopsctl() -> Command {
    let mut cmd = Command::cargo_bin("mlopsctl").expect("binary built");
    cmd.env_clear().current_dir(root());
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

#[test]
fn healthy_snapshot_exits_0() {
    let (code, stdout, stderr) = run(&["doctor", "--snapshot", "fixtures/healthy"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("0 errors, 0 warnings"), "{stdout}");
}

#[test]
fn training_pipeline_table() {
    let (code, stdout, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "--color",
        "never",
        "--select",
        "WKL",
    ]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(stdout);
}

#[test]
fn training_pipeline_json() {
    let (code, stdout, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "-o",
        "json",
        "--select",
        "WKL",
    ]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(report["schema"], "mlopsctl.report/v1");
    insta::assert_snapshot!(stdout);
}

#[test]
fn colour_only_when_asked() {
    let (_, plain, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "--select",
        "WKL001",
    ]);
    assert!(!plain.contains('\u{1b}'), "no colour off a terminal");
    let (_, coloured, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "--select",
        "WKL001",
        "--color",
        "always",
    ]);
    assert!(coloured.contains('\u{1b}'));
}

#[test]
fn fail_on_threshold() {
    let args = [
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "--fail-on",
    ];
    assert_eq!(run(&[&args[..], &["never"]].concat()).0, 0);
    assert_eq!(run(&[&args[..], &["error"]].concat()).0, 1);
    assert_eq!(run(&[&args[..], &["warning"]].concat()).0, 1);
}

#[test]
fn namespace_filter() {
    let (code, stdout, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "-n",
        "flts",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    assert!(stdout.contains("train-lstm"));
    let (code, _, stderr) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "-n",
        "nope",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("namespace nope is not in snapshot"),
        "{stderr}"
    );
}

#[test]
fn select_and_ignore() {
    let (_, stdout, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "-o",
        "json",
        "--select",
        "WKL003,WKL004",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let codes: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["WKL003", "WKL004"]);
    let (_, stdout, _) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "-o",
        "json",
        "--select",
        "WKL",
        "--ignore",
        "WKL00",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["code"].as_str().unwrap().starts_with("WKL00"))
    );
}

#[test]
fn checks_and_explain() {
    let (code, stdout, _) = run(&["checks", "--color", "never"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("WKL001") && stdout.contains("required-env"));
    let (code, stdout, _) = run(&["checks", "-o", "json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "WKL007")
    );
    let (code, stdout, _) = run(&["explain", "wkl001", "--color", "never"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(stdout);
}

#[test]
fn a_user_check_replaces_a_shipped_one_and_adds_its_own() {
    let (code, stdout, stderr) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/healthy",
        "--checks",
        "examples/checks",
        "--select",
        "SITE001",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("SAMPLE_SEED"), "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root().join("checks/workloads/wkl007.yaml")).unwrap();
    std::fs::write(
        dir.path().join("mine.yaml"),
        shipped.replace("ignoreHosts: []", "ignoreHosts: [mlflow-server]"),
    )
    .unwrap();
    let (code, _, stderr) = run(&[
        "doctor",
        "--snapshot",
        "fixtures/training-pipeline",
        "--checks",
        dir.path().to_str().unwrap(),
        "--select",
        "WKL007",
    ]);
    assert_eq!(code, 0, "the user's WKL007 ignores the host: {stderr}");
}

fn bad(args: &[&str]) -> String {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let err = bad(&["doctor", "--snapshot", "fixtures/does-not-exist"]);
    assert!(
        err.contains("cannot read snapshot fixtures/does-not-exist"),
        "{err}"
    );

    let f = write(
        d,
        "broken.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: {a: [b\n",
    );
    let err = bad(&["doctor", "--snapshot", &f]);
    assert!(
        err.contains("broken.yaml") && err.contains("line 5"),
        "{err}"
    );

    let f = write(
        d,
        "list.json",
        r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"ok","namespace":"a"},"spec":{"containers":[{"name":"c"}]}},
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"broken","namespace":"a"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":"http"}]}]}}]}"#,
    );
    let err = bad(&["doctor", "--snapshot", &f]);
    assert!(
        err.contains("item 2 of the List (Pod a/broken)")
            && err.contains("spec.containers[0].ports[0].containerPort"),
        "{err}"
    );

    let f = write(d, "json/bad.json", "{\"apiVersion\": \"v1\",\n \"kind\": }");
    let err = bad(&["doctor", "--snapshot", &f]);
    assert!(err.contains("bad.json") && err.contains("line 2"), "{err}");

    let f = write(d, "noid.yaml", "just: a mapping\n");
    let err = bad(&["doctor", "--snapshot", &f]);
    assert!(err.contains("apiVersion` and `kind` are required"), "{err}");

    let err = bad(&[
        "doctor",
        "--snapshot",
        "fixtures/healthy",
        "--select",
        "XYZ999",
    ]);
    assert!(
        err.contains("unknown check code or prefix `XYZ999`"),
        "{err}"
    );

    let checks = d.join("checks");
    write(
        &checks,
        "bad.yaml",
        "code: BAD1\nname: x\ntitle: t\nseverity: error\nanalyzer: required-env\ndocs: {what: a, why: b, fix: c, safety: d}\n",
    );
    let err = bad(&[
        "doctor",
        "--snapshot",
        "fixtures/healthy",
        "--checks",
        checks.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad.yaml") && err.contains("field `code`"),
        "{err}"
    );

    write(
        &checks,
        "bad.yaml",
        "code: BAD001\nname: x\ntitle: t\nseverity: error\nanalyzer: required-env\nparams: {required: nope}\ndocs: {what: a, why: b, fix: c, safety: d}\n",
    );
    let err = bad(&[
        "doctor",
        "--snapshot",
        "fixtures/healthy",
        "--checks",
        checks.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad.yaml") && err.contains("params.required"),
        "{err}"
    );

    write(
        &checks,
        "bad.yaml",
        "code: BAD001\nname: x\ntitle: t\nseverity: critical\nanalyzer: required-env\ndocs: {what: a, why: b, fix: c, safety: d}\n",
    );
    let err = bad(&[
        "doctor",
        "--snapshot",
        "fixtures/healthy",
        "--checks",
        checks.to_str().unwrap(),
    ]);
    assert!(
        err.contains("bad.yaml") && err.contains("critical"),
        "{err}"
    );

    let err = bad(&["explain", "NOPE001"]);
    assert!(err.contains("unknown check code"), "{err}");

    let err = bad(&["doctor"]);
    assert!(err.contains("--snapshot"), "{err}");

    let logs = d.join("snap");
    write(&logs, "logs/ns/pod.log", "x");
    let err = bad(&["doctor", "--snapshot", logs.to_str().unwrap()]);
    assert!(err.contains("logs/NAMESPACE/POD/CONTAINER.log"), "{err}");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    let mut child = Std::new(env!("CARGO_BIN_EXE_mlopsctl"))
        .args([
            "doctor",
            "--snapshot",
            "fixtures/training-pipeline",
            "-o",
            "json",
        ])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
