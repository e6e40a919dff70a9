//! The journal of one `mlopsctl fix` run: JSON lines in
//! `$XDG_STATE_HOME/mlopsctl/journal/<run-id>.jsonl` (the folder 0700, the
//! file 0600: it holds the values it restores), each written and fsync'd
//! before the next change is made.
//!
//! The first line names the run, its schema (`mlopsctl.journal/v1`) and the
//! cluster (the `kube-system` namespace's uid: a server URL such as
//! `https://kubernetes.default.svc` names many clusters). A change is
//! journaled twice: `pending`, before the request is sent, with the fields it
//! is about to change (their values before and after; the whole object only
//! for a delete, which `undo` creates again), then `applied` with the fields
//! as the server changed them (or `refused`). A crash in between leaves a
//! `pending` record that `undo` treats as "may have been applied". The
//! changes of one fix share a group, which `undo` takes back as one. `undo`
//! appends `undone` records (and `redone` when it had to put a change back).
//!
//! Journals of the first format (no schema: whole objects before and after)
//! are still read: their fields are the difference of the two objects.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{self, FieldChange};
use super::object::{content, uid};
use crate::plan::{self, Change as Planned, Operation};

/// The journal format this version writes.
pub const SCHEMA: &str = "mlopsctl.journal/v1";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Record {
    /// The first line: which run, against which cluster.
    #[serde(rename_all = "camelCase")]
    Run {
        /// `None` in journals of the first format.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema: Option<String>,
        run: String,
        started: String,
        server: String,
        /// The uid of the cluster's `kube-system` namespace, when readable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cluster: Option<String>,
        source: String,
    },
    /// About to make a change.
    #[serde(rename_all = "camelCase")]
    Pending {
        seq: u32,
        /// The fix this change belongs to (first format: none, each its own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<u32>,
        time: String,
        finding: String,
        operation: Box<Operation>,
        /// The fields the change will make, from the object as read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<FieldChange>>,
        /// The object as read, kept whole only for a delete.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object: Option<Value>,
        /// First format: the whole object before.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<Value>,
    },
    /// The change was made.
    #[serde(rename_all = "camelCase")]
    Applied {
        seq: u32,
        time: String,
        /// The fields as the server changed them (defaults included).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<FieldChange>>,
        /// The uid of an object the change created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<String>,
        /// First format: the whole object after (`None`: deleted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Value>,
    },
    /// The server refused the change: nothing changed.
    Refused {
        seq: u32,
        time: String,
        reason: String,
    },
    /// `undo` restored what the change had changed (or found it so).
    Undone { seq: u32, time: String },
    /// `undo` restored it, then had to put the change back (a later step
    /// of its group failed).
    Redone { seq: u32, time: String },
}

/// Where journals go: `$XDG_STATE_HOME/mlopsctl/journal`, else
/// `~/.local/state/mlopsctl/journal` (the XDG default).
pub fn default_dir(xdg_state_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    xdg_state_home
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".local").join("state")))
        .map(|state| state.join("mlopsctl").join("journal"))
}

