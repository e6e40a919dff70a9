//! `kafka-reachable`: the Kafka observation (`kafka.yaml`, or the live
//! collector's metadata request) says the bootstrap servers did not answer.

use serde::Deserialize;

use crate::analyzers::address::addresses;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "kafka-reachable",
    summary: "the Kafka bootstrap servers did not answer a metadata request",
    needs: &[],
    optional: &[
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Namespace,
        Kind::StrimziKafka,
    ],
    data: &[Data::Kafka],
    build: build::<KafkaReachable>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KafkaReachable {}

/// What a Kafka finding is about: the Service the bootstrap address names, or
/// the bootstrap address itself when it names no in-cluster Service.
pub fn subject(view: &ClusterView) -> ObjectRef {
    let bootstrap = view.kafka.as_ref().map_or("", |k| k.bootstrap.as_str());
    let known_ns = |n: &str| view.namespace_exists(n);
    match addresses(bootstrap, "default", &known_ns)
        .into_iter()
        .next()
    {
        Some(a) if a.host.contains('.') || view.services.get("default", &a.service).is_some() => {
            ObjectRef::new("v1", "Service", Some(&a.namespace), &a.service)
        }
        _ => ObjectRef::new("kafka", "KafkaCluster", None, bootstrap),
    }
}

impl Analyzer for KafkaReachable {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let Some(kafka) = &view.kafka else {
            return Err(crate::analyzers::seldon::model::no_kafka_observation(view));
        };
        if kafka.reachable {
            return Ok(Vec::new());
        }
        let error = kafka.error.as_deref().unwrap_or("no error was recorded");
        let subject = subject(view);
        let mut draft = Draft::new(
            subject.clone(),
            format!("Kafka at {} is unreachable: {error}", kafka.bootstrap),
        )
        .evidence(format!("bootstrap servers: {}", kafka.bootstrap))
        .evidence(format!("metadata request failed: {error}"));
        let known_ns = |n: &str| view.namespace_exists(n);
        let mut hints = Vec::new();
        for a in addresses(&kafka.bootstrap, "default", &known_ns) {
            // A Strimzi Kafka's bootstrap Service: its operator says why the
            // brokers are not up (STZ002).
            if let Some(k) = a
                .service
                .strip_suffix("-kafka-bootstrap")
                .and_then(|cluster| view.custom_get(Kind::StrimziKafka, &a.namespace, cluster))
            {
                draft.evidence.push(format!(
                    "Strimzi Kafka {}/{} runs these brokers",
                    k.namespace(),
                    k.name()
                ));
                draft = draft.caused_by(
                    "strimzi-kafka-ready",
                    ObjectRef::of(Kind::StrimziKafka, &k.metadata),
                );
            }
            match view.services.get(&a.namespace, &a.service) {
                None if view.has(Kind::Service)
                    && crate::analyzers::seldon::model::namespace_visible(view, &a.namespace) =>
                {
                    draft.evidence.push(format!(
                        "Service {} does not exist in namespace {}",
                        a.service, a.namespace
                    ));
                    hints.push(format!(
                        "create or correct Service {}/{}",
                        a.namespace, a.service
                    ));
                }
                Some(_) => match view.ready_endpoints(&a.namespace, &a.service) {
                    Some(0) => {
                        draft = draft.caused_by_backends(view, &a.namespace, &a.service);
                        draft.evidence.push(format!(
                            "Service {}/{} has no ready endpoints",
                            a.namespace, a.service
                        ));
                        hints.push(format!(
                            "make the brokers behind Service {}/{} ready",
                            a.namespace, a.service
                        ));
                    }
                    Some(n) => draft.evidence.push(format!(
                        "Service {}/{} has {n} ready endpoint{}",
                        a.namespace,
                        a.service,
                        if n == 1 { "" } else { "s" }
                    )),
                    None => {}
                },
                None => {}
            }
        }
        let what = if hints.is_empty() {
            "check the brokers, the listener the address names, and any NetworkPolicy between mlopsctl (or the Seldon components) and Kafka".to_string()
        } else {
            hints.join("; ")
        };
        Ok(vec![draft.fix(Fix::manual(format!(
            "Make {} answer: {what}. Every Kafka check and every Seldon pipeline depends on it.",
            kafka.bootstrap
        )))])
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn names_the_bootstrap_and_the_error() {
        let drafts = run("kafka-reachable", "{}", &fixture("kafka-unreachable"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn a_strimzi_kafkas_brokers_hang_under_its_operators_word() {
        let mut view = fixture("healthy-strimzi");
        let kafka = view.kafka.as_mut().unwrap();
        kafka.reachable = false;
        kafka.error = Some("Local: All broker connections are down".into());
        let drafts = run("kafka-reachable", "{}", &view);
        assert_eq!(
            summary(&drafts)[0]["causes"],
            serde_json::json!(["strimzi-kafka-ready Kafka streaming/events"])
        );
    }

    #[test]
    fn quiet_when_reachable() {
        assert!(run("kafka-reachable", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(run("kafka-reachable", "{}", &fixture("seldon-mesh-broken")).is_empty());
    }
}
