//! `mlopsctl serve`: doctor every `--interval`, the last good run served over
//! HTTP for Prometheus (`/metrics`), people and scripts (`/report`) and the
//! kubelet (`/healthz`, `/readyz`). Reads only, like doctor.
//!
//! A run that fails (API server gone, deadline passed) keeps the last good
//! report on `/metrics` and `/report` and is counted; the next run starts
//! afresh. Runs never overlap: a run still going at the next tick (stuck past
//! its deadline) makes that tick a failure instead of a second run, so memory
//! holds one run at most besides the report served.

mod http;

use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, anyhow};
use tokio::task::JoinHandle;

use super::{Context, Exit, Setup};
use crate::cli::ServeArgs;
use crate::collect::{Scope, Settings};
use crate::pipeline::Source;
use crate::render::prometheus::ServeStats;
use crate::report::Report;

/// The first run waits a random part of the interval, at most this, so that
/// many replicas (or clusters) started together do not list at once.
const MAX_JITTER: Duration = Duration::from_secs(30);
/// How long in-flight requests may finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(5);

/// What the HTTP side serves: the last good report and the run counters.
#[derive(Default)]
pub struct State {
    pub report: Option<Arc<Report>>,
    pub stats: ServeStats,
}

pub type Shared = Arc<RwLock<State>>;

pub fn run(args: &ServeArgs, ctx: &Context) -> Result<Exit> {
    let job = Arc::new(Job::new(args, ctx)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(args, job));
    // A run stuck in a blocking collection must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result.map(|()| Exit::Ok)
}

async fn serve(args: &ServeArgs, job: Arc<Job>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: give a free address with --listen",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    log(format_args!(
        "listening on http://{addr} (/metrics, /report, /healthz, /readyz)"
    ));
    let state = Shared::default();
    let scheduler = tokio::spawn(schedule(
        job,
        state.clone(),
        args.interval,
        args.run_deadline,
    ));
    let served = http::serve(listener, state, shutdown_signal(), DRAIN).await;
    scheduler.abort();
    log(format_args!("stopped"));
    served
}

/// SIGTERM (the kubelet) or SIGINT (a terminal).
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                log(format_args!(
                    "cannot watch SIGTERM ({e}); stop it with SIGINT"
                ));
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Run after a jittered start, then every interval from one start to the next.
async fn schedule(job: Arc<Job>, state: Shared, interval: Duration, deadline: Duration) {
    let jitter = jitter((interval / 10).min(MAX_JITTER));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + jitter, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running: Option<JoinHandle<Result<Report>>> = None;
    loop {
        ticks.tick().await;
        let outcome = match running.take() {
            Some(stuck) if !stuck.is_finished() => {
                running = Some(stuck);
                Err(anyhow!(
                    "the previous run is still going past its deadline: not starting another"
                ))
            }
            _ => {
                let job = job.clone();
                let handle = running.insert(tokio::task::spawn_blocking(move || job.run()));
                wait(handle, deadline).await
            }
        };
        record(&state, outcome);
    }
}

/// The run's outcome within `deadline`; past it the run keeps its thread
/// (a blocking collection cannot be cancelled) and the next tick sees it.
async fn wait(handle: &mut JoinHandle<Result<Report>>, deadline: Duration) -> Result<Report> {
    match tokio::time::timeout(deadline, handle).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => Err(anyhow!("the run stopped: {e}")),
        Err(_) => Err(anyhow!(
            "the run took longer than --run-deadline {}s",
            deadline.as_secs_f64()
        )),
    }
}

/// Count the run; a good one replaces the report served. The line on
/// stderr is written after the lock is released: a slow stderr must not
/// hold up `/metrics`.
fn record(state: &Shared, outcome: Result<Report>) {
    let line = {
        let mut state = state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.stats.runs += 1;
        let n = state.stats.runs;
        match outcome {
            Ok(report) => {
                let s = &report.summary;
                let line = format!(
                    "run {n}: {} error(s), {} warning(s), {} info; {} check(s) skipped",
                    s.errors, s.warnings, s.infos, s.skipped
                );
                state.stats.last_success =
                    Some(report.timing.map_or_else(SystemTime::now, |t| t.started));
                state.stats.last_failed = false;
                state.report = Some(Arc::new(report));
                line
            }
            Err(e) => {
                state.stats.failures += 1;
                state.stats.last_failed = true;
                format!("run {n} failed: {e:#}; serving the last good report")
            }
        }
    };
    log(format_args!("{line}"));
}

/// One line on stderr; a closed stderr (`serve 2>&1 | head`) loses the
/// line, never the server.
fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "mlopsctl serve: {line}");
}

/// A random duration up to `max`, from the standard library's per-process
/// random keys (no RNG crate for one number).
fn jitter(max: Duration) -> Duration {
    let random = RandomState::new().hash_one(std::process::id());
    let millis = max.as_millis() as u64;
    Duration::from_millis(if millis == 0 { 0 } else { random % millis })
}

/// Everything a run needs, owned, so it can run on a blocking thread.
struct Job {
    setup: Setup,
    select: Vec<String>,
    ignore: Vec<String>,
    baseline: Option<PathBuf>,
    snapshot: Option<PathBuf>,
    namespace: Option<String>,
    all_namespaces: bool,
    settings: Settings,
}

impl Job {
    /// Load the config and checks once, and check the selection and the
    /// baseline now: bad flags fail the start, not every run.
    fn new(args: &ServeArgs, ctx: &Context) -> Result<Job> {
        let setup = Setup::of(&args.scope, ctx)?;
        setup.scoped_pipeline(&args.scope, &ctx.today, args.baseline.as_deref())?;
        let namespace = setup.namespace(&args.scope).map(str::to_string);
        Ok(Job {
            select: args.scope.select.clone(),
            ignore: args.scope.ignore.clone(),
            baseline: args.baseline.clone(),
            snapshot: args.snapshot.clone(),
            namespace,
            all_namespaces: args.scope.all_namespaces,
            settings: args.cluster.settings(),
            setup,
        })
    }

    fn run(&self) -> Result<Report> {
        // Suppressions expire by date: a long-running serve takes each run's.
        let today = super::utc_date(SystemTime::now());
        let pipeline =
            self.setup
                .pipeline(&self.select, &self.ignore, &today, self.baseline.as_deref())?;
        let namespace = self.namespace.as_deref();
        let source = match &self.snapshot {
            Some(path) => Source::Snapshot { path, namespace },
            None => Source::Live {
                cluster: &self.settings,
                scope: Scope::from_flags(namespace, self.all_namespaces),
                progress: false,
            },
        };
        Ok(pipeline.run(&source)?.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_the_last_good_report() {
        let state = Shared::default();
        let report = Report::new("snapshot s".into(), Vec::new(), Vec::new(), Vec::new());
        record(&state, Ok(report));
        record(&state, Err(anyhow!("API server gone")));
        let s = state.read().unwrap();
        assert_eq!(s.report.as_ref().unwrap().source, "snapshot s");
        assert_eq!((s.stats.runs, s.stats.failures), (2, 1));
        assert!(s.stats.last_failed && s.stats.last_success.is_some());
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
        for _ in 0..100 {
            assert!(jitter(Duration::from_secs(3)) < Duration::from_secs(3));
        }
    }
}
