//! `mlopsctl undo`: the changes of a run taken back, fix by fix (a group),
//! newest first, deciding everything on the objects as they are now.
//!
//! - A patch is taken back field by field: each field the fix changed that
//!   still holds what the fix set gets its old value back, in one JSON patch
//!   whose `test`s are the values the fix set. Every other change made since
//!   (a controller's status, a `kubectl scale`, an annotation) is kept. A
//!   field changed since is drift: the fix is left alone, naming the field
//!   and both values; `--force` restores that field too, and only it.
//! - An object the fix deleted is created again, without the fields the
//!   server sets; one the fix patched and someone deleted since stays deleted.
//! - An object the fix created is deleted (by uid), unless the fields the fix
//!   gave it changed since.
//! - Kafka topics are never deleted: messages written since would be lost.
//!
//! A group is taken back whole or not at all: nothing is written while any of
//! its changes is left alone, the server validates every step first
//! (`dryRun=All`: RBAC, admission), and if a step still fails, the steps
//! already taken are put back, so the cluster never holds half a fix.

use json_patch::PatchOperation;
use serde_json::Value;

use super::client::{Cluster, Guard, WriteError};
use super::fields::{self, Drift, FieldChange};
use super::journal::{Change, Effect, Journal};
use super::object::{content, uid};
use crate::cluster::ObjectRef;

/// How one object gets back to where it was before the fix.
#[derive(Debug, Clone, PartialEq)]
pub enum Restore {
    /// A JSON patch (`test`s first); `now` is the object as read, `after`
    /// as the patch leaves it.
    Patch {
        ops: Vec<PatchOperation>,
        now: Value,
        after: Value,
    },
    /// Create the object the fix deleted.
    Create { object: Value },
    /// Delete the object the fix created.
    Delete { uid: String, now: Value },
    /// Nothing to write, and why.
    Nothing(Nothing),
}

/// Why a change needs no write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nothing {
    /// It is as before the fix (an interrupted change that never happened).
    AsBefore,
    /// The object the fix patched was deleted since: it stays deleted.
    DeletedSince,
    /// The object the fix deleted exists again, made by someone since.
    ExistsAgain,
}

/// Why a change is left alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocked {
    /// Fields the fix set hold other values now.
    Drift(Vec<Drift>),
    /// The object of that name is another one than the fix created.
    Replaced,
    /// A Kafka topic: never deleted.
    Topic(String),
    /// The object cannot be read.
    Unreadable(String),
}

/// One write of an undo: the changes it takes back (one object's, newest
/// first) and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub target: ObjectRef,
    pub changes: Vec<u32>,
    pub restore: Result<Restore, Blocked>,
    /// Fields changed since that `--force` restores anyway.
    pub forced: Vec<Drift>,
}

/// A group's undo, planned on the objects as they are now.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    pub group: u32,
    pub finding: String,
    pub steps: Vec<Step>,
}

impl GroupPlan {
    /// Whether any change of the group is left alone (then none is taken back).
    pub fn blocked(&self) -> bool {
        self.steps.iter().any(|s| s.restore.is_err())
    }

    /// Whether taking the group back writes anything.
    pub fn writes(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s.restore, Ok(ref r) if !matches!(r, Restore::Nothing(_))))
    }
}

/// Plan the undo of one group (its changes newest first).
pub fn plan(changes: &[&Change], cluster: &dyn Cluster, force: bool) -> GroupPlan {
    let mut steps: Vec<Step> = Vec::new();
    for change in changes {
        let target = change.operation.target.clone();
        // A later change of the same object in this group was planned
        // already: plan on the object as that step leaves it, in one patch.
        let merged = steps
            .iter_mut()
            .rev()
            .find(|s| s.target == target && matches!(s.restore, Ok(Restore::Patch { .. })));
        if let (Some(step), Effect::Patched { fields }) = (merged, &change.effect) {
            let Ok(Restore::Patch { ops, after, .. }) = &mut step.restore else {
                unreachable!("found as a patch");
            };
            match restore_fields(after, fields, force) {
                Ok((more, changed, forced)) => {
                    ops.extend(more);
                    *after = changed;
                    step.forced.extend(forced);
                }
                Err(drift) => step.restore = Err(Blocked::Drift(drift)),
            }
            step.changes.push(change.seq);
            continue;
        }
        let (restore, forced) = match plan_one(change, cluster, force) {
            Ok((r, f)) => (Ok(r), f),
            Err(b) => (Err(b), Vec::new()),
        };
        steps.push(Step {
            target,
            changes: vec![change.seq],
            restore,
            forced,
        });
    }
    GroupPlan {
        group: changes.first().map_or(0, |c| c.group),
        finding: changes
            .first()
            .map_or_else(String::new, |c| c.finding.clone()),
        steps,
    }
}

