//! What deploy/ ships: the RBAC grants exactly what the analyzers declare
//! they read; the workloads run the documented image, hardened, under the
//! read-only account, with arguments the CLI accepts; the krew manifest
//! installs this version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mlopsctl::cli::Cli;
use serde_json::Value;

/// The image's documented name (README, "Container image"); its tag is the
/// crate's version.
const IMAGE: &str = "ghcr.io/mlopsctl/mlopsctl";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn doctor_role_matches_the_collectors_needs() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac-doctor.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let rules = mlopsctl::rbac::rules_yaml(&mlopsctl::rbac::doctor_rules());
    let (start, end) = ("# rules:start\n", "# rules:end");
    let a = text.find(start).expect("rules:start marker") + start.len();
    let b = text.find(end).expect("rules:end marker");
    if text[a..b] != rules {
        if std::env::var_os("UPDATE_DEPLOY").is_some() {
            std::fs::write(&path, format!("{}{rules}{}", &text[..a], &text[b..])).unwrap();
        } else {
            panic!(
                "deploy/rbac-doctor.yaml is stale: run `UPDATE_DEPLOY=1 cargo test --test deploy`"
            );
        }
    }
    // Read-only: no verb that writes.
    for verb in [
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "*",
    ] {
        assert!(!rules.contains(verb), "doctor's role must not grant {verb}");
    }
}

#[test]
fn deploy_manifests_parse_as_kubernetes_objects() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let view = mlopsctl::snapshot::load(&dir).expect("deploy/ holds valid Kubernetes YAML");
    assert_eq!(view.cron_jobs.len(), 1);
    assert_eq!(view.deployments.len(), 1, "serve.yaml's Deployment");
    assert_eq!(view.services.len(), 1, "serve.yaml's Service");
}

/// Every change a shipped fix plans on any fixture is granted by the fix role.
#[test]
fn fix_role_grants_every_planned_change() {
    use mlopsctl::catalogue::Catalogue;
    use mlopsctl::cluster::Kind;
    use mlopsctl::plan::Change;

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/rbac-fix.yaml")).unwrap();
    let role: serde_json::Value = mlopsctl::yaml::from_str(&text).unwrap();
    let granted = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has = |field: &str, v: &str| r[field].as_array().unwrap().iter().any(|x| x == v);
            has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
        })
    };
    let catalogue = Catalogue::load(&[]).unwrap();
    let checks = catalogue.select(&[], &[]).unwrap();
    let mut planned = 0;
    for entry in std::fs::read_dir(root.join("fixtures")).unwrap() {
        let dir = entry.unwrap().path();
        let view = mlopsctl::snapshot::load(&dir).unwrap();
        let report = mlopsctl::report::engine::run(&checks, &view, String::new());
        for op in report
            .findings
            .iter()
            .filter_map(|f| f.fix.as_ref())
            .flat_map(|fix| &fix.operations)
        {
            // The fix's verb, and the one undo takes it back with.
            let verbs = match op.change {
                Change::JsonPatch(_) => ["patch", "patch"],
                Change::Delete => ["delete", "create"],
                Change::Create(_) => ["create", "delete"],
                // Topics are created through Kafka, not the API server.
                Change::CreateTopic(_) => continue,
            };
            let kind =
                Kind::from_object(&op.target.api_version, &op.target.kind).expect("a known kind");
            let info = kind.info();
            for verb in verbs {
                assert!(
                    granted(info.group, info.plural, verb),
                    "{verb} {} ({}) is not in rbac-fix.yaml",
                    info.plural,
                    info.group
                );
            }
            assert!(
                granted(info.group, info.plural, "get"),
                "get {} is not in rbac-fix.yaml",
                info.plural
            );
            planned += 1;
        }
    }
    assert!(planned > 0, "the fixtures plan some fixes");
    // Which cluster a journal belongs to: the kube-system namespace's uid.
    assert!(
        granted("", "namespaces", "get"),
        "get namespaces (kube-system)"
    );
}

/// Each workload's pod template, by workload name.
fn pod_specs(view: &mlopsctl::cluster::ClusterView) -> Vec<(String, PodSpec)> {
    let jobs = view.cron_jobs.iter().map(|c| {
        let spec = c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref());
        (
            c.metadata.name.clone(),
            spec.and_then(|s| s.template.spec.clone()),
        )
    });
    let deployments = view.deployments.iter().map(|d| {
        let spec = d.spec.as_ref().and_then(|s| s.template.spec.clone());
        (d.metadata.name.clone(), spec)
    });
    jobs.chain(deployments)
        .map(|(name, spec)| (name.unwrap(), spec.expect("a pod template")))
        .collect()
}

