//! `cargo bench --bench scale`: doctor on synthetic snapshots against Python's
//! `json.load` of the same JSON, measured in the same run, interleaved so
//! machine noise hits both alike. Reports wall time (median), peak RSS, the
//! growth from size to size, cold start and binary size, and checks that
//! every injected fault was found. Live mode: the same cluster served by the
//! in-process API server of the tests, doctor against `kubectl get … -A -o json`
//! of the same kinds with the same kubeconfig, with the requests each made.
//!
//! - `MLOPSCTL_BENCH_SIZES=1000,10000,50000` picks the sizes (pods),
//!   `MLOPSCTL_BENCH_RUNS` the runs per size.
//! - `MLOPSCTL_BENCH_SHAPES=standard,events` picks the cluster's shapes (both
//!   by default; every table is printed once per shape): `standard`,
//!   Deployments of 5 full serving pods with one Event each; `events`,
//!   Deployments of 2 small pods, an HPA each, and the scheduler's and
//!   kubelet's Events of every pod's start (see [`Shape`]).
//! - `MLOPSCTL_BENCH_BASELINE=PATH` names another mlopsctl binary (an earlier
//!   build) whose live doctor is measured in the same runs, interleaved, for
//!   before/after ratios. `MLOPSCTL_BENCH_BIN=PATH` measures that mlopsctl
//!   instead of this build's.
//! - `MLOPSCTL_BENCH_REAL=1` adds live mode against a real kube-apiserver
//!   (`MLOPSCTL_BENCH_REAL=only`: that alone): each shape and size loaded
//!   into a control plane of its own, then doctor against the raw-list floor
//!   (one unpaginated GET per kind doctor lists, all in parallel), and with
//!   `MLOPSCTL_BENCH_REAL_KUBECTL=1` `kubectl get` of the same kinds. It
//!   needs the assets of `tests/real_*.rs`:
//!
//!       KUBEBUILDER_ASSETS=$(../shared/envtest/install.sh) MLOPSCTL_BENCH_REAL=1 \
//!           MLOPSCTL_BENCH_SIZES=1000,10000 MLOPSCTL_BENCH_RUNS=3 cargo bench --bench scale

// The in-process API server of the live tests serves the synthetic cluster.
mod real;
#[path = "../tests/support/mod.rs"]
mod support;
mod synth;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set in the generator child: where to write the synthetic cluster.
const GENERATE_INTO: &str = "MLOPSCTL_BENCH_GENERATE_INTO";

/// Set in the generator child: the shape of the cluster (`standard` unless set).
const SHAPE: &str = "MLOPSCTL_BENCH_SHAPE";

/// Set in the measuring child: where to write the measured process's wall time
/// (ns) and peak RSS (KiB).
const MEASURE_INTO: &str = "MLOPSCTL_BENCH_MEASURE_INTO";

/// Wall time, peak RSS (KiB) and stdout of one command. It is started by a
/// small child of this benchmark (see [`measured_child`]): a process spawned
/// from this one would report this one's peak RSS when larger, since Linux
/// keeps the high-water mark of the address space a process replaces at exec
/// (and in live mode this process holds the whole cluster, as the API server).
fn measure(cmd: &mut Command) -> (Duration, i64, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let into = dir.path().join("measured");
    let mut helper = Command::new(std::env::current_exe().expect("own path"));
    helper
        .env(MEASURE_INTO, &into)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => helper.env(key, v),
            None => helper.env_remove(key),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        helper.current_dir(d);
    }
    let out = helper
        .stderr(Stdio::inherit())
        .output()
        .expect("the measuring child runs");
    let text = std::fs::read_to_string(&into).expect("the measuring child wrote its figures");
    let (nanos, rss) = text.trim().split_once(' ').expect("two figures");
    (
        Duration::from_nanos(nanos.parse().expect("nanoseconds")),
        rss.parse().expect("KiB"),
        out.stdout,
    )
}

