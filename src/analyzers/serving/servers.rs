//! Model-server profiles (check parameters) and recognising a server in a
//! container: which server, on which host and port, with how many workers.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

use crate::analyzers::pattern::Pattern;
use crate::analyzers::target::Target;
use crate::analyzers::workloads::env::Env;
use crate::cluster::{ClusterView, Kind, Workload};

/// The shipped profiles (`server_profiles.yaml`), what `servers` defaults to.
pub static DEFAULT_PROFILES: LazyLock<Vec<ServerProfile>> = LazyLock::new(|| {
    crate::yaml::from_str(include_str!("server_profiles.yaml")).expect("shipped server profiles")
});

/// How to recognise one kind of model server, and its real routes and defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerProfile {
    /// A short id, e.g. `mlflow-gunicorn`.
    pub name: String,
    /// What people call it, e.g. `MLflow scoring server (gunicorn)`.
    pub title: String,
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// Paths a liveness probe may use.
    pub liveness_paths: Vec<String>,
    /// Paths a readiness or startup probe may use.
    pub readiness_paths: Vec<String>,
    /// A per-model readiness path, `{model}` standing for the model name.
    #[serde(default)]
    pub model_ready_path: Option<String>,
    pub default_port: u16,
    /// The address it binds when none is given.
    pub default_host: String,
    #[serde(default)]
    pub port_flags: Vec<String>,
    #[serde(default)]
    pub host_flags: Vec<String>,
    /// Flags taking `HOST:PORT` (gunicorn's `-b`).
    #[serde(default)]
    pub bind_flags: Vec<String>,
    #[serde(default)]
    pub port_env: Vec<String>,
    #[serde(default)]
    pub host_env: Vec<String>,
    #[serde(default)]
    pub workers: Option<WorkersSpec>,
    /// What an HTTP status from this server means, for probe results.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Matcher {
    /// Patterns on the command line (command and args joined by spaces).
    #[serde(default)]
    pub command: Vec<Pattern>,
    #[serde(default)]
    pub image: Vec<Pattern>,
    /// Patterns on the container's log, for servers started by a wrapper.
    #[serde(default)]
    pub log: Vec<Pattern>,
}

/// How a server's worker count is set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkersSpec {
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// A variable holding extra command-line flags (gunicorn's GUNICORN_CMD_ARGS).
    #[serde(default)]
    pub cmd_args_env: Option<String>,
    pub default: u32,
    /// Variables people set for this purpose that this server ignores
    /// (GUNICORN_CMD_ARGS on a uvicorn server).
    #[serde(default)]
    pub ignored_env: Vec<String>,
    /// Each worker serves one request at a time.
    #[serde(default)]
    pub synchronous: bool,
    /// Which knob sets the count, for the fix text.
    pub knob: String,
}

/// The `servers` and `extraServers` parameters every serving analyzer takes.
pub fn profiles<'a>(
    servers: &'a Option<Vec<ServerProfile>>,
    extra: &'a [ServerProfile],
) -> Vec<&'a ServerProfile> {
    let base: &[ServerProfile] = servers.as_deref().unwrap_or(&DEFAULT_PROFILES);
    extra.iter().chain(base.iter()).collect()
}

/// Where a value came from, for evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(String),
    Env(String),
    Default,
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Flag(f) => format!("from {f}"),
            Source::Env(e) => format!("from env {e}"),
            Source::Default => "the server's default".to_string(),
        }
    }
}

/// A container recognised as a model server.
#[derive(Debug, Clone)]
pub struct Server<'p> {
    pub profile: &'p ServerProfile,
    /// `command`, `image` or `log`.
    pub recognised_by: &'static str,
    pub port: u16,
    pub port_source: Source,
    pub host: String,
    pub host_source: Source,
    /// The worker count and where it came from, when the profile knows workers.
    pub workers: Option<(u32, Source)>,
}

impl Server<'_> {
    /// Bound to a loopback address only: nothing outside the pod reaches it.
    pub fn loopback(&self) -> bool {
        matches!(
            self.host.as_str(),
            "127.0.0.1" | "localhost" | "::1" | "[::1]"
        )
    }
}

/// The command line as written, as words: command and args, with `sh -c`
/// scripts split too.
pub fn words(c: &Container) -> Vec<String> {
    split_words(c.command.iter().flatten().chain(c.args.iter().flatten()))
}

/// The command line as the kubelet runs it: `$(VAR)` references in command
/// and args expanded from the container's environment.
pub fn expanded_words(c: &Container, env: &Env) -> Vec<String> {
    let items: Vec<String> = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .map(|item| env.expand(item))
        .collect();
    split_words(items.iter())
}