/// The current time, RFC 3339 in UTC to the second: journal records and the
/// time a restart annotation carries.
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .round(k8s_openapi::jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Which cluster a run changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIdentity {
    /// The API server URL (for messages).
    pub server: String,
    /// The `kube-system` namespace's uid, when it could be read.
    pub uid: Option<String>,
}

/// A journal being written.
pub struct Journal {
    file: File,
    path: PathBuf,
    run: String,
    next_seq: u32,
    next_group: u32,
}

impl Journal {
    /// Start the journal of a new run in `dir`; the run id sorts by time.
    pub fn create(dir: &Path, cluster: &ClusterIdentity, source: &str) -> Result<Journal> {
        private_dir(dir)?;
        let stamp = k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let run = format!("{stamp}-{:05}", std::process::id() % 100_000);
        let path = dir.join(format!("{run}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create the journal {}", path.display()))?;
        // The new file's directory entry must survive a crash too.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let mut journal = Journal {
            file,
            path,
            run: run.clone(),
            next_seq: 1,
            next_group: 1,
        };
        journal.write(&Record::Run {
            schema: Some(SCHEMA.to_string()),
            run,
            started: now(),
            server: cluster.server.clone(),
            cluster: cluster.uid.clone(),
            source: source.to_string(),
        })?;
        Ok(journal)
    }

    /// Append to the journal of an earlier run (for `undo`).
    pub fn append(run: &Run) -> Result<Journal> {
        let file = OpenOptions::new()
            .append(true)
            .open(&run.path)
            .with_context(|| format!("cannot write to the journal {}", run.path.display()))?;
        Ok(Journal {
            file,
            path: run.path.clone(),
            run: run.id.clone(),
            next_seq: run.changes.iter().map(|c| c.seq).max().unwrap_or(0) + 1,
            next_group: run.changes.iter().map(|c| c.group).max().unwrap_or(0) + 1,
        })
    }

    pub fn run(&self) -> &str {
        &self.run
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new group: the changes of one fix.
    pub fn group(&mut self) -> u32 {
        let group = self.next_group;
        self.next_group += 1;
        group
    }

    /// Write one record and wait until it is on disk.
    fn write(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write the journal {}", self.path.display()))
    }

    /// Journal a change about to be made, given the object as read (`None`:
    /// absent) and as the change is expected to leave it; returns its
    /// sequence number.
    pub fn pending(
        &mut self,
        group: u32,
        finding: &str,
        operation: &Operation,
        before: Option<&Value>,
        expected: Option<&Value>,
    ) -> Result<u32> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let (fields, object) = match &operation.change {
            Planned::Delete => (None, before.cloned()),
            Planned::CreateTopic(_) => (None, None),
            Planned::JsonPatch(_) | Planned::Create(_) => (Some(changed(before, expected)), None),
        };
        self.write(&Record::Pending {
            seq,
            group: Some(group),
            time: now(),
            finding: finding.to_string(),
            operation: Box::new(operation.clone()),
            fields,
            object,
            before: None,
        })?;
        Ok(seq)
    }

    /// Journal a change made: the object before and as the server answered
    /// (`None` after a delete).
    pub fn applied(
        &mut self,
        seq: u32,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> Result<()> {
        let fields = after.map(|a| changed(before, Some(a)));
        let uid = after
            .filter(|_| before.is_none())
            .and_then(uid)
            .map(String::from);
        self.write(&Record::Applied {
            seq,
            time: now(),
            fields,
            uid,
            after: None,
        })
    }

    pub fn refused(&mut self, seq: u32, reason: &str) -> Result<()> {
        self.write(&Record::Refused {
            seq,
            time: now(),
            reason: reason.to_string(),
        })
    }

    pub fn undone(&mut self, seq: u32) -> Result<()> {
        self.write(&Record::Undone { seq, time: now() })
    }

    pub fn redone(&mut self, seq: u32) -> Result<()> {
        self.write(&Record::Redone { seq, time: now() })
    }
}

/// The fields that differ between two versions of an object (an absent one
/// is empty), bookkeeping and status left out.
fn changed(before: Option<&Value>, after: Option<&Value>) -> Vec<FieldChange> {
    let empty = Value::Object(Default::default());
    let side = |v: Option<&Value>| v.map_or_else(|| empty.clone(), content);
    fields::diff(&side(before), &side(after))
}

/// The journal folder, readable by its owner only.
fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the journal directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private (mode 0700)", dir.display()))
}

/// What became of one journaled change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Journaled, no outcome: the run stopped while the request was out.
    Interrupted,
    Applied,
    Refused {
        reason: String,
    },
    Undone,
}

/// What a change did to its object, as undo needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Changed these fields (planned ones until the server's are known).
    Patched { fields: Vec<FieldChange> },
    /// Deleted the object, kept here whole.
    Deleted { object: Value },
    /// Created an object with these fields (`uid` once known).
    Created {
        uid: Option<String>,
        fields: Vec<FieldChange>,
    },
    /// Created a Kafka topic.
    Topic,
}

