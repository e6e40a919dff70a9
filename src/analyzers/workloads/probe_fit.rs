//! `probe-fit`: liveness, readiness and startup probes that do not fit the model
//! server they probe — a server bound to 127.0.0.1 probed on the pod IP, a
//! probe on another port or path than the server's, a 1 s timeout on a single
//! worker, no startup probe while the liveness probe kills a loading model.
//!
//! This file holds the check, its parameters and the finding; `probes` judges
//! each probe against the server, `rebind` rewrites a loopback bind, `kills`
//! counts what the kubelet did, `patch` turns the repairs into an operation.

mod kills;
mod patch;
mod probes;
mod rebind;

use k8s_openapi::api::core::v1::{Container, Probe};
use serde::Deserialize;
use serde_json::Value;

use crate::analyzers::serving::servers::{self, Server, ServerProfile};
use crate::analyzers::target::Target;
use crate::analyzers::text::plural;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::{ClusterView, Workload};
use crate::report::findings::{Applicability, Fix};
use kills::Kills;
use probes::{PROBES, Problem, probe};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "probe-fit",
    summary: "probes that do not fit the model server: loopback bind, wrong port or path, short timeout, no startup probe",
    needs: WORKLOAD_KINDS,
    optional: WORKLOAD_CONTEXT,
    data: &[Data::Logs],
    build: build::<ProbeFit>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeFit {
    #[serde(default)]
    target: Target,
    /// Server profiles; the shipped list when absent.
    #[serde(default)]
    servers: Option<Vec<ServerProfile>>,
    /// Profiles tried before `servers`.
    #[serde(default)]
    extra_servers: Vec<ServerProfile>,
    /// A probe timeout at or below this is too short for a single-worker server.
    #[serde(default = "one")]
    short_timeout_seconds: i32,
    /// The timeout the fix sets.
    #[serde(default = "five")]
    timeout_seconds: i32,
    /// How long a model may take to load: what the suggested startupProbe allows.
    #[serde(default = "three_hundred")]
    startup_seconds: i32,
}

fn one() -> i32 {
    1
}
fn five() -> i32 {
    5
}
fn three_hundred() -> i32 {
    300
}

impl Analyzer for ProbeFit {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let profiles = servers::profiles(&self.servers, &self.extra_servers);
        let mut drafts = Vec::new();
        for (w, c, server) in servers::running_servers(view, &self.target, &profiles) {
            let kills = kills::kills(view, &w, &c.name);
            let problems = self.problems(&w, c, &server, &kills);
            if !problems.is_empty() {
                drafts.push(self.finding(&w, c, &server, &kills, problems));
            }
        }
        Ok(drafts)
    }
}

