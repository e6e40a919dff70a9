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

/// Literal env values of a container: (name, value).
pub fn literal_env(container: &Container) -> impl Iterator<Item = (&str, &str)> {
    container
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.as_deref().map(|v| (e.name.as_str(), v)))
}
