//! `seldon-kafka-bootstrap`: the dataflow engine and the rest of Seldon talk to
//! different Kafka clusters, or to one that does not exist. The dataflow engine
//! reads `SELDON_KAFKA_BOOTSTRAP_SERVERS` from its env; the scheduler and the
//! gateways read `bootstrap.servers` from the `seldon-kafka` ConfigMap's
//! `kafka.json`. Both must name the same brokers, and those brokers' Service.

use serde::Deserialize;
use serde_json::json;

use crate::analyzers::seldon::dataflow::{self, Dataflow, KAFKA_BOOTSTRAP};
use crate::analyzers::seldon::model::{self, KAFKA_CONFIGMAP};
use crate::analyzers::seldon::patches;
use crate::analyzers::text::clip;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-kafka-bootstrap",
    summary: "the Seldon dataflow engine and the seldon-kafka ConfigMap name different or missing Kafka brokers",
    needs: &[Kind::SeldonRuntime, Kind::Service],
    optional: &[
        Kind::SeldonConfig,
        Kind::ConfigMap,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::Pod,
        Kind::Namespace,
    ],
    data: &[Data::Logs, Data::Kafka],
    build: build::<KafkaBootstrap>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaBootstrap {}

/// The dataflow engine's built-in default (`local.properties`).
const DATAFLOW_DEFAULT: &str = "localhost:9092";

/// One `host:port` of a bootstrap list, with the Service it names if in-cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Broker {
    service: Option<(String, String)>,
    host: String,
    port: Option<i32>,
}

fn brokers(list: &str, ns: &str) -> Vec<Broker> {
    let mut out: Vec<Broker> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|hp| {
            let hp = hp.rsplit("://").next().unwrap_or(hp);
            let (host, port) = match hp.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().ok()),
                None => (hp, None),
            };
            let labels: Vec<&str> = host.split('.').collect();
            let service = match labels.as_slice() {
                ["localhost"] => None,
                [svc] => Some((svc.to_string(), ns.to_string())),
                [svc, n] => Some((svc.to_string(), n.to_string())),
                [.., svc, n, "svc"] | [.., svc, n, "svc", "cluster", "local"] => {
                    Some((svc.to_string(), n.to_string()))
                }
                _ => None,
            };
            Broker {
                service,
                host: host.to_string(),
                port,
            }
        })
        .filter(|b| !b.host.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .collect();
    out.sort();
    out
}

/// Why a bootstrap list cannot work, if it cannot.
fn broken(view: &ClusterView, list: &[Broker]) -> Option<String> {
    for b in list {
        let Some((svc, ns)) = &b.service else {
            continue;
        };
        if !model::namespace_visible(view, ns) {
            continue; // not in the view (e.g. `-n`): unknown, not missing
        }
        match view.services.get(ns, svc) {
            None => return Some(format!("Service {svc} does not exist in namespace {ns}")),
            Some(s) => {
                let ports: Vec<i32> = s
                    .spec
                    .iter()
                    .flat_map(|s| s.ports.iter().flatten())
                    .map(|p| p.port)
                    .collect();
                if let Some(p) = b.port
                    && !ports.is_empty()
                    && !ports.contains(&p)
                {
                    return Some(format!("Service {ns}/{svc} does not expose port {p}"));
                }
            }
        }
    }
    None
}

fn same(a: &[Broker], b: &[Broker]) -> bool {
    let key = |l: &[Broker]| -> Vec<(String, Option<i32>)> {
        let mut k: Vec<_> = l
            .iter()
            .map(|b| {
                (
                    b.service
                        .as_ref()
                        .map_or(b.host.clone(), |(s, n)| format!("{s}.{n}")),
                    b.port,
                )
            })
            .collect();
        k.sort();
        k
    };
    key(a) == key(b)
}

impl Analyzer for KafkaBootstrap {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for runtime in model::runtimes(view)? {
            let ns = runtime.namespace();
            let Some(df) = dataflow::dataflow(view, ns) else {
                continue;
            };
            if df.disabled {
                continue;
            }
            let df_value = match &df.kafka_bootstrap {
                Some(s) => s.value.clone(),
                None if df.deployment.is_some() => DATAFLOW_DEFAULT.to_string(),
                None => continue, // nothing known about what the engine uses
            };
            let cm_value = model::kafka_json(view, ns)
                .and_then(|j| j.get("bootstrap.servers")?.as_str().map(str::to_string));
            let df_brokers = brokers(&df_value, ns);
            let df_broken = broken(view, &df_brokers).or_else(|| {
                (df_value == DATAFLOW_DEFAULT)
                    .then(|| "localhost is the engine's own pod, not Kafka".to_string())
            });
            let cm_brokers = cm_value.as_deref().map(|v| brokers(v, ns));
            let cm_broken = cm_brokers.as_ref().and_then(|b| broken(view, b));
            let disagree = cm_brokers.as_ref().is_some_and(|c| !same(c, &df_brokers));
            if df_broken.is_none() && cm_broken.is_none() && !disagree {
                continue;
            }
            drafts.push(judge(
                view,
                &df,
                &df_value,
                df_broken,
                cm_value.as_deref(),
                cm_broken,
                disagree,
            ));
        }
        Ok(drafts)
    }
}

