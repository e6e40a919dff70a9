//! Reads a snapshot (a directory in the layout of DESIGN.md, or one file) into a
//! ClusterView. Every error names the file, and the line or object, that broke.

pub mod leading;
mod objects;
pub mod redact;
mod save;
mod stream;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

use crate::cluster::{ClusterView, LogKey};

pub use objects::{Doc, ObjectSink, parse_documents};
pub use redact::{REDACTED, redact};
pub use save::{Saved, file_name, save};

/// The observation files at the root of a snapshot directory.
pub const KAFKA_FILE: &str = "kafka.yaml";
pub const PROBES_FILE: &str = "probes.yaml";
pub const COVERAGE_FILE: &str = "coverage.yaml";
pub const API_FILE: &str = "api.yaml";
const LOGS_DIR: &str = "logs";

/// How much of a log file is kept: its tail, as `kubectl logs --tail` would give.
pub const MAX_LOG_BYTES: u64 = 256 * 1024;

/// Load a snapshot directory or a single object file.
pub fn load(path: &Path) -> Result<ClusterView> {
    let meta = fs::metadata(path).with_context(|| {
        format!(
            "cannot read snapshot {}: check the path passed to --snapshot",
            path.display()
        )
    })?;
    let mut view = ClusterView::default();
    if meta.is_file() && is_json(path) {
        stream_json(&mut view, path, path)?;
    } else if meta.is_file() {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        add_objects(&mut view, path, &bytes)?;
    } else {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        for file in &files {
            let rel = file.strip_prefix(path).unwrap_or(file);
            if !is_snapshot_file(rel) {
                continue;
            }
            add_path(&mut view, rel, file)
                .with_context(|| format!("in snapshot {}", path.display()))?;
        }
    }
    view.finish();
    Ok(view)
}

/// Add one file of a snapshot directory to `view`: `rel` is its path inside the
/// directory (`kafka.yaml`, `logs/NS/POD/C.log`, `pods.yaml`), which decides how
/// its bytes are read. [`load`] calls it for every file; the view still needs
/// [`ClusterView::finish`] once all files are in. Errors name `rel`.
pub fn add_file(view: &mut ClusterView, rel: &Path, bytes: &[u8]) -> Result<()> {
    match rel.to_string_lossy().as_ref() {
        KAFKA_FILE => view.kafka = Some(parse_yaml(rel, bytes)?),
        PROBES_FILE => view.probes = parse_yaml(rel, bytes)?,
        COVERAGE_FILE => view.coverage = parse_yaml(rel, bytes)?,
        API_FILE => view.api = Some(parse_yaml(rel, bytes)?),
        _ if rel.starts_with(LOGS_DIR) => add_log(view, rel, bytes)?,
        _ if is_object_file(rel) => add_objects(view, rel, bytes)?,
        _ => {}
    }
    Ok(())
}

/// Add the file at `file` as [`add_file`] would, `rel` being its path inside the
/// snapshot. JSON object files are streamed rather than read whole; a log file
/// is read from its tail.
fn add_path(view: &mut ClusterView, rel: &Path, file: &Path) -> Result<()> {
    if rel.starts_with(LOGS_DIR) {
        // One byte more than is kept, so a cut first line is seen as cut.
        return add_file(view, rel, &read_tail(file, MAX_LOG_BYTES + 1)?);
    }
    if is_json(rel) {
        return stream_json(view, rel, file);
    }
    let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    add_file(view, rel, &bytes)
}

