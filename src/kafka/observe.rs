//! [`observe`]: the whole `kafka.yaml` observation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::groups::{self, GroupAdmin, GroupInfo, RdkafkaGroupAdmin};
use super::metadata::{self, Layout};
use crate::cluster::{GroupState, KafkaGroup, KafkaObservation, KafkaOffset};

/// Observe the Kafka at `bootstrap` (`HOST:PORT[,HOST:PORT…]`) with the
/// librdkafka properties in `settings` (SASL/SSL, from `--kafka-config`).
///
/// `groups` names the consumer groups to describe (`*` wildcards allowed);
/// empty means every group the brokers list. The whole observation is bounded
/// by `timeout`: an unreachable broker or a metadata timeout gives
/// `reachable: false` with the error; a failure after the metadata answered
/// (group listing, offsets) keeps `reachable: true` and records the error.
///
/// Blocks the calling thread: call it from a plain thread or `spawn_blocking`.
pub fn observe(
    bootstrap: &str,
    settings: &[(String, String)],
    groups: &[String],
    timeout: Duration,
) -> KafkaObservation {
    let deadline = Instant::now() + timeout;
    let config = super::client_config(bootstrap, settings);
    let consumer: BaseConsumer = match config.create() {
        Ok(c) => c,
        Err(e) => return unreachable(bootstrap, e.to_string()),
    };
    let admin = RdkafkaGroupAdmin::new(&consumer, deadline);
    observe_with(&config, &consumer, &admin, groups, deadline)
}

/// [`observe`] with the handles given: `consumer` is a consumer handle made
/// from `config` (never a producer's: its metadata request would create
/// topics), `admin` lists the groups (a test double where ListGroups is not
/// answered, as on librdkafka's mock cluster).
pub fn observe_with(
    config: &ClientConfig,
    consumer: &BaseConsumer,
    admin: &dyn GroupAdmin,
    groups: &[String],
    deadline: Instant,
) -> KafkaObservation {
    let bootstrap = config.get("bootstrap.servers").unwrap_or_default();
    let layout = match metadata::read(consumer, remaining(deadline)) {
        Ok(layout) => layout,
        Err(e) => return unreachable(bootstrap, e),
    };
    let mut errors = Vec::new();
    let groups = match admin.list_groups() {
        Ok(listed) => describe(
            config,
            consumer,
            &layout,
            listed,
            groups,
            deadline,
            &mut errors,
        ),
        Err(e) => {
            errors.push(format!("consumer groups not listed: {e}"));
            Vec::new()
        }
    };
    KafkaObservation {
        bootstrap: bootstrap.to_string(),
        reachable: true,
        error: summary(&errors),
        brokers: layout.brokers,
        topics: layout.topics,
        groups,
    }
}

/// The first errors, and how many more: a broker gone mid-way fails every
/// partition the same way.
fn summary(errors: &[String]) -> Option<String> {
    const SHOWN: usize = 3;
    match errors.len() {
        0 => None,
        n if n <= SHOWN => Some(errors.join("; ")),
        n => Some(format!(
            "{}; and {} more",
            errors[..SHOWN].join("; "),
            n - SHOWN
        )),
    }
}

fn unreachable(bootstrap: &str, error: String) -> KafkaObservation {
    KafkaObservation {
        bootstrap: bootstrap.to_string(),
        reachable: false,
        error: Some(error),
        ..KafkaObservation::default()
    }
}

/// What is left of the budget; librdkafka treats zero as "do not wait".
fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// The wanted groups with their offsets. A named group the brokers do not
/// list is reported `Dead` with no members, as DescribeGroups would.
fn describe(
    config: &ClientConfig,
    consumer: &BaseConsumer,
    layout: &Layout,
    listed: Vec<GroupInfo>,
    wanted: &[String],
    deadline: Instant,
    errors: &mut Vec<String>,
) -> Vec<KafkaGroup> {
    let patterns: Vec<wildmatch::WildMatch> = wanted
        .iter()
        .map(|p| wildmatch::WildMatch::new(p))
        .collect();
    let mut chosen: BTreeMap<String, GroupInfo> = listed
        .into_iter()
        .filter(|g| patterns.is_empty() || patterns.iter().any(|p| p.matches(&g.name)))
        .map(|g| (g.name.clone(), g))
        .collect();
    for name in wanted.iter().filter(|w| !w.contains(['*', '?'])) {
        chosen.entry(name.clone()).or_insert_with(|| GroupInfo {
            name: name.clone(),
            state: GroupState::Dead,
            members: 0,
            assigned: Vec::new(),
        });
    }
    // Every partition of every user topic: the group's committed offsets tell
    // which topics it consumes, its assignment tells the rest.
    let all: Vec<(String, i32)> = layout
        .partitions
        .iter()
        .filter(|t| !t.name.starts_with("__"))
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.clone(), *p)))
        .collect();
    let partitions_of: BTreeMap<&str, &[i32]> = layout
        .partitions
        .iter()
        .map(|t| (t.name.as_str(), t.partitions.as_slice()))
        .collect();
    let mut highs: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, info) in chosen {
        if remaining(deadline).is_zero() {
            errors.push(format!(
                "out of time before reading consumer group {name} and later ones"
            ));
            break;
        }
        let committed = match groups::committed(config, &name, &all, remaining(deadline)) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("committed offsets of group {name}: {e}"));
                Vec::new()
            }
        };
        let mut topics: BTreeSet<&str> = info.assigned.iter().map(|(t, _)| t.as_str()).collect();
        topics.extend(
            committed
                .iter()
                .filter(|(_, _, c)| c.is_some())
                .map(|(t, _, _)| t.as_str()),
        );
        let committed: BTreeMap<(&str, i32), Option<i64>> = committed
            .iter()
            .map(|(t, p, c)| ((t.as_str(), *p), *c))
            .collect();
        let mut offsets = Vec::new();
        for topic in topics {
            let Some(partitions) = partitions_of.get(topic) else {
                continue; // assigned, but the topic is gone
            };
            for &partition in *partitions {
                let key = (topic.to_string(), partition);
                let high = match highs.get(&key) {
                    Some(h) => *h,
                    None => {
                        match consumer.fetch_watermarks(topic, partition, remaining(deadline)) {
                            Ok((_, h)) => *highs.entry(key).or_insert(h),
                            Err(e) => {
                                errors.push(format!("high watermark of {topic}/{partition}: {e}"));
                                continue;
                            }
                        }
                    }
                };
                offsets.push(KafkaOffset {
                    topic: topic.to_string(),
                    partition,
                    committed: committed.get(&(topic, partition)).copied().flatten(),
                    high,
                });
            }
        }
        out.push(KafkaGroup {
            name,
            state: info.state,
            members: info.members,
            offsets,
        });
    }
    out
}
