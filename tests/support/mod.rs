//! An in-process Kubernetes API server for the live-path tests: it serves the
//! objects of a fixture snapshot with the real API's semantics — discovery,
//! namespaced and cluster-wide Lists with `limit`/`continue` and a list
//! `resourceVersion` (items without apiVersion/kind, as the API sends them),
//! Status error bodies, a plain-text 404 for groups it does not serve, the pod
//! `log` subresource — and the writes `mlopsctl fix` and `undo` make: GET of
//! one object, PATCH with `application/json-patch+json` applied by a real
//! JSON-patch implementation (a failed `test` is a 422, a stale
//! `metadata.resourceVersion` a 409, as the API server answers), DELETE with
//! resourceVersion preconditions, POST, `dryRun=All` (validated, not stored),
//! and a resourceVersion bumped on every write. It counts every request.
//! Faults are injected per resource (403, 500, 503 with Retry-After), per
//! written object ([`WriteFault`]) or globally (a delay).

#![allow(dead_code)] // each test binary uses a different part

pub mod envtest;
pub mod loader;
pub mod promtool;
pub mod rest;
pub mod skip;
pub mod tansu;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mlopsctl::cluster::Kind;
use serde_json::{Value, json};

/// Groups every cluster serves; any other group must hold objects to be served.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "discovery.k8s.io",
    "apiregistration.k8s.io",
];
const LIST_RESOURCE_VERSION: &str = "48213";

#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Plurals whose List answers 403 Forbidden.
    pub forbidden: Vec<String>,
    /// Plurals whose List answers 500.
    pub failing: Vec<String>,
    /// Plurals whose first List request answers 503 with `Retry-After: 0`.
    pub flaky_once: Vec<String>,
    /// Plurals whose first List request answers 429 with `Retry-After: 1`.
    pub throttled_once: Vec<String>,
    /// Plurals whose first List request gets its connection dropped, unanswered.
    pub dropped_once: Vec<String>,
    /// Plurals whose first request with a continue token answers 410 Expired.
    pub expire_continue_once: Vec<String>,
    /// Added to every answer.
    pub delay: Duration,
    /// What pods answer through the proxy: (pod, port, path, status, body);
    /// status 0 is no answer, with the dial error as body. Other probes are
    /// answered 200 by Ready pods and refused by the rest.
    pub proxied: Vec<(String, u16, String, u16, String)>,
    /// What happens to the first write of an object (by name).
    pub writes: Vec<(String, WriteFault)>,
}

/// A fault on the first write (PATCH, DELETE, POST) of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFault {
    /// 500, nothing written.
    Fail,
    /// 403 on this object only.
    Forbidden,
    /// Someone else changes the object just before the write arrives.
    EditedConcurrently,
    /// The write is done, then the connection drops unanswered.
    DropAfterWrite,
    /// The write is done, the answer comes after this many seconds.
    SlowAnswer(u64),
}

struct State {
    /// (group, plural) → objects with apiVersion and kind.
    objects: Mutex<BTreeMap<(String, String), Vec<Value>>>,
    /// The last resourceVersion handed out by a write.
    resource_version: Mutex<u64>,
    logs: HashMap<(String, String, String, bool), String>,
    faults: Faults,
    requests: Mutex<Vec<String>>,
    flaked: Mutex<BTreeSet<String>>,
}

