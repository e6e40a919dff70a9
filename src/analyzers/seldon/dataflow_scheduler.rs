//! `seldon-dataflow-scheduler`: the dataflow engine of a namespace cannot reach
//! the scheduler, so the scheduler has no dataflow engine and every Pipeline
//! waits in `PipelineCreate`. The address is the engine's effective
//! `SELDON_UPSTREAM_HOST`/`SELDON_UPSTREAM_PORT` (default `seldon-scheduler:9008`);
//! a SeldonRuntime override appends env, so its value wins.

mod logs;
mod repair;

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::json;

use crate::analyzers::address::{self, Resolves, addresses};
use crate::analyzers::seldon::dataflow::{
    self, DATAFLOW_COMPONENT, Dataflow, UPSTREAM_HOST, UPSTREAM_PORT,
};
use crate::analyzers::seldon::model;
use crate::analyzers::seldon::patches;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::plan::restart;
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-dataflow-scheduler",
    summary: "the Seldon dataflow engine cannot reach the scheduler (upstream address, Service, pods, logs)",
    needs: &[Kind::SeldonRuntime, Kind::Service],
    optional: &[
        Kind::SeldonConfig,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::Pod,
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Namespace,
    ],
    data: &[Data::Logs],
    build: build::<DataflowScheduler>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataflowScheduler {
    /// How many log lines to quote as evidence.
    #[serde(default = "default_log_lines")]
    log_lines: usize,
}

fn default_log_lines() -> usize {
    4
}

/// What is wrong with the upstream address, if anything.
enum Upstream {
    Ok,
    NoService {
        others: Vec<String>,
    },
    NoPort {
        ports: Vec<String>,
    },
    NoEndpoints,
    /// A dotted name in no namespace and under no public suffix (see
    /// [`address::resolves`]): it resolves neither inside the cluster nor outside.
    Nowhere {
        namespace: String,
    },
    /// Not an in-cluster Service name (an IP, an outside name): judged by logs only.
    Unknown,
}

impl Analyzer for DataflowScheduler {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonRuntime) {
            return Err(model::absent(view, "no SeldonRuntimes were read"));
        }
        let namespaces: BTreeSet<&str> = view
            .custom(Kind::SeldonRuntime)
            .map(|o| o.namespace())
            .collect();
        if namespaces.is_empty() {
            return Err("not applicable: no SeldonRuntime".into());
        }
        let mut drafts = Vec::new();
        for ns in namespaces {
            if let Some(df) = dataflow::dataflow(view, ns)
                && let Some(d) = self.judge(view, ns, &df)
            {
                drafts.push(d);
            }
        }
        Ok(drafts)
    }
}