/// One change of a run, its records folded together.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: u32,
    pub group: u32,
    pub time: String,
    pub finding: String,
    pub operation: Operation,
    pub effect: Effect,
    pub state: State,
}

/// A run read back from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub path: PathBuf,
    pub started: String,
    pub cluster: ClusterIdentity,
    pub source: String,
    pub changes: Vec<Change>,
}

impl Run {
    /// Read a journal. A last line cut short (the process died mid-write) is
    /// ignored; any other bad line is an error naming the file and line.
    pub fn read(path: &Path) -> Result<Run> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the journal {}", path.display()))?;
        let lines: Vec<&str> = text.lines().collect();
        let mut run: Option<Run> = None;
        // First format: the whole object before, per change.
        let mut before_of: Vec<(u32, Option<Value>)> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let record: Record = match serde_json::from_str(line) {
                Ok(r) => r,
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => bail!(
                    "{}:{}: not a journal record ({e}); the journal may have been edited by hand",
                    path.display(),
                    i + 1
                ),
            };
            let location = || format!("{}:{}", path.display(), i + 1);
            match (record, run.as_mut()) {
                (
                    Record::Run {
                        schema,
                        run: id,
                        started,
                        server,
                        cluster,
                        source,
                    },
                    None,
                ) => {
                    if let Some(schema) = schema.filter(|s| s != SCHEMA) {
                        bail!(
                            "{}: written by another mlopsctl (journal schema {schema}, this one \
                             reads {SCHEMA}): undo it with that version",
                            location()
                        );
                    }
                    run = Some(Run {
                        id,
                        path: path.to_path_buf(),
                        started,
                        cluster: ClusterIdentity {
                            server,
                            uid: cluster,
                        },
                        source,
                        changes: Vec::new(),
                    });
                }
                (Record::Run { .. }, Some(_)) => bail!("{}: a second run record", location()),
                (_, None) => bail!(
                    "{}: the journal does not start with a run record",
                    location()
                ),
                (
                    Record::Pending {
                        seq,
                        group,
                        time,
                        finding,
                        operation,
                        fields,
                        object,
                        before,
                    },
                    Some(run),
                ) => {
                    let effect = match (&operation.change, fields) {
                        (Planned::Delete, _) => Effect::Deleted {
                            object: object.or_else(|| before.clone()).unwrap_or_default(),
                        },
                        (Planned::CreateTopic(_), _) => Effect::Topic,
                        (Planned::Create(_), fields) => Effect::Created {
                            uid: None,
                            fields: fields.unwrap_or_else(|| {
                                let expected = plan::apply(&operation, None).ok().flatten();
                                changed(None, expected.as_ref())
                            }),
                        },
                        (Planned::JsonPatch(_), fields) => Effect::Patched {
                            fields: fields.unwrap_or_else(|| {
                                let expected =
                                    plan::apply(&operation, before.as_ref()).ok().flatten();
                                changed(before.as_ref(), expected.as_ref())
                            }),
                        },
                    };
                    before_of.push((seq, before));
                    run.changes.push(Change {
                        seq,
                        group: group.unwrap_or(seq),
                        time,
                        finding,
                        operation: *operation,
                        effect,
                        state: State::Interrupted,
                    })
                }
                (
                    Record::Applied {
                        seq,
                        fields,
                        uid: created,
                        after,
                        ..
                    },
                    Some(run),
                ) => {
                    let before = before_of
                        .iter()
                        .find(|(s, _)| *s == seq)
                        .and_then(|(_, b)| b.clone());
                    let change = run.change_mut(seq, &location)?;
                    change.state = State::Applied;
                    // The server's fields replace the planned ones; a first-format
                    // journal has the whole object instead.
                    let fields = fields
                        .or_else(|| after.as_ref().map(|a| changed(before.as_ref(), Some(a))));
                    let created =
                        created.or_else(|| after.as_ref().and_then(uid).map(String::from));
                    match (&mut change.effect, fields) {
                        (Effect::Patched { fields: f }, Some(new)) => *f = new,
                        (Effect::Created { uid, fields: f }, new) => {
                            *uid = created;
                            if let Some(new) = new {
                                *f = new;
                            }
                        }
                        _ => {}
                    }
                }
                (Record::Refused { seq, reason, .. }, Some(run)) => {
                    run.change_mut(seq, &location)?.state = State::Refused { reason };
                }
                (Record::Undone { seq, .. }, Some(run)) => {
                    run.change_mut(seq, &location)?.state = State::Undone;
                }
                (Record::Redone { seq, .. }, Some(run)) => {
                    run.change_mut(seq, &location)?.state = State::Applied;
                }
            }
        }
        run.with_context(|| format!("{}: an empty journal", path.display()))
    }

    fn change_mut(&mut self, seq: u32, location: &dyn Fn() -> String) -> Result<&mut Change> {
        match self.changes.iter_mut().find(|c| c.seq == seq) {
            Some(c) => Ok(c),
            None => bail!(
                "{}: change {seq} was never journaled as pending",
                location()
            ),
        }
    }

    /// The groups `undo` has to take back, newest first, each with its
    /// changes newest first: those applied or interrupted, not yet undone.
    pub fn to_undo(&self) -> Vec<Vec<&Change>> {
        let mut groups: Vec<Vec<&Change>> = Vec::new();
        for change in self
            .changes
            .iter()
            .rev()
            .filter(|c| matches!(c.state, State::Applied | State::Interrupted))
        {
            match groups.iter_mut().find(|g| g[0].group == change.group) {
                Some(g) => g.push(change),
                None => groups.push(vec![change]),
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g[0].group));
        groups
    }
}

