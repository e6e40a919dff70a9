//! `strimzi-kafka-ready`: Kafka clusters the Strimzi cluster operator could
//! not reconcile. The operator writes `NotReady=True` with the exception's
//! class as the reason and its message (`Creating` while it first deploys).

use serde::Deserialize;

use crate::analyzers::seldon::model as seldon;
use crate::analyzers::strimzi::model;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind};
use crate::report::findings::{Fix, Severity};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "strimzi-kafka-ready",
    summary: "Strimzi Kafka clusters the cluster operator reports NotReady",
    needs: &[Kind::StrimziKafka],
    optional: &[Kind::StrimziKafkaNodePool, Kind::StrimziKafkaTopic],
    data: &[],
    build: build::<KafkaReady>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaReady {}

impl Analyzer for KafkaReady {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::StrimziKafka).next().is_none() {
            return Err("not applicable: no Strimzi Kafka clusters".into());
        }
        let mut drafts = Vec::new();
        for kafka in view.custom(Kind::StrimziKafka) {
            if kafka.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(c) = model::not_ready(kafka) else {
                continue;
            };
            let ns = kafka.namespace();
            let name = kafka.name();
            let said = if c.message.is_empty() {
                c.reason.clone()
            } else {
                format!("{}: {}", c.reason, c.message)
            };
            let mut d = Draft::new(
                seldon::object_ref(Kind::StrimziKafka, kafka),
                if c.reason == "Creating" {
                    format!("Kafka {ns}/{name} has not finished its first deployment ({said})")
                } else {
                    format!("Kafka {ns}/{name} is not ready: the cluster operator's last reconciliation failed ({said})")
                },
            )
            .evidence(c.describe());
            if let Some((n, from)) = model::brokers(view, kafka) {
                d = d.evidence(format!(
                    "{n} broker{} ({from})",
                    if n == 1 { "" } else { "s" }
                ));
            }
            for pool in view.custom(Kind::StrimziKafkaNodePool).filter(|p| {
                p.namespace() == ns
                    && model::cluster_label(p)
                        .is_some_and(|c| view.custom_get(Kind::StrimziKafka, ns, c).is_none())
            }) {
                d = d.evidence(format!(
                    "KafkaNodePool {ns}/{} has {}={}, which names no Kafka in {ns}",
                    pool.name(),
                    model::CLUSTER_LABEL,
                    model::cluster_label(pool).unwrap_or_default()
                ));
            }
            let listeners = model::listeners(kafka);
            if !listeners.is_empty() {
                d = d.evidence(format!(
                    "listeners: {}",
                    listeners
                        .iter()
                        .map(|l| format!("{} {}", l.name, l.bootstrap))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let topics = view
                .custom(Kind::StrimziKafkaTopic)
                .filter(|t| t.namespace() == ns && model::cluster_label(t) == Some(name))
                .count();
            if topics > 0 {
                d = d.evidence(format!(
                    "{topics} KafkaTopic{} in {ns} belong to it",
                    if topics == 1 { "" } else { "s" }
                ));
            }
            if c.reason == "Creating" {
                // Deploying for the first time: a state to watch, not yet a failure.
                d.severity = Some(Severity::Warning);
            }
            drafts.push(d.fix(Fix::manual(format!(
                "Read the message, then the cluster operator's log for Kafka {ns}/{name} (Deployment strimzi-cluster-operator); fix what it names (the spec, its KafkaNodePools, the pods it waits for) and it reconciles again on its next run."
            ))));
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn names_the_operators_reason_and_message() {
        let drafts = run("strimzi-kafka-ready", "{}", &fixture("strimzi-broken"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn a_first_deployment_is_a_warning() {
        use crate::cluster::{Kind, Store};
        use crate::report::findings::Severity;
        let mut view = fixture("strimzi-broken");
        let mut kafkas: Store<_> = Store::default();
        for mut k in view.custom(Kind::StrimziKafka).cloned().collect::<Vec<_>>() {
            if k.metadata.name.as_deref() == Some("archive") {
                k.data["status"]["conditions"][0]["reason"] = "Creating".into();
                k.data["status"]["conditions"][0]["message"] =
                    "Kafka cluster is being deployed".into();
            }
            kafkas.insert(k);
        }
        view.custom.insert(Kind::StrimziKafka, kafkas);
        view.finish();
        let drafts = run("strimzi-kafka-ready", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].severity, Some(Severity::Warning));
        assert_eq!(
            drafts[0].message,
            "Kafka streaming/archive has not finished its first deployment (Creating: Kafka cluster is being deployed)"
        );
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("strimzi-kafka-ready", "{}", &fixture("healthy-strimzi")).is_empty());
    }
}
