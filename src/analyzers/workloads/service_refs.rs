//! `service-refs`: env values that name an in-cluster address (`http://mlflow:5000`,
//! `minio:9000`, `kafka.ns.svc:9092`) whose Service does not exist in that
//! namespace, lacks the port, or has no ready endpoints.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::Service;
use regex::Regex;
use serde::Deserialize;

use crate::analyzers::target::Target;
use crate::analyzers::workloads::env::literal_env;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind, Workload};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "service-refs",
    summary: "env values naming an in-cluster Service that is missing, lacks the port, or has no ready endpoints",
    needs: &[
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::Service,
    ],
    optional: &[
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Namespace,
        Kind::ReplicaSet,
    ],
    data: &[],
    build: build::<ServiceRefs>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceRefs {
    #[serde(default)]
    target: Target,
    /// Host names never judged (e.g. ones resolved by a sidecar or hostAliases).
    #[serde(default)]
    ignore_hosts: Vec<String>,
    /// Also report Services that exist but have no ready endpoints.
    #[serde(default = "yes")]
    check_endpoints: bool,
}

fn yes() -> bool {
    true
}

/// An address found in an env value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub service: String,
    pub namespace: String,
    pub port: Option<i32>,
}

/// `[scheme://][user[:pass]@]host[:port][/path]`
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://)?(?:[^@/\s]*@)?(?P<host>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)(?::(?P<port>\d{1,5}))?(?:[/?#].*)?$")
        .expect("valid regex")
});

/// In-cluster Service addresses in one env value; `namespace` is the workload's,
/// `known_ns` tells whether `a.b` means Service a in namespace b.
pub fn addresses(value: &str, namespace: &str, known_ns: &dyn Fn(&str) -> bool) -> Vec<Address> {
    let mut out = Vec::new();
    for token in value
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let Some(caps) = ADDRESS.captures(token) else {
            continue;
        };
        let host = &caps["host"];
        let port = caps
            .name("port")
            .and_then(|p| p.as_str().parse::<i32>().ok());
        if caps.name("scheme").is_none() && port.is_none() {
            continue; // a bare word is not an address
        }
        if host == "localhost" || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let (service, ns) = if let Some(svc_at) = labels.iter().position(|l| *l == "svc") {
            // name.ns.svc[.cluster.local], or pod.name.ns.svc… for headless Services
            if svc_at < 2 {
                continue;
            }
            (labels[svc_at - 2], labels[svc_at - 1])
        } else {
            match labels.as_slice() {
                [one] => (*one, namespace),
                [name, ns] if known_ns(ns) => (*name, *ns),
                _ => continue, // an outside name such as api.example.com
            }
        };
        out.push(Address {
            host: host.to_string(),
            service: service.to_string(),
            namespace: ns.to_string(),
            port,
        });
    }
    out
}

impl Analyzer for ServiceRefs {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::Service) {
            return Err("not collected: no Services were read".into());
        }
        let known_ns = |ns: &str| view.namespace_exists(ns);
        let mut drafts = Vec::new();
        for w in self.target.workloads(view) {
            for c in self.target.containers(&w) {
                for (name, value) in literal_env(c) {
                    for addr in addresses(value, w.namespace(), &known_ns) {
                        if self
                            .ignore_hosts
                            .iter()
                            .any(|h| *h == addr.host || *h == addr.service)
                        {
                            continue;
                        }
                        if let Some(draft) = self.judge(view, &w, &c.name, name, value, &addr) {
                            drafts.push(draft);
                        }
                    }
                }
            }
        }
        Ok(drafts)
    }
}

impl ServiceRefs {
    fn judge(
        &self,
        view: &ClusterView,
        w: &Workload<'_>,
        container: &str,
        var: &str,
        value: &str,
        addr: &Address,
    ) -> Option<Draft> {
        let c = w
            .containers()
            .find(|c| c.name == container)
            .expect("container of this workload");
        let subject = w.container_ref(c, "env");
        let used = format!("env {var}={value} in container {container}");
        let ns = &addr.namespace;
        if !view.can_judge(Kind::Service, ns) {
            return None;
        }
        let Some(svc) = view.services.get(ns, &addr.service) else {
            let mut draft = Draft::new(
                subject,
                format!(
                    "{var} points at {}, but Service {} does not exist in namespace {ns}",
                    addr.host, addr.service
                ),
            )
            .evidence(used);
            let mut others: Vec<&str> = view
                .services
                .in_namespace(ns)
                .filter_map(|s| s.metadata.name.as_deref())
                .collect();
            others.sort_unstable();
            draft.evidence.push(if others.is_empty() {
                format!("namespace {ns} has no Services")
            } else {
                format!("Services in namespace {ns}: {}", others.join(", "))
            });
            let guess = closest(&addr.service, &others);
            return Some(draft.fix(fix_for(w, container, var, value, addr, guess)));
        };
        let spec = svc.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            return None;
        }
        if let Some(port) = addr.port {
            let ports: Vec<i32> = spec
                .iter()
                .flat_map(|s| s.ports.iter().flatten())
                .map(|p| p.port)
                .collect();
            if !ports.is_empty() && !ports.contains(&port) {
                let list: Vec<String> = ports.iter().map(i32::to_string).collect();
                return Some(
                    Draft::new(
                        subject,
                        format!("{var} uses port {port}, but Service {ns}/{} exposes {}", addr.service, list.join(", ")),
                    )
                    .evidence(used)
                    .fix(Fix::manual(format!(
                        "Use one of the Service's ports ({}) in {var}, or add port {port} to Service {}.",
                        list.join(", "),
                        addr.service
                    ))),
                );
            }
        }
        if self.check_endpoints
            && has_selector(svc)
            && let Some(0) = view.ready_endpoints(ns, &addr.service)
        {
            let backing: Vec<String> = spec
                .and_then(|s| s.selector.as_ref())
                .map(|sel| {
                    view.pods_selected(ns, sel)
                        .map(crate::cluster::pod_label)
                        .collect()
                })
                .unwrap_or_default();
            let mut draft = Draft::new(
                subject,
                format!(
                    "{var} points at Service {ns}/{}, which has no ready endpoints",
                    addr.service
                ),
            )
            .evidence(used);
            draft.evidence.push(if backing.is_empty() {
                "no pod matches the Service's selector".to_string()
            } else {
                format!("pods behind it: {}", backing.join(", "))
            });
            return Some(draft.fix(Fix::manual(format!(
                "Make the pods behind Service {} ready (see their findings), or fix its selector.",
                addr.service
            ))));
        }
        None
    }
}

