//! Kafka read and written through a real Kafka-protocol broker (tansu, from
//! `MLOPSCTL_TEST_TANSU`), beside a real kube-apiserver holding the fixture:
//! the fixture's `kafka.yaml` is mirrored into the broker (topics, messages
//! up to each high watermark, committed offsets, groups with members), and
//! the Kafka checks must find live what they find offline. KFK002's fix
//! creates topics through the AdminClient (`validate_only` in a dry run).

mod support;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use mlopsctl::cluster::KafkaObservation;
use serde_json::Value;
use support::envtest;
use support::fixture;
use support::loader::load_fixture;
use support::tansu::Broker;

fn mlopsctl(args: &[&str], journal: Option<&Path>) -> (i32, String, String) {
    let mut command = Command::cargo_bin("mlopsctl").unwrap();
    command
        .env_clear()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .timeout(Duration::from_secs(120))
        .args(args);
    if let Some(dir) = journal {
        command.arg("--journal-dir").arg(dir);
    }
    let out = command.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The fixture's objects and its `kafka.yaml` as read at `bootstrap` (the
/// address mlopsctl names the Kafka by), without logs and probes.
fn offline_copy(fixture: &Path, to: &Path, observed: &KafkaObservation, bootstrap: &str) {
    for entry in std::fs::read_dir(fixture).unwrap().flatten() {
        let name = entry.file_name();
        if entry.path().is_file() && name != "probes.yaml" && name != "kafka.yaml" {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
    let mut observed = observed.clone();
    observed.bootstrap = bootstrap.to_string();
    std::fs::write(
        to.join("kafka.yaml"),
        serde_json::to_string(&observed).unwrap(),
    )
    .unwrap();
}

/// (code, subject, message) of every finding, sorted.
fn headlines(report: &str) -> Vec<String> {
    let report: Value = serde_json::from_str(report).unwrap_or_else(|e| panic!("{e}: {report}"));
    let mut out: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {}",
                f["code"].as_str().unwrap(),
                f["subject"],
                f["message"]
            )
        })
        .collect();
    out.sort();
    out
}

/// The checks that read Kafka, and the site contract of the training topics.
const KAFKA_CHECKS: &str = "KFK,SEL009,FLTS001";

fn parity(name: &str) {
    let (Some(cluster), Some(broker)) = (envtest::isolated(), Broker::start()) else {
        return;
    };
    let fixture_dir = fixture(name);
    let loaded = load_fixture(&cluster.rest, &fixture_dir);
    let mirror = broker.mirror(&fixture_dir);
    let text = std::fs::read_to_string(fixture_dir.join("kafka.yaml")).unwrap();
    let observed: KafkaObservation = mlopsctl::yaml::from_str(&text).unwrap();
    let held: Vec<&str> = observed
        .groups
        .iter()
        .filter(|g| g.members > 0)
        .map(|g| g.name.as_str())
        .collect();
    mirror.wait_stable(&broker, &held);

    let tmp = tempfile::tempdir().unwrap();
    let offline_dir = tmp.path().join("offline");
    std::fs::create_dir(&offline_dir).unwrap();
    offline_copy(&fixture_dir, &offline_dir, &observed, &broker.bootstrap);
    let checks = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/checks");
    let select = [
        "--checks",
        s(&checks),
        "--select",
        KAFKA_CHECKS,
        "-o",
        "json",
    ];
    let (_, offline, _) = mlopsctl(
        &[&["doctor", "--snapshot", s(&offline_dir)][..], &select].concat(),
        None,
    );
    let kubeconfig = cluster.kubeconfig(tmp.path(), "default");
    let (_, live, stderr) = mlopsctl(
        &[
            &[
                "doctor",
                "--kubeconfig",
                s(&kubeconfig),
                "-A",
                "--kafka-bootstrap",
                &broker.bootstrap,
            ][..],
            &select,
        ]
        .concat(),
        None,
    );
    let live: Vec<String> = headlines(&live)
        .iter()
        .map(|l| loaded.to_fixture(l))
        .collect();
    assert_eq!(
        live,
        headlines(&offline),
        "{name}: live on tansu vs offline\n{stderr}"
    );
    drop(mirror);
}

