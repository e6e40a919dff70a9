//! The API requests a fix makes: GET of one object, JSON PATCH, DELETE with a
//! resourceVersion precondition, POST — each with `fieldManager=mlopsctl`, and
//! `dryRun=All` for a server-side dry run. Behind [`Cluster`] so the executor
//! and undo can be tested on an in-memory cluster too.

use std::time::Duration;

use anyhow::{Context as _, Result};
use http_body_util::BodyExt;
use json_patch::PatchOperation;
use kube::client::Body;
use serde_json::{Value, json};

use crate::cluster::{Kind, ObjectRef};
use crate::collect::Settings;

/// The name mlopsctl's writes carry in `managedFields`.
pub const FIELD_MANAGER: &str = "mlopsctl";

/// Why a write (or the GET before it) did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// 409, or 422 from a failed `test`: the object moved since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Any other refusal (400, 422 invalid, 415, …): the change itself is wrong.
    #[error("refused (HTTP {code}): {message}")]
    Rejected { code: u16, message: String },
    /// A 5xx, a timeout or a broken connection: the write may or may not have
    /// been made. The executor reads the object again to find out.
    #[error("no clear answer: {0}")]
    Unknown(String),
}

/// What a fix needs of the API server.
pub trait Cluster {
    /// The object as the server has it now; `None` when it does not exist.
    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, WriteError>;
    /// Apply an RFC 6902 patch; returns the object after it.
    fn patch(
        &self,
        target: &ObjectRef,
        patch: &[PatchOperation],
        dry_run: bool,
    ) -> Result<Value, WriteError>;
    /// Delete, if the object is still the one the guard names.
    fn delete(&self, target: &ObjectRef, guard: &Guard, dry_run: bool) -> Result<(), WriteError>;
    /// Create an object; returns it as stored.
    fn create(&self, object: &Value, dry_run: bool) -> Result<Value, WriteError>;
    /// The uid of the `kube-system` namespace: which cluster this is, when
    /// it can be read.
    fn identity(&self) -> Option<String>;
}

/// What a delete requires of the object still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Unchanged since it was read.
    ResourceVersion(String),
    /// The same object (a controller may have written its status since).
    Uid(String),
    /// Any object of that name.
    None,
}

/// The object's path on the API server, or why there is none.
pub fn object_path(target: &ObjectRef) -> Result<String, WriteError> {
    collection_path(target).map(|base| format!("{base}/{}", target.name))
}

fn collection_path(target: &ObjectRef) -> Result<String, WriteError> {
    let kind = Kind::from_object(&target.api_version, &target.kind).ok_or_else(|| {
        WriteError::Rejected {
            code: 0,
            message: format!(
                "{} {} is not a kind mlopsctl can write",
                target.api_version, target.kind
            ),
        }
    })?;
    Ok(crate::collect::list_path(kind, target.namespace.as_deref()))
}

/// Classify an error answer by its status and Status message.
pub fn classify(code: u16, message: String) -> WriteError {
    match code {
        409 => WriteError::Conflict(message),
        // The API server answers a JSON patch whose `test` failed with 422 and
        // the patch library's "testing value /path failed: test failed".
        422 if message.contains("test failed") => WriteError::Conflict(message),
        403 => WriteError::Forbidden(message),
        404 => WriteError::NotFound(message),
        500.. => WriteError::Unknown(format!("HTTP {code}: {message}")),
        _ => WriteError::Rejected { code, message },
    }
}

/// [`Cluster`] over the kube client of the collector's connection.
pub struct KubeCluster {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    request_timeout: Duration,
    /// The API server URL.
    pub server: String,
    /// `context NAME` or `in-cluster`.
    pub source: String,
}

