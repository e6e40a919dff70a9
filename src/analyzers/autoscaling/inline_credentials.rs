//! `inline-credentials`: KEDA triggers that carry a secret in plain metadata — a
//! password in a `host` URL, or a password/token-like key with a literal value —
//! with no `authenticationRef`. The secret is never printed, only masked.

use serde::Deserialize;

use crate::analyzers::address::addresses;
use crate::analyzers::address::{masked, url_password};
use crate::analyzers::autoscaling::scaling::{self, name_of, ns_of, qualified};
use crate::analyzers::autoscaling::triggers::{Trigger, triggers, with_host};
use crate::analyzers::text::mask;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, manager_of};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "inline-credentials",
    summary: "KEDA triggers with passwords or tokens inline in their metadata",
    needs: &[Kind::ScaledObject],
    optional: &[Kind::ScaledJob, Kind::Service, Kind::Namespace],
    data: &[],
    build: build::<InlineCredentials>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InlineCredentials {
    /// Metadata key fragments (case-insensitive) that mark a secret value.
    #[serde(default = "default_fragments")]
    secret_keys: Vec<String>,
}

fn default_fragments() -> Vec<String> {
    [
        "password",
        "passwd",
        "token",
        "secret",
        "apikey",
        "api_key",
        "accesskey",
        "connectionstring",
        "credential",
    ]
    .map(String::from)
    .to_vec()
}

impl Analyzer for InlineCredentials {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::ScaledObject).next().is_none()
            && view.custom(Kind::ScaledJob).next().is_none()
        {
            return Err("not applicable: no ScaledObjects or ScaledJobs".into());
        }
        let mut drafts = Vec::new();
        for obj in view
            .custom(Kind::ScaledObject)
            .chain(view.custom(Kind::ScaledJob))
        {
            for t in triggers(obj) {
                if t.authentication_ref.is_some() {
                    continue;
                }
                for (key, value) in &t.metadata {
                    if let Some(secret) = self.secret_in(key, value) {
                        drafts.push(finding(view, obj, &t, key, value, secret));
                    }
                }
            }
        }
        Ok(drafts)
    }
}

impl InlineCredentials {
    /// The secret part of a metadata entry, if it holds one.
    fn secret_in<'v>(&self, key: &str, value: &'v str) -> Option<&'v str> {
        if value.trim().is_empty() {
            return None;
        }
        if let Some(pw) = url_password(value) {
            return Some(pw);
        }
        let k = key.to_ascii_lowercase();
        // `passwordFromEnv: RABBITMQ_PASSWORD` names a variable, not a secret.
        if k.ends_with("fromenv") || k.ends_with("fromenvfile") {
            return None;
        }
        self.secret_keys
            .iter()
            .any(|f| k.contains(&f.to_ascii_lowercase()))
            .then_some(value)
    }
}

fn finding(
    view: &ClusterView,
    obj: &DynamicObject,
    t: &Trigger<'_>,
    key: &str,
    value: &str,
    secret: &str,
) -> Draft {
    let r = scaling::custom_ref(obj);
    let ns = ns_of(&obj.metadata);
    let name = name_of(&obj.metadata);
    let shown = if secret == value {
        mask(value)
    } else {
        masked(value)
    };
    let kind_of_secret = if secret == value {
        "a secret"
    } else {
        "a password in the URL"
    };
    let auth = format!("{name}-auth");
    // For a URL, the Secret holds the whole URL: show its shape with the password out.
    let literal = if secret == value {
        "<value>".to_string()
    } else {
        let shape = value.replacen(&format!(":{secret}@"), ":<password>@", 1);
        // A short host resolves in KEDA's namespace: write the Service's full name.
        let known_ns = |n: &str| view.namespace_exists(n);
        match addresses(value, ns, &known_ns)
            .into_iter()
            .find(|a| !a.host.contains('.') && view.services.get(ns, &a.service).is_some())
        {
            Some(a) => with_host(
                &shape,
                &a.host,
                &format!("{}.{ns}.svc.cluster.local", a.service),
            ),
            None => shape,
        }
    };
    let mut description = format!(
        "Move the value out of the {kind} into a Secret and reference it from a TriggerAuthentication (KEDA reads the `{key}` parameter from it):\n\
         1. kubectl create secret generic {auth} -n {ns} --from-literal={key}='{literal}'   (the secret itself is not shown here)\n\
         2. apply:\n\
         apiVersion: keda.sh/v1alpha1\n\
         kind: TriggerAuthentication\n\
         metadata:\n  name: {auth}\n  namespace: {ns}\n\
         spec:\n  secretTargetRef:\n  - parameter: {key}\n    name: {auth}\n    key: {key}\n\
         3. in {kind} {name}, remove spec.triggers[{i}].metadata.{key} and set spec.triggers[{i}].authenticationRef.name: {auth}.\n\
         Then rotate the credential: it has been readable by anyone who can read {kind}s in {ns}.",
        kind = obj.kind,
        i = t.index,
    );
    if let Some(m) = manager_of(&obj.metadata) {
        description.push_str(&format!(
            " {r} is managed by {m}: make the chart render the TriggerAuthentication instead of the literal value."
        ));
    }
    Draft::new(
        r.clone().with_field(t.field(key)),
        format!(
            "{} of {} {} carries {kind_of_secret} inline in metadata.{key}, with no authenticationRef: anyone who can read the {} can read it",
            t.label(),
            obj.kind,
            qualified(&obj.metadata),
            obj.kind
        ),
    )
    .evidence(format!("metadata.{key}: {shown}"))
    .fix(Fix::manual(description).with_kubectl(format!(
        "kubectl create secret generic {auth} -n {ns} --from-literal={key}='{literal}'"
    )))
}

#[cfg(test)]
mod tests {
    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};

    #[test]
    fn passwords_inline_are_reported_masked() {
        for (fixture, secret) in [
            ("keda-autoscaling", "Xk9-rabbit-2024"),
            ("keda-problems", "pg-Retrain-7731"),
        ] {
            let found = drafts("inline-credentials", fixture);
            assert_eq!(found.len(), 1, "{fixture}");
            let text = serde_json::to_string(&summary(&found)).unwrap();
            assert!(!text.contains(secret), "{fixture}: secret printed");
        }
        insta::assert_yaml_snapshot!(summary(&drafts("inline-credentials", "keda-autoscaling")));
    }

    #[test]
    fn references_are_not_secrets() {
        let check = super::InlineCredentials {
            secret_keys: super::default_fragments(),
        };
        assert!(
            check
                .secret_in("passwordFromEnv", "RABBITMQ_PASSWORD")
                .is_none()
        );
        assert!(check.secret_in("queueName", "celery").is_none());
        assert!(
            check
                .secret_in("serverAddress", "http://prometheus:9090")
                .is_none()
        );
        assert_eq!(check.secret_in("apiKey", "abc123"), Some("abc123"));
    }

    #[test]
    fn quiet_with_authentication_refs() {
        silent_on("inline-credentials", &["healthy-autoscaling"]);
    }
}