fn judge(
    view: &ClusterView,
    df: &Dataflow<'_>,
    df_value: &str,
    df_broken: Option<String>,
    cm_value: Option<&str>,
    cm_broken: Option<String>,
    disagree: bool,
) -> Draft {
    let ns = df.runtime.namespace();
    let rt = model::object_ref(Kind::SeldonRuntime, df.runtime);
    let mut evidence = vec![match &df.kafka_bootstrap {
        Some(s) => format!("dataflow engine: {}", s.describe(KAFKA_BOOTSTRAP)),
        None => format!(
            "dataflow engine: {KAFKA_BOOTSTRAP} not set, so it uses its default {DATAFLOW_DEFAULT}"
        ),
    }];
    if let Some(why) = &df_broken {
        evidence.push(format!("dataflow engine's brokers: {why}"));
    }
    match cm_value {
        Some(v) => evidence.push(format!("ConfigMap {ns}/{KAFKA_CONFIGMAP} kafka.json bootstrap.servers={v} (scheduler, model and pipeline gateways)")),
        None => evidence.push(format!("ConfigMap {ns}/{KAFKA_CONFIGMAP} has no kafka.json bootstrap.servers")),
    }
    if let Some(why) = &cm_broken {
        evidence.push(format!("seldon-kafka's brokers: {why}"));
    }
    if df_broken.is_some() || cm_broken.is_some() {
        let kafkas: Vec<String> = view
            .services
            .iter()
            .filter(|s| {
                s.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.contains("kafka"))
            })
            .map(|s| {
                let ports: Vec<String> = s
                    .spec
                    .iter()
                    .flat_map(|s| s.ports.iter().flatten())
                    .map(|p| p.port.to_string())
                    .collect();
                format!(
                    "{}/{} ({})",
                    s.metadata.namespace.as_deref().unwrap_or_default(),
                    s.metadata.name.as_deref().unwrap_or_default(),
                    ports.join(", ")
                )
            })
            .collect();
        evidence.push(if kafkas.is_empty() {
            "no Service named like Kafka in the view".to_string()
        } else {
            format!("Kafka Services in the view: {}", kafkas.join(", "))
        });
    }
    if let Some(k) = &view.kafka {
        evidence.push(format!(
            "mlopsctl reached Kafka at {} ({})",
            k.bootstrap,
            if k.reachable {
                "reachable"
            } else {
                "unreachable"
            }
        ));
    }
    // The engine's own words about the brokers it cannot find.
    let hosts: Vec<String> = brokers(df_value, ns).into_iter().map(|b| b.host).collect();
    for pod in &df.pods {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        for log in view.logs_of(ns, name, dataflow::DATAFLOW_CONTAINER) {
            if let Some(line) = log.lines().find(|l| {
                (l.contains("Couldn't resolve server")
                    || l.contains("No resolvable bootstrap urls")
                    || l.contains("Name or service not known"))
                    && (hosts.iter().any(|h| l.contains(h.as_str())) || l.contains("bootstrap"))
            }) {
                evidence.push(format!("{name}: {}", clip(line.trim(), 300)));
            }
        }
    }

    let (subject, message, fix) = match (&df_broken, &cm_broken, cm_value) {
        // The engine is wrong and the ConfigMap is right: override the engine's env.
        (Some(why), None, Some(good)) => {
            let subject = rt.clone().with_field(match df.override_index {
                Some(i) => format!("spec.overrides[{i}]"),
                None => "spec.overrides".to_string(),
            });
            let message = format!(
                "the dataflow engine uses Kafka at {df_value} ({why}) while the rest of Seldon uses {good}: pipelines cannot stream"
            );
            let source = df
                .kafka_bootstrap
                .as_ref()
                .map(|s| s.source.clone())
                .unwrap_or(dataflow::Source::Default);
            let fix = match patches::set_env_ops(df, &source, KAFKA_BOOTSTRAP, df_value, good) {
                Some(ops) => Fix::new(
                    Applicability::Unsafe,
                    format!(
                        "Give the dataflow engine the brokers the seldon-kafka ConfigMap names: set {KAFKA_BOOTSTRAP}={good} in SeldonRuntime {}'s seldon-dataflow-engine override (the operator owns the Deployment and reverts edits made there). The engine restarts and rebuilds its streams.{}",
                        rt.name,
                        patches::managed_note(df.runtime, "The SeldonRuntime")
                    ),
                )
                .with_kubectl(patches::patch_command(&rt, "json", &serde_json::Value::Array(ops))),
                None => Fix::manual(format!("Set {KAFKA_BOOTSTRAP}={good} on container {} in SeldonRuntime {}'s seldon-dataflow-engine override.", dataflow::DATAFLOW_CONTAINER, rt.name)),
            };
            (subject, message, fix)
        }
        // The ConfigMap is wrong and the engine is right: fix the runtime's kafkaConfig.
        (None, Some(why), Some(bad)) => {
            let message = format!(
                "the seldon-kafka ConfigMap names Kafka at {bad} ({why}) while the dataflow engine uses {df_value}: the scheduler and gateways cannot reach Kafka"
            );
            let body =
                json!({"spec": {"config": {"kafkaConfig": {"bootstrap.servers": df_value}}}});
            let fix = Fix::new(
                Applicability::Unsafe,
                format!(
                    "Set kafkaConfig bootstrap.servers to {df_value} in SeldonRuntime {} (the operator rewrites ConfigMap {KAFKA_CONFIGMAP} from it; editing the ConfigMap directly is reverted). Restart the scheduler and gateways afterwards so they reread it.{}",
                    rt.name,
                    patches::managed_note(df.runtime, "The SeldonRuntime")
                ),
            )
            .with_kubectl(patches::patch_command(&rt, "merge", &body));
            (
                rt.clone().with_field("spec.config.kafkaConfig"),
                message,
                fix,
            )
        }
        _ => {
            let message = if disagree {
                format!(
                    "the dataflow engine uses Kafka at {df_value} but the seldon-kafka ConfigMap names {}",
                    cm_value.unwrap_or("nothing")
                )
            } else {
                format!(
                    "Seldon's Kafka bootstrap {df_value} names no Kafka: {}",
                    df_broken.clone().or(cm_broken.clone()).unwrap_or_default()
                )
            };
            let fix = Fix::manual(format!(
                "Decide which Kafka Seldon in namespace {ns} should use, then set it in both places: kafkaConfig bootstrap.servers in SeldonRuntime {} (or its SeldonConfig) and {KAFKA_BOOTSTRAP} in its seldon-dataflow-engine override.",
                rt.name
            ));
            (
                rt.clone().with_field("spec.config.kafkaConfig"),
                message,
                fix,
            )
        }
    };
    let mut d = Draft::new(subject, message);
    d.evidence = evidence;
    d.fix(fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn parses_bootstrap_lists() {
        let b = brokers(
            "seldon-kafka-bootstrap.kafka:9092, kafka-0.kafka-brokers.kafka.svc:9092",
            "ml",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].service, Some(("kafka-brokers".into(), "kafka".into())));
        assert_eq!(
            b[1].service,
            Some(("seldon-kafka-bootstrap".into(), "kafka".into()))
        );
        assert_eq!(
            brokers("kafka:9092", "ml")[0].service,
            Some(("kafka".into(), "ml".into()))
        );
        assert!(brokers("10.0.0.1:9092", "ml").is_empty());
    }

    #[test]
    fn dataflow_points_at_another_kafka() {
        let drafts = run("seldon-kafka-bootstrap", "{}", &fixture("seldon-misconfig"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn brokers_outside_the_view_are_not_called_missing() {
        let mut view = fixture("seldon-misconfig");
        view.restrict_to(&["seldon-lab".to_string()].into_iter().collect());
        let drafts = run("seldon-kafka-bootstrap", "{}", &view);
        // Namespace kafka exists but is outside the view: its Service is unknown, not
        // missing. Namespace seldon-mesh does not exist at all: its Service is missing.
        assert_eq!(drafts.len(), 1);
        assert!(
            !drafts[0]
                .evidence
                .iter()
                .any(|e| e.contains("in namespace kafka")),
            "{:?}",
            drafts[0].evidence
        );
    }

    #[test]
    fn quiet_when_they_agree() {
        assert!(run("seldon-kafka-bootstrap", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(
            run(
                "seldon-kafka-bootstrap",
                "{}",
                &fixture("seldon-mesh-broken")
            )
            .is_empty()
        );
    }
}
