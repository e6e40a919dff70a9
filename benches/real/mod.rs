//! Live mode against a real kube-apiserver (`MLOPSCTL_BENCH_REAL`): the
//! synthetic cluster loaded into the control plane of the `tests/real_*.rs`
//! (`support::envtest`, `support::loader`, so pod, host and node addresses
//! become 127.x), then, interleaved in the same runs, doctor against the
//! floor: one unpaginated raw GET per kind doctor lists (of those the server
//! serves), all in parallel, bodies read fully and dropped, by a child of
//! this benchmark (`MLOPSCTL_BENCH_FLOOR`), measured as doctor is.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use mlopsctl::cluster::Kind;

use crate::support::rest::Rest;
use crate::support::{envtest, loader};
use crate::{check_findings, live_doctor, measure, median};

/// Set in the floor child: the kubeconfig; its arguments are the paths to GET.
pub const FLOOR: &str = "MLOPSCTL_BENCH_FLOOR";

/// One size's figures against the real server.
pub struct Figures {
    /// How long loading the cluster into the server took, and how many objects.
    pub load: Duration,
    pub objects: usize,
    pub doctor: Duration,
    pub doctor_rss: i64,
    pub floor: Duration,
    pub floor_rss: i64,
    /// The bytes the floor read (JSON, every kind).
    pub floor_bytes: u64,
    /// `kubectl get` of the same kinds (`MLOPSCTL_BENCH_REAL_KUBECTL=1`).
    pub kubectl: Option<(Duration, i64)>,
}

/// The List path of a kind, cluster-wide.
fn list_path(kind: Kind) -> String {
    let info = kind.info();
    if info.group.is_empty() {
        format!("/api/{}/{}", info.version, info.plural)
    } else {
        format!("/apis/{}/{}/{}", info.group, info.version, info.plural)
    }
}

/// The kinds doctor lists that the server behind `rest` serves.
pub fn served(rest: &Rest) -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| rest.get(&format!("{}?limit=1", list_path(*k))).0 == 200)
        .collect()
}

