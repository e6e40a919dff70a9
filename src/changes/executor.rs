//! A planned fix applied to a live cluster, one operation at a time:
//! read the object, check it is still what was planned against, journal it,
//! send the change guarded by its resourceVersion and `test`s, journal the
//! result. A conflict means the object moved: the caller re-plans it (never
//! forces). An answer lost to a timeout or a dropped connection is settled by
//! reading the object again: the journal never claims a change that was not
//! made, nor misses one that was.

use json_patch::PatchOperation;
use serde_json::{Value, json};

use super::client::{Cluster, Guard, WriteError};
use super::journal::Journal;
use super::object::{content, resource_version};
use crate::kafka::{TopicAdmin, TopicStatus};
use crate::plan::{self, Change, Operation, Planned};

/// How often one fix is re-planned after its object moved under it.
pub const MAX_REPLANS: usize = 2;

/// What re-planning a fix on the object as it is now gave.
pub enum Replan {
    /// The fix, planned again on the fresh object.
    Again(Box<Planned>),
    /// Nothing to do any more (the finding is gone, or the fix is no longer
    /// ready), with the reason.
    Gone(String),
}

/// What became of one fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every operation made (journal sequence numbers; empty in a dry run,
    /// where the server accepted every one).
    Done { changes: Vec<u32> },
    /// The object moved and the fix is no longer needed.
    Superseded(String),
    /// Stopped at an operation; `changes` were made before it.
    Failed { reason: String, changes: Vec<u32> },
}

/// What the object, read again after an unclear answer, says of the write.
enum Reread {
    /// The change is in it (the object as it is now; `None`: deleted).
    Made(Option<Value>),
    /// It is as it was: the write was not made.
    NotMade,
    /// It changed otherwise: another client wrote it too.
    Unknown,
}

/// One write of a fix: its group, its finding and its operation.
struct Write<'a> {
    group: u32,
    finding: &'a str,
    op: &'a Operation,
}

/// Why one operation was not made.
enum Stop {
    /// The object is not what the plan expected; here is how it is now.
    Moved(Option<Value>),
    Failed(String),
}

/// Applies fixes; a dry run when there is no journal.
pub struct Executor<'a> {
    pub cluster: &'a dyn Cluster,
    /// Kafka topic creation; `None` when no broker was given.
    pub topics: Option<&'a dyn TopicAdmin>,
    pub journal: Option<&'a mut Journal>,
}

