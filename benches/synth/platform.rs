//! The parts of the synthetic cluster copied from the repository's fixtures,
//! so their shapes are the real ones the checks were written against: Seldon
//! Core v2 namespaces (`fixtures/healthy-seldon`, one SeldonRuntime, Server,
//! Models and a Pipeline each, on one shared Kafka), the KEDA operator and the
//! Prometheus its triggers query (`fixtures/healthy-autoscaling`), and the
//! Kafka observation of the shared Kafka (`kafka.yaml`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The namespace the Seldon fixture lives in: the first Seldon namespace keeps
/// it, and the shared Kafka lives there.
pub const SELDON_HOME: &str = "seldon-mesh";
/// The address every Seldon namespace streams through (the SeldonConfig's).
const KAFKA_ADDRESS: &str = "seldon-kafka-bootstrap.seldon-mesh";

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Every object of a fixture directory's YAML files, Lists flattened, in file order.
pub fn fixture_objects(name: &str) -> std::io::Result<Vec<Value>> {
    let dir = fixture_dir(name);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".yaml") || name == "kafka.yaml" {
            continue;
        }
        let bytes = fs::read(&file)?;
        mlopsctl::snapshot::parse_documents(&bytes, false, &mut |doc| {
            let value = match doc {
                mlopsctl::snapshot::Doc::Value(v) => v,
                mlopsctl::snapshot::Doc::Raw(text) => serde_json::from_str(text)?,
            };
            match value.get("items") {
                Some(Value::Array(items)) => objects.extend(items.iter().cloned()),
                _ => objects.push(value),
            }
            Ok(())
        })
        .map_err(|e| std::io::Error::other(format!("{}: {e:#}", file.display())))?;
    }
    Ok(objects)
}

/// What is wrong in one Seldon namespace.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SeldonFault {
    None,
    /// The Server has 5 replicas and a Model wants 6: SEL003.
    ServerTooSmall,
    /// Kafka lacks the Pipeline's output topic: KFK002.
    MissingTopic,
}

/// Rewrite the fixture's namespace to `ns` in an object: namespace fields,
/// the Namespace itself, and in-cluster DNS names and topic names
/// (`.seldon-mesh.`) — but not the shared Kafka's address, nor names that
/// merely equal the namespace (the `seldon-mesh` Service is called that in
/// every Seldon namespace).
fn renamespace(value: &mut Value, ns: &str, key: &str) {
    match value {
        Value::String(s) => {
            let names_namespace = key.to_ascii_lowercase().ends_with("namespace")
                || key == "kubernetes.io/metadata.name";
            if s == SELDON_HOME && names_namespace {
                *s = ns.to_string();
            } else {
                *s = rename_text(s, ns);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| renamespace(v, ns, key)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                renamespace(v, ns, k);
            }
        }
        _ => {}
    }
}

fn rename_text(text: &str, ns: &str) -> String {
    if !text.contains(SELDON_HOME) {
        return text.to_string();
    }
    const KEEP: &str = "\u{0}kafka\u{0}";
    text.replace(KAFKA_ADDRESS, KEEP)
        .replace(&format!(".{SELDON_HOME}"), &format!(".{ns}"))
        .replace(
            &format!("namespace={SELDON_HOME}"),
            &format!("namespace={ns}"),
        )
        .replace(KEEP, KAFKA_ADDRESS)
}

/// The Seldon part of the cluster.
pub struct Seldon {
    pub objects: Vec<Value>,
    /// Log files: path below `logs/`, text.
    pub logs: Vec<(PathBuf, String)>,
    /// The shared Kafka as `kafka.yaml` describes it.
    pub kafka: Value,
    /// Injected faults by check code.
    pub expected: BTreeMap<&'static str, usize>,
}