impl DataflowScheduler {
    fn judge(&self, view: &ClusterView, ns: &str, df: &Dataflow<'_>) -> Option<Draft> {
        let runtime = model::object_ref(Kind::SeldonRuntime, df.runtime);
        let subject = runtime.clone().with_field(match df.override_index {
            Some(i) => format!("spec.overrides[{i}]"),
            None => "spec.overrides".to_string(),
        });
        if df.disabled || df.replicas == Some(0) {
            return Some(self.switched_off(df, subject));
        }
        let host = df.upstream_host.value.as_str();
        let port = df.upstream_port.value.as_str();
        let known_ns = |n: &str| view.namespace_exists(n);
        let addr = addresses(&format!("{host}:{port}"), ns, &known_ns)
            .into_iter()
            .next();
        let verdict = match &addr {
            None => match address::resolves(host, &|n| namespace_known(view, n), &|s| {
                view.can_judge(Kind::Service, ns)
                    .then(|| view.services.get(ns, s).is_some())
            }) {
                Resolves::Nowhere { namespace } => Upstream::Nowhere { namespace },
                _ => Upstream::Unknown,
            },
            Some(a) if !model::namespace_visible(view, &a.namespace) => Upstream::Unknown,
            Some(a) => match view.services.get(&a.namespace, &a.service) {
                None => Upstream::NoService {
                    others: view
                        .services
                        .in_namespace(&a.namespace)
                        .filter_map(|s| s.metadata.name.clone())
                        .collect(),
                },
                Some(svc) => {
                    let ports: Vec<(Option<String>, i32)> = svc
                        .spec
                        .iter()
                        .flat_map(|s| s.ports.iter().flatten())
                        .map(|p| (p.name.clone(), p.port))
                        .collect();
                    if a.port.is_some_and(|p| !ports.iter().any(|(_, q)| *q == p)) {
                        Upstream::NoPort {
                            ports: ports
                                .iter()
                                .map(|(n, p)| match n {
                                    Some(n) => format!("{n} {p}"),
                                    None => p.to_string(),
                                })
                                .collect(),
                        }
                    } else if view.ready_endpoints(&a.namespace, &a.service) == Some(0) {
                        Upstream::NoEndpoints
                    } else {
                        Upstream::Ok
                    }
                }
            },
        };

        let log = logs::read(view, ns, df, host);
        let config_problem = !matches!(verdict, Upstream::Ok | Upstream::Unknown);
        if !config_problem && !log.resolve_failed {
            return None;
        }

        let target = match &addr {
            Some(a) => format!("Service {} in namespace {}", a.service, a.namespace),
            None => format!("host {host}"),
        };
        let message = match &verdict {
            Upstream::NoService { .. } => format!(
                "the dataflow engine cannot reach the scheduler: {UPSTREAM_HOST}={host} names {target}, which does not exist"
            ),
            Upstream::NoPort { .. } => format!(
                "the dataflow engine cannot reach the scheduler: {target} does not expose {UPSTREAM_PORT}={port}"
            ),
            Upstream::NoEndpoints => format!(
                "the dataflow engine cannot reach the scheduler: {target} has no ready endpoints"
            ),
            Upstream::Nowhere { namespace } => format!(
                "the dataflow engine cannot resolve its scheduler address {host}:{port}: namespace {namespace} does not exist and {namespace} is no public domain"
            ),
            Upstream::Ok | Upstream::Unknown => {
                format!("the dataflow engine cannot resolve its scheduler address {host}:{port}")
            }
        };
        let mut draft = Draft::new(subject, message)
            .evidence(df.upstream_host.describe(UPSTREAM_HOST))
            .evidence(df.upstream_port.describe(UPSTREAM_PORT));
        match &verdict {
            Upstream::NoService { others } => {
                let ns_of = addr.as_ref().map_or(ns, |a| a.namespace.as_str());
                draft.evidence.push(if others.is_empty() {
                    format!("namespace {ns_of} has no Services")
                } else {
                    format!("Services in namespace {ns_of}: {}", others.join(", "))
                });
            }
            Upstream::NoPort { ports } => {
                draft
                    .evidence
                    .push(format!("{target} exposes {}", ports.join(", ")));
            }
            Upstream::Nowhere { namespace } => {
                draft.evidence.push(format!(
                    "no namespace {namespace} in the cluster, so cluster DNS has no {host}.svc.cluster.local; outside the cluster, {namespace} is no public suffix"
                ));
                if !log.resolve_failed {
                    draft.evidence.push(if log.read {
                        "inferred from the spec: the engine's log does not show the failed lookup"
                            .to_string()
                    } else {
                        "inferred from the spec: the engine's logs were not read".to_string()
                    });
                }
            }
            Upstream::NoEndpoints | Upstream::Ok | Upstream::Unknown => {}
        }
        if let Some(c) = &log.connects_to
            && *c != format!("{host}:{port}")
        {
            draft
                .evidence
                .push(format!("the engine's log says it connects to {c}"));
        }
        for pod in &df.pods {
            let restarts = model::pod_restarts(pod);
            if !model::pod_ready(pod) || restarts > 0 {
                draft.evidence.push(format!(
                    "pod {}: {}, {restarts} restart{}",
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    if model::pod_ready(pod) {
                        "ready"
                    } else {
                        "not ready"
                    },
                    if restarts == 1 { "" } else { "s" }
                ));
            }
        }
        if df.pods.is_empty() && df.deployment.is_some() {
            draft
                .evidence
                .push(format!("Deployment {DATAFLOW_COMPONENT} runs no pods"));
        }
        draft
            .evidence
            .extend(log.lines.into_iter().take(self.log_lines));
        let scheduler = repair::scheduler_service(view, ns);
        let engine = view.workload("Deployment", ns, DATAFLOW_COMPONENT);
        let restart = engine.as_ref().and_then(restart::restart);
        Some(draft.fix(repair::fix(df, &runtime, host, port, scheduler, restart)))
    }