#[test]
fn workloads_run_the_documented_image_hardened_under_the_read_only_account() {
    let view = mlopsctl::snapshot::load(&root().join("deploy")).unwrap();
    let account = mlopsctl::yaml::documents(&read("deploy/rbac-doctor.yaml"))
        .unwrap()
        .into_iter()
        .find(|d| d["kind"] == "ServiceAccount")
        .expect("rbac-doctor.yaml has the ServiceAccount");
    let image = format!("{IMAGE}:{}", env!("CARGO_PKG_VERSION"));
    let specs = pod_specs(&view);
    assert_eq!(specs.len(), 2, "the CronJob and serve's Deployment");
    for (name, spec) in specs {
        assert_eq!(
            spec.service_account_name.as_deref(),
            account["metadata"]["name"].as_str(),
            "{name} runs under rbac-doctor.yaml's read-only account"
        );
        let pod = spec.security_context.expect("a pod securityContext");
        assert_eq!(pod.run_as_non_root, Some(true), "{name}");
        // The Dockerfile's USER (tests/dockerfile.rs).
        assert_eq!(pod.run_as_user, Some(65532), "{name}");
        let seccomp = pod.seccomp_profile.map(|p| p.type_);
        assert_eq!(seccomp.as_deref(), Some("RuntimeDefault"), "{name}");
        for c in spec.containers {
            let at = format!("{name}/{}", c.name);
            assert_eq!(c.image.as_deref(), Some(image.as_str()), "{at}'s image");
            let sc = c.security_context.expect("a container securityContext");
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{at}");
            assert_eq!(sc.read_only_root_filesystem, Some(true), "{at}");
            let drop = sc.capabilities.and_then(|c| c.drop).unwrap_or_default();
            assert_eq!(drop, ["ALL"], "{at} drops all capabilities");
            let resources = c.resources.expect("resources");
            let requests = resources.requests.unwrap_or_default();
            assert!(
                requests.contains_key("cpu") && requests.contains_key("memory"),
                "{at}"
            );
            let limits = resources.limits.unwrap_or_default();
            assert!(limits.contains_key("memory"), "{at} has a memory limit");
            // What the container runs is what this CLI accepts.
            let args = c.args.unwrap_or_default();
            if let Err(e) = Cli::try_parse_from(
                std::iter::once("mlopsctl").chain(args.iter().map(String::as_str)),
            ) {
                panic!("{at}: `mlopsctl {}` is rejected:\n{e}", args.join(" "));
            }
        }
    }
}

/// What we ship passes our own checks (WKL's probes, ports, selectors,
/// security settings).
#[test]
fn deploy_manifests_pass_the_shipped_checks() {
    let view = mlopsctl::snapshot::load(&root().join("deploy")).unwrap();
    let catalogue = mlopsctl::catalogue::Catalogue::load(&[]).unwrap();
    let checks = catalogue.select(&[], &[]).unwrap();
    let report = mlopsctl::report::engine::run(&checks, &view, String::new());
    let codes: Vec<_> = report.findings.iter().map(|f| &f.code).collect();
    assert!(codes.is_empty(), "deploy/ has findings: {codes:?}");
}

/// Whether every pair of `selector` is among `labels`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn serve_is_probed_and_scraped_on_the_port_it_listens_on() {
    let view = mlopsctl::snapshot::load(&root().join("deploy")).unwrap();
    let deployment = view.deployments.iter().next().unwrap();
    let spec = deployment.spec.as_ref().unwrap();
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    assert!(selects(
        spec.selector.match_labels.as_ref().unwrap(),
        &pod_labels
    ));
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    let args = container.args.clone().unwrap();
    assert_eq!(args[0], "serve");
    assert!(
        args.contains(&"-A".to_string()),
        "serve watches all namespaces"
    );
    assert!(args.contains(&"--interval".to_string()));
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .map(|i| args[i + 1].as_str())
        .expect("--listen");
    assert!(
        listen.starts_with("0.0.0.0:"),
        "{listen}: reachable from outside the pod"
    );
    let port: i32 = listen.rsplit(':').next().unwrap().parse().unwrap();
    let ports = container.ports.clone().unwrap();
    let metrics = ports
        .iter()
        .find(|p| p.name.as_deref() == Some("metrics"))
        .expect("a `metrics` port");
    assert_eq!(metrics.container_port, port, "the port --listen binds");

    let named = IntOrString::String("metrics".into());
    for (probe, path) in [
        (&container.readiness_probe, "/readyz"),
        (&container.liveness_probe, "/healthz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("an httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path));
        assert!(
            get.port == named || get.port == IntOrString::Int(port),
            "{path} on the metrics port"
        );
    }

    let service = view.services.iter().next().unwrap();
    let service_spec = service.spec.as_ref().unwrap();
    assert_eq!(service.metadata.namespace, deployment.metadata.namespace);
    assert!(
        selects(service_spec.selector.as_ref().unwrap(), &pod_labels),
        "the Service selects serve's pods"
    );
    let service_port = &service_spec.ports.as_ref().unwrap()[0];
    let target = service_port.target_port.clone().unwrap();
    assert!(target == named || target == IntOrString::Int(port));
    let annotations = service.metadata.annotations.clone().unwrap();
    let annotation = |k: &str| annotations.get(k).map(String::as_str);
    assert_eq!(annotation("prometheus.io/scrape"), Some("true"));
    assert_eq!(
        annotation("prometheus.io/port"),
        Some(service_port.port.to_string().as_str())
    );
    assert_eq!(annotation("prometheus.io/path"), Some("/metrics"));

    // The Prometheus Operator's way: the same Service, by its port's name.
    let monitor: Value =
        mlopsctl::yaml::from_str(&read("deploy/prometheus-operator/servicemonitor.yaml")).unwrap();
    assert_eq!(monitor["kind"], "ServiceMonitor");
    assert_eq!(
        monitor["metadata"]["namespace"].as_str(),
        service.metadata.namespace.as_deref()
    );
    let match_labels: BTreeMap<String, String> =
        serde_json::from_value(monitor["spec"]["selector"]["matchLabels"].clone()).unwrap();
    assert!(
        selects(&match_labels, service.metadata.labels.as_ref().unwrap()),
        "the ServiceMonitor selects the Service"
    );
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"].as_str(), service_port.name.as_deref());
    assert_eq!(endpoint["path"], "/metrics");
}

