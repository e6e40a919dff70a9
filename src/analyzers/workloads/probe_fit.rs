//! `probe-fit`: liveness, readiness and startup probes that do not fit the model
//! server they probe — a server bound to 127.0.0.1 probed on the pod IP, a
//! probe on another port or path than the server's, a 1 s timeout on a single
//! worker, no startup probe while the liveness probe kills a loading model.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Probe};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::analyzers::serving::servers::{self, Server, ServerProfile, Source};
use crate::analyzers::target::Target;
use crate::analyzers::text::plural;
use crate::analyzers::{
    Analyzer, AnalyzerDef, Data, Draft, WORKLOAD_CONTEXT, WORKLOAD_KINDS, build,
};
use crate::cluster::{ClusterView, Kind, Workload, event_time};
use crate::plan::Operation;
use crate::report::findings::{Applicability, Fix};

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

/// The three probe fields, in the order the kubelet applies them.
const PROBES: [&str; 3] = ["startupProbe", "livenessProbe", "readinessProbe"];

fn probe<'c>(c: &'c Container, field: &str) -> Option<&'c Probe> {
    match field {
        "startupProbe" => c.startup_probe.as_ref(),
        "livenessProbe" => c.liveness_probe.as_ref(),
        _ => c.readiness_probe.as_ref(),
    }
}

/// One misfit, with the JSON-patch operations that repair it (none: manual).
struct Problem {
    /// What is wrong, as a clause of the finding's message.
    what: String,
    /// What the fix does, for its description.
    change: String,
    ops: Vec<Value>,
}

/// What the kubelet did to the container because of its probes.
#[derive(Default)]
struct Kills {
    evidence: Vec<String>,
    liveness_kills: i32,
    restarts: i32,
}

impl Analyzer for ProbeFit {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let profiles = servers::profiles(&self.servers, &self.extra_servers);
        let mut drafts = Vec::new();
        for (w, c, server) in servers::running_servers(view, &self.target, &profiles) {
            let kills = kills(view, &w, &c.name);
            let problems = self.problems(&w, c, &server, &kills);
            if !problems.is_empty() {
                drafts.push(self.finding(&w, c, &server, &kills, problems));
            }
        }
        Ok(drafts)
    }
}

