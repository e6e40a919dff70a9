//! The reader against librdkafka's mock cluster: metadata, produce, commits,
//! committed offsets and watermarks are real; ListGroups/DescribeGroups are
//! not answered by the mock, so group listing comes from [`StaticGroups`].

use std::net::TcpListener;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::*;
use crate::analyzers::testing::{fixture, run};
use crate::cluster::{GroupState, KafkaObservation, KafkaOffset};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Produce `n` messages to partition 0 of each topic; the mock creates a
/// missing topic on produce (4 partitions, replication 1 on one broker).
fn produce(bootstrap: &str, topics: &[&str], n: usize) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for topic in topics {
        for _ in 0..n {
            producer
                .send(BaseRecord::<(), str>::to(topic).partition(0).payload("m"))
                .map_err(|(e, _)| e)
                .expect("queued");
        }
    }
    producer.flush(TIMEOUT).expect("delivered");
}

fn commit(bootstrap: &str, group: &str, topic: &str, partition: i32, offset: i64) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
        .expect("offset");
    consumer.commit(&tpl, CommitMode::Sync).expect("committed");
}

fn group(name: &str, state: GroupState, members: u32, assigned: &[(&str, i32)]) -> GroupInfo {
    GroupInfo {
        name: name.into(),
        state,
        members,
        assigned: assigned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
    }
}

/// [`observe_with`] on the mock with the listing given.
fn observe_mock(bootstrap: &str, listed: Vec<GroupInfo>, wanted: &[String]) -> KafkaObservation {
    let config = client_config(bootstrap, &[]);
    let consumer: BaseConsumer = config.create().expect("consumer");
    let deadline = Instant::now() + TIMEOUT;
    observe_with(
        &config,
        &consumer,
        &StaticGroups(Ok(listed)),
        wanted,
        deadline,
    )
}

fn topic_names(obs: &KafkaObservation) -> Vec<&str> {
    obs.topics.iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn topics_watermarks_and_committed_offsets_from_the_mock() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    produce(&bootstrap, &["orders", "payments"], 5);
    commit(&bootstrap, "billing", "orders", 0, 3);

    let listed = vec![
        // Committed on orders; assigned payments without committing yet.
        group("billing", GroupState::Stable, 2, &[("payments", 0)]),
        group("audit", GroupState::Empty, 0, &[]),
    ];
    let obs = observe_mock(&bootstrap, listed, &[]);

    assert!(obs.reachable, "{:?}", obs.error);
    assert_eq!(obs.error, None);
    assert_eq!(obs.bootstrap, bootstrap);
    assert_eq!(obs.brokers.len(), 1);
    assert_eq!(topic_names(&obs), ["orders", "payments"]);
    for t in &obs.topics {
        assert_eq!((t.partitions, t.replication), (4, Some(1)), "{}", t.name);
    }
    let names: Vec<&str> = obs.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["audit", "billing"]);
    let audit = &obs.groups[0];
    assert_eq!((audit.state, audit.members), (GroupState::Empty, 0));
    assert!(audit.offsets.is_empty(), "{:?}", audit.offsets);
    let billing = &obs.groups[1];
    assert_eq!((billing.state, billing.members), (GroupState::Stable, 2));
    let offset = |topic: &str, partition: i32, committed: Option<i64>, high: i64| KafkaOffset {
        topic: topic.into(),
        partition,
        committed,
        high,
    };
    let mut expected = vec![offset("orders", 0, Some(3), 5)];
    expected.extend((1..4).map(|p| offset("orders", p, None, 0)));
    expected.push(offset("payments", 0, None, 5));
    expected.extend((1..4).map(|p| offset("payments", p, None, 0)));
    assert_eq!(billing.offsets, expected);
    let lag: i64 = billing.offsets.iter().map(KafkaOffset::lag).sum();
    assert_eq!(lag, 2 + 5);
}

#[test]
fn named_groups_are_chosen_and_an_unknown_one_is_dead() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    produce(&bootstrap, &["events"], 2);
    commit(&bootstrap, "seldon-modelgateway-3", "events", 0, 2);
    let listed = vec![
        group("seldon-modelgateway-3", GroupState::Stable, 1, &[]),
        group("other", GroupState::Stable, 1, &[]),
    ];
    let wanted = ["seldon-modelgateway-*".to_string(), "gone".to_string()];
    let obs = observe_mock(&bootstrap, listed, &wanted);
    let names: Vec<&str> = obs.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["gone", "seldon-modelgateway-3"]);
    assert_eq!(obs.groups[0].state, GroupState::Dead);
    assert_eq!(obs.groups[1].offsets[0].committed, Some(2));
    assert_eq!(obs.groups[1].offsets[0].high, 2);
}

