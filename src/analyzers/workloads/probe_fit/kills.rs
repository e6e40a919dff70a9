//! What the kubelet did to a container because of its probes: liveness kills
//! and restarts across the workload's pods, from container statuses and events.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ContainerStatus;

use crate::cluster::{ClusterView, Kind, Workload, event_time};

/// What the kubelet did to the container because of its probes.
#[derive(Default)]
pub(super) struct Kills {
    pub evidence: Vec<String>,
    pub liveness_kills: i32,
    pub restarts: i32,
}

/// Liveness kills and restarts of one container across the workload's pods.
pub(super) fn kills(view: &ClusterView, w: &Workload<'_>, container: &str) -> Kills {
    let mut out = Kills::default();
    // (reason, message without the pod IP's variation) → (count, pod, message)
    let mut events: BTreeMap<(String, String), (i32, String, String, String)> = BTreeMap::new();
    for pod in view.pods_of(w) {
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let statuses = pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten());
        for cs in statuses.filter(|cs| cs.name == container) {
            out.restarts += cs.restart_count;
            if let Some(line) = restart_line(pod_name, cs) {
                out.evidence.push(line);
            }
        }
        for e in view.events_for(Kind::Pod, w.namespace(), pod_name) {
            let field = e.involved_object.field_path.as_deref().unwrap_or_default();
            if !field.is_empty() && !field.contains(&format!("{{{container}}}")) {
                continue;
            }
            let reason = e.reason.as_deref().unwrap_or_default();
            let message = e.message.as_deref().unwrap_or_default();
            let relevant = match reason {
                "Killing" => {
                    message.contains("failed liveness probe")
                        || message.contains("failed startup probe")
                }
                "Unhealthy" => message.contains("probe failed"),
                _ => false,
            };
            if !relevant {
                continue;
            }
            let count = e.count.unwrap_or(1);
            if reason == "Killing" && message.contains("failed liveness probe") {
                out.liveness_kills += count;
            }
            let kind = message.split(':').next().unwrap_or(message).to_string();
            let entry = events
                .entry((reason.to_string(), kind))
                .or_insert_with(|| (0, pod_name.to_string(), message.to_string(), event_time(e)));
            entry.0 += count;
        }
    }
    for ((reason, _), (count, pod, message, _)) in events {
        out.evidence.push(format!(
            "event {reason} ×{count} on pod {pod}: {}",
            crate::analyzers::text::clip(&message, 240)
        ));
    }
    out
}

/// `pod X: restartCount 14, last exit code 137 (Error), not OOMKilled`
fn restart_line(pod: &str, cs: &ContainerStatus) -> Option<String> {
    if cs.restart_count == 0 {
        return None;
    }
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    Some(match last {
        Some(t) => {
            let reason = t.reason.as_deref().unwrap_or("Error");
            let note = if t.exit_code == 137 && reason != "OOMKilled" {
                " — SIGKILL without OOMKilled: killed by the kubelet"
            } else {
                ""
            };
            format!(
                "pod {pod}: restartCount {}, last exit code {} ({reason}){note}",
                cs.restart_count, t.exit_code
            )
        }
        None => format!("pod {pod}: restartCount {}", cs.restart_count),
    })
}
