//! `mlopsctl fix` and `mlopsctl undo` against a real kube-apiserver with
//! kube-controller-manager running (`support::envtest`): controllers write
//! Deployment, ReplicaSet and HPA status and bump resourceVersions as in any
//! cluster, admission and validation are the server's own, RBAC is real.
//! Each test works in a namespace of its own.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{Value, json};
use support::envtest::{self, ControlPlane};
use support::fixture;
use support::loader::load_into_namespace;

struct Env {
    plane: &'static ControlPlane,
    ns: String,
    tmp: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Env {
    fn new(prefix: &str) -> Option<Env> {
        let plane = envtest::shared(true)?;
        let ns = plane.namespace(prefix);
        let tmp = tempfile::tempdir().unwrap();
        let kubeconfig = plane.kubeconfig(tmp.path(), &ns);
        Some(Env {
            plane,
            ns,
            tmp,
            kubeconfig,
        })
    }

    fn journal_dir(&self) -> PathBuf {
        self.tmp.path().join("journal")
    }

    /// mlopsctl as the admin: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_as(&self.kubeconfig, args)
    }

    fn run_as(&self, kubeconfig: &std::path::Path, args: &[&str]) -> (i32, String, String) {
        let out = Command::cargo_bin("mlopsctl")
            .unwrap()
            .env_clear()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .timeout(Duration::from_secs(120))
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--journal-dir")
            .arg(self.journal_dir())
            .args(["--color", "never"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn get(&self, api_version: &str, kind: &str, name: &str) -> Option<Value> {
        self.plane.rest.read(api_version, kind, &self.ns, name)
    }

    fn deployment(&self, name: &str) -> Value {
        self.get("apps/v1", "Deployment", name).unwrap()
    }

    /// Patch an object as another client would (`kubectl patch`).
    fn edit(&self, api_version: &str, kind: &str, name: &str, patch: Value) {
        let object = self.get(api_version, kind, name).unwrap();
        self.plane.rest.strategic_patch(&object, &patch);
    }

    /// Wait until the Deployment controller has observed the latest spec
    /// and stopped writing status (resourceVersion still for half a second).
    fn settled(&self, name: &str) -> Value {
        let start = Instant::now();
        let mut last = String::new();
        let mut since = Instant::now();
        loop {
            let d = self.deployment(name);
            let observed = d["status"]["observedGeneration"] == d["metadata"]["generation"];
            let rv = d["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string();
            if rv != last {
                last = rv;
                since = Instant::now();
            } else if observed && since.elapsed() > Duration::from_millis(500) {
                return d;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{name} never settled: {d:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The MLflow scoring Deployment whose probes do not fit its server
/// (WKL005: it listens on 127.0.0.1, probes time out after 1s).
const SERVING: &str = "classification-serving";

fn mlflow_serving(env: &Env) {
    mlflow_serving_as(env, &|_| {});
}

fn mlflow_serving_as(env: &Env, edit: &dyn Fn(&mut Value)) {
    load_into_namespace(
        &env.plane.rest,
        &fixture("mlflow-serving"),
        &[("Deployment", SERVING)],
        &env.ns,
        edit,
    );
    env.settled(SERVING);
}

fn container(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"][0]
}

fn fix_wkl005(env: &Env) {
    let (code, stdout, stderr) = env.run(&["fix", "WKL005", "-n", &env.ns, "--unsafe", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 cleared, 0 remaining, 0 new"), "{stdout}");
    let fixed = env.deployment(SERVING);
    assert_eq!(container(&fixed)["readinessProbe"]["timeoutSeconds"], 5);
    assert!(container(&fixed)["args"].to_string().contains("0.0.0.0"));
}

/// The incident of the write-path issue: after the fix the Deployment
/// controller writes status, another client scales and annotates; undo then
/// restores the fixed fields and keeps everything else.
#[test]
fn undo_restores_the_fixed_fields_and_keeps_status_scale_and_annotations() {
    let Some(env) = Env::new("undo-keeps") else {
        return;
    };
    mlflow_serving(&env);
    let original = env.deployment(SERVING);
    fix_wkl005(&env);
    // The controller rolls the new template out and writes status.
    let fixed = env.settled(SERVING);
    assert_ne!(
        fixed["metadata"]["generation"], original["metadata"]["generation"],
        "the template changed"
    );
    env.edit(
        "apps/v1",
        "Deployment",
        SERVING,
        json!({"metadata": {"annotations": {"team": "nlp"}}, "spec": {"replicas": 3}}),
    );
    env.settled(SERVING);

    let (code, stdout, stderr) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("restore the fields the fix changed"),
        "{stdout}"
    );
    let now = env.deployment(SERVING);
    assert_eq!(
        container(&now),
        container(&original),
        "the fixed fields are back"
    );
    assert_eq!(
        now["spec"]["replicas"], 3,
        "the other client's scale is kept"
    );
    assert_eq!(now["metadata"]["annotations"]["team"], "nlp");
    let (code, stdout, _) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing left to undo"), "{stdout}");
}

/// A field the fix set, changed again since by someone else: left alone,
/// naming the field and both values; `--force` restores that field and
/// the others the fix changed, and nothing else.
#[test]
fn a_field_changed_since_is_left_alone_and_force_restores_only_the_fixed_fields() {
    let Some(env) = Env::new("undo-drift") else {
        return;
    };
    mlflow_serving(&env);
    let original = env.deployment(SERVING);
    fix_wkl005(&env);
    env.edit(
        "apps/v1",
        "Deployment",
        SERVING,
        json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "classification", "readinessProbe": {"timeoutSeconds": 7}}
        ]}}}}),
    );
    let before_undo = env.settled(SERVING);

    let (code, stdout, _) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "spec.template.spec.containers[classification].readinessProbe.timeoutSeconds is 7 now; the fix set 5"
        ),
        "{stdout}"
    );
    let now = env.deployment(SERVING);
    assert_eq!(
        now["metadata"]["generation"], before_undo["metadata"]["generation"],
        "nothing of the fix was restored"
    );

    let (code, stdout, stderr) = env.run(&["undo", "--force", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let now = env.deployment(SERVING);
    assert_eq!(container(&now), container(&original));
    assert_eq!(
        now["spec"]["replicas"], 2,
        "not a field the fix touched: kept"
    );
}

/// `--diff` and `--dry-run` change nothing: the resourceVersion stays.
#[test]
fn diff_and_server_dry_run_change_nothing() {
    let Some(env) = Env::new("dry-run") else {
        return;
    };
    mlflow_serving(&env);
    let before = env.settled(SERVING);
    for mode in ["--diff", "--dry-run"] {
        let (code, stdout, stderr) = env.run(&["fix", "WKL005", "-n", &env.ns, "--unsafe", mode]);
        assert_eq!(code, 1, "{mode}: {stdout}{stderr}");
        assert!(
            stdout.contains("+          timeoutSeconds: 5"),
            "{mode}: {stdout}"
        );
    }
    let (_, stdout, _) = env.run(&["fix", "WKL005", "-n", &env.ns, "--unsafe", "--dry-run"]);
    assert!(
        stdout.contains("the API server accepts every change"),
        "{stdout}"
    );
    let after = env.deployment(SERVING);
    assert_eq!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert!(!env.journal_dir().exists(), "nothing journaled");
}

/// A finding suppressed by annotation is never planned: the object is not
/// written.
#[test]
fn fix_leaves_a_suppressed_findings_object_untouched() {
    let Some(env) = Env::new("suppressed") else {
        return;
    };
    mlflow_serving(&env);
    env.edit(
        "apps/v1",
        "Deployment",
        SERVING,
        json!({"metadata": {"annotations": {"mlopsctl.io/ignore": "WKL005"}}}),
    );
    let before = env.settled(SERVING);
    let (code, stdout, stderr) = env.run(&["fix", "WKL005", "-n", &env.ns, "--unsafe", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Nothing to apply"), "{stdout}");
    let after = env.deployment(SERVING);
    assert_eq!(
        after["metadata"]["generation"],
        before["metadata"]["generation"]
    );
    assert_eq!(after["spec"], before["spec"]);
}

/// An admission policy (a real MutatingAdmissionPolicy) breaks the
/// liveness probe's port whenever a Deployment of the namespace is updated.
/// The confirmed fix (SITE001: a variable the serving contract requires) is
/// applied; the WKL005 finding that appears because of it was never shown
/// nor confirmed, so the next pass leaves it, with a note.
#[test]
fn a_later_pass_never_applies_a_change_that_was_not_confirmed() {
    let Some(env) = Env::new("later-pass") else {
        return;
    };
    let rest = &env.plane.rest;
    let policy = format!("break-liveness-{}", env.ns);
    let port = "/spec/template/spec/containers/0/livenessProbe/httpGet/port";
    rest.create(&json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": policy},
        "spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                "operations": ["UPDATE"], "resources": ["deployments"]}]},
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression":
                format!("[JSONPatch{{op: \"replace\", path: \"{port}\", value: 5999}}]")}}],
        }
    }));
    rest.create(&json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": policy},
        "spec": {"policyName": policy, "matchResources": {"namespaceSelector":
            {"matchLabels": {"kubernetes.io/metadata.name": env.ns}}}}
    }));
    // The server loads a policy asynchronously: update a canary until it is mutated.
    let mut canary = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "canary", "namespace": env.ns},
        "spec": {"selector": {"matchLabels": {"app": "canary"}}, "template": {
            "metadata": {"labels": {"app": "canary"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}]}}}});
    canary = rest.create(&canary);
    let start = Instant::now();
    while canary.pointer(port) != Some(&json!(5999)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the policy never applied"
        );
        std::thread::sleep(Duration::from_millis(200));
        let stamp = start.elapsed().as_millis().to_string();
        canary = rest.merge_patch(
            &canary,
            None,
            &json!({"metadata": {"labels": {"stamp": stamp}}}),
        );
    }
    rest.delete("apps/v1", "Deployment", &env.ns, "canary");

    // The server, with probes that fit it (created, so the policy left them alone).
    mlflow_serving_as(&env, &|d| {
        let c = &mut d["spec"]["template"]["spec"]["containers"][0];
        c["args"]
            .as_array_mut()
            .unwrap()
            .extend([json!("--host"), json!("0.0.0.0")]);
        c["livenessProbe"]["timeoutSeconds"] = json!(5);
        c["readinessProbe"]["timeoutSeconds"] = json!(5);
    });
    let checks = env.tmp.path().join("checks");
    std::fs::create_dir(&checks).unwrap();
    std::fs::write(
        checks.join("site001.yaml"),
        "code: SITE001\nname: serving-contract\ntitle: Serving does not set the variables its contract requires\n\
         severity: error\nanalyzer: required-env\nparams:\n  required: [MODEL_STAGE]\n\
         docs: {what: w, why: w, fix: f, safety: s}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = env.run(&[
        "fix",
        "SITE001,WKL005",
        "--checks",
        checks.to_str().unwrap(),
        "-n",
        &env.ns,
        "--set",
        "MODEL_STAGE=Production",
        "--unsafe",
        "--yes",
    ]);
    rest.delete(
        "admissionregistration.k8s.io/v1",
        "MutatingAdmissionPolicyBinding",
        "",
        &policy,
    );
    rest.delete(
        "admissionregistration.k8s.io/v1",
        "MutatingAdmissionPolicy",
        "",
        &policy,
    );
    assert!(
        stdout.starts_with("1 fix planned"),
        "only SITE001 was shown: {stdout}{stderr}"
    );
    assert!(
        stdout.contains("Not applied: new since the plan was confirmed"),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains(&format!("  WKL005 Deployment {}/{SERVING}", env.ns)),
        "{stdout}"
    );
    assert_eq!(code, 1, "a finding remains: {stdout}{stderr}");
    let now = env.deployment(SERVING);
    assert!(
        now.to_string().contains("MODEL_STAGE"),
        "the confirmed fix is applied"
    );
    assert_eq!(
        now.pointer(port),
        Some(&json!(5999)),
        "the unconfirmed WKL005 fix is not applied"
    );
}