/// The measuring child: run the command in its arguments with this process's
/// stdio, reap it with wait4 (which reports its peak RSS), and write the figures.
// The child is reaped by wait4, which also reports its peak RSS.
#[allow(clippy::zombie_processes)]
fn measured_child(into: &std::ffi::OsStr) {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("a program to measure");
    let start = Instant::now();
    let child = Command::new(program)
        .args(args)
        .env_remove(MEASURE_INTO)
        .spawn()
        .expect("spawns");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by the kernel for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let elapsed = start.elapsed();
    std::fs::write(into, format!("{} {}", elapsed.as_nanos(), usage.ru_maxrss))
        .expect("writes the figures");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The shape of the synthetic cluster.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// Deployments of 5 pods, each pod a full serving container (ports, a
    /// readiness probe, requests and limits) with one Pulled Event: 44 MB of
    /// JSON at 10,000 pods.
    Standard,
    /// Small pods, many HPAs, Events-heavy: Deployments of 2 pods of one
    /// small container, an HPA (or KEDA's) for each, and per pod the Events
    /// of its start (Scheduled, Pulling, Pulled, Created, Started, the
    /// faults' Warnings, and one pod in ten that waited for a node).
    Events,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Standard => "standard",
            Shape::Events => "events",
        }
    }

    fn parse(name: &str) -> Shape {
        match name.trim() {
            "standard" => Shape::Standard,
            "events" => Shape::Events,
            other => panic!("unknown shape {other:?}: standard or events"),
        }
    }

    fn spec(self, pods: usize) -> synth::Spec {
        let standard = synth::Spec {
            deployments: pods / 5,
            pods_per_deployment: 5,
            deployments_per_namespace: 40,
            fault_every: 25,
            seldon_every: 10,
            scaled_every: 8,
            keda_fault_every: 12,
            seed: 42,
            small_pods: false,
            lifecycle_events: false,
            waited_every: 0,
        };
        match self {
            Shape::Standard => standard,
            Shape::Events => synth::Spec {
                deployments: pods / 2,
                pods_per_deployment: 2,
                deployments_per_namespace: 100,
                small_pods: true,
                lifecycle_events: true,
                waited_every: 10,
                ..standard
            },
        }
    }
}

/// One size's figures: `local` is the snapshot and in-process live
/// measurements (absent with `MLOPSCTL_BENCH_REAL=only`), `real` the real
/// kube-apiserver's (with `MLOPSCTL_BENCH_REAL`, given the assets).
struct Row {
    pods: u64,
    mib: f64,
    local: Option<Local>,
    real: Option<real::Figures>,
}

/// Snapshot mode and the in-process API server's live mode.
struct Local {
    doctor: Duration,
    doctor_rss: i64,
    python: Duration,
    python_rss: i64,
    live: Duration,
    live_rss: i64,
    live_requests: usize,
    live_gets: usize,
    kubectl: Duration,
    kubectl_requests: usize,
    /// The baseline binary's live doctor: time and peak RSS (KiB).
    baseline: Option<(Duration, i64)>,
}

/// Which live modes run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Modes {
    Local,
    LocalAndReal,
    RealOnly,
}

fn main() {
    let runs: usize = std::env::var("MLOPSCTL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if let Some(into) = std::env::var_os(MEASURE_INTO) {
        measured_child(&into);
        return;
    }
    if let Some(kubeconfig) = std::env::var_os(real::FLOOR) {
        real::floor_child(&kubeconfig);
        return;
    }
    // Generate in a child process: Linux carries a process's peak RSS over
    // fork and exec, so a parent that held the generated cluster would
    // inflate every measured child's figure.
    if let Some(dir) = std::env::var_os(GENERATE_INTO) {
        let pods: usize = std::env::var("MLOPSCTL_BENCH_PODS")
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("pods");
        let shape = Shape::parse(&std::env::var(SHAPE).unwrap_or_else(|_| "standard".into()));
        let generated = synth::generate(&shape.spec(pods), Path::new(&dir)).expect("generates");
        println!(
            "{}",
            serde_json::json!({"pods": generated.pods, "bytes": generated.bytes, "expected": generated.expected})
        );
        return;
    }
    let sizes: Vec<usize> = std::env::var("MLOPSCTL_BENCH_SIZES")
        .unwrap_or_else(|_| "10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let shapes: Vec<Shape> = std::env::var("MLOPSCTL_BENCH_SHAPES")
        .unwrap_or_else(|_| "standard,events".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Shape::parse)
        .collect();
    let modes = match std::env::var("MLOPSCTL_BENCH_REAL").as_deref() {
        Ok("only") => Modes::RealOnly,
        Ok("1") => Modes::LocalAndReal,
        _ => Modes::Local,
    };
    let bin = std::env::var("MLOPSCTL_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mlopsctl").to_string());
    let baseline = std::env::var("MLOPSCTL_BENCH_BASELINE").ok();
    for shape in shapes {
        let rows: Vec<Row> = sizes
            .iter()
            .map(|&pods| size(&bin, baseline.as_deref(), shape, pods, runs, modes))
            .collect();
        print_tables(shape, &rows);
    }
    cold_start(&bin);
}

