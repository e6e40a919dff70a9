//! What `snapshot save` hides: Secret values (the keys stay, with empty values
//! so they are still valid base64); env values and KEDA trigger parameters whose
//! name looks like a credential; and the password (or token) in any URL of any
//! string — also inside kubectl's last-applied-configuration annotation, which
//! repeats the object. A value a check judges as public knowledge (a
//! product's well-known default credential, for SEC001) stays, so the saved
//! snapshot is judged as the cluster was. What is hidden becomes `REDACTED`,
//! never empty, so a
//! check that reports an inline credential still fires on the saved snapshot.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

pub const REDACTED: &str = "REDACTED";
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

static CREDENTIAL_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)password|passwd|secret|token|key|credential").expect("valid regex")
});
/// `scheme://user:password@` (the user is kept) or `scheme://token@`.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?:(?P<user>[^/@\s:]*):)?[^/@\s:]+@")
        .expect("valid regex")
});

/// Whether a field or variable name looks like it holds a credential.
pub fn is_credential_name(name: &str) -> bool {
    CREDENTIAL_NAME.is_match(name)
}

/// Whether a value, under a name (empty inside a URL), is public knowledge
/// a check judges (a well-known default credential) and stays in clear.
pub type Keep<'a> = &'a dyn Fn(&str, &str) -> bool;

/// A text with the password (or token) of every URL in it redacted.
pub fn redact_urls(text: &str) -> String {
    let mut value = Value::String(text.to_string());
    walk(&mut value, &|_, _| false);
    value.as_str().unwrap_or_default().to_string()
}

/// Redact an object in place.
pub fn redact(object: &mut Value) {
    redact_keeping(object, &|_, _| false);
}

/// Redact an object in place, keeping what `keep` says is public.
pub fn redact_keeping(object: &mut Value, keep: Keep<'_>) {
    if object.get("kind").and_then(Value::as_str) == Some("Secret") {
        for field in ["data", "stringData"] {
            let base64 = field == "data";
            if let Some(Value::Object(map)) = object.get_mut(field) {
                for (key, value) in map.iter_mut() {
                    let clear = if base64 {
                        serde_json::from_value::<k8s_openapi::ByteString>(value.clone())
                            .ok()
                            .and_then(|b| String::from_utf8(b.0).ok())
                    } else {
                        value.as_str().map(String::from)
                    };
                    if !clear.is_some_and(|c| keep(key, &c)) {
                        *value = Value::String(String::new());
                    }
                }
            }
        }
    }
    walk(object, keep);
}

fn walk(value: &mut Value, keep: Keep<'_>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(env)) = map.get_mut("env") {
                env.iter_mut().for_each(|v| redact_env_var(v, keep));
            }
            if let Some(Value::Array(triggers)) = map.get_mut("triggers") {
                triggers.iter_mut().for_each(|t| redact_trigger(t, keep));
            }
            if let Some(Value::Object(annotations)) = map.get_mut("annotations")
                && let Some(Value::String(applied)) = annotations.get_mut(LAST_APPLIED)
                && let Ok(mut inner) = serde_json::from_str::<Value>(applied)
            {
                redact_keeping(&mut inner, keep);
                *applied = inner.to_string();
            }
            map.values_mut().for_each(|v| walk(v, keep));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| walk(v, keep)),
        Value::String(text) if URL_USERINFO.is_match(text) && !keep("", text) => {
            *text = URL_USERINFO
                .replace_all(text, |c: &regex::Captures<'_>| match c.name("user") {
                    Some(user) => format!("{}{}:{REDACTED}@", &c["scheme"], user.as_str()),
                    None => format!("{}{REDACTED}@", &c["scheme"]),
                })
                .into_owned();
        }
        _ => {}
    }
}

/// `{name: DB_PASSWORD, value: hunter2}` → `value: REDACTED`.
fn redact_env_var(var: &mut Value, keep: Keep<'_>) {
    let Some(name) = var.get("name").and_then(Value::as_str).map(String::from) else {
        return;
    };
    if CREDENTIAL_NAME.is_match(&name)
        && let Some(Value::String(text)) = var.get_mut("value")
        && !keep(&name, text)
    {
        hide(text);
    }
}

