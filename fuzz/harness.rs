//! The bodies of the fuzz targets, shared by `fuzz/fuzz_targets/*.rs` and the
//! corpus replay test (`tests/fuzz_corpus.rs`), so what is fuzzed is what CI
//! replays. Each calls the library entry point a user's input reaches and
//! returns its error as text: an error is a fine answer, a panic is a bug.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mlopsctl::cluster::ClusterView;
use serde_json::{Value, json};

fn text(e: anyhow::Error) -> String {
    format!("{e:#}")
}

/// `snapshot_file`: the first line is the file's path inside a snapshot
/// directory (`pods.yaml`, `list.json`, `kafka.yaml`, `logs/ml/p/c.log`), the
/// rest is its bytes, loaded as `snapshot::load` loads every file; then every
/// shipped check runs on what loaded. The engine reports a panicking
/// analyzer as a check that failed to run: here that is a crash to find.
pub fn snapshot_file(data: &[u8]) -> Result<ClusterView, String> {
    let (name, bytes) = match data.iter().position(|&b| b == b'\n') {
        Some(nl) => (&data[..nl], &data[nl + 1..]),
        None => (data, &[][..]),
    };
    let mut view = ClusterView::default();
    mlopsctl::snapshot::add_file(&mut view, Path::new(OsStr::from_bytes(name)), bytes)
        .map_err(text)?;
    view.finish();
    let report = mlopsctl::report::engine::run(&shipped(), &view, String::new());
    if let Some(c) = report.errored().next() {
        panic!(
            "{} on the loaded snapshot: {}",
            c.code,
            c.reason.as_deref().unwrap_or_default()
        );
    }
    Ok(view)
}

/// Every shipped check.
fn shipped() -> Vec<&'static mlopsctl::catalogue::Check> {
    static CATALOGUE: OnceLock<mlopsctl::catalogue::Catalogue> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| mlopsctl::catalogue::Catalogue::load(&[]).expect("the shipped checks load"))
        .select(&[], &[])
        .expect("every check")
}

/// Fixture snapshots a fuzzed check runs on: workloads with logs and probes,
/// Seldon, Kafka and KEDA objects.
const VIEWS: [&str; 4] = [
    "serving-workloads",
    "seldon-mesh-broken",
    "training-pipeline",
    "keda-problems",
];

fn views() -> &'static [ClusterView] {
    static VIEWS_LOADED: OnceLock<Vec<ClusterView>> = OnceLock::new();
    VIEWS_LOADED.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .find(|p| p.join("fixtures").is_dir())
            .expect("the repository's fixtures/ directory");
        VIEWS
            .iter()
            .map(|name| {
                let dir: PathBuf = repo.join("fixtures").join(name);
                mlopsctl::snapshot::load(&dir)
                    .unwrap_or_else(|e| panic!("fixture {}: {e:#}", dir.display()))
            })
            .collect()
    })
}

/// `check_spec`: a check file as a user's `--checks` pack holds it, parsed and
/// validated as the catalogue does, then its analyzer run on fixture snapshots.
pub fn check_spec(data: &[u8]) -> Result<usize, String> {
    // The catalogue reads check files with `fs::read_to_string`.
    let text_in = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
    let check = mlopsctl::catalogue::parse_check(text_in, "fuzz/check.yaml").map_err(text)?;
    // A view without the kinds a check reads gives an error ("not applicable:
    // no HorizontalPodAutoscalers"): an answer, like a finding.
    Ok(views()
        .iter()
        .filter_map(|view| check.analyzer.analyze(view).ok())
        .map(|drafts| drafts.len())
        .sum())
}

/// A Deployment whose pod's `model` container has the fuzzed log.
const WORKLOAD: &str = "\
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: model, namespace: ml}
  spec:
    selector: {matchLabels: {app: model}}
    template:
      metadata: {labels: {app: model}}
      spec: {containers: [{name: model, image: model:1}]}
- apiVersion: v1
  kind: Pod
  metadata:
    name: model-7d4b9c8f6-x2x9z
    namespace: ml
    labels: {app: model, pod-template-hash: 7d4b9c8f6}
    ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: model-7d4b9c8f6, uid: u1, controller: true}]
  spec: {containers: [{name: model, image: model:1}]}
";

/// `log_signatures`: one user pattern per line up to the first empty line, then
/// the log text (any bytes, as a container wrote them). The patterns become a
/// `log-signatures` check's `signatures`; the log is loaded as a snapshot's
/// `logs/ml/POD/model.log` and the check is run on it.
pub fn log_signatures(data: &[u8]) -> Result<usize, String> {
    let (patterns, log) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    // Check files are UTF-8 text, so patterns are too.
    let patterns = std::str::from_utf8(patterns).map_err(|e| format!("not UTF-8: {e}"))?;
    let signatures: Vec<Value> = patterns
        .lines()
        .map(|regex| json!({"regex": regex, "title": "t", "explanation": "e", "hint": "h"}))
        .collect();
    let def = mlopsctl::analyzers::find("log-signatures").expect("the log-signatures analyzer");
    let analyzer = (def.build)(json!({"signatures": signatures}))?;
    let mut view = ClusterView::default();
    mlopsctl::snapshot::add_file(&mut view, Path::new("workload.yaml"), WORKLOAD.as_bytes())
        .map_err(text)?;
    mlopsctl::snapshot::add_file(
        &mut view,
        Path::new("logs/ml/model-7d4b9c8f6-x2x9z/model.log"),
        log,
    )
    .map_err(text)?;
    view.finish();
    Ok(analyzer.analyze(&view)?.len())
}
