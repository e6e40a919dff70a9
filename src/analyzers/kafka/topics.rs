//! `kafka-topics`: topics that should exist but do not. The expected set comes
//! from Seldon (`<prefix>.<ns>.model.<model>.inputs|outputs` for ready Models,
//! `<prefix>.<ns>.pipeline.<pipeline>.inputs|outputs` and
//! `<prefix>.<ns>.errors.errors` for Pipelines, the prefix from the
//! `seldon-kafka` ConfigMap's `topicPrefix`, default `seldon`) and from a site
//! contract (`topics:`), e.g. a training pipeline's claim-check topics, and
//! from Strimzi: a Ready KafkaTopic of the Kafka mlopsctl observed declares
//! its topic (`spec.topicName`, else its name).

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::analyzers::kafka::model::NewTopicSpec;
use crate::analyzers::kafka::reachable as kafka_reachable;
use crate::analyzers::seldon::model as seldon;
use crate::analyzers::strimzi::model as strimzi;
use crate::analyzers::workloads::env::literal_env;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::plan::{Operation, TOPIC_PARTITIONS, TOPIC_REPLICATION};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "kafka-topics",
    summary: "Kafka topics that Seldon Models and Pipelines or a site contract expect but Kafka does not have",
    needs: &[],
    optional: &[
        Kind::SeldonModel,
        Kind::SeldonPipeline,
        Kind::SeldonRuntime,
        Kind::ConfigMap,
        Kind::Service,
        Kind::Namespace,
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::StrimziKafkaTopic,
        Kind::StrimziKafka,
    ],
    data: &[Data::Kafka],
    build: build::<KafkaTopics>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaTopics {
    /// Expect the topics Seldon Models and Pipelines use.
    #[serde(default = "yes")]
    seldon: bool,
    /// Expect the topics Ready Strimzi KafkaTopics of the observed Kafka
    /// declare. Off unless asked, so a site check does not repeat KFK002.
    #[serde(default)]
    strimzi: bool,
    /// Topics a site contract requires, by exact name.
    #[serde(default)]
    topics: Vec<String>,
    /// Partitions of a contract topic mlopsctl creates; without both this and
    /// `replicationFactor` the contract's topics are left to a person.
    #[serde(default)]
    partitions: Option<i32>,
    /// Replication factor of a contract topic mlopsctl creates.
    #[serde(default)]
    replication_factor: Option<i32>,
    /// How many missing topic names to list as evidence.
    #[serde(default = "default_list")]
    list: usize,
}

fn yes() -> bool {
    true
}

fn default_list() -> usize {
    6
}

impl Analyzer for KafkaTopics {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let Some(kafka) = &view.kafka else {
            return Err(crate::analyzers::seldon::model::no_kafka_observation(view));
        };
        if !kafka.reachable {
            return Err("not applicable: Kafka did not answer, so its topics are unknown".into());
        }
        let existing: BTreeSet<&str> = kafka.topics.iter().map(|t| t.name.as_str()).collect();
        let mut drafts = Vec::new();
        // Without Models the split between model and pipeline topics cannot be made.
        if self.seldon && view.has(Kind::SeldonModel) {
            let namespaces: BTreeSet<&str> = view
                .custom(Kind::SeldonModel)
                .chain(view.custom(Kind::SeldonPipeline))
                .map(|o| o.namespace())
                .collect();
            for ns in namespaces {
                if let Some(d) = self.seldon_namespace(view, ns, &existing) {
                    drafts.push(d);
                }
            }
        }
        let missing: Vec<&String> = self
            .topics
            .iter()
            .filter(|t| !existing.contains(t.as_str()))
            .collect();
        if !missing.is_empty() {
            drafts.push(self.contract(view, &missing));
        }
        if self.strimzi {
            drafts.extend(strimzi_declared(view, &existing));
        }
        if !self.seldon && self.topics.is_empty() && !self.strimzi {
            return Err(
                "not applicable: no topics expected (seldon: false, strimzi: false and no topics)"
                    .into(),
            );
        }
        Ok(drafts)
    }
}

