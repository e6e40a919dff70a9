//! `serving-workers`: a model server running a single worker behind probes with
//! short timeouts. One worker serves one request at a time (a synchronous
//! gunicorn worker literally so): a slow prediction makes the health probe
//! wait, time out, and the kubelet restart a server that works.

use k8s_openapi::api::core::v1::Container;
use serde::Deserialize;
use serde_json::json;

use crate::analyzers::serving::servers::{self, Server, ServerProfile, Source};
use crate::analyzers::target::Target;
use crate::analyzers::workloads::env::Env;
use crate::analyzers::workloads::probe_fit::describe_probe;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::{ClusterView, Workload};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "serving-workers",
    summary: "model servers with a single (synchronous) worker behind health probes",
    needs: WORKLOAD_KINDS,
    optional: WORKLOAD_CONTEXT,
    data: &[Data::Logs, Data::Probes],
    build: build::<ServingWorkers>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServingWorkers {
    #[serde(default)]
    target: Target,
    #[serde(default)]
    servers: Option<Vec<ServerProfile>>,
    #[serde(default)]
    extra_servers: Vec<ServerProfile>,
    /// The worker count the fix suggests.
    #[serde(default = "two")]
    suggested_workers: u32,
}

fn two() -> u32 {
    2
}

impl Analyzer for ServingWorkers {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let profiles = servers::profiles(&self.servers, &self.extra_servers);
        let drafts = servers::running_servers(view, &self.target, &profiles)
            .into_iter()
            .filter(|(_, c, server)| {
                matches!(server.workers, Some((1, _)))
                    && (c.liveness_probe.is_some() || c.readiness_probe.is_some())
            })
            .map(|(w, c, server)| self.finding(view, &w, c, &server))
            .collect();
        Ok(drafts)
    }
}

impl ServingWorkers {
    fn finding(
        &self,
        view: &ClusterView,
        w: &Workload<'_>,
        c: &Container,
        server: &Server<'_>,
    ) -> Draft {
        let spec = server.profile.workers.as_ref().expect("workers known");
        let source = &server.workers.as_ref().expect("workers known").1;
        let mut log_lines = Vec::new();
        let mut sync = spec.synchronous;
        for pod in view.pods_of(w) {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            for log in view.logs_of(w.namespace(), name, &c.name) {
                for line in log.lines() {
                    if line.contains("Using worker: sync") {
                        sync = true;
                        if log_lines
                            .iter()
                            .all(|l: &String| !l.contains("Using worker"))
                        {
                            log_lines.push(format!("log {name}: {}", line.trim()));
                        }
                    }
                    if line.contains("WORKER TIMEOUT") && log_lines.len() < 4 {
                        log_lines.push(format!("log {name}: {}", line.trim()));
                    }
                }
            }
        }
        let shortest = [c.liveness_probe.as_ref(), c.readiness_probe.as_ref()]
            .into_iter()
            .flatten()
            .map(|p| p.timeout_seconds.unwrap_or(1))
            .min()
            .unwrap_or(1);
        let mut draft = Draft::new(
            w.container_ref(c, ""),
            format!(
                "container {} runs {} with 1 {}worker ({}): while it computes one prediction every other request waits, health probes included, so a prediction slower than the probes' timeoutSeconds ({shortest}) fails them",
                c.name,
                server.profile.title,
                if sync { "synchronous " } else { "" },
                source.describe()
            ),
        );
        for (field, p) in [
            ("livenessProbe", c.liveness_probe.as_ref()),
            ("readinessProbe", c.readiness_probe.as_ref()),
        ] {
            if let Some(p) = p {
                draft
                    .evidence
                    .push(format!("{field}: {}", describe_probe(c, p)));
            }
        }
        for pod in view.pods_of(w) {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            for r in view
                .probes
                .iter()
                .filter(|r| r.namespace == w.namespace() && r.pod.as_deref() == Some(name))
            {
                if let Some(ms) = r.latency_ms
                    && ms >= u64::try_from(shortest).unwrap_or(1) * 1000
                {
                    draft.evidence.push(format!(
                        "probe {}:{}{} took {ms} ms, longer than timeoutSeconds {shortest}",
                        name, r.port, r.path
                    ));
                }
            }
        }
        let env = Env::of(view, w.namespace(), c);
        for var in &spec.ignored_env {
            if let Some(value) = env.get(var) {
                draft.evidence.push(format!(
                    "env {var}={value} is set but has no effect: {} does not read it",
                    server.profile.title
                ));
            }
        }
        draft.evidence.extend(log_lines);
        let n = self.suggested_workers;
        let subject = w.object_ref();
        let description = format!(
            "Run {n} or more workers: {}. Each worker loads its own copy of the model, so check the memory limit first.",
            spec.knob
        );
        let kubectl = self.command(w, c, server, n);
        draft.fix(Fix::new(Applicability::Unsafe, description).with_kubectl(
            kubectl.unwrap_or_else(|| {
                format!(
                    "kubectl edit {}{}",
                    subject.kubectl_name(),
                    subject.kubectl_ns()
                )
            }),
        ))
    }

    /// Change the flag where the command sets it, else the variable the server reads.
    fn command(
        &self,
        w: &Workload<'_>,
        c: &Container,
        server: &Server<'_>,
        n: u32,
    ) -> Option<String> {
        let spec = server.profile.workers.as_ref()?;
        let subject = w.object_ref();
        let (list, index) = w.container_index(&c.name)?;
        let base = format!("{}/{list}/{index}", w.spec_pointer());
        if let Some((_, Source::Flag(flag))) = &server.workers {
            for (field, items) in [("command", &c.command), ("args", &c.args)] {
                let items = items.as_deref().unwrap_or_default();
                if let Some(i) = items.iter().position(|a| a == flag)
                    && i + 1 < items.len()
                {
                    let ops = json!([{"op": "replace", "path": format!("{base}/{field}/{}", i + 1), "value": n.to_string()}]);
                    return Some(format!(
                        "kubectl patch {}{} --type=json -p '{ops}'",
                        subject.kubectl_name(),
                        subject.kubectl_ns()
                    ));
                }
            }
        }
        let (var, value) = match (spec.env.first(), &spec.cmd_args_env) {
            (_, Some(var)) => (var.clone(), format!("\"--workers {n}\"")),
            (Some(var), None) => (var.clone(), n.to_string()),
            (None, None) => return None,
        };
        Some(format!(
            "kubectl set env {}{} -c {} {var}={value}",
            subject.kubectl_name(),
            subject.kubectl_ns(),
            c.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn mlflow_serving_single_sync_worker() {
        let drafts = run("serving-workers", "{}", &fixture("mlflow-serving"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn gunicorn_args_on_a_uvicorn_server() {
        let drafts = run("serving-workers", "{}", &fixture("serving-workloads"));
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_has_workers() {
        assert_eq!(
            run("serving-workers", "{}", &fixture("healthy-serving")),
            Vec::new()
        );
    }
}
