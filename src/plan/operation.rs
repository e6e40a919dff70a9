//! One change to one object, as data: the target, what must still hold when it
//! is applied, the change itself, and the values a person must supply.

use json_patch::PatchOperation;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::apply::{TOPIC_API_VERSION, TOPIC_KIND};
use super::inputs::{TOPIC_PARTITIONS, TOPIC_REPLICATION};
use crate::analyzers::kafka::model::NewTopicSpec;
use crate::cluster::{Kind, ObjectRef, manager_of};
use crate::report::findings::Applicability;

/// What must still be true of the object for the change to be applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Precondition {
    /// `metadata.resourceVersion` when the plan was made; `None` for a creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// RFC 6902 `test` operations on the fields the change touches, sent ahead
    /// of the change so the server refuses it when they moved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<PatchOperation>,
}

/// The change itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    /// RFC 6902 operations (no `test`s: those are in the precondition).
    JsonPatch(Vec<PatchOperation>),
    Delete,
    /// A whole new object.
    Create(Value),
    /// A Kafka topic, created through the AdminClient (the target is
    /// `kafka/KafkaTopic <name>`, the broker being the one doctor read).
    CreateTopic(NewTopicSpec),
}

/// A value only a person knows, given with `--set NAME=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    /// What the value is, e.g. "the model family the trainer builds (LSTM, GRU)".
    pub description: String,
    /// A Kubernetes quantity the value must exceed: a fix that raises a
    /// limit never lowers it, whatever value is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceeds: Option<String>,
}

/// One change to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// The object (never a field path: the paths are in the change).
    pub target: ObjectRef,
    /// How safe the change is once its inputs are given; `manual` until then.
    pub applicability: Applicability,
    #[serde(default)]
    pub precondition: Precondition,
    pub change: Change,
    /// Inputs whose placeholders ([`placeholder`]) stand in the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Input>,
    /// The tool that renders the target and would undo the change on its next
    /// sync ("Helm release flts", "Argo CD application x"), read from the
    /// target's labels and annotations when the operation was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<String>,
}

/// The JSON string standing for an input until it is given: `${NAME}`.
pub fn placeholder(name: &str) -> Value {
    Value::String(format!("${{{name}}}"))
}

/// An RFC 6902 operation from its JSON form.
fn op(value: Value) -> PatchOperation {
    serde_json::from_value(value).expect("well-formed JSON-patch operation")
}

/// Escape one JSON-pointer segment (`/` and `~`), e.g. an annotation key.
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Operation {
    /// A JSON patch of an existing object, guarded by its resourceVersion.
    /// Add the operations with [`Operation::test`], [`Operation::add`], [`Operation::replace`].
    pub fn patch(target: &ObjectRef, meta: &ObjectMeta, applicability: Applicability) -> Self {
        Operation {
            target: target.object(),
            applicability,
            precondition: Precondition {
                resource_version: meta.resource_version.clone(),
                tests: Vec::new(),
            },
            change: Change::JsonPatch(Vec::new()),
            inputs: Vec::new(),
            managed_by: manager_of(meta),
        }
    }

    /// Delete an object, guarded by its resourceVersion.
    pub fn delete(target: &ObjectRef, meta: &ObjectMeta, applicability: Applicability) -> Self {
        Operation {
            change: Change::Delete,
            ..Self::patch(target, meta, applicability)
        }
    }

    /// Create an object that does not exist.
    pub fn create(object: Value, applicability: Applicability) -> Self {
        let target = ObjectRef::of_json(&object);
        let managed_by = object
            .get("metadata")
            .and_then(|m| serde_json::from_value::<ObjectMeta>(m.clone()).ok())
            .and_then(|m| manager_of(&m));
        Operation {
            target,
            applicability,
            precondition: Precondition::default(),
            change: Change::Create(object),
            inputs: Vec::new(),
            managed_by,
        }
    }

    /// Create a Kafka topic on the observed cluster (target `kafka/KafkaTopic NAME`).
    pub fn create_topic(topic: NewTopicSpec, applicability: Applicability) -> Self {
        Operation {
            target: ObjectRef::new(TOPIC_API_VERSION, TOPIC_KIND, None, &topic.name),
            applicability,
            precondition: Precondition::default(),
            change: Change::CreateTopic(topic),
            inputs: Vec::new(),
            managed_by: None,
        }
    }

    /// Require a field to hold this value when the change is applied.
    pub fn test(mut self, path: &str, value: Value) -> Self {
        self.precondition
            .tests
            .push(op(json!({"op": "test", "path": path, "value": value})));
        self
    }

    pub fn add(self, path: &str, value: Value) -> Self {
        self.push(json!({"op": "add", "path": path, "value": value}))
    }

    pub fn replace(self, path: &str, value: Value) -> Self {
        self.push(json!({"op": "replace", "path": path, "value": value}))
    }

    fn push(mut self, operation: Value) -> Self {
        if let Change::JsonPatch(ops) = &mut self.change {
            ops.push(op(operation));
        }
        self
    }

    /// Declare an input; use [`placeholder`] where its value goes.
    pub fn input(mut self, name: &str, description: impl Into<String>) -> Self {
        self.inputs.push(Input {
            name: name.to_string(),
            description: description.into(),
            exceeds: None,
        });
        self
    }

    /// Declare an input that must be a quantity above `current` (a limit
    /// the fix raises).
    pub fn input_above(
        mut self,
        name: &str,
        description: impl Into<String>,
        current: &str,
    ) -> Self {
        self.inputs.push(Input {
            name: name.to_string(),
            description: description.into(),
            exceeds: Some(current.to_string()),
        });
        self
    }

    /// The JSON pointers the change writes (`""`: the whole object), for isolation.
    pub fn touched(&self) -> Vec<String> {
        match &self.change {
            Change::JsonPatch(ops) => ops
                .iter()
                .flat_map(|o| {
                    let from = match o {
                        PatchOperation::Move(m) => Some(m.from.to_string()),
                        _ => None,
                    };
                    std::iter::once(o.path().to_string()).chain(from)
                })
                .collect(),
            Change::Delete | Change::Create(_) | Change::CreateTopic(_) => vec![String::new()],
        }
    }

    /// The JSON patch to send: the precondition's tests, then the change.
    pub fn json_patch(&self) -> Vec<PatchOperation> {
        match &self.change {
            Change::JsonPatch(ops) => self.precondition.tests.iter().chain(ops).cloned().collect(),
            Change::Delete | Change::Create(_) | Change::CreateTopic(_) => Vec::new(),
        }
    }

    /// The kubectl command a person would type for this change.
    pub fn kubectl(&self) -> String {
        let name = resource_name(&self.target);
        let ns = self.target.kubectl_ns();
        match &self.change {
            Change::JsonPatch(_) => {
                let body = serde_json::to_string(&self.json_patch()).expect("JSON serializes");
                format!(
                    "kubectl patch {name}{ns} --type=json -p '{}'",
                    body.replace('\'', r"'\''")
                )
            }
            Change::Delete => format!("kubectl delete {name}{ns}"),
            Change::Create(object) => {
                let body = serde_json::to_string(object).expect("JSON serializes");
                format!(
                    "echo '{}' | kubectl create -f -",
                    body.replace('\'', r"'\''")
                )
            }
            Change::CreateTopic(t) => {
                let config: String = t
                    .config
                    .iter()
                    .map(|(k, v)| format!(" --config {k}={v}"))
                    .collect();
                // A number still to be given shows as its placeholder.
                let count = |input: &str, n: i32| {
                    if self.inputs.iter().any(|i| i.name == input) {
                        format!("${{{input}}}")
                    } else {
                        n.to_string()
                    }
                };
                format!(
                    "kafka-topics.sh --bootstrap-server $BOOTSTRAP --create --if-not-exists --topic {} \
                     --partitions {} --replication-factor {}{config}",
                    t.name,
                    count(TOPIC_PARTITIONS, t.partitions),
                    count(TOPIC_REPLICATION, t.replication)
                )
            }
        }
    }
}

