//! `mlopsctl undo`: each journaled change taken back, newest first. A patched
//! object gets its journaled content back (a JSON patch from how it is now to
//! how it was, guarded by its resourceVersion); a deleted object is created
//! again without the fields the server sets; a created object is deleted. An
//! object changed since the fix is left alone unless `--force`. Kafka topics
//! are never deleted: messages written since would be lost.

use serde_json::Value;

use super::client::{Cluster, WriteError};
use super::executor::{content, guarded, same_content};
use super::journal::{Change as Journaled, Journal, State};
use crate::findings::Applicability;
use crate::plan::{Change, Operation};

/// What undo did with one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    /// The object is as it was before the fix again.
    Restored,
    /// It already was (an interrupted change that never happened, say).
    AlreadyAsBefore,
    /// Left alone, with the reason and what to do.
    Refused(String),
    /// The restore was refused by the server or could not be sent.
    Failed(String),
}

impl Undone {
    pub fn is_done(&self) -> bool {
        matches!(self, Undone::Restored | Undone::AlreadyAsBefore)
    }
}

/// Take back one journaled change; journal it when done.
pub fn undo(
    change: &Journaled,
    cluster: &dyn Cluster,
    journal: &mut Journal,
    force: bool,
) -> anyhow::Result<Undone> {
    let outcome = restore(change, cluster, force);
    if outcome.is_done() {
        journal.undone(change.seq)?;
    }
    Ok(outcome)
}

fn restore(change: &Journaled, cluster: &dyn Cluster, force: bool) -> Undone {
    let target = &change.operation.target;
    if let Change::CreateTopic(topic) = &change.operation.change {
        return Undone::Refused(format!(
            "topic {} is not deleted: messages written to it since would be lost; delete it \
             with kafka-topics.sh --delete --topic {} if that is meant",
            topic.name, topic.name
        ));
    }
    let now = match cluster.get(target) {
        Ok(now) => now,
        Err(e) => return Undone::Failed(format!("cannot read {target}: {e}")),
    };
    let after = match &change.state {
        State::Applied { after } => after.as_ref(),
        _ => None,
    };
    let interrupted = change.state == State::Interrupted;
    match (&change.before, now) {
        // It was there before.
        (Some(before), Some(now)) => {
            if same_content(before, &now) {
                return Undone::AlreadyAsBefore;
            }
            let moved = match after {
                Some(after) => rv(after) != rv(&now),
                None => true,
            };
            if moved && !force {
                return Undone::Refused(if interrupted {
                    format!(
                        "the run stopped while changing {target}, and it differs from the \
                         journal: by that change or another. --force restores it as journaled"
                    )
                } else {
                    format!(
                        "{target} changed since the fix (resourceVersion {} then, {} now): \
                         --force restores it anyway, losing that change",
                        after.and_then(rv).unwrap_or("?"),
                        rv(&now).unwrap_or("?")
                    )
                });
            }
            let patch = json_patch::diff(&content(&now), &content(before));
            let restoring = Operation {
                change: Change::JsonPatch(patch.0),
                ..Operation::patch(target, &Default::default(), Applicability::Safe)
            };
            match cluster.patch(target, &guarded(&restoring, rv(&now)), false) {
                Ok(restored) if same_content(&restored, before) => Undone::Restored,
                Ok(_) => Undone::Failed(format!(
                    "{target} was patched, but the server's answer differs from the journal \
                     (a webhook or defaulting changed it)"
                )),
                Err(e) => Undone::Failed(format!("{target}: {e}")),
            }
        }
        // It was deleted: create it again.
        (Some(before), None) => match cluster.create(&content(before), false) {
            Ok(_) => Undone::Restored,
            Err(WriteError::Conflict(m)) => Undone::Refused(format!("{target} exists again: {m}")),
            Err(e) => Undone::Failed(format!("{target}: {e}")),
        },
        // It was created: delete it.
        (None, Some(now)) => {
            let moved = after.is_none_or(|a| rv(a) != rv(&now));
            if moved && !force {
                return Undone::Refused(format!(
                    "{target} was created by the fix and changed since: --force deletes it anyway"
                ));
            }
            match cluster.delete(target, rv(&now), false) {
                Ok(()) => Undone::Restored,
                Err(e) => Undone::Failed(format!("{target}: {e}")),
            }
        }
        (None, None) => Undone::AlreadyAsBefore,
    }
}

fn rv(object: &Value) -> Option<&str> {
    object["metadata"]["resourceVersion"].as_str()
}
