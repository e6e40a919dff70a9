//! `workload-credentials`: credentials in plain sight. Mode `default`: well-known
//! default credentials (MinIO `minioadmin`, RabbitMQ `guest`, ...) in env
//! values, ConfigMaps or Secrets. Mode `plaintext`: password-, token- and
//! key-like env values set literally instead of through a `secretKeyRef`, and
//! such keys in ConfigMaps. Values are never shown, only masked.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::analyzers::address::masked;
use crate::analyzers::pattern::Pattern;
use crate::analyzers::target::Target;
use crate::analyzers::text::mask;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "workload-credentials",
    summary: "default credentials, and secrets set as literal env values or ConfigMap data (values masked)",
    needs: crate::analyzers::WORKLOAD_KINDS,
    optional: &[Kind::ReplicaSet, Kind::ConfigMap, Kind::Secret],
    data: &[],
    build: build::<InlineCredentials>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Default,
    Plaintext,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlineCredentials {
    mode: Mode,
    #[serde(default)]
    target: Target,
    /// Mode `default`: the known default credentials.
    #[serde(default)]
    defaults: Vec<DefaultCredential>,
    /// Mode `plaintext`: names of variables and keys that hold secrets.
    #[serde(default)]
    secret_names: Option<Pattern>,
    /// Names never judged (e.g. `*_FILE` paths to mounted secrets).
    #[serde(default)]
    ignore_names: Option<Pattern>,
}

/// ```yaml
/// - product: MinIO
///   names: '^(MINIO_ROOT_(USER|PASSWORD)|MINIO_(ACCESS|SECRET)_KEY|AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY))$'
///   values: [minioadmin]
///   schemes: []          # URL schemes whose user:password@ is checked in any value
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DefaultCredential {
    product: String,
    names: Pattern,
    values: Vec<String>,
    #[serde(default)]
    schemes: Vec<String>,
}

/// `scheme://user:password@host`
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<user>[^:@/\s]+):(?P<pass>[^@/\s]+)@")
        .expect("valid regex")
});

/// A URL with its password masked whole, or the whole value masked when
/// the password cannot be told apart.
fn url_shown(value: &str) -> String {
    let shown = masked(value);
    if shown == value { mask(value) } else { shown }
}

/// An on/off value (`RABBITMQ_SECURE_PASSWORD=yes` turns a feature on): a
/// switch, never a secret.
fn is_switch(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "enabled" | "disabled" | "0" | "1"
    )
}

/// What was found in one place: (name, masked value, why).
type Hits = Vec<(String, String, String)>;

impl Analyzer for InlineCredentials {
    /// Well-known defaults are public: a saved snapshot keeps them, so
    /// SEC001 judges it as it judged the cluster.
    fn is_public(&self, name: &str, value: &str) -> bool {
        self.is_default(name, value)
    }

    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            for c in self.target.containers(&w) {
                let env: Vec<(&str, &str)> =
                    crate::analyzers::workloads::env::literal_env(c).collect();
                let hits = self.judge(&env);
                if !hits.is_empty() {
                    drafts.push(self.workload_finding(&w, &c.name, hits));
                }
            }
        }
        let in_scope = |ns: Option<&String>| {
            let ns = ns.map(String::as_str).unwrap_or_default();
            self.target.namespaces.is_empty()
                || self
                    .target
                    .namespaces
                    .iter()
                    .any(|p| wildmatch::WildMatch::new(p).matches(ns))
        };
        for cm in view
            .config_maps
            .iter()
            .filter(|cm| in_scope(cm.metadata.namespace.as_ref()))
        {
            let data: Vec<(&str, &str)> = cm
                .data
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let hits = self.judge(&data);
            if !hits.is_empty() {
                drafts
                    .push(self.object_finding(ObjectRef::of(Kind::ConfigMap, &cm.metadata), hits));
            }
        }
        if self.mode == Mode::Default {
            for s in view
                .secrets
                .iter()
                .filter(|s| in_scope(s.metadata.namespace.as_ref()))
            {
                let decoded: BTreeMap<&str, String> = s
                    .data
                    .iter()
                    .flatten()
                    .filter_map(|(k, v)| {
                        String::from_utf8(v.0.clone()).ok().map(|v| (k.as_str(), v))
                    })
                    .chain(
                        s.string_data
                            .iter()
                            .flatten()
                            .map(|(k, v)| (k.as_str(), v.clone())),
                    )
                    .collect();
                let data: Vec<(&str, &str)> =
                    decoded.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let hits = self.judge(&data);
                if !hits.is_empty() {
                    drafts
                        .push(self.object_finding(ObjectRef::of(Kind::Secret, &s.metadata), hits));
                }
            }
        }
        Ok(drafts)
    }
}