    fn switched_off(&self, df: &Dataflow<'_>, subject: ObjectRef) -> Draft {
        let runtime = subject.object();
        let i = df
            .override_index
            .expect("an override disables or scales it");
        let (what, ops) = if df.disabled {
            (
                format!("spec.overrides[{i}].disable is true"),
                json!([
                    {"op": "test", "path": format!("/spec/overrides/{i}/disable"), "value": true},
                    {"op": "remove", "path": format!("/spec/overrides/{i}/disable")}
                ]),
            )
        } else {
            (
                format!("spec.overrides[{i}].replicas is 0"),
                json!([
                    {"op": "test", "path": format!("/spec/overrides/{i}/replicas"), "value": 0},
                    {"op": "replace", "path": format!("/spec/overrides/{i}/replicas"), "value": 1}
                ]),
            )
        };
        Draft::new(
            subject,
            format!("the dataflow engine does not run: the SeldonRuntime turns it off ({what}), so no Pipeline can be created"),
        )
        .evidence(format!(
            "{runtime}: override {DATAFLOW_COMPONENT} with {what}"
        ))
        .fix(
            Fix::new(
                Applicability::Unsafe,
                format!(
                    "Run the dataflow engine again: {} in SeldonRuntime {}. The operator then creates its pods.{}",
                    if df.disabled { "remove the override's `disable`" } else { "set the override's replicas to 1" },
                    runtime.name,
                    patches::managed_note(df.runtime, "The SeldonRuntime")
                ),
            )
            .with_kubectl(patches::patch_command(&runtime, "json", &ops)),
        )
    }
}

/// Whether a namespace exists: None when the view cannot tell (Namespaces
/// were not read and nothing lives in it).
fn namespace_known(view: &ClusterView, ns: &str) -> Option<bool> {
    if view.namespace_exists(ns) {
        Some(true)
    } else {
        (view.has(Kind::Namespace) && view.coverage_gap(Kind::Namespace).is_none()).then_some(false)
    }
}

