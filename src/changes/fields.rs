//! The fields a change touched, each with its value before and after: what
//! the journal keeps of a patch, and what `undo` compares and restores, so a
//! restore puts back exactly those fields and keeps every other change made
//! since (a controller's status, another client's `kubectl scale`).
//!
//! Paths step through objects by key and through Kubernetes' keyed lists
//! (containers, env, ports, volumes: every item a map with a unique `name`)
//! by name, so a field is found again after someone reorders or extends the
//! list. Any other list is one field.

use std::fmt;

use json_patch::PatchOperation;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One step into an object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// A map key.
    Key(String),
    /// The item of a keyed list whose `name` is this.
    Named { name: String },
}

/// Where a field is: `spec.template.spec.containers[mlflow].readinessProbe`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldPath(pub Vec<Step>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for step in &self.0 {
            match step {
                Step::Key(k) if k.contains(['.', '/']) || k.is_empty() => write!(f, "[{k:?}]")?,
                Step::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Step::Named { name } => write!(f, "[{name}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

impl FieldPath {
    fn child(&self, step: Step) -> FieldPath {
        let mut steps = self.0.clone();
        steps.push(step);
        FieldPath(steps)
    }

    /// The keys and names along the path, for deciding whether a value is a
    /// credential (`env[DB_PASSWORD].value`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| match s {
            Step::Key(k) => k.as_str(),
            Step::Named { name } => name.as_str(),
        })
    }

    /// Where the field is in `object` now: its JSON pointer and value (`None`
    /// when it is absent), or `None` when its parent is not there.
    pub fn locate<'a>(&self, object: &'a Value) -> Option<(String, Option<&'a Value>)> {
        let mut pointer = String::new();
        let mut current = Some(object);
        for step in &self.0 {
            let here = current?;
            match step {
                Step::Key(k) => {
                    here.as_object()?;
                    pointer.push('/');
                    pointer.push_str(&escape(k));
                    current = here.get(k);
                }
                Step::Named { name } => {
                    let items = here.as_array()?;
                    match items.iter().position(|i| i["name"] == name.as_str()) {
                        Some(i) => {
                            pointer.push_str(&format!("/{i}"));
                            current = Some(&items[i]);
                        }
                        // An item to append: `-` adds at the end.
                        None => {
                            pointer.push_str("/-");
                            current = None;
                        }
                    }
                }
            }
        }
        Some((pointer, current))
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// One field a change touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: FieldPath,
    /// The value before the change; absent when the change added the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after it; absent when the change removed the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

impl FieldChange {
    /// The same field, changed the other way: what restoring it does.
    pub fn inverse(&self) -> FieldChange {
        FieldChange {
            path: self.path.clone(),
            before: self.after.clone(),
            after: self.before.clone(),
        }
    }
}

/// The fields that differ between two versions of an object's content.
pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(&FieldPath::default(), Some(before), Some(after), &mut out);
    out
}