fn split_words<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    items
        .flat_map(|s| s.split_whitespace())
        .map(|w| w.trim_matches(|ch| ch == '"' || ch == '\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The value of the last occurrence of any of `flags` (`--f v` or `--f=v`).
pub fn flag_value<'w>(words: &'w [String], flags: &[String]) -> Option<(&'w str, String)> {
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        for f in flags {
            if w == f {
                if let Some(v) = words.get(i + 1) {
                    found = Some((v.as_str(), f.clone()));
                }
            } else if let Some(v) = w.strip_prefix(&format!("{f}=")) {
                found = Some((v, f.clone()));
            }
        }
    }
    found
}

/// The model servers a target runs for good: each selected container of a
/// long-running workload (not Jobs or CronJobs) that a profile recognises.
pub fn running_servers<'a, 'p>(
    view: &'a ClusterView,
    target: &'a Target,
    profiles: &[&'p ServerProfile],
) -> Vec<(Workload<'a>, &'a Container, Server<'p>)> {
    let mut out = Vec::new();
    for w in target.workloads(view) {
        if matches!(w.kind, Kind::Job | Kind::CronJob) {
            continue;
        }
        for c in target.containers(&w) {
            if let Some(server) = recognise(view, &w, c, profiles) {
                out.push((w, c, server));
            }
        }
    }
    out
}

/// Recognise the server a container runs, if any profile fits.
pub fn recognise<'p>(
    view: &ClusterView,
    w: &Workload<'_>,
    c: &Container,
    profiles: &[&'p ServerProfile],
) -> Option<Server<'p>> {
    let env = Env::of(view, w.namespace(), c);
    let words = expanded_words(c, &env);
    let line = words.join(" ");
    let image = c.image.as_deref().unwrap_or_default();
    let by_spec = profiles.iter().find_map(|p| {
        if p.matcher.command.iter().any(|r| r.is_match(&line)) {
            Some((*p, "command"))
        } else if p.matcher.image.iter().any(|r| r.is_match(image)) {
            Some((*p, "image"))
        } else {
            None
        }
    });
    // A log names the server generation more precisely than a wrapper command
    // (`mlflow models serve` runs gunicorn or uvicorn depending on the version).
    let by_log = profiles.iter().find_map(|p| {
        if p.matcher.log.is_empty() {
            return None;
        }
        let hit = view.pods_of(w).iter().any(|pod| {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            view.logs_of(w.namespace(), name, &c.name).any(|log| {
                log.lines()
                    .any(|l| p.matcher.log.iter().any(|r| r.is_match(l)))
            })
        });
        hit.then_some((*p, "log"))
    });
    // A generic profile (one without log patterns of its own) gives way to
    // the generation its log names.
    let (profile, recognised_by) = match (by_spec, by_log) {
        (Some(spec), Some(log)) => {
            if spec.0.matcher.log.is_empty() {
                log
            } else {
                spec
            }
        }
        (Some(found), None) | (None, Some(found)) => found,
        (None, None) => return None,
    };
    Some(describe(profile, recognised_by, &env, &words))
}

/// Where the server listens and how many workers it runs, from its
/// environment (as the kubelet sets it) and its expanded command line.
fn describe<'p>(
    profile: &'p ServerProfile,
    recognised_by: &'static str,
    env: &Env,
    words: &[String],
) -> Server<'p> {
    let mut host = (profile.default_host.clone(), Source::Default);
    let mut port = (profile.default_port, Source::Default);
    for var in &profile.host_env {
        if let Some(v) = env.get(var) {
            host = (v.to_string(), Source::Env(var.clone()));
        }
    }
    for var in &profile.port_env {
        if let Some(p) = env.get(var).and_then(|v| v.parse().ok()) {
            port = (p, Source::Env(var.clone()));
        }
    }
    if let Some((v, f)) = flag_value(words, &profile.host_flags) {
        host = (v.to_string(), Source::Flag(f));
    }
    if let Some(p) = flag_value(words, &profile.port_flags)
        .and_then(|(v, f)| v.parse().ok().map(|p| (p, Source::Flag(f))))
    {
        port = p;
    }
    if let Some((v, f)) = flag_value(words, &profile.bind_flags)
        && let Some((h, p)) = v.rsplit_once(':')
    {
        host = (h.to_string(), Source::Flag(f.clone()));
        if let Ok(p) = p.parse() {
            port = (p, Source::Flag(f));
        }
    }
    let workers = profile
        .workers
        .as_ref()
        .map(|spec| workers(spec, env, words));
    Server {
        profile,
        recognised_by,
        port: port.0,
        port_source: port.1,
        host: host.0,
        host_source: host.1,
        workers,
    }
}