impl Executor<'_> {
    fn dry_run(&self) -> bool {
        self.journal.is_none()
    }

    /// Apply one fix's operations in order, re-planning it (through `replan`,
    /// with the object as it is now) when its first operation finds the object
    /// moved. A later operation finding its object moved stops the fix: the
    /// earlier ones are journaled, and `undo` can take them back.
    pub fn apply(
        &mut self,
        planned: &Planned,
        replan: &mut dyn FnMut(Option<&Value>) -> Replan,
    ) -> Outcome {
        let mut current = planned.clone();
        let mut replans = 0;
        // The fix's changes are one group: undo takes them back together.
        let group = self.journal.as_deref_mut().map_or(0, Journal::group);
        'plan: loop {
            let mut changes = Vec::new();
            for (i, op) in current.operations.iter().enumerate() {
                match self.operation(group, &current.label(), op) {
                    Ok(seq) => changes.extend(seq),
                    Err(Stop::Moved(fresh)) if i == 0 && replans < MAX_REPLANS => {
                        replans += 1;
                        match replan(fresh.as_ref()) {
                            Replan::Again(p) => {
                                current = *p;
                                continue 'plan;
                            }
                            Replan::Gone(why) => return Outcome::Superseded(why),
                        }
                    }
                    Err(Stop::Moved(_)) => {
                        return Outcome::Failed {
                            reason: format!(
                                "{} keeps changing under the fix; run mlopsctl fix again later",
                                op.target
                            ),
                            changes,
                        };
                    }
                    Err(Stop::Failed(reason)) => return Outcome::Failed { reason, changes },
                }
            }
            return Outcome::Done { changes };
        }
    }

    /// Make one operation; the journal sequence number when one was made.
    fn operation(
        &mut self,
        group: u32,
        finding: &str,
        op: &Operation,
    ) -> Result<Option<u32>, Stop> {
        let write = Write { group, finding, op };
        match &op.change {
            Change::JsonPatch(_) => self.patch(&write),
            Change::Delete => self.delete(&write),
            Change::Create(object) => self.create(&write, object),
            Change::CreateTopic(_) => self.topic(&write),
        }
    }

    fn get(&self, op: &Operation) -> Result<Option<Value>, Stop> {
        self.cluster
            .get(&op.target)
            .map_err(|e| Stop::Failed(format!("cannot read {}: {e}", op.target)))
    }

    /// The object as it is now, after a refusal or an unclear answer.
    fn reread(&self, op: &Operation) -> Option<Value> {
        self.cluster.get(&op.target).ok().flatten()
    }

    fn pending(
        &mut self,
        write: &Write<'_>,
        before: Option<&Value>,
        expected: Option<&Value>,
    ) -> Result<Option<u32>, Stop> {
        match self.journal.as_deref_mut() {
            Some(j) => j
                .pending(write.group, write.finding, write.op, before, expected)
                .map(Some)
                .map_err(|e| Stop::Failed(format!("{e:#}: nothing was changed"))),
            None => Ok(None),
        }
    }

    fn settle(
        &mut self,
        seq: Option<u32>,
        before: Option<&Value>,
        outcome: Result<Option<&Value>, &str>,
    ) -> Result<(), Stop> {
        let (Some(seq), Some(journal)) = (seq, self.journal.as_deref_mut()) else {
            return Ok(());
        };
        match outcome {
            Ok(after) => journal.applied(seq, before, after),
            Err(reason) => journal.refused(seq, reason),
        }
        .map_err(|e| Stop::Failed(format!("{e:#}: the change was made; stopping here")))
    }

    fn patch(&mut self, write: &Write<'_>) -> Result<Option<u32>, Stop> {
        let op = write.op;
        let Some(before) = self.get(op)? else {
            return Err(Stop::Moved(None));
        };
        let planned_rv = op.precondition.resource_version.as_deref();
        if planned_rv.is_some() && resource_version(&before) != planned_rv {
            return Err(Stop::Moved(Some(before)));
        }
        // The same checks the server makes, locally first: a failed `test`
        // means the field moved.
        let expected = match plan::apply(op, Some(&before)) {
            Ok(after) => after,
            Err(plan::ApplyError::Patch { .. } | plan::ApplyError::Stale { .. }) => {
                return Err(Stop::Moved(Some(before)));
            }
            Err(e) => return Err(Stop::Failed(e.to_string())),
        };
        let body = guarded(resource_version(&before), op.json_patch());
        let seq = self.pending(write, Some(&before), expected.as_ref())?;
        let sent = self
            .cluster
            .patch(&op.target, &body, self.dry_run())
            .map(Some);
        self.finish(op, seq, Some(&before), sent, |now| match now {
            Some(now) if resource_version(now) == resource_version(&before) => Reread::NotMade,
            Some(now)
                if expected
                    .as_ref()
                    .is_some_and(|e| content(e) == content(now)) =>
            {
                Reread::Made(Some(now.clone()))
            }
            _ => Reread::Unknown,
        })
    }

    fn delete(&mut self, write: &Write<'_>) -> Result<Option<u32>, Stop> {
        let op = write.op;
        // Already gone: what the delete was for.
        let Some(before) = self.get(op)? else {
            return Ok(None);
        };
        let planned_rv = op.precondition.resource_version.as_deref();
        if planned_rv.is_some() && resource_version(&before) != planned_rv {
            return Err(Stop::Moved(Some(before)));
        }
        let seq = self.pending(write, Some(&before), None)?;
        let guard =
            resource_version(&before).map_or(Guard::None, |rv| Guard::ResourceVersion(rv.into()));
        let sent = self
            .cluster
            .delete(&op.target, &guard, self.dry_run())
            .map(|()| None);
        self.finish(op, seq, Some(&before), sent, |now| match now {
            None => Reread::Made(None),
            Some(now) if resource_version(now) == resource_version(&before) => Reread::NotMade,
            Some(_) => Reread::Unknown,
        })
    }

    fn create(&mut self, write: &Write<'_>, object: &Value) -> Result<Option<u32>, Stop> {
        let op = write.op;
        if let Some(existing) = self.get(op)? {
            return Err(Stop::Moved(Some(existing)));
        }
        let seq = self.pending(write, None, Some(object))?;
        let sent = self.cluster.create(object, self.dry_run()).map(Some);
        self.finish(op, seq, None, sent, |now| match now {
            Some(now) => Reread::Made(Some(now.clone())),
            None => Reread::NotMade,
        })
    }

    /// Journal what a write did. A conflict means the object moved; an
    /// unclear answer (5xx, timeout, reset) is settled by reading the object
    /// again and asking `judge` whether the change is in it.
    fn finish(
        &mut self,
        op: &Operation,
        seq: Option<u32>,
        before: Option<&Value>,
        sent: Result<Option<Value>, WriteError>,
        judge: impl Fn(Option<&Value>) -> Reread,
    ) -> Result<Option<u32>, Stop> {
        match sent {
            Ok(after) => {
                self.settle(seq, before, Ok(after.as_ref()))?;
                Ok(seq)
            }
            Err(WriteError::Conflict(m)) => {
                self.settle(seq, before, Err(&m))?;
                Err(Stop::Moved(self.reread(op)))
            }
            // In a dry run nothing was journaled and nothing can have changed.
            Err(WriteError::Unknown(m)) if seq.is_some() => match self.cluster.get(&op.target) {
                Ok(now) => match judge(now.as_ref()) {
                    Reread::Made(after) => {
                        self.settle(seq, before, Ok(after.as_ref()))?;
                        Ok(seq)
                    }
                    Reread::NotMade => {
                        self.settle(seq, before, Err(&m))?;
                        Err(Stop::Failed(format!("{}: {m}", op.target)))
                    }
                    Reread::Unknown => Err(Stop::Failed(unclear(op, &m))),
                },
                Err(_) => Err(Stop::Failed(unclear(op, &m))),
            },
            Err(e) => {
                self.settle(seq, before, Err(&e.to_string()))?;
                Err(Stop::Failed(format!("{}: {e}", op.target)))
            }
        }
    }

    fn topic(&mut self, write: &Write<'_>) -> Result<Option<u32>, Stop> {
        let op = write.op;
        let Change::CreateTopic(spec) = &op.change else {
            unreachable!("only topic creations come here");
        };
        let Some(admin) = self.topics else {
            return Err(Stop::Failed(format!(
                "creating topic {} needs the broker: pass --kafka-bootstrap HOST:PORT",
                spec.name
            )));
        };
        let seq = self.pending(write, None, None)?;
        let outcome = admin
            .create_topics(std::slice::from_ref(spec), self.dry_run())
            .map(|mut o| o.pop().map(|o| o.status));
        match outcome {
            Ok(Some(TopicStatus::Created)) => {
                self.settle(seq, None, Ok(Some(&plan::apply::topic_object(spec))))?;
                Ok(seq)
            }
            // There already: the goal is reached, and there is nothing to undo.
            Ok(Some(TopicStatus::AlreadyExists)) => {
                self.settle(seq, None, Err("the topic already exists"))?;
                Ok(None)
            }
            Ok(Some(TopicStatus::Failed(reason))) => {
                self.settle(seq, None, Err(&reason))?;
                Err(Stop::Failed(format!("topic {}: {reason}", spec.name)))
            }
            Ok(None) => Err(Stop::Failed(format!(
                "topic {}: the broker gave no result",
                spec.name
            ))),
            Err(e) => Err(Stop::Failed(format!("topic {}: {e:#}", spec.name))),
        }
    }
}