pub struct ApiServer {
    pub url: String,
    state: Arc<State>,
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

impl ApiServer {
    /// Serve a fixture snapshot directory plus extra objects.
    pub fn start(fixture_dir: &Path, extra: Vec<Value>, faults: Faults) -> ApiServer {
        let mut objects: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
        let mut logs = HashMap::new();
        let mut docs = Vec::new();
        let mut faults = faults;
        load_dir(fixture_dir, fixture_dir, &mut docs, &mut logs);
        // A fixture's coverage.yaml says what its service account could not read:
        // the server refuses the same.
        // Its probes.yaml says what the pods answered through the proxy.
        let probes = fixture_dir.join("probes.yaml");
        if probes.is_file() {
            let text = std::fs::read_to_string(&probes).unwrap();
            let results: Vec<mlopsctl::cluster::ProbeResult> =
                mlopsctl::yaml::from_str(&text).unwrap();
            for r in results {
                let Some(pod) = r.pod else { continue };
                faults.proxied.push(match r.status {
                    Some(code) => (pod, r.port, r.path, code, r.body.unwrap_or_default()),
                    None => (pod, r.port, r.path, 0, r.error.unwrap_or_default()),
                });
            }
        }
        let coverage = fixture_dir.join("coverage.yaml");
        if coverage.is_file() {
            let text = std::fs::read_to_string(&coverage).unwrap();
            let records: Vec<mlopsctl::cluster::CoverageRecord> =
                mlopsctl::yaml::from_str(&text).unwrap();
            for r in records {
                if r.result == mlopsctl::cluster::CoverageResult::Forbidden {
                    faults.forbidden.push(r.resource);
                }
            }
        }
        docs.extend(extra);
        for doc in docs {
            for object in flatten(doc) {
                let api_version = object["apiVersion"].as_str().unwrap_or_default();
                let kind = object["kind"].as_str().unwrap_or_default();
                if let Some(k) = Kind::from_object(api_version, kind) {
                    let info = k.info();
                    objects
                        .entry((info.group.to_string(), info.plural.to_string()))
                        .or_default()
                        .push(object);
                }
            }
        }
        for list in objects.values_mut() {
            list.sort_by_key(|o| {
                (
                    o["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                )
            });
        }
        let state = Arc::new(State {
            objects: Mutex::new(objects),
            resource_version: Mutex::new(LIST_RESOURCE_VERSION.parse().unwrap()),
            logs,
            faults,
            requests: Mutex::new(Vec::new()),
            flaked: Mutex::new(BTreeSet::new()),
        });
        let listener = StdListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let served = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = served.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let state = state.clone();
                            async move { handle(&state, req).await }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        ApiServer { url, state }
    }

    /// Every request so far, as `path?query` (writes as `METHOD path?query`).
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The stored object, as a GET would return it.
    pub fn object(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let info = Kind::from_object(api_version, kind).unwrap().info();
        let objects = self.state.objects.lock().unwrap();
        objects
            .get(&(info.group.to_string(), info.plural.to_string()))
            .into_iter()
            .flatten()
            .find(|o| is(o, ns, name))
            .cloned()
    }

    /// Change a stored object as another client would, bumping its resourceVersion.
    pub fn edit(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) {
        let info = Kind::from_object(api_version, kind).unwrap().info();
        let rv = next_resource_version(&self.state);
        let mut objects = self.state.objects.lock().unwrap();
        let object = objects
            .get_mut(&(info.group.to_string(), info.plural.to_string()))
            .into_iter()
            .flatten()
            .find(|o| is(o, ns, name))
            .expect("object to edit");
        f(object);
        object["metadata"]["resourceVersion"] = json!(rv);
    }

    /// A kubeconfig for this server in `dir`, context `test` with namespace `ns`.
    pub fn kubeconfig(&self, dir: &Path, ns: &str) -> PathBuf {
        kubeconfig(dir, &self.url, ns)
    }
}

pub fn kubeconfig(dir: &Path, server: &str, ns: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n\
             contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {ns}\n\
             current-context: test\nusers:\n- name: test\n  user:\n    token: test-token\n"
        ),
    )
    .unwrap();
    path
}

/// A listener that accepts connections and never answers; returns its URL.
pub fn silent_server() -> String {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    url
}

/// An address where nothing listens.
pub fn refused_server() -> String {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn load_dir(
    root: &Path,
    dir: &Path,
    docs: &mut Vec<Value>,
    logs: &mut HashMap<(String, String, String, bool), String>,
) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap();
        if path.is_dir() {
            load_dir(root, &path, docs, logs);
        } else if rel.starts_with("logs") {
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let file = &parts[3];
            let (container, previous) = match file.strip_suffix(".previous.log") {
                Some(c) => (c.to_string(), true),
                None => (file.trim_end_matches(".log").to_string(), false),
            };
            let text = std::fs::read_to_string(&path).unwrap();
            logs.insert(
                (parts[1].clone(), parts[2].clone(), container, previous),
                text,
            );
        } else if rel.components().count() == 1
            && ["kafka.yaml", "probes.yaml", "coverage.yaml", "api.yaml"]
                .contains(&rel.to_str().unwrap())
        {
            continue;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            let bytes = std::fs::read(&path).unwrap();
            let json = path.extension().is_some_and(|e| e == "json");
            mlopsctl::snapshot::parse_documents(&bytes, json, &mut |doc| {
                docs.push(match doc {
                    mlopsctl::snapshot::Doc::Value(v) => v,
                    mlopsctl::snapshot::Doc::Raw(text) => serde_json::from_str(text).unwrap(),
                });
                Ok(())
            })
            .unwrap();
        }
    }
}