/// One shape's tables.
fn print_tables(shape: Shape, rows: &[Row]) {
    let name = shape.name();
    let local: Vec<(&Row, &Local)> = rows
        .iter()
        .filter_map(|r| Some((r, r.local.as_ref()?)))
        .collect();
    if !local.is_empty() {
        println!();
        println!("Snapshot mode, shape `{name}`:");
        println!();
        println!(
            "| pods | JSON MiB | doctor s | doctor peak RSS MiB | json.load s | json.load peak RSS MiB | time ratio | RSS ratio |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (r, l) in &local {
            println!(
                "| {} | {:.1} | {:.3} | {:.0} | {:.3} | {:.0} | {:.2}x | {:.2}x |",
                r.pods,
                r.mib,
                l.doctor.as_secs_f64(),
                l.doctor_rss as f64 / 1024.0,
                l.python.as_secs_f64(),
                l.python_rss as f64 / 1024.0,
                l.doctor.as_secs_f64() / l.python.as_secs_f64(),
                l.doctor_rss as f64 / l.python_rss as f64
            );
        }
        if let [(first, f), .., (last, l)] = local.as_slice() {
            let per_k = |t: Duration, p: u64| t.as_secs_f64() * 1000.0 / p as f64 * 1000.0;
            println!(
                "growth `{name}` {}→{} pods: doctor {:.1} → {:.1} ms per 1k pods, json.load {:.1} → {:.1} ms per 1k pods",
                first.pods,
                last.pods,
                per_k(f.doctor, first.pods),
                per_k(l.doctor, last.pods),
                per_k(f.python, first.pods),
                per_k(l.python, last.pods)
            );
        }
        println!();
        println!("Live mode, in-process API server, shape `{name}`:");
        println!();
        println!(
            "| pods | live doctor s | live doctor peak RSS MiB | requests | per-object GETs | kubectl get s | kubectl requests | time ratio |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (r, l) in &local {
            println!(
                "| {} | {:.3} | {:.0} | {} | {} | {:.3} | {} | {:.2}x |",
                r.pods,
                l.live.as_secs_f64(),
                l.live_rss as f64 / 1024.0,
                l.live_requests,
                l.live_gets,
                l.kubectl.as_secs_f64(),
                l.kubectl_requests,
                l.live.as_secs_f64() / l.kubectl.as_secs_f64()
            );
        }
        if local.iter().any(|(_, l)| l.baseline.is_some()) {
            println!();
            println!(
                "Live mode, in-process API server, baseline against this build, shape `{name}`:"
            );
            println!();
            println!(
                "| pods | baseline live s | baseline live peak RSS MiB | live s | live peak RSS MiB | time ratio | RSS ratio |"
            );
            println!("|---:|---:|---:|---:|---:|---:|---:|");
            for (r, l) in &local {
                if let Some((t, rss)) = l.baseline {
                    println!(
                        "| {} | {:.3} | {:.0} | {:.3} | {:.0} | {:.2}x | {:.2}x |",
                        r.pods,
                        t.as_secs_f64(),
                        rss as f64 / 1024.0,
                        l.live.as_secs_f64(),
                        l.live_rss as f64 / 1024.0,
                        l.live.as_secs_f64() / t.as_secs_f64(),
                        l.live_rss as f64 / rss as f64
                    );
                }
            }
        }
    }
    let real: Vec<(&Row, &real::Figures)> = rows
        .iter()
        .filter_map(|r| Some((r, r.real.as_ref()?)))
        .collect();
    if !real.is_empty() {
        println!();
        println!(
            "Live mode, real kube-apiserver, doctor -A against the raw-list floor, shape `{name}`:"
        );
        println!();
        println!(
            "| pods | objects loaded | load s | doctor s | doctor peak RSS MiB | floor s | floor peak RSS MiB | floor MiB read | time ratio | RSS ratio |{}",
            if real.iter().any(|(_, f)| f.kubectl.is_some()) {
                " kubectl get s | kubectl peak RSS MiB | doctor/kubectl |"
            } else {
                ""
            }
        );
        println!(
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}",
            if real.iter().any(|(_, f)| f.kubectl.is_some()) {
                "---:|---:|---:|"
            } else {
                ""
            }
        );
        for (r, f) in &real {
            let kubectl = f.kubectl.map_or(String::new(), |(t, rss)| {
                format!(
                    " {:.3} | {:.0} | {:.2}x |",
                    t.as_secs_f64(),
                    rss as f64 / 1024.0,
                    f.doctor.as_secs_f64() / t.as_secs_f64()
                )
            });
            println!(
                "| {} | {} | {:.0} | {:.3} | {:.0} | {:.3} | {:.0} | {:.1} | {:.2}x | {:.2}x |{kubectl}",
                r.pods,
                f.objects,
                f.load.as_secs_f64(),
                f.doctor.as_secs_f64(),
                f.doctor_rss as f64 / 1024.0,
                f.floor.as_secs_f64(),
                f.floor_rss as f64 / 1024.0,
                f.floor_bytes as f64 / 1048576.0,
                f.doctor.as_secs_f64() / f.floor.as_secs_f64(),
                f.doctor_rss as f64 / f.floor_rss as f64
            );
        }
    }
}