impl KafkaTopics {
    fn seldon_namespace(
        &self,
        view: &ClusterView,
        ns: &str,
        existing: &BTreeSet<&str>,
    ) -> Option<Draft> {
        let prefix = seldon::topic_prefix(view, ns);
        let mut model_missing = Vec::new();
        let mut model_expected = 0;
        for m in view
            .custom(Kind::SeldonModel)
            .filter(|m| m.namespace() == ns)
        {
            if !seldon::model_state(m).is_some_and(|s| s.ready) {
                continue; // the model gateway creates a model's topics once it is available
            }
            for t in seldon::model_topics(&prefix, ns, m.name()) {
                model_expected += 1;
                if !existing.contains(t.as_str()) {
                    model_missing.push(t);
                }
            }
        }
        let pipelines: Vec<&str> = view
            .custom(Kind::SeldonPipeline)
            .filter(|p| p.namespace() == ns && p.metadata.deletion_timestamp.is_none())
            .map(|o| o.name())
            .collect();
        let mut pipeline_missing = Vec::new();
        for p in &pipelines {
            pipeline_missing.extend(
                seldon::pipeline_topics(&prefix, ns, p)
                    .into_iter()
                    .filter(|t| !existing.contains(t.as_str())),
            );
        }
        if !pipelines.is_empty() {
            let errors = seldon::errors_topic(&prefix, ns);
            if !existing.contains(errors.as_str()) {
                pipeline_missing.push(errors);
            }
        }
        if model_missing.is_empty() && pipeline_missing.is_empty() {
            return None;
        }
        let kafka = view.kafka.as_ref().expect("checked by the caller");
        let runtime =
            seldon::runtime_in(view, ns).map(|r| seldon::object_ref(Kind::SeldonRuntime, r));
        let present = existing
            .iter()
            .filter(|t| t.starts_with(&format!("{prefix}.{ns}.")))
            .count();
        let mut evidence = vec![format!(
            "Kafka at {} has {present} topic{} with prefix {prefix}.{ns}.",
            kafka.bootstrap,
            if present == 1 { "" } else { "s" }
        )];
        let list = |v: &[String]| -> String {
            let mut s = v
                .iter()
                .take(self.list)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if v.len() > self.list {
                s.push_str(&format!(" and {} more", v.len() - self.list));
            }
            s
        };
        if !pipeline_missing.is_empty() {
            evidence.push(format!(
                "missing pipeline topics: {}",
                list(&pipeline_missing)
            ));
        }
        if !model_missing.is_empty() {
            evidence.push(format!(
                "missing model topics ({} of {model_expected}): {}",
                model_missing.len(),
                list(&model_missing)
            ));
        }
        if model_missing.is_empty() {
            // Model topics exist, so this is the right Kafka and the model gateway works:
            // only what the dataflow engine creates is missing.
            let subject = runtime.clone().unwrap_or_else(|| {
                ObjectRef::new(
                    &Kind::SeldonPipeline.api_version(),
                    "Pipeline",
                    Some(ns),
                    pipelines[0],
                )
            });
            let mut d = Draft::new(
                subject,
                format!(
                    "Kafka has no topics for Pipeline{} {} in namespace {ns} while model topics exist: the dataflow engine, which creates them, is not running the pipelines",
                    if pipelines.len() == 1 { "" } else { "s" },
                    pipelines.join(", ")
                ),
            );
            d.evidence = evidence;
            if let Some(r) = runtime {
                d = d
                    .caused_by("seldon-dataflow-scheduler", r.clone())
                    .caused_by("seldon-kafka-bootstrap", r);
            }
            return Some(d.fix(Fix::manual(format!(
                "Nothing to create by hand: once the dataflow engine in namespace {ns} connects to the scheduler and to Kafka, it creates the pipeline topics. Fix the dataflow finding first."
            ))));
        }
        let cm = seldon::kafka_json(view, ns)
            .and_then(|j| j.get("bootstrap.servers")?.as_str().map(str::to_string));
        let other = cm.as_ref().filter(|b| **b != kafka.bootstrap);
        if let Some(b) = other {
            evidence.push(format!(
                "Seldon in {ns} uses Kafka at {b} (ConfigMap {}), mlopsctl observed {}",
                seldon::KAFKA_CONFIGMAP,
                kafka.bootstrap
            ));
        }
        let gateway = ObjectRef::new("apps/v1", "Deployment", Some(ns), "seldon-modelgateway");
        let message = match other {
            Some(b) => format!(
                "Kafka at {} lacks the topics of ready Models in namespace {ns}, and Seldon there uses Kafka at {b}: the Kafka observed is probably not the cluster Seldon uses",
                kafka.bootstrap
            ),
            None => format!(
                "Kafka lacks the topics of ready Models in namespace {ns}: the model gateway, which creates them, is not doing so"
            ),
        };
        let mut d = Draft::new(gateway, message);
        d.evidence = evidence;
        if let Some(r) = runtime {
            d = d.caused_by("seldon-kafka-bootstrap", r);
        }
        Some(d.fix(Fix::manual(format!(
            "Compare the Kafka Seldon uses (ConfigMap {} in {ns}) with the one observed ({}); if they are the same, read the logs of Deployment seldon-modelgateway in {ns}, which creates model topics when a Model becomes available.",
            seldon::KAFKA_CONFIGMAP,
            kafka.bootstrap
        ))))
    }