fn has_selector(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|s| !s.is_empty())
}

/// The Service name most like the one asked for, if any is close.
fn closest<'a>(wanted: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|n| (strsim::jaro_winkler(wanted, n), *n))
        .filter(|(score, n)| *score >= 0.85 || wanted.starts_with(*n) || n.starts_with(wanted))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, n)| n)
}

fn fix_for(
    w: &Workload<'_>,
    container: &str,
    var: &str,
    value: &str,
    addr: &Address,
    guess: Option<&str>,
) -> Fix {
    let subject = w.object_ref();
    match guess {
        Some(g) => {
            let new_value = value.replacen(&addr.service, g, 1);
            Fix::manual(format!(
                "Point {var} at an existing Service (Service {g} looks like the one meant: {var}={new_value}), or create Service {} in namespace {}.",
                addr.service, addr.namespace
            ))
            .with_kubectl(format!(
                "kubectl set env {}{} -c {container} {var}={new_value}",
                subject.kubectl_name(),
                subject.kubectl_ns()
            ))
        }
        None => Fix::manual(format!(
            "Create Service {} in namespace {} (or deploy what should serve it), or point {var} at the right address.",
            addr.service, addr.namespace
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Vec<(String, String, Option<i32>)> {
        addresses(value, "ml", &|ns| ns == "kafka")
            .into_iter()
            .map(|a| (a.service, a.namespace, a.port))
            .collect()
    }

    #[test]
    fn finds_in_cluster_addresses() {
        assert_eq!(
            parse("http://mlflow:5000"),
            vec![("mlflow".into(), "ml".into(), Some(5000))]
        );
        assert_eq!(
            parse("minio:9000"),
            vec![("minio".into(), "ml".into(), Some(9000))]
        );
        assert_eq!(
            parse("kafka.kafka.svc:9092"),
            vec![("kafka".into(), "kafka".into(), Some(9092))]
        );
        assert_eq!(
            parse("broker.kafka:9092"),
            vec![("broker".into(), "kafka".into(), Some(9092))]
        );
        assert_eq!(
            parse("kafka-0.kafka-headless.kafka.svc.cluster.local:9092"),
            vec![("kafka-headless".into(), "kafka".into(), Some(9092))]
        );
        assert_eq!(parse("a:1,b:2").len(), 2);
        assert_eq!(
            parse("http://user:pw@minio:9000/bucket"),
            vec![("minio".into(), "ml".into(), Some(9000))]
        );
    }

    #[test]
    fn ignores_what_is_not_an_in_cluster_address() {
        for v in [
            "LSTM",
            "GRU,LSTM,PROPHET",
            "https://api.example.com",
            "127.0.0.1:8080",
            "localhost:5000",
            "s3://bucket.other:1",
            "0.5",
            "true",
        ] {
            assert!(parse(v).is_empty(), "{v}");
        }
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            closest("mlflow-server", &["mlflow", "minio"]),
            Some("mlflow")
        );
        assert_eq!(closest("redis", &["mlflow", "minio"]), None);
    }
}

#[cfg(test)]
mod fixture_tests {
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn tracking_uri_naming_a_missing_service() {
        let drafts = run("service-refs", "{}", &fixture("training-pipeline"));
        insta::assert_yaml_snapshot!(drafts);
    }

    #[test]
    fn quiet_when_every_address_resolves() {
        assert!(run("service-refs", "{}", &fixture("healthy")).is_empty());
    }

    #[test]
    fn ignored_hosts_are_not_judged() {
        let drafts = run(
            "service-refs",
            "{ignoreHosts: [mlflow-server]}",
            &fixture("training-pipeline"),
        );
        assert!(drafts.is_empty());
    }
}
