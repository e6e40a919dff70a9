//! Writes what a live collection gathered in the snapshot layout, redacted, so
//! `doctor --snapshot DIR` reproduces the live findings offline: one typed JSON
//! List per kind (an empty one still says the kind was collected), the log
//! tails, and the observation files.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::redact::{Keep, redact_keeping};
use super::{API_FILE, COVERAGE_FILE, KAFKA_FILE, PROBES_FILE};
use crate::cluster::{ClusterView, Kind};

/// What was written, for the summary line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Saved {
    pub kinds: usize,
    pub objects: usize,
    pub logs: usize,
    pub gaps: usize,
}

/// `pods.json` for the core group, `deployments.apps.json` for the others.
pub fn file_name(kind: Kind) -> String {
    let info = kind.info();
    if info.group.is_empty() {
        format!("{}.json", info.plural)
    } else {
        format!("{}.{}.json", info.plural, info.group)
    }
}

/// Write `raw` (the listed objects by kind) and the view's logs and observations
/// into `dir`, which must not exist or be empty; credentials are redacted
/// except what `keep` says is public.
pub fn save(
    dir: &Path,
    raw: &BTreeMap<Kind, Vec<Value>>,
    view: &ClusterView,
    keep: Keep<'_>,
) -> Result<Saved> {
    if dir.exists()
        && fs::read_dir(dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: snapshot save writes a new directory; pick another or remove it",
            dir.display()
        );
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut saved = Saved::default();
    for kind in &view.collected {
        let mut items = raw.get(kind).cloned().unwrap_or_default();
        items.iter_mut().for_each(|i| redact_keeping(i, keep));
        saved.kinds += 1;
        saved.objects += items.len();
        let list = json!({
            "apiVersion": kind.api_version(),
            "kind": format!("{}List", kind.info().kind),
            "metadata": {},
            "items": items,
        });
        write(
            &dir.join(file_name(*kind)),
            &serde_json::to_vec_pretty(&list)?,
        )?;
    }
    for (key, text) in &view.logs {
        let name = if key.previous {
            format!("{}.previous.log", key.container)
        } else {
            format!("{}.log", key.container)
        };
        let path = dir
            .join("logs")
            .join(&key.namespace)
            .join(&key.pod)
            .join(name);
        write(&path, text.as_bytes())?;
        saved.logs += 1;
    }
    if !view.coverage.is_empty() {
        write_yaml(&dir.join(COVERAGE_FILE), &view.coverage)?;
        saved.gaps = view.coverage.len();
    }
    if let Some(api) = &view.api {
        write_yaml(&dir.join(API_FILE), api)?;
    }
    if !view.probes.is_empty() {
        write_yaml(&dir.join(PROBES_FILE), &view.probes)?;
    }
    if let Some(kafka) = &view.kafka {
        write_yaml(&dir.join(KAFKA_FILE), kafka)?;
    }
    Ok(saved)
}

fn write_yaml<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_saphyr::to_string(value)
        .with_context(|| format!("cannot write {} as YAML", path.display()))?;
    write(path, text.as_bytes())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{
        ApiRequest, ApiStats, CoverageRecord, CoverageResult, LogKey, ProbeResult,
    };

    #[test]
    fn what_is_saved_loads_back_the_same() {
        let mut view = ClusterView::default();
        view.collected.insert(Kind::Pod);
        view.collected.insert(Kind::ConfigMap);
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ml"}, "spec": {"containers": [{"name": "c"}]}});
        let raw = BTreeMap::from([(Kind::Pod, vec![pod])]);
        view.logs.insert(
            LogKey {
                namespace: "ml".into(),
                pod: "p".into(),
                container: "c".into(),
                previous: true,
            },
            "boom\n".into(),
        );
        view.probes.push(ProbeResult {
            namespace: "ml".into(),
            pod: Some("p".into()),
            service: None,
            port: 8080,
            path: "/v2/health/ready".into(),
            status: None,
            latency_ms: Some(3),
            error: Some("dial tcp 10.0.0.1:8080: connect: connection refused".into()),
            body: None,
        });
        view.coverage.push(CoverageRecord {
            group: "autoscaling".into(),
            version: "v2".into(),
            resource: "horizontalpodautoscalers".into(),
            namespace: Some("ml".into()),
            result: CoverageResult::Forbidden,
            message: "horizontalpodautoscalers.autoscaling is forbidden".into(),
        });
        view.api = Some(ApiStats {
            server: "https://k:6443".into(),
            requests: vec![ApiRequest {
                path: "/api/v1/namespaces/ml/pods?limit=500".into(),
                latency_ms: 12,
                status: Some(503),
                error: None,
                attempt: 2,
            }],
        });
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("snap");
        let saved = save(&out, &raw, &view, &|_, _| false).unwrap();
        assert_eq!(
            saved,
            Saved {
                kinds: 2,
                objects: 1,
                logs: 1,
                gaps: 1
            }
        );
        let back = crate::snapshot::load(&out).unwrap();
        assert_eq!(
            back.collected, view.collected,
            "an empty ConfigMapList counts"
        );
        assert_eq!(back.pods.len(), 1);
        assert_eq!(back.log("ml", "p", "c", true), Some("boom\n"));
        assert_eq!(back.probes, view.probes);
        assert_eq!(back.coverage, view.coverage);
        assert_eq!(back.api, view.api);
        assert!(
            save(&out, &raw, &view, &|_, _| false)
                .unwrap_err()
                .to_string()
                .contains("is not empty")
        );
    }
}