/// Stream the objects of the JSON file at `file` (`rel` names it in errors).
fn stream_json(view: &mut ClusterView, rel: &Path, file: &Path) -> Result<()> {
    let reader = fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let reader = std::io::BufReader::with_capacity(1 << 16, reader);
    stream::read_json(
        serde_json::de::IoRead::new(reader),
        &mut ObjectSink::new(view),
    )
    .with_context(|| format!("in snapshot file {}", rel.display()))
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

/// Whether [`add_file`] reads the file at `rel` (anything else is skipped unread).
fn is_snapshot_file(rel: &Path) -> bool {
    rel.starts_with(LOGS_DIR)
        || is_object_file(rel)
        || [KAFKA_FILE, PROBES_FILE, COVERAGE_FILE, API_FILE]
            .iter()
            .any(|f| rel == Path::new(f))
}

fn is_object_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// All files below `dir`, sorted, skipping hidden ones.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("cannot list snapshot directory {}", dir.display()))?
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list snapshot directory {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn add_objects(view: &mut ClusterView, file: &Path, bytes: &[u8]) -> Result<()> {
    let mut sink = ObjectSink::new(view);
    if is_json(file) {
        stream::read_json(serde_json::de::SliceRead::new(bytes), &mut sink)
    } else {
        parse_documents(bytes, false, &mut |doc| sink.add(doc))
    }
    .with_context(|| format!("in snapshot file {}", file.display()))
}

/// `logs/NAMESPACE/POD/CONTAINER[.previous].log`, keeping its last
/// [`MAX_LOG_BYTES`] from the first whole line, decoded lossily (logs are not
/// always UTF-8).
fn add_log(view: &mut ClusterView, rel: &Path, bytes: &[u8]) -> Result<()> {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let [_, namespace, pod, file_name] = parts.as_slice() else {
        bail!(
            "{}: log files must be at logs/NAMESPACE/POD/CONTAINER.log or CONTAINER.previous.log",
            rel.display()
        );
    };
    let (container, previous) = match file_name.strip_suffix(".previous.log") {
        Some(c) => (c, true),
        None => match file_name.strip_suffix(".log") {
            Some(c) => (c, false),
            None => bail!(
                "{}: a log file name must end in .log or .previous.log",
                rel.display()
            ),
        },
    };
    let mut kept = bytes;
    if kept.len() as u64 > MAX_LOG_BYTES {
        kept = &kept[kept.len() - MAX_LOG_BYTES as usize..];
        // From the first whole line; a tail without a line break is kept as it is.
        if let Some(nl) = kept.iter().position(|&b| b == b'\n') {
            kept = &kept[nl + 1..];
        }
    }
    view.logs.insert(
        LogKey {
            namespace: namespace.clone(),
            pod: pod.clone(),
            container: container.to_string(),
            previous,
        },
        String::from_utf8_lossy(kept).into_owned(),
    );
    Ok(())
}

/// The last `max` bytes of a file (all of a smaller one).
fn read_tail(file: &Path, max: u64) -> Result<Vec<u8>> {
    let mut f = fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let len = f
        .metadata()
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let mut buf = Vec::new();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))
        .and_then(|_| f.read_to_end(&mut buf))
        .with_context(|| format!("cannot read {}", file.display()))?;
    Ok(buf)
}