/// The journals in `dir`, oldest first (run ids sort by time).
pub fn runs(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the journal directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::ObjectRef;
    use crate::report::findings::Applicability;

    fn identity() -> ClusterIdentity {
        ClusterIdentity {
            server: "https://k8s:6443".into(),
            uid: Some("kube-system-uid".into()),
        }
    }

    fn operation() -> Operation {
        let target = ObjectRef::new("apps/v1", "Deployment", Some("ml"), "train");
        let meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            resource_version: Some("7".into()),
            ..Default::default()
        };
        Operation::patch(&target, &meta, Applicability::Safe).replace("/spec/replicas", json!(2))
    }

    fn object(replicas: i64, rv: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "train", "namespace": "ml", "resourceVersion": rv},
               "spec": {"replicas": replicas, "template": {"spec": {}}},
               "status": {"replicas": 1}})
    }

    #[test]
    fn records_fold_into_changes_with_their_fields_and_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "context prod").unwrap();
        let group = journal.group();
        let one = journal
            .pending(
                group,
                "SEL003 x",
                &operation(),
                Some(&object(1, "7")),
                Some(&object(2, "7")),
            )
            .unwrap();
        journal
            .applied(one, Some(&object(1, "7")), Some(&object(2, "9")))
            .unwrap();
        let other = journal.group();
        let two = journal
            .pending(
                other,
                "SEL003 y",
                &operation(),
                Some(&object(1, "7")),
                Some(&object(2, "7")),
            )
            .unwrap();
        journal.refused(two, "forbidden").unwrap();
        let three = journal
            .pending(
                other,
                "SEL003 y",
                &operation(),
                Some(&object(1, "7")),
                Some(&object(2, "7")),
            )
            .unwrap();
        assert_eq!((one, two, three), (1, 2, 3));

        let run = Run::read(journal.path()).unwrap();
        assert_eq!(run.id, journal.run());
        assert_eq!(run.cluster, identity());
        let states: Vec<_> = run.changes.iter().map(|c| c.state.clone()).collect();
        assert_eq!(
            states,
            vec![
                State::Applied,
                State::Refused {
                    reason: "forbidden".into()
                },
                State::Interrupted,
            ]
        );
        let Effect::Patched { fields } = &run.changes[0].effect else {
            panic!("a patch");
        };
        assert_eq!(
            fields.len(),
            1,
            "only spec.replicas: no status, no resourceVersion"
        );
        assert_eq!(fields[0].path.to_string(), "spec.replicas");
        assert_eq!(
            (fields[0].before.clone(), fields[0].after.clone()),
            (Some(json!(1)), Some(json!(2)))
        );
        // Newest group first, refused changes left out.
        let groups: Vec<Vec<u32>> = run
            .to_undo()
            .iter()
            .map(|g| g.iter().map(|c| c.seq).collect())
            .collect();
        assert_eq!(groups, vec![vec![3], vec![1]]);

        let mut again = Journal::append(&run).unwrap();
        again.undone(1).unwrap();
        let run = Run::read(journal.path()).unwrap();
        assert_eq!(run.changes[0].state, State::Undone);
        assert_eq!(again.group(), 3);
        assert_eq!(
            runs(dir.path()).unwrap(),
            vec![journal.path().to_path_buf()]
        );
    }

    #[test]
    fn the_journal_is_private_to_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("mlopsctl").join("journal");
        let journal = Journal::create(&folder, &identity(), "c").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(journal.path()), 0o600);
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_ignored_other_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), &identity(), "c").unwrap();
        journal.pending(1, "f", &operation(), None, None).unwrap();
        let path = journal.path().to_path_buf();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(r#"{"type":"applied","seq":1,"ti"#);
        std::fs::write(&path, &text).unwrap();
        let run = Run::read(&path).unwrap();
        assert_eq!(run.changes[0].state, State::Interrupted);

        std::fs::write(
            &path,
            text.replace(r#""type":"pending""#, r#""type":"bogus""#) + "\n",
        )
        .unwrap();
        let err = format!("{:#}", Run::read(&path).unwrap_err());
        assert!(err.contains(".jsonl:2: not a journal record"), "{err}");
    }

    #[test]
    fn a_newer_schema_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(
            &path,
            r#"{"type":"run","schema":"mlopsctl.journal/v9","run":"r","started":"t","server":"s","source":"c"}
"#,
        )
        .unwrap();
        let err = format!("{:#}", Run::read(&path).unwrap_err());
        assert!(err.contains("schema mlopsctl.journal/v9"), "{err}");
    }

    #[test]
    fn a_first_format_journal_reads_as_fields() {
        // Written by mlopsctl before the schema: whole objects before and after.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.jsonl");
        let lines = [
            json!({"type": "run", "run": "old", "started": "t", "server": "https://k8s:6443", "source": "c"}),
            json!({"type": "pending", "seq": 1, "time": "t", "finding": "SEL003 x",
                   "operation": operation(), "before": object(1, "7")}),
            json!({"type": "applied", "seq": 1, "time": "t", "after": object(2, "9")}),
        ];
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let run = Run::read(&path).unwrap();
        assert_eq!(run.cluster.uid, None);
        assert_eq!(run.changes[0].group, 1);
        let Effect::Patched { fields } = &run.changes[0].effect else {
            panic!("a patch");
        };
        assert_eq!(fields[0].path.to_string(), "spec.replicas");
        assert_eq!(fields[0].after, Some(json!(2)));
    }

    #[test]
    fn the_directory_follows_xdg() {
        assert_eq!(
            default_dir(Some("/state".into()), Some("/home/a".into())),
            Some(PathBuf::from("/state/mlopsctl/journal"))
        );
        // A relative XDG_STATE_HOME is invalid per the spec: ignored.
        assert_eq!(
            default_dir(Some("rel".into()), Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.local/state/mlopsctl/journal"))
        );
        assert_eq!(default_dir(None, None), None);
    }
}