fn workers(spec: &WorkersSpec, env: &Env, words: &[String]) -> (u32, Source) {
    let mut out = (spec.default, Source::Default);
    for var in &spec.env {
        if let Some(n) = env.get(var).and_then(|v| v.trim().parse().ok()) {
            out = (n, Source::Env(var.clone()));
        }
    }
    if let Some(n) = flag_value(words, &spec.flags)
        .and_then(|(v, f)| v.parse().ok().map(|n| (n, Source::Flag(f))))
    {
        out = n;
    }
    // Expanded after the command's own flags, so its flags win.
    if let Some(var) = &spec.cmd_args_env
        && let Some(extra) = env.get(var)
    {
        let extra: Vec<String> = extra.split_whitespace().map(str::to_string).collect();
        if let Some(n) = flag_value(&extra, &spec.flags).and_then(|(v, _)| v.parse().ok()) {
            out = (n, Source::Env(var.clone()));
        }
    }
    out
}

/// The custom resource that controls a workload (`Server seldon-mesh/mlserver`):
/// its operator renders the pod template, so a patch to the workload is undone.
pub fn operator_owner(w: &Workload<'_>) -> Option<String> {
    let owner = w
        .meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    let builtin = ["apps/v1", "batch/v1", "v1"].contains(&owner.api_version.as_str());
    (!builtin).then(|| format!("{} {}/{}", owner.kind, w.namespace(), owner.name))
}

/// A probe's port as a number, resolving named container ports.
pub fn probe_port(c: &Container, port: &IntOrString) -> Option<u16> {
    match port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn shipped_profiles_parse() {
        let names: Vec<&str> = DEFAULT_PROFILES.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "mlflow-gunicorn",
                "mlflow-uvicorn",
                "mlflow-serve",
                "mlserver",
                "triton"
            ]
        );
    }

    #[test]
    fn flags_in_both_spellings_last_wins() {
        let w = words_of("mlflow models serve -p 5001 --port=5002 -h 0.0.0.0");
        assert_eq!(
            flag_value(&w, &["--port".into(), "-p".into()]),
            Some(("5002", "--port".to_string()))
        );
        assert_eq!(
            flag_value(&w, &["--host".into(), "-h".into()]).unwrap().0,
            "0.0.0.0"
        );
        assert_eq!(flag_value(&w, &["--workers".into()]), None);
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;
    use crate::analyzers::testing::fixture;

    /// The healthy fixture passes the serving checks because its servers fit,
    /// not because they go unrecognised.
    #[test]
    fn healthy_serving_servers_are_recognised() {
        let view = fixture("healthy-serving");
        let profiles: Vec<&ServerProfile> = DEFAULT_PROFILES.iter().collect();
        let mut seen = Vec::new();
        for w in view.workloads() {
            for c in &w.spec.containers {
                let s = recognise(&view, &w, c, &profiles).expect("recognised");
                seen.push(format!(
                    "{} {} {}:{} workers={:?} by {}",
                    w.name(),
                    s.profile.name,
                    s.host,
                    s.port,
                    s.workers.as_ref().map(|(n, _)| *n),
                    s.recognised_by
                ));
            }
        }
        seen.sort();
        assert_eq!(
            seen,
            [
                "churn-model mlflow-uvicorn 0.0.0.0:5000 workers=Some(2) by log",
                "iris-mlserver mlserver 0.0.0.0:8080 workers=None by command",
            ]
        );
    }

    /// Seldon's triton ServerConfig passes its ports as `$(VAR)` references in
    /// a `bash -c` script; the kubelet expands them, and so do we.
    #[test]
    fn upstream_triton_ports_are_read_through_var_references() {
        let view = fixture("healthy-upstream-seldon");
        let profiles: Vec<&ServerProfile> = DEFAULT_PROFILES.iter().collect();
        let triton = view
            .workloads()
            .into_iter()
            .find(|w| w.name() == "triton")
            .expect("the triton Server's StatefulSet");
        let c = triton
            .spec
            .containers
            .iter()
            .find(|c| c.name == "triton")
            .unwrap();
        assert!(
            words(c)
                .join(" ")
                .contains("--http-port=$(SERVER_HTTP_PORT)"),
            "the fixture keeps upstream's reference"
        );
        let s = recognise(&view, &triton, c, &profiles).expect("recognised");
        assert_eq!((s.profile.name.as_str(), s.port), ("triton", 9000));
        assert_eq!(s.port_source, Source::Flag("--http-port".into()));
    }
}
