//! The client configuration every handle shares.

use rdkafka::ClientConfig;

/// A client configuration for `bootstrap` with the user's librdkafka
/// properties (`--kafka-config KEY=VALUE`: `security.protocol`,
/// `sasl.mechanism`, `sasl.username`, `ssl.ca.location`, …) applied last, so
/// they win over mlopsctl's defaults. The bootstrap address always wins.
pub fn client_config(bootstrap: &str, settings: &[(String, String)]) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("client.id", "mlopsctl")
        // Probing must never create what it looks for.
        .set("allow.auto.create.topics", "false")
        // A read-only observer: never commit, never move a group's offsets.
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Connection-close messages from idle brokers are noise for a CLI.
        .set("log.connection.close", "false");
    for (key, value) in settings {
        config.set(key, value);
    }
    config.set("bootstrap.servers", bootstrap);
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_settings_apply_but_bootstrap_wins() {
        let settings = vec![
            ("security.protocol".to_string(), "SASL_SSL".to_string()),
            (
                "bootstrap.servers".to_string(),
                "elsewhere:9092".to_string(),
            ),
        ];
        let config = client_config("kafka:9092", &settings);
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("bootstrap.servers"), Some("kafka:9092"));
        assert_eq!(config.get("allow.auto.create.topics"), Some("false"));
    }
}
