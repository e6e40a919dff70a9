//! What a container's environment holds, resolved through envFrom.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Container;

use crate::cluster::ClusterView;

/// The variables a container defines, and whether some envFrom source could not
/// be resolved (then a variable not listed may still be set at run time).
pub struct EnvNames {
    pub names: BTreeSet<String>,
    pub unresolved: Vec<String>,
}

pub fn env_names(view: &ClusterView, namespace: &str, container: &Container) -> EnvNames {
    let mut names: BTreeSet<String> = container
        .env
        .iter()
        .flatten()
        .map(|e| e.name.clone())
        .collect();
    let mut unresolved = Vec::new();
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(r) = &source.config_map_ref {
            match view.config_maps.get(namespace, &r.name) {
                Some(cm) => names.extend(
                    cm.data
                        .iter()
                        .flat_map(|d| d.keys())
                        .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
                        .map(|k| format!("{prefix}{k}")),
                ),
                None => unresolved.push(format!("ConfigMap {}", r.name)),
            }
        }
        if let Some(r) = &source.secret_ref {
            match view.secrets.get(namespace, &r.name) {
                Some(s) => names.extend(
                    s.data
                        .iter()
                        .flat_map(|d| d.keys())
                        .chain(s.string_data.iter().flat_map(|d| d.keys()))
                        .map(|k| format!("{prefix}{k}")),
                ),
                None => unresolved.push(format!("Secret {}", r.name)),
            }
        }
    }
    EnvNames { names, unresolved }
}

/// The env variables of a container that are given a literal value, with
/// that value as the kubelet sets it (`$(VAR)` references expanded).
pub fn literal_env_expanded<'c>(
    view: &ClusterView,
    namespace: &str,
    container: &'c Container,
) -> Vec<(&'c str, String)> {
    let env = Env::of(view, namespace, container);
    literal_env(container)
        .map(|(name, value)| {
            let value = if value.contains('$') {
                env.get(name).unwrap_or(value).to_string()
            } else {
                value.to_string()
            };
            (name, value)
        })
        .collect()
}

/// Literal env values of a container: (name, value).
pub fn literal_env(container: &Container) -> impl Iterator<Item = (&str, &str)> {
    container
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.as_deref().map(|v| (e.name.as_str(), v)))
}

/// `$(VAR)` references expanded exactly as the kubelet expands them in
/// `command`, `args` and env values: `$(NAME)` becomes the variable's value
/// when `lookup` knows it and stays as written when it does not, `$$` is one
/// `$`, and any other `$` (or an unclosed `$(`) is kept as it is.
pub fn expand<'v>(input: &str, lookup: impl Fn(&str) -> Option<&'v str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(')
            && let Some(close) = reference.find(')')
        {
            let name = &reference[..close];
            match lookup(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &reference[close + 1..];
        } else {
            // A `$` that opens nothing is copied as it is.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A container's environment as the kubelet builds it, with the values that
/// can be known from the objects read: envFrom ConfigMaps first, then `env`
/// in order, each value expanded from the variables defined before it.
/// Values held in Secrets are not copied (they must never reach a message),
/// nor are values only known at run time (`status.podIP`, resource limits):
/// a reference to them stays as written.
#[derive(Debug, Default)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn of(view: &ClusterView, namespace: &str, container: &Container) -> Env {
        let mut env = Env::default();
        for source in container.env_from.iter().flatten() {
            let prefix = source.prefix.as_deref().unwrap_or_default();
            if let Some(cm) = source
                .config_map_ref
                .as_ref()
                .and_then(|r| view.config_maps.get(namespace, &r.name))
            {
                for (k, v) in cm.data.iter().flatten() {
                    env.set(&format!("{prefix}{k}"), v.clone());
                }
            }
        }
        for var in container.env.iter().flatten() {
            let value = match (&var.value, &var.value_from) {
                (Some(value), _) => Some(env.expand(value)),
                (None, Some(from)) => {
                    let field = from.field_ref.as_ref().map(|f| f.field_path.as_str());
                    if field == Some("metadata.namespace") {
                        Some(namespace.to_string())
                    } else {
                        from.config_map_key_ref.as_ref().and_then(|r| {
                            view.config_maps
                                .get(namespace, &r.name)
                                .and_then(|cm| cm.data.as_ref()?.get(&r.key).cloned())
                        })
                    }
                }
                // `value` absent and no source: the kubelet sets "".
                (None, None) => Some(String::new()),
            };
            match value {
                Some(value) => env.set(&var.name, value),
                // Unknown here: a later reference to it stays as written.
                None => env.vars.retain(|(n, _)| *n != var.name),
            }
        }
        env
    }

    fn set(&mut self, name: &str, value: String) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_string(), value)),
        }
    }

    /// The known value of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `text` with `$(VAR)` references expanded from this environment.
    pub fn expand(&self, text: &str) -> String {
        expand(text, |name| self.get(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<&'static str> {
        match name {
            "PORT" => Some("9000"),
            "EMPTY" => Some(""),
            _ => None,
        }
    }

    #[test]
    fn expands_like_the_kubelet() {
        let cases = [
            ("--http-port=$(PORT)", "--http-port=9000"),
            ("$(PORT)$(PORT)", "90009000"),
            ("x$(EMPTY)y", "xy"),
            // Unknown references stay as written.
            ("--port=$(NOPE)", "--port=$(NOPE)"),
            // `$$` escapes: `$$(PORT)` is the text `$(PORT)`.
            ("$$(PORT)", "$(PORT)"),
            ("$$$(PORT)", "$9000"),
            ("cost: 5$", "cost: 5$"),
            ("$x $ $", "$x $ $"),
            // An unclosed reference is kept, and what follows still expands.
            ("$(PORT", "$(PORT"),
            ("$(a $(PORT)", "$(a $(PORT)"),
            ("$()", "$()"),
            ("", ""),
            ("héllo $(PORT) wörld", "héllo 9000 wörld"),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, vars), want, "{input}");
        }
    }

    fn container(yaml: &str) -> Container {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn env_values_expand_from_the_variables_before_them() {
        let c = container(
            r#"
name: triton
env:
  - {name: HOST, value: mlflow}
  - {name: URI, value: "http://$(HOST):$(PORT)"}
  - {name: PORT, value: "5000"}
  - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
  - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
  - {name: ADDR, value: "$(POD_IP):$(PORT) in $(NS)"}
  - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
  - {name: DSN, value: "postgres://u:$(PASSWORD)@db"}
"#,
        );
        let env = Env::of(&ClusterView::default(), "team", &c);
        // PORT was defined after URI: the kubelet leaves it as written.
        assert_eq!(env.get("URI"), Some("http://mlflow:$(PORT)"));
        assert_eq!(env.get("ADDR"), Some("$(POD_IP):5000 in team"));
        // A Secret's value is never copied.
        assert_eq!(env.get("PASSWORD"), None);
        assert_eq!(env.get("DSN"), Some("postgres://u:$(PASSWORD)@db"));
        assert_eq!(env.expand("--port=$(PORT)"), "--port=5000");
    }
}
