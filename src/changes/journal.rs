//! The journal of one `mlopsctl fix` run: JSON lines in
//! `$XDG_STATE_HOME/mlopsctl/journal/<run-id>.jsonl`, each written and
//! fsync'd before the next change is made. A change is journaled twice:
//! `pending` with the object as it was, before the request is sent, then
//! `applied` with the object as it became (or `refused`). A crash in between
//! leaves a `pending` record that `undo` treats as "may have been applied".
//! `undo` appends `undone` records to the same file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::Operation;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Record {
    /// The first line: which run, against which cluster.
    #[serde(rename_all = "camelCase")]
    Run {
        run: String,
        started: String,
        server: String,
        source: String,
    },
    /// About to make a change; `before` is the object as read just before
    /// (`None`: it does not exist yet).
    #[serde(rename_all = "camelCase")]
    Pending {
        seq: u32,
        time: String,
        finding: String,
        operation: Box<Operation>,
        before: Option<Value>,
    },
    /// The change was made; `after` is the object as the server returned it
    /// (`None`: deleted).
    Applied {
        seq: u32,
        time: String,
        after: Option<Value>,
    },
    /// The server refused the change: nothing changed.
    Refused {
        seq: u32,
        time: String,
        reason: String,
    },
    /// `undo` restored the object as it was (or found it so).
    Undone { seq: u32, time: String },
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

/// A journal being written.
pub struct Journal {
    file: File,
    path: PathBuf,
    run: String,
    next_seq: u32,
}

impl Journal {
    /// Start the journal of a new run in `dir`; the run id sorts by time.
    pub fn create(dir: &Path, server: &str, source: &str) -> Result<Journal> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the journal directory {}", dir.display()))?;
        let stamp = k8s_openapi::jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let run = format!("{stamp}-{:05}", std::process::id() % 100_000);
        let path = dir.join(format!("{run}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
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
        };
        journal.write(&Record::Run {
            run,
            started: now(),
            server: server.to_string(),
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
        })
    }

    pub fn run(&self) -> &str {
        &self.run
    }

    pub fn path(&self) -> &Path {
        &self.path
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

    /// Journal a change about to be made; returns its sequence number.
    pub fn pending(
        &mut self,
        finding: &str,
        operation: &Operation,
        before: Option<&Value>,
    ) -> Result<u32> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.write(&Record::Pending {
            seq,
            time: now(),
            finding: finding.to_string(),
            operation: Box::new(operation.clone()),
            before: before.cloned(),
        })?;
        Ok(seq)
    }

    pub fn applied(&mut self, seq: u32, after: Option<&Value>) -> Result<()> {
        self.write(&Record::Applied {
            seq,
            time: now(),
            after: after.cloned(),
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
}

/// What became of one journaled change.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// Journaled, no outcome: the run stopped while the request was out.
    Interrupted,
    Applied {
        after: Option<Value>,
    },
    Refused {
        reason: String,
    },
    Undone,
}

/// One change of a run, its records folded together.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: u32,
    pub time: String,
    pub finding: String,
    pub operation: Operation,
    pub before: Option<Value>,
    pub state: State,
}

/// A run read back from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub path: PathBuf,
    pub started: String,
    pub server: String,
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
                        run: id,
                        started,
                        server,
                        source,
                    },
                    None,
                ) => {
                    run = Some(Run {
                        id,
                        path: path.to_path_buf(),
                        started,
                        server,
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
                        time,
                        finding,
                        operation,
                        before,
                    },
                    Some(run),
                ) => run.changes.push(Change {
                    seq,
                    time,
                    finding,
                    operation: *operation,
                    before,
                    state: State::Interrupted,
                }),
                (Record::Applied { seq, after, .. }, Some(run)) => {
                    run.change_mut(seq, &location)?.state = State::Applied { after };
                }
                (Record::Refused { seq, reason, .. }, Some(run)) => {
                    run.change_mut(seq, &location)?.state = State::Refused { reason };
                }
                (Record::Undone { seq, .. }, Some(run)) => {
                    run.change_mut(seq, &location)?.state = State::Undone;
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

    /// Changes `undo` has to look at: applied or interrupted, not yet undone.
    pub fn to_undo(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .rev()
            .filter(|c| matches!(c.state, State::Applied { .. } | State::Interrupted))
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
    use crate::findings::Applicability;

    fn operation() -> Operation {
        let target = ObjectRef::new("apps/v1", "Deployment", Some("ml"), "train");
        let meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            resource_version: Some("7".into()),
            ..Default::default()
        };
        Operation::patch(&target, &meta, Applicability::Safe).replace("/spec/replicas", json!(2))
    }

    #[test]
    fn records_fold_into_changes_with_their_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), "https://k8s:6443", "context prod").unwrap();
        let before = json!({"spec": {"replicas": 1}});
        let one = journal
            .pending("SEL003 x", &operation(), Some(&before))
            .unwrap();
        journal
            .applied(one, Some(&json!({"spec": {"replicas": 2}})))
            .unwrap();
        let two = journal
            .pending("SEL003 y", &operation(), Some(&before))
            .unwrap();
        journal.refused(two, "forbidden").unwrap();
        let three = journal.pending("SEL003 z", &operation(), None).unwrap();
        assert_eq!((one, two, three), (1, 2, 3));

        let run = Run::read(journal.path()).unwrap();
        assert_eq!(run.id, journal.run());
        assert_eq!(run.server, "https://k8s:6443");
        let states: Vec<_> = run.changes.iter().map(|c| c.state.clone()).collect();
        assert_eq!(
            states,
            vec![
                State::Applied {
                    after: Some(json!({"spec": {"replicas": 2}}))
                },
                State::Refused {
                    reason: "forbidden".into()
                },
                State::Interrupted,
            ]
        );
        // Newest first, refused ones left out.
        let seqs: Vec<u32> = run.to_undo().map(|c| c.seq).collect();
        assert_eq!(seqs, vec![3, 1]);

        let mut again = Journal::append(&run).unwrap();
        again.undone(1).unwrap();
        let run = Run::read(journal.path()).unwrap();
        assert_eq!(run.changes[0].state, State::Undone);
        assert_eq!(
            runs(dir.path()).unwrap(),
            vec![journal.path().to_path_buf()]
        );
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_ignored_other_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), "s", "c").unwrap();
        journal.pending("f", &operation(), None).unwrap();
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
