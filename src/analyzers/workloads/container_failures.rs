//! `container-failures`: containers killed for memory (OOMKilled) and
//! containers in a crash loop, grouped by the workload that owns the pods,
//! with the memory limit, exit codes and the last log lines as evidence.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod};
use serde::Deserialize;
use serde_json::json;

use crate::analyzers::target::Target;
use crate::analyzers::text::last_lines;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::plan::{Operation, placeholder};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "container-failures",
    summary: "containers OOMKilled or crash-looping, with limits, exit codes and last log lines",
    needs: WORKLOAD_KINDS,
    data: &[Data::Logs],
    optional: WORKLOAD_CONTEXT,
    build: build::<ContainerFailures>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Terminated with reason OOMKilled (now or at the last restart).
    Oom,
    /// Waiting in CrashLoopBackOff, or restarted at least `minRestarts` times
    /// after failing.
    Crashloop,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerFailures {
    mode: Mode,
    #[serde(default)]
    target: Target,
    #[serde(default = "default_min_restarts")]
    min_restarts: i32,
    /// How many log lines to quote as evidence.
    #[serde(default = "default_log_lines")]
    log_lines: usize,
}

fn default_min_restarts() -> i32 {
    3
}

fn default_log_lines() -> usize {
    5
}

/// What the pods of one workload's container showed.
#[derive(Default)]
struct Seen<'a> {
    pods: Vec<(&'a Pod, &'a ContainerStatus)>,
}

impl Analyzer for ContainerFailures {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            let mut by_container: BTreeMap<&str, Seen<'_>> = BTreeMap::new();
            for pod in view.pods_of(&w) {
                let statuses = pod.status.iter().flat_map(|s| {
                    s.init_container_statuses
                        .iter()
                        .flatten()
                        .chain(s.container_statuses.iter().flatten())
                });
                for cs in statuses {
                    // An OOM kill under a memory limit the workload no longer has is
                    // history: those pods go with the rollout of the raised limit.
                    let current = !matches!(self.mode, Mode::Oom)
                        || memory_limit(
                            w.spec
                                .containers
                                .iter()
                                .chain(w.spec.init_containers.iter().flatten()),
                            &cs.name,
                        ) == memory_limit(
                            pod.spec.iter().flat_map(|s| {
                                s.containers
                                    .iter()
                                    .chain(s.init_containers.iter().flatten())
                            }),
                            &cs.name,
                        );
                    if current
                        && self.target.containers(&w).any(|c| c.name == cs.name)
                        && self.fires(cs)
                    {
                        by_container
                            .entry(cs.name.as_str())
                            .or_default()
                            .pods
                            .push((pod, cs));
                    }
                }
            }
            for (container, seen) in by_container {
                drafts.push(match self.mode {
                    Mode::Oom => oom_finding(&w, container, &seen),
                    Mode::Crashloop => self.crash_finding(view, &w, container, &seen),
                });
            }
        }
        Ok(drafts)
    }
}

/// The memory limit of the named container among these.
fn memory_limit<'a>(
    mut containers: impl Iterator<Item = &'a Container>,
    name: &str,
) -> Option<&'a str> {
    containers
        .find(|c| c.name == name)
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.as_str())
}

fn last_termination(
    cs: &ContainerStatus,
) -> Option<&k8s_openapi::api::core::v1::ContainerStateTerminated> {
    cs.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()))
}

fn waiting_reason(cs: &ContainerStatus) -> Option<&str> {
    cs.state
        .as_ref()
        .and_then(|s| s.waiting.as_ref())
        .and_then(|w| w.reason.as_deref())
}

impl ContainerFailures {
    fn fires(&self, cs: &ContainerStatus) -> bool {
        match self.mode {
            Mode::Oom => {
                last_termination(cs).and_then(|t| t.reason.as_deref()) == Some("OOMKilled")
            }
            Mode::Crashloop => {
                waiting_reason(cs) == Some("CrashLoopBackOff")
                    || (cs.restart_count >= self.min_restarts
                        && last_termination(cs).is_some_and(|t| t.exit_code != 0))
            }
        }
    }

