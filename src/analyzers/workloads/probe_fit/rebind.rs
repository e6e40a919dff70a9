//! Rewriting a loopback server's command line or env so that it listens on all
//! interfaces: the host flag replaced in place (keeping a bind's port), the
//! host variable changed, or the flag added; a start script is left to a person.

use k8s_openapi::api::core::v1::Container;
use serde_json::json;

use super::patch::container_pointer;
use super::probes::Problem;
use crate::analyzers::serving::servers::{Server, Source};
use crate::cluster::Workload;

/// Rebinding a loopback server to all interfaces: change the flag or env that
/// set the host, or add the host flag.
pub(super) fn loopback_problem(w: &Workload<'_>, c: &Container, server: &Server<'_>) -> Problem {
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
            // Only a literal value is changed in place; one from a ConfigMap
            // is changed where it is defined.
            let literal = c
                .env
                .as_deref()
                .unwrap_or_default()
                .iter()
                .rposition(|e| &e.name == var && e.value.is_some());
            match literal {
                Some(i) => Problem {
                    what,
                    change: format!("set {var}=0.0.0.0"),
                    ops: vec![
                        json!({"op": "replace", "path": format!("{base}/env/{i}/value"), "value": "0.0.0.0"}),
                    ],
                },
                None => manual(format!("set {var}=0.0.0.0 where it is defined")),
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

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use serde_json::Value;

    use super::*;
    use crate::analyzers::serving::servers::{self, DEFAULT_PROFILES, ServerProfile};
    use crate::cluster::{ClusterView, Kind};

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
