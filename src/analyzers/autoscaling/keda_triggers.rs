//! `keda-triggers`: KEDA triggers whose address (`serverAddress`, `host`, …) names
//! a Service that does not exist, has no ready endpoints, or is a short name: the
//! KEDA operator makes the connection, so `rabbitmq` resolves in the operator's
//! namespace (`keda`), not in the ScaledObject's. The fix is in `repair`.

mod repair;

use serde::Deserialize;

use crate::analyzers::address::{Address, Form, addresses, masked};
use crate::analyzers::autoscaling::scaling::{self, event_lines, name_of, ns_of, qualified};
use crate::analyzers::autoscaling::triggers::{Trigger, triggers};
use crate::analyzers::conditions::condition;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "keda-triggers",
    summary: "KEDA trigger addresses naming a missing Service, one without endpoints, or a short name KEDA resolves in its own namespace",
    needs: &[Kind::ScaledObject, Kind::Service],
    optional: &[
        Kind::ScaledJob,
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Namespace,
        Kind::Deployment,
        Kind::Event,
    ],
    data: &[],
    build: build::<KedaTriggers>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KedaTriggers {
    /// Trigger metadata keys that hold an address.
    #[serde(default = "default_keys")]
    address_keys: Vec<String>,
    /// Where the KEDA operator runs; found from its Deployment when not given.
    #[serde(default)]
    keda_namespace: Option<String>,
    /// Also report Services that exist but have no ready endpoints.
    #[serde(default = "yes")]
    check_endpoints: bool,
}

fn yes() -> bool {
    true
}

fn default_keys() -> Vec<String> {
    [
        "serverAddress",
        "host",
        "hosts",
        "address",
        "addresses",
        "bootstrapServers",
        "brokers",
        "url",
        "endpoint",
        "endpoints",
        "managementEndpoint",
        "natsServerMonitoringEndpoint",
        "adminURL",
        "serverURL",
        "scalerAddress",
    ]
    .map(String::from)
    .to_vec()
}

impl Analyzer for KedaTriggers {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::ScaledObject).next().is_none()
            && view.custom(Kind::ScaledJob).next().is_none()
        {
            return Err("not applicable: no ScaledObjects or ScaledJobs".into());
        }
        if !view.has(Kind::Service) {
            return Err("not collected: no Services were read".into());
        }
        let keda_ns = self
            .keda_namespace
            .clone()
            .unwrap_or_else(|| scaling::keda_namespace(view));
        let known_ns = |ns: &str| view.namespace_exists(ns);
        let mut drafts = Vec::new();
        for obj in view
            .custom(Kind::ScaledObject)
            .chain(view.custom(Kind::ScaledJob))
        {
            let ns = ns_of(&obj.metadata);
            for t in triggers(obj) {
                for (key, value) in self.candidates(&t) {
                    for addr in addresses(&value, ns, &known_ns) {
                        if let Some(d) = self.judge(view, obj, &t, &key, &value, &addr, &keda_ns) {
                            drafts.push(d);
                        }
                    }
                }
            }
        }
        Ok(drafts)
    }
}

/// What a cause is, and whether the FQDN rewrite alone fixes it.
enum Cause<'a> {
    /// A short name KEDA resolves in its own namespace; the Service is in the object's.
    ShortName {
        ready: Option<usize>,
        /// The Service's ports, when it does not expose the one asked for.
        wrong_port: Option<Vec<i32>>,
    },
    Missing {
        others: Vec<&'a str>,
        elsewhere: Vec<String>,
    },
    NoEndpoints,
    Port {
        ports: Vec<i32>,
    },
}

