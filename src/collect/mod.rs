//! The live collector: lists, with the kube client, just the kinds the selected
//! checks need — one paginated List per kind, concurrently within a budget —
//! plus bounded log tails for containers that need them and HTTP probes through
//! the API server's pod proxy, and fills the same [`ClusterView`] the snapshot
//! loader fills (through [`crate::snapshot::ObjectSink`]), so every check runs
//! identically live and offline. Each listed page is typed as it arrives, so
//! peak memory is the typed objects plus one page per List in flight. A 403 or
//! 404 is coverage data.

mod connect;
mod http;
mod list;
mod logs;
mod probes;
mod progress;
mod settings;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use serde_json::Value;
use tokio::time::Instant;

use crate::analyzers::Data;
use crate::catalogue::Check;
use crate::cluster::{ClusterView, Kind};

pub use connect::{
    Connection, chain as error_chain, connect, context_names, install_crypto_provider,
};
pub use http::status_message;
use http::{Api, Failure};
use list::Listed;
pub use list::path as list_path;
use progress::Progress;
pub use settings::Settings;

/// Requests in flight at once: quick on a big cluster, gentle on the API server.
pub const CONCURRENCY: usize = 6;

/// Which namespaces to look at, as kubectl decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// `-n NAME`
    Namespace(String),
    /// `-A`
    AllNamespaces,
    /// Neither: the kubeconfig context's namespace.
    ContextNamespace,
}

impl Scope {
    pub fn from_flags(namespace: Option<&str>, all_namespaces: bool) -> Scope {
        match (namespace, all_namespaces) {
            (Some(ns), _) => Scope::Namespace(ns.to_string()),
            (None, true) => Scope::AllNamespaces,
            (None, false) => Scope::ContextNamespace,
        }
    }
}

/// What to collect: the union of what the selected checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub kinds: BTreeSet<Kind>,
    pub logs: bool,
    /// HTTP probes of pods' health endpoints through the API server proxy.
    pub probes: bool,
    /// Kafka metadata, consumer groups and offsets.
    pub kafka: bool,
}

impl Plan {
    pub fn for_checks(checks: &[&Check]) -> Plan {
        let mut plan = Plan::default();
        for check in checks {
            plan.kinds.extend(check.def.needs.iter().copied());
            plan.kinds.extend(check.def.optional.iter().copied());
            plan.logs |= check.def.data.contains(&Data::Logs);
            plan.probes |= check.def.data.contains(&Data::Probes);
            plan.kafka |= check.def.data.contains(&Data::Kafka);
        }
        // Log tails and probes are chosen from pods.
        if plan.logs || plan.probes {
            plan.kinds.insert(Kind::Pod);
        }
        plan
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Draw progress on stderr (the caller knows it is a terminal and wanted).
    pub progress: bool,
    /// Keep every listed object as JSON, for `snapshot save`.
    pub keep_raw: bool,
}

/// What a live collection gathered.
pub struct Collected {
    pub view: ClusterView,
    /// Listed objects by kind, as the API returned them (less `managedFields`),
    /// when [`Options::keep_raw`] asked for them.
    pub raw: BTreeMap<Kind, Vec<Value>>,
    /// `context NAME (namespace NS)`, for the report.
    pub source: String,
}

/// Collect from the cluster the flags select. Never takes longer than `--timeout`.
pub fn live(args: &Settings, scope: &Scope, plan: &Plan, options: Options) -> Result<Collected> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(collect(args, scope, plan, options));
    // A request stuck on a server that never answers must not hold the exit.
    runtime.shutdown_background();
    result
}

