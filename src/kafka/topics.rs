//! Topic creation for fixes (KFK002), behind [`TopicAdmin`]: librdkafka's
//! mock cluster does not answer CreateTopics, so tests use [`doubles`].

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication, TopicResult};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

pub use crate::analyzers::kafka::model::NewTopicSpec;

/// What became of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicStatus {
    /// Created (with `validate_only`: would be created).
    Created,
    /// It was there already: the goal is reached, not an error.
    AlreadyExists,
    /// The broker refused, with its reason.
    Failed(String),
}

impl TopicStatus {
    /// The topic exists (or would) afterwards.
    pub fn is_ok(&self) -> bool {
        !matches!(self, TopicStatus::Failed(_))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicOutcome {
    pub name: String,
    pub status: TopicStatus,
}

/// Creates topics. `Err` means the request as a whole failed (no answer in
/// time, bad client settings); each topic's own result is in its outcome.
pub trait TopicAdmin {
    fn create_topics(
        &self,
        topics: &[NewTopicSpec],
        validate_only: bool,
    ) -> anyhow::Result<Vec<TopicOutcome>>;
}

/// [`TopicAdmin`] over rdkafka's `AdminClient` (CreateTopics). Blocks the
/// calling thread for at most the timeout.
pub struct RdkafkaTopicAdmin {
    client: AdminClient<DefaultClientContext>,
    timeout: Duration,
}

impl RdkafkaTopicAdmin {
    /// An admin client for `bootstrap` with the `--kafka-config` settings.
    pub fn new(
        bootstrap: &str,
        settings: &[(String, String)],
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let client = super::client_config(bootstrap, settings)
            .create()
            .context("creating the Kafka admin client")?;
        Ok(Self { client, timeout })
    }
}

impl TopicAdmin for RdkafkaTopicAdmin {
    fn create_topics(
        &self,
        topics: &[NewTopicSpec],
        validate_only: bool,
    ) -> anyhow::Result<Vec<TopicOutcome>> {
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| NewTopic {
                name: &t.name,
                num_partitions: t.partitions,
                replication: TopicReplication::Fixed(t.replication),
                config: t
                    .config
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            })
            .collect();
        let options = AdminOptions::new()
            .validate_only(validate_only)
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout));
        // The broker-side timeouts bound the answer; the margin covers the
        // client's own connection setup.
        let wait = self.timeout + Duration::from_secs(1);
        let Some(answer) = block_on(self.client.create_topics(&new, &options), wait) else {
            bail!(
                "CreateTopics: no answer within {}s",
                wait.as_secs_f64().ceil()
            );
        };
        Ok(answer
            .context("CreateTopics")?
            .into_iter()
            .map(outcome)
            .collect())
    }
}

fn outcome(result: TopicResult) -> TopicOutcome {
    match result {
        Ok(name) => TopicOutcome {
            name,
            status: TopicStatus::Created,
        },
        Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => TopicOutcome {
            name,
            status: TopicStatus::AlreadyExists,
        },
        Err((name, code)) => TopicOutcome {
            name,
            status: TopicStatus::Failed(format!("{code:?}: {code}")),
        },
    }
}

/// Poll `future` on this thread until it is ready or `timeout` has passed.
fn block_on<F: Future>(future: F, timeout: Duration) -> Option<F::Output> {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let deadline = Instant::now() + timeout;
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        thread::park_timeout(left);
    }
}

#[cfg(test)]
pub(crate) mod doubles {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;

    /// A [`TopicAdmin`] over a set of existing topic names; `refuse` names
    /// topics the "broker" refuses.
    #[derive(Default)]
    pub(crate) struct FakeTopics {
        pub existing: Mutex<BTreeSet<String>>,
        pub refuse: BTreeSet<String>,
    }

    impl TopicAdmin for FakeTopics {
        fn create_topics(
            &self,
            topics: &[NewTopicSpec],
            validate_only: bool,
        ) -> anyhow::Result<Vec<TopicOutcome>> {
            let mut existing = self.existing.lock().expect("not poisoned");
            Ok(topics
                .iter()
                .map(|t| {
                    let status = if existing.contains(&t.name) {
                        TopicStatus::AlreadyExists
                    } else if self.refuse.contains(&t.name) {
                        TopicStatus::Failed("PolicyViolation: refused".into())
                    } else {
                        if !validate_only {
                            existing.insert(t.name.clone());
                        }
                        TopicStatus::Created
                    };
                    TopicOutcome {
                        name: t.name.clone(),
                        status,
                    }
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_exists_is_success() {
        let o = outcome(Err(("t".into(), RDKafkaErrorCode::TopicAlreadyExists)));
        assert_eq!(o.status, TopicStatus::AlreadyExists);
        assert!(o.status.is_ok());
        let o = outcome(Err(("t".into(), RDKafkaErrorCode::PolicyViolation)));
        assert!(matches!(&o.status, TopicStatus::Failed(m) if m.starts_with("PolicyViolation")));
        assert!(!o.status.is_ok());
        assert_eq!(outcome(Ok("t".into())).status, TopicStatus::Created);
    }

    #[test]
    fn block_on_gives_up_at_the_timeout() {
        let start = Instant::now();
        let never = std::future::pending::<()>();
        assert_eq!(block_on(never, Duration::from_millis(50)), None);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(block_on(async { 7 }, Duration::from_millis(50)), Some(7));
    }
}
