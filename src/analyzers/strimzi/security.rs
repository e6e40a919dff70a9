//! Whether a client speaks the security a Strimzi listener expects. Each
//! listener in `spec.kafka.listeners[]` has `tls` (encryption) and an
//! optional `authentication.type` (`tls` for mutual TLS, `scram-sha-512`,
//! `oauth`, or `custom` with `sasl: true|false`); together they fix the one
//! `security.protocol` a client must use there. A client that says
//! `PLAINTEXT` to a TLS listener has its connection dropped during the
//! handshake, which its log only shows as a disconnect.

use serde_json::Value;

use crate::cluster::DynamicObject;

/// The Kafka client protocols (`security.protocol`).
pub const PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// What a listener expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSecurity {
    pub tls: bool,
    /// `authentication.type`, when the listener authenticates clients.
    pub authentication: Option<String>,
    sasl: bool,
}

impl ListenerSecurity {
    /// The `security.protocol` a client of this listener must use.
    pub fn protocol(&self) -> &'static str {
        match (self.tls, self.sasl) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        }
    }

    /// `TLS, authentication scram-sha-512`, for messages.
    pub fn describe(&self) -> String {
        let mut s = if self.tls { "TLS" } else { "no TLS" }.to_string();
        match &self.authentication {
            Some(a) => s.push_str(&format!(", authentication {a}")),
            None => s.push_str(", no authentication"),
        }
        s
    }
}

/// The security of the listener named `name` in the Kafka's spec.
pub fn listener_security(kafka: &DynamicObject, name: &str) -> Option<ListenerSecurity> {
    let listener = kafka
        .data
        .pointer("/spec/kafka/listeners")?
        .as_array()?
        .iter()
        .find(|l| l.get("name").and_then(Value::as_str) == Some(name))?;
    let tls = listener
        .get("tls")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let auth = listener.get("authentication");
    let authentication = auth
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let sasl = match authentication.as_deref() {
        Some("scram-sha-512" | "oauth" | "plain") => true,
        Some("custom") => auth
            .and_then(|a| a.get("sasl"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        _ => false,
    };
    Some(ListenerSecurity {
        tls,
        authentication,
        sasl,
    })
}

/// The `security.protocol` a container's environment sets (a variable whose
/// name ends in `SECURITY_PROTOCOL`: `KAFKA_SECURITY_PROTOCOL`,
/// `SPRING_KAFKA_SECURITY_PROTOCOL`, …), with the variable's name.
pub fn client_protocol<'a>(env: &'a [(&'a str, String)]) -> Option<(&'a str, String)> {
    env.iter().find_map(|(name, value)| {
        let upper = value.trim().to_ascii_uppercase();
        (name.to_ascii_uppercase().ends_with("SECURITY_PROTOCOL")
            && PROTOCOLS.contains(&upper.as_str()))
        .then_some((*name, upper))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka(listeners: &str) -> crate::cluster::ClusterView {
        let text = format!(
            "apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata: {{name: k, namespace: s}}\nspec: {{kafka: {{listeners: {listeners}}}}}\n"
        );
        let mut view = crate::cluster::ClusterView::default();
        crate::snapshot::add_file(&mut view, std::path::Path::new("k.yaml"), text.as_bytes())
            .unwrap();
        view.finish();
        view
    }

    #[test]
    fn each_listener_fixes_one_protocol() {
        let view = kafka(
            "[{name: plain, port: 9092, type: internal, tls: false}, {name: tls, port: 9093, type: internal, tls: true}, {name: scram, port: 9094, type: internal, tls: true, authentication: {type: scram-sha-512}}, {name: mtls, port: 9095, type: internal, tls: true, authentication: {type: tls}}, {name: sasl, port: 9096, type: internal, tls: false, authentication: {type: custom, sasl: true}}]",
        );
        let k = view
            .custom_get(crate::cluster::Kind::StrimziKafka, "s", "k")
            .unwrap();
        let p = |n: &str| listener_security(k, n).unwrap().protocol();
        assert_eq!(p("plain"), "PLAINTEXT");
        assert_eq!(p("tls"), "SSL");
        assert_eq!(p("scram"), "SASL_SSL");
        assert_eq!(p("mtls"), "SSL");
        assert_eq!(p("sasl"), "SASL_PLAINTEXT");
        assert!(listener_security(k, "none").is_none());
    }

    #[test]
    fn reads_the_clients_protocol_from_its_environment() {
        let env = vec![
            ("KAFKA_BOOTSTRAP_SERVERS", "k:9093".to_string()),
            ("SPRING_KAFKA_SECURITY_PROTOCOL", "ssl".to_string()),
        ];
        assert_eq!(
            client_protocol(&env),
            Some(("SPRING_KAFKA_SECURITY_PROTOCOL", "SSL".to_string()))
        );
        assert_eq!(client_protocol(&env[..1]), None);
    }
}
