//! Judging each probe against the server it probes: the loopback bind, the
//! port, the path (liveness must not use a readiness route), the timeout of a
//! single-worker server, a missing startup probe while liveness kills.

use k8s_openapi::api::core::v1::{Container, Probe};
use serde_json::{Value, json};

use super::ProbeFit;
use super::kills::Kills;
use super::patch::container_pointer;
use super::rebind::loopback_problem;
use crate::analyzers::serving::servers::{self, Server};
use crate::cluster::Workload;

/// The three probe fields, in the order the kubelet applies them.
pub(super) const PROBES: [&str; 3] = ["startupProbe", "livenessProbe", "readinessProbe"];

pub(super) fn probe<'c>(c: &'c Container, field: &str) -> Option<&'c Probe> {
    match field {
        "startupProbe" => c.startup_probe.as_ref(),
        "livenessProbe" => c.liveness_probe.as_ref(),
        _ => c.readiness_probe.as_ref(),
    }
}

/// One misfit, with the JSON-patch operations that repair it (none: manual).
pub(super) struct Problem {
    /// What is wrong, as a clause of the finding's message.
    pub what: String,
    /// What the fix does, for its description.
    pub change: String,
    pub ops: Vec<Value>,
}

impl ProbeFit {
    pub(super) fn problems(
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
}

#[cfg(test)]
mod tests {
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
