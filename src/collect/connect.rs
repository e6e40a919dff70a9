//! From kubectl-style flags to a kube client: kubeconfig (`--kubeconfig`,
//! `$KUBECONFIG` with several files, `~/.kube/config`), `--context`, or the
//! in-cluster service account; timeouts on every connection and kube's own
//! retries off, so nothing hangs and we retry where it is safe.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use kube::{Client, Error as KubeError};

use super::Settings;

/// A client and what it points at, for messages and the report's source.
pub struct Connection {
    pub client: Client,
    /// The API server URL.
    pub server: String,
    /// `context NAME` or `in-cluster`.
    pub source: String,
    /// The context's namespace, the default scope as in kubectl.
    pub default_namespace: String,
}

/// Where the configuration came from, in words for error messages.
enum Origin {
    File(PathBuf),
    Env(String),
    InCluster,
}

/// Install the one TLS crypto provider the process uses (ring, kube's). Must run
/// before any TLS client is built; later calls are harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub async fn connect(args: &Settings) -> Result<Connection> {
    install_crypto_provider();
    let (kubeconfig, origin) = load_kubeconfig(args)?;
    let (mut config, source) = match kubeconfig {
        Some(kubeconfig) => {
            let context = args
                .context
                .clone()
                .or_else(|| kubeconfig.current_context.clone());
            check_context(&kubeconfig, args.context.as_deref(), &origin)?;
            let options = KubeConfigOptions {
                context: args.context.clone(),
                ..Default::default()
            };
            let config = Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .with_context(|| format!("cannot use the kubeconfig from {}", origin.describe()))?;
            let source = format!("context {}", context.unwrap_or_else(|| "-".into()));
            (config, source)
        }
        None => {
            if let Some(context) = &args.context {
                bail!(
                    "--context {context} needs a kubeconfig, and none was found \
                     (no --kubeconfig, $KUBECONFIG or ~/.kube/config)"
                );
            }
            let config = Config::incluster().map_err(|e| {
                anyhow!(
                    "no cluster to talk to: no kubeconfig (looked at --kubeconfig, $KUBECONFIG \
                     and ~/.kube/config) and not running in a pod ({e}); pass --kubeconfig PATH, \
                     or read a snapshot with --snapshot PATH"
                )
            })?;
            (config, "in-cluster".to_string())
        }
    };
    config.connect_timeout = Some(args.connect_timeout);
    config.read_timeout = Some(args.request_timeout);
    config.write_timeout = Some(args.request_timeout);
    // Count the read timeout from when the request is sent, not from when a
    // pooled connection went idle.
    config.reset_reader_on_write = true;
    // kube would retry 429/503/504 up to 15 times: a CLI would look hung.
    config.default_retry = false;
    let server = config
        .cluster_url
        .to_string()
        .trim_end_matches('/')
        .to_string();
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| match e {
        // Exec plugins (cloud logins) and token files run when the client is built.
        KubeError::Auth(_) => anyhow!(
            "cannot get credentials for the API server at {server} ({source}, from {}): {}\n  \
             Run `kubectl get namespaces` with the same kubeconfig and context to see the \
             login error, then log in again.",
            origin.describe(),
            chain(&e)
        ),
        _ => anyhow!(
            "cannot build a client for the API server at {server} ({}): {}",
            origin.describe(),
            chain(&e)
        ),
    })?;
    Ok(Connection {
        client,
        server,
        source,
        default_namespace,
    })
}

/// The contexts of the kubeconfig kubectl would read (`doctor --all-contexts`),
/// in its order.
pub fn context_names(args: &Settings) -> Result<Vec<String>> {
    match load_kubeconfig(args)? {
        (Some(kubeconfig), _) => Ok(kubeconfig.contexts.into_iter().map(|c| c.name).collect()),
        (None, _) => {
            bail!("no kubeconfig to list contexts from: pass --kubeconfig or set $KUBECONFIG")
        }
    }
}

fn load_kubeconfig(args: &Settings) -> Result<(Option<Kubeconfig>, Origin)> {
    if let Some(path) = &args.kubeconfig {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| {
            anyhow!(
                "cannot read kubeconfig {} (from --kubeconfig): {}",
                path.display(),
                chain(&e)
            )
        })?;
        return Ok((Some(kubeconfig), Origin::File(path.clone())));
    }
    if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let text = value.to_string_lossy().into_owned();
        let kubeconfig = Kubeconfig::from_env()
            .map_err(|e| anyhow!("cannot read $KUBECONFIG ({text}): {}", chain(&e)))?;
        if let Some(kubeconfig) = kubeconfig {
            return Ok((Some(kubeconfig), Origin::Env(text)));
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = PathBuf::from(home).join(".kube").join("config");
        if path.is_file() {
            let kubeconfig = Kubeconfig::read_from(&path)
                .map_err(|e| anyhow!("cannot read kubeconfig {}: {}", path.display(), chain(&e)))?;
            return Ok((Some(kubeconfig), Origin::File(path)));
        }
    }
    Ok((None, Origin::InCluster))
}

/// Name the contexts that exist when the asked-for one does not.
fn check_context(kubeconfig: &Kubeconfig, wanted: Option<&str>, origin: &Origin) -> Result<()> {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let wanted = match wanted.or(kubeconfig.current_context.as_deref()) {
        Some(w) => w,
        None => bail!(
            "the kubeconfig from {} has no current-context: pass --context (one of: {})",
            origin.describe(),
            names.join(", ")
        ),
    };
    if !names.contains(&wanted) {
        bail!(
            "context {wanted} is not in the kubeconfig from {}: it has {}",
            origin.describe(),
            if names.is_empty() {
                "no contexts".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    Ok(())
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::File(p) => p.display().to_string(),
            Origin::Env(v) => format!("$KUBECONFIG={v}"),
            Origin::InCluster => "the in-cluster service account".to_string(),
        }
    }
}

/// An error and its causes on one line.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// What to check next when the API server cannot be reached, by the kind of error.
pub fn unreachable_hint(error: &str) -> String {
    let e = error.to_lowercase();
    let first = if e.contains("refused") {
        "Nothing listens at that address: is the cluster running, and is the port right?"
    } else if e.contains("dns") || e.contains("resolve") || e.contains("lookup") {
        "The host name does not resolve: check the server address in the kubeconfig, and your DNS or VPN."
    } else if e.contains("certificate") || e.contains("tls") || e.contains("handshake") {
        "The TLS handshake failed: check the cluster's certificate-authority data in the kubeconfig, \
         and that the address is the API server's HTTPS port."
    } else if e.contains("no answer") || e.contains("timed out") || e.contains("timeout") {
        "The server did not answer in time: check the network path (VPN, firewall, HTTPS_PROXY), \
         or raise --request-timeout / --connect-timeout."
    } else {
        "Check the network path to it (VPN, firewall, HTTPS_PROXY)."
    };
    format!(
        "{first} Check that --kubeconfig and --context select the cluster you mean \
         (`kubectl config get-contexts`)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_kind_of_error() {
        let hint = |e: &str| unreachable_hint(e);
        assert!(
            hint("tcp connect error: Connection refused (os error 111)")
                .starts_with("Nothing listens")
        );
        assert!(
            hint("dns error: failed to lookup address information").starts_with("The host name")
        );
        assert!(hint("invalid peer certificate: UnknownIssuer").starts_with("The TLS handshake"));
        assert!(
            hint("no answer within the request timeout").starts_with("The server did not answer")
        );
        assert!(hint("something else").starts_with("Check the network path"));
    }
}