/// `deployment/train` for built-in kinds, `servers.mlops.seldon.io/mlserver` for
/// custom resources (a short kind name can be ambiguous across CRDs).
pub fn resource_name(target: &ObjectRef) -> String {
    match Kind::from_object(&target.api_version, &target.kind).map(Kind::info) {
        Some(info) if info.group.contains('.') && !info.group.ends_with(".k8s.io") => {
            format!("{}.{}/{}", info.plural, info.group, target.name)
        }
        _ => target.kubectl_name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(rv: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some("train".into()),
            namespace: Some("ml".into()),
            resource_version: Some(rv.into()),
            ..Default::default()
        }
    }

    fn deployment() -> ObjectRef {
        ObjectRef::new("apps/v1", "Deployment", Some("ml"), "train").with_field("spec.replicas")
    }

    #[test]
    fn a_patch_sends_its_tests_first_and_renders_as_kubectl() {
        let op = Operation::patch(&deployment(), &meta("42"), Applicability::Safe)
            .test("/spec/replicas", json!(1))
            .replace("/spec/replicas", json!(2));
        assert_eq!(op.target.field_path, None);
        assert_eq!(op.precondition.resource_version.as_deref(), Some("42"));
        assert_eq!(op.touched(), vec!["/spec/replicas"]);
        assert_eq!(
            op.kubectl(),
            r#"kubectl patch deployment/train -n ml --type=json -p '[{"op":"test","path":"/spec/replicas","value":1},{"op":"replace","path":"/spec/replicas","value":2}]'"#
        );
    }

    #[test]
    fn quotes_in_values_survive_the_shell() {
        let op = Operation::patch(&deployment(), &meta("1"), Applicability::Safe)
            .add("/metadata/annotations/note", json!("it's"));
        assert!(op.kubectl().contains(r#""it'\''s""#), "{}", op.kubectl());
    }

    #[test]
    fn custom_resources_are_named_by_plural_and_group() {
        let server = ObjectRef::new("mlops.seldon.io/v1alpha1", "Server", Some("s"), "mlserver");
        assert_eq!(resource_name(&server), "servers.mlops.seldon.io/mlserver");
        let op = Operation::delete(&server, &meta("7"), Applicability::Unsafe);
        assert_eq!(op.touched(), vec![""]);
        assert_eq!(
            op.kubectl(),
            "kubectl delete servers.mlops.seldon.io/mlserver -n s"
        );
    }

    #[test]
    fn round_trips_through_json() {
        let op = Operation::patch(&deployment(), &meta("3"), Applicability::Manual)
            .add("/spec/x", placeholder("X"))
            .input("X", "the x");
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(serde_json::from_str::<Operation>(&text).unwrap(), op);
    }
}
