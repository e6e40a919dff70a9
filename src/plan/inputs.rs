//! `--set KEY=VALUE`: the values plans cannot know, and how they replace the
//! placeholders in an operation.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use serde_json::Value;

use super::operation::{Change, Operation, placeholder};
use crate::analyzers::quantity;

/// The input giving a topic's partition count (`Change::CreateTopic`, whose
/// numbers cannot hold a placeholder: 0 stands for it until it is given).
pub const TOPIC_PARTITIONS: &str = "partitions";
/// The input giving a topic's replication factor, like [`TOPIC_PARTITIONS`].
pub const TOPIC_REPLICATION: &str = "replication";

/// The values given with `--set`. A key is an input name (`MODEL_TYPE`), or
/// `OBJECT/NAME` (`train-gru/MODEL_TYPE`) to give one object its own value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs(BTreeMap<String, String>);

impl Inputs {
    /// Parse `KEY=VALUE` pairs; a later pair for the same key wins.
    pub fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<Inputs> {
        let mut values = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let Some((key, value)) = pair.split_once('=') else {
                bail!("--set {pair}: expected KEY=VALUE, e.g. --set MODEL_TYPE=LSTM");
            };
            if key.is_empty() {
                bail!("--set {pair}: the key before `=` is empty");
            }
            values.insert(key.to_string(), value.to_string());
        }
        Ok(Inputs(values))
    }

    /// The value of an input for one object: `OBJECT/NAME` first, then `NAME`.
    pub fn get(&self, object: &str, name: &str) -> Option<&str> {
        self.0
            .get(&format!("{object}/{name}"))
            .or_else(|| self.0.get(name))
            .map(String::as_str)
    }

    /// The operation with its placeholders replaced, or why it cannot be.
    pub fn fill(&self, operation: &Operation) -> Result<Operation, Unfilled> {
        let object = operation.target.name.as_str();
        let missing: Vec<String> = operation
            .inputs
            .iter()
            .filter(|i| self.get(object, &i.name).is_none())
            .map(|i| i.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(Unfilled::Missing(missing));
        }
        for input in &operation.inputs {
            let Some(current) = &input.exceeds else {
                continue;
            };
            let value = self.get(object, &input.name).expect("checked above");
            match (quantity::bytes(value), quantity::bytes(current)) {
                (None, _) => {
                    return Err(Unfilled::Refused(format!(
                        "--set {}={value} is not a Kubernetes quantity (e.g. 2Gi)",
                        input.name
                    )));
                }
                (Some(new), Some(old)) if new <= old => {
                    return Err(Unfilled::Refused(format!(
                        "--set {}={value} is not above the current {current}: this fix only \
                         ever raises it",
                        input.name
                    )));
                }
                _ => {}
            }
        }
        let values: Vec<(Value, Value)> = operation
            .inputs
            .iter()
            .map(|i| {
                let value = self.get(object, &i.name).expect("checked above");
                (placeholder(&i.name), Value::String(value.to_string()))
            })
            .collect();
        let mut filled = operation.clone();
        filled.inputs.clear();
        let replace = |v: &mut Value| substitute(v, &values);
        match &mut filled.change {
            Change::JsonPatch(ops) => {
                for op in ops.iter_mut() {
                    let mut json = serde_json::to_value(&*op).expect("serializes");
                    replace(&mut json);
                    *op = serde_json::from_value(json).expect("still an operation");
                }
            }
            Change::Create(object) => replace(object),
            Change::CreateTopic(topic) => {
                for input in &operation.inputs {
                    let value = self.get(object, &input.name).expect("checked above");
                    let count = value.parse::<i32>().ok().filter(|n| *n > 0);
                    let field = match input.name.as_str() {
                        TOPIC_PARTITIONS => &mut topic.partitions,
                        TOPIC_REPLICATION => &mut topic.replication,
                        _ => continue,
                    };
                    // Not a positive whole number: still to be given.
                    *field = count.ok_or_else(|| Unfilled::Missing(vec![input.name.clone()]))?;
                }
            }
            Change::Delete => {}
        }
        Ok(filled)
    }
}

/// Why an operation's inputs cannot be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfilled {
    /// These inputs were not given.
    Missing(Vec<String>),
    /// A value was given that the fix refuses, and why.
    Refused(String),
}

/// Replace every string that is exactly a placeholder with its value.
fn substitute(value: &mut Value, values: &[(Value, Value)]) {
    match value {
        Value::String(_) => {
            if let Some((_, v)) = values.iter().find(|(p, _)| p == value) {
                *value = v.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, values)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    use super::*;
    use crate::cluster::ObjectRef;
    use crate::report::findings::Applicability;

    fn env_op(object: &str) -> Operation {
        let target = ObjectRef::new("apps/v1", "Deployment", Some("ml"), object);
        Operation::patch(&target, &ObjectMeta::default(), Applicability::Safe)
            .add(
                "/spec/template/spec/containers/0/env/-",
                json!({"name": "MODEL_TYPE", "value": placeholder("MODEL_TYPE")}),
            )
            .input("MODEL_TYPE", "model family")
    }

    #[test]
    fn names_what_is_missing() {
        let none = Inputs::parse::<&str>(&[]).unwrap();
        assert_eq!(
            none.fill(&env_op("train")),
            Err(Unfilled::Missing(vec!["MODEL_TYPE".into()]))
        );
    }

    #[test]
    fn fills_placeholders_and_prefers_the_object_s_own_value() {
        let inputs = Inputs::parse(&["MODEL_TYPE=LSTM", "train-gru/MODEL_TYPE=GRU"]).unwrap();
        let filled = inputs.fill(&env_op("train-lstm")).unwrap();
        assert!(filled.inputs.is_empty());
        assert!(filled.kubectl().contains(r#""value":"LSTM""#));
        let gru = inputs.fill(&env_op("train-gru")).unwrap();
        assert!(gru.kubectl().contains(r#""value":"GRU""#));
    }

    #[test]
    fn topic_numbers_come_from_their_inputs() {
        let spec = crate::analyzers::kafka::model::NewTopicSpec {
            name: "model-selected".into(),
            partitions: 0,
            replication: 0,
            config: Vec::new(),
        };
        let op = Operation::create_topic(spec, Applicability::Unsafe)
            .input(TOPIC_PARTITIONS, "partitions")
            .input(TOPIC_REPLICATION, "replication");
        let inputs = Inputs::parse(&["replication=1", "model-selected/partitions=6"]).unwrap();
        let filled = inputs.fill(&op).unwrap();
        let Change::CreateTopic(t) = &filled.change else {
            panic!("{filled:?}")
        };
        assert_eq!((t.partitions, t.replication), (6, 1));
        assert!(
            op.kubectl()
                .contains("--partitions ${partitions} --replication-factor ${replication}"),
            "{}",
            op.kubectl()
        );
        assert!(
            filled
                .kubectl()
                .contains("--partitions 6 --replication-factor 1")
        );
        let bad = Inputs::parse(&["replication=1", "partitions=-2"]).unwrap();
        assert_eq!(
            bad.fill(&op),
            Err(Unfilled::Missing(vec![TOPIC_PARTITIONS.to_string()]))
        );
    }

    #[test]
    fn values_may_hold_equals_signs_but_keys_must_exist() {
        let inputs = Inputs::parse(&["URL=http://x?a=b"]).unwrap();
        assert_eq!(inputs.get("any", "URL"), Some("http://x?a=b"));
        assert!(Inputs::parse(&["novalue"]).is_err());
        assert!(Inputs::parse(&["=x"]).is_err());
    }
}