/// A KEDA trigger's `metadata: {password: hunter2}`; `passwordFromEnv: NAME`
/// names a variable and stays.
fn redact_trigger(trigger: &mut Value, keep: Keep<'_>) {
    let Some(Value::Object(metadata)) = trigger.get_mut("metadata") else {
        return;
    };
    for (key, value) in metadata.iter_mut() {
        let k = key.to_ascii_lowercase();
        if CREDENTIAL_NAME.is_match(&k)
            && !k.ends_with("fromenv")
            && !k.ends_with("fromenvfile")
            && let Value::String(text) = value
            && !keep(key, text)
        {
            hide(text);
        }
    }
}

fn hide(text: &mut String) {
    if !text.is_empty() {
        *text = REDACTED.to_string();
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
        assert_eq!(
            env[2]["value"],
            "postgresql://mlflow:REDACTED@db:5432/mlflow"
        );
        assert_eq!(env[3]["value"], "lstm");
        assert_eq!(env[4]["valueFrom"]["secretKeyRef"]["key"], "k");
        let applied = d["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap();
        assert!(
            !applied.contains("abc") && applied.contains(REDACTED),
            "{applied}"
        );
    }

    #[test]
    fn public_defaults_a_check_judges_are_kept() {
        let keep = |name: &str, value: &str| {
            (name == "MINIO_ROOT_PASSWORD" && value == "minioadmin")
                || (name.is_empty() && value.contains("guest:guest@"))
                || (name == "rootPassword" && value == "minioadmin")
        };
        let mut d = json!({"kind": "Deployment", "spec": {"env": [
            {"name": "MINIO_ROOT_PASSWORD", "value": "minioadmin"},
            {"name": "DB_PASSWORD", "value": "minioadmin"},
            {"name": "BROKER", "value": "amqp://guest:guest@rabbit:5672"},
            {"name": "OTHER", "value": "amqp://app:s3cret@rabbit:5672"}
        ]}});
        redact_keeping(&mut d, &keep);
        let env = &d["spec"]["env"];
        assert_eq!(env[0]["value"], "minioadmin");
        assert_eq!(env[1]["value"], REDACTED);
        assert_eq!(env[2]["value"], "amqp://guest:guest@rabbit:5672");
        assert_eq!(env[3]["value"], "amqp://app:REDACTED@rabbit:5672");
        let mut secret = json!({"kind": "Secret", "data": {
            "rootPassword": "bWluaW9hZG1pbg==", "other": "aHVudGVyMg=="}});
        redact_keeping(&mut secret, &keep);
        assert_eq!(
            secret["data"],
            json!({"rootPassword": "bWluaW9hZG1pbg==", "other": ""})
        );
    }

    #[test]
    fn urls_anywhere_and_keda_trigger_parameters() {
        let mut o = json!({"kind": "ScaledObject", "metadata": {"name": "s"}, "spec": {"triggers": [
            {"type": "postgresql", "metadata": {"host": "postgres://keda:s3cr3t@pg:5432/jobs",
                "password": "s3cr3t", "passwordFromEnv": "PG_PASSWORD", "targetQueryValue": "5"}}],
            "args": ["--backend-store-uri", "postgresql://mlflow:s3cr3t@db/mlflow",
                     "https://ghp_t0k3n@github.com/org/repo.git", "http://mlflow:5000"]}});
        redact(&mut o);
        let meta = &o["spec"]["triggers"][0]["metadata"];
        assert_eq!(meta["host"], "postgres://keda:REDACTED@pg:5432/jobs");
        assert_eq!(meta["password"], REDACTED);
        assert_eq!(meta["passwordFromEnv"], "PG_PASSWORD");
        assert_eq!(meta["targetQueryValue"], "5");
        let args = &o["spec"]["args"];
        assert_eq!(args[1], "postgresql://mlflow:REDACTED@db/mlflow");
        assert_eq!(args[2], "https://REDACTED@github.com/org/repo.git");
        assert_eq!(args[3], "http://mlflow:5000");
        assert!(!o.to_string().contains("s3cr3t") && !o.to_string().contains("t0k3n"));
    }
}
