//! `kserve-isvc-ready`: InferenceServices that are not Ready, told by their
//! own conditions (the failing component first: `Ready` only repeats the
//! dependent marked False last) and `status.modelStatus`; when the
//! predictor's `storage-initializer` cannot download the model, its exit and
//! log tail say why (wrong URI, missing credentials, no such bucket).

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde::Deserialize;

use crate::analyzers::conditions::Condition;
use crate::analyzers::kserve::knative::{self, Failure};
use crate::analyzers::kserve::model::{self as kserve, COMPONENT_CONDITIONS, STORAGE_INITIALIZER};
use crate::analyzers::text::{clip, last_lines, plural};
use crate::analyzers::{Analyzer, AnalyzerDef, Data, Draft, build};
use crate::cluster::{ClusterView, Kind, ObjectRef, event_time};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "kserve-isvc-ready",
    summary: "KServe InferenceServices not Ready, with the failing condition, modelStatus and the storage-initializer's error",
    needs: &[Kind::InferenceService],
    optional: &[Kind::Pod, Kind::Event, Kind::KnativeRevision],
    data: &[Data::Logs],
    build: build::<IsvcReady>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IsvcReady {
    /// How many lines of the storage-initializer's log to quote.
    #[serde(default = "default_log_lines")]
    log_lines: usize,
}

fn default_log_lines() -> usize {
    3
}

/// Why the storage-initializer failed, read from its error line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageError {
    Credentials,
    AccessDenied,
    NoBucket,
    NoModel,
    Unreachable,
    Other,
}

impl StorageError {
    /// The storage package's own messages (`kserve_storage/storage_errors.py`,
    /// `kserve_storage.py`), most specific first.
    fn of(line: &str) -> StorageError {
        let l = line.to_lowercase();
        let any = |words: &[&str]| words.iter().any(|w| l.contains(w));
        if any(&[
            "authentication failed",
            "invalid aws credentials",
            "nocredentialserror",
            "unable to locate credentials",
        ]) {
            StorageError::Credentials
        } else if any(&["access denied", "forbidden", "accessdenied"]) {
            StorageError::AccessDenied
        } else if any(&["nosuchbucket", "bucket"]) && any(&["does not exist", "not found"])
            || any(&["resource '"]) && l.contains("not found")
        {
            StorageError::NoBucket
        } else if any(&[
            "no model found",
            "local path",
            "http resource not found",
            "cannot locate source uri",
        ]) {
            StorageError::NoModel
        } else if any(&["failed to connect", "could not connect", "timed out"]) {
            StorageError::Unreachable
        } else {
            StorageError::Other
        }
    }

    fn hint(self, uri: &str) -> String {
        match self {
            StorageError::Credentials => format!(
                "The storage-initializer has no valid credentials for {uri}. KServe mounts them from the Secrets of the predictor's ServiceAccount (spec.predictor.serviceAccountName) or from spec.predictor.model.storage.key: create the Secret with the provider's keys, attach it to that ServiceAccount, and set the ServiceAccount on the predictor."
            ),
            StorageError::AccessDenied => format!(
                "The credentials the storage-initializer uses may not read {uri}: grant them read access to the bucket and path, or use the credentials of an account that has it."
            ),
            StorageError::NoBucket => format!(
                "The bucket in spec.predictor.model.storageUri ({uri}) does not exist for this endpoint: correct the bucket name (a typo is the usual cause), or the endpoint (serving.kserve.io/s3-endpoint on the credentials Secret) when the bucket lives elsewhere."
            ),
            StorageError::NoModel => format!(
                "Nothing was found at {uri}: correct the path in spec.predictor.model.storageUri to the folder or file the model was uploaded to."
            ),
            StorageError::Unreachable => format!(
                "The storage-initializer cannot reach the storage endpoint of {uri}: check the endpoint address and that the namespace's network policies let the pod out."
            ),
            StorageError::Other => format!(
                "Fix what the storage-initializer reports for {uri}: the URI in spec.predictor.model.storageUri, or the credentials of the predictor's ServiceAccount."
            ),
        }
    }
}

/// A predictor pod whose storage-initializer failed.
struct InitFailure<'a> {
    pod: &'a Pod,
    status: &'a ContainerStatus,
}