type Planned = Result<(Restore, Vec<Drift>), Blocked>;

fn plan_one(change: &Change, cluster: &dyn Cluster, force: bool) -> Planned {
    let target = &change.operation.target;
    if matches!(change.effect, Effect::Topic) {
        return Err(Blocked::Topic(format!(
            "topic {} is not deleted: messages written to it since would be lost; delete it \
             with kafka-topics.sh --delete --topic {} if that is meant",
            target.name, target.name
        )));
    }
    let now = cluster
        .get(target)
        .map_err(|e| Blocked::Unreadable(format!("cannot read {target}: {e}")))?;
    match (&change.effect, now) {
        (Effect::Patched { .. }, None) => Ok((Restore::Nothing(Nothing::DeletedSince), Vec::new())),
        (Effect::Patched { fields }, Some(now)) => {
            let (ops, after, forced) =
                restore_fields(&now, fields, force).map_err(Blocked::Drift)?;
            let restore = if ops.is_empty() {
                Restore::Nothing(Nothing::AsBefore)
            } else {
                Restore::Patch { ops, now, after }
            };
            Ok((restore, forced))
        }
        (Effect::Deleted { object }, Some(now)) => Ok((
            Restore::Nothing(if uid(&now) == uid(object) {
                // The run stopped before the delete was made.
                Nothing::AsBefore
            } else {
                Nothing::ExistsAgain
            }),
            Vec::new(),
        )),
        (Effect::Deleted { object }, None) => Ok((
            Restore::Create {
                object: recreatable(object),
            },
            Vec::new(),
        )),
        (Effect::Created { .. }, None) => Ok((Restore::Nothing(Nothing::AsBefore), Vec::new())),
        (Effect::Created { uid: made, fields }, Some(now)) => {
            let current = uid(&now).unwrap_or_default().to_string();
            if made.as_ref().is_some_and(|m| *m != current) {
                return Err(Blocked::Replaced);
            }
            let drift = unchanged_since(&now, fields);
            if !drift.is_empty() && !force {
                return Err(Blocked::Drift(drift));
            }
            Ok((Restore::Delete { uid: current, now }, drift))
        }
        (Effect::Topic, _) => unreachable!("handled above"),
    }
}

/// The patch putting `fields` back to their values before the fix, on
/// `object`: (operations, the object after them, fields forced).
fn restore_fields(
    object: &Value,
    fields: &[FieldChange],
    force: bool,
) -> Result<(Vec<PatchOperation>, Value, Vec<Drift>), Vec<Drift>> {
    let back: Vec<FieldChange> = fields.iter().map(FieldChange::inverse).collect();
    let (ops, drift) = fields::patch(object, &back);
    if !drift.is_empty() && !force {
        return Err(drift);
    }
    let mut after = object.clone();
    json_patch::patch(&mut after, &ops).map_err(|_| drift.clone())?;
    Ok((ops, after, drift))
}

/// The fields a created object was given that hold other values now.
fn unchanged_since(object: &Value, fields: &[FieldChange]) -> Vec<Drift> {
    fields
        .iter()
        .filter_map(|f| {
            let found = f.path.locate(object).and_then(|(_, v)| v.cloned());
            (found != f.after).then(|| Drift {
                path: f.path.clone(),
                expected: f.after.clone(),
                found,
            })
        })
        .collect()
}

/// A deleted object as it can be created again: without what the server
/// sets (uid, resourceVersion, timestamps, status).
pub fn recreatable(object: &Value) -> Value {
    content(object)
}

/// What became of a group.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every change is taken back (or needed nothing); in a dry run, the
    /// server accepts every step.
    Restored,
    /// A change is left alone: nothing of the group was written.
    LeftAlone,
    /// The server refused a step in the dry run before any write: nothing
    /// of the group was written.
    Refused { target: ObjectRef, reason: String },
    /// A step failed after others were made; `state` says exactly where the
    /// cluster stands.
    Failed {
        target: ObjectRef,
        reason: String,
        state: String,
    },
}