/// `count` Seldon namespaces cloned from the healthy fixture, every third one
/// (from the second on) with a fault, their engine logs, the cluster's
/// SeldonConfig, and the Kafka observation.
pub fn seldon(count: usize, uid: &mut dyn FnMut() -> String) -> std::io::Result<Seldon> {
    let fixture = fixture_objects("healthy-seldon")?;
    let kafka_text = fs::read_to_string(fixture_dir("healthy-seldon").join("kafka.yaml"))?;
    let kafka_fixture: Value = mlopsctl::yaml::from_str(&kafka_text)
        .map_err(|e| std::io::Error::other(format!("healthy-seldon/kafka.yaml: {e}")))?;
    let log_root = fixture_dir("healthy-seldon").join("logs").join(SELDON_HOME);
    let mut fixture_logs = Vec::new();
    for pod in fs::read_dir(&log_root)? {
        let pod = pod?.path();
        for file in fs::read_dir(&pod)? {
            let file = file?.path();
            fixture_logs.push((
                pod.file_name().unwrap().to_string_lossy().into_owned(),
                file.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&file)?,
            ));
        }
    }
    fixture_logs.sort();
    let mut out = Seldon {
        objects: Vec::new(),
        logs: Vec::new(),
        kafka: json!({}),
        expected: BTreeMap::new(),
    };
    // Cluster-wide: the seldon-system namespace and its SeldonConfig, once.
    for o in &fixture {
        let ns = o["metadata"]["namespace"].as_str();
        let name = o["metadata"]["name"].as_str();
        if ns == Some("seldon-system")
            || (o["kind"] == "Namespace" && name == Some("seldon-system"))
        {
            out.objects.push(o.clone());
        }
    }
    let mut topics =
        vec![json!({"name": "__consumer_offsets", "partitions": 50, "replication": 1})];
    let mut groups = Vec::new();
    for i in 0..count {
        let ns = if i == 0 {
            SELDON_HOME.to_string()
        } else {
            format!("seldon-{i:03}")
        };
        let fault = match i % 3 {
            1 => SeldonFault::ServerTooSmall,
            2 => SeldonFault::MissingTopic,
            _ => SeldonFault::None,
        };
        // Fresh uids per namespace, owner references kept consistent.
        let mut uids: BTreeMap<String, String> = BTreeMap::new();
        for o in &fixture {
            if let Some(u) = o["metadata"]["uid"].as_str() {
                uids.insert(u.to_string(), uid());
            }
        }
        for o in &fixture {
            let in_home = o["metadata"]["namespace"] == SELDON_HOME
                || (o["kind"] == "Namespace" && o["metadata"]["name"] == SELDON_HOME);
            if !in_home {
                continue;
            }
            let name = o["metadata"]["name"].as_str().unwrap_or_default();
            // One Kafka for all: its Service, endpoints and broker pod stay home.
            if i > 0 && name.starts_with("seldon-kafka") && o["kind"] != "ConfigMap" {
                continue;
            }
            let mut text = o.to_string();
            for (old, new) in &uids {
                text = text.replace(old.as_str(), new);
            }
            let mut o: Value = serde_json::from_str(&text).expect("reparses");
            renamespace(&mut o, &ns, "");
            if fault == SeldonFault::ServerTooSmall && !shrink_server(&mut o) {
                continue;
            }
            out.objects.push(o);
        }
        if fault == SeldonFault::ServerTooSmall {
            *out.expected.entry("SEL003").or_default() += 1;
        }
        for (pod, file, text) in &fixture_logs {
            out.logs
                .push((Path::new(&ns).join(pod).join(file), rename_text(text, &ns)));
        }
        // This namespace's topics and consumer groups on the shared Kafka.
        let missing = format!("seldon.{ns}.pipeline.chatbot-pipeline.outputs");
        for t in kafka_fixture["topics"].as_array().into_iter().flatten() {
            let name = rename_text(t["name"].as_str().unwrap_or_default(), &ns);
            if name == "__consumer_offsets"
                || (fault == SeldonFault::MissingTopic && name == missing)
            {
                continue;
            }
            let mut t = t.clone();
            t["name"] = json!(name);
            topics.push(t);
        }
        for g in kafka_fixture["groups"].as_array().into_iter().flatten() {
            let mut g = g.clone();
            // Seldon names its groups `<namespace>-seldon-modelgateway-N`.
            g["name"] = json!(format!("{ns}-{}", g["name"].as_str().unwrap_or_default()));
            if let Some(offsets) = g["offsets"].as_array_mut() {
                for o in offsets.iter_mut() {
                    let topic = rename_text(o["topic"].as_str().unwrap_or_default(), &ns);
                    o["topic"] = json!(topic);
                }
                offsets.retain(|o| fault != SeldonFault::MissingTopic || o["topic"] != missing);
            }
            groups.push(g);
        }
        if fault == SeldonFault::MissingTopic {
            *out.expected.entry("KFK002").or_default() += 1;
        }
    }
    let mut kafka = kafka_fixture.clone();
    kafka["topics"] = json!(topics);
    kafka["groups"] = json!(groups);
    out.kafka = kafka;
    Ok(out)
}

/// SEL003 as Seldon shows it: the Server at 5 replicas (its StatefulSet too,
/// the sixth pod gone) while `response-generator` wants 6 and fails to
/// schedule. Returns false for an object to leave out.
fn shrink_server(o: &mut Value) -> bool {
    let kind = o["kind"].as_str().unwrap_or_default().to_string();
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match (kind.as_str(), name.as_str()) {
        ("Server", "mlserver") => {
            o["spec"]["replicas"] = json!(5);
            o["status"]["replicas"] = json!(5);
            o["status"]["loadedModels"] = json!(4);
        }
        ("StatefulSet", "mlserver") => {
            o["spec"]["replicas"] = json!(5);
            if let Some(status) = o["status"].as_object_mut() {
                for field in [
                    "replicas",
                    "readyReplicas",
                    "currentReplicas",
                    "updatedReplicas",
                    "availableReplicas",
                ] {
                    if status.contains_key(field) {
                        status.insert(field.to_string(), json!(5));
                    }
                }
            }
        }
        ("Pod", "mlserver-5") => return false,
        ("EndpointSlice", _) => {
            if let Some(endpoints) = o["endpoints"].as_array_mut() {
                endpoints.retain(|e| e["targetRef"]["name"] != "mlserver-5");
            }
        }
        ("Model", "response-generator") => {
            let reason =
                "Failed to schedule model as no matching server had enough suitable replicas";
            o["status"] = json!({"conditions": [
                {"type": "ModelReady", "status": "False", "lastTransitionTime": "2025-11-12T08:16:41Z",
                 "reason": reason, "message": "ScheduleFailed"},
                {"type": "Ready", "status": "False", "lastTransitionTime": "2025-11-12T08:16:41Z",
                 "reason": reason, "message": "ScheduleFailed"}]});
        }
        _ => {}
    }
    true
}

/// The KEDA operator and its metrics API server (namespace `keda`) and the
/// Prometheus the triggers query (namespace `monitoring`), with their
/// Namespaces and the external metrics APIService.
pub fn keda_platform() -> std::io::Result<Vec<Value>> {
    let objects = fixture_objects("healthy-autoscaling")?;
    Ok(objects
        .into_iter()
        .filter(|o| {
            let ns = o["metadata"]["namespace"].as_str();
            let name = o["metadata"]["name"].as_str();
            matches!(ns, Some("keda" | "monitoring"))
                || (o["kind"] == "Namespace" && matches!(name, Some("keda" | "monitoring")))
                || (o["kind"] == "APIService" && name == Some("v1beta1.external.metrics.k8s.io"))
        })
        .collect())
}