#[test]
fn probing_never_creates_a_missing_topic() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    produce(&bootstrap, &["present"], 1);
    // A group assigned a topic that does not exist must not make us ask for it.
    let listed = vec![group("g", GroupState::Stable, 1, &[("absent", 0)])];
    let obs = observe_mock(&bootstrap, listed, &[]);
    assert_eq!(topic_names(&obs), ["present"]);
    assert!(obs.groups[0].offsets.is_empty());

    let again = observe_mock(&bootstrap, vec![], &[]);
    assert_eq!(
        topic_names(&again),
        ["present"],
        "the probe created a topic"
    );

    // The trap this avoids: a producer handle's metadata request for a topic
    // creates it on the mock (as on brokers with auto-creation on).
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    producer
        .client()
        .fetch_metadata(Some("absent"), TIMEOUT)
        .expect("metadata");
    let after = observe_mock(&bootstrap, vec![], &[]);
    assert_eq!(topic_names(&after), ["absent", "present"]);
}

#[test]
fn real_group_listing_failure_keeps_the_topics() {
    // The mock answers no ListGroups: `observe` (the rdkafka path end to end)
    // still reports what metadata said and records why groups are missing.
    let mock = MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    produce(&bootstrap, &["t"], 1);
    let obs = observe(&bootstrap, &[], &[], TIMEOUT);
    assert!(obs.reachable);
    assert_eq!(topic_names(&obs), ["t"]);
    assert!(obs.groups.is_empty());
    let error = obs.error.expect("listing failure recorded");
    assert!(error.starts_with("consumer groups not listed: "), "{error}");
}

#[test]
fn unreachable_bootstrap_answers_within_the_timeout() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    }; // closed again: nothing listens there
    let bootstrap = format!("127.0.0.1:{port}");
    let timeout = Duration::from_millis(1500);
    let start = Instant::now();
    let obs = observe(&bootstrap, &[], &["g".into()], timeout);
    let took = start.elapsed();
    assert!(!obs.reachable);
    assert_eq!(obs.bootstrap, bootstrap);
    assert!(obs.error.as_deref().is_some_and(|e| !e.is_empty()));
    assert!(obs.topics.is_empty() && obs.groups.is_empty());
    assert!(took < timeout + Duration::from_secs(2), "took {took:?}");
}

#[test]
fn bad_settings_are_reported_not_panicked() {
    let settings = vec![("no.such.property".to_string(), "1".to_string())];
    let obs = observe("127.0.0.1:9", &settings, &[], Duration::from_secs(1));
    assert!(!obs.reachable);
    assert!(obs.error.unwrap().contains("no.such.property"));
}

#[test]
fn kfk002_reports_missing_pipeline_topics_seen_on_the_mock() {
    let mock = MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    // The model gateway's topics exist, the dataflow engine's do not.
    let models = [
        "product-classifier-v1",
        "drift-detector",
        "sentiment-analyzer",
        "intent-classifier",
    ];
    let topics: Vec<String> = models
        .iter()
        .flat_map(|m| ["inputs", "outputs"].map(|d| format!("seldon.seldon-mesh.model.{m}.{d}")))
        .collect();
    let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    produce(&bootstrap, &refs, 1);

    let mut view = fixture("seldon-mesh-broken");
    view.kafka = Some(observe_mock(&bootstrap, vec![], &[]));
    let drafts = run("kafka-topics", "seldon: true", &view);
    assert_eq!(drafts.len(), 1, "{drafts:#?}");
    let evidence = drafts[0].evidence.join("\n");
    assert!(
        evidence.contains(&format!("Kafka at {bootstrap} has 8 topics")),
        "{evidence}"
    );
    assert!(
        evidence.contains(
            "missing pipeline topics: seldon.seldon-mesh.pipeline.chatbot-pipeline.inputs, \
             seldon.seldon-mesh.pipeline.chatbot-pipeline.outputs, seldon.seldon-mesh.errors.errors"
        ),
        "{evidence}"
    );
    assert!(!evidence.contains("missing model topics"), "{evidence}");
}

#[test]
fn fake_keeps_validate_only_side_effect_free() {
    let fake = FakeTopics::default();
    fake.existing.lock().unwrap().insert("old".into());
    let spec = |name: &str| NewTopicSpec {
        name: name.into(),
        partitions: 1,
        replication: 1,
        config: vec![],
    };
    let out = fake
        .create_topics(&[spec("old"), spec("new")], true)
        .unwrap();
    assert_eq!(out[0].status, TopicStatus::AlreadyExists);
    assert_eq!(out[1].status, TopicStatus::Created);
    assert!(!fake.existing.lock().unwrap().contains("new"));
    fake.create_topics(&[spec("new")], false).unwrap();
    assert!(fake.existing.lock().unwrap().contains("new"));
}

#[test]
fn create_topics_gives_up_at_its_timeout() {
    // The mock answers no CreateTopics: the real admin must return, not hang.
    let mock = MockCluster::new(1).expect("mock cluster");
    let timeout = Duration::from_millis(500);
    let admin = RdkafkaTopicAdmin::new(&mock.bootstrap_servers(), &[], timeout).expect("admin");
    let spec = NewTopicSpec {
        name: "seldon.seldon-mesh.errors.errors".into(),
        partitions: 1,
        replication: 1,
        config: vec![],
    };
    let start = Instant::now();
    let answer = admin.create_topics(&[spec], true);
    assert!(
        start.elapsed() < timeout + Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    let err = answer.expect_err("the mock cannot create topics");
    assert!(format!("{err:#}").starts_with("CreateTopics"), "{err:#}");
}