fn size(
    bin: &str,
    baseline: Option<&str>,
    shape: Shape,
    pods: usize,
    runs: usize,
    modes: Modes,
) -> Row {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env(GENERATE_INTO, dir.path())
        .env(SHAPE, shape.name())
        .env("MLOPSCTL_BENCH_PODS", pods.to_string())
        .output()
        .expect("generator runs");
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("generator summary");
    let expected: BTreeMap<String, usize> =
        serde_json::from_value(meta["expected"].clone()).expect("expected counts");
    eprintln!(
        "shape `{}`, {} pods: {} bytes of JSON, faults injected: {expected:?}",
        shape.name(),
        meta["pods"],
        meta["bytes"]
    );
    let local =
        (modes != Modes::RealOnly).then(|| local(bin, baseline, dir.path(), runs, &expected));
    let real = (modes != Modes::Local)
        .then(|| real::run(bin, dir.path(), runs, &expected))
        .flatten();
    Row {
        pods: meta["pods"].as_u64().unwrap_or_default(),
        mib: meta["bytes"].as_u64().unwrap_or_default() as f64 / 1048576.0,
        local,
        real,
    }
}

/// Snapshot mode against json.load, then live mode on the in-process API server.
fn local(
    bin: &str,
    baseline: Option<&str>,
    dir: &Path,
    runs: usize,
    expected: &BTreeMap<String, usize>,
) -> Local {
    let json_file = dir.join("cluster.json");
    let (mut doctor, mut python) = (Vec::new(), Vec::new());
    let (mut doctor_rss, mut python_rss) = (0, 0);
    let mut report = Vec::new();
    for _ in 0..runs {
        let (t, rss, out) = measure(
            Command::new(bin)
                .args(["doctor", "-o", "json", "--fail-on", "never", "--snapshot"])
                .arg(dir),
        );
        doctor.push(t);
        doctor_rss = doctor_rss.max(rss);
        report = out;
        let (t, rss, _) = measure(
            Command::new("python3")
                .args(["-c", "import json,sys; json.load(open(sys.argv[1]))"])
                .arg(&json_file),
        );
        python.push(t);
        python_rss = python_rss.max(rss);
    }
    check_findings(&report, expected, &[]);
    let live = live(bin, baseline, dir, runs, expected);
    Local {
        baseline: live.6,
        live: live.0,
        live_rss: live.1,
        live_requests: live.2,
        live_gets: live.3,
        kubectl: live.4,
        kubectl_requests: live.5,
        doctor: median(doctor),
        doctor_rss,
        python: median(python),
        python_rss,
    }
}

/// Doctor's live-mode arguments against a kubeconfig.
fn live_doctor(bin: &str, kubeconfig: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args([
        "doctor",
        "-A",
        "-o",
        "json",
        "--fail-on",
        "never",
        "--timeout",
        "300s",
        "--kubeconfig",
    ])
    .arg(kubeconfig);
    cmd
}

/// Live mode on the same cluster: (doctor time, doctor peak RSS KiB, requests
/// per doctor run (Lists, log tails, probes), per-object GETs per run,
/// kubectl time, kubectl requests, the baseline binary's time and peak RSS).
type Live = (
    Duration,
    i64,
    usize,
    usize,
    Duration,
    usize,
    Option<(Duration, i64)>,
);