impl ProbeFit {
    fn problems(
        &self,
        w: &Workload<'_>,
        c: &Container,
        server: &Server<'_>,
        kills: &Kills,
    ) -> Vec<Problem> {
        let base = container_pointer(w, c);
        let mut out = Vec::new();
        let probed: Vec<(&str, &Probe)> = PROBES
            .iter()
            .filter_map(|f| probe(c, f).map(|p| (*f, p)))
            .collect();
        let on_pod_ip = probed.iter().any(|(_, p)| {
            p.tcp_socket.is_some() || p.http_get.as_ref().is_some_and(|h| h.host.is_none())
        });
        if server.loopback() && on_pod_ip {
            out.push(loopback_problem(w, c, server));
        }
        for (field, p) in &probed {
            let (port, path) = match (&p.http_get, &p.tcp_socket) {
                (Some(h), _) => (servers::probe_port(c, &h.port), h.path.as_deref()),
                (None, Some(t)) => (servers::probe_port(c, &t.port), None),
                _ => continue,
            };
            let handler = if p.http_get.is_some() {
                "httpGet"
            } else {
                "tcpSocket"
            };
            if port != Some(server.port) {
                out.push(Problem {
                    what: format!(
                        "its {field} probes port {} but the server listens on {}",
                        port.map_or_else(|| "(unresolved)".to_string(), |p| p.to_string()),
                        server.port
                    ),
                    change: format!("point {field} at port {}", server.port),
                    ops: vec![json!({"op": "replace", "path": format!("{base}/{field}/{handler}/port"), "value": server.port})],
                });
            }
            if let Some(path) = path {
                let profile = server.profile;
                let path_only = path.split('?').next().unwrap_or(path);
                let on = |paths: &[String]| paths.iter().any(|a| a == path_only);
                let liveness = *field == "livenessProbe";
                // Readiness and startup may use any health route; liveness must not
                // use a readiness route, which fails while a model (re)loads.
                let fits = if liveness {
                    on(&profile.liveness_paths)
                } else {
                    on(&profile.readiness_paths) || on(&profile.liveness_paths)
                };
                if !fits {
                    let (want, what) = if liveness && on(&profile.readiness_paths) {
                        (
                            &profile.liveness_paths[0],
                            format!(
                                "its livenessProbe uses the readiness route {path}, which fails while a model loads, so the kubelet restarts a server that is only busy"
                            ),
                        )
                    } else {
                        let allowed = if liveness {
                            &profile.liveness_paths
                        } else {
                            &profile.readiness_paths
                        };
                        (
                            &allowed[0],
                            format!(
                                "its {field} requests {path}, a route {} does not serve for health (it serves {})",
                                profile.title,
                                allowed.join(" and ")
                            ),
                        )
                    };
                    out.push(Problem {
                        what,
                        change: format!("probe {want} in {field}"),
                        ops: vec![json!({"op": "replace", "path": format!("{base}/{field}/httpGet/path"), "value": want})],
                    });
                }
            }
            let timeout = p.timeout_seconds.unwrap_or(1);
            let single = server.workers.as_ref().is_some_and(|(n, _)| *n == 1);
            if single && timeout <= self.short_timeout_seconds {
                out.push(Problem {
                    what: format!(
                        "its {field} allows {timeout}s ({}) while one worker serves every request, so a probe waiting behind a slow prediction fails",
                        if p.timeout_seconds.is_some() { "timeoutSeconds" } else { "the default timeoutSeconds" }
                    ),
                    change: format!("give {field} timeoutSeconds {}", self.timeout_seconds),
                    ops: vec![json!({"op": "add", "path": format!("{base}/{field}/timeoutSeconds"), "value": self.timeout_seconds})],
                });
            }
        }
        if c.startup_probe.is_none() && c.liveness_probe.is_some() && kills.liveness_kills > 0 {
            let path = server.profile.readiness_paths[0].clone();
            let period = 10;
            let threshold = (self.startup_seconds + period - 1) / period;
            out.push(Problem {
                what: "it has no startupProbe, so the livenessProbe runs while the model loads"
                    .to_string(),
                change: format!(
                    "add a startupProbe on {path} port {} allowing {}s to load (periodSeconds {period} × failureThreshold {threshold})",
                    server.port, self.startup_seconds
                ),
                ops: vec![json!({"op": "add", "path": format!("{base}/startupProbe"), "value": {
                    "httpGet": {"path": path, "port": server.port},
                    "periodSeconds": period,
                    "failureThreshold": threshold,
                    "timeoutSeconds": self.timeout_seconds,
                }})],
            });
        }
        out
    }

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
            fix = fix.with_kubectl(format!(
                "kubectl patch {}{} --type=json -p '{}'",
                subject.kubectl_name(),
                subject.kubectl_ns(),
                serde_json::to_string(&ops).expect("JSON values serialise")
            ));
            // Only a complete repair the workload's own spec keeps is applied:
            // a partial one leaves the probes failing, and an operator undoes it.
            if !manual {
                fix = fix.with_operation(patch_probes(w, c, &ops));
            }
        }
        draft.fix(fix)
    }
}