/// Take back a planned group; a server dry run only when `journal` is `None`.
pub fn undo(
    plan: &GroupPlan,
    cluster: &dyn Cluster,
    journal: Option<&mut Journal>,
) -> anyhow::Result<Outcome> {
    if plan.blocked() {
        return Ok(Outcome::LeftAlone);
    }
    // Every step validated by the server first: a forbidden create must not
    // be found out after the patch before it was made.
    for step in &plan.steps {
        if let Err(e) = send(step, cluster, true) {
            return Ok(Outcome::Refused {
                target: step.target.clone(),
                reason: e.to_string(),
            });
        }
    }
    let Some(journal) = journal else {
        return Ok(Outcome::Restored);
    };
    let mut done: Vec<(&Step, Option<Value>)> = Vec::new();
    for step in &plan.steps {
        match send(step, cluster, false) {
            Ok(answer) => {
                for seq in &step.changes {
                    journal.undone(*seq)?;
                }
                done.push((step, answer));
            }
            Err(e) => {
                let state = put_back(&done, cluster, journal)?;
                return Ok(Outcome::Failed {
                    target: step.target.clone(),
                    reason: e.to_string(),
                    state,
                });
            }
        }
    }
    Ok(Outcome::Restored)
}

/// One step's request; the object the server returned, if any.
fn send(step: &Step, cluster: &dyn Cluster, dry_run: bool) -> Result<Option<Value>, WriteError> {
    match &step.restore {
        Ok(Restore::Patch { ops, .. }) => cluster.patch(&step.target, ops, dry_run).map(Some),
        Ok(Restore::Create { object }) => cluster.create(object, dry_run).map(Some),
        Ok(Restore::Delete { uid, .. }) => cluster
            .delete(&step.target, &Guard::Uid(uid.clone()), dry_run)
            .map(|()| None),
        Ok(Restore::Nothing(_)) | Err(_) => Ok(None),
    }
}