fn live(
    bin: &str,
    baseline: Option<&str>,
    dir: &Path,
    runs: usize,
    expected: &BTreeMap<String, usize>,
) -> Live {
    let server = support::ApiServer::start(dir, Vec::new(), support::Faults::default());
    let tmp = tempfile::tempdir().expect("tempdir");
    let kubeconfig = server.kubeconfig(tmp.path(), "default");
    let (mut doctor, mut kubectl) = (Vec::new(), Vec::new());
    let mut rss = 0;
    let (mut doctor_requests, mut kubectl_requests, mut gets) = (0, 0, 0);
    let mut report = Vec::new();
    let (mut baseline_times, mut baseline_rss) = (Vec::new(), 0);
    let mut baseline_report = Vec::new();
    // kubectl refuses the whole command for one kind the server does not
    // serve: only those it serves (a custom kind's group is served when the
    // cluster holds some).
    let kinds = real::kubectl_names(&real::served(&support::rest::Rest::new(
        &server.url,
        "test-token",
    )));
    for _ in 0..runs {
        if let Some(old) = baseline {
            let (t, r, out) = measure(&mut live_doctor(old, &kubeconfig));
            baseline_times.push(t);
            baseline_rss = r.max(baseline_rss);
            baseline_report = out;
        }
        let before = server.requests().len();
        let (t, r, out) = measure(&mut live_doctor(bin, &kubeconfig));
        doctor.push(t);
        rss = rss.max(r);
        report = out;
        let requests = server.requests();
        doctor_requests = requests.len() - before;
        // A per-object GET names one object: a path with more segments than a List and no query.
        gets = requests[before..]
            .iter()
            .filter(|r| names_one_object(r))
            .count();
        let before = requests.len();
        let (t, _, _) = measure(
            Command::new("kubectl")
                .args(["get", &kinds, "-A", "-o", "json", "--kubeconfig"])
                .arg(&kubeconfig),
        );
        kubectl.push(t);
        kubectl_requests = server.requests().len() - before;
    }
    // Live, logs are read for at most 100 containers, not-ready and restarting
    // ones first: the healthy-looking pods whose log names a missing variable
    // (WKL001, SRV004) may fall outside that budget on a big cluster.
    // Kafka is read live only with --kafka-bootstrap (or from inside the
    // cluster): the Kafka checks have nothing to judge here.
    let mut live_expected = expected.clone();
    live_expected.retain(|code, _| !code.starts_with("KFK"));
    let from_logs = ["WKL001", "SRV004"];
    check_findings(&report, &live_expected, &from_logs);
    if baseline.is_some() {
        check_findings(&baseline_report, &live_expected, &from_logs);
    }
    (
        median(doctor),
        rss,
        doctor_requests,
        gets,
        median(kubectl),
        kubectl_requests,
        (!baseline_times.is_empty()).then(|| (median(baseline_times), baseline_rss)),
    )
}

/// A GET of one object (`…/namespaces/NS/pods/NAME`), as opposed to a List,
/// discovery, a log tail or a health probe through the proxy.
fn names_one_object(request: &str) -> bool {
    let path = request.split('?').next().unwrap_or_default();
    if path.ends_with("/log") || path.contains("/proxy") {
        return false;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/namespaces/NS/RESOURCE/NAME or /apis/GROUP/VERSION/namespaces/NS/RESOURCE/NAME
    let core = segments.first() == Some(&"api");
    let base = if core { 2 } else { 3 };
    let rest = &segments[base.min(segments.len())..];
    match rest {
        ["namespaces", _, _, _, ..] => true,
        ["namespaces", _] => false,
        [_resource, _name, ..] => true,
        _ => false,
    }
}

/// Every injected fault must be reported, and nothing else: the benchmark
/// measures a correct run. `unchecked` codes may be found any number of times.
fn check_findings(report: &[u8], expected: &BTreeMap<String, usize>, unchecked: &[&str]) {
    let report: serde_json::Value = serde_json::from_slice(report).expect("doctor printed JSON");
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for f in report["findings"].as_array().expect("findings") {
        *found
            .entry(f["code"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for code in expected.keys().chain(found.keys()) {
        if unchecked.contains(&code.as_str()) {
            continue;
        }
        let n = expected.get(code).copied().unwrap_or(0);
        assert_eq!(
            found.get(code).copied().unwrap_or(0),
            n,
            "{code}: expected {n} findings, got {found:?}"
        );
    }
    eprintln!("findings: {found:?} (every injected fault found, nothing else)");
}

/// Start-up cost of the commands people run first, and the binary's size.
fn cold_start(bin: &str) {
    for args in [&["--version"][..], &["checks"][..]] {
        let times: Vec<Duration> = (0..20)
            .map(|_| measure(Command::new(bin).args(args)).0)
            .collect();
        println!(
            "mlopsctl {}: {:.1} ms (median of 20)",
            args.join(" "),
            median(times).as_secs_f64() * 1000.0
        );
    }
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or_default();
    println!("binary size: {:.1} MiB", size as f64 / 1048576.0);
}
