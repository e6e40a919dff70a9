//! KServe's Knative mode: the predictor is a Knative Service, and each
//! change of the InferenceService makes a Revision. When the latest one
//! fails, the InferenceService's conditions only repeat "Revision X failed"
//! (or "does not have any ready Revision"); the Revision's own conditions
//! say why: an image that cannot be resolved, a container that exits, pods
//! that cannot be scheduled or never come up.
//!
//! Reasons and messages follow Knative Serving
//! (`pkg/apis/serving/v1/revision_lifecycle.go`,
//! `pkg/reconciler/revision/reconcile_resources.go`).

use crate::analyzers::conditions::{Condition, conditions};
use crate::cluster::{ClusterView, DynamicObject, Kind};

/// The Revision conditions that explain `Ready`, the most telling first.
const CAUSES: &[&str] = &["ContainerHealthy", "ResourcesAvailable", "Ready"];

/// A component's latest Revision, not ready, and why.
pub struct FailedRevision<'a> {
    pub revision: &'a DynamicObject,
    /// The first of [`CAUSES`] that is False.
    pub condition: Condition,
    /// The last ready Revision, which keeps the traffic meanwhile.
    pub serving: Option<&'a str>,
}

/// Why a Revision failed, from its condition's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The image could not be resolved to a digest (`ContainerMissing`).
    ImageMissing,
    /// The kubelet cannot pull the image (`ImagePullBackOff`, `ErrImagePull`).
    PullFailed,
    /// The user container exited (`ExitCode1`, `ExitCode137`, …).
    Exited,
    /// The pod cannot be scheduled (the PodScheduled reason, `Unschedulable`).
    Unschedulable,
    /// Initial scale was never reached within the progress deadline.
    Deadline,
    /// A Deployment or PodAutoscaler of that name is someone else's.
    NotOwned,
    /// A waiting container's reason (ImagePullBackOff, CrashLoopBackOff, …).
    Other,
}

impl Failure {
    pub fn of(reason: &str) -> Failure {
        match reason {
            "ContainerMissing" => Failure::ImageMissing,
            "Unschedulable" => Failure::Unschedulable,
            "ProgressDeadlineExceeded" => Failure::Deadline,
            "NotOwned" => Failure::NotOwned,
            r if r.starts_with("ExitCode") => Failure::Exited,
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" => Failure::PullFailed,
            _ => Failure::Other,
        }
    }

    /// What to do about Revision `rev`.
    pub fn hint(self, rev: &str) -> String {
        match self {
            Failure::ImageMissing => format!(
                "Knative could not resolve the predictor's image to a digest, so Revision {rev} never started: correct the image name or tag, give the predictor's ServiceAccount the imagePullSecret that can read the registry, or, for a registry the Knative controller cannot reach, list it under registries-skipping-tag-resolving in the config-deployment ConfigMap of knative-serving."
            ),
            Failure::PullFailed => format!(
                "The kubelet cannot pull the predictor's image for Revision {rev}: correct the image name or tag, or give the predictor's ServiceAccount the imagePullSecret that can read the registry."
            ),
            Failure::Exited => format!(
                "The predictor container of Revision {rev} exits before it is ready: read its log and fix the model or the container's arguments; the next change of the InferenceService makes a new Revision."
            ),
            Failure::Unschedulable => format!(
                "No node can run the pods of Revision {rev}: lower the predictor's requests, or add capacity or the tolerations and node selector the nodes need."
            ),
            Failure::Deadline => format!(
                "The pods of Revision {rev} did not become ready within Knative's progress deadline: look at their events and probes."
            ),
            Failure::NotOwned => format!(
                "An object Knative would create for Revision {rev} already exists and is not Knative's: delete or rename it, and Knative retries."
            ),
            Failure::Other => format!(
                "The pods of Revision {rev} are not starting: read the reason above and the pods' events."
            ),
        }
    }

    /// The command that shows more, for Revision `rev` in `ns`.
    pub fn kubectl(self, ns: &str, rev: &str) -> String {
        match self {
            Failure::Exited => format!(
                "kubectl logs -n {ns} -l serving.knative.dev/revision={rev} -c kserve-container --previous"
            ),
            _ => format!(
                "kubectl describe revision -n {ns} {rev}; kubectl get pods -n {ns} -l serving.knative.dev/revision={rev}"
            ),
        }
    }
}

impl FailedRevision<'_> {
    /// `: its latest Revision r failed: ContainerHealthy=False ExitCode1: …;
    /// Revision q keeps serving`, to follow "InferenceService x is not ready".
    pub fn summary(&self) -> String {
        let mut s = format!(
            ": its latest Revision {} failed: {}",
            self.revision.name(),
            self.condition.line().trim_end_matches('.')
        );
        if let Some(q) = self.serving {
            s.push_str(&format!("; Revision {q} keeps serving the traffic"));
        }
        s
    }

    /// The Revision's conditions that are False.
    pub fn evidence(&self) -> Vec<String> {
        let name = self.revision.name();
        let failed: Vec<Condition> = conditions(self.revision)
            .into_iter()
            .filter(|c| c.is("False"))
            .collect();
        // Ready repeats the first of the others that failed.
        let repeats = failed.len() > 1;
        failed
            .iter()
            .filter(|c| !(repeats && c.type_ == "Ready"))
            .map(|c| format!("Revision {name}: {}", c.describe()))
            .collect()
    }
}

/// The predictor's latest created Revision, when it is not ready.
pub fn failed_predictor_revision<'a>(
    view: &'a ClusterView,
    isvc: &'a DynamicObject,
) -> Option<FailedRevision<'a>> {
    let latest = isvc.str_at("/status/components/predictor/latestCreatedRevision")?;
    let revision = view.custom_get(Kind::KnativeRevision, isvc.namespace(), latest)?;
    let all = conditions(revision);
    let condition = CAUSES
        .iter()
        .find_map(|t| all.iter().find(|c| c.type_ == *t && c.is("False")))?
        .clone();
    let serving = isvc
        .str_at("/status/components/predictor/latestReadyRevision")
        .filter(|r| !r.is_empty() && *r != latest);
    Some(FailedRevision {
        revision,
        condition,
        serving,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_knatives_reasons() {
        assert_eq!(Failure::of("ContainerMissing"), Failure::ImageMissing);
        assert_eq!(Failure::of("ExitCode137"), Failure::Exited);
        assert_eq!(Failure::of("Unschedulable"), Failure::Unschedulable);
        assert_eq!(Failure::of("ProgressDeadlineExceeded"), Failure::Deadline);
        assert_eq!(Failure::of("ImagePullBackOff"), Failure::PullFailed);
        assert_eq!(Failure::of("CrashLoopBackOff"), Failure::Other);
    }
}