impl InlineCredentials {
    /// A default credential of a known product under this name, or a URL
    /// carrying a default password for its scheme.
    fn is_default(&self, name: &str, value: &str) -> bool {
        self.mode == Mode::Default
            && self.defaults.iter().any(|d| {
                (d.names.is_match(name) && d.values.iter().any(|v| v == value))
                    || USERINFO.captures(value).is_some_and(|c| {
                        d.schemes
                            .iter()
                            .any(|s| s.eq_ignore_ascii_case(&c["scheme"]))
                            && d.values.iter().any(|v| v == &c["pass"])
                    })
            })
    }

    /// The (name, value) pairs that hold a credential this mode reports.
    fn judge(&self, pairs: &[(&str, &str)]) -> Hits {
        let mut hits = Vec::new();
        for (name, value) in pairs {
            if value.is_empty() || self.ignore_names.as_ref().is_some_and(|p| p.is_match(name)) {
                continue;
            }
            match self.mode {
                Mode::Default => {
                    for d in &self.defaults {
                        if d.names.is_match(name) && d.values.iter().any(|v| v == value) {
                            hits.push((
                                name.to_string(),
                                mask(value),
                                format!("{}'s default credential", d.product),
                            ));
                        } else if let Some(c) = USERINFO.captures(value)
                            && d.schemes
                                .iter()
                                .any(|s| s.eq_ignore_ascii_case(&c["scheme"]))
                            && d.values.iter().any(|v| v == &c["pass"])
                        {
                            hits.push((
                                name.to_string(),
                                url_shown(value),
                                format!(
                                    "{}:// URL with {}'s default password",
                                    &c["scheme"], d.product
                                ),
                            ));
                        }
                    }
                }
                Mode::Plaintext => {
                    let reference = value.starts_with("$(") || value.starts_with("${");
                    if reference || is_switch(value) {
                        continue;
                    }
                    if self.secret_names.as_ref().is_some_and(|p| p.is_match(name)) {
                        hits.push((
                            name.to_string(),
                            mask(value),
                            "a secret-like name with a literal value".to_string(),
                        ));
                    } else if let Some(c) = USERINFO.captures(value) {
                        hits.push((
                            name.to_string(),
                            url_shown(value),
                            format!("{}:// URL with a password in it", &c["scheme"]),
                        ));
                    }
                }
            }
        }
        hits
    }

    fn message(&self, place: &str, hits: &Hits) -> String {
        let names: Vec<&str> = hits.iter().map(|(n, _, _)| n.as_str()).collect();
        match self.mode {
            Mode::Default => format!(
                "{place} uses well-known default credentials ({}): anyone who can reach the service can log in",
                names.join(", ")
            ),
            Mode::Plaintext => format!(
                "{place} holds secrets as plain text ({}): they show in `kubectl get -o yaml`, in `describe`, and to anyone with read access",
                names.join(", ")
            ),
        }
    }

    fn workload_finding(&self, w: &Workload<'_>, container: &str, hits: Hits) -> Draft {
        let c = w
            .containers()
            .find(|c| c.name == container)
            .expect("container of the workload");
        let subject = w.object_ref();
        let mut draft = Draft::new(
            w.container_ref(c, "env"),
            self.message(&format!("container {container} of {subject}"), &hits),
        );
        for (name, masked, why) in &hits {
            draft
                .evidence
                .push(format!("env {name} = {masked} ({why})"));
        }
        let secret = format!("{}-credentials", w.name());
        let literals: Vec<String> = hits
            .iter()
            .map(|(n, _, _)| format!("--from-literal={n}=<value>"))
            .collect();
        let kubectl = format!(
            "kubectl create secret generic {secret}{ns} {} && kubectl set env {}{ns} -c {container} --from=secret/{secret}",
            literals.join(" "),
            subject.kubectl_name(),
            ns = subject.kubectl_ns()
        );
        let description = match self.mode {
            Mode::Default => format!(
                "Change the credentials on the server itself first (a new random password), then give the new values to every client through a Secret ({secret}) referenced with secretKeyRef instead of literal env values."
            ),
            Mode::Plaintext => format!(
                "Move the values into a Secret ({secret}) and reference it (`env[].valueFrom.secretKeyRef` or envFrom); rotate them, since they were readable in the pod spec."
            ),
        };
        if self.mode == Mode::Plaintext {
            // A default credential (the other mode's finding) is the worse problem.
            draft = draft.caused_by("workload-credentials", subject);
        }
        draft.fix(Fix::manual(description).with_kubectl(kubectl))
    }

