//! A blocking client of a real API server for test set-up and assertions:
//! raw requests with the real kube client (bearer token, the server's
//! self-signed certificate accepted), answers as (status, JSON).

use http_body_util::BodyExt;
use kube::client::Body;
use mlopsctl::cluster::Kind;
use serde_json::{Value, json};

pub struct Rest {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Rest {
    pub fn new(url: &str, token: &str) -> Rest {
        mlopsctl::collect::install_crypto_provider();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"{url}\", \
             insecure-skip-tls-verify: true}}}}]\nusers: [{{name: u, user: {{token: \"{token}\"}}}}]\n\
             contexts: [{{name: c, context: {{cluster: c, user: u}}}}]\ncurrent-context: c\n"
        );
        let client = runtime.block_on(async {
            let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).unwrap();
            let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .unwrap();
            config.connect_timeout = Some(std::time::Duration::from_secs(5));
            config.read_timeout = Some(std::time::Duration::from_secs(30));
            kube::Client::try_from(config).unwrap()
        });
        Rest { runtime, client }
    }

    /// One request: (status, body as JSON, or as a JSON string when it is not JSON).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(
                body.map(|b| serde_json::to_vec(b).unwrap())
                    .unwrap_or_default(),
            ))
            .unwrap();
        self.runtime.block_on(async {
            match self.client.send(request).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let bytes = response.into_body().collect().await.unwrap().to_bytes();
                    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&bytes).into_owned())
                    });
                    (status, value)
                }
                Err(e) => (0, Value::String(e.to_string())),
            }
        })
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, "application/json", None)
    }

    /// Whether `/readyz` answers `ok`.
    pub fn ready(&self) -> bool {
        self.get("/readyz") == (200, Value::String("ok".into()))
    }

    /// Create an object; panics with the server's answer when refused.
    pub fn create(&self, object: &Value) -> Value {
        let path = collection_path(object);
        let (code, answer) = self.send("POST", &path, "application/json", Some(object));
        assert!(
            (200..300).contains(&code),
            "cannot create {}: {code} {answer}",
            describe(object)
        );
        answer
    }

    /// Create, or accept that it exists.
    pub fn create_or_keep(&self, object: &Value) {
        let path = collection_path(object);
        let (code, answer) = self.send("POST", &path, "application/json", Some(object));
        assert!(
            (200..300).contains(&code) || code == 409,
            "cannot create {}: {code} {answer}",
            describe(object)
        );
    }

    /// Merge-patch an object (or its `status` subresource with `sub`).
    pub fn merge_patch(&self, object: &Value, sub: Option<&str>, patch: &Value) -> Value {
        self.patch(object, sub, "application/merge-patch+json", patch)
    }

    /// Patch a built-in object as `kubectl patch` does: lists of containers,
    /// env and ports merged by name.
    pub fn strategic_patch(&self, object: &Value, patch: &Value) -> Value {
        self.patch(
            object,
            None,
            "application/strategic-merge-patch+json",
            patch,
        )
    }

    fn patch(&self, object: &Value, sub: Option<&str>, content_type: &str, patch: &Value) -> Value {
        let mut path = object_path(object);
        if let Some(sub) = sub {
            path = format!("{path}/{sub}");
        }
        let (code, answer) = self.send("PATCH", &path, content_type, Some(patch));
        assert!(
            (200..300).contains(&code),
            "cannot patch {} {}: {code} {answer}",
            describe(object),
            sub.unwrap_or_default()
        );
        answer
    }

    /// The object as stored, if it exists.
    pub fn read(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let object = json!({"apiVersion": api_version, "kind": kind,
                            "metadata": {"namespace": ns, "name": name}});
        match self.get(&object_path(&object)) {
            (200, v) => Some(v),
            (404, _) => None,
            (code, v) => panic!("cannot read {}: {code} {v}", describe(&object)),
        }
    }

    pub fn delete(&self, api_version: &str, kind: &str, ns: &str, name: &str) {
        let object = json!({"apiVersion": api_version, "kind": kind,
                            "metadata": {"namespace": ns, "name": name}});
        let (code, v) = self.send("DELETE", &object_path(&object), "application/json", None);
        assert!(
            (200..300).contains(&code) || code == 404,
            "cannot delete {}: {code} {v}",
            describe(&object)
        );
    }

    /// A namespace and its `default` ServiceAccount (without
    /// kube-controller-manager nothing else makes it, and Pods need it).
    pub fn ensure_namespace(&self, name: &str) {
        self.create_or_keep(&json!({"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": name}}));
        self.create_or_keep(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": "default", "namespace": name}}));
    }

    /// A ServiceAccount bound to a ClusterRole in `ns` (or cluster-wide when
    /// `ns` is `None`), and a token for it.
    pub fn service_account(
        &self,
        sa_ns: &str,
        name: &str,
        cluster_role: &str,
        ns: Option<&str>,
    ) -> String {
        self.create_or_keep(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
                                    "metadata": {"name": name, "namespace": sa_ns}}));
        let subject = json!([{"kind": "ServiceAccount", "name": name, "namespace": sa_ns}]);
        let role_ref = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": cluster_role});
        let binding = match ns {
            Some(ns) => json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                               "metadata": {"name": format!("{name}-{cluster_role}"), "namespace": ns},
                               "subjects": subject, "roleRef": role_ref}),
            None => {
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                           "metadata": {"name": format!("{sa_ns}-{name}-{cluster_role}")},
                           "subjects": subject, "roleRef": role_ref})
            }
        };
        self.create_or_keep(&binding);
        let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                             "spec": {"expirationSeconds": 3600}});
        let (code, answer) = self.send(
            "POST",
            &format!("/api/v1/namespaces/{sa_ns}/serviceaccounts/{name}/token"),
            "application/json",
            Some(&request),
        );
        assert_eq!(code, 201, "token for {sa_ns}/{name}: {answer}");
        answer["status"]["token"].as_str().unwrap().to_string()
    }
}

