//! KEDA triggers: reading them from a ScaledObject or ScaledJob, and a host
//! in their metadata rewritten to another name.

use serde_json::Value;

use crate::cluster::DynamicObject;

/// The triggers of a ScaledObject or ScaledJob: (index, type, metadata, has authenticationRef).
pub fn triggers(obj: &DynamicObject) -> Vec<Trigger<'_>> {
    obj.pointer("/spec/triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, t)| Trigger {
            index,
            type_: t.get("type").and_then(Value::as_str).unwrap_or_default(),
            metadata: t
                .get("metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
                        .collect()
                })
                .unwrap_or_default(),
            authentication_ref: t.pointer("/authenticationRef/name").and_then(Value::as_str),
        })
        .collect()
}

/// One trigger of a ScaledObject or ScaledJob.
#[derive(Debug)]
pub struct Trigger<'a> {
    pub index: usize,
    pub type_: &'a str,
    /// String-valued metadata entries, in key order.
    pub metadata: Vec<(&'a str, &'a str)>,
    pub authentication_ref: Option<&'a str>,
}

impl Trigger<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// `spec.triggers[0].metadata.host`.
    pub fn field(&self, key: &str) -> String {
        format!("spec.triggers[{}].metadata.{key}", self.index)
    }

    /// `trigger 0 (rabbitmq)`.
    pub fn label(&self) -> String {
        format!("trigger {} ({})", self.index, self.type_)
    }
}

/// `value` with the host part `host` replaced in the first address naming it:
/// after any `scheme://` and `user:password@`, before any `:port` or path.
pub fn with_host(value: &str, host: &str, new_host: &str) -> String {
    let mut done = false;
    value
        .split(',')
        .map(|token| {
            if done {
                return token.to_string();
            }
            let (scheme, rest) = match token.find("://") {
                Some(i) => token.split_at(i + 3),
                None => ("", token),
            };
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            let (user, hostport) = match authority.rfind('@') {
                Some(i) => authority.split_at(i + 1),
                None => ("", authority),
            };
            let lead = token.len() - token.trim_start().len();
            let hostport_trimmed = if user.is_empty() && scheme.is_empty() {
                &hostport[lead..]
            } else {
                hostport
            };
            let port = hostport_trimmed.strip_prefix(host);
            match port {
                Some(p) if p.is_empty() || p.starts_with(':') => {
                    done = true;
                    let pad = &hostport[..hostport.len() - hostport_trimmed.len()];
                    format!("{scheme}{user}{pad}{new_host}{p}{tail}")
                }
                _ => token.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_host() {
        assert_eq!(
            with_host(
                "amqp://rabbitmq:pw@rabbitmq:5672/%2f",
                "rabbitmq",
                "rabbitmq.default.svc.cluster.local"
            ),
            "amqp://rabbitmq:pw@rabbitmq.default.svc.cluster.local:5672/%2f"
        );
        assert_eq!(
            with_host("kafka:9092", "kafka", "kafka.ml.svc.cluster.local"),
            "kafka.ml.svc.cluster.local:9092"
        );
        assert_eq!(
            with_host("http://prometheus-server:9090", "prometheus", "x"),
            "http://prometheus-server:9090"
        );
    }
}
