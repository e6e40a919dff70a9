//! `seldon-tracing-collector`: tracing is on but the OpenTelemetry collector it
//! exports to does not exist (or has no ready endpoints). Spans are dropped and
//! the components log `seldon-collector: Name or service not known` — noise that
//! looks like a scheduler problem in the dataflow engine's log but is not one.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::analyzers::address::addresses;
use crate::analyzers::seldon::model::{self, TRACING_CONFIGMAP};
use crate::analyzers::seldon::patches;
use crate::analyzers::text::clip;
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-tracing-collector",
    summary: "Seldon tracing exports to an OpenTelemetry collector that does not exist",
    needs: &[Kind::SeldonRuntime, Kind::Service],
    optional: &[
        Kind::SeldonConfig,
        Kind::ConfigMap,
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Pod,
        Kind::Namespace,
    ],
    data: &[Data::Logs],
    build: build::<TracingCollector>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TracingCollector {
    #[serde(default = "default_log_lines")]
    log_lines: usize,
}

fn default_log_lines() -> usize {
    2
}

/// The tracing settings a namespace's components get, and where they come from.
struct Tracing {
    enabled: bool,
    endpoint: Option<String>,
    source: String,
}

fn tracing(view: &ClusterView, ns: &str, runtime: &DynamicObject) -> Tracing {
    if let Some(cm) = view.config_maps.get(ns, TRACING_CONFIGMAP)
        && let Some(data) = cm.data.as_ref()
    {
        let json: Option<Value> = data
            .get("tracing.json")
            .and_then(|t| serde_json::from_str(t).ok());
        let enabled = json
            .as_ref()
            .and_then(|j| j.get("enable"))
            .and_then(Value::as_bool)
            .or_else(|| data.get("OTEL_JAVAAGENT_ENABLED").map(|v| v == "true"))
            .unwrap_or(true);
        let endpoint = data
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .cloned()
            .or_else(|| {
                json.as_ref()?
                    .get("otelExporterEndpoint")?
                    .as_str()
                    .map(str::to_string)
            });
        return Tracing {
            enabled,
            endpoint,
            source: format!("ConfigMap {ns}/{TRACING_CONFIGMAP}"),
        };
    }
    let from = |obj: &DynamicObject| obj.pointer("/spec/config/tracingConfig").cloned();
    let rt = from(runtime).unwrap_or(Value::Null);
    let sc = model::seldon_config(view, runtime)
        .and_then(from)
        .unwrap_or(Value::Null);
    let disabled = rt
        .get("disable")
        .and_then(Value::as_bool)
        .or_else(|| sc.get("disable").and_then(Value::as_bool))
        .unwrap_or(false);
    let endpoint = [&rt, &sc]
        .iter()
        .find_map(|c| {
            c.get("otelExporterEndpoint")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        })
        .map(str::to_string);
    Tracing {
        enabled: !disabled,
        endpoint,
        source: "the SeldonRuntime's and SeldonConfig's tracingConfig".to_string(),
    }
}

impl Analyzer for TracingCollector {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        let mut drafts = Vec::new();
        for runtime in model::runtimes(view)? {
            let ns = runtime.namespace();
            let t = tracing(view, ns, runtime);
            let Some(endpoint) = t.endpoint.filter(|_| t.enabled) else {
                continue;
            };
            let known_ns = |n: &str| view.namespace_exists(n);
            let Some(addr) = addresses(&endpoint, ns, &known_ns)
                .into_iter()
                .next()
                .filter(|a| model::namespace_visible(view, &a.namespace))
            else {
                continue;
            };
            let problem = match view.services.get(&addr.namespace, &addr.service) {
                None => format!(
                    "Service {} does not exist in namespace {}",
                    addr.service, addr.namespace
                ),
                Some(_) if view.ready_endpoints(&addr.namespace, &addr.service) == Some(0) => {
                    format!(
                        "Service {}/{} has no ready endpoints",
                        addr.namespace, addr.service
                    )
                }
                Some(_) => continue,
            };
            let rt = model::object_ref(Kind::SeldonRuntime, runtime);
            let mut draft = Draft::new(
                rt.clone().with_field("spec.config.tracingConfig"),
                format!("tracing exports to {endpoint}, but {problem}: spans are dropped and components log DNS errors for {}", addr.host),
            )
            .evidence(format!("tracing enabled with endpoint {endpoint} ({})", t.source))
            .about(ObjectRef::new(
                "v1",
                "Service",
                Some(&addr.namespace),
                &addr.service,
            ));
            let mut quoted = 0;
            for pod in view.pods.in_namespace(ns) {
                let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
                for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
                    // The shortest matching line says it best (the exception, not the stack).
                    let line = view
                        .logs_of(ns, pod_name, &c.name)
                        .flat_map(str::lines)
                        .filter(|l| {
                            l.contains(&addr.host)
                                && (l.contains("Name or service not known")
                                    || l.contains("no such host"))
                        })
                        .min_by_key(|l| l.len());
                    if let Some(line) = line
                        && quoted < self.log_lines
                    {
                        draft.evidence.push(format!(
                            "{pod_name}/{}: {}",
                            c.name,
                            clip(line.trim(), 300)
                        ));
                        quoted += 1;
                    }
                }
            }
            let disable = json!({"spec": {"config": {"tracingConfig": {"disable": true}}}});
            drafts.push(draft.fix(
                Fix::manual(format!(
                    "Either deploy an OpenTelemetry collector reachable as {endpoint} (Service {} in namespace {}, OTLP gRPC on the port given), or turn tracing off for namespace {ns} in SeldonRuntime {} (the command below). Seldon components read the tracing config when they start: afterwards restart them (`kubectl rollout restart deployment -n {ns}` and `kubectl rollout restart statefulset seldon-scheduler -n {ns}`).{}",
                    addr.service,
                    addr.namespace,
                    rt.name,
                    patches::managed_note(runtime, "The SeldonRuntime")
                ))
                .with_kubectl(patches::patch_command(&rt, "merge", &disable)),
            ));
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn collector_missing() {
        let drafts = run(
            "seldon-tracing-collector",
            "{}",
            &fixture("seldon-mesh-broken"),
        );
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_collector_exists_or_tracing_is_off() {
        assert!(run("seldon-tracing-collector", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(
            run(
                "seldon-tracing-collector",
                "{}",
                &fixture("seldon-misconfig")
            )
            .is_empty()
        );
    }
}