macro_rules! fixtures {
    ($($test:ident => $name:literal,)*) => {
        $(#[test] fn $test() { parity($name); })*
    };
}

fixtures! {
    kafka_training => "kafka-training",
    training_pipeline => "training-pipeline",
    healthy => "healthy",
    healthy_seldon => "healthy-seldon",
    seldon_mesh_broken => "seldon-mesh-broken",
}

/// FLTS001's fix creates the missing contract topic through the
/// AdminClient: sent with `validate_only` in a dry run (nothing journaled),
/// created on apply and verified; undo never deletes a topic.
///
/// tansu 0.6.0 creates a topic even when asked to validate only, and
/// accepts any layout: that the dry run changes nothing on a real Kafka is
/// settled by the unit tests of the flag (`kafka::tests`), not here.
#[test]
fn a_missing_contract_topic_is_created_validated_first() {
    let (Some(cluster), Some(broker)) = (envtest::isolated(), Broker::start()) else {
        return;
    };
    let fixture_dir = fixture("kafka-training");
    load_fixture(&cluster.rest, &fixture_dir);
    let _mirror = broker.mirror(&fixture_dir);
    assert!(!broker.topics().contains(&"model-selected".to_string()));
    let tmp = tempfile::tempdir().unwrap();
    let journal = tmp.path().join("journal");
    let kubeconfig = cluster.kubeconfig(tmp.path(), "flts");
    let checks = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/checks");
    let fix = |extra: &[&str]| {
        let args = [
            &[
                "fix",
                "FLTS001",
                "--checks",
                s(&checks),
                "-n",
                "flts",
                "--unsafe",
                "--kubeconfig",
                s(&kubeconfig),
                "--kafka-bootstrap",
                &broker.bootstrap,
                "--color",
                "never",
            ][..],
            extra,
        ]
        .concat();
        mlopsctl(&args, Some(&journal))
    };
    let (code, stdout, stderr) = fix(&["--dry-run"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("FLTS001 KafkaCluster"), "{stdout}");
    assert!(
        stdout.contains("the API server accepts every change"),
        "{stdout}"
    );
    assert!(!journal.exists(), "a dry run journals nothing");
    // Where the broker honours validate_only, the topic is still missing.
    let created_by_dry_run = broker.topics().contains(&"model-selected".to_string());

    let (code, stdout, stderr) = fix(&["--yes"]);
    if created_by_dry_run {
        // Nothing left to fix: the topic is there.
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("Nothing to apply"), "{stdout}");
        return;
    }
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 cleared, 0 remaining, 0 new"), "{stdout}");
    assert!(broker.topics().contains(&"model-selected".to_string()));

    let (code, stdout, _) = mlopsctl(
        &[
            "undo",
            "--yes",
            "--kubeconfig",
            s(&kubeconfig),
            "--color",
            "never",
        ],
        Some(&journal),
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("is not deleted"), "{stdout}");
    assert!(broker.topics().contains(&"model-selected".to_string()));
}

/// A broker that refuses connections is KFK001 live as in the fixture that
/// recorded one.
#[test]
fn an_unreachable_broker_is_kfk001_as_offline() {
    let Some(cluster) = envtest::isolated() else {
        return;
    };
    let fixture_dir = fixture("kafka-unreachable");
    load_fixture(&cluster.rest, &fixture_dir);
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = cluster.kubeconfig(tmp.path(), "flts");
    let refused = format!("127.0.0.1:{}", envtest::free_port());
    let (_, live, stderr) = mlopsctl(
        &[
            "doctor",
            "--kubeconfig",
            s(&kubeconfig),
            "-A",
            "--kafka-bootstrap",
            &refused,
            "--select",
            "KFK001",
            "-o",
            "json",
        ],
        None,
    );
    let (_, offline, _) = mlopsctl(
        &[
            "doctor",
            "--snapshot",
            s(&fixture_dir),
            "--select",
            "KFK001",
            "-o",
            "json",
        ],
        None,
    );
    // The Kafka is named by the address it was read at: the fixture's
    // in-cluster Service, here the refused port.
    let codes = |r: &str| -> Vec<String> {
        let v: Value = serde_json::from_str(r).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].to_string())
            .collect()
    };
    assert_eq!(codes(&live), codes(&offline), "{stderr}");
    assert_eq!(codes(&live), ["\"KFK001\""]);
    assert!(live.contains(&refused), "{live}");
}
