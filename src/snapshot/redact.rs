//! What `snapshot save` hides: Secret values (the keys stay, with empty values
//! so they are still valid base64), and env values that look like credentials
//! (by name, or a URL with user info), also inside kubectl's
//! last-applied-configuration annotation, which repeats the object.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

pub const REDACTED: &str = "REDACTED";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

static CREDENTIAL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)password|passwd|secret|token|key|credential").expect("valid regex")
});
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@").expect("valid regex")
});

/// Redact an object in place.
pub fn redact(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) == Some("Secret") {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(map)) = object.get_mut(field) {
                for value in map.values_mut() {
                    *value = Value::String(String::new());
                }
            }
        }
    }
    walk(object);
}

fn walk(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(env)) = map.get_mut("env") {
                env.iter_mut().for_each(redact_env_var);
            }
            if let Some(Value::Object(annotations)) = map.get_mut("annotations")
                && let Some(Value::String(applied)) = annotations.get_mut(LAST_APPLIED)
            {
                *applied = match serde_json::from_str::<Value>(applied) {
                    Ok(mut inner) => {
                        redact(&mut inner);
                        inner.to_string()
                    }
                    Err(_) => REDACTED.to_string(),
                };
            }
            map.values_mut().for_each(walk);
        }
        Value::Array(items) => items.iter_mut().for_each(walk),
        _ => {}
    }
}

/// `{name: DB_PASSWORD, value: hunter2}` → `value: REDACTED`; a URL keeps all but its user info.
fn redact_env_var(var: &mut Value) {
    let credential = var
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| CREDENTIAL_NAME.is_match(n));
    let Some(Value::String(text)) = var.get_mut("value") else {
        return;
    };
    if text.is_empty() {
        return;
    }
    if credential {
        *text = REDACTED.to_string();
    } else if URL_USERINFO.is_match(text) {
        *text = URL_USERINFO
            .replace_all(text, format!("${{scheme}}{REDACTED}@"))
            .into_owned();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_keep_keys_with_empty_values() {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"user": "admin"}});
        redact(&mut s);
        assert_eq!(s["data"], json!({"password": ""}));
        assert_eq!(s["stringData"], json!({"user": ""}));
    }

    #[test]
    fn credential_env_values_and_url_user_info() {
        let mut d = json!({"kind": "Deployment", "metadata": {"name": "d", "annotations": {
        LAST_APPLIED: "{\"kind\":\"Deployment\",\"spec\":{\"env\":[{\"name\":\"API_TOKEN\",\"value\":\"abc\"}]}}"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "env": [
            {"name": "MLFLOW_TRACKING_PASSWORD", "value": "hunter2"},
            {"name": "aws_secret_access_key", "value": "wJalr"},
            {"name": "DATABASE_URL", "value": "postgresql://mlflow:hunter2@db:5432/mlflow"},
            {"name": "MODEL_TYPE", "value": "lstm"},
            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
        ]}]}}}});
        redact(&mut d);
        let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], REDACTED);
        assert_eq!(env[1]["value"], REDACTED);
        assert_eq!(env[2]["value"], "postgresql://REDACTED@db:5432/mlflow");
        assert_eq!(env[3]["value"], "lstm");
        assert_eq!(env[4]["valueFrom"]["secretKeyRef"]["key"], "k");
        let applied = d["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap();
        assert!(
            !applied.contains("abc") && applied.contains(REDACTED),
            "{applied}"
        );
    }
}
