//! `mlopsctl fix` and `mlopsctl undo` against a live cluster: the real binary
//! and kube client against the in-process API server (`support/`), which
//! applies JSON patches with a real implementation, bumps resourceVersions,
//! answers 409/422 as the API server does, and injects faults on writes.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use mlopsctl::changes::journal::{Effect, Run, State};
use serde_json::Value;
use support::{ApiServer, Faults, WriteFault, fixture};

/// The two fixes of the training pipeline: a missing env var (WKL001, safe)
/// on train-lstm and a memory limit (WKL003, unsafe) on nonml-prophet.
const FIX: &[&str] = &[
    "fix",
    "WKL001,WKL003",
    "--unsafe",
    "--set",
    "MODEL_TYPE=LSTM",
    "--set",
    "memory=2Gi",
    "-n",
    "flts",
    "--color",
    "never",
];

struct Cluster {
    server: ApiServer,
    tmp: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn start(faults: Faults) -> Cluster {
        let server = ApiServer::start(&fixture("training-pipeline"), Vec::new(), faults);
        let tmp = tempfile::tempdir().unwrap();
        let kubeconfig = server.kubeconfig(tmp.path(), "flts");
        Cluster {
            server,
            tmp,
            kubeconfig,
        }
    }

    fn journal_dir(&self) -> PathBuf {
        self.tmp.path().join("journal")
    }

    /// Run mlopsctl with this cluster's kubeconfig and journal directory:
    /// (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("mlopsctl")
            .unwrap()
            .env_clear()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .timeout(Duration::from_secs(60))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--journal-dir")
            .arg(self.journal_dir())
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// `mlopsctl fix` of the two training-pipeline fixes ([`FIX`]) plus `extra`.
    fn fix(&self, extra: &[&str]) -> (i32, String, String) {
        let args: Vec<&str> = FIX.iter().chain(extra).copied().collect();
        self.run(&args)
    }

    /// The two Deployments the fixes change: (train-lstm, nonml-prophet).
    fn both(&self) -> (Value, Value) {
        (
            self.deployment("train-lstm"),
            self.deployment("nonml-prophet"),
        )
    }

    fn deployment(&self, name: &str) -> Value {
        self.server
            .object("apps/v1", "Deployment", "flts", name)
            .unwrap()
    }

    fn writes(&self) -> Vec<String> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| !r.starts_with('/'))
            .collect()
    }

    fn runs(&self) -> Vec<Run> {
        mlopsctl::changes::journal::runs(&self.journal_dir())
            .unwrap()
            .iter()
            .map(|p| Run::read(p).unwrap())
            .collect()
    }
}

fn container<'a>(deployment: &'a Value, name: &str) -> &'a Value {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn has_model_type(d: &Value) -> bool {
    container(d, "train-lstm")["env"]
        .as_array()
        .is_some_and(|env| {
            env.iter()
                .any(|e| e["name"] == "MODEL_TYPE" && e["value"] == "LSTM")
        })
}

fn memory_limit(d: &Value) -> &Value {
    &container(d, "prophet")["resources"]["limits"]["memory"]
}

fn spec(d: &Value) -> String {
    serde_json::to_string(&d["spec"]).unwrap()
}