/// The README's build command, the Dockerfile and deploy/ agree on the name.
#[test]
fn the_image_has_one_documented_name() {
    let version = env!("CARGO_PKG_VERSION");
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("-t {IMAGE}:{version} .")),
        "README's build command tags {IMAGE}:{version}"
    );
    assert!(read("Dockerfile").contains(&format!("{IMAGE}:<version>")));
    for file in ["deploy/cronjob.yaml", "deploy/serve.yaml"] {
        for line in read(file)
            .lines()
            .filter(|l| l.trim_start().starts_with("image:"))
        {
            assert_eq!(line.trim(), format!("image: {IMAGE}:{version}"), "{file}");
        }
    }
}

#[test]
fn krew_manifest_installs_this_version_on_each_platform() {
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let rel = "deploy/krew/mlops.yaml";
    let manifest: Value = mlopsctl::yaml::from_str(&read(rel)).unwrap();
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    // krew requires the file to be named after the plugin, which is also
    // what follows `kubectl`.
    assert_eq!(
        manifest["metadata"]["name"].as_str(),
        Path::new(rel).file_stem().and_then(|s| s.to_str())
    );
    let spec = &manifest["spec"];
    assert_eq!(
        spec["version"].as_str(),
        Some(version.as_str()),
        "spec.version is the crate's"
    );
    for field in ["homepage", "shortDescription", "description"] {
        assert!(
            spec[field].as_str().is_some_and(|s| !s.is_empty()),
            "spec.{field}"
        );
    }
    let mut platforms = Vec::new();
    for platform in spec["platforms"].as_array().unwrap() {
        let labels = &platform["selector"]["matchLabels"];
        let (os, arch) = (
            labels["os"].as_str().unwrap(),
            labels["arch"].as_str().unwrap(),
        );
        let triple = match (os, arch) {
            ("linux", "amd64") => "x86_64-unknown-linux-gnu",
            ("darwin", "amd64") => "x86_64-apple-darwin",
            ("darwin", "arm64") => "aarch64-apple-darwin",
            other => panic!("no release build for {other:?}"),
        };
        let uri = platform["uri"].as_str().unwrap();
        assert_eq!(
            uri.rsplit('/').next(),
            Some(format!("mlopsctl-{version}-{triple}.tar.gz").as_str()),
            "{os}/{arch}"
        );
        assert!(
            uri.contains(&format!("/releases/download/{version}/")),
            "{uri}"
        );
        let sha = platform["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{os}/{arch}: sha256 {sha}"
        );
        let bin = platform["bin"].as_str().unwrap();
        assert!(
            platform["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["from"] == bin),
            "{os}/{arch}: `bin` {bin} is among the installed files"
        );
        platforms.push(format!("{os}/{arch}"));
    }
    for wanted in ["linux/amd64", "darwin/amd64", "darwin/arm64"] {
        assert!(
            platforms.iter().any(|p| p == wanted),
            "{wanted} in {platforms:?}"
        );
    }
}

/// krew links `kubectl-mlops` to the binary, and kubectl runs it by that name.
#[test]
fn called_as_kubectl_mlops_the_help_names_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("kubectl-mlops");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mlopsctl"), &plugin).unwrap();
    for (args, usage) in [
        (&["--help"][..], "Usage: kubectl mlops [OPTIONS] <COMMAND>"),
        (
            &["doctor", "--help"][..],
            "Usage: kubectl mlops doctor [OPTIONS]",
        ),
    ] {
        let out = std::process::Command::new(&plugin)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains(usage), "{args:?}:\n{stdout}");
        assert!(!stdout.contains("Usage: mlopsctl"), "{args:?}:\n{stdout}");
    }
}
