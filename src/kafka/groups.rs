//! Consumer groups: listing and describing them (behind [`GroupAdmin`],
//! because librdkafka's mock cluster answers neither ListGroups nor
//! DescribeGroups) and reading a group's committed offsets (rdkafka directly).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::cluster::GroupState;

/// One consumer group as ListGroups + DescribeGroups report it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    pub name: String,
    pub state: GroupState,
    /// Active members.
    pub members: u32,
    /// Topic-partitions assigned to the members (consumer protocol only).
    pub assigned: Vec<(String, i32)>,
}

/// Lists the broker's consumer groups with their state and members.
pub trait GroupAdmin {
    fn list_groups(&self) -> anyhow::Result<Vec<GroupInfo>>;
}

/// [`GroupAdmin`] over rdkafka's `fetch_group_list` (ListGroups on every
/// broker, then DescribeGroups), answering by `deadline`.
pub struct RdkafkaGroupAdmin<'a> {
    consumer: &'a BaseConsumer,
    deadline: Instant,
}

impl<'a> RdkafkaGroupAdmin<'a> {
    pub fn new(consumer: &'a BaseConsumer, deadline: Instant) -> Self {
        Self { consumer, deadline }
    }
}

impl GroupAdmin for RdkafkaGroupAdmin<'_> {
    fn list_groups(&self) -> anyhow::Result<Vec<GroupInfo>> {
        let list = self.consumer.fetch_group_list(
            None,
            self.deadline.saturating_duration_since(Instant::now()),
        )?;
        Ok(list
            .groups()
            .iter()
            .map(|g| {
                let assigned = if g.protocol_type() == "consumer" {
                    g.members()
                        .iter()
                        .filter_map(|m| m.assignment())
                        .flat_map(parse_assignment)
                        .collect()
                } else {
                    Vec::new()
                };
                GroupInfo {
                    name: g.name().to_string(),
                    state: parse_state(g.state()),
                    members: u32::try_from(g.members().len()).unwrap_or(u32::MAX),
                    assigned,
                }
            })
            .collect())
    }
}

/// Group states as the brokers name them; `AwaitingSync` is the pre-2.0 name
/// of `CompletingRebalance`.
fn parse_state(state: &str) -> GroupState {
    match state {
        "Stable" => GroupState::Stable,
        "Empty" => GroupState::Empty,
        "PreparingRebalance" => GroupState::PreparingRebalance,
        "CompletingRebalance" | "AwaitingSync" => GroupState::CompletingRebalance,
        "Dead" => GroupState::Dead,
        _ => GroupState::Unknown,
    }
}

/// The topic-partitions of a consumer-protocol member assignment
/// (`version: int16, [topic: string, [partition: int32]], user_data: bytes`).
/// An assignment that does not parse counts as empty.
fn parse_assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    fn take<'b>(bytes: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, tail) = bytes.split_at_checked(n)?;
        *bytes = tail;
        Some(head)
    }
    fn int16(bytes: &mut &[u8]) -> Option<i16> {
        take(bytes, 2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn int32(bytes: &mut &[u8]) -> Option<i32> {
        take(bytes, 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn parse(mut bytes: &[u8]) -> Option<Vec<(String, i32)>> {
        let bytes = &mut bytes;
        int16(bytes)?; // version
        let mut out = Vec::new();
        for _ in 0..int32(bytes)?.max(0) {
            let len = usize::try_from(int16(bytes)?).ok()?;
            let topic = String::from_utf8(take(bytes, len)?.to_vec()).ok()?;
            for _ in 0..int32(bytes)?.max(0) {
                out.push((topic.clone(), int32(bytes)?));
            }
        }
        Some(out)
    }
    parse(bytes).unwrap_or_default()
}

/// The group's committed offset per asked partition (`None`: never committed),
/// read with a consumer carrying the group's `group.id` that never joins the
/// group (no subscribe) and never commits.
pub(super) fn committed(
    config: &ClientConfig,
    group: &str,
    partitions: &[(String, i32)],
    timeout: Duration,
) -> anyhow::Result<Vec<(String, i32, Option<i64>)>> {
    let consumer: BaseConsumer = config.clone().set("group.id", group).create()?;
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in partitions {
        tpl.add_partition(topic, *partition);
    }
    let answered = consumer.committed_offsets(tpl, timeout)?;
    Ok(answered
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(n) => Some(n),
                _ => None,
            };
            (e.topic().to_string(), e.partition(), offset)
        })
        .collect())
}

#[cfg(test)]
pub(crate) mod doubles {
    use super::*;

    /// A [`GroupAdmin`] that answers what it was given.
    pub(crate) struct StaticGroups(pub Result<Vec<GroupInfo>, String>);

    impl GroupAdmin for StaticGroups {
        fn list_groups(&self) -> anyhow::Result<Vec<GroupInfo>> {
            self.0.clone().map_err(anyhow::Error::msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut b = 1i16.to_be_bytes().to_vec();
        b.extend((topics.len() as i32).to_be_bytes());
        for (t, ps) in topics {
            b.extend((t.len() as i16).to_be_bytes());
            b.extend(t.as_bytes());
            b.extend((ps.len() as i32).to_be_bytes());
            for p in *ps {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes()); // null user data
        b
    }

    #[test]
    fn consumer_assignment_parses() {
        let bytes = assignment(&[("a", &[0, 2]), ("bb", &[1])]);
        assert_eq!(
            parse_assignment(&bytes),
            vec![("a".into(), 0), ("a".into(), 2), ("bb".into(), 1)]
        );
    }

    #[test]
    fn truncated_assignment_is_empty() {
        let bytes = assignment(&[("topic", &[0, 1])]);
        assert!(parse_assignment(&bytes[..bytes.len() - 9]).is_empty());
        assert!(parse_assignment(&[]).is_empty());
    }

    #[test]
    fn states_map_with_the_old_name() {
        assert_eq!(parse_state("AwaitingSync"), GroupState::CompletingRebalance);
        assert_eq!(parse_state("Stable"), GroupState::Stable);
        assert_eq!(parse_state("Whatever"), GroupState::Unknown);
    }
}
