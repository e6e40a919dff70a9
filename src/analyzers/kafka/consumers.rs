//! `kafka-consumers`: consumer groups that do not keep up. `stuck`: a group
//! with no active members while messages wait on its partitions (nobody will
//! read them). `lag`: a group with members whose total lag exceeds `maxLag`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::analyzers::workloads::env::literal_env;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, KafkaGroup, Kind, ObjectRef, Workload};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "kafka-consumers",
    summary: "Kafka consumer groups without members on pending messages, or lagging beyond a threshold",
    needs: &[],
    optional: &[
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
    ],
    data: &[Data::Kafka],
    build: build::<KafkaConsumers>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Stuck,
    Lag,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaConsumers {
    mode: Mode,
    /// Total lag (messages) a group with members may have (mode `lag`).
    #[serde(default = "default_max_lag")]
    max_lag: i64,
    /// Group name patterns never judged (`*` wildcards).
    #[serde(default)]
    ignore_groups: Vec<String>,
}

fn default_max_lag() -> i64 {
    1000
}

/// The workload whose literal env names the group (e.g. `CONSUMER_GROUP=lstm`).
fn consumer_of<'a>(view: &'a ClusterView, group: &str) -> Option<(Workload<'a>, String)> {
    view.workloads().into_iter().find_map(|w| {
        let var = w
            .containers()
            .flat_map(literal_env)
            .find(|(_, v)| *v == group)
            .map(|(n, _)| n.to_string())?;
        Some((w, var))
    })
}

fn replicas(view: &ClusterView, w: &Workload<'_>) -> Option<(i32, i32)> {
    match w.kind {
        Kind::Deployment => view.deployments.get(w.namespace(), w.name()).map(|d| {
            (
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                d.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0),
            )
        }),
        Kind::StatefulSet => view.stateful_sets.get(w.namespace(), w.name()).map(|d| {
            (
                d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                d.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0),
            )
        }),
        _ => None,
    }
}

impl Analyzer for KafkaConsumers {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let Some(kafka) = &view.kafka else {
            return Err(crate::analyzers::seldon::model::no_kafka_observation(view));
        };
        if !kafka.reachable {
            return Err("not applicable: Kafka did not answer, so its groups are unknown".into());
        }
        let mut drafts = Vec::new();
        for g in &kafka.groups {
            if self
                .ignore_groups
                .iter()
                .any(|p| wildmatch::WildMatch::new(p).matches(&g.name))
            {
                continue;
            }
            let lag: i64 = g.offsets.iter().map(|o| o.lag()).sum();
            let fires = match self.mode {
                Mode::Stuck => g.members == 0 && lag > 0,
                Mode::Lag => g.members > 0 && lag > self.max_lag,
            };
            if fires {
                drafts.push(self.finding(view, g, lag));
            }
        }
        Ok(drafts)
    }
}

