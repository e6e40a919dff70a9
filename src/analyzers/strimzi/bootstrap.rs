//! `strimzi-bootstrap`: a workload, or Seldon's `seldon-kafka` ConfigMap,
//! connects to a Strimzi Kafka's bootstrap Service on a port that is none of
//! the Kafka's listeners (`status.listeners[].bootstrapServers`), such as the
//! brokers' own replication port 9091; or a workload reaches a listener with
//! a `security.protocol` other than the one the listener expects (plain
//! text to a TLS listener, no SASL where SCRAM is required).

use serde::Deserialize;

use crate::analyzers::address::addresses;
use crate::analyzers::seldon::model::{self as seldon, KAFKA_CONFIGMAP};
use crate::analyzers::strimzi::model::{self, Listener};
use crate::analyzers::strimzi::security::{self, ListenerSecurity};
use crate::analyzers::workloads::env::literal_env_expanded;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "strimzi-bootstrap",
    summary: "workloads or Seldon connect to a Strimzi Kafka's bootstrap Service on a port that is no listener",
    needs: &[Kind::StrimziKafka],
    optional: &[
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::Pod,
        Kind::ConfigMap,
        Kind::Service,
        Kind::Namespace,
    ],
    data: &[],
    build: build::<Bootstrap>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Bootstrap {}

/// What a client names, judged against the Kafka whose bootstrap Service it is.
struct Wrong<'a> {
    kafka: &'a DynamicObject,
    address: String,
    problem: Problem,
}

enum Problem {
    /// The port is none of the listeners.
    Port { listeners: Vec<Listener>, port: i32 },
    /// The listener expects another `security.protocol` than the client's
    /// variable `var` says.
    Security {
        listener: Listener,
        expects: ListenerSecurity,
        var: String,
        says: String,
    },
}

/// The addresses of `value` (resolved from `namespace`) that name a Kafka's
/// `<cluster>-kafka-bootstrap` Service on a port no listener of it has, or
/// on a listener that expects another protocol than `protocol` (the
/// client's variable and value, when it sets one).
fn wrong<'a>(
    view: &'a ClusterView,
    value: &str,
    namespace: &str,
    protocol: Option<&(&str, String)>,
) -> Vec<Wrong<'a>> {
    let known_ns = |n: &str| view.namespace_exists(n);
    let mut out = Vec::new();
    for a in addresses(value, namespace, &known_ns) {
        let Some(cluster) = a.service.strip_suffix("-kafka-bootstrap") else {
            continue;
        };
        let (Some(kafka), Some(port)) = (
            view.custom_get(Kind::StrimziKafka, &a.namespace, cluster),
            a.port,
        ) else {
            continue;
        };
        let listeners = model::listeners(kafka);
        if listeners.is_empty() {
            continue; // no status yet: the listeners are unknown
        }
        let token = format!("{}:{port}", a.host);
        let problem = match model::listener_for(view, kafka, &token, namespace) {
            None => Problem::Port { listeners, port },
            Some(listener) => {
                let (Some((var, says)), Some(expects)) =
                    (protocol, security::listener_security(kafka, &listener.name))
                else {
                    continue;
                };
                if expects.protocol() == says {
                    continue;
                }
                Problem::Security {
                    listener,
                    expects,
                    var: var.to_string(),
                    says: says.clone(),
                }
            }
        };
        out.push(Wrong {
            kafka,
            address: token,
            problem,
        });
    }
    out
}

/// The Service port's name, when the bootstrap Service is in the view.
fn port_name(view: &ClusterView, kafka: &DynamicObject, port: i32) -> Option<String> {
    let svc = view.services.get(
        kafka.namespace(),
        &format!("{}-kafka-bootstrap", kafka.name()),
    )?;
    svc.spec
        .as_ref()?
        .ports
        .iter()
        .flatten()
        .find(|p| p.port == port)
        .and_then(|p| p.name.clone())
}