impl KedaTriggers {
    /// (key, value) pairs that may hold an address; `host` + `port` are joined.
    fn candidates(&self, t: &Trigger<'_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (k, v) in &t.metadata {
            if !self.address_keys.iter().any(|a| a == k) {
                continue;
            }
            let joined = match (*k, t.get("port")) {
                ("host", Some(port)) if !v.contains("://") && !v.contains(':') => {
                    format!("{v}:{port}")
                }
                _ => v.to_string(),
            };
            out.push((k.to_string(), joined));
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn judge(
        &self,
        view: &ClusterView,
        obj: &DynamicObject,
        t: &Trigger<'_>,
        key: &str,
        value: &str,
        addr: &Address,
        keda_ns: &str,
    ) -> Option<Draft> {
        let ns = ns_of(&obj.metadata);
        let short = addr.form == Form::Short;
        let lookup_ns = if short {
            keda_ns
        } else {
            addr.namespace.as_str()
        };
        // A namespace none of whose Services is in the view was not collected (e.g.
        // `-n` left it out): nothing can be said about what lives there.
        let seen = |n: &str| view.can_judge(Kind::Service, n);
        if !short && !seen(lookup_ns) {
            return None;
        }
        let cause = match view.services.get(lookup_ns, &addr.service) {
            None if short && lookup_ns != ns && view.services.get(ns, &addr.service).is_some() => {
                let ports = service_ports(view.services.get(ns, &addr.service));
                Cause::ShortName {
                    ready: view.ready_endpoints(ns, &addr.service),
                    wrong_port: addr
                        .port
                        .filter(|p| !ports.is_empty() && !ports.contains(p))
                        .map(|_| ports),
                }
            }
            None => {
                // Where a person would look for the name: the object's own namespace
                // for a short name, else the namespace the name gives.
                let look_in = if short { ns } else { lookup_ns };
                let others: Vec<&str> = view
                    .services
                    .in_namespace(look_in)
                    .filter_map(|s| s.metadata.name.as_deref())
                    .collect();
                let elsewhere: Vec<String> = view
                    .services
                    .iter()
                    .filter(|s| name_of(&s.metadata) == addr.service)
                    .map(|s| qualified(&s.metadata))
                    .collect();
                Cause::Missing { others, elsewhere }
            }
            Some(svc) => {
                let spec = svc.spec.as_ref();
                if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
                    return None;
                }
                let ports = service_ports(Some(svc));
                let has_selector = spec
                    .and_then(|s| s.selector.as_ref())
                    .is_some_and(|s| !s.is_empty());
                if let Some(port) = addr.port
                    && !ports.is_empty()
                    && !ports.contains(&port)
                {
                    Cause::Port { ports }
                } else if self.check_endpoints
                    && has_selector
                    && view.ready_endpoints(lookup_ns, &addr.service) == Some(0)
                {
                    Cause::NoEndpoints
                } else {
                    return None;
                }
            }
        };
        Some(self.finding(view, obj, t, key, value, addr, keda_ns, lookup_ns, cause))
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        view: &ClusterView,
        obj: &DynamicObject,
        t: &Trigger<'_>,
        key: &str,
        value: &str,
        addr: &Address,
        keda_ns: &str,
        lookup_ns: &str,
        cause: Cause<'_>,
    ) -> Draft {
        let ns = ns_of(&obj.metadata);
        let subject = scaling::custom_ref(obj).with_field(t.field(key));
        let what = format!("{} of {} {}", t.label(), obj.kind, qualified(&obj.metadata));
        let svc = &addr.service;
        let fqdn = format!("{svc}.{ns}.svc.cluster.local");
        let message = match &cause {
            Cause::ShortName { .. } => format!(
                "{what} points at {}, a short name: the KEDA operator connects from namespace {keda_ns}, where it resolves to {svc}.{keda_ns}.svc.cluster.local, which does not exist; the Service is {ns}/{svc}",
                addr.host
            ),
            Cause::Missing { .. } if addr.form == Form::Short && lookup_ns != ns => format!(
                "{what} points at {}, a short name the KEDA operator resolves in its own namespace {keda_ns}; no Service {svc} exists there, nor in the {}'s namespace {ns}",
                addr.host, obj.kind
            ),
            Cause::Missing { .. } => format!(
                "{what} points at {}, but Service {svc} does not exist in namespace {lookup_ns}",
                addr.host
            ),
            Cause::NoEndpoints => {
                format!("{what} points at Service {lookup_ns}/{svc}, which has no ready endpoints")
            }
            Cause::Port { ports } => format!(
                "{what} uses port {}, but Service {lookup_ns}/{svc} exposes {}",
                addr.port.unwrap_or_default(),
                ports
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut draft = Draft::new(subject, message).evidence(format!(
            "metadata.{key}: {}",
            masked(t.get(key).unwrap_or(value))
        ));
        match &cause {
            Cause::ShortName { ready, wrong_port } => {
                if let Some(ports) = wrong_port {
                    draft.evidence.push(format!(
                        "Service {ns}/{svc} exposes port {}, not {}",
                        ports
                            .iter()
                            .map(i32::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        addr.port.unwrap_or_default()
                    ));
                }
                draft.evidence.push(format!(
                    "KEDA operator runs in namespace {keda_ns}; no Service {svc} there"
                ));
                if !view.can_judge(Kind::Service, keda_ns) {
                    draft.evidence.push(format!(
                        "(no Services of namespace {keda_ns} were collected: this assumes none is named {svc})"
                    ));
                }
                draft.evidence.push(match ready {
                    Some(n) => format!(
                        "Service {ns}/{svc} exists with {n} ready endpoint{}",
                        if *n == 1 { "" } else { "s" }
                    ),
                    None => format!("Service {ns}/{svc} exists"),
                });
            }
            Cause::Missing { others, elsewhere } => {
                let look_in = if lookup_ns == keda_ns && lookup_ns != ns {
                    ns
                } else {
                    lookup_ns
                };
                draft.evidence.push(if others.is_empty() {
                    format!("namespace {look_in} has no Services")
                } else {
                    format!("Services in namespace {look_in}: {}", others.join(", "))
                });
                if !elsewhere.is_empty() {
                    draft.evidence.push(format!(
                        "a Service named {svc} exists as {}",
                        elsewhere.join(", ")
                    ));
                }
            }
            Cause::NoEndpoints | Cause::Port { .. } => {}
        }
        draft.evidence.extend(runtime_evidence(view, obj, t));
        let fix = self.fix(obj, t, key, addr, &cause, &fqdn, lookup_ns);
        draft.fix(fix)
    }
}

/// A Service's ports.
fn service_ports(svc: Option<&k8s_openapi::api::core::v1::Service>) -> Vec<i32> {
    svc.and_then(|s| s.spec.as_ref())
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .map(|p| p.port)
        .collect()
}

/// What KEDA itself reported: the Ready condition, failing health, scaler events.
fn runtime_evidence(view: &ClusterView, obj: &DynamicObject, t: &Trigger<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = condition(obj, &["Ready"]).filter(|c| !c.is("True")) {
        out.push(format!("{}: {}", obj.kind, c.line()));
    }
    if let Some(c) = condition(obj, &["Fallback"]).filter(|c| c.is("True")) {
        out.push(format!(
            "{}: {} (serving the fallback replica count)",
            obj.kind,
            c.line()
        ));
    }
    if let Some(health) = obj.pointer("/status/health").and_then(|h| h.as_object()) {
        let prefix = format!("s{}-", t.index);
        for (metric, h) in health {
            if metric.starts_with(&prefix)
                && h.get("status").and_then(|s| s.as_str()) == Some("Failing")
            {
                out.push(format!(
                    "status.health.{metric}: Failing, {} consecutive failures",
                    h.get("numberOfFailures")
                        .and_then(|n| n.as_i64())
                        .unwrap_or_default()
                ));
            }
        }
    }
    let kind = if obj.kind == "ScaledJob" {
        Kind::ScaledJob
    } else {
        Kind::ScaledObject
    };
    let events = event_lines(
        view,
        kind,
        ns_of(&obj.metadata),
        name_of(&obj.metadata),
        &["KEDAScalerFailed"],
    );
    out.extend(events.into_iter().rev().take(2).map(|l| masked_event(&l)));
    out
}

/// Event text with any URL password masked.
fn masked_event(line: &str) -> String {
    line.split(' ').map(masked).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};
    use crate::analyzers::testing::{fixture, run};
    use crate::report::findings::Applicability;

    #[test]
    fn field_report_triggers() {
        let found = drafts("keda-triggers", "keda-autoscaling");
        assert_eq!(found.len(), 2);
        // The RabbitMQ host carries a password: the rewrite is not applied blindly.
        assert_eq!(
            found[0].fix.as_ref().unwrap().applicability,
            Applicability::Manual
        );
        let text = format!("{:?}", found);
        assert!(!text.contains("Xk9-rabbit-2024"), "secret printed");
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn short_name_with_a_serving_service_is_a_safe_fix() {
        let found = drafts("keda-triggers", "keda-problems");
        assert_eq!(found.len(), 1);
        let fix = found[0].fix.as_ref().unwrap();
        assert_eq!(fix.applicability, Applicability::Safe);
        assert!(
            fix.kubectl
                .as_deref()
                .unwrap()
                .contains("prometheus-server.inference.svc.cluster.local:9090")
        );
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn short_names_resolve_where_keda_runs() {
        // Were KEDA running in the ScaledObjects' namespace, the short name would resolve.
        let found = run(
            "keda-triggers",
            "kedaNamespace: inference",
            &fixture("keda-problems"),
        );
        assert!(found.is_empty(), "{:#?}", summary(&found));
    }

    #[test]
    fn quiet_with_full_names() {
        silent_on("keda-triggers", &["healthy-autoscaling"]);
    }

    /// A full name in another namespace is not a short name: it names that
    /// namespace, and the message and fix say so.
    #[test]
    fn a_full_name_elsewhere_is_worded_as_a_full_name() {
        let dir = tempfile::tempdir().unwrap();
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/keda-problems");
        for entry in std::fs::read_dir(&from).unwrap().flatten() {
            if entry.path().is_file() {
                let text = std::fs::read_to_string(entry.path()).unwrap().replace(
                    "host: postgres.data.svc.cluster.local",
                    "host: postgres.keda.svc.cluster.local",
                );
                std::fs::write(dir.path().join(entry.file_name()), text).unwrap();
            }
        }
        let view = crate::snapshot::load(dir.path()).unwrap();
        let found = run("keda-triggers", "{}", &view);
        let postgres: Vec<&crate::analyzers::Draft> = found
            .iter()
            .filter(|d| d.message.contains("postgres.keda.svc.cluster.local"))
            .collect();
        assert_eq!(postgres.len(), 1, "{:#?}", summary(&found));
        let d = postgres[0];
        assert!(!d.message.contains("short name"), "{}", d.message);
        assert!(
            d.message
                .contains("but Service postgres does not exist in namespace keda"),
            "{}",
            d.message
        );
        let fix = d.fix.as_ref().unwrap();
        assert!(
            !fix.description.contains("short names"),
            "{}",
            fix.description
        );
    }
}
