//! Any fixture folder into a real API server, as the objects would stand in
//! a cluster: created in an order where owners come first, with what the
//! server sets stripped (uid, resourceVersion, creationTimestamp,
//! generation, managedFields), owner references and every other mention of
//! an old uid re-linked to the new uids, and status written through the
//! `status` subresource.
//!
//! No address a real server would dial leaves the machine: pod IPs, host IPs
//! and node addresses become loopback addresses (the pod proxy then answers
//! `address not allowed`, a log request `connection refused`), and
//! EndpointSlices and Endpoints, which may not hold loopback addresses, get
//! this machine's own address, which nothing dials. Service cluster IPs are
//! left to the server to allocate.
//!
//! Custom resources get CRDs (group by group, as an install brings them)
//! for every group the fixture collected; each namespace gets its `default`
//! ServiceAccount, the ServiceAccounts its Pods name, and the
//! `kube-root-ca.crt` ConfigMap, as kube-controller-manager would make them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use mlopsctl::cluster::Kind;
use serde_json::{Value, json};

use super::envtest::{ADMIN_TOKEN, Cluster, machine_address};
use super::rest::{Rest, describe};

/// What loading did, for a test to translate between the fixture and the cluster.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Namespaces the fixture's objects live in.
    pub namespaces: BTreeSet<String>,
    /// Fixture address → the loopback address it became.
    pub addresses: BTreeMap<String, String>,
    /// Fixture uid → the uid the server gave.
    pub uids: BTreeMap<String, String>,
    /// Objects the server cannot hold as they are, with why.
    pub skipped: Vec<String>,
    /// How many objects were created.
    pub created: usize,
}

impl Loaded {
    /// A text with the cluster's addresses put back to the fixture's.
    pub fn to_fixture(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.addresses {
            out = out.replace(to.as_str(), from);
        }
        out
    }
}

/// The API group of custom kinds that a fixture brings as a whole.
fn custom_groups(fixture: &Path) -> BTreeSet<&'static str> {
    let view = mlopsctl::snapshot::load(fixture).expect("the fixture loads offline");
    view.collected
        .iter()
        .filter(|k| !k.is_typed() && **k != Kind::ApiService)
        .map(|k| k.info().group)
        .collect()
}

/// A CRD for a kind mlopsctl reads: any field allowed (the fixtures are
/// written from the upstream CRDs' shapes), with the status subresource.
pub fn crd(kind: Kind) -> Value {
    let info = kind.info();
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", info.plural, info.group)},
        "spec": {
            "group": info.group,
            "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
            "names": {
                "plural": info.plural,
                "singular": info.kind.to_lowercase(),
                "kind": info.kind,
                "listKind": format!("{}List", info.kind),
            },
            "versions": [{
                "name": info.version,
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                }},
                "subresources": {"status": {}},
            }],
        }
    })
}