fn flatten(doc: Value) -> Vec<Value> {
    match doc.get("items") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![doc],
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(code: StatusCode, content_type: &str, body: String) -> Reply {
    Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn ok(value: Value) -> Reply {
    reply(StatusCode::OK, "application/json", value.to_string())
}

/// A `metav1.Status` failure, as the API server writes it.
fn status(code: u16, reason: &str, message: String, details: Value) -> Reply {
    reply(
        StatusCode::from_u16(code).unwrap(),
        "application/json",
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "details": details, "code": code})
        .to_string(),
    )
}

fn not_found_text() -> Reply {
    reply(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "404 page not found\n".into(),
    )
}

/// The answer, or an error that makes hyper drop the connection unanswered.
async fn handle(state: &State, req: Request<Incoming>) -> Result<Reply, std::io::Error> {
    let path = req.uri().path().to_string();
    let plural = path.rsplit('/').next().unwrap_or_default().to_string();
    if state.faults.dropped_once.contains(&plural)
        && state
            .flaked
            .lock()
            .unwrap()
            .insert(format!("drop {plural}"))
    {
        state.requests.lock().unwrap().push(path);
        return Err(std::io::Error::other("dropped"));
    }
    if req.method() != hyper::Method::GET {
        return write(state, req).await;
    }
    Ok(answer(state, req).await)
}

/// The object path of a write: (group, version, plural, namespace, name).
type Address<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

fn address<'a>(segments: &[&'a str]) -> Option<Address<'a>> {
    Some(match segments {
        ["api", v, "namespaces", ns, plural] => ("", v, plural, Some(ns), None),
        ["api", v, "namespaces", ns, plural, name] => ("", v, plural, Some(ns), Some(name)),
        ["api", v, plural] => ("", v, plural, None, None),
        ["api", v, plural, name] => ("", v, plural, None, Some(name)),
        ["apis", g, v, "namespaces", ns, plural] => (g, v, plural, Some(ns), None),
        ["apis", g, v, "namespaces", ns, plural, name] => (g, v, plural, Some(ns), Some(name)),
        ["apis", g, v, plural] => (g, v, plural, None, None),
        ["apis", g, v, plural, name] => (g, v, plural, None, Some(name)),
        _ => return None,
    })
}