#[test]
fn a_server_dry_run_sends_every_change_with_dry_run_and_changes_nothing() {
    let cluster = Cluster::start(Faults::default());
    let before = cluster.both();
    let (code, stdout, stderr) = cluster.fix(&["--dry-run"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("Server-side dry run"), "{stdout}");
    assert_eq!(
        stdout
            .matches("the API server accepts every change")
            .count(),
        2,
        "{stdout}"
    );
    let writes = cluster.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(
        writes.iter().all(|w| w.starts_with("PATCH ")
            && w.contains("fieldManager=mlopsctl")
            && w.contains("dryRun=All")),
        "{writes:?}"
    );
    assert_eq!(cluster.deployment("train-lstm"), before.0);
    assert_eq!(cluster.deployment("nonml-prophet"), before.1);
    assert!(cluster.runs().is_empty(), "a dry run journals nothing");
}

#[test]
fn a_client_dry_run_and_diff_send_nothing() {
    let cluster = Cluster::start(Faults::default());
    for flag in ["--dry-run=client", "--diff"] {
        let (code, stdout, stderr) = cluster.fix(&[flag]);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(stdout.contains("+        - name: MODEL_TYPE"), "{stdout}");
        if flag == "--diff" {
            insta::assert_snapshot!("live_plan_diff", stdout);
        }
    }
    assert!(cluster.writes().is_empty());
}

#[test]
fn without_a_terminal_fix_needs_yes() {
    let cluster = Cluster::start(Faults::default());
    let (code, _, stderr) = cluster.run(FIX);
    assert_eq!(code, 2);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(cluster.writes().is_empty());
}

#[test]
fn apply_verify_idempotence_and_undo() {
    let cluster = Cluster::start(Faults::default());
    let original = cluster.both();
    let (code, stdout, stderr) = cluster.fix(&["--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("2 cleared, 0 remaining, 0 new"), "{stdout}");
    let lstm = cluster.deployment("train-lstm");
    assert!(has_model_type(&lstm), "{lstm:#}");
    assert_eq!(memory_limit(&cluster.deployment("nonml-prophet")), "2Gi");
    assert!(
        lstm["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["manager"] == "mlopsctl")
    );

    // The journal holds the fields each change touched, before and after.
    let runs = cluster.runs();
    assert_eq!(runs.len(), 1);
    let changes = &runs[0].changes;
    assert_eq!(changes.len(), 2);
    for change in changes {
        assert_eq!(change.state, State::Applied, "{change:?}");
        let Effect::Patched { fields } = &change.effect else {
            panic!("{change:?}");
        };
        assert!(!fields.is_empty());
        assert!(fields.iter().all(|f| f.before != f.after));
        assert!(
            fields.iter().all(|f| f
                .path
                .to_string()
                .starts_with("spec.template.spec.containers[")),
            "{fields:?}"
        );
    }

    // Idempotent: a second run finds nothing to do and changes nothing.
    let writes = cluster.writes().len();
    let (code, stdout, stderr) = cluster.fix(&["--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Nothing to apply"), "{stdout}");
    assert_eq!(cluster.writes().len(), writes);
    assert_eq!(cluster.runs().len(), 1, "nothing applied, no journal");

    // Undo restores byte-equal specs, and a second undo has nothing left.
    let (code, stdout, stderr) = cluster.run(&["undo", "--yes", "--color", "never"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout.matches(": restored").count(), 2, "{stdout}");
    assert_eq!(spec(&cluster.deployment("train-lstm")), spec(&original.0));
    assert_eq!(
        spec(&cluster.deployment("nonml-prophet")),
        spec(&original.1)
    );
    let (code, stdout, _) = cluster.run(&["undo"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing left to undo"), "{stdout}");
    let (_, list, _) = cluster.run(&["undo", "--list", "--color", "never"]);
    assert!(list.contains("0 applied, 2 undone"), "{list}");
}

#[test]
fn an_edit_between_plan_and_apply_is_detected_and_replanned() {
    let cluster = Cluster::start(Faults {
        writes: vec![("train-lstm".into(), WriteFault::EditedConcurrently)],
        ..Faults::default()
    });
    let (code, stdout, stderr) = cluster.fix(&["--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let lstm = cluster.deployment("train-lstm");
    assert!(has_model_type(&lstm));
    // The other client's change is kept, not overwritten.
    assert_eq!(lstm["metadata"]["annotations"]["edited-by"], "someone else");
    let patches: Vec<String> = cluster
        .writes()
        .into_iter()
        .filter(|w| w.contains("/deployments/train-lstm"))
        .collect();
    assert_eq!(
        patches.len(),
        2,
        "refused once (409), then re-planned: {patches:?}"
    );
    let run = &cluster.runs()[0];
    let states: Vec<bool> = run
        .changes
        .iter()
        .map(|c| matches!(c.state, State::Applied))
        .collect();
    assert_eq!(states, vec![false, true, true], "{:#?}", run.changes);
}

/// A fault in the middle of a two-object fix: each object is either changed
/// as planned or untouched, every change made is journaled, and undo
/// restores byte-equal specs.
#[test]
fn fault_matrix_leaves_whole_objects_a_complete_journal_and_a_working_undo() {
    let faults = [
        WriteFault::Fail,
        WriteFault::Forbidden,
        WriteFault::DropAfterWrite,
        WriteFault::SlowAnswer(3),
    ];
    for fault in faults {
        for target in ["train-lstm", "nonml-prophet"] {
            let cluster = Cluster::start(Faults {
                writes: vec![(target.into(), fault)],
                ..Faults::default()
            });
            let original = cluster.both();
            let (code, stdout, stderr) = cluster.fix(&["--yes", "--request-timeout", "1s"]);
            let case = format!("{fault:?} on {target}:\n{stdout}{stderr}");
            let written_through = matches!(
                fault,
                WriteFault::DropAfterWrite | WriteFault::SlowAnswer(_)
            );
            assert_eq!(code, if written_through { 0 } else { 2 }, "{case}");

            let lstm = cluster.deployment("train-lstm");
            let prophet = cluster.deployment("nonml-prophet");
            let lstm_changed = spec(&lstm) != spec(&original.0);
            let prophet_changed = spec(&prophet) != spec(&original.1);
            // Whole objects: changed exactly as planned, or not at all.
            assert_eq!(lstm_changed, has_model_type(&lstm), "{case}");
            assert_eq!(prophet_changed, memory_limit(&prophet) == "2Gi", "{case}");
            assert_eq!(
                lstm_changed,
                target != "train-lstm" || written_through,
                "{case}"
            );
            assert_eq!(
                prophet_changed,
                target != "nonml-prophet" || written_through,
                "{case}"
            );

            // Every change made is in the journal, and only those.
            let run = &cluster.runs()[0];
            let applied: Vec<String> = run
                .changes
                .iter()
                .filter(|c| matches!(c.state, State::Applied))
                .map(|c| c.operation.target.name.clone())
                .collect();
            let mut changed: Vec<String> = Vec::new();
            if lstm_changed {
                changed.push("train-lstm".into());
            }
            if prophet_changed {
                changed.push("nonml-prophet".into());
            }
            let mut sorted = applied.clone();
            sorted.sort();
            changed.sort();
            assert_eq!(sorted, changed, "{case}");

            let (code, stdout, stderr) = cluster.run(&["undo", "--yes", "--color", "never"]);
            assert_eq!(code, 0, "{case}\nundo: {stdout}{stderr}");
            assert_eq!(
                spec(&cluster.deployment("train-lstm")),
                spec(&original.0),
                "{case}"
            );
            assert_eq!(
                spec(&cluster.deployment("nonml-prophet")),
                spec(&original.1),
                "{case}"
            );
        }
    }
}

#[test]
fn undo_keeps_changes_made_since_and_leaves_a_changed_field_alone_unless_forced() {
    let cluster = Cluster::start(Faults::default());
    let original = cluster.deployment("train-lstm");
    let (code, _, stderr) = cluster.run(&[
        "fix",
        "WKL001",
        "--set",
        "MODEL_TYPE=LSTM",
        "-n",
        "flts",
        "--yes",
    ]);
    assert_eq!(code, 0, "{stderr}");
    // Another client scales the trainer and changes the value the fix set.
    cluster
        .server
        .edit("apps/v1", "Deployment", "flts", "train-lstm", |d| {
            d["spec"]["replicas"] = Value::from(3);
            for c in d["spec"]["template"]["spec"]["containers"]
                .as_array_mut()
                .unwrap()
            {
                for e in c["env"].as_array_mut().into_iter().flatten() {
                    if e["name"] == "MODEL_TYPE" {
                        e["value"] = Value::from("GRU");
                    }
                }
            }
        });
    let (code, stdout, _) = cluster.run(&["undo", "--yes", "--color", "never"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("left alone"), "{stdout}");
    assert!(
        stdout.contains(r#"env[MODEL_TYPE] is {"name":"MODEL_TYPE","value":"GRU"} now"#),
        "names the field and both values: {stdout}"
    );
    assert!(stdout.contains("--force"), "{stdout}");
    assert!(
        serde_json::to_string(&cluster.deployment("train-lstm"))
            .unwrap()
            .contains("GRU"),
        "left alone"
    );

    let (code, stdout, stderr) = cluster.run(&["undo", "--force", "--yes", "--color", "never"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let now = cluster.deployment("train-lstm");
    assert!(
        !serde_json::to_string(&now).unwrap().contains("MODEL_TYPE"),
        "the field the fix added is gone"
    );
    assert_eq!(
        now["spec"]["replicas"], 3,
        "the other client's scale is kept"
    );
    let mut expected = original.clone();
    expected["spec"]["replicas"] = Value::from(3);
    assert_eq!(spec(&now), spec(&expected));
}

#[test]
fn undo_names_missing_runs_and_other_clusters() {
    let cluster = Cluster::start(Faults::default());
    let (code, _, stderr) = cluster.run(&["undo"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no runs journaled"), "{stderr}");
    let (code, _, stderr) = cluster.run(&["undo", "20990101T000000Z-00001"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("undo --list"), "{stderr}");

    let (code, _, _) = cluster.run(&[
        "fix",
        "WKL001",
        "--set",
        "MODEL_TYPE=LSTM",
        "-n",
        "flts",
        "--yes",
    ]);
    assert_eq!(code, 0);
    let other = ApiServer::start(&fixture("training-pipeline"), Vec::new(), Faults::default());
    let dir = cluster.tmp.path().join("other");
    std::fs::create_dir(&dir).unwrap();
    let elsewhere = other.kubeconfig(&dir, "flts");
    let out = Command::cargo_bin("mlopsctl")
        .unwrap()
        .env_clear()
        .args(["undo", "--kubeconfig"])
        .arg(&elsewhere)
        .arg("--journal-dir")
        .arg(cluster.journal_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("this context points at"), "{stderr}");
    assert!(stderr.contains("--allow-other-cluster"), "{stderr}");
    assert!(
        other.requests().iter().all(|r| r.starts_with('/')),
        "nothing written elsewhere"
    );
}

/// The kube client's writes against the server's answers: a failed `test` and
/// a stale resourceVersion are conflicts (re-plan), a 403 is forbidden, and a
/// dry run stores nothing.
#[test]
fn the_client_classifies_the_api_servers_answers() {
    use mlopsctl::changes::client::{Cluster as _, Guard, KubeCluster, WriteError};
    use mlopsctl::cluster::ObjectRef;
    use mlopsctl::collect::Settings;

    mlopsctl::collect::install_crypto_provider();
    let cluster = Cluster::start(Faults {
        writes: vec![("nonml-prophet".into(), WriteFault::Forbidden)],
        ..Faults::default()
    });
    let client = KubeCluster::connect(&Settings {
        kubeconfig: Some(cluster.kubeconfig.clone()),
        context: None,
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(30),
        chunk_size: 500,
        kafka_bootstrap: None,
        kafka_config: Vec::new(),
    })
    .unwrap();
    let lstm = ObjectRef::new("apps/v1", "Deployment", Some("flts"), "train-lstm");
    let now = client.get(&lstm).unwrap().unwrap();
    let rv = now["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let ops = |v: Value| serde_json::from_value::<Vec<json_patch::PatchOperation>>(v).unwrap();

    let failed_test = ops(serde_json::json!([
        {"op": "test", "path": "/spec/replicas", "value": 99},
        {"op": "replace", "path": "/spec/replicas", "value": 2}
    ]));
    let err = client.patch(&lstm, &failed_test, false).unwrap_err();
    assert!(
        matches!(&err, WriteError::Conflict(m) if m.contains("test failed")),
        "{err}"
    );

    let stale = ops(serde_json::json!([
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "replace", "path": "/spec/replicas", "value": 2}
    ]));
    let err = client.patch(&lstm, &stale, false).unwrap_err();
    assert!(
        matches!(&err, WriteError::Conflict(m) if m.contains("has been modified")),
        "{err}"
    );

    let good = ops(serde_json::json!([
        {"op": "replace", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/spec/replicas", "value": 2}
    ]));
    let dry = client.patch(&lstm, &good, true).unwrap();
    assert_eq!(dry["spec"]["replicas"], 2);
    assert_eq!(
        cluster.deployment("train-lstm"),
        now,
        "a dry run stores nothing"
    );
    let after = client.patch(&lstm, &good, false).unwrap();
    assert_ne!(
        after["metadata"]["resourceVersion"],
        now["metadata"]["resourceVersion"]
    );
    assert_eq!(cluster.deployment("train-lstm")["spec"]["replicas"], 2);

    let prophet = ObjectRef::new("apps/v1", "Deployment", Some("flts"), "nonml-prophet");
    let err = client.delete(&prophet, &Guard::None, false).unwrap_err();
    assert!(
        matches!(&err, WriteError::Forbidden(m) if m.contains("cannot delete")),
        "{err}"
    );
    let missing = ObjectRef::new("apps/v1", "Deployment", Some("flts"), "nothing");
    assert_eq!(client.get(&missing).unwrap(), None);
}

/// SCL004 live: the HPA's metric moves into the ScaledObject, then the HPA is
/// deleted; undo creates the HPA again and takes the trigger back out.
#[test]
fn a_leftover_hpa_is_deleted_live_and_undo_creates_it_again() {
    let server = ApiServer::start(&fixture("keda-autoscaling"), Vec::new(), Faults::default());
    let tmp = tempfile::tempdir().unwrap();
    let cluster = Cluster {
        kubeconfig: server.kubeconfig(tmp.path(), "default"),
        server,
        tmp,
    };
    let hpa = || {
        cluster.server.object(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "default",
            "orchestrator-hpa",
        )
    };
    let scaler = || {
        cluster
            .server
            .object(
                "keda.sh/v1alpha1",
                "ScaledObject",
                "default",
                "ml-autoscaling-orchestrator-scaler",
            )
            .unwrap()
    };
    let (hpa_before, scaler_before) = (hpa().unwrap(), scaler());
    let (code, stdout, stderr) = cluster.run(&[
        "fix", "SCL004", "--unsafe", "--yes", "-n", "default", "--color", "never",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 cleared, 0 remaining, 0 new"), "{stdout}");
    assert_eq!(hpa(), None);
    assert!(
        scaler()["spec"]["triggers"].as_array().unwrap().len()
            > scaler_before["spec"]["triggers"].as_array().unwrap().len()
    );
    let writes = cluster.writes();
    let kinds: Vec<&str> = writes
        .iter()
        .map(|w| w.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(kinds, vec!["PATCH", "DELETE"], "{writes:?}");

    let (code, stdout, stderr) = cluster.run(&["undo", "--yes", "--color", "never"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(spec(&scaler()), spec(&scaler_before));
    let again = hpa().expect("created again");
    assert_eq!(spec(&again), spec(&hpa_before));
    assert_eq!(
        again["metadata"]["labels"],
        hpa_before["metadata"]["labels"]
    );
    assert_ne!(again["metadata"]["uid"], hpa_before["metadata"]["uid"]);
}