impl KubeCluster {
    pub fn connect(args: &Settings) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let connection = runtime.block_on(async {
            tokio::time::timeout(args.timeout, crate::collect::connect(args))
                .await
                .map_err(|_| anyhow::anyhow!("connecting took longer than --timeout"))?
        })?;
        Ok(KubeCluster {
            runtime,
            client: connection.client,
            request_timeout: args.request_timeout,
            server: connection.server,
            source: connection.source,
        })
    }

    /// One request: (status, body). Writes are never retried here: a retry of
    /// a write whose answer was lost could apply it twice.
    fn send(
        &self,
        method: http::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), WriteError> {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .map_err(|e| WriteError::Rejected {
                code: 0,
                message: format!("bad request {path}: {e}"),
            })?;
        let client = &self.client;
        let answer = async {
            let response = client
                .send(request)
                .await
                .map_err(|e| WriteError::Unknown(crate::collect::error_chain(&e)))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| WriteError::Unknown(crate::collect::error_chain(&e)))?
                .to_bytes()
                .to_vec();
            Ok((status, body))
        };
        self.runtime.block_on(async {
            tokio::time::timeout(self.request_timeout, answer)
                .await
                .unwrap_or_else(|_| {
                    Err(WriteError::Unknown(
                        "no answer within --request-timeout".into(),
                    ))
                })
        })
    }

    fn write(
        &self,
        method: http::Method,
        path: String,
        content_type: &str,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, WriteError> {
        let mut query = format!("fieldManager={FIELD_MANAGER}");
        if dry_run {
            query.push_str("&dryRun=All");
        }
        let bytes = serde_json::to_vec(body).expect("JSON serializes");
        let (code, answer) = self.send(method, &format!("{path}?{query}"), content_type, bytes)?;
        if (200..300).contains(&code) {
            return serde_json::from_slice(&answer)
                .map_err(|e| WriteError::Unknown(format!("the answer is not JSON: {e}")));
        }
        Err(classify(code, crate::collect::status_message(&answer)))
    }
}

impl Cluster for KubeCluster {
    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, WriteError> {
        let path = object_path(target)?;
        let (code, body) = self.send(http::Method::GET, &path, "application/json", Vec::new())?;
        match code {
            200..300 => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| WriteError::Unknown(format!("the answer is not JSON: {e}"))),
            404 => Ok(None),
            _ => Err(classify(code, crate::collect::status_message(&body))),
        }
    }

    fn patch(
        &self,
        target: &ObjectRef,
        patch: &[PatchOperation],
        dry_run: bool,
    ) -> Result<Value, WriteError> {
        let body = serde_json::to_value(patch).expect("JSON serializes");
        self.write(
            http::Method::PATCH,
            object_path(target)?,
            "application/json-patch+json",
            &body,
            dry_run,
        )
    }

    fn delete(&self, target: &ObjectRef, guard: &Guard, dry_run: bool) -> Result<(), WriteError> {
        let mut options = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
        match guard {
            Guard::ResourceVersion(rv) => options["preconditions"] = json!({"resourceVersion": rv}),
            Guard::Uid(uid) => options["preconditions"] = json!({"uid": uid}),
            Guard::None => {}
        }
        if dry_run {
            options["dryRun"] = json!(["All"]);
        }
        self.write(
            http::Method::DELETE,
            object_path(target)?,
            "application/json",
            &options,
            dry_run,
        )
        .map(drop)
    }

    fn create(&self, object: &Value, dry_run: bool) -> Result<Value, WriteError> {
        self.write(
            http::Method::POST,
            collection_path(&ObjectRef::of_json(object))?,
            "application/json",
            object,
            dry_run,
        )
    }

    fn identity(&self) -> Option<String> {
        let kube_system = ObjectRef::new("v1", "Namespace", None, "kube-system");
        let object = self.get(&kube_system).ok().flatten()?;
        super::object::uid(&object).map(String::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_the_api_server_means_them() {
        assert!(matches!(
            classify(409, "modified".into()),
            WriteError::Conflict(_)
        ));
        assert!(matches!(
            classify(
                422,
                "testing value /spec/replicas failed: test failed".into()
            ),
            WriteError::Conflict(_)
        ));
        assert!(matches!(
            classify(422, "spec.replicas: Invalid value: -1".into()),
            WriteError::Rejected { code: 422, .. }
        ));
        assert!(matches!(
            classify(403, "no".into()),
            WriteError::Forbidden(_)
        ));
        assert!(matches!(
            classify(503, "busy".into()),
            WriteError::Unknown(_)
        ));
    }

    #[test]
    fn paths_of_objects_by_group_and_scope() {
        let deployment = ObjectRef::new("apps/v1", "Deployment", Some("ml"), "train");
        assert_eq!(
            object_path(&deployment).unwrap(),
            "/apis/apps/v1/namespaces/ml/deployments/train"
        );
        let server = ObjectRef::new("mlops.seldon.io/v1alpha1", "Server", Some("s"), "mlserver");
        assert_eq!(
            object_path(&server).unwrap(),
            "/apis/mlops.seldon.io/v1alpha1/namespaces/s/servers/mlserver"
        );
        let topic = ObjectRef::new("kafka", "KafkaTopic", None, "t");
        assert!(matches!(
            object_path(&topic),
            Err(WriteError::Rejected { .. })
        ));
    }
}
