//! `provided-values`: a consumer waits for every value of a list-valued env var
//! (an evaluator's `EXPECTED_MODEL_TYPES=GRU,LSTM,PROPHET`), and each value must
//! be produced by a healthy workload that sets a named var to it (a trainer's
//! `MODEL_TYPE=PROPHET`). A site contract: see `examples/checks/`.

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::analyzers::target::Target;
use crate::analyzers::workloads::env::Env;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build};
use crate::cluster::{ClusterView, Workload, pod_label};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "provided-values",
    summary: "each value a consumer's list env var waits for must be produced by a healthy workload",
    needs: WORKLOAD_KINDS,
    optional: WORKLOAD_CONTEXT,
    data: &[],
    build: build::<ProvidedValues>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvidedValues {
    /// The workloads (and containers) that wait.
    consumer: Target,
    /// Their variable listing what they wait for.
    list_env: String,
    #[serde(default = "comma")]
    separator: String,
    /// The workloads that produce.
    providers: Target,
    /// The variable naming what a provider produces.
    provider_env: String,
}

fn comma() -> String {
    ",".to_string()
}

/// Running and Ready: a pod that does its work.
fn healthy(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Why a pod is not healthy, from its container statuses.
fn trouble(pod: &Pod) -> String {
    let mut out = Vec::new();
    for cs in pod
        .status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
    {
        let waiting = cs
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone());
        let last = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| {
                format!(
                    "last terminated {} (exit code {})",
                    t.reason.as_deref().unwrap_or("Error"),
                    t.exit_code
                )
            });
        let parts: Vec<String> = waiting.into_iter().chain(last).collect();
        if !parts.is_empty() {
            out.push(format!(
                "{}: {}, restartCount {}",
                cs.name,
                parts.join(", "),
                cs.restart_count
            ));
        }
    }
    out.join("; ")
}

impl Analyzer for ProvidedValues {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let providers: Vec<(Workload<'_>, String)> = self
            .providers
            .workloads(view)
            .into_iter()
            .filter_map(|w| {
                let value = self.providers.containers(&w).find_map(|c| {
                    Env::of(view, w.namespace(), c)
                        .get(&self.provider_env)
                        .map(|v| v.trim().to_string())
                });
                value.map(|v| (w, v))
            })
            .collect();
        // Providers that do not say what they produce: a likely reason for a gap.
        let silent: Vec<Workload<'_>> = self
            .providers
            .workloads(view)
            .into_iter()
            .filter(|w| {
                !self
                    .providers
                    .containers(w)
                    .any(|c| c.env.iter().flatten().any(|e| e.name == self.provider_env))
            })
            .collect();
        let mut drafts = Vec::new();
        for w in self.consumer.workloads(view) {
            for c in self.consumer.containers(&w) {
                let env = Env::of(view, w.namespace(), c);
                let Some(list) = env.get(&self.list_env) else {
                    continue;
                };
                for value in list
                    .split(self.separator.as_str())
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                {
                    let candidates: Vec<&(Workload<'_>, String)> = providers
                        .iter()
                        .filter(|(_, v)| v.eq_ignore_ascii_case(value))
                        .collect();
                    let healthy_one = candidates
                        .iter()
                        .any(|(p, _)| view.pods_of(p).iter().any(|pod| healthy(pod)));
                    if healthy_one {
                        continue;
                    }
                    drafts.push(self.finding(view, &w, c, (list, value), &candidates, &silent));
                }
            }
        }
        Ok(drafts)
    }
}

impl ProvidedValues {
    fn finding(
        &self,
        view: &ClusterView,
        w: &Workload<'_>,
        c: &k8s_openapi::api::core::v1::Container,
        (list, value): (&str, &str),
        candidates: &[&(Workload<'_>, String)],
        silent: &[Workload<'_>],
    ) -> Draft {
        let why = match candidates {
            [] => format!("no workload sets {}={value}", self.provider_env),
            found => format!(
                "{} {} {}={value} but {} not healthy",
                found
                    .iter()
                    .map(|(p, _)| p.object_ref().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if found.len() == 1 { "sets" } else { "set" },
                self.provider_env,
                if found.len() == 1 { "it is" } else { "none is" }
            ),
        };
        let mut draft = Draft::new(
            w.container_ref(c, "env"),
            format!(
                "container {} waits for {value} ({}={list}), but {why}: it will wait forever",
                c.name, self.list_env
            ),
        );
        draft
            .evidence
            .push(format!("{}: {}={list}", w.object_ref(), self.list_env));
        for (p, _) in candidates {
            let pods = view.pods_of(p);
            if pods.is_empty() {
                draft
                    .evidence
                    .push(format!("{} has no pods", p.object_ref()));
            }
            for pod in pods {
                let detail = trouble(pod);
                draft.evidence.push(format!(
                    "{}: pod {}{}",
                    p.object_ref(),
                    pod_label(pod),
                    if detail.is_empty() {
                        String::new()
                    } else {
                        format!(", {detail}")
                    }
                ));
            }
            draft = draft
                .caused_by("container-failures", p.object_ref())
                .caused_by("required-env", p.object_ref())
                .caused_by("unschedulable", p.object_ref());
        }
        if candidates.is_empty() {
            for p in silent {
                draft.evidence.push(format!(
                    "{} is a provider but does not set {}",
                    p.object_ref(),
                    self.provider_env
                ));
                draft = draft.caused_by("required-env", p.object_ref());
            }
        }
        let rest: Vec<&str> = list
            .split(self.separator.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case(value))
            .collect();
        let subject = w.object_ref();
        draft.fix(
            Fix::new(
                Applicability::Unsafe,
                format!(
                    "Make a workload with {}={value} run healthy (see the linked cause), or stop waiting for {value} until it can: set {}={} on {subject}.",
                    self.provider_env,
                    self.list_env,
                    rest.join(&self.separator)
                ),
            )
            .with_kubectl(format!(
                "kubectl set env {}{} -c {} {}={}",
                subject.kubectl_name(),
                subject.kubectl_ns(),
                c.name,
                self.list_env,
                rest.join(&self.separator)
            )),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::analyzers::testing::fixture;

    /// The example check runs as a user's `--checks` file would.
    #[test]
    fn example_site_check_finds_the_missing_prophet() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/checks/expected-models.yaml");
        let text = std::fs::read_to_string(&path).expect("example check exists");
        let check = crate::catalogue::parse_check(&text, "examples/checks/expected-models.yaml")
            .expect("example check is valid");
        assert_eq!(check.spec.code, "SITE002");
        let drafts = check
            .analyzer
            .analyze(&fixture("training-overload"))
            .expect("not skipped");
        insta::assert_debug_snapshot!(drafts);
        let healthy = check
            .analyzer
            .analyze(&fixture("healthy-serving"))
            .expect("not skipped");
        assert_eq!(healthy, Vec::new());
    }
}