/// `Deployment ns/name`, for messages.
pub fn describe(object: &Value) -> String {
    let m = &object["metadata"];
    match m["namespace"].as_str() {
        Some(ns) => format!(
            "{} {ns}/{}",
            object["kind"].as_str().unwrap_or("?"),
            m["name"].as_str().unwrap_or("?")
        ),
        None => format!(
            "{} {}",
            object["kind"].as_str().unwrap_or("?"),
            m["name"].as_str().unwrap_or("?")
        ),
    }
}

/// (plural, namespaced) of the kinds tests write beyond those mlopsctl reads.
fn other_kind(kind: &str) -> Option<(&'static str, bool)> {
    Some(match kind {
        "ServiceAccount" => ("serviceaccounts", true),
        "CustomResourceDefinition" => ("customresourcedefinitions", false),
        "Role" => ("roles", true),
        "RoleBinding" => ("rolebindings", true),
        "ClusterRole" => ("clusterroles", false),
        "ClusterRoleBinding" => ("clusterrolebindings", false),
        "PersistentVolumeClaim" => ("persistentvolumeclaims", true),
        "ResourceQuota" => ("resourcequotas", true),
        "LimitRange" => ("limitranges", true),
        "PriorityClass" => ("priorityclasses", false),
        "MutatingAdmissionPolicy" => ("mutatingadmissionpolicies", false),
        "MutatingAdmissionPolicyBinding" => ("mutatingadmissionpolicybindings", false),
        _ => return None,
    })
}

/// The collection an object is created in.
pub fn collection_path(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (plural, namespaced) = match Kind::from_object(api_version, kind) {
        Some(k) => (k.info().plural, k.info().namespaced),
        None => {
            other_kind(kind).unwrap_or_else(|| panic!("tests cannot write {api_version} {kind}"))
        }
    };
    let base = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    match object["metadata"]["namespace"].as_str() {
        Some(ns) if namespaced => format!("{base}/namespaces/{ns}/{plural}"),
        _ => format!("{base}/{plural}"),
    }
}

/// The path of one object.
pub fn object_path(object: &Value) -> String {
    format!(
        "{}/{}",
        collection_path(object),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}