async fn collect(
    args: &Settings,
    scope: &Scope,
    plan: &Plan,
    options: Options,
) -> Result<Collected> {
    let deadline = Instant::now() + args.timeout;
    let connection = tokio::time::timeout_at(deadline, connect::connect(args))
        .await
        .map_err(|_| {
            anyhow!(
                "loading the kubeconfig and credentials took longer than --timeout {}",
                seconds(args.timeout)
            )
        })??;
    let server = connection.server.clone();
    let api = Api::new(connection.client, server.clone(), args.request_timeout);
    let namespace = match scope {
        Scope::Namespace(ns) => Some(ns.clone()),
        Scope::AllNamespaces => None,
        Scope::ContextNamespace => Some(connection.default_namespace.clone()),
    };
    let source = match &namespace {
        Some(ns) => format!("{} (namespace {ns})", connection.source),
        None => format!("{} (all namespaces)", connection.source),
    };
    let gathering = gather(
        &api,
        &server,
        &connection.source,
        namespace.as_deref(),
        plan,
        options,
        args.chunk_size,
    );
    let (mut view, raw) = match tokio::time::timeout_at(deadline, gathering).await {
        Ok(result) => result?,
        Err(_) => bail!(
            "collecting from the API server at {server} did not finish within --timeout {}: \
             the server answers too slowly; raise --timeout, or narrow the scope with -n NAMESPACE \
             or --select",
            seconds(args.timeout)
        ),
    };
    view.api = Some(api.into_stats());
    if plan.kafka {
        view.kafka = kafka(args, &connection.source, &view, deadline).await?;
    }
    view.finish();
    Ok(Collected { view, raw, source })
}

/// Read Kafka at `--kafka-bootstrap`, or, from inside the cluster (where its
/// Service names resolve), at the address Seldon is configured with. From a
/// laptop an in-cluster name would not resolve and Kafka would look down, so
/// without the flag it is not read there: the Kafka checks say so.
async fn kafka(
    args: &Settings,
    source: &str,
    view: &ClusterView,
    deadline: Instant,
) -> Result<Option<crate::cluster::KafkaObservation>> {
    let Some(bootstrap) = kafka_bootstrap(args, source, view) else {
        return Ok(None);
    };
    let settings = args.kafka_config.clone();
    let budget = deadline
        .saturating_duration_since(Instant::now())
        .min(KAFKA_TIMEOUT);
    let observation = tokio::task::spawn_blocking(move || {
        crate::kafka::observe(&bootstrap, &settings, &[], budget)
    })
    .await?;
    Ok(Some(observation))
}

/// The Kafka to talk to: `--kafka-bootstrap`, or, from inside the cluster
/// (`source` "in-cluster"), the address Seldon is configured with; `None`
/// from a laptop without the flag. The same broker for reading and for fixes.
pub fn kafka_bootstrap(args: &Settings, source: &str, view: &ClusterView) -> Option<String> {
    args.kafka_bootstrap.clone().or_else(|| {
        (source == "in-cluster")
            .then(|| crate::analyzers::seldon::model::configured_kafka(view))
            .flatten()
    })
}

/// The longest a Kafka read may take within the run's deadline.
const KAFKA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

type Gathered = (ClusterView, BTreeMap<Kind, Vec<Value>>);

