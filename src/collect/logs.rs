//! Bounded log tails: containers that restart or are not ready first (current
//! and previous log), then running ones, whose logs may say what is wrong while
//! the pod looks fine (a trainer that retries forever on a missing variable).

use k8s_openapi::api::core::v1::ContainerStatus;

use super::http::Api;
use super::list::encode;
use crate::cluster::{ClusterView, LogKey};
use crate::snapshot::MAX_LOG_BYTES;

/// Lines of each log tail, as `kubectl logs --tail`.
pub const TAIL_LINES: u32 = 200;
/// At most this many logs per run, so a big cluster stays quick.
pub const MAX_LOGS: usize = 100;

/// The logs worth reading, most telling first, at most [`MAX_LOGS`]: current and
/// previous for restarted containers, current for those not ready, then current
/// for running ones. Completed pods and init containers are left out.
pub fn wanted(view: &ClusterView) -> Vec<LogKey> {
    let mut troubled = Vec::new();
    let mut running = Vec::new();
    for pod in view.pods.iter() {
        let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        let Some(status) = &pod.status else { continue };
        if status.phase.as_deref() == Some("Succeeded") {
            continue;
        }
        let statuses = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten());
        for c in statuses {
            let key = |previous| LogKey {
                namespace: ns.clone(),
                pod: name.clone(),
                container: c.name.clone(),
                previous,
            };
            if c.restart_count > 0 {
                troubled.push(key(true));
                troubled.push(key(false));
            } else if completed(c) {
                continue;
            } else if !c.ready {
                troubled.push(key(false));
            } else {
                running.push(key(false));
            }
        }
    }
    troubled.extend(running);
    troubled.truncate(MAX_LOGS);
    troubled
}

/// An init container that finished its work is not ready, and that is fine.
fn completed(c: &ContainerStatus) -> bool {
    c.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .is_some_and(|t| t.exit_code == 0)
}

/// One log tail; `None` when there is none (a container that never started, no
/// previous instance): a missing log is not a collection failure.
pub async fn fetch(api: &Api, key: &LogKey) -> Option<String> {
    let mut path = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={}&tailLines={TAIL_LINES}&limitBytes={MAX_LOG_BYTES}",
        key.namespace,
        key.pod,
        encode(&key.container)
    );
    if key.previous {
        path.push_str("&previous=true");
    }
    let body = api.get(&path).await.ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn troubled_containers_first_previous_only_after_a_restart() {
        let view = crate::analyzers::testing::fixture("training-pipeline");
        let keys = wanted(&view);
        let status = |key: &LogKey| {
            let pod = view.pods.get(&key.namespace, &key.pod).unwrap();
            pod.status
                .as_ref()
                .unwrap()
                .container_statuses
                .iter()
                .flatten()
                .find(|c| c.name == key.container)
                .unwrap()
                .clone()
        };
        let troubled = |key: &LogKey| {
            let s = status(key);
            s.restart_count > 0 || !s.ready
        };
        let first_running = keys.iter().position(|k| !troubled(k)).unwrap();
        assert!(first_running > 0, "{keys:#?}");
        assert!(
            keys[first_running..]
                .iter()
                .all(|k| !troubled(k) && !k.previous)
        );
        assert!(
            keys.iter()
                .all(|k| !k.previous || status(k).restart_count > 0)
        );
        assert!(keys.iter().any(|k| k.pod.starts_with("train-lstm")));
    }
}