/// One of the observation files, with the line of any error.
fn parse_yaml<T: DeserializeOwned>(rel: &Path, bytes: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(bytes)
        .with_context(|| format!("{} must be UTF-8 YAML", rel.display()))?;
    crate::yaml::from_str(text).with_context(|| format!("in {}", rel.display()))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::cluster::Kind;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ml, managedFields: [{manager: kubectl}]}\nspec: {containers: [{name: c, image: x}]}\n";

    #[test]
    fn reads_objects_lists_streams_and_keeps_unknown_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "a/pod.yaml", POD);
        write(
            d,
            "stream.yml",
            "---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: ml}\nspec: {ports: [{port: 80}]}\n---\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: ml}\nspec: {size: 3}\n",
        );
        write(
            d,
            "list.json",
            r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"mlops.seldon.io/v1alpha1","kind":"Model","metadata":{"name":"iris","namespace":"seldon-mesh"},"spec":{"storageUri":"gs://x"}}]}"#,
        );
        write(d, "notes.txt", "ignored");
        let view = load(d).unwrap();
        assert_eq!(view.pods.len(), 1);
        assert!(view.pods.get("ml", "p").is_some());
        assert_eq!(view.services.len(), 1);
        assert_eq!(view.other.len(), 1, "unknown kinds are kept");
        assert_eq!(view.other[0].data["spec"]["size"], 3);
        let model = view
            .custom_get(Kind::SeldonModel, "seldon-mesh", "iris")
            .unwrap();
        assert_eq!(model.str_at("/spec/storageUri"), Some("gs://x"));
        assert!(view.has(Kind::Pod) && view.has(Kind::Service) && !view.has(Kind::ConfigMap));
        assert!(view.namespace_exists("seldon-mesh"));
    }

    #[test]
    fn typed_kinds_list_kind_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "pods.yaml",
            &format!(
                "apiVersion: v1\nkind: PodList\nitems:\n- {}\n- {}\n",
                json_of(POD),
                json_of(POD)
            ),
        );
        let view = load(dir.path()).unwrap();
        assert_eq!(view.pods.len(), 1, "the same object twice is one object");
    }

    fn json_of(yaml: &str) -> String {
        let v: serde_json::Value = crate::yaml::from_str(yaml).unwrap();
        v.to_string()
    }

    #[test]
    fn single_file_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "pod.yaml", POD);
        let view = load(&dir.path().join("pod.yaml")).unwrap();
        assert_eq!(view.pods.len(), 1);
    }

    /// JSON is streamed: a List whose `kind` follows its `items` (keys sorted),
    /// an object whose `kind` follows its other fields, and the errors of a
    /// stream that must stop.
    #[test]
    fn json_lists_are_streamed_in_any_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let pod = |name: &str| {
            format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"ml"}},"spec":{{"containers":[{{"name":"c"}}]}}}}"#
            )
        };
        write(
            dir.path(),
            "pods.json",
            &format!(
                r#"{{"apiVersion":"v1","items":[{},{}],"kind":"PodList","metadata":{{}}}}"#,
                pod("a"),
                pod("b")
            ),
        );
        write(
            dir.path(),
            "cm.json",
            r#"{"data":{"k":"v"},"metadata":{"name":"cm","namespace":"ml"},"apiVersion":"v1","kind":"ConfigMap"}"#,
        );
        write(
            dir.path(),
            "nodes.json",
            r#"{"apiVersion":"v1","kind":"NodeList","items":null}"#,
        );
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(
            err.contains("nodes.json") && err.contains("a NodeList needs an `items` array"),
            "{err}"
        );
        write(
            dir.path(),
            "nodes.json",
            r#"{"apiVersion":"v1","kind":"NodeList","items":[]}"#,
        );
        let view = load(dir.path()).unwrap();
        assert_eq!(view.pods.len(), 2);
        assert!(view.config_maps.get("ml", "cm").is_some());
        assert!(view.has(crate::cluster::Kind::Node) && view.nodes.is_empty());

        // The typing thread's error names the item, and stops the reading.
        let bad = pod("c").replace(
            r#"{"name":"c"}"#,
            r#"{"name":"c","ports":[{"containerPort":"x"}]}"#,
        );
        write(
            dir.path(),
            "pods.json",
            &format!(
                r#"{{"apiVersion":"v1","items":[{},{bad},{}"#,
                pod("a"),
                pod("b")
            ),
        );
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(
            err.contains("item 2 of the List (Pod ml/c)")
                && err.contains("spec.containers[0].ports[0].containerPort"),
            "{err}"
        );
        write(
            dir.path(),
            "pods.json",
            r#"{"apiVersion":"v1","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}],"kind":"Pod","metadata":{"name":"p"}}"#,
        );
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(
            err.contains("`items` is read only in a List, not in a Pod"),
            "{err}"
        );
    }

    #[test]
    fn converts_events_v1_and_autoscaling_v1() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "e.yaml",
            "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: e1, namespace: ml}\neventTime: \"2025-01-01T00:00:00.000000Z\"\nreason: Unhealthy\nnote: 'Liveness probe failed: connection refused'\ntype: Warning\nreportingController: kubelet\nreportingInstance: node-1\naction: Probe\nregarding: {kind: Pod, name: p, namespace: ml}\n",
        );
        write(
            dir.path(),
            "h.yaml",
            "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h, namespace: ml, annotations: {autoscaling.alpha.kubernetes.io/conditions: '[{\"type\":\"ScalingActive\",\"status\":\"False\",\"lastTransitionTime\":\"2025-01-01T00:00:00Z\",\"reason\":\"FailedGetResourceMetric\",\"message\":\"the HPA was unable to compute the replica count\"}]'}}\nspec: {maxReplicas: 5, minReplicas: 1, targetCPUUtilizationPercentage: 70, scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}}\nstatus: {currentReplicas: 5, desiredReplicas: 5}\n",
        );
        write(dir.path(), "p.yaml", POD);
        let view = load(dir.path()).unwrap();
        let events = view.events_for(Kind::Pod, "ml", "p");
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].message.as_deref(),
            Some("Liveness probe failed: connection refused")
        );
        let hpa = view.hpas.get("ml", "h").unwrap();
        let metric = &hpa.spec.as_ref().unwrap().metrics.as_ref().unwrap()[0];
        assert_eq!(
            metric.resource.as_ref().unwrap().target.average_utilization,
            Some(70)
        );
        let conditions = hpa
            .status
            .as_ref()
            .unwrap()
            .conditions
            .as_ref()
            .expect("conditions from the annotation");
        assert_eq!(
            conditions[0].reason.as_deref(),
            Some("FailedGetResourceMetric")
        );
    }

    #[test]
    fn logs_and_observations() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "logs/ml/p/c.log", "now\n");
        write(d, "logs/ml/p/c.previous.log", "before\n");
        fs::write(d.join("logs/ml/p/bin.log"), b"ok \xff\xfe line\n").unwrap();
        write(
            d,
            "kafka.yaml",
            "bootstrap: kafka:9092\ntopics: [{name: t, partitions: 3}]\ngroups: [{name: g, state: Empty, members: 0, offsets: [{topic: t, partition: 0, committed: null, high: 7}]}]\n",
        );
        write(
            d,
            "probes.yaml",
            "- {namespace: ml, pod: p, port: 5001, path: /ping, status: null, error: connection refused}\n",
        );
        write(
            d,
            "coverage.yaml",
            "- {group: autoscaling, version: v2, resource: horizontalpodautoscalers, namespace: ml, result: forbidden, message: denied}\n",
        );
        let view = load(d).unwrap();
        assert_eq!(view.log("ml", "p", "c", false), Some("now\n"));
        assert_eq!(
            view.logs_of("ml", "p", "c").collect::<Vec<_>>(),
            vec!["before\n", "now\n"]
        );
        assert!(
            view.log("ml", "p", "bin", false)
                .unwrap()
                .contains('\u{fffd}')
        );
        let kafka = view.kafka.as_ref().unwrap();
        assert!(kafka.reachable);
        assert_eq!(kafka.groups[0].offsets[0].lag(), 7);
        assert_eq!(view.probes[0].error.as_deref(), Some("connection refused"));
        let gap = view.coverage_gap(Kind::HorizontalPodAutoscaler).unwrap();
        assert_eq!(
            gap.detail(),
            "forbidden: list horizontalpodautoscalers in namespace ml (denied)"
        );
    }

    #[test]
    fn observation_errors_name_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "kafka.yaml",
            "bootstrap: k:9092\ntopics: [{name: t, partitions: many}]\n",
        );
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(
            err.contains("kafka.yaml") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn huge_logs_keep_their_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("line {i:08}\n"));
        }
        write(dir.path(), "logs/ml/p/c.log", &text);
        let view = load(dir.path()).unwrap();
        let log = view.log("ml", "p", "c", false).unwrap();
        assert!(log.len() as u64 <= MAX_LOG_BYTES);
        assert!(log.starts_with("line ") && log.ends_with("line 00039999\n"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (i, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!("{i}: &{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        write(dir.path(), "bomb.yaml", &bomb);
        let err = format!("{:#}", load(dir.path()).unwrap_err());
        assert!(err.contains("budget breached"), "{err}");
    }
}

#[cfg(test)]
mod hostile {
    //! Broken and hostile snapshot input: a clear error or bounded handling,
    //! never a panic.
    use std::fs;

    use super::*;

    fn load_text(name: &str, text: &str) -> Result<ClusterView> {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(name), text).unwrap();
        load(dir.path())
    }

    #[test]
    fn deeply_nested_yaml_is_refused() {
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\ndata: {}{}\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let err = format!("{:#}", load_text("deep.yaml", &text).unwrap_err());
        assert!(err.contains("deep.yaml"), "{err}");
    }

    #[test]
    fn deeply_nested_json_is_refused() {
        // An unknown kind is kept as generic JSON: the recursion limit guards it.
        let text = format!(
            "{{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{{\"name\":\"x\"}},\"spec\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let err = format!("{:#}", load_text("deep.json", &text).unwrap_err());
        assert!(
            err.contains("deep.json") && err.contains("recursion limit"),
            "{err}"
        );
    }

    #[test]
    fn truncated_files_name_the_line() {
        let err = format!("{:#}", load_text("cut.json", "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{\"apiVersion\": \"v1\",").unwrap_err());
        assert!(err.contains("cut.json") && err.contains("line 2"), "{err}");
        let err = format!(
            "{:#}",
            load_text(
                "cut.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"unterminated\n"
            )
            .unwrap_err()
        );
        assert!(err.contains("cut.yaml"), "{err}");
    }

    #[test]
    fn objects_without_metadata_or_kind() {
        let err = format!(
            "{:#}",
            load_text("a.yaml", "apiVersion: v1\nkind: Pod\n").unwrap_err()
        );
        assert!(err.contains("`metadata.name` is required"), "{err}");
        let err = format!("{:#}", load_text("b.json", "[1, 2]").unwrap_err());
        assert!(err.contains("found a list"), "{err}");
        let err = format!("{:#}", load_text("c.yaml", "- a\n- b\n").unwrap_err());
        assert!(err.contains("found a list"), "{err}");
    }

    #[test]
    fn a_list_of_many_items_loads() {
        let item = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-NUM","namespace":"ns","managedFields":[{"manager":"kubectl"}]},"data":{"k":"v"}}"#;
        let items: Vec<String> = (0..100_000)
            .map(|i| item.replace("NUM", &i.to_string()))
            .collect();
        let text = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{}]}}",
            items.join(",")
        );
        let view = load_text("many.json", &text).unwrap();
        assert_eq!(view.config_maps.len(), 100_000);
        assert!(
            view.config_maps
                .iter()
                .all(|c| c.metadata.managed_fields.is_none())
        );
    }

    #[test]
    fn an_owner_cycle_ends() {
        // A ReplicaSet that names itself as its controller, and a pod it owns.
        let text = r#"{"apiVersion":"v1","kind":"List","items":[
            {"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs","namespace":"ml",
             "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u","controller":true}]}},
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ml",
             "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u","controller":true}]}}]}"#;
        let view = load_text("cycle.json", text).unwrap();
        let pod = view.pods.get("ml", "p").unwrap();
        assert_eq!(view.owner_of_pod(pod).name, "rs");
    }

    #[test]
    fn add_file_reads_by_path_inside_the_snapshot() {
        let mut view = ClusterView::default();
        add_file(&mut view, Path::new("kafka.yaml"), b"bootstrap: k:9092\n").unwrap();
        add_file(&mut view, Path::new("notes.txt"), b"\xff not read").unwrap();
        let err = format!(
            "{:#}",
            add_file(&mut view, Path::new("probes.yaml"), b"\xff").unwrap_err()
        );
        assert!(err.contains("probes.yaml must be UTF-8 YAML"), "{err}");
        let err = format!(
            "{:#}",
            add_file(&mut view, Path::new("logs/ml/c.log"), b"x").unwrap_err()
        );
        assert!(err.contains("logs/ml/c.log: log files must be at"), "{err}");
        // A log larger than the limit keeps its tail from the first whole line.
        let mut log = vec![b'x'; MAX_LOG_BYTES as usize];
        log.extend_from_slice(b"\nlast\n");
        add_file(&mut view, Path::new("logs/ml/p/c.log"), &log).unwrap();
        assert_eq!(view.log("ml", "p", "c", false), Some("last\n"));
        assert_eq!(view.kafka.unwrap().bootstrap, "k:9092");
    }

    #[test]
    fn a_huge_single_log_line_is_cut_to_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("logs/ns/pod");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("c.log"), "x".repeat(3 * MAX_LOG_BYTES as usize)).unwrap();
        let view = load(dir.path()).unwrap();
        // No line break in the kept tail: it is kept as it is, cut to the limit.
        assert!(view.log("ns", "pod", "c", false).unwrap().len() <= MAX_LOG_BYTES as usize);
    }
}