/// A view where the engine lost a scheduler that serves again.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use crate::analyzers::testing::fixture;
    use crate::cluster::{ClusterView, LogKey};

    /// seldon-mesh-broken with the engine pointed at
    /// `seldon-scheduler.seldon-core`, a namespace the cluster does not have
    /// (seldon-system, where the fixture's address points, exists). What is
    /// copied: the logs when `logs` (their host renamed when `renamed_logs`),
    /// the Namespaces when `namespaces`.
    pub fn nowhere(logs: bool, renamed_logs: bool, namespaces: bool) -> ClusterView {
        fn copy(
            from: &Path,
            to: &Path,
            rename: &dyn Fn(&Path) -> bool,
            keep: &dyn Fn(&str) -> bool,
        ) {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let (src, dst) = (entry.path(), to.join(&name));
                if !keep(&name) {
                    continue;
                }
                if src.is_dir() {
                    copy(&src, &dst, rename, keep);
                } else {
                    let text = std::fs::read_to_string(&src).unwrap();
                    let text = if rename(&src) {
                        text.replace(
                            "seldon-scheduler.seldon-system",
                            "seldon-scheduler.seldon-core",
                        )
                    } else {
                        text
                    };
                    std::fs::write(dst, text).unwrap();
                }
            }
        }
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seldon-mesh-broken");
        let dir = tempfile::tempdir().unwrap();
        copy(
            &fixture,
            dir.path(),
            &|p| renamed_logs || !p.to_string_lossy().contains("/logs/"),
            &|name| (logs || name != "logs") && (namespaces || name != "namespaces.yaml"),
        );
        crate::snapshot::load(dir.path()).expect("the copy loads")
    }

    /// healthy-seldon, but the dataflow engine's log shows it failed to resolve
    /// `seldon-scheduler` (it started before the scheduler's Service served)
    /// and never subscribed: the address is right, the engine is stuck.
    pub fn lost_scheduler() -> ClusterView {
        let mut view = fixture("healthy-seldon");
        let key = LogKey {
            namespace: "seldon-mesh".into(),
            pod: "seldon-dataflow-engine-74b8bc7d47-wbvtc".into(),
            container: "dataflow-engine".into(),
            previous: false,
        };
        let log = view
            .logs
            .get_mut(&key)
            .expect("the engine's log is in the fixture");
        *log = "\
2025-11-12 08:16:44.902 INFO  [main] io.seldon.dataflow.Main : Starting Seldon dataflow engine with namespace=seldon-mesh
2025-11-12 08:16:45.337 INFO  [DefaultDispatcher-worker-1] io.seldon.dataflow.PipelineSubscriber : will connect to seldon-scheduler:9008
2025-11-12 08:16:45.338 INFO  [DefaultDispatcher-worker-1] io.seldon.dataflow.PipelineSubscriber : Subscribing to pipeline updates
2025-11-12 08:16:45.702 ERROR [DefaultDispatcher-worker-1] io.seldon.dataflow.PipelineSubscriber : pipeline subscription terminated with error io.grpc.StatusException: UNAVAILABLE: Unable to resolve host seldon-scheduler
Caused by: java.net.UnknownHostException: seldon-scheduler: Name or service not known
"
        .to_string();
        view
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};
    use crate::plan::restart::RESTARTED_AT;
    use crate::report::findings::Applicability;

    #[test]
    fn an_engine_that_lost_a_serving_scheduler_is_restarted() {
        let drafts = run(
            "seldon-dataflow-scheduler",
            "{}",
            &super::testing::lost_scheduler(),
        );
        assert_eq!(drafts.len(), 1);
        let fix = drafts[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, Applicability::Unsafe);
        assert_eq!(
            fix.operations[0].target.to_string(),
            "Deployment seldon-mesh/seldon-dataflow-engine"
        );
        insta::assert_yaml_snapshot!(summary(&drafts));
        insta::assert_yaml_snapshot!("restart_operations", fix.operations);
    }

    #[test]
    fn logs_of_pods_older_than_the_restart_no_longer_count() {
        let mut view = super::testing::lost_scheduler();
        let d = view
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some("seldon-dataflow-engine"))
            .cloned()
            .unwrap();
        let mut d = d;
        d.spec
            .as_mut()
            .unwrap()
            .template
            .metadata
            .get_or_insert_default()
            .annotations
            .get_or_insert_default()
            .insert(RESTARTED_AT.into(), "2025-11-12T09:00:00Z".into());
        view.deployments.insert(d);
        view.finish();
        assert!(run("seldon-dataflow-scheduler", "{}", &view).is_empty());
    }

    #[test]
    fn fires_on_the_field_report_namespace() {
        let drafts = run(
            "seldon-dataflow-scheduler",
            "{}",
            &fixture("seldon-mesh-broken"),
        );
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(
            run(
                "seldon-dataflow-scheduler",
                "{}",
                &fixture("healthy-seldon")
            )
            .is_empty()
        );
        assert!(
            run(
                "seldon-dataflow-scheduler",
                "{}",
                &fixture("seldon-no-runtime")
            )
            .is_empty()
        );
    }

    #[test]
    fn dns_errors_for_other_hosts_do_not_blame_the_scheduler() {
        // The engine in seldon-lab logs `Couldn't resolve server seldon-kafka-bootstrap…`
        // (a Kafka problem) while its scheduler address is fine.
        assert!(
            run(
                "seldon-dataflow-scheduler",
                "{}",
                &fixture("seldon-misconfig")
            )
            .is_empty()
        );
    }

    #[test]
    fn a_namespace_outside_the_view_is_unknown_not_empty() {
        // `-n seldon-mesh` drops seldon-system's objects: the scheduler address is
        // then judged by the engine's log alone.
        let mut view = fixture("seldon-mesh-broken");
        view.restrict_to(&["seldon-mesh".to_string()].into_iter().collect());
        let drafts = run("seldon-dataflow-scheduler", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0]
                .message
                .contains("cannot resolve its scheduler address"),
            "{}",
            drafts[0].message
        );
        assert!(
            !drafts[0]
                .evidence
                .iter()
                .any(|e| e.contains("has no Services"))
        );
    }

    #[test]
    fn a_host_that_resolves_nowhere_fires_from_the_spec_when_logs_were_not_read() {
        // Live without pods/log (forbidden, over the log budget, no kubelet):
        // the spec alone shows seldon-scheduler.seldon-core cannot resolve.
        let drafts = run(
            "seldon-dataflow-scheduler",
            "{}",
            &super::testing::nowhere(false, false, true),
        );
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0]
                .evidence
                .contains(&"inferred from the spec: the engine's logs were not read".to_string()),
            "{:#?}",
            drafts[0].evidence
        );
        assert_eq!(
            drafts[0].fix.as_ref().unwrap().applicability,
            Applicability::Safe
        );
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn a_host_that_resolves_nowhere_quotes_the_log_that_confirms_it() {
        let drafts = run(
            "seldon-dataflow-scheduler",
            "{}",
            &super::testing::nowhere(true, true, true),
        );
        assert_eq!(drafts.len(), 1);
        let d = &drafts[0];
        assert!(
            d.message.starts_with(
                "the dataflow engine cannot resolve its scheduler address seldon-scheduler.seldon-core:9008: namespace seldon-core does not exist"
            ),
            "{}",
            d.message
        );
        assert!(!d.evidence.iter().any(|e| e.contains("inferred")));
        assert!(
            d.evidence
                .iter()
                .any(|e| e.contains("UnknownHostException: seldon-scheduler.seldon-core"))
        );
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn a_log_that_does_not_show_the_lookup_leaves_it_inferred() {
        // The log is of an older address: it neither confirms nor clears this one.
        let drafts = run(
            "seldon-dataflow-scheduler",
            "{}",
            &super::testing::nowhere(true, false, true),
        );
        assert_eq!(drafts.len(), 1);
        assert!(drafts[0].evidence.contains(
            &"inferred from the spec: the engine's log does not show the failed lookup".to_string()
        ));
    }

    #[test]
    fn without_namespaces_a_dotted_name_is_left_to_the_logs() {
        // Namespaces not read: whether seldon-core exists is unknown.
        let view = super::testing::nowhere(false, false, false);
        assert!(!view.has(crate::cluster::Kind::Namespace));
        assert!(run("seldon-dataflow-scheduler", "{}", &view).is_empty());
        let drafts = run(
            "seldon-dataflow-scheduler",
            "{}",
            &super::testing::nowhere(true, true, false),
        );
        assert_eq!(drafts.len(), 1);
        assert_eq!(
            drafts[0].message,
            "the dataflow engine cannot resolve its scheduler address seldon-scheduler.seldon-core:9008"
        );
    }

    #[test]
    fn a_port_the_scheduler_does_not_expose() {
        let mut view = fixture("healthy-seldon");
        // Only the SeldonRuntime says how the engine is configured once its Deployment is gone.
        view.deployments
            .retain(|d| d.metadata.name.as_deref() != Some("seldon-dataflow-engine"));
        view.finish();
        let store = view
            .custom
            .get_mut(&crate::cluster::Kind::SeldonRuntime)
            .expect("runtimes");
        let mut rt = store.iter().next().expect("one").clone();
        rt.data["spec"]["overrides"][2]["podSpec"] = serde_json::json!({"containers": [
            {"name": "dataflow-engine", "env": [{"name": "SELDON_UPSTREAM_PORT", "value": "9004"}, {"name": "SELDON_UPSTREAM_PORT", "value": "9010"}]}
        ]});
        store.insert(rt);
        let drafts = run("seldon-dataflow-scheduler", "{}", &view);
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn off_by_override() {
        let mut view = fixture("healthy-seldon");
        let store = view
            .custom
            .get_mut(&crate::cluster::Kind::SeldonRuntime)
            .expect("runtimes");
        let mut rt = store.iter().next().expect("one").clone();
        rt.data["spec"]["overrides"][2]["disable"] = serde_json::json!(true);
        store.insert(rt);
        let drafts = run("seldon-dataflow-scheduler", "{}", &view);
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }
}
