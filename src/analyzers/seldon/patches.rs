//! The patches Seldon fixes send, and the kubectl commands a person would type
//! for the fixes that only show them: JSON-patch operations that set a
//! dataflow env var in the SeldonRuntime, `kubectl patch` strings, and the note
//! on who manages the patched object.

use serde_json::{Value, json};

use crate::analyzers::seldon::dataflow::{
    DATAFLOW_COMPONENT, DATAFLOW_CONTAINER, Dataflow, Source,
};
use crate::cluster::{DynamicObject, ObjectRef};

/// JSON-patch operations that set one dataflow env var in the SeldonRuntime.
pub fn set_env_ops(
    df: &Dataflow<'_>,
    source: &Source,
    var: &str,
    old: &str,
    new: &str,
) -> Option<Vec<Value>> {
    if let Source::Override(loc) = source {
        let path = loc.value_pointer();
        return Some(vec![
            json!({"op": "test", "path": path, "value": old}),
            json!({"op": "replace", "path": path, "value": new}),
        ]);
    }
    let entry = json!({"name": var, "value": new});
    let container = json!({"name": DATAFLOW_CONTAINER, "env": [entry]});
    let overrides = df
        .runtime
        .pointer("/spec/overrides")
        .and_then(Value::as_array);
    let op =
        |path: String, value: Value| Some(vec![json!({"op": "add", "path": path, "value": value})]);
    match (df.override_index, overrides) {
        (Some(i), Some(list)) => {
            let base = format!("/spec/overrides/{i}");
            let Some(pod) = list[i].get("podSpec") else {
                return op(
                    format!("{base}/podSpec"),
                    json!({"containers": [container]}),
                );
            };
            let Some(containers) = pod.get("containers").and_then(Value::as_array) else {
                return op(format!("{base}/podSpec/containers"), json!([container]));
            };
            match containers
                .iter()
                .position(|c| c.get("name").and_then(Value::as_str) == Some(DATAFLOW_CONTAINER))
            {
                None => op(format!("{base}/podSpec/containers/-"), container),
                Some(ci) if containers[ci].get("env").is_some() => {
                    op(format!("{base}/podSpec/containers/{ci}/env/-"), entry)
                }
                Some(ci) => op(
                    format!("{base}/podSpec/containers/{ci}/env"),
                    json!([entry]),
                ),
            }
        }
        (_, list) => {
            let value = json!({"name": DATAFLOW_COMPONENT, "podSpec": {"containers": [container]}});
            match list {
                Some(_) => op("/spec/overrides/-".to_string(), value),
                None => op("/spec/overrides".to_string(), json!([value])),
            }
        }
    }
}

/// `kubectl patch KIND NAME -n NS --type=TYPE -p 'BODY'`, as a person would type it.
pub fn patch_command(subject: &ObjectRef, patch_type: &str, body: &Value) -> String {
    format!(
        "kubectl patch {} {}{} --type={patch_type} -p '{}'",
        subject.kind.to_lowercase(),
        subject.name,
        subject.kubectl_ns(),
        body
    )
}

/// Where the SeldonRuntime is managed from, for fix descriptions.
pub fn managed_note(obj: &DynamicObject, what: &str) -> String {
    match crate::cluster::manager_of(&obj.metadata) {
        Some(manager) => format!(
            " {what} is managed by {manager}: put the same change in its values, or the next upgrade reverts it."
        ),
        None => String::new(),
    }
}
