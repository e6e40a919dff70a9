//! `mlopsctl undo`: each journaled change taken back, newest first. A patched
//! object gets its journaled content back (a JSON patch from how it is now to
//! how it was, guarded by its resourceVersion); a deleted object is created
//! again without the fields the server sets; a created object is deleted. An
//! object changed since the fix is left alone unless `--force`. Kafka topics
//! are never deleted: messages written since would be lost.

use super::client::{Cluster, WriteError};
use super::executor::{content, guarded, resource_version, same_content};
use super::journal::{Change as Journaled, Journal, State};
use crate::plan::Change;

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
                Some(after) => resource_version(after) != resource_version(&now),
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
                        after.and_then(resource_version).unwrap_or("?"),
                        resource_version(&now).unwrap_or("?")
                    )
                });
            }
            let patch = json_patch::diff(&content(&now), &content(before));
            let restoring = guarded(resource_version(&now), patch.0);
            match cluster.patch(target, &restoring, false) {
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
            let moved = after.is_none_or(|a| resource_version(a) != resource_version(&now));
            if moved && !force {
                return Undone::Refused(format!(
                    "{target} was created by the fix and changed since: --force deletes it anyway"
                ));
            }
            match cluster.delete(target, resource_version(&now), false) {
                Ok(()) => Undone::Restored,
                Err(e) => Undone::Failed(format!("{target}: {e}")),
            }
        }
        (None, None) => Undone::AlreadyAsBefore,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::{Value, json};

    use super::*;
    use crate::changes::journal::Run;
    use crate::changes::memory::Memory;
    use crate::cluster::ObjectRef;
    use crate::findings::Applicability;
    use crate::plan::Operation;

    fn server(replicas: i64) -> Value {
        json!({"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Server",
               "metadata": {"name": "mlserver", "namespace": "s"},
               "spec": {"replicas": replicas}})
    }

    fn target() -> ObjectRef {
        ObjectRef::new("mlops.seldon.io/v1alpha1", "Server", Some("s"), "mlserver")
    }

    /// A run that died after journaling the change as pending.
    fn interrupted(memory: &Memory, dir: &std::path::Path) -> (Run, Journal) {
        let before = memory.get(&target()).unwrap().unwrap();
        let meta = ObjectMeta {
            resource_version: before["metadata"]["resourceVersion"]
                .as_str()
                .map(String::from),
            ..Default::default()
        };
        let op = Operation::patch(&target(), &meta, Applicability::Safe)
            .replace("/spec/replicas", json!(3));
        let mut journal = Journal::create(dir, "s", "c").unwrap();
        journal.pending("SEL003", &op, Some(&before)).unwrap();
        (Run::read(journal.path()).unwrap(), journal)
    }

    fn scale(memory: &Memory, to: i64) {
        let ops = serde_json::from_value::<Vec<json_patch::PatchOperation>>(
            json!([{"op": "replace", "path": "/spec/replicas", "value": to}]),
        )
        .unwrap();
        memory.patch(&target(), &ops, false).unwrap();
    }

    #[test]
    fn an_interrupted_change_that_never_happened_needs_nothing() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let (run, mut journal) = interrupted(&memory, dir.path());
        let change = run.to_undo().next().unwrap();
        assert_eq!(
            undo(change, &memory, &mut journal, false).unwrap(),
            Undone::AlreadyAsBefore
        );
    }

    #[test]
    fn an_interrupted_change_that_happened_is_restored_only_when_forced() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let (run, mut journal) = interrupted(&memory, dir.path());
        scale(&memory, 3);
        let change = run.to_undo().next().unwrap();
        let refused = undo(change, &memory, &mut journal, false).unwrap();
        assert!(
            matches!(&refused, Undone::Refused(why) if why.contains("--force")),
            "{refused:?}"
        );
        assert_eq!(
            memory.get(&target()).unwrap().unwrap()["spec"]["replicas"],
            3
        );
        assert_eq!(
            undo(change, &memory, &mut journal, true).unwrap(),
            Undone::Restored
        );
        assert_eq!(
            memory.get(&target()).unwrap().unwrap()["spec"]["replicas"],
            1
        );
        let run = Run::read(journal.path()).unwrap();
        assert_eq!(run.to_undo().count(), 0, "journaled as undone");
    }
}