impl InitFailure<'_> {
    fn pod_name(&self) -> &str {
        self.pod.metadata.name.as_deref().unwrap_or_default()
    }

    /// `storage-initializer of pod p: CrashLoopBackOff, exit code 1, 5 restarts`.
    fn describe(&self) -> String {
        let s = self.status;
        let state = s.state.as_ref();
        let waiting = state
            .and_then(|st| st.waiting.as_ref())
            .and_then(|w| w.reason.clone());
        let terminated = state
            .and_then(|st| st.terminated.as_ref())
            .or_else(|| s.last_state.as_ref().and_then(|l| l.terminated.as_ref()));
        let mut parts = Vec::new();
        if let Some(w) = waiting {
            parts.push(w);
        }
        if let Some(t) = terminated {
            parts.push(format!(
                "exit code {} ({})",
                t.exit_code,
                t.reason.as_deref().unwrap_or("Error")
            ));
        }
        parts.push(format!(
            "{} restart{}",
            s.restart_count,
            plural(s.restart_count)
        ));
        format!(
            "{STORAGE_INITIALIZER} of pod {}: {}",
            self.pod_name(),
            parts.join(", ")
        )
    }

    /// The termination message (the log tail, with FallbackToLogsOnError).
    fn termination_message(&self) -> Option<&str> {
        let s = self.status;
        s.state
            .as_ref()
            .and_then(|st| st.terminated.as_ref())
            .or_else(|| s.last_state.as_ref().and_then(|l| l.terminated.as_ref()))
            .and_then(|t| t.message.as_deref())
    }
}

/// The storage-initializer of a pod, when it is crash-looping or exited non-zero.
fn init_failure(pod: &Pod) -> Option<InitFailure<'_>> {
    let status = pod
        .status
        .as_ref()?
        .init_container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == STORAGE_INITIALIZER)?;
    let state = status.state.as_ref()?;
    let crashloop =
        state.waiting.as_ref().and_then(|w| w.reason.as_deref()) == Some("CrashLoopBackOff");
    let failed = state.terminated.as_ref().is_some_and(|t| t.exit_code != 0);
    let failed_before = state.running.is_some()
        && status
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0);
    (crashloop || failed || failed_before).then_some(InitFailure { pod, status })
}

impl Analyzer for IsvcReady {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.custom(Kind::InferenceService).next().is_none() {
            return Err("not applicable: no InferenceServices".into());
        }
        let mut drafts = Vec::new();
        for isvc in view.custom(Kind::InferenceService) {
            if let Some(d) = self.judge(view, isvc) {
                drafts.push(d);
            }
        }
        Ok(drafts)
    }
}