    fn crash_finding(
        &self,
        view: &ClusterView,
        w: &Workload<'_>,
        container: &str,
        seen: &Seen<'_>,
    ) -> Draft {
        let c = w
            .containers()
            .find(|c| c.name == container)
            .expect("container of this workload");
        let restarts: i32 = seen.pods.iter().map(|(_, cs)| cs.restart_count).sum();
        let (pod, cs) = seen
            .pods
            .iter()
            .max_by_key(|(_, cs)| cs.restart_count)
            .expect("at least one pod");
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let exit = last_termination(cs).map(|t| {
            let reason = t.reason.as_deref().unwrap_or("Error");
            format!("last exit code {} ({reason})", t.exit_code)
        });
        let mut draft = Draft::new(
            w.container_ref(c, ""),
            format!(
                "container {container} is crash-looping: {restarts} restart{} across {} pod{}{}",
                if restarts == 1 { "" } else { "s" },
                seen.pods.len(),
                if seen.pods.len() == 1 { "" } else { "s" },
                exit.map(|e| format!(", {e}")).unwrap_or_default()
            ),
        );
        for (p, cs) in &seen.pods {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            let state = waiting_reason(cs).unwrap_or("Running");
            draft.evidence.push(format!(
                "pod {name}: {state}, restartCount {}",
                cs.restart_count
            ));
        }
        // The previous container's log shows why it died; the current one may be fresh.
        let log = view
            .log(w.namespace(), pod_name, container, true)
            .or_else(|| view.log(w.namespace(), pod_name, container, false));
        if let Some(log) = log {
            for line in last_lines(log, self.log_lines) {
                draft
                    .evidence
                    .push(format!("log {pod_name}/{container}: {line}"));
            }
        }
        let owner = w.object_ref();
        draft = draft
            .caused_by("container-failures", owner.clone())
            .caused_by("probe-fit", owner.clone())
            .caused_by("required-env", owner.clone())
            .caused_by("env-refs", owner.clone())
            .caused_by("service-refs", owner.clone());
        draft.fix(
            Fix::manual(format!(
                "Read why the container exits: `kubectl logs{} {pod_name} -c {container} --previous`; fix the cause reported with it.",
                owner.kubectl_ns()
            ))
            .with_kubectl(format!("kubectl logs{} {pod_name} -c {container} --previous", owner.kubectl_ns())),
        )
    }
}

fn oom_finding(w: &Workload<'_>, container: &str, seen: &Seen<'_>) -> Draft {
    let c = w
        .containers()
        .find(|c| c.name == container)
        .expect("container of this workload");
    let limit = c
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());
    let request = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());
    let limit_text = match &limit {
        Some(l) => format!("its memory limit is {l}"),
        None => "it has no memory limit, so the node ran out of memory".to_string(),
    };
    let mut draft = Draft::new(
        w.container_ref(c, "resources.limits.memory"),
        format!("container {container} was OOMKilled: {limit_text}"),
    );
    for (pod, cs) in &seen.pods {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let when = last_termination(cs)
            .and_then(|t| t.finished_at.as_ref())
            .map(|t| format!(" at {}", t.0))
            .unwrap_or_default();
        let code = last_termination(cs).map(|t| t.exit_code).unwrap_or(137);
        draft.evidence.push(format!(
            "pod {name}: OOMKilled (exit code {code}){when}, restartCount {}",
            cs.restart_count
        ));
    }
    if let Some(r) = request {
        draft.evidence.push(format!("memory request {r}"));
    }
    let subject = w.object_ref();
    let suggestion = limit.as_deref().and_then(double_quantity);
    let value = suggestion.clone().unwrap_or_else(|| "<limit>".to_string());
    let mut description = format!(
        "Raise the memory limit of container {container} (give the value with `--set memory={}`), or make the job use less memory (e.g. sample its input).",
        value
    );
    if let Some(manager) = w.manager() {
        description.push_str(&format!(
            " {subject} is managed by {manager}: change the chart's resources value too."
        ));
    }
    let fix = Fix::new(Applicability::Unsafe, description);
    // The command a person would type only where there is no operation to show.
    draft.fix(match raise_memory(w, c, limit.as_deref(), &value) {
        Some(op) => fix.with_operation(op),
        None => fix.with_kubectl(format!(
            "kubectl set resources {}{} -c {container} --limits=memory={value}",
            subject.kubectl_name(),
            subject.kubectl_ns()
        )),
    })
}