/// Install the CRDs of every custom kind in these groups and wait until the
/// server serves them.
pub fn install_crds(rest: &Rest, groups: &BTreeSet<&str>) {
    let kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|k| !k.is_typed() && *k != Kind::ApiService && groups.contains(k.info().group))
        .collect();
    for kind in &kinds {
        rest.create_or_keep(&crd(*kind));
    }
    for kind in &kinds {
        let info = kind.info();
        let path = format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{}.{}",
            info.plural, info.group
        );
        let list = format!("/apis/{}/{}/{}", info.group, info.version, info.plural);
        let start = std::time::Instant::now();
        loop {
            let (_, crd) = rest.get(&path);
            let established = crd["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Established" && c["status"] == "True");
            if established && rest.get(&list).0 == 200 {
                break;
            }
            assert!(
                start.elapsed().as_secs() < 30,
                "CRD {}.{} not served: {crd}",
                info.plural,
                info.group
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

/// The fixture's objects, one by one (Lists flattened).
pub fn fixture_objects(fixture: &Path) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut logs = std::collections::HashMap::new();
    super::load_dir(fixture, fixture, &mut docs, &mut logs);
    docs.into_iter().flat_map(super::flatten).collect()
}

/// Load a fixture folder into the cluster behind `rest`.
pub fn load_fixture(rest: &Rest, fixture: &Path) -> Loaded {
    install_crds(rest, &custom_groups(fixture));
    load_objects(rest, fixture_objects(fixture), fixture)
}

/// Some objects of a fixture, `(kind, name)`, into namespace `ns` of a
/// shared cluster (a test's own namespace), each changed by `edit` first.
pub fn load_into_namespace(
    rest: &Rest,
    fixture: &Path,
    wanted: &[(&str, &str)],
    ns: &str,
    edit: &dyn Fn(&mut Value),
) -> Loaded {
    install_crds(rest, &custom_groups(fixture));
    let objects: Vec<Value> = fixture_objects(fixture)
        .into_iter()
        .filter(|o| {
            wanted
                .iter()
                .any(|(k, n)| o["kind"] == *k && o["metadata"]["name"] == *n)
        })
        .map(|mut o| {
            o["metadata"]["namespace"] = json!(ns);
            edit(&mut o);
            o
        })
        .collect();
    assert_eq!(
        objects.len(),
        wanted.len(),
        "{wanted:?} in {}",
        fixture.display()
    );
    load_objects(rest, objects, fixture)
}

/// Load a fixture folder with `clients` requests in flight at once: the
/// objects of one rank (see [`rank`]) from Services on are created in
/// parallel, since none of them owns another of its rank. For the thousands
/// of objects of `benches/scale.rs`'s synthetic clusters.
pub fn load_fixture_concurrently(cluster: &Cluster, fixture: &Path, clients: usize) -> Loaded {
    install_crds(&cluster.rest, &custom_groups(fixture));
    let workers: Vec<Rest> = (0..clients)
        .map(|_| Rest::new(&cluster.url, ADMIN_TOKEN))
        .collect();
    load_objects_with(&cluster.rest, &workers, fixture_objects(fixture), fixture)
}

/// Create these objects, owners first.
fn load_objects(rest: &Rest, objects: Vec<Value>, fixture: &Path) -> Loaded {
    load_objects_with(rest, &[], objects, fixture)
}

/// Create these objects, owners first; from Services on, each rank's objects
/// spread over `workers` (when there are any).
fn load_objects_with(
    rest: &Rest,
    workers: &[Rest],
    mut objects: Vec<Value>,
    fixture: &Path,
) -> Loaded {
    let mut loaded = Loaded::default();
    objects.sort_by_key(rank);

    for o in &objects {
        if let Some(ns) = o["metadata"]["namespace"].as_str() {
            loaded.namespaces.insert(ns.to_string());
        }
        if o["kind"] == "Namespace" {
            loaded.namespaces.insert(
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    // Namespaces first (the fixture's own, with their labels, else bare),
    // then what every namespace of a real cluster holds.
    for ns in &loaded.namespaces {
        let object = objects
            .iter()
            .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == ns.as_str())
            .cloned()
            .unwrap_or_else(
                || json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            );
        let mut object = strip(object);
        object.as_object_mut().unwrap().remove("status");
        rest.create_or_keep(&object);
        rest.ensure_namespace(ns);
        rest.create_or_keep(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": ns},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"}}));
    }
    let accounts: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .filter_map(|o| {
            Some((
                o["metadata"]["namespace"].as_str()?.to_string(),
                o["spec"]["serviceAccountName"].as_str()?.to_string(),
            ))
        })
        .collect();
    for (ns, name) in accounts {
        rest.create_or_keep(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": name, "namespace": ns}}));
    }

    // What is loaded, by rank, with the addresses a real server would dial made safe.
    let mut ranks: BTreeMap<u8, Vec<Value>> = BTreeMap::new();
    for mut object in objects {
        if object["kind"] == "Namespace" {
            continue;
        }
        if let Some(why) = unloadable(&object) {
            loaded.skipped.push(format!("{}: {why}", describe(&object)));
            continue;
        }
        rewrite_addresses(&mut object, &mut loaded.addresses);
        ranks.entry(rank(&object)).or_default().push(object);
    }
    for (rank, objects) in ranks {
        let outcomes: Vec<Created> = if workers.is_empty() || rank < 3 {
            objects
                .into_iter()
                .map(|o| {
                    let created = create(rest, o, &loaded.uids, fixture);
                    if let Created::Object(Some((old, new))) = &created {
                        loaded.uids.insert(old.clone(), new.clone());
                    }
                    created
                })
                .collect()
        } else {
            let mut shares: Vec<Vec<Value>> = vec![Vec::new(); workers.len()];
            for (i, o) in objects.into_iter().enumerate() {
                shares[i % workers.len()].push(o);
            }
            let uids = &loaded.uids;
            std::thread::scope(|scope| {
                let handles: Vec<_> = workers
                    .iter()
                    .zip(shares)
                    .map(|(client, share)| {
                        scope.spawn(move || {
                            share
                                .into_iter()
                                .map(|o| create(client, o, uids, fixture))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        for outcome in outcomes {
            match outcome {
                Created::Object(uid) => {
                    loaded.created += 1;
                    if let Some((old, new)) = uid {
                        loaded.uids.insert(old, new);
                    }
                }
                Created::ServersOwn(what) => loaded.skipped.push(what),
            }
        }
    }
    loaded
}

/// What creating one object did.
enum Created {
    /// Created: its fixture uid and the server's.
    Object(Option<(String, String)>),
    /// The server has its own (the `kubernetes` Service, built-in APIServices).
    ServersOwn(String),
}

/// Create one object (its addresses already made safe), linked to the
/// uids the server gave its owners, then write its status.
fn create(rest: &Rest, object: Value, uids: &BTreeMap<String, String>, fixture: &Path) -> Created {
    let old_uid = object["metadata"]["uid"].as_str().map(String::from);
    let old_generation = object["metadata"]["generation"].as_i64();
    let mut object = relink(object, uids);
    let status = object.as_object_mut().unwrap().remove("status");
    let mut object = strip(object);
    prepare(&mut object);
    let (code, created) = rest.send(
        "POST",
        &super::rest::collection_path(&object),
        "application/json",
        Some(&object),
    );
    if code == 409 {
        return Created::ServersOwn(format!("{}: the server has its own", describe(&object)));
    }
    assert!(
        (200..300).contains(&code),
        "cannot load {} from {}: {code} {created}",
        describe(&object),
        fixture.display()
    );
    let uid = old_uid.zip(created["metadata"]["uid"].as_str().map(String::from));
    if let Some(mut status) = status.filter(|s| s.as_object().is_some_and(|m| !m.is_empty())) {
        // The generation the status observed, relative to the new one.
        if let (Some(old), Some(new), Some(observed)) = (
            old_generation,
            created["metadata"]["generation"].as_i64(),
            status["observedGeneration"].as_i64(),
        ) {
            status["observedGeneration"] = json!((new - (old - observed)).max(0));
        }
        let mut status = relink(status, uids);
        if let Some((old, new)) = &uid {
            status = relink(status, &BTreeMap::from([(old.clone(), new.clone())]));
        }
        if has_status_subresource(&object) {
            rest.merge_patch(&created, Some("status"), &json!({"status": status}));
        }
    }
    Created::Object(uid)
}

/// Owners before what they own, events last.
fn rank(object: &Value) -> u8 {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    match Kind::from_object(api_version, kind) {
        Some(Kind::Namespace) => 0,
        Some(Kind::Node | Kind::ConfigMap | Kind::Secret | Kind::ApiService) => 1,
        Some(k) if !k.is_typed() => 2,
        Some(Kind::Service) => 3,
        Some(Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::CronJob) => 4,
        Some(Kind::ReplicaSet | Kind::Job) => 5,
        Some(Kind::Pod) => 6,
        Some(Kind::HorizontalPodAutoscaler | Kind::EndpointSlice | Kind::Endpoints) => 7,
        Some(Kind::Event) => 8,
        _ => 1,
    }
}

/// Why the server cannot take this object as it is, if it cannot.
fn unloadable(object: &Value) -> Option<&'static str> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    if Kind::from_object(api_version, kind).is_none() {
        return Some("a kind mlopsctl does not read");
    }
    if !object["metadata"]["deletionTimestamp"].is_null() {
        return Some("being deleted: a new object cannot be created so");
    }
    None
}

/// Without what the server sets.
fn strip(mut object: Value) -> Value {
    if let Some(meta) = object["metadata"].as_object_mut() {
        for key in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            meta.remove(key);
        }
    }
    object
}

/// Every string that is an old uid becomes the new one: owner references,
/// an Event's involvedObject, Job selectors and labels.
fn relink(mut value: Value, uids: &BTreeMap<String, String>) -> Value {
    fn walk(v: &mut Value, uids: &BTreeMap<String, String>) {
        match v {
            Value::String(s) => {
                if let Some(new) = uids.get(s.as_str()) {
                    *s = new.clone();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, uids)),
            Value::Object(map) => map.values_mut().for_each(|i| walk(i, uids)),
            _ => {}
        }
    }
    walk(&mut value, uids);
    value
}

/// A loopback address for a fixture address: `a.b.c.d` → `127.b.c.d`.
fn loopback(address: &str, map: &mut BTreeMap<String, String>) -> String {
    let Ok(ip) = address.parse::<std::net::Ipv4Addr>() else {
        // IPv6 and names: the IPv6 loopback is the only one there is.
        return if address.contains(':') {
            "::1".into()
        } else {
            address.into()
        };
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return address.into();
    }
    if let Some(known) = map.get(address) {
        return known.clone();
    }
    let [_, b, c, d] = ip.octets();
    let mut candidate = format!("127.{b}.{c}.{d}");
    let mut n = 0u32;
    while map.values().any(|v| *v == candidate) {
        n += 1;
        candidate = format!("127.255.{}.{}", n / 256, n % 256);
    }
    map.insert(address.to_string(), candidate.clone());
    candidate
}

/// The addresses a real API server would dial, made safe.
fn rewrite_addresses(object: &mut Value, map: &mut BTreeMap<String, String>) {
    let machine = machine_address();
    let set = |v: &mut Value, to: &str| {
        if v.is_string() {
            *v = json!(to);
        }
    };
    match object["kind"].as_str().unwrap_or_default() {
        "Pod" => {
            let status = &mut object["status"];
            for field in ["podIP", "hostIP"] {
                if let Some(a) = status[field].as_str().map(String::from) {
                    status[field] = json!(loopback(&a, map));
                }
            }
            for field in ["podIPs", "hostIPs"] {
                for entry in status[field].as_array_mut().into_iter().flatten() {
                    if let Some(a) = entry["ip"].as_str().map(String::from) {
                        entry["ip"] = json!(loopback(&a, map));
                    }
                }
            }
        }
        "Node" => {
            for entry in object["status"]["addresses"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if matches!(entry["type"].as_str(), Some("InternalIP" | "ExternalIP"))
                    && let Some(a) = entry["address"].as_str().map(String::from)
                {
                    entry["address"] = json!(loopback(&a, map));
                }
            }
        }
        "EndpointSlice" => {
            for endpoint in object["endpoints"].as_array_mut().into_iter().flatten() {
                for a in endpoint["addresses"].as_array_mut().into_iter().flatten() {
                    set(a, &machine);
                }
            }
        }
        "Endpoints" => {
            for subset in object["subsets"].as_array_mut().into_iter().flatten() {
                for field in ["addresses", "notReadyAddresses"] {
                    for a in subset[field].as_array_mut().into_iter().flatten() {
                        set(&mut a["ip"], &machine);
                    }
                }
            }
        }
        "Service" => {
            let spec = &mut object["spec"];
            if spec["clusterIP"] != "None" {
                if let Some(s) = spec.as_object_mut() {
                    s.remove("clusterIP");
                    s.remove("clusterIPs");
                }
            }
            for a in spec["externalIPs"].as_array_mut().into_iter().flatten() {
                set(a, &machine);
            }
            for ingress in object["status"]["loadBalancer"]["ingress"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                set(&mut ingress["ip"], &machine);
            }
        }
        _ => {}
    }
}

/// What the server generates itself and refuses to be given.
fn prepare(object: &mut Value) {
    if object["kind"] == "Job" && object["spec"]["manualSelector"] != true {
        // The Job's selector and its pods' labels carry its uid: the server
        // makes them for the new uid.
        if let Some(spec) = object["spec"].as_object_mut() {
            spec.remove("selector");
        }
        if let Some(labels) = object["spec"]["template"]["metadata"]["labels"].as_object_mut() {
            labels.remove("controller-uid");
            labels.remove("batch.kubernetes.io/controller-uid");
        }
    }
    if object["kind"] == "Service" {
        for port in object["spec"]["ports"].as_array_mut().into_iter().flatten() {
            // Node ports are allocated per cluster.
            if let Some(p) = port.as_object_mut() {
                p.remove("nodePort");
            }
        }
        if let Some(spec) = object["spec"].as_object_mut() {
            spec.remove("healthCheckNodePort");
        }
    }
}

/// Whether the kind keeps its status in a subresource (else it goes with the object).
fn has_status_subresource(object: &Value) -> bool {
    !matches!(
        object["kind"].as_str().unwrap_or_default(),
        "ConfigMap" | "Secret" | "Event" | "EndpointSlice" | "Endpoints" | "ServiceAccount"
    )
}