/// The probe repair as an operation, guarded by the container's name and by
/// the current value of every field it changes (for an append, the list).
/// Unsafe: changing the pod template rolls every pod of the workload.
fn patch_probes(w: &Workload<'_>, c: &Container, ops: &[&Value]) -> Operation {
    let base = container_pointer(w, c);
    let current = serde_json::to_value(c).expect("containers serialise");
    let mut op = Operation::patch(&w.object_ref(), w.meta, Applicability::Unsafe)
        .test(&format!("{base}/name"), json!(c.name));
    let mut tested: Vec<String> = Vec::new();
    for o in ops {
        let path = o["path"].as_str().unwrap_or_default();
        let guarded = path.strip_suffix("/-").unwrap_or(path);
        let Some(inner) = guarded.strip_prefix(&base) else {
            continue;
        };
        if let Some(value) = current.pointer(inner)
            && !tested.iter().any(|t| t == guarded)
        {
            op = op.test(guarded, value.clone());
            tested.push(guarded.to_string());
        }
    }
    for o in ops {
        let path = o["path"].as_str().unwrap_or_default();
        op = match o["op"].as_str() {
            Some("replace") => op.replace(path, o["value"].clone()),
            _ => op.add(path, o["value"].clone()),
        };
    }
    op
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `/spec/template/spec/containers/0`
fn container_pointer(w: &Workload<'_>, c: &Container) -> String {
    let (list, i) = w.container_index(&c.name).unwrap_or(("containers", 0));
    format!("{}/{list}/{i}", w.spec_pointer())
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

/// Rebinding a loopback server to all interfaces: change the flag or env that
/// set the host, or add the host flag.
fn loopback_problem(w: &Workload<'_>, c: &Container, server: &Server<'_>) -> Problem {
    let base = container_pointer(w, c);
    let what = format!(
        "listens on {}:{} ({}), so probes to the pod IP are refused",
        server.host,
        server.port,
        server.host_source.describe()
    );
    let manual = |how: String| Problem {
        what: what.clone(),
        change: how,
        ops: Vec::new(),
    };
    let Some(host_flag) = server.profile.host_flags.first() else {
        return manual(format!(
            "configure {} to listen on 0.0.0.0",
            server.profile.title
        ));
    };
    let shell = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .any(|s| s.contains(char::is_whitespace));
    match &server.host_source {
        Source::Env(var) => {
            let i = c
                .env
                .iter()
                .flatten()
                .position(|e| &e.name == var)
                .unwrap_or(0);
            Problem {
                what,
                change: format!("set {var}=0.0.0.0"),
                ops: vec![
                    json!({"op": "replace", "path": format!("{base}/env/{i}/value"), "value": "0.0.0.0"}),
                ],
            }
        }
        Source::Flag(flag) if !shell => {
            // Find the word in command or args and replace it in place.
            for (list, items) in [("command", &c.command), ("args", &c.args)] {
                let items = items.as_deref().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    let bind = server.profile.bind_flags.contains(flag);
                    let new_value = |old: &str| {
                        if bind {
                            old.rsplit_once(':').map_or_else(
                                || "0.0.0.0".to_string(),
                                |(_, p)| format!("0.0.0.0:{p}"),
                            )
                        } else {
                            "0.0.0.0".to_string()
                        }
                    };
                    if item == flag
                        && let Some(old) = items.get(i + 1)
                    {
                        return Problem {
                            what,
                            change: format!("bind 0.0.0.0 ({flag} {})", new_value(old)),
                            ops: vec![
                                json!({"op": "replace", "path": format!("{base}/{list}/{}", i + 1), "value": new_value(old)}),
                            ],
                        };
                    }
                    if let Some(old) = item.strip_prefix(&format!("{flag}=")) {
                        let value = format!("{flag}={}", new_value(old));
                        return Problem {
                            what,
                            change: format!("bind 0.0.0.0 ({value})"),
                            ops: vec![
                                json!({"op": "replace", "path": format!("{base}/{list}/{i}"), "value": value}),
                            ],
                        };
                    }
                }
            }
            manual(format!("pass {host_flag} 0.0.0.0 to the server"))
        }
        Source::Default if !shell && (c.args.is_some() || c.command.is_some()) => {
            let list = if c.args.is_some() { "args" } else { "command" };
            Problem {
                what,
                change: format!("add {host_flag} 0.0.0.0 to its {list}"),
                ops: vec![
                    json!({"op": "add", "path": format!("{base}/{list}/-"), "value": host_flag}),
                    json!({"op": "add", "path": format!("{base}/{list}/-"), "value": "0.0.0.0"}),
                ],
            }
        }
        _ => manual(format!(
            "pass {host_flag} 0.0.0.0 to the server in its start script"
        )),
    }
}

/// Liveness kills and restarts of one container across the workload's pods.
fn kills(view: &ClusterView, w: &Workload<'_>, container: &str) -> Kills {
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

#[cfg(test)]
mod fix_tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::analyzers::serving::servers::{self, DEFAULT_PROFILES};
    use crate::cluster::ClusterView;

    fn container(spec: serde_json::Value) -> Container {
        serde_json::from_value(spec).expect("container")
    }

    /// The loopback fix for a container, as (change, patch operations).
    fn loopback_fix(c: Container) -> (String, Vec<Value>) {
        let spec = PodSpec {
            containers: vec![c.clone()],
            ..Default::default()
        };
        let meta = ObjectMeta {
            name: Some("model".into()),
            namespace: Some("ml".into()),
            ..Default::default()
        };
        let w = Workload {
            kind: Kind::Deployment,
            meta: &meta,
            spec: &spec,
            template_meta: None,
            selector: None,
            spec_path: "spec.template.spec",
        };
        let profiles: Vec<&ServerProfile> = DEFAULT_PROFILES.iter().collect();
        let view = ClusterView::default();
        let server = servers::recognise(&view, &w, &c, &profiles).expect("recognised");
        assert!(server.loopback(), "{server:?}");
        let p = loopback_problem(&w, &c, &server);
        (p.change, p.ops)
    }

    #[test]
    fn explicit_host_flag_is_replaced_in_place() {
        let (change, ops) = loopback_fix(container(serde_json::json!({
            "name": "model",
            "command": ["mlflow", "models", "serve"],
            "args": ["-m", "models:/m/1", "--host", "127.0.0.1", "-p", "5001"],
        })));
        assert_eq!(change, "bind 0.0.0.0 (--host 0.0.0.0)");
        assert_eq!(
            ops,
            vec![
                serde_json::json!({"op": "replace", "path": "/spec/template/spec/containers/0/args/3", "value": "0.0.0.0"})
            ]
        );
    }

    #[test]
    fn gunicorn_bind_keeps_its_port() {
        let (_, ops) = loopback_fix(container(serde_json::json!({
            "name": "model",
            "command": ["gunicorn", "-b", "127.0.0.1:5001", "-w", "1", "--", "mlflow.pyfunc.scoring_server.wsgi:app"],
        })));
        assert_eq!(
            ops,
            vec![
                serde_json::json!({"op": "replace", "path": "/spec/template/spec/containers/0/command/2", "value": "0.0.0.0:5001"})
            ]
        );
    }

    #[test]
    fn host_from_env_is_changed_there() {
        let (change, ops) = loopback_fix(container(serde_json::json!({
            "name": "model",
            "command": ["mlflow", "models", "serve", "-m", "models:/m/1"],
            "env": [{"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow:5000"}, {"name": "MLFLOW_HOST", "value": "127.0.0.1"}],
        })));
        assert_eq!(change, "set MLFLOW_HOST=0.0.0.0");
        assert_eq!(
            ops[0]["path"],
            "/spec/template/spec/containers/0/env/1/value"
        );
    }

    #[test]
    fn a_start_script_is_left_to_a_person() {
        let (change, ops) = loopback_fix(container(serde_json::json!({
            "name": "model",
            "command": ["sh", "-c", "pip install -r req.txt && mlflow models serve -m models:/m/1 -p 5001"],
        })));
        assert!(ops.is_empty(), "{ops:?}");
        assert!(change.contains("start script"), "{change}");
    }
}

#[cfg(test)]
mod path_tests {
    use crate::analyzers::testing::run;
    use crate::snapshot;

    /// A Seldon-style MLServer: readiness on the live route fits; liveness on
    /// the ready route does not.
    #[test]
    fn readiness_may_use_the_live_route_liveness_not_the_ready_one() {
        let dir = tempfile::tempdir().unwrap();
        let deployment = |live: &str, ready: &str| {
            format!(
                r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: mlserver, namespace: seldon-mesh}}
spec:
  selector: {{matchLabels: {{app: mlserver}}}}
  template:
    metadata: {{labels: {{app: mlserver}}}}
    spec:
      containers:
        - name: mlserver
          image: docker.io/seldonio/mlserver:1.6.1
          env: [{{name: MLSERVER_HTTP_PORT, value: "9000"}}]
          ports: [{{containerPort: 9000, name: server-http}}]
          livenessProbe: {{httpGet: {{path: {live}, port: server-http}}, timeoutSeconds: 1}}
          readinessProbe: {{httpGet: {{path: {ready}, port: server-http}}}}
"#
            )
        };
        let file = dir.path().join("d.yaml");
        std::fs::write(&file, deployment("/v2/health/live", "/v2/health/live")).unwrap();
        let view = snapshot::load(&file).unwrap();
        assert_eq!(run("probe-fit", "{}", &view), Vec::new());

        std::fs::write(&file, deployment("/v2/health/ready", "/v2/health/ready")).unwrap();
        let view = snapshot::load(&file).unwrap();
        let drafts = run("probe-fit", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert!(
            drafts[0]
                .message
                .contains("livenessProbe uses the readiness route /v2/health/ready"),
            "{}",
            drafts[0].message
        );
        assert!(
            drafts[0]
                .fix
                .as_ref()
                .and_then(|f| f.kubectl.as_deref())
                .is_some_and(|k| k.contains(r#""path":"/spec/template/spec/containers/0/livenessProbe/httpGet/path","value":"/v2/health/live""#))
        );
    }
}