impl ProbeFit {
    fn finding(
        &self,
        w: &Workload<'_>,
        c: &Container,
        server: &Server<'_>,
        kills: &Kills,
        problems: Vec<Problem>,
    ) -> Draft {
        let consequence = if kills.liveness_kills > 0 {
            format!(
                "; the kubelet killed it {} time{} for failing its liveness probe",
                kills.liveness_kills,
                plural(kills.liveness_kills)
            )
        } else if kills.restarts > 0 {
            format!(
                "; it restarted {} time{}",
                kills.restarts,
                plural(kills.restarts)
            )
        } else {
            String::new()
        };
        let mut draft = Draft::new(
            w.container_ref(c, ""),
            format!(
                "container {} runs {} and {}{consequence}",
                c.name, server.profile.title, problems[0].what
            ),
        );
        draft.evidence.push(format!(
            "recognised from its {}: {}",
            server.recognised_by,
            crate::analyzers::text::clip(&servers::words(c).join(" "), 200)
        ));
        draft.evidence.push(format!(
            "listens on {}:{} (host: {}; port: {})",
            server.host,
            server.port,
            server.host_source.describe(),
            server.port_source.describe()
        ));
        if let Some((n, source)) = &server.workers {
            draft.evidence.push(format!(
                "{n} worker{} ({})",
                plural(*n as i32),
                source.describe()
            ));
        }
        for field in PROBES {
            match probe(c, field) {
                Some(p) => draft
                    .evidence
                    .push(format!("{field}: {}", describe_probe(c, p))),
                None => draft.evidence.push(format!("no {field}")),
            }
        }
        for p in problems.iter().skip(1) {
            draft.evidence.push(format!("also: {}", p.what));
        }
        draft.evidence.extend(kills.evidence.iter().cloned());

        let operator = servers::operator_owner(w);
        let manual = operator.is_some() || problems.iter().any(|p| p.ops.is_empty());
        let changes: Vec<&str> = problems.iter().map(|p| p.change.as_str()).collect();
        let subject = w.object_ref();
        let mut description = format!("{}.", capitalise(&changes.join("; ")));
        if !manual {
            description.push_str(&format!(
                " The change is to the pod template, so every pod of {subject} is replaced."
            ));
        }
        if let Some(manager) = w.manager() {
            description.push_str(&format!(
                " {subject} is managed by {manager}: make the same change in its chart values, or the next upgrade reverts it."
            ));
        }
        if let Some(owner) = &operator {
            description.push_str(&format!(
                " {subject} is rendered by {owner}'s operator: make the change in its configuration (e.g. Seldon's ServerConfig); a patch to {subject} would be undone."
            ));
        }
        let ops: Vec<&Value> = problems.iter().flat_map(|p| p.ops.iter()).collect();
        let mut fix = Fix::new(
            if manual {
                Applicability::Manual
            } else {
                Applicability::Unsafe
            },
            description,
        );
        if !ops.is_empty() {
            // Only a complete repair the workload's own spec keeps is applied:
            // a partial one leaves the probes failing, and an operator undoes
            // it. Otherwise the patch is only shown, for a person to adapt.
            fix = if manual {
                fix.with_kubectl(format!(
                    "kubectl patch {}{} --type=json -p '{}'",
                    subject.kubectl_name(),
                    subject.kubectl_ns(),
                    serde_json::to_string(&ops).expect("JSON values serialise")
                ))
            } else {
                fix.with_operation(patch::patch_probes(w, c, &ops))
            };
        }
        draft.fix(fix)
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `httpGet :5001/ping, timeoutSeconds 1, periodSeconds 10, failureThreshold 3`
pub fn describe_probe(c: &Container, p: &Probe) -> String {
    let handler = if let Some(h) = &p.http_get {
        format!(
            "httpGet {}:{}{}",
            h.host.as_deref().unwrap_or(""),
            port_text(c, &h.port),
            h.path.as_deref().unwrap_or("/")
        )
    } else if let Some(t) = &p.tcp_socket {
        format!("tcpSocket :{}", port_text(c, &t.port))
    } else if p.exec.is_some() {
        "exec".to_string()
    } else if p.grpc.is_some() {
        "grpc".to_string()
    } else {
        "no handler".to_string()
    };
    format!(
        "{handler}, initialDelaySeconds {}, timeoutSeconds {}, periodSeconds {}, failureThreshold {}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.failure_threshold.unwrap_or(3)
    )
}

fn port_text(
    c: &Container,
    port: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
) -> String {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(name) => match servers::probe_port(c, port) {
            Some(n) => format!("{n} ({name})"),
            None => name.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn mlflow_serving_probes_do_not_fit() {
        let view = fixture("mlflow-serving");
        let drafts = run("probe-fit", "{}", &view);
        insta::assert_debug_snapshot!(drafts);
    }

    #[test]
    fn healthy_serving_probes_fit() {
        let view = fixture("healthy-serving");
        assert_eq!(run("probe-fit", "{}", &view), Vec::new());
    }
}

#[cfg(test)]
mod catalogue_tests {
    use crate::analyzers::serving::servers::{DEFAULT_PROFILES, ServerProfile};

    /// The profiles written out in WKL005 are the shipped defaults the other
    /// serving checks use, so the two cannot drift apart.
    #[test]
    fn wkl005_lists_the_default_profiles() {
        let text = include_str!("../../../checks/workloads/wkl005.yaml");
        let check = crate::catalogue::parse_check(text, "wkl005.yaml").expect("valid check");
        let servers: Vec<ServerProfile> =
            serde_json::from_value(check.spec.params["servers"].clone()).expect("profiles");
        assert_eq!(servers, *DEFAULT_PROFILES);
    }
}