impl KafkaConsumers {
    fn finding(&self, view: &ClusterView, g: &KafkaGroup, lag: i64) -> Draft {
        let mut by_topic: BTreeMap<&str, i64> = BTreeMap::new();
        for o in &g.offsets {
            *by_topic.entry(o.topic.as_str()).or_default() += o.lag();
        }
        let topics: Vec<String> = by_topic
            .iter()
            .filter(|(_, l)| **l > 0)
            .map(|(t, l)| format!("{t} ({l})"))
            .collect();
        let consumer = consumer_of(view, &g.name);
        let subject = consumer.as_ref().map_or_else(
            || ObjectRef::new("kafka", "ConsumerGroup", None, &g.name),
            |(w, _)| w.object_ref(),
        );
        let message = match self.mode {
            Mode::Stuck => format!(
                "consumer group {} has no active members while {lag} message{} wait on {}",
                g.name,
                if lag == 1 { "" } else { "s" },
                topics.join(", ")
            ),
            Mode::Lag => format!(
                "consumer group {} lags {lag} messages behind (threshold {}) on {}",
                g.name,
                self.max_lag,
                topics.join(", ")
            ),
        };
        let mut d = Draft::new(subject, message).evidence(format!(
            "group {}: state {:?}, {} member{}",
            g.name,
            g.state,
            g.members,
            if g.members == 1 { "" } else { "s" }
        ));
        for o in g.offsets.iter().filter(|o| o.lag() > 0) {
            d.evidence.push(format!(
                "{}[{}]: committed {}, high watermark {}, lag {}",
                o.topic,
                o.partition,
                o.committed.map_or("none".to_string(), |c| c.to_string()),
                o.high,
                o.lag()
            ));
        }
        let Some((w, var)) = consumer else {
            return d.fix(Fix::manual(format!(
                "Find the application that consumes as group {} and start it (or delete the group if it is obsolete: `kafka-consumer-groups.sh --delete --group {}`).",
                g.name, g.name
            )));
        };
        let r = w.object_ref();
        d.evidence.push(format!("{r} names the group in env {var}"));
        // A consumer that crashes or cannot start is the usual reason a group empties.
        for analyzer in [
            "container-failures",
            "required-env",
            "env-refs",
            "service-refs",
        ] {
            d = d.caused_by(analyzer, r.clone());
        }
        let counts = replicas(view, &w);
        if let Some((want, ready)) = counts {
            d.evidence
                .push(format!("{r}: {ready}/{want} replicas ready"));
        }
        let partitions = view
            .kafka
            .as_ref()
            .map(|k| {
                k.topics
                    .iter()
                    .filter(|t| by_topic.contains_key(t.name.as_str()))
                    .map(|t| t.partitions as i32)
                    .max()
                    .unwrap_or(1)
            })
            .unwrap_or(1);
        match (self.mode, counts) {
            (Mode::Stuck, Some((0, _))) => d.fix(
                Fix::new(
                    Applicability::Unsafe,
                    format!("{r} is scaled to zero, so nobody reads group {}: scale it up. Starting consumers processes the waiting messages.", g.name),
                )
                .with_kubectl(format!("kubectl scale {}{} --replicas=1", r.kubectl_name(), r.kubectl_ns())),
            ),
            (Mode::Stuck, _) => d.fix(Fix::manual(format!(
                "The consumers of group {} in {r} are not connected: read their logs (`kubectl logs {}{}`) for Kafka connection or crash errors.",
                g.name,
                r.kubectl_name(),
                r.kubectl_ns()
            ))),
            (Mode::Lag, Some((want, _))) if want < partitions => d.fix(
                Fix::new(
                    Applicability::Unsafe,
                    format!("{r} runs {want} consumer{} for {partitions} partitions: more replicas (up to the partition count) read in parallel.", if want == 1 { "" } else { "s" }),
                )
                .with_kubectl(format!("kubectl scale {}{} --replicas={partitions}", r.kubectl_name(), r.kubectl_ns())),
            ),
            (Mode::Lag, _) => d.fix(Fix::manual(format!(
                "Consumers in {r} read slower than producers write: check their processing time and errors; adding partitions (and replicas) spreads the load."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn group_without_members() {
        let drafts = run("kafka-consumers", "mode: stuck", &fixture("kafka-training"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn group_lagging() {
        let drafts = run(
            "kafka-consumers",
            "mode: lag\nmaxLag: 1000",
            &fixture("kafka-training"),
        );
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
        assert!(
            run(
                "kafka-consumers",
                "mode: lag\nmaxLag: 10000",
                &fixture("kafka-training")
            )
            .is_empty()
        );
    }

    #[test]
    fn quiet_when_healthy() {
        for mode in ["mode: stuck", "mode: lag"] {
            assert!(run("kafka-consumers", mode, &fixture("healthy-seldon")).is_empty());
            assert!(run("kafka-consumers", mode, &fixture("seldon-mesh-broken")).is_empty());
        }
    }
}