/// PATCH, DELETE and POST, with the object's [`WriteFault`] if it has one.
async fn write(state: &State, req: Request<Incoming>) -> Result<Reply, std::io::Error> {
    use http_body_util::BodyExt;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    state
        .requests
        .lock()
        .unwrap()
        .push(format!("{method} {path}?{raw_query}"));
    let query: HashMap<String, String> = raw_query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some((group, version, plural, ns, name)) = address(&segments) else {
        return Ok(not_found_text());
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) if body.is_empty() => Value::Null,
        Err(e) => {
            return Ok(status(
                400,
                "BadRequest",
                format!("error decoding body: {e}"),
                json!({}),
            ));
        }
    };
    let name = match (name, &body) {
        (Some(n), _) => n.to_string(),
        (None, b) => b["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let dry_run = query.get("dryRun").is_some_and(|d| d == "All");
    let fault = state
        .faults
        .writes
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .filter(|f| {
            *f == WriteFault::Forbidden
                || state.flaked.lock().unwrap().insert(format!("write {name}"))
        });
    match fault {
        Some(WriteFault::Fail) => {
            return Ok(status(
                500,
                "InternalError",
                "Internal error occurred: etcdserver: request timed out".into(),
                json!({}),
            ));
        }
        Some(WriteFault::Forbidden) => {
            let verb = match method.as_str() {
                "PATCH" => "patch",
                "DELETE" => "delete",
                _ => "create",
            };
            return Ok(status(
                403,
                "Forbidden",
                format!(
                    "{plural}{} \"{name}\" is forbidden: User \"system:serviceaccount:flts:fixer\" \
                     cannot {verb} resource \"{plural}\" in API group \"{group}\" in the namespace \"{}\"",
                    if group.is_empty() {
                        String::new()
                    } else {
                        format!(".{group}")
                    },
                    ns.unwrap_or_default()
                ),
                json!({"name": name, "group": group, "kind": plural}),
            ));
        }
        Some(WriteFault::EditedConcurrently) => {
            let rv = next_resource_version(state);
            let mut objects = state.objects.lock().unwrap();
            if let Some(o) = objects
                .get_mut(&(group.to_string(), plural.to_string()))
                .into_iter()
                .flatten()
                .find(|o| is(o, ns.unwrap_or_default(), &name))
            {
                o["metadata"]["annotations"]["edited-by"] = json!("someone else");
                o["metadata"]["resourceVersion"] = json!(rv);
            }
        }
        _ => {}
    }
    let manager = query.get("fieldManager").cloned().unwrap_or_default();
    let target = (
        group,
        version,
        plural,
        ns.unwrap_or_default(),
        name.as_str(),
    );
    let reply = match method.as_str() {
        "PATCH" if content_type == "application/json-patch+json" => {
            patch(state, target, &body, &manager, dry_run)
        }
        "PATCH" => status(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json; got {content_type}"
            ),
            json!({}),
        ),
        "DELETE" => delete(state, target, &body, dry_run),
        "POST" => create(state, target, body, &manager, dry_run),
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported"),
            json!({}),
        ),
    };
    match fault {
        Some(WriteFault::DropAfterWrite) => Err(std::io::Error::other("dropped after the write")),
        Some(WriteFault::SlowAnswer(secs)) => {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok(reply)
        }
        _ => Ok(reply),
    }
}

type Target<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

fn is(object: &Value, ns: &str, name: &str) -> bool {
    object["metadata"]["namespace"].as_str().unwrap_or_default() == ns
        && object["metadata"]["name"] == name
}

fn next_resource_version(state: &State) -> String {
    let mut rv = state.resource_version.lock().unwrap();
    *rv += 1;
    rv.to_string()
}

fn resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

fn not_found(group: &str, plural: &str, name: &str) -> Reply {
    status(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", resource(group, plural)),
        json!({"name": name, "group": group, "kind": plural}),
    )
}

fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Reply {
    status(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": {why}",
            resource(group, plural)
        ),
        json!({"name": name, "group": group, "kind": plural}),
    )
}

/// The managedFields entry a write by `manager` leaves.
fn managed(object: &mut Value, manager: &str, operation: &str) {
    if manager.is_empty() {
        return;
    }
    let entry = json!({"manager": manager, "operation": operation,
                       "apiVersion": object["apiVersion"], "time": "2026-11-29T21:00:00Z",
                       "fieldsType": "FieldsV1", "fieldsV1": {}});
    let fields = &mut object["metadata"]["managedFields"];
    match fields.as_array_mut() {
        Some(list) => {
            list.retain(|e| e["manager"] != manager);
            list.push(entry);
        }
        None => *fields = json!([entry]),
    }
}