/// SCL004: the fix moves the leftover HPA's metric into the ScaledObject,
/// then deletes the HPA. Undone by someone who may not create HPAs, the
/// whole fix stays: the ScaledObject keeps its trigger (removing it alone
/// would leave the workload scaled by neither), and the report says why.
#[test]
fn scl004_undo_without_hpa_create_keeps_the_trigger_and_says_why() {
    let Some(env) = Env::new("scl004") else {
        return;
    };
    let scaler = "ml-autoscaling-orchestrator-scaler";
    load_into_namespace(
        &env.plane.rest,
        &fixture("keda-autoscaling"),
        &[
            ("Deployment", "ml-autoscaling-orchestrator"),
            ("ScaledObject", scaler),
            (
                "HorizontalPodAutoscaler",
                "keda-hpa-ml-autoscaling-orchestrator-scaler",
            ),
            ("HorizontalPodAutoscaler", "orchestrator-hpa"),
        ],
        &env.ns,
        &|_| {},
    );
    let triggers = |env: &Env| {
        env.get("keda.sh/v1alpha1", "ScaledObject", scaler).unwrap()["spec"]["triggers"]
            .as_array()
            .unwrap()
            .len()
    };
    let before = triggers(&env);
    let (code, stdout, stderr) = env.run(&["fix", "SCL004", "-n", &env.ns, "--unsafe", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(triggers(&env), before + 1);
    assert!(
        env.get(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "orchestrator-hpa"
        )
        .is_none()
    );

    // The fix role less `create` on HPAs.
    let mut role = fix_role();
    role["metadata"]["name"] = json!(format!("fix-without-hpa-create-{}", env.ns));
    for rule in role["rules"].as_array_mut().unwrap() {
        if rule["resources"] == json!(["horizontalpodautoscalers"]) {
            rule["verbs"] = json!(["get", "delete"]);
        }
    }
    env.plane.rest.create(&role);
    let role_name = role["metadata"]["name"].as_str().unwrap().to_string();
    let token = env
        .plane
        .rest
        .service_account(&env.ns, "undoer", &role_name, None);
    let limited = env.plane.kubeconfig_for(env.tmp.path(), &env.ns, &token);
    let (code, stdout, stderr) = env.run_as(&limited, &["undo", "--yes"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("forbidden"), "{stdout}");
    assert!(
        stdout.contains("nothing of this fix was changed"),
        "{stdout}"
    );
    assert_eq!(triggers(&env), before + 1, "the trigger stays");
    assert!(
        env.get(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "orchestrator-hpa"
        )
        .is_none()
    );

    // With the whole role, undo takes the fix back.
    let (code, stdout, stderr) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(triggers(&env), before);
    assert!(
        env.get(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "orchestrator-hpa"
        )
        .is_some()
    );
}

/// KSV002's safe fix on a custom resource: the one runtime that would serve
/// the model once named is named, the API server accepts the patch, the
/// finding clears; undo takes the field away again and keeps what another
/// client changed since.
#[test]
fn ksv002_names_the_runtime_and_undo_takes_it_back() {
    let Some(env) = Env::new("ksv002") else {
        return;
    };
    support::loader::install_crds(&env.plane.rest, &["serving.kserve.io"].into());
    let rest = &env.plane.rest;
    rest.create(&json!({
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": "sklearn-manual", "namespace": env.ns},
        "spec": {
            "protocolVersions": ["v1", "v2"],
            "supportedModelFormats": [{"name": "sklearn", "version": "1", "autoSelect": false}],
            "containers": [{"name": "kserve-container", "image": "kserve/sklearnserver:v0.20.0"}]
        }
    }));
    rest.create(&json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": env.ns},
        "spec": {"predictor": {"model": {
            "modelFormat": {"name": "sklearn"},
            "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model"
        }}}
    }));
    let isvc = |env: &Env| {
        env.get("serving.kserve.io/v1beta1", "InferenceService", "iris")
            .unwrap()
    };

    let (code, stdout, stderr) = env.run(&["fix", "KSV002", "-n", &env.ns, "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 cleared, 0 remaining, 0 new"), "{stdout}");
    assert_eq!(
        isvc(&env)["spec"]["predictor"]["model"]["runtime"],
        "sklearn-manual"
    );

    // Custom resources take merge patches, not strategic ones.
    rest.merge_patch(
        &isvc(&env),
        None,
        &json!({"metadata": {"annotations": {"team": "vision"}}}),
    );
    let (code, stdout, stderr) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let after = isvc(&env);
    assert!(
        after["spec"]["predictor"]["model"].get("runtime").is_none(),
        "{after:#}"
    );
    assert_eq!(after["metadata"]["annotations"]["team"], "vision");
}

/// The shipped fix role.
fn fix_role() -> Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac-fix.yaml"),
    )
    .unwrap();
    mlopsctl::yaml::from_str(&text).unwrap()
}