/// Steps already taken, put back as the fix left them, newest first; says
/// where the cluster stands.
fn put_back(
    done: &[(&Step, Option<Value>)],
    cluster: &dyn Cluster,
    journal: &mut Journal,
) -> anyhow::Result<String> {
    let mut stuck = Vec::new();
    for (step, answer) in done.iter().rev() {
        let redo = match (&step.restore, answer) {
            (Ok(Restore::Patch { ops, now, .. }), _) => {
                // The fields back to what the fix set, guarded by what undo wrote.
                let mut restored = now.clone();
                let forward = json_patch::patch(&mut restored, ops).ok().and_then(|()| {
                    let fix = fields::diff(&content(&restored), &content(now));
                    let current = cluster.get(&step.target).ok().flatten()?;
                    let (ops, drift) = fields::patch(&current, &fix);
                    drift.is_empty().then_some(ops)
                });
                match forward {
                    Some(ops) => cluster.patch(&step.target, &ops, false).map(drop),
                    None => Err(WriteError::Conflict("changed again meanwhile".into())),
                }
            }
            (Ok(Restore::Create { .. }), Some(created)) => cluster.delete(
                &step.target,
                &Guard::Uid(uid(created).unwrap_or_default().to_string()),
                false,
            ),
            (Ok(Restore::Delete { now, .. }), _) => {
                cluster.create(&recreatable(now), false).map(drop)
            }
            _ => Ok(()),
        };
        match redo {
            Ok(()) => {
                for seq in &step.changes {
                    journal.redone(*seq)?;
                }
            }
            Err(e) => stuck.push(format!("{} stays as undo left it ({e})", step.target)),
        }
    }
    Ok(if stuck.is_empty() {
        if done.is_empty() {
            "nothing of this fix was changed".to_string()
        } else {
            "the steps already taken were put back: the cluster is as the fix left it".to_string()
        }
    } else {
        format!(
            "could not put everything back: {}; the rest is as the fix left it",
            stuck.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    use super::*;
    use crate::changes::journal::{ClusterIdentity, Run};
    use crate::changes::memory::Memory;
    use crate::plan::Operation;
    use crate::report::findings::Applicability;

    fn server(replicas: i64) -> Value {
        json!({"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Server",
               "metadata": {"name": "mlserver", "namespace": "s", "annotations": {}},
               "spec": {"replicas": replicas, "maxReplicas": 4}})
    }

    fn target() -> ObjectRef {
        ObjectRef::new("mlops.seldon.io/v1alpha1", "Server", Some("s"), "mlserver")
    }

    fn identity() -> ClusterIdentity {
        ClusterIdentity {
            server: "s".into(),
            uid: Some("memory".into()),
        }
    }

    /// Journal a scale of the Server from what it is to `to`, as fix does.
    fn fix_scale(memory: &Memory, journal: &mut Journal, to: i64, apply: bool) {
        let before = memory.get(&target()).unwrap().unwrap();
        let meta = ObjectMeta {
            resource_version: before["metadata"]["resourceVersion"]
                .as_str()
                .map(String::from),
            ..Default::default()
        };
        let op = Operation::patch(&target(), &meta, Applicability::Unsafe)
            .replace("/spec/replicas", json!(to));
        let expected = crate::plan::apply(&op, Some(&before)).unwrap();
        let group = journal.group();
        let seq = journal
            .pending(
                group,
                "SEL003 s/mlserver",
                &op,
                Some(&before),
                expected.as_ref(),
            )
            .unwrap();
        if apply {
            let after = memory.patch(&target(), &op.json_patch(), false).unwrap();
            journal.applied(seq, Some(&before), Some(&after)).unwrap();
        }
    }

    fn edit(memory: &Memory, ops: Value) {
        let ops: Vec<PatchOperation> = serde_json::from_value(ops).unwrap();
        memory.patch(&target(), &ops, false).unwrap();
    }

    fn undo_run(memory: &Memory, journal: &Journal, force: bool) -> Vec<Outcome> {
        let run = Run::read(journal.path()).unwrap();
        let mut append = Journal::append(&run).unwrap();
        run.to_undo()
            .iter()
            .map(|g| undo(&plan(g, memory, force), memory, Some(&mut append)).unwrap())
            .collect()
    }

    #[test]
    fn others_changes_since_the_fix_are_kept() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        fix_scale(&memory, &mut journal, 3, true);
        // A controller writes status, someone annotates and raises maxReplicas.
        edit(
            &memory,
            json!([
                {"op": "add", "path": "/status", "value": {"replicas": 3}},
                {"op": "add", "path": "/metadata/annotations/team", "value": "nlp"},
                {"op": "replace", "path": "/spec/maxReplicas", "value": 6},
            ]),
        );
        assert_eq!(undo_run(&memory, &journal, false), vec![Outcome::Restored]);
        let now = memory.get(&target()).unwrap().unwrap();
        assert_eq!(now["spec"], json!({"replicas": 1, "maxReplicas": 6}));
        assert_eq!(now["metadata"]["annotations"]["team"], "nlp");
        assert_eq!(now["status"]["replicas"], 3);
        let run = Run::read(journal.path()).unwrap();
        assert!(run.to_undo().is_empty(), "journaled as undone");
    }

    #[test]
    fn a_field_changed_since_is_left_alone_and_force_restores_only_it() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        fix_scale(&memory, &mut journal, 3, true);
        edit(
            &memory,
            json!([
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "replace", "path": "/spec/maxReplicas", "value": 6},
            ]),
        );
        let run = Run::read(journal.path()).unwrap();
        let groups = run.to_undo();
        let planned = plan(&groups[0], &memory, false);
        let Err(Blocked::Drift(drift)) = &planned.steps[0].restore else {
            panic!("{planned:?}");
        };
        assert_eq!(drift[0].path.to_string(), "spec.replicas");
        assert_eq!(
            (drift[0].expected.clone(), drift[0].found.clone()),
            (Some(json!(3)), Some(json!(5)))
        );
        assert_eq!(undo_run(&memory, &journal, false), vec![Outcome::LeftAlone]);
        assert_eq!(
            memory.get(&target()).unwrap().unwrap()["spec"]["replicas"],
            5
        );

        assert_eq!(undo_run(&memory, &journal, true), vec![Outcome::Restored]);
        assert_eq!(
            memory.get(&target()).unwrap().unwrap()["spec"],
            json!({"replicas": 1, "maxReplicas": 6}),
            "--force restores the fixed field only"
        );
    }

    #[test]
    fn an_interrupted_change_that_never_happened_needs_nothing() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        fix_scale(&memory, &mut journal, 3, false);
        let run = Run::read(journal.path()).unwrap();
        let planned = plan(&run.to_undo()[0], &memory, false);
        assert_eq!(
            planned.steps[0].restore,
            Ok(Restore::Nothing(Nothing::AsBefore))
        );
        assert_eq!(undo_run(&memory, &journal, false), vec![Outcome::Restored]);
    }

    #[test]
    fn an_interrupted_change_that_happened_is_taken_back() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        fix_scale(&memory, &mut journal, 3, false);
        edit(
            &memory,
            json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]),
        );
        assert_eq!(undo_run(&memory, &journal, false), vec![Outcome::Restored]);
        assert_eq!(
            memory.get(&target()).unwrap().unwrap()["spec"]["replicas"],
            1
        );
    }

    #[test]
    fn a_patched_object_deleted_since_stays_deleted() {
        let memory = Memory::with(&[server(1)]);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        fix_scale(&memory, &mut journal, 3, true);
        memory.delete(&target(), &Guard::None, false).unwrap();
        let run = Run::read(journal.path()).unwrap();
        let planned = plan(&run.to_undo()[0], &memory, false);
        assert_eq!(
            planned.steps[0].restore,
            Ok(Restore::Nothing(Nothing::DeletedSince))
        );
        assert_eq!(undo_run(&memory, &journal, false), vec![Outcome::Restored]);
        assert_eq!(memory.get(&target()).unwrap(), None);
    }
}