    fn contract(&self, view: &ClusterView, missing: &[&String]) -> Draft {
        let kafka = view.kafka.as_ref().expect("checked by the caller");
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        let mut d = Draft::new(
            kafka_reachable::subject(view),
            format!(
                "Kafka at {} lacks topic{} {}",
                kafka.bootstrap,
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
        );
        for t in &names {
            let users: Vec<String> = view
                .workloads()
                .iter()
                .flat_map(|w| {
                    w.containers()
                        .flat_map(|c| {
                            literal_env(c)
                                .filter(|(_, v)| v == t)
                                .map(|(n, _)| n.to_string())
                                .collect::<Vec<_>>()
                        })
                        .map(|n| format!("{} ({n})", w.object_ref()))
                        .collect::<Vec<_>>()
                })
                .collect();
            d.evidence.push(if users.is_empty() {
                format!("topic {t}: missing; no workload names it in a literal env value")
            } else {
                format!("topic {t}: missing; named by {}", users.join(", "))
            });
        }
        let plural = if names.len() == 1 { "" } else { "s" };
        let partitions = self.partitions.filter(|n| *n > 0);
        let replication = self.replication_factor.filter(|n| *n > 0);
        let layout = match (partitions, replication) {
            (Some(p), Some(r)) => format!(
                "with {p} partition{} and replication factor {r}, as the check's params say",
                if p == 1 { "" } else { "s" }
            ),
            _ => format!(
                "with the partitions and replication your consumers expect: give them with `--set {TOPIC_PARTITIONS}=N --set {TOPIC_REPLICATION}=N` (or per topic, `--set TOPIC/{TOPIC_PARTITIONS}=N`), or as `partitions:` and `replicationFactor:` in the check's params"
            ),
        };
        let mut fix = Fix::new(
            Applicability::Unsafe,
            format!(
                "Create the topic{plural} on Kafka at {} {layout} (or let the producer create {}, if the brokers allow auto-creation). Unsafe: a topic's partition count can be raised later but never lowered, and it fixes how keys spread over consumers.",
                kafka.bootstrap,
                if names.len() == 1 { "it" } else { "them" }
            ),
        );
        for name in names {
            let spec = NewTopicSpec {
                name: name.to_string(),
                // 0 until the input gives it (see TOPIC_PARTITIONS).
                partitions: partitions.unwrap_or(0),
                replication: replication.unwrap_or(0),
                config: Vec::new(),
            };
            let mut op = Operation::create_topic(spec, Applicability::Unsafe);
            if partitions.is_none() {
                op = op.input(
                    TOPIC_PARTITIONS,
                    format!("the partition count of topic {name} (it can be raised later, never lowered)"),
                );
            }
            if replication.is_none() {
                op = op.input(
                    TOPIC_REPLICATION,
                    format!(
                        "the replication factor of topic {name} (at most the number of brokers)"
                    ),
                );
            }
            fix = fix.with_operation(op);
        }
        d.fix(fix)
    }
}

/// Ready KafkaTopics whose topic the observed Kafka lacks. Only topics of a
/// Kafka resource one of whose listeners is the observed bootstrap: another
/// cluster's topics are not this one's to have.
fn strimzi_declared(view: &ClusterView, existing: &BTreeSet<&str>) -> Vec<Draft> {
    let kafka = view.kafka.as_ref().expect("checked by the caller");
    let mut drafts = Vec::new();
    for kt in view.custom(Kind::StrimziKafkaTopic) {
        let name = strimzi::topic_name(kt);
        if existing.contains(name)
            || kt.metadata.deletion_timestamp.is_some()
            || !strimzi::managed(kt)
            || !strimzi::ready(kt).is_some_and(|c| c.is_true())
        {
            continue;
        }
        let Some(cluster) = strimzi::kafka_of(view, kt) else {
            continue;
        };
        let Some(listener) =
            strimzi::listener_for(view, cluster, &kafka.bootstrap, cluster.namespace())
        else {
            continue;
        };
        let ns = kt.namespace();
        let show = |f: &str| {
            strimzi::spec_int(kt, f).map_or("the broker default".to_string(), |n| n.to_string())
        };
        let d = Draft::new(
            seldon::object_ref(Kind::StrimziKafkaTopic, kt),
            format!(
                "KafkaTopic {ns}/{} declares topic {name} and is Ready, but Kafka at {} has no topic {name}",
                kt.name(),
                kafka.bootstrap
            ),
        )
        .evidence(format!(
            "KafkaTopic {ns}/{}: Ready=True, topic {name}, partitions {}, replicas {}",
            kt.name(),
            show("partitions"),
            show("replicas")
        ))
        .evidence(format!(
            "Kafka {ns}/{} listener {} is {}, the bootstrap mlopsctl observed",
            cluster.name(),
            listener.name,
            listener.bootstrap
        ))
        .fix(Fix::manual(format!(
            "The topic operator recreates topic {name} from the KafkaTopic on its next reconciliation (STRIMZI_FULL_RECONCILIATION_INTERVAL_MS, 2 minutes by default); if it stays missing, read the logs of container topic-operator in Deployment {}-entity-operator in {ns}. Do not create it by hand: the KafkaTopic's spec is its layout.",
            cluster.name()
        )));
        drafts.push(d);
    }
    drafts
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    const TRAINING: &str = "seldon: false\ntopics: [training-data, model-training, model-selected, inference-data]\npartitions: 1\nreplicationFactor: 1";

    #[test]
    fn only_pipeline_topics_missing() {
        let drafts = run("kafka-topics", "{}", &fixture("seldon-mesh-broken"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn training_contract() {
        let drafts = run("kafka-topics", TRAINING, &fixture("kafka-training"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
        let ops = &drafts[0].fix.as_ref().unwrap().operations;
        insta::assert_yaml_snapshot!("training_contract_operations", ops);
    }

    #[test]
    fn contract_topics_without_a_layout_wait_for_it() {
        let params = TRAINING.replace("\npartitions: 1\nreplicationFactor: 1", "");
        let drafts = run("kafka-topics", &params, &fixture("kafka-training"));
        let fix = drafts[0].fix.as_ref().unwrap();
        let names: Vec<&str> = fix.operations[0]
            .inputs
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["partitions", "replication"]);
        assert!(
            fix.kubectl
                .as_deref()
                .unwrap()
                .contains("--partitions ${partitions}")
        );
        let plan = crate::plan::planner::build(
            &[crate::report::findings::Finding {
                id: String::new(),
                code: "KFK002".into(),
                check: "kafka-topics-missing".into(),
                severity: crate::report::findings::Severity::Error,
                subject: drafts[0].subject.clone(),
                message: drafts[0].message.clone(),
                evidence: Vec::new(),
                cause: None,
                root: None,
                fix: Some(fix.clone()),
            }],
            &crate::plan::Inputs::parse(&["partitions=3", "replication=1"]).unwrap(),
            true,
        );
        assert_eq!(plan.ready().count(), 1, "{plan:#?}");
    }

    #[test]
    fn seldon_topics_are_left_to_seldon() {
        let drafts = run("kafka-topics", "{}", &fixture("seldon-mesh-broken"));
        assert!(drafts[0].fix.as_ref().unwrap().operations.is_empty());
    }

    #[test]
    fn the_shipped_example_matches_the_test() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/checks/training-topics.yaml"
        ))
        .expect("example exists");
        let check = crate::catalogue::parse_check(&text, "examples/checks/training-topics.yaml")
            .expect("example parses");
        let drafts = check
            .analyzer
            .analyze(&fixture("kafka-training"))
            .expect("runs");
        assert_eq!(
            drafts,
            run("kafka-topics", TRAINING, &fixture("kafka-training"))
        );
    }

    #[test]
    fn model_topics_missing_too_points_at_the_gateway_or_another_kafka() {
        let mut view = fixture("healthy-seldon");
        let kafka = view.kafka.as_mut().expect("observed");
        kafka.topics.retain(|t| t.name.starts_with("__"));
        kafka.bootstrap = "kafka.other-cluster.example.com:9092".into();
        let drafts = run("kafka-topics", "{}", &view);
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn ready_kafka_topics_declare_their_topics() {
        let drafts = run(
            "kafka-topics",
            "seldon: false\nstrimzi: true",
            &fixture("strimzi-broken"),
        );
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
        assert!(
            run(
                "kafka-topics",
                "seldon: false\nstrimzi: true",
                &fixture("healthy-strimzi")
            )
            .is_empty()
        );
        assert!(
            run(
                "kafka-topics",
                "seldon: false\ntopics: [orders]",
                &fixture("healthy-strimzi")
            )
            .is_empty()
        );
        // Another Kafka observed: its topics are not the KafkaTopics' to have.
        let mut other = fixture("strimzi-broken");
        other.kafka.as_mut().expect("observed").bootstrap = "kafka.other.svc:9092".into();
        assert!(run("kafka-topics", "seldon: false\nstrimzi: true", &other).is_empty());
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("kafka-topics", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(
            run(
                "kafka-topics",
                TRAINING.replace("model-selected, ", "").as_str(),
                &fixture("kafka-training")
            )
            .is_empty()
        );
    }
}
