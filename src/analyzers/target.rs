//! Which workloads and containers a check applies to, as check parameters.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;
use serde::Deserialize;
use wildmatch::WildMatch;

use crate::cluster::{ClusterView, Workload};

/// Selects workloads and their containers. Every field narrows the selection;
/// an empty target selects every workload and every container.
///
/// ```yaml
/// target:
///   kinds: [Deployment]
///   namespaces: ["ml-*"]
///   names: ["train*"]
///   labels: {app.kubernetes.io/component: training}
///   containers: ["*"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Target {
    /// Workload kinds: Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Namespace patterns (`*` and `?` wildcards).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Workload name patterns.
    #[serde(default)]
    pub names: Vec<String>,
    /// Labels the workload or its pod template must carry.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Container name patterns; init containers are included.
    #[serde(default)]
    pub containers: Vec<String>,
}

fn any_match(patterns: &[String], value: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| WildMatch::new(p).matches(value))
}

impl Target {
    pub fn selects(&self, w: &Workload<'_>) -> bool {
        let labels_ok = self.labels.iter().all(|(k, v)| {
            let on = |l: Option<&BTreeMap<String, String>>| l.and_then(|l| l.get(k)) == Some(v);
            on(w.meta.labels.as_ref()) || on(w.template_meta.and_then(|m| m.labels.as_ref()))
        });
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k == w.kind.info().kind))
            && any_match(&self.namespaces, w.namespace())
            && any_match(&self.names, w.name())
            && labels_ok
    }

    /// The selected workloads, in a stable order.
    pub fn workloads<'a>(&self, view: &'a ClusterView) -> Vec<Workload<'a>> {
        let mut out: Vec<_> = view
            .workloads()
            .into_iter()
            .filter(|w| self.selects(w))
            .collect();
        out.sort_by(|a, b| {
            (a.namespace(), a.kind, a.name()).cmp(&(b.namespace(), b.kind, b.name()))
        });
        out
    }

    /// The selected containers of a workload (init containers too).
    pub fn containers<'a>(&'a self, w: &Workload<'a>) -> impl Iterator<Item = &'a Container> + 'a {
        w.containers()
            .filter(|c| any_match(&self.containers, &c.name))
    }
}