fn patch(state: &State, t: Target, body: &Value, manager: &str, dry_run: bool) -> Reply {
    let (group, _, plural, ns, name) = t;
    let operations: json_patch::Patch = match serde_json::from_value(body.clone()) {
        Ok(p) => p,
        Err(e) => return status(400, "BadRequest", e.to_string(), json!({})),
    };
    let rv = next_resource_version(state);
    let mut objects = state.objects.lock().unwrap();
    let Some(object) = objects
        .get_mut(&(group.to_string(), plural.to_string()))
        .into_iter()
        .flatten()
        .find(|o| is(o, ns, name))
    else {
        return not_found(group, plural, name);
    };
    let mut changed = object.clone();
    if let Err(e) = json_patch::patch(&mut changed, &operations) {
        // The API server answers a patch that cannot be applied with 422 and
        // its patch library's message (evanphx/json-patch's wording for a
        // failed `test`).
        let message = match e.kind {
            json_patch::PatchErrorKind::TestFailed => {
                format!("testing value {} failed: test failed", e.path)
            }
            _ => e.to_string(),
        };
        return reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            "application/json",
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "code": 422})
            .to_string(),
        );
    }
    if changed["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"] {
        return conflict(
            group,
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        );
    }
    if changed == *object {
        return ok(changed);
    }
    managed(&mut changed, manager, "Update");
    if !dry_run {
        changed["metadata"]["resourceVersion"] = json!(rv);
        *object = changed.clone();
    }
    ok(changed)
}

fn delete(state: &State, t: Target, body: &Value, dry_run: bool) -> Reply {
    let (group, _, plural, ns, name) = t;
    let mut objects = state.objects.lock().unwrap();
    let list = objects
        .entry((group.to_string(), plural.to_string()))
        .or_default();
    let Some(at) = list.iter().position(|o| is(o, ns, name)) else {
        return not_found(group, plural, name);
    };
    if let Some(expected) = body["preconditions"]["resourceVersion"].as_str() {
        let found = list[at]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        if expected != found {
            return conflict(
                group,
                plural,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {expected}, \
                     ResourceVersion in object meta: {found}"
                ),
            );
        }
    }
    let object = if dry_run {
        list[at].clone()
    } else {
        list.remove(at)
    };
    ok(object)
}

fn create(state: &State, t: Target, mut object: Value, manager: &str, dry_run: bool) -> Reply {
    let (group, version, plural, ns, name) = t;
    if object["metadata"]["resourceVersion"].is_string() {
        return status(
            500,
            "InternalError",
            "resourceVersion should not be set on objects to be created".into(),
            json!({}),
        );
    }
    let rv = next_resource_version(state);
    let mut objects = state.objects.lock().unwrap();
    let list = objects
        .entry((group.to_string(), plural.to_string()))
        .or_default();
    if list.iter().any(|o| is(o, ns, name)) {
        return status(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource(group, plural)),
            json!({"name": name, "group": group, "kind": plural}),
        );
    }
    if !ns.is_empty() {
        object["metadata"]["namespace"] = json!(ns);
    }
    object["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{rv:0>12}"));
    object["metadata"]["creationTimestamp"] = json!("2026-11-29T21:00:00Z");
    object["metadata"]["resourceVersion"] = json!(rv);
    if object["apiVersion"].is_null() {
        object["apiVersion"] = json!(if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        });
    }
    managed(&mut object, manager, "Update");
    if !dry_run {
        list.push(object.clone());
    }
    reply(StatusCode::CREATED, "application/json", object.to_string())
}

async fn answer(state: &State, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect();
    state
        .requests
        .lock()
        .unwrap()
        .push(match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.clone(),
        });
    if !state.faults.delay.is_zero() {
        tokio::time::sleep(state.faults.delay).await;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => ok(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1",
                                  "platform": "linux/amd64"})),
        ["api"] => ok(json!({"kind": "APIVersions", "versions": ["v1"]})),
        ["apis"] => ok(group_list(state)),
        ["api", "v1"] => ok(resource_list(state, "", "v1")),
        ["apis", group, version] if served(state, group) => {
            ok(resource_list(state, group, version))
        }
        ["api", "v1", "namespaces", ns, "pods", pod, "log"] => log(state, ns, pod, &query),
        [
            "api",
            "v1",
            "namespaces",
            _,
            "pods",
            target,
            "proxy",
            rest @ ..,
        ] => proxy(state, target, &format!("/{}", rest.join("/"))),
        ["api", "v1", "namespaces", ns, plural, name] => get(state, "", plural, ns, name),
        ["api", "v1", plural, name] => get(state, "", plural, "", name),
        ["apis", group, _, "namespaces", ns, plural, name] if served(state, group) => {
            get(state, group, plural, ns, name)
        }
        ["apis", group, _, plural, name] if served(state, group) => {
            get(state, group, plural, "", name)
        }
        ["api", "v1", plural] => list(state, "", "v1", plural, None, &query),
        ["api", "v1", "namespaces", ns, plural] => list(state, "", "v1", plural, Some(ns), &query),
        ["apis", group, version, plural] if served(state, group) => {
            list(state, group, version, plural, None, &query)
        }
        ["apis", group, version, "namespaces", ns, plural] if served(state, group) => {
            list(state, group, version, plural, Some(ns), &query)
        }
        _ => not_found_text(),
    }
}

fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn served(state: &State, group: &str) -> bool {
    BUILTIN_GROUPS.contains(&group)
        || state
            .objects
            .lock()
            .unwrap()
            .keys()
            .any(|(g, _)| g == group)
}

fn group_list(state: &State) -> Value {
    let objects = state.objects.lock().unwrap();
    let groups: BTreeSet<&str> = BUILTIN_GROUPS
        .iter()
        .copied()
        .chain(objects.keys().map(|(g, _)| g.as_str()))
        .filter(|g| !g.is_empty())
        .collect();
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|g| {
            let version = Kind::ALL
                .iter()
                .find(|k| k.info().group == g)
                .map_or("v1", |k| k.info().version);
            let gv = json!({"groupVersion": format!("{g}/{version}"), "version": version});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(state: &State, group: &str, version: &str) -> Value {
    let _ = state;
    let resources: Vec<Value> = Kind::ALL
        .iter()
        .map(|k| k.info())
        .filter(|i| i.group == group && i.version == version)
        .map(|i| {
            json!({"name": i.plural, "singularName": i.kind.to_lowercase(), "namespaced": i.namespaced,
                   "kind": i.kind, "verbs": ["get", "list", "watch"]})
        })
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

fn list(
    state: &State,
    group: &str,
    version: &str,
    plural: &str,
    ns: Option<&str>,
    query: &HashMap<String, String>,
) -> Reply {
    let Some(info) = Kind::ALL
        .iter()
        .map(|k| k.info())
        .find(|i| i.group == group && i.plural == plural && i.version == version)
    else {
        return not_found_text();
    };
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    if state.faults.forbidden.iter().any(|p| p == plural) {
        return status(
            403,
            "Forbidden",
            format!(
                "{plural}{} is forbidden: User \"system:serviceaccount:flts:doctor\" cannot list \
                 resource \"{plural}\" in API group \"{group}\" {scope}",
                if group.is_empty() {
                    String::new()
                } else {
                    format!(".{group}")
                }
            ),
            json!({"group": group, "kind": plural}),
        );
    }
    if state.faults.failing.iter().any(|p| p == plural) {
        return status(
            500,
            "InternalError",
            "Internal error occurred: etcdserver: request timed out".into(),
            json!({"causes": [{"message": "etcdserver: request timed out"}]}),
        );
    }
    if state.faults.flaky_once.iter().any(|p| p == plural)
        && state.flaked.lock().unwrap().insert(plural.to_string())
    {
        let mut r = status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request".into(),
            json!({}),
        );
        r.headers_mut().insert("retry-after", "0".parse().unwrap());
        return r;
    }
    if query.contains_key("continue")
        && state
            .faults
            .expire_continue_once
            .iter()
            .any(|p| p == plural)
        && state.flaked.lock().unwrap().insert(format!("410 {plural}"))
    {
        return status(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter."
                .into(),
            json!({}),
        );
    }
    if state.faults.throttled_once.iter().any(|p| p == plural)
        && state.flaked.lock().unwrap().insert(format!("429 {plural}"))
    {
        let mut r = status(
            429,
            "TooManyRequests",
            "storage is (re)initializing".into(),
            json!({"retryAfterSeconds": 1}),
        );
        r.headers_mut().insert("retry-after", "1".parse().unwrap());
        return r;
    }
    let objects = state.objects.lock().unwrap();
    let all: Vec<&Value> = objects
        .get(&(group.to_string(), plural.to_string()))
        .into_iter()
        .flatten()
        .filter(|o| match ns {
            Some(ns) if info.namespaced => o["metadata"]["namespace"] == ns,
            _ => true,
        })
        .collect();
    let offset: usize = match query.get("continue") {
        Some(token) => match token.strip_prefix("eyJvZmZzZXQiOn0=") {
            Some(n) => n.parse().unwrap(),
            None => {
                return status(
                    400,
                    "BadRequest",
                    "continue key is not valid".into(),
                    json!({}),
                );
            }
        },
        None => 0,
    };
    let limit: usize = query
        .get("limit")
        .map_or(usize::MAX, |l| l.parse().unwrap());
    let end = offset.saturating_add(limit).min(all.len());
    let items: Vec<Value> = all[offset.min(end)..end]
        .iter()
        .map(|o| {
            let mut item = (*o).clone();
            let obj = item.as_object_mut().unwrap();
            obj.remove("apiVersion");
            obj.remove("kind");
            item
        })
        .collect();
    let mut metadata = json!({"resourceVersion": LIST_RESOURCE_VERSION});
    if end < all.len() {
        metadata["continue"] = json!(format!("eyJvZmZzZXQiOn0={end}"));
        metadata["remainingItemCount"] = json!(all.len() - end);
    }
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    ok(
        json!({"kind": format!("{}List", info.kind), "apiVersion": api_version,
              "metadata": metadata, "items": items}),
    )
}

fn get(state: &State, group: &str, plural: &str, ns: &str, name: &str) -> Reply {
    let objects = state.objects.lock().unwrap();
    let found = objects
        .get(&(group.to_string(), plural.to_string()))
        .into_iter()
        .flatten()
        .find(|o| is(o, ns, name));
    match found {
        Some(o) => ok(o.clone()),
        None => not_found(group, plural, name),
    }
}

fn log(state: &State, ns: &str, pod: &str, query: &HashMap<String, String>) -> Reply {
    let container = query.get("container").cloned().unwrap_or_default();
    let previous = query.get("previous").is_some_and(|p| p == "true");
    match state
        .logs
        .get(&(ns.to_string(), pod.to_string(), container.clone(), previous))
    {
        Some(text) => {
            let tail: usize = query
                .get("tailLines")
                .map_or(usize::MAX, |t| t.parse().unwrap());
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(tail);
            let mut body = lines[start..].join("\n");
            body.push('\n');
            reply(StatusCode::OK, "text/plain", body)
        }
        None if previous => status(
            400,
            "BadRequest",
            format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"),
            json!({}),
        ),
        None => reply(StatusCode::OK, "text/plain", String::new()),
    }
}

fn proxy(state: &State, target: &str, path: &str) -> Reply {
    let (pod, port) = target.rsplit_once(':').unwrap();
    let port: u16 = port.parse().unwrap();
    let refused = |error: String| {
        status(
            503,
            "ServiceUnavailable",
            format!("error trying to reach service: {error}"),
            json!({}),
        )
    };
    match state
        .faults
        .proxied
        .iter()
        .find(|(p, po, pa, _, _)| p == pod && *po == port && pa == path)
    {
        // Status 0: no answer, the body is the dial error.
        Some((_, _, _, 0, error)) => refused(error.clone()),
        Some((_, _, _, code, body)) => reply(
            StatusCode::from_u16(*code).unwrap(),
            "text/plain",
            body.clone(),
        ),
        // Otherwise a Ready pod answers its probe, others refuse.
        None if pod_ready(state, pod) => reply(StatusCode::OK, "text/plain", "ok".into()),
        None => refused(format!(
            "dial tcp 10.244.1.7:{port}: connect: connection refused"
        )),
    }
}

fn pod_ready(state: &State, pod: &str) -> bool {
    state
        .objects
        .lock()
        .unwrap()
        .get(&(String::new(), "pods".to_string()))
        .into_iter()
        .flatten()
        .filter(|o| o["metadata"]["name"] == pod)
        .flat_map(|o| {
            o["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}