impl IsvcReady {
    fn judge(&self, view: &ClusterView, isvc: &crate::cluster::DynamicObject) -> Option<Draft> {
        let conditions = kserve::isvc_conditions(isvc);
        let get = |t: &str| conditions.iter().find(|c| c.type_ == t);
        let ready = get("Ready");
        if ready.is_some_and(|c| c.is_true()) || get("Stopped").is_some_and(|c| c.is_true()) {
            return None;
        }
        let name = isvc.name();
        let ns = isvc.namespace();
        let model = kserve::model_status(isvc);
        let blocked = model.as_ref().is_some_and(|m| m.is_blocked());
        let init = kserve::predictor_pods(view, isvc)
            .into_iter()
            .find_map(init_failure);
        let not_ready = ready.is_some_and(|c| c.status == "False");
        if !(not_ready || blocked || init.is_some()) {
            // Unknown while the controller reconciles and nothing failed yet.
            return None;
        }
        let failing = COMPONENT_CONDITIONS
            .iter()
            .find_map(|t| get(t).filter(|c| !c.is_true()))
            .or(ready);
        let failure = model.as_ref().and_then(|m| m.failure.clone());
        let uri = isvc
            .str_at("/spec/predictor/model/storageUri")
            .unwrap_or("<storageUri>");

        // In Knative mode, the latest Revision says why it failed.
        let revision = knative::failed_predictor_revision(view, isvc).filter(|_| init.is_none());

        // What the storage-initializer said, if it failed.
        let init_error = init.as_ref().and_then(|f| {
            view.logs_of(ns, f.pod_name(), STORAGE_INITIALIZER)
                .filter_map(kserve::error_text)
                .last()
                .or_else(|| f.termination_message().and_then(kserve::error_text))
        });

        let mut message = format!("InferenceService {name} is not ready");
        if init.is_some() {
            message.push_str(&format!(
                ": the {STORAGE_INITIALIZER} cannot download the model from {uri}"
            ));
            if let Some(e) = &init_error {
                message.push_str(&format!(": {e}"));
            }
        } else if let Some(r) = &revision {
            message.push_str(&r.summary());
        } else {
            if let Some(c) = failing {
                message.push_str(&format!(": {}={}", c.type_, c.status));
                let why: Vec<&str> = [c.reason.as_str(), c.message.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect();
                if !why.is_empty() {
                    message.push_str(&format!(" ({})", why.join(": ")));
                }
            }
            if let Some(f) = &failure {
                let sep = if failing.is_some() { ";" } else { ":" };
                message.push_str(&format!(
                    "{sep} model {} ({}",
                    model.as_ref().map_or("", |m| m.transition.as_str()),
                    f.reason
                ));
                if !f.message.is_empty() {
                    message.push_str(&format!(
                        ": {}",
                        kserve::error_text(&f.message).unwrap_or_default()
                    ));
                }
                message.push(')');
            }
        }

        let runtime_failure = failure.as_ref().is_some_and(|f| {
            matches!(
                f.reason.as_str(),
                "NoSupportingRuntime" | "RuntimeNotRecognized" | "RuntimeDisabled"
            )
        });
        let field = if init.is_some() {
            Some("spec.predictor.model.storageUri")
        } else if runtime_failure {
            Some("spec.predictor.model.modelFormat")
        } else {
            None
        };
        let isvc_ref = ObjectRef::of(Kind::InferenceService, &isvc.metadata);
        let subject = match field {
            Some(f) => isvc_ref.clone().with_field(f),
            None => isvc_ref.clone(),
        };
        let mut draft = Draft::new(subject, message);
        for c in conditions
            .iter()
            .filter(|c| !c.is_true() && c.type_ != "Stopped")
        {
            // The Revision's own conditions follow; these only repeat them.
            let c = match revision {
                Some(_) => Condition {
                    message: String::new(),
                    ..c.clone()
                },
                None => c.clone(),
            };
            draft.evidence.push(c.describe());
        }
        if let Some(r) = &revision {
            draft.evidence.extend(r.evidence());
        }
        if let Some(m) = &model {
            draft.evidence.push(m.describe());
        }
        if let Some(f) = &failure {
            draft.evidence.push(f.describe());
        }
        if let Some(mode) = kserve::deployment_mode(isvc) {
            draft.evidence.push(format!("deploymentMode: {mode}"));
        }
        if let Some(u) = isvc.str_at("/spec/predictor/model/storageUri") {
            draft
                .evidence
                .push(format!("spec.predictor.model.storageUri: {u}"));
        }
        if let Some(f) = &init {
            draft.evidence.push(format!(
                "spec.predictor.serviceAccountName: {}",
                isvc.str_at("/spec/predictor/serviceAccountName")
                    .unwrap_or("(not set: the namespace's default)")
            ));
            draft.evidence.push(f.describe());
            let log = view
                .log(ns, f.pod_name(), STORAGE_INITIALIZER, true)
                .or_else(|| view.log(ns, f.pod_name(), STORAGE_INITIALIZER, false));
            match log {
                Some(log) => draft.evidence.extend(
                    last_lines(log, self.log_lines)
                        .into_iter()
                        .map(|l| format!("{STORAGE_INITIALIZER} log: {l}")),
                ),
                None => {
                    if let Some(m) = f.termination_message().and_then(kserve::error_text) {
                        draft
                            .evidence
                            .push(format!("{STORAGE_INITIALIZER} termination message: {m}"));
                    }
                }
            }
        }
        let mut events = view.events_for(Kind::InferenceService, ns, name);
        events.retain(|e| e.type_.as_deref() == Some("Warning"));
        events.sort_by_key(|e| event_time(e));
        if let Some(e) = events.last() {
            draft.evidence.push(format!(
                "event {}: {}",
                e.reason.as_deref().unwrap_or_default(),
                clip(e.message.as_deref().unwrap_or_default(), 300)
            ));
        }

        let fix = if let Some(f) = &init {
            let kind = init_error
                .as_deref()
                .map_or(StorageError::Other, StorageError::of);
            Fix::manual(format!(
                "{} KServe retries the download on its own once the URI or credentials are right; editing the InferenceService rolls out a new predictor pod.",
                kind.hint(uri)
            ))
            .with_kubectl(format!(
                "kubectl logs -n {ns} {} -c {STORAGE_INITIALIZER} --previous",
                f.pod_name()
            ))
        } else if let Some(r) = &revision {
            let failure = Failure::of(&r.condition.reason);
            Fix::manual(failure.hint(r.revision.name()))
                .with_kubectl(failure.kubectl(ns, r.revision.name()))
        } else if runtime_failure {
            Fix::manual(format!(
                "No runtime KServe can use serves this model (see the runtime check on InferenceService {name}): name a runtime in spec.predictor.model.runtime, correct spec.predictor.model.modelFormat, or install a ServingRuntime that supports it."
            ))
            .with_kubectl(format!(
                "kubectl get servingruntimes -n {ns}; kubectl get clusterservingruntimes"
            ))
        } else {
            Fix::manual(
                "Look at the component the failing condition names: the predictor's pods and their events for PredictorReady, the ingress or gateway for IngressReady. The InferenceService turns Ready once they are."
            )
            .with_kubectl(format!(
                "kubectl get pods -n {ns} -l {}={name}; kubectl describe inferenceservice -n {ns} {name}",
                kserve::ISVC_LABEL
            ))
        };
        let draft = draft.fix(fix);
        Some(if init.is_some() {
            draft
        } else {
            // Judged from the spec, the runtime check links even when the
            // controller recorded no failure (yet).
            draft.caused_by("kserve-runtime-support", isvc_ref)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn names_the_failing_condition_and_the_storage_initializers_error() {
        let drafts = run("kserve-isvc-ready", "{}", &fixture("kserve-broken"));
        assert_eq!(drafts.len(), 4);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    fn isvc_with_status(status: &str) -> crate::cluster::ClusterView {
        let text = format!(
            "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {{name: m, namespace: ml}}\nspec:\n  predictor:\n    model: {{modelFormat: {{name: sklearn}}}}\nstatus: {status}\n"
        );
        let mut view = crate::cluster::ClusterView::default();
        crate::snapshot::add_file(&mut view, std::path::Path::new("i.yaml"), text.as_bytes())
            .unwrap();
        view.finish();
        view
    }

    #[test]
    fn names_the_component_not_ready_and_leaves_reconciling_and_stopped_alone() {
        let unknown = "{conditions: [{type: PredictorReady, status: Unknown}, {type: Ready, status: Unknown}]}";
        assert!(run("kserve-isvc-ready", "{}", &isvc_with_status(unknown)).is_empty());
        let stopped = "{conditions: [{type: Ready, status: \"False\", reason: Stopped}, {type: Stopped, status: \"True\"}]}";
        assert!(run("kserve-isvc-ready", "{}", &isvc_with_status(stopped)).is_empty());
        // Ready repeats IngressReady, marked False last; the predictor is the cause.
        let failing = "{conditions: [{type: IngressReady, status: \"False\", reason: Predictor ingress not created}, {type: PredictorReady, status: \"False\", reason: ProgressDeadlineExceeded, message: x}, {type: Ready, status: \"False\", reason: Predictor ingress not created}]}";
        let drafts = run("kserve-isvc-ready", "{}", &isvc_with_status(failing));
        assert_eq!(
            drafts[0].message,
            "InferenceService m is not ready: PredictorReady=False (ProgressDeadlineExceeded: x)"
        );
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("kserve-isvc-ready", "{}", &fixture("healthy-kserve")).is_empty());
    }

    #[test]
    fn reads_the_storage_packages_errors() {
        assert_eq!(
            StorageError::of("Storage initialization failed: S3 resource 'fraud-model' not found."),
            StorageError::NoBucket
        );
        assert_eq!(
            StorageError::of("Storage initialization failed: S3 bucket 'x' does not exist."),
            StorageError::NoBucket
        );
        assert_eq!(
            StorageError::of(
                "Storage initialization failed: S3 authentication failed. Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or use awsAnonymousCredential=true."
            ),
            StorageError::Credentials
        );
        assert_eq!(
            StorageError::of(
                "Storage initialization failed: Failed to fetch model. No model found in gs://kfserving-examples/models/sklearn/1.0/modle."
            ),
            StorageError::NoModel
        );
        assert_eq!(
            StorageError::of("Access denied to GCS resource 'b'. Verify permissions."),
            StorageError::AccessDenied
        );
        assert_eq!(
            kserve::error_text(
                "2026-12-07 14:02:11.120 1 storage.initializer INFO [initializer-entrypoint:<module>():17] Initializing\n2026-12-07 14:02:11.530 1 storage.initializer ERROR [initializer-entrypoint:<module>():28] Storage initialization failed: S3 resource 'b' not found.\n"
            )
            .as_deref(),
            Some("Storage initialization failed: S3 resource 'b' not found.")
        );
    }
}