async fn gather(
    api: &Api,
    server: &str,
    source: &str,
    namespace: Option<&str>,
    plan: &Plan,
    options: Options,
    page_size: u32,
) -> Result<Gathered> {
    preflight(api, server, source).await?;
    let progress = Progress::new(options.progress);
    progress.add(plan.kinds.len());
    let lists = plan.kinds.iter().map(|&kind| {
        let progress = &progress;
        async move {
            let listed = list::list(api, kind, namespace, page_size, options.keep_raw).await;
            let scope = match namespace.filter(|_| kind.info().namespaced) {
                Some(ns) => format!(" in {ns}"),
                None => String::new(),
            };
            let outcome = match &listed {
                Listed::Items { count, .. } => count.to_string(),
                Listed::Gap(gap) => gap.result.as_str().to_string(),
                Listed::Unauthorized(_) => "unauthorized".to_string(),
                Listed::Invalid(_) => "invalid".to_string(),
            };
            progress.done(format!("{}{scope}: {outcome}", kind.info().plural));
            (kind, listed)
        }
    });
    let mut results: Vec<(Kind, Listed)> = futures::stream::iter(lists)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.sort_by_key(|(kind, _)| *kind);

    let mut view = ClusterView::default();
    let mut raw: BTreeMap<Kind, Vec<Value>> = BTreeMap::new();
    for (kind, listed) in results {
        match listed {
            Listed::Items {
                view: part,
                raw: items,
                ..
            } => {
                view.collected.insert(kind);
                view.absorb(*part);
                if options.keep_raw {
                    raw.insert(kind, items);
                }
            }
            Listed::Invalid(error) => {
                return Err(error.context(format!(
                    "reading the {} listed from {server}",
                    kind.info().plural
                )));
            }
            Listed::Gap(gap) => view.coverage.push(gap),
            Listed::Unauthorized(message) => bail!(
                "the API server at {server} rejected the credentials of {source} \
                 (401 Unauthorized: {message})\n  Log in again or refresh the token, then check \
                 with `kubectl get namespaces`."
            ),
        }
    }

    if plan.logs {
        let wanted = logs::wanted(&view);
        // The logs the budget left out are said, not silently dropped.
        view.coverage.extend(wanted.coverage());
        progress.add(wanted.keys.len());
        let fetches = wanted.keys.into_iter().map(|key| {
            let progress = &progress;
            async move {
                let text = logs::fetch(api, &key).await;
                progress.done(format!(
                    "log {}/{}/{}{}",
                    key.namespace,
                    key.pod,
                    key.container,
                    if key.previous { " (previous)" } else { "" }
                ));
                (key, text)
            }
        });
        let tails: Vec<_> = futures::stream::iter(fetches)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut refused = Vec::new();
        for (key, tail) in tails {
            match tail {
                logs::Tail::Read(text) => {
                    view.logs.insert(key, text);
                }
                logs::Tail::Forbidden => refused.push(key),
                logs::Tail::Missing => {}
            }
        }
        view.coverage.extend(logs::forbidden(&refused));
    }
    if plan.probes {
        let targets = probes::wanted(&view);
        progress.add(targets.len());
        let calls = targets.into_iter().map(|target| {
            let progress = &progress;
            async move {
                let result = probes::probe(api, &target).await;
                progress.done(format!(
                    "probe {}/{}:{}{}",
                    target.namespace, target.pod, target.port, target.path
                ));
                result
            }
        });
        let probed: Vec<_> = futures::stream::iter(calls)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut results = Vec::new();
        let mut refused = Vec::new();
        for p in probed {
            match p {
                probes::Probed::Answer(r) => results.push(r),
                probes::Probed::NotProbed {
                    target,
                    forbidden,
                    message,
                } => refused.push((target, forbidden, message)),
            }
        }
        refused.sort_by(|a, b| {
            (&a.0.namespace, &a.0.pod, a.0.port).cmp(&(&b.0.namespace, &b.0.pod, b.0.port))
        });
        view.coverage.extend(probes::not_probed(&refused));
        results.sort_by(|a, b| {
            (&a.namespace, &a.pod, a.port, &a.path).cmp(&(&b.namespace, &b.pod, b.port, &b.path))
        });
        view.probes = results;
    }
    progress.finish();
    Ok((view, raw))
}

/// One cheap request (`/version`) before anything else, so an unreachable
/// server is one clear error instead of a coverage gap per kind.
async fn preflight(api: &Api, server: &str, source: &str) -> Result<()> {
    match api.get("/version").await {
        Ok(_) => Ok(()),
        // Any HTTP answer but 401 means the server is there; RBAC may hide /version.
        Err(Failure::Status { code: 401, message }) => bail!(
            "the API server at {server} rejected the credentials of {source} \
             (401 Unauthorized: {message})\n  Log in again or refresh the token, then check with \
             `kubectl get namespaces`."
        ),
        Err(Failure::Status { .. }) => Ok(()),
        Err(failure) => {
            let error = failure.to_string();
            bail!(
                "cannot reach the API server at {server} ({source}): {error}\n  {}",
                connect::unreachable_hint(&error)
            )
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn the_plan_is_the_union_of_what_the_selected_checks_read() {
        let catalogue = Catalogue::load(&[]).unwrap();
        let wkl001 = catalogue.select(&["WKL001".into()], &[]).unwrap();
        let plan = Plan::for_checks(&wkl001);
        assert!(plan.logs && !plan.probes);
        assert!(plan.kinds.contains(&Kind::Pod) && !plan.kinds.contains(&Kind::Service));
        // Optional kinds are collected too: they sharpen a check when readable.
        let wkl002 = catalogue.select(&["WKL002".into()], &[]).unwrap();
        let plan = Plan::for_checks(&wkl002);
        assert!(plan.kinds.contains(&Kind::Secret) && plan.kinds.contains(&Kind::ConfigMap));
        assert!(!plan.logs);
    }
}