/// Set the container's memory limit from `--set memory=VALUE`. Unsafe: the
/// pods restart, and a larger limit may not fit the nodes. `None` for Jobs and
/// bare Pods, whose pod template cannot change.
fn raise_memory(
    w: &Workload<'_>,
    c: &Container,
    limit: Option<&str>,
    suggestion: &str,
) -> Option<Operation> {
    if matches!(w.kind, Kind::Job | Kind::Pod) {
        return None;
    }
    let (list, i) = w.container_index(&c.name)?;
    let base = format!("{}/{list}/{i}", w.spec_pointer());
    let description = format!(
        "the new memory limit of container {} (e.g. {suggestion})",
        c.name
    );
    let op = Operation::patch(&w.object_ref(), w.meta, Applicability::Unsafe)
        .test(&format!("{base}/name"), json!(c.name));
    // The limit is only ever raised: a smaller value is refused.
    let op = match limit {
        Some(current) => op.input_above(MEMORY, description, current),
        None => op.input(MEMORY, description),
    };
    let value = placeholder(MEMORY);
    let resources = c.resources.as_ref();
    Some(
        match (limit, resources.and_then(|r| r.limits.as_ref()), resources) {
            (Some(old), _, _) => op
                .test(&format!("{base}/resources/limits/memory"), json!(old))
                .replace(&format!("{base}/resources/limits/memory"), value),
            (None, Some(_), _) => op.add(&format!("{base}/resources/limits/memory"), value),
            (None, None, Some(_)) => op.add(
                &format!("{base}/resources/limits"),
                json!({ "memory": value }),
            ),
            (None, None, None) => op.add(
                &format!("{base}/resources"),
                json!({ "limits": { "memory": value } }),
            ),
        },
    )
}

/// The input naming the new memory limit: `--set memory=2Gi`.
const MEMORY: &str = "memory";

/// Twice a memory quantity, in the same unit: `512Mi` → `1Gi`, `1500M` → `3000M`.
fn double_quantity(q: &str) -> Option<String> {
    let split = q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let n: u64 = num.parse().ok()?;
    let doubled = n * 2;
    Some(match unit {
        "Mi" if doubled % 1024 == 0 => format!("{}Gi", doubled / 1024),
        _ => format!("{doubled}{unit}"),
    })
}

#[cfg(test)]
mod tests {
    use super::double_quantity;

    #[test]
    fn doubles_memory() {
        assert_eq!(double_quantity("512Mi").as_deref(), Some("1Gi"));
        assert_eq!(double_quantity("1Gi").as_deref(), Some("2Gi"));
        assert_eq!(double_quantity("300Mi").as_deref(), Some("600Mi"));
        assert_eq!(double_quantity("abc"), None);
    }
}

#[cfg(test)]
mod fixture_tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn oom_killed_trainer() {
        let drafts = run(
            "container-failures",
            "{mode: oom}",
            &fixture("training-pipeline"),
        );
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn crash_loop_points_at_possible_causes() {
        let drafts = run(
            "container-failures",
            "{mode: crashloop}",
            &fixture("training-pipeline"),
        );
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn quiet_on_the_healthy_pipeline() {
        for mode in ["{mode: oom}", "{mode: crashloop}"] {
            assert!(run("container-failures", mode, &fixture("healthy")).is_empty());
        }
    }
}