fn draft(
    view: &ClusterView,
    subject: ObjectRef,
    who: &str,
    setting: &str,
    w: &Wrong<'_>,
    fix: impl Fn(&str) -> Fix,
) -> Draft {
    let ns = w.kafka.namespace();
    let name = w.kafka.name();
    let listeners = model::listeners(w.kafka);
    let shown = format!(
        "listeners of Kafka {ns}/{name}: {}",
        listeners
            .iter()
            .map(|l| format!("{} {}", l.name, l.bootstrap))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match &w.problem {
        Problem::Port { listeners, port } => {
            let what = match port_name(view, w.kafka, *port).as_deref() {
                Some("tcp-replication") => format!(
                    "port {port} of Service {name}-kafka-bootstrap is tcp-replication, the brokers' own mutual-TLS port, not a client listener"
                ),
                Some(p) => format!("port {port} ({p}) is no listener of Kafka {ns}/{name}"),
                None => format!("port {port} is no listener of Kafka {ns}/{name}"),
            };
            let mut d = Draft::new(
                subject,
                format!(
                    "{who} connects to Kafka {ns}/{name} at {}, but {what}: clients there cannot connect",
                    w.address
                ),
            )
            .evidence(setting.to_string())
            .evidence(shown);
            d.fix = Some(fix(&listeners[0].bootstrap));
            d
        }
        Problem::Security {
            listener,
            expects,
            var,
            says,
        } => {
            let wanted = expects.protocol();
            let mut d = Draft::new(
                subject,
                format!(
                    "{who} connects to listener {} of Kafka {ns}/{name} ({}) with {var}={says}, but that listener expects {wanted}: the broker drops the connection",
                    listener.name,
                    expects.describe()
                ),
            )
            .evidence(setting.to_string())
            .evidence(shown);
            let mut needs = Vec::new();
            if expects.tls {
                needs.push(format!(
                    "the cluster CA certificate (ca.crt of Secret {name}-cluster-ca-cert in {ns}) as the trust store"
                ));
            }
            match expects.authentication.as_deref() {
                Some("tls") => needs.push(
                    "a client certificate of a KafkaUser with authentication type tls".to_string(),
                ),
                Some("scram-sha-512") => needs.push(
                    "the SCRAM-SHA-512 user name and password of a KafkaUser (its Secret)"
                        .to_string(),
                ),
                Some(other) => needs.push(format!("credentials for {other} authentication")),
                None => {}
            }
            // A listener that matches what the client speaks, if the Kafka has one.
            let other = listeners.iter().find(|l| {
                security::listener_security(w.kafka, &l.name).is_some_and(|s| s.protocol() == says)
            });
            let mut text = format!("Set {var}={wanted}");
            if !needs.is_empty() {
                text.push_str(&format!(" and give the client {}", needs.join(" and ")));
            }
            match other {
                Some(l) => text.push_str(&format!(
                    ", or connect to listener {} ({}), which takes {says}.",
                    l.name, l.bootstrap
                )),
                None => text.push('.'),
            }
            d.fix = Some(Fix::manual(text));
            d
        }
    }
}

impl Analyzer for Bootstrap {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::StrimziKafka).next().is_none() {
            return Err("not applicable: no Strimzi Kafka clusters".into());
        }
        let mut drafts = Vec::new();
        for wl in view.workloads() {
            let ns = wl.namespace();
            for c in wl.containers() {
                let env = literal_env_expanded(view, ns, c);
                let protocol = security::client_protocol(&env);
                for (var, value) in &env {
                    for w in wrong(view, value, ns, protocol.as_ref()) {
                        let subject = wl.container_ref(c, "env");
                        let target = wl.object_ref();
                        drafts.push(draft(
                            view,
                            subject,
                            &format!("{target} (container {}, {var})", c.name),
                            &format!("container {}: {var}={value}", c.name),
                            &w,
                            |good| {
                                Fix::manual(format!(
                                    "Point {var} at a listener of the Kafka, the one with the security this client speaks (e.g. {good}). Restarts the pods."
                                ))
                                .with_kubectl(format!(
                                    "kubectl set env {}/{} -n {ns} -c {} {var}={good}",
                                    target.kind.to_lowercase(),
                                    target.name,
                                    c.name
                                ))
                            },
                        ));
                    }
                }
            }
        }
        for cm in view.config_maps.iter() {
            if cm.metadata.name.as_deref() != Some(KAFKA_CONFIGMAP) {
                continue;
            }
            let ns = cm.metadata.namespace.as_deref().unwrap_or_default();
            let Some(value) = seldon::kafka_json(view, ns)
                .and_then(|j| j.get("bootstrap.servers")?.as_str().map(str::to_string))
            else {
                continue;
            };
            for w in wrong(view, &value, ns, None) {
                let subject = ObjectRef::of(Kind::ConfigMap, &cm.metadata);
                drafts.push(draft(
                    view,
                    subject,
                    &format!("Seldon in {ns} (ConfigMap {KAFKA_CONFIGMAP})"),
                    &format!("ConfigMap {ns}/{KAFKA_CONFIGMAP} kafka.json bootstrap.servers={value}"),
                    &w,
                    |good| {
                        Fix::manual(format!(
                            "Set kafkaConfig bootstrap.servers to a listener of the Kafka (e.g. {good}) in the SeldonRuntime or SeldonConfig of {ns}; the operator rewrites ConfigMap {KAFKA_CONFIGMAP} from it."
                        ))
                    },
                ));
            }
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn a_client_on_the_replication_port_and_one_in_plain_text_on_tls() {
        let drafts = run("strimzi-bootstrap", "{}", &fixture("strimzi-broken"));
        assert_eq!(drafts.len(), 2);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn seldon_configured_on_the_replication_port() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let mut view = fixture("healthy-strimzi");
        let cm: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "seldon-kafka", "namespace": "apps"},
            "data": {"kafka.json": "{\"bootstrap.servers\":\"events-kafka-bootstrap.streaming:9091\",\"topicPrefix\":\"seldon\"}"}
        }))
        .unwrap();
        view.config_maps.insert(cm);
        view.finish();
        let drafts = run("strimzi-bootstrap", "{}", &view);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].subject.to_string(), "ConfigMap apps/seldon-kafka");
        assert!(
            drafts[0].message.starts_with(
                "Seldon in apps (ConfigMap seldon-kafka) connects to Kafka streaming/events at events-kafka-bootstrap.streaming:9091, but port 9091 of Service events-kafka-bootstrap is tcp-replication"
            ),
            "{}",
            drafts[0].message
        );
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("strimzi-bootstrap", "{}", &fixture("healthy-strimzi")).is_empty());
    }
}