/// Kinds as one `kubectl get` argument (`plural.group`, comma-separated).
pub fn kubectl_names(kinds: &[Kind]) -> String {
    kinds
        .iter()
        .map(|k| {
            let info = k.info();
            if info.group.is_empty() {
                info.plural.to_string()
            } else {
                format!("{}.{}", info.plural, info.group)
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Load the cluster in `dir` into a kube-apiserver of its own and measure.
/// `None` without `KUBEBUILDER_ASSETS`.
pub fn run(
    bin: &str,
    dir: &Path,
    runs: usize,
    expected: &BTreeMap<String, usize>,
) -> Option<Figures> {
    let cluster = envtest::isolated()?;
    let start = Instant::now();
    // Requests in flight while loading: the server and etcd share the cores.
    let loaded = loader::load_fixture_concurrently(&cluster, dir, 6);
    let load = start.elapsed();
    eprintln!(
        "real kube-apiserver: loaded {} objects in {:.1} s ({} skipped: {:?})",
        loaded.created,
        load.as_secs_f64(),
        loaded.skipped.len(),
        loaded.skipped
    );
    // The kinds doctor lists that this server serves (the CRDs the cluster
    // brings, and every built-in kind).
    let served = served(&cluster.rest);
    let paths: Vec<String> = served.iter().map(|k| list_path(*k)).collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = cluster.kubeconfig(tmp.path(), "default");
    let kubectl_kinds = kubectl_names(&served);
    let with_kubectl = std::env::var("MLOPSCTL_BENCH_REAL_KUBECTL").is_ok_and(|v| v == "1");
    let (mut doctor, mut floor, mut kubectl) = (Vec::new(), Vec::new(), Vec::new());
    let (mut doctor_rss, mut floor_rss, mut kubectl_rss) = (0, 0, 0);
    let (mut report, mut floor_bytes) = (Vec::new(), 0);
    for _ in 0..runs {
        let (t, rss, out) = measure(&mut live_doctor(bin, &kubeconfig));
        doctor.push(t);
        doctor_rss = doctor_rss.max(rss);
        report = out;
        let (t, rss, out) = measure(
            Command::new(std::env::current_exe().expect("own path"))
                .env(FLOOR, &kubeconfig)
                .args(&paths),
        );
        floor.push(t);
        floor_rss = floor_rss.max(rss);
        floor_bytes = String::from_utf8_lossy(&out)
            .trim()
            .parse()
            .expect("the floor child printed the bytes it read");
        if with_kubectl {
            let (t, rss, _) = measure(
                Command::new("kubectl")
                    .args(["get", &kubectl_kinds, "-A", "-o", "json", "--kubeconfig"])
                    .arg(&kubeconfig),
            );
            kubectl.push(t);
            kubectl_rss = kubectl_rss.max(rss);
        }
    }
    check(&report, expected, &loaded);
    Some(Figures {
        load,
        objects: loaded.created,
        doctor: median(doctor),
        doctor_rss,
        floor: median(floor),
        floor_rss,
        floor_bytes,
        kubectl: with_kubectl.then(|| (median(kubectl), kubectl_rss)),
    })
}

/// The findings on the real server: every injected fault found, nothing
/// else, but for what a control plane without a kubelet differs in. It
/// serves no logs (the log-derived codes are not counted, as in the
/// in-process live run; nor is Kafka, read live only with
/// `--kafka-bootstrap`). Its own availability check marks an aggregated API
/// unavailable when no pod serves it (metrics-server, KEDA's metrics
/// adapter), some seconds after loading: SCL001 on those APIServices, when
/// it is there, is the server's answer, not a fault of the synthetic cluster.
fn check(report: &[u8], expected: &BTreeMap<String, usize>, loaded: &loader::Loaded) {
    let mut report: Value = serde_json::from_slice(report).expect("doctor printed JSON");
    let findings = report["findings"].as_array_mut().expect("findings");
    let needs_kubelet = |f: &Value| f["code"] == "SCL001" && f["subject"]["kind"] == "APIService";
    let explained: Vec<String> = findings
        .iter()
        .filter(|f| needs_kubelet(f))
        .map(|f| loaded.to_fixture(&format!("{} {}", f["subject"], f["message"])))
        .collect();
    findings.retain(|f| !needs_kubelet(f));
    eprintln!("real kube-apiserver, no kubelet: {explained:#?}");
    let mut live_expected = expected.clone();
    live_expected.retain(|code, _| !code.starts_with("KFK"));
    check_findings(
        &serde_json::to_vec(&report).expect("serialises"),
        &live_expected,
        &["WKL001", "SRV004"],
    );
}

/// The floor child: GET every path in its arguments at once, unpaginated,
/// read each body fully, drop it, and print the bytes read.
pub fn floor_child(kubeconfig: &OsStr) {
    use http_body_util::BodyExt;
    let paths: Vec<String> = std::env::args().skip(1).collect();
    mlopsctl::collect::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bytes: usize = runtime.block_on(async {
        let kubeconfig = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let gets: Vec<_> = paths
            .into_iter()
            .map(|path| {
                let client = client.clone();
                tokio::spawn(async move {
                    let request = http::Request::get(&path)
                        .header(http::header::ACCEPT, "application/json")
                        .body(kube::client::Body::from(Vec::new()))
                        .expect("request");
                    let response = client.send(request).await.expect("GET");
                    assert!(
                        response.status().is_success(),
                        "{path}: {}",
                        response.status()
                    );
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .expect("body")
                        .to_bytes();
                    body.len()
                })
            })
            .collect();
        let mut total = 0;
        for get in gets {
            total += get.await.expect("the GET task");
        }
        total
    });
    println!("{bytes}");
}
