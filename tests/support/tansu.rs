//! A real Kafka-protocol broker for tests: tansu (in memory, one broker),
//! started from `MLOPSCTL_TEST_TANSU` on a free loopback port, one per test,
//! stopped when dropped (and by pid at exit, like the control plane).
//!
//! [`Broker::mirror`] makes a fixture's `kafka.yaml` true of the broker:
//! its topics, messages up to each partition's high watermark, each
//! group's committed offsets, and, for a group the fixture saw with members,
//! as many consumers holding the group for as long as the mirror lives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mlopsctl::cluster::KafkaObservation;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::envtest::{free_port, spawn_process, stop, tail};

/// The broker binary, or `None` (after saying once how to get one).
pub fn binary() -> Option<PathBuf> {
    static SAID: Once = Once::new();
    match std::env::var_os("MLOPSCTL_TEST_TANSU").filter(|v| !v.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            SAID.call_once(|| {
                super::skip::skipped(
                    "the real-broker tests need MLOPSCTL_TEST_TANSU \
                     (export MLOPSCTL_TEST_TANSU=$(../shared/kafka/install.sh))",
                );
            });
            None
        }
    }
}

/// One running broker.
pub struct Broker {
    /// `127.0.0.1:PORT`.
    pub bootstrap: String,
    pid: u32,
}

impl Drop for Broker {
    fn drop(&mut self) {
        stop(self.pid);
    }
}

impl Broker {
    /// Start a broker; `None` without `MLOPSCTL_TEST_TANSU`.
    pub fn start() -> Option<Broker> {
        let binary = binary()?;
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log =
            std::env::temp_dir().join(format!("mlopsctl-tansu-{}-{port}.log", std::process::id()));
        let mut command = std::process::Command::new(&binary);
        command
            .args(["broker", "--storage-engine", "memory://tansu/"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url]);
        let pid = spawn_process(command, &log, &binary);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tansu did not listen on {port}:\n{}",
                tail(&log, 30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            pid,
        })
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("socket.timeout.ms", "10000")
            .set("allow.auto.create.topics", "false");
        config
    }

    /// Create topics (one broker: replication 1, whatever the fixture had).
    pub fn create_topics(&self, topics: &[(&str, i32)]) {
        let admin: AdminClient<DefaultClientContext> = self.config().create().unwrap();
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = futures::executor::block_on(admin.create_topics(&new, &options)).unwrap();
        for r in results {
            if let Err((name, e)) = r {
                panic!("cannot create topic {name} on tansu: {e}");
            }
        }
    }

    /// The topics the broker has.
    pub fn topics(&self) -> Vec<String> {
        let consumer: BaseConsumer = self.config().create().unwrap();
        let metadata = consumer
            .fetch_metadata(None, Duration::from_secs(10))
            .unwrap();
        metadata
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .collect()
    }

    /// Make the broker hold what `kafka.yaml` of `fixture` observed.
    pub fn mirror(&self, fixture: &Path) -> Mirror {
        let text = std::fs::read_to_string(fixture.join("kafka.yaml")).unwrap();
        let observed: KafkaObservation = mlopsctl::yaml::from_str(&text).unwrap();
        let topics: Vec<(&str, i32)> = observed
            .topics
            .iter()
            .filter(|t| !t.name.starts_with("__"))
            .map(|t| (t.name.as_str(), t.partitions as i32))
            .collect();
        if !topics.is_empty() {
            self.create_topics(&topics);
        }
        // Messages up to each partition's high watermark.
        let mut high: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for o in observed.groups.iter().flat_map(|g| &g.offsets) {
            let h = high.entry((o.topic.clone(), o.partition)).or_default();
            *h = (*h).max(o.high);
        }
        // One message a batch: tansu 0.6.0 advances a partition's offsets
        // by one per record batch, not per record. Idempotent, so a batch
        // retried after a timeout on a loaded machine is not written twice.
        let producer: BaseProducer = self
            .config()
            .set("batch.num.messages", "1")
            .set("linger.ms", "0")
            .set("enable.idempotence", "true")
            .create()
            .unwrap();
        for ((topic, partition), count) in &high {
            for i in 0..*count {
                let payload = format!("message {i}");
                let mut record = BaseRecord::<(), _>::to(topic)
                    .partition(*partition)
                    .payload(&payload);
                while let Err((e, back)) = producer.send(record) {
                    assert!(
                        e.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::QueueFull),
                        "produce to {topic}/{partition}: {e}"
                    );
                    producer.poll(Duration::from_millis(10));
                    record = back;
                }
                producer.poll(Duration::ZERO);
            }
        }
        producer.flush(Duration::from_secs(120)).unwrap();
        // Committed offsets, while the groups have no members.
        for group in &observed.groups {
            let mut offsets = TopicPartitionList::new();
            for o in &group.offsets {
                if let Some(committed) = o.committed {
                    offsets
                        .add_partition_offset(&o.topic, o.partition, Offset::Offset(committed))
                        .unwrap();
                }
            }
            if offsets.count() == 0 {
                continue;
            }
            let consumer: BaseConsumer = self
                .config()
                .set("group.id", &group.name)
                .set("enable.auto.commit", "false")
                .create()
                .unwrap();
            consumer
                .commit(&offsets, CommitMode::Sync)
                .unwrap_or_else(|e| panic!("commit for group {}: {e}", group.name));
        }
        // Members: consumers that hold the group while the mirror lives.
        let running = Arc::new(AtomicBool::new(true));
        let mut members = Vec::new();
        for group in observed.groups.iter().filter(|g| g.members > 0) {
            let mut topics: Vec<String> = group.offsets.iter().map(|o| o.topic.clone()).collect();
            topics.sort();
            topics.dedup();
            for _ in 0..group.members {
                let consumer: BaseConsumer = self
                    .config()
                    .set("group.id", &group.name)
                    .set("enable.auto.commit", "false")
                    .set("session.timeout.ms", "30000")
                    .create()
                    .unwrap();
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                consumer.subscribe(&names).unwrap();
                let running = running.clone();
                members.push(std::thread::spawn(move || {
                    while running.load(Ordering::SeqCst) {
                        // Messages are read, never committed: the group's
                        // committed offsets stay as the fixture has them.
                        let _ = consumer.poll(Duration::from_millis(100));
                    }
                }));
            }
        }
        Mirror {
            running,
            members,
            groups: observed.groups.iter().filter(|g| g.members > 0).count(),
        }
    }
}

/// Consumers holding the fixture's groups.
pub struct Mirror {
    running: Arc<AtomicBool>,
    members: Vec<std::thread::JoinHandle<()>>,
    /// Groups held by members.
    pub groups: usize,
}

impl Mirror {
    /// Wait until every held group has its members (a rebalance takes a few seconds).
    pub fn wait_stable(&self, broker: &Broker, groups: &[&str]) {
        let start = Instant::now();
        loop {
            let observed = mlopsctl::kafka::observe(
                &broker.bootstrap,
                &[],
                &groups.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
                Duration::from_secs(10),
            );
            let stable = observed
                .groups
                .iter()
                .filter(|g| g.state == mlopsctl::cluster::GroupState::Stable)
                .count();
            if stable == self.groups {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the mirrored groups never became stable: {:#?}",
                observed.groups
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        for m in self.members.drain(..) {
            let _ = m.join();
        }
    }
}