    fn object_finding(&self, subject: ObjectRef, hits: Hits) -> Draft {
        let mut draft = Draft::new(
            subject.clone().with_field("data"),
            self.message(&subject.to_string(), &hits),
        );
        for (name, masked, why) in &hits {
            draft
                .evidence
                .push(format!("key {name} = {masked} ({why})"));
        }
        let description = match self.mode {
            Mode::Default => format!(
                "Set new random credentials on the service, then update {subject} and every client that uses it."
            ),
            Mode::Plaintext => format!(
                "Move these keys from {subject} into a Secret and point the consumers at the Secret; rotate the values."
            ),
        };
        draft.fix(Fix::manual(description).with_kubectl(format!(
            "kubectl edit {}{}",
            subject.kubectl_name(),
            subject.kubectl_ns()
        )))
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    const DEFAULTS: &str = r#"
mode: default
defaults:
  - product: MinIO
    names: '^(MINIO_ROOT_(USER|PASSWORD)|MINIO_(ACCESS|SECRET)_KEY|AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)|rootUser|rootPassword)$'
    values: [minioadmin]
  - product: RabbitMQ
    names: '^RABBITMQ_(DEFAULT_)?(USER|PASS|USERNAME|PASSWORD)$'
    values: [guest]
    schemes: [amqp, amqps]
"#;

    const PLAINTEXT: &str = r#"
mode: plaintext
secretNames: '(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)'
ignoreNames: '(?i)_(FILE|PATH|DIR)$'
"#;

    #[test]
    fn mlflow_serving_minio_defaults() {
        let view = fixture("mlflow-serving");
        let drafts = run("workload-credentials", DEFAULTS, &view);
        let text = format!("{drafts:?}");
        assert!(!text.contains("minioadmin"), "values must be masked");
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn serving_workloads_plaintext() {
        let drafts = run(
            "workload-credentials",
            PLAINTEXT,
            &fixture("serving-workloads"),
        );
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn default_credentials_in_secrets_and_configmaps() {
        let mut view = fixture("healthy-serving");
        let secret: k8s_openapi::api::core::v1::Secret =
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "minio", "namespace": "ml"},
                "data": {"rootUser": "bWluaW9hZG1pbg==", "rootPassword": "bWluaW9hZG1pbg=="},
            }))
            .unwrap();
        let cm: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "celery", "namespace": "ml"},
            "data": {"BROKER_URL": "amqp://guest:guest@rabbitmq:5672//", "API_TOKEN": "tok-1234567890"},
        }))
        .unwrap();
        view.secrets.insert(secret);
        view.config_maps.insert(cm);
        let defaults = run("workload-credentials", DEFAULTS, &view);
        let summary: Vec<(String, Vec<String>)> = defaults
            .iter()
            .map(|d| (d.subject.to_string(), d.evidence.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "ConfigMap ml/celery".to_string(),
                    vec!["key BROKER_URL = amqp://guest:****@rabbitmq:5672// (amqp:// URL with RabbitMQ's default password)".to_string()]
                ),
                (
                    "Secret ml/minio".to_string(),
                    vec![
                        "key rootPassword = **** (MinIO's default credential)".to_string(),
                        "key rootUser = **** (MinIO's default credential)".to_string(),
                    ]
                ),
            ]
        );
        let plain = run("workload-credentials", PLAINTEXT, &view);
        assert_eq!(
            plain.len(),
            1,
            "only the ConfigMap: Secrets are where secrets belong"
        );
        assert_eq!(plain[0].evidence.len(), 2);
    }

    #[test]
    fn healthy_serving_uses_secrets() {
        let view = fixture("healthy-serving");
        assert_eq!(run("workload-credentials", DEFAULTS, &view), Vec::new());
        assert_eq!(run("workload-credentials", PLAINTEXT, &view), Vec::new());
    }

    #[test]
    fn switches_and_secret_locations_are_not_secrets() {
        // Bitnami's RabbitMQ turns a feature on with RABBITMQ_SECURE_PASSWORD=yes;
        // Seldon names the key inside its SASL Secret with *_PASSWORD_LOCATION.
        let plaintext = PLAINTEXT.replace("_(FILE|PATH|DIR)$", "_(FILE|PATH|DIR|LOCATION)$");
        let analyzer: super::InlineCredentials = serde_saphyr::from_str(&plaintext).unwrap();
        for pair in [
            ("RABBITMQ_SECURE_PASSWORD", "yes"),
            ("USE_TOKEN", "false"),
            ("KAFKA_CLIENT_SASL_PASSWORD_LOCATION", "password"),
        ] {
            assert!(analyzer.judge(&[pair]).is_empty(), "{pair:?}");
        }
        assert_eq!(analyzer.judge(&[("DB_PASSWORD", "hunter2")]).len(), 1);
    }
}
