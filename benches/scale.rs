//! `cargo bench --bench scale`: doctor on a synthetic 10,000-pod snapshot,
//! against Python's `json.load` of the same JSON, measured in the same run.
//! Reports wall time (median of runs) and peak RSS, and checks that every
//! injected fault was found.

mod synth;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Wall time and peak RSS (KiB) of one child process, from wait4's rusage.
// The child is reaped by wait4, which also reports its peak RSS.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command) -> (Duration, i64, Vec<u8>) {
    let start = Instant::now();
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawns");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).expect("reads stdout");
        buf
    });
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by the kernel for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    let elapsed = start.elapsed();
    let out = reader.join().expect("reader thread");
    (elapsed, usage.ru_maxrss, out)
}

/// Set in the generator child: where to write the synthetic cluster.
const GENERATE_INTO: &str = "MLOPSCTL_BENCH_GENERATE_INTO";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let pods: usize = std::env::var("MLOPSCTL_BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runs: usize = std::env::var("MLOPSCTL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let spec = synth::Spec {
        deployments: pods / 5,
        pods_per_deployment: 5,
        deployments_per_namespace: 40,
        fault_every: 25,
        seed: 42,
    };
    // Generate in a child process: Linux carries a process's peak RSS over
    // fork and exec, so a parent that held the generated cluster would
    // inflate every measured child's figure.
    if let Some(dir) = std::env::var_os(GENERATE_INTO) {
        let generated = synth::generate(&spec, Path::new(&dir)).expect("generates");
        println!(
            "{}",
            serde_json::json!({"pods": generated.pods, "bytes": generated.bytes, "expected": generated.expected})
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let gen_start = Instant::now();
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env(GENERATE_INTO, dir.path())
        .env("MLOPSCTL_BENCH_PODS", pods.to_string())
        .output()
        .expect("generator runs");
    assert!(
        out.status.success(),
        "generator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("generator summary");
    let json_file = dir.path().join("cluster.json");
    let bytes = meta["bytes"].as_u64().unwrap_or_default();
    let generated_pods = meta["pods"].as_u64().unwrap_or_default();
    let expected: BTreeMap<String, usize> =
        serde_json::from_value(meta["expected"].clone()).expect("expected counts");
    eprintln!(
        "generated {generated_pods} pods, {:.1} MiB of JSON in {:.1}s",
        bytes as f64 / 1048576.0,
        gen_start.elapsed().as_secs_f64()
    );

    let bin = env!("CARGO_BIN_EXE_mlopsctl");
    let mut doctor_times = Vec::new();
    let mut doctor_rss = 0;
    let mut python_times = Vec::new();
    let mut python_rss = 0;
    let mut last_report = Vec::new();
    // Interleave the two so machine noise hits both alike.
    for _ in 0..runs {
        let (t, rss, out) = measure(
            Command::new(bin)
                .args(["doctor", "-o", "json", "--fail-on", "never", "--snapshot"])
                .arg(dir.path()),
        );
        doctor_times.push(t);
        doctor_rss = doctor_rss.max(rss);
        last_report = out;
        let (t, rss, _) = measure(
            Command::new("python3")
                .args(["-c", "import json,sys; json.load(open(sys.argv[1]))"])
                .arg(&json_file),
        );
        python_times.push(t);
        python_rss = python_rss.max(rss);
    }
    check_findings(&last_report, &expected);
    let (d, p) = (median(doctor_times), median(python_times));
    println!(
        "snapshot: {generated_pods} pods, {:.1} MiB JSON, {runs} runs (median)",
        bytes as f64 / 1048576.0
    );
    println!(
        "  mlopsctl doctor   {:>8.3} s   peak RSS {:>6.1} MiB",
        d.as_secs_f64(),
        doctor_rss as f64 / 1024.0
    );
    println!(
        "  python json.load  {:>8.3} s   peak RSS {:>6.1} MiB",
        p.as_secs_f64(),
        python_rss as f64 / 1024.0
    );
    println!(
        "  ratio doctor / json.load: {:.2}x time, {:.2}x memory",
        d.as_secs_f64() / p.as_secs_f64(),
        doctor_rss as f64 / python_rss as f64
    );
}

/// Every injected fault must be reported: the benchmark measures a correct run.
fn check_findings(report: &[u8], expected: &BTreeMap<String, usize>) {
    let report: serde_json::Value = serde_json::from_slice(report).expect("doctor printed JSON");
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for f in report["findings"].as_array().expect("findings") {
        *found
            .entry(f["code"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for (code, n) in expected {
        assert_eq!(
            found.get(code).copied().unwrap_or(0),
            *n,
            "{code}: expected {n} findings, got {found:?}"
        );
    }
    println!("  findings: {found:?} (all injected faults found)");
}
