//! An operation applied to the object it targets, as the API server would:
//! preconditions first, then the change, all or nothing.

use serde_json::Value;

use super::operation::{Change, Operation};
use crate::analyzers::kafka::model::NewTopicSpec;

/// Why an operation could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("{0} no longer exists")]
    Missing(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error(
        "{target} changed since it was planned (resourceVersion {planned}, now {found}): plan again"
    )]
    Stale {
        target: String,
        planned: String,
        found: String,
    },
    /// A `test` failed or a path did not exist.
    #[error("patch of {target} failed: {reason}")]
    Patch { target: String, reason: String },
    #[error("{0} still needs --set for: {1}")]
    Inputs(String, String),
}

/// The object after the operation (`None`: deleted), given the object before
/// (`None`: absent). Checks the resourceVersion, the `test`s, and the inputs.
pub fn apply(operation: &Operation, object: Option<&Value>) -> Result<Option<Value>, ApplyError> {
    let target = operation.target.to_string();
    if !operation.inputs.is_empty() {
        let names: Vec<&str> = operation.inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(ApplyError::Inputs(target, names.join(", ")));
    }
    let object = match (&operation.change, object) {
        (Change::Create(new), None) => return Ok(Some(new.clone())),
        (Change::CreateTopic(topic), None) => return Ok(Some(topic_object(topic))),
        (Change::Create(_) | Change::CreateTopic(_), Some(_)) => {
            return Err(ApplyError::Exists(target));
        }
        (_, None) => return Err(ApplyError::Missing(target)),
        (_, Some(object)) => object,
    };
    if let Some(planned) = &operation.precondition.resource_version {
        let found = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if found != planned {
            return Err(ApplyError::Stale {
                target,
                planned: planned.clone(),
                found: found.to_string(),
            });
        }
    }
    let Change::JsonPatch(_) = &operation.change else {
        // A delete: the object is gone.
        return Ok(None);
    };
    let mut changed = object.clone();
    json_patch::patch(&mut changed, &operation.json_patch()).map_err(|e| ApplyError::Patch {
        target,
        reason: e.to_string(),
    })?;
    Ok(Some(changed))
}

/// A Kafka topic in the shape of an object (`kafka/KafkaTopic`), so a topic
/// creation diffs and verifies like any other creation.
pub fn topic_object(topic: &NewTopicSpec) -> Value {
    let config: serde_json::Map<String, Value> = topic
        .config
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "apiVersion": TOPIC_API_VERSION,
        "kind": TOPIC_KIND,
        "metadata": {"name": topic.name},
        "spec": {
            "partitions": topic.partitions,
            "replicationFactor": topic.replication,
            "config": config,
        }
    })
}

/// The apiVersion and kind of a Kafka topic as an operation's target.
pub const TOPIC_API_VERSION: &str = "kafka";
pub const TOPIC_KIND: &str = "KafkaTopic";

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    use super::*;
    use crate::cluster::ObjectRef;
    use crate::plan::operation::placeholder;
    use crate::report::findings::Applicability;

    fn server(replicas: i64) -> Value {
        json!({
            "apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Server",
            "metadata": {"name": "mlserver", "namespace": "s", "resourceVersion": "10"},
            "spec": {"replicas": replicas}
        })
    }

    fn scale(rv: &str, from: i64, to: i64) -> Operation {
        let target = ObjectRef::new("mlops.seldon.io/v1alpha1", "Server", Some("s"), "mlserver");
        let meta = ObjectMeta {
            resource_version: Some(rv.into()),
            ..Default::default()
        };
        Operation::patch(&target, &meta, Applicability::Safe)
            .test("/spec/replicas", json!(from))
            .replace("/spec/replicas", json!(to))
    }

    #[test]
    fn applies_when_preconditions_hold() {
        let after = apply(&scale("10", 1, 3), Some(&server(1)))
            .unwrap()
            .unwrap();
        assert_eq!(after["spec"]["replicas"], json!(3));
    }

    #[test]
    fn a_newer_resource_version_is_stale() {
        let err = apply(&scale("9", 1, 3), Some(&server(1))).unwrap_err();
        assert!(matches!(err, ApplyError::Stale { ref found, .. } if found == "10"));
        assert!(err.to_string().contains("plan again"), "{err}");
    }

    #[test]
    fn a_failed_test_changes_nothing() {
        // Someone scaled to 2 by hand in the meantime (same resourceVersion
        // only in this test): the test op refuses the whole patch.
        let err = apply(&scale("10", 1, 3), Some(&server(2))).unwrap_err();
        assert!(matches!(err, ApplyError::Patch { .. }), "{err}");
    }

    #[test]
    fn missing_objects_inputs_and_deletes() {
        assert!(matches!(
            apply(&scale("10", 1, 3), None),
            Err(ApplyError::Missing(_))
        ));
        let needs = scale("10", 1, 3)
            .add("/spec/x", placeholder("X"))
            .input("X", "x");
        assert!(matches!(
            apply(&needs, Some(&server(1))),
            Err(ApplyError::Inputs(_, ref names)) if names == "X"
        ));
        let target = ObjectRef::new("mlops.seldon.io/v1alpha1", "Server", Some("s"), "mlserver");
        let meta = ObjectMeta {
            resource_version: Some("10".into()),
            ..Default::default()
        };
        let delete = Operation::delete(&target, &meta, Applicability::Unsafe);
        assert_eq!(apply(&delete, Some(&server(1))), Ok(None));
        let create = Operation::create(server(1), Applicability::Safe);
        assert_eq!(create.target, target);
        assert!(matches!(
            apply(&create, Some(&server(1))),
            Err(ApplyError::Exists(_))
        ));
        assert_eq!(apply(&create, None), Ok(Some(server(1))));
    }
}