fn walk(path: &FieldPath, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<FieldChange>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                walk(&path.child(Step::Key(k.clone())), x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if keyed(x) && keyed(y) => {
            let mut names: Vec<&str> = Vec::new();
            for item in x.iter().chain(y) {
                let n = item["name"].as_str().unwrap_or_default();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            let find = |items: &'_ [Value], n: &str| -> Option<Value> {
                items.iter().find(|i| i["name"] == n).cloned()
            };
            for n in names {
                let (i, j) = (find(x, n), find(y, n));
                walk(
                    &path.child(Step::Named {
                        name: n.to_string(),
                    }),
                    i.as_ref(),
                    j.as_ref(),
                    out,
                );
            }
        }
        _ => out.push(FieldChange {
            path: path.clone(),
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

/// A list of maps each with a distinct string `name` (or an empty list):
/// Kubernetes merges such lists by name, and so do we.
fn keyed(items: &[Value]) -> bool {
    let mut names: Vec<&str> = Vec::new();
    for i in items {
        match i["name"].as_str() {
            Some(n) if !names.contains(&n) => names.push(n),
            _ => return false,
        }
    }
    true
}

/// A field found changed since: what it holds now, where the change left
/// something else.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub path: FieldPath,
    /// What the change set (absent: removed).
    pub expected: Option<Value>,
    /// What is there now (absent: removed since).
    pub found: Option<Value>,
}

/// The JSON patch that sets `fields` of `object` to their `after` values,
/// each guarded by a `test` of the value read (for a field to add: that its
/// parent is as read), so the server refuses the patch if anyone moved it
/// meanwhile; and the fields not at their `before` value (drift). A drifted
/// field is in the patch too: whether to send it is the caller's choice
/// (`undo --force`). A field whose parent is gone is drift only.
pub fn patch(object: &Value, fields: &[FieldChange]) -> (Vec<PatchOperation>, Vec<Drift>) {
    let mut working = object.clone();
    let mut ops: Vec<PatchOperation> = Vec::new();
    let mut drift = Vec::new();
    for field in fields {
        let located = field.path.locate(&working);
        let found = located.as_ref().and_then(|(_, v)| v.cloned());
        if located.is_some() && found == field.after {
            continue; // already as wanted
        }
        let moved = || Drift {
            path: field.path.clone(),
            expected: field.before.clone(),
            found: found.clone(),
        };
        let Some((pointer, _)) = located else {
            drift.push(moved());
            continue;
        };
        if found != field.before {
            drift.push(moved());
        }
        let step: Vec<Value> = match (&found, &field.after) {
            (Some(now), Some(value)) => vec![
                json!({"op": "test", "path": pointer, "value": now}),
                json!({"op": "replace", "path": pointer, "value": value}),
            ],
            (Some(now), None) => vec![
                json!({"op": "test", "path": pointer, "value": now}),
                json!({"op": "remove", "path": pointer}),
            ],
            (None, Some(value)) => {
                let parent = parent_pointer(&pointer);
                let guard = working
                    .pointer(&parent)
                    .map(|current| json!({"op": "test", "path": parent, "value": current}));
                guard
                    .into_iter()
                    .chain([json!({"op": "add", "path": pointer, "value": value})])
                    .collect()
            }
            (None, None) => Vec::new(),
        };
        let typed: Vec<PatchOperation> = step
            .into_iter()
            .map(|o| serde_json::from_value(o).expect("well-formed operation"))
            .collect();
        if json_patch::patch(&mut working, &typed).is_err() {
            // The parent is not a map or list to add to: nothing can be put there.
            if found == field.before {
                drift.push(moved());
            }
            continue;
        }
        ops.extend(typed);
    }
    (ops, drift)
}

fn parent_pointer(pointer: &str) -> String {
    pointer
        .rsplit_once('/')
        .map_or(String::new(), |(p, _)| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i64, timeout: i64, env: Value) -> Value {
        json!({"spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "mlflow", "image": "mlflow:2",
             "readinessProbe": {"httpGet": {"path": "/ping", "port": 5001}, "timeoutSeconds": timeout},
             "env": env}
        ]}}}})
    }

    fn env(pairs: &[(&str, &str)]) -> Value {
        Value::Array(
            pairs
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect(),
        )
    }

    /// The patch when nothing drifted, else the drift.
    fn strict(object: &Value, fields: &[FieldChange]) -> Result<Vec<PatchOperation>, Vec<Drift>> {
        match patch(object, fields) {
            (ops, drift) if drift.is_empty() => Ok(ops),
            (_, drift) => Err(drift),
        }
    }

    #[test]
    fn keyed_lists_are_walked_by_name() {
        let before = deployment(1, 1, env(&[("A", "1")]));
        let after = deployment(1, 5, env(&[("A", "1"), ("MODEL_TYPE", "LSTM")]));
        let fields = diff(&before, &after);
        let paths: Vec<String> = fields.iter().map(|f| f.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "spec.template.spec.containers[mlflow].env[MODEL_TYPE]",
                "spec.template.spec.containers[mlflow].readinessProbe.timeoutSeconds",
            ]
        );
        assert_eq!(fields[0].before, None);
        assert_eq!(fields[1].after, Some(json!(5)));
    }

    #[test]
    fn restoring_keeps_what_others_changed_since() {
        let before = deployment(1, 1, env(&[("A", "1")]));
        let fixed = deployment(1, 5, env(&[("A", "1"), ("MODEL_TYPE", "LSTM")]));
        let restore: Vec<FieldChange> = diff(&before, &fixed)
            .iter()
            .map(FieldChange::inverse)
            .collect();
        // Someone scaled to 3 and put a variable before ours since.
        let mut now = deployment(3, 5, env(&[("B", "2"), ("A", "1"), ("MODEL_TYPE", "LSTM")]));
        let ops = strict(&now, &restore).unwrap();
        json_patch::patch(&mut now, &ops).unwrap();
        assert_eq!(now, deployment(3, 1, env(&[("B", "2"), ("A", "1")])));
    }

    #[test]
    fn a_field_changed_since_is_drift_and_force_restores_only_it() {
        let before = deployment(1, 1, env(&[]));
        let fixed = deployment(1, 5, env(&[]));
        let restore: Vec<FieldChange> = diff(&before, &fixed)
            .iter()
            .map(FieldChange::inverse)
            .collect();
        let mut now = deployment(4, 7, env(&[]));
        let drift = strict(&now, &restore).unwrap_err();
        assert_eq!(drift.len(), 1);
        assert_eq!(
            drift[0].path.to_string(),
            "spec.template.spec.containers[mlflow].readinessProbe.timeoutSeconds"
        );
        assert_eq!(
            (drift[0].expected.clone(), drift[0].found.clone()),
            (Some(json!(5)), Some(json!(7)))
        );
        let ops = patch(&now, &restore).0;
        json_patch::patch(&mut now, &ops).unwrap();
        assert_eq!(now, deployment(4, 1, env(&[])));
    }

    #[test]
    fn every_write_is_guarded_by_a_test() {
        let before = deployment(1, 1, env(&[("A", "1")]));
        let fixed = deployment(1, 5, env(&[]));
        let ops = strict(&before, &diff(&before, &fixed)).unwrap();
        let text = serde_json::to_value(&ops).unwrap();
        assert_eq!(
            text,
            json!([
                {"op": "test", "path": "/spec/template/spec/containers/0/env/0", "value": {"name": "A", "value": "1"}},
                {"op": "remove", "path": "/spec/template/spec/containers/0/env/0"},
                {"op": "test", "path": "/spec/template/spec/containers/0/readinessProbe/timeoutSeconds", "value": 1},
                {"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe/timeoutSeconds", "value": 5},
            ])
        );
    }

    #[test]
    fn an_added_item_goes_at_the_end_under_a_test_of_its_list() {
        let before = deployment(1, 1, env(&[("A", "1")]));
        let fixed = deployment(1, 1, env(&[("A", "1"), ("B", "2")]));
        let ops = serde_json::to_value(strict(&before, &diff(&before, &fixed)).unwrap()).unwrap();
        assert_eq!(ops[0]["op"], "test");
        assert_eq!(ops[0]["path"], "/spec/template/spec/containers/0/env");
        assert_eq!(
            ops[1],
            json!({"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "B", "value": "2"}})
        );
    }

    #[test]
    fn a_gone_parent_is_drift() {
        let before = deployment(1, 1, env(&[]));
        let fixed = deployment(1, 5, env(&[]));
        let restore: Vec<FieldChange> = diff(&before, &fixed)
            .iter()
            .map(FieldChange::inverse)
            .collect();
        let now = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": []}}}});
        let drift = strict(&now, &restore).unwrap_err();
        assert_eq!(drift[0].found, None);
    }

    #[test]
    fn paths_round_trip_through_json() {
        let path = FieldPath(vec![
            Step::Key("spec".into()),
            Step::Named {
                name: "mlflow".into(),
            },
            Step::Key("kubectl.kubernetes.io/restartedAt".into()),
        ]);
        let text = serde_json::to_string(&path).unwrap();
        assert_eq!(
            text,
            r#"["spec",{"name":"mlflow"},"kubectl.kubernetes.io/restartedAt"]"#
        );
        assert_eq!(serde_json::from_str::<FieldPath>(&text).unwrap(), path);
        assert_eq!(
            path.to_string(),
            r#"spec[mlflow]["kubectl.kubernetes.io/restartedAt"]"#
        );
    }
}