/// The patch sent: the object's resourceVersion first (the API server
/// refuses the patch with a 409 when it moved), then `operations` (an
/// operation's `test`s and change).
pub fn guarded(
    resource_version: Option<&str>,
    operations: Vec<PatchOperation>,
) -> Vec<PatchOperation> {
    let guard = resource_version.map(|rv| {
        serde_json::from_value(
            json!({"op": "replace", "path": "/metadata/resourceVersion", "value": rv}),
        )
        .expect("a well-formed operation")
    });
    guard.into_iter().chain(operations).collect()
}

fn unclear(op: &Operation, m: &str) -> String {
    format!(
        "{}: {m}; it is not known whether the change was made (the object cannot be read, or \
         another client changed it meanwhile). The journal keeps the object as it was: \
         check it, then run mlopsctl undo if it must be restored",
        op.target
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::changes::journal::ClusterIdentity;
    use crate::changes::journal::{Run, State};
    use crate::changes::memory::Memory;
    use crate::changes::undo::{self, Outcome as Undone};
    use crate::cluster::ObjectRef;
    use crate::kafka::{FakeTopics, NewTopicSpec};
    use crate::plan::Status;
    use crate::report::findings::Applicability;

    fn hpa(rv: &str) -> Value {
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "predictor", "namespace": "ml", "resourceVersion": rv,
                         "uid": "u-1", "creationTimestamp": "2026-11-01T00:00:00Z",
                         "labels": {"app": "predictor"}},
            "spec": {"minReplicas": 1, "maxReplicas": 4,
                     "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "predictor"}},
            "status": {"currentReplicas": 1}
        })
    }

    fn planned(operations: Vec<Operation>) -> Planned {
        Planned {
            code: "SCL004".into(),
            subject: operations[0].target.clone(),
            message: "m".into(),
            description: "d".into(),
            applicability: Applicability::Unsafe,
            status: Status::Ready,
            managed: Vec::new(),
            operations,
        }
    }

    fn delete_of(memory: &Memory) -> Operation {
        let target = ObjectRef::new(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some("ml"),
            "predictor",
        );
        let now = memory.get(&target).unwrap().unwrap();
        let meta = ObjectMeta {
            resource_version: now["metadata"]["resourceVersion"]
                .as_str()
                .map(String::from),
            ..Default::default()
        };
        Operation::delete(&target, &meta, Applicability::Unsafe)
    }

    fn never(_: Option<&Value>) -> Replan {
        Replan::Gone("not expected".into())
    }

    fn identity() -> ClusterIdentity {
        ClusterIdentity {
            server: "s".into(),
            uid: Some("memory".into()),
        }
    }

    /// Undo every group of a run, newest first.
    fn undo_all(memory: &Memory, path: &std::path::Path, force: bool) -> Vec<Undone> {
        let run = Run::read(path).unwrap();
        let mut journal = Journal::append(&run).unwrap();
        run.to_undo()
            .iter()
            .map(|g| undo::undo(&undo::plan(g, memory, force), memory, Some(&mut journal)).unwrap())
            .collect()
    }

    #[test]
    fn a_deleted_object_is_journaled_and_undo_creates_it_without_server_fields() {
        let memory = Memory::with(&[hpa("1")]);
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        let fix = planned(vec![delete_of(&memory)]);
        let outcome = Executor {
            cluster: &memory,
            topics: None,
            journal: Some(&mut journal),
        }
        .apply(&fix, &mut never);
        assert_eq!(outcome, Outcome::Done { changes: vec![1] });
        assert_eq!(memory.get(&fix.subject).unwrap(), None);

        let run = Run::read(journal.path()).unwrap();
        assert_eq!(run.changes[0].state, State::Applied);
        assert_eq!(
            undo_all(&memory, journal.path(), false),
            vec![Undone::Restored]
        );
        let back = memory.get(&fix.subject).unwrap().unwrap();
        assert_eq!(back["spec"], hpa("1")["spec"]);
        assert_eq!(back["metadata"]["labels"], json!({"app": "predictor"}));
        assert_ne!(
            back["metadata"]["uid"], "u-1",
            "server-set fields are the server's"
        );
        assert!(back.get("status").is_none());
    }

    /// SCL004's shape: a trigger added to the ScaledObject, then the leftover
    /// HPA deleted, as one fix.
    fn scl004(memory: &Memory) -> (Planned, ObjectRef) {
        let so = ObjectRef::new("keda.sh/v1alpha1", "ScaledObject", Some("ml"), "predictor");
        let now = memory.get(&so).unwrap().unwrap();
        let meta = ObjectMeta {
            resource_version: now["metadata"]["resourceVersion"]
                .as_str()
                .map(String::from),
            ..Default::default()
        };
        let add = Operation::patch(&so, &meta, Applicability::Unsafe)
            .test("/spec/triggers", json!([{"type": "kafka"}]))
            .add(
                "/spec/triggers/-",
                json!({"type": "cpu", "metadata": {"value": "70"}}),
            );
        (planned(vec![add, delete_of(memory)]), so)
    }

    fn scaled_object() -> Value {
        json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
               "metadata": {"name": "predictor", "namespace": "ml"},
               "spec": {"triggers": [{"type": "kafka"}]}})
    }

    fn fixed(memory: &Memory, dir: &std::path::Path) -> (std::path::PathBuf, ObjectRef) {
        let mut journal = Journal::create(dir, &identity(), "c").unwrap();
        let (fix, so) = scl004(memory);
        let outcome = Executor {
            cluster: memory,
            topics: None,
            journal: Some(&mut journal),
        }
        .apply(&fix, &mut never);
        assert_eq!(
            outcome,
            Outcome::Done {
                changes: vec![1, 2]
            }
        );
        (journal.path().to_path_buf(), so)
    }

    #[test]
    fn a_fix_is_undone_whole_newest_first() {
        let memory = Memory::with(&[hpa("1"), scaled_object()]);
        let dir = tempfile::tempdir().unwrap();
        let (path, so) = fixed(&memory, dir.path());
        let run = Run::read(&path).unwrap();
        assert_eq!(run.to_undo().len(), 1, "one group");
        assert_eq!(undo_all(&memory, &path, false), vec![Undone::Restored]);
        assert_eq!(
            memory.get(&so).unwrap().unwrap()["spec"]["triggers"],
            json!([{"type": "kafka"}])
        );
        assert!(memory.get(&delete_of(&memory).target).unwrap().is_some());
    }

    #[test]
    fn a_forbidden_create_leaves_the_whole_fix_in_place() {
        let memory = Memory::with(&[hpa("1"), scaled_object()]);
        let dir = tempfile::tempdir().unwrap();
        let (path, so) = fixed(&memory, dir.path());
        memory.refuse("create", "HorizontalPodAutoscaler", true);
        let outcome = undo_all(&memory, &path, false);
        assert!(
            matches!(&outcome[0], Undone::Refused { reason, .. } if reason.contains("forbidden")),
            "{outcome:?}"
        );
        // The trigger stays: without the HPA, removing it would leave the
        // workload with no autoscaler at all.
        assert_eq!(
            memory.get(&so).unwrap().unwrap()["spec"]["triggers"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let run = Run::read(&path).unwrap();
        assert!(run.changes.iter().all(|c| c.state == State::Applied));
    }

    #[test]
    fn a_step_failing_after_validation_puts_the_earlier_ones_back() {
        let memory = Memory::with(&[hpa("1"), scaled_object()]);
        let dir = tempfile::tempdir().unwrap();
        let (path, so) = fixed(&memory, dir.path());
        // Validation passes; the real patch of the ScaledObject is refused.
        memory.refuse("patch", "ScaledObject", false);
        let outcome = undo_all(&memory, &path, false);
        let Undone::Failed { state, .. } = &outcome[0] else {
            panic!("{outcome:?}");
        };
        assert!(state.contains("as the fix left it"), "{state}");
        assert!(
            memory.get(&delete_of_target()).unwrap().is_none(),
            "the HPA re-created was deleted again"
        );
        assert_eq!(
            memory.get(&so).unwrap().unwrap()["spec"]["triggers"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let run = Run::read(&path).unwrap();
        assert!(
            run.changes.iter().all(|c| c.state == State::Applied),
            "undone then redone: still to undo"
        );
    }

    fn delete_of_target() -> ObjectRef {
        ObjectRef::new(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some("ml"),
            "predictor",
        )
    }

    #[test]
    fn a_dry_run_journals_nothing_and_changes_nothing() {
        let memory = Memory::with(&[hpa("1")]);
        let fix = planned(vec![delete_of(&memory)]);
        let outcome = Executor {
            cluster: &memory,
            topics: None,
            journal: None,
        }
        .apply(&fix, &mut never);
        assert_eq!(outcome, Outcome::Done { changes: vec![] });
        assert!(memory.get(&fix.subject).unwrap().is_some());
    }

    #[test]
    fn a_moved_object_is_replanned_and_a_gone_finding_supersedes_the_fix() {
        let memory = Memory::with(&[hpa("1")]);
        let stale = delete_of(&memory);
        // Another client writes the HPA after planning.
        memory
            .patch(
                &stale.target,
                &serde_json::from_value::<Vec<PatchOperation>>(json!([
                    {"op": "replace", "path": "/spec/maxReplicas", "value": 6}
                ]))
                .unwrap(),
                false,
            )
            .unwrap();
        let mut seen = None;
        let outcome = Executor {
            cluster: &memory,
            topics: None,
            journal: None,
        }
        .apply(&planned(vec![stale]), &mut |fresh| {
            seen = fresh.cloned();
            Replan::Gone("fixed meanwhile".into())
        });
        assert_eq!(outcome, Outcome::Superseded("fixed meanwhile".into()));
        assert_eq!(
            seen.unwrap()["spec"]["maxReplicas"],
            6,
            "re-planned on the object as it is now"
        );
    }

    #[test]
    fn topics_are_created_through_the_admin_and_never_deleted_by_undo() {
        let spec = NewTopicSpec {
            name: "flts.training.requests".into(),
            partitions: 6,
            replication: 3,
            config: vec![("retention.ms".into(), "604800000".into())],
        };
        let op = Operation {
            target: ObjectRef::new(
                plan::apply::TOPIC_API_VERSION,
                plan::apply::TOPIC_KIND,
                None,
                &spec.name,
            ),
            applicability: Applicability::Unsafe,
            precondition: Default::default(),
            change: Change::CreateTopic(spec.clone()),
            inputs: Vec::new(),
            managed_by: None,
        };
        let fix = planned(vec![op]);
        let memory = Memory::default();

        // Without a broker: a clear error, nothing journaled as made.
        let outcome = Executor {
            cluster: &memory,
            topics: None,
            journal: None,
        }
        .apply(&fix, &mut never);
        assert!(
            matches!(&outcome, Outcome::Failed { reason, .. } if reason.contains("--kafka-bootstrap")),
            "{outcome:?}"
        );

        // A dry run validates only.
        let fake = FakeTopics::default();
        let outcome = Executor {
            cluster: &memory,
            topics: Some(&fake),
            journal: None,
        }
        .apply(&fix, &mut never);
        assert_eq!(outcome, Outcome::Done { changes: vec![] });
        assert!(fake.existing.lock().unwrap().is_empty());

        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        let outcome = Executor {
            cluster: &memory,
            topics: Some(&fake),
            journal: Some(&mut journal),
        }
        .apply(&fix, &mut never);
        assert_eq!(outcome, Outcome::Done { changes: vec![1] });
        assert!(fake.existing.lock().unwrap().contains(&spec.name));

        // Already there: the goal is reached, with nothing for undo to take back.
        let outcome = Executor {
            cluster: &memory,
            topics: Some(&fake),
            journal: Some(&mut journal),
        }
        .apply(&fix, &mut never);
        assert_eq!(outcome, Outcome::Done { changes: vec![] });

        let run = Run::read(journal.path()).unwrap();
        let groups = run.to_undo();
        assert_eq!(groups.len(), 1);
        let planned = undo::plan(&groups[0], &memory, true);
        assert!(
            matches!(&planned.steps[0].restore, Err(undo::Blocked::Topic(why)) if why.contains("messages written")),
            "{planned:?}"
        );
        assert_eq!(
            undo_all(&memory, journal.path(), true),
            vec![Undone::LeftAlone]
        );
        assert!(fake.existing.lock().unwrap().contains(&spec.name));
    }

    #[test]
    fn the_sent_patch_guards_the_resource_version_first() {
        let target = ObjectRef::new("apps/v1", "Deployment", Some("ml"), "train");
        let op = Operation::patch(&target, &ObjectMeta::default(), Applicability::Safe)
            .test("/spec/replicas", json!(1))
            .replace("/spec/replicas", json!(2));
        let sent = serde_json::to_value(guarded(Some("42"), op.json_patch())).unwrap();
        assert_eq!(
            sent,
            json!([
                {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"},
                {"op": "test", "path": "/spec/replicas", "value": 1},
                {"op": "replace", "path": "/spec/replicas", "value": 2}
            ])
        );
    }
}
