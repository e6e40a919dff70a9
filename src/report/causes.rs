//! The cause graph across objects, resolved after every check ran. The
//! analyzers' own links come first (SEL002 because of SEL001); then two
//! rules link findings no analyzer could, because they belong to different
//! checks and objects:
//!
//! - **ownership**: a symptom (crash loop, unavailable rollout, log line) on
//!   an object another object renders — the operator's Deployment of a
//!   SeldonRuntime, KEDA's HPA of a ScaledObject — hangs under a finding on
//!   that owner;
//! - **a shared missing object**: findings about one missing Service,
//!   ConfigMap or Secret are one incident, with one root.
//!
//! Each finding then gets a stable `id`, and each symptom the `root` id of
//! the incident it belongs to.

use std::collections::BTreeMap;

use crate::cluster::{ClusterView, ObjectRef};
use crate::report::findings::{Cause, Finding};

/// What the checks said of a finding besides the finding itself.
pub struct Traits {
    /// Its check describes an effect (`symptom: true` in the check).
    pub symptom: bool,
    /// The object it is about, when not its subject.
    pub about: Option<ObjectRef>,
}

/// How far up the owner chain a symptom is hung (Pod → ReplicaSet →
/// Deployment → custom resource, and one more).
const OWNER_DEPTH: usize = 5;

/// Link findings across objects; `traits[i]` belongs to `findings[i]`.
/// [`stamp`] then gives ids and roots (the Report does, whenever its
/// findings change).
pub fn link(findings: &mut [Finding], traits: &[Traits], view: &ClusterView) {
    for i in 0..findings.len() {
        if findings[i].cause.is_none()
            && traits[i].symptom
            && let Some(cause) = owner_finding(findings, i, view)
        {
            findings[i].cause = Some(cause);
        }
    }
    shared_missing(findings, traits);
}

/// A finding on an object that (transitively) controls finding `i`'s
/// subject, preferring roots and the most severe; where the owner chain
/// leaves what was read, the object an operator's label says rendered it
/// (`RENDERED_BY_LABEL`).
fn owner_finding(findings: &[Finding], i: usize, view: &ClusterView) -> Option<Cause> {
    let on = |object: &ObjectRef| {
        findings
            .iter()
            .enumerate()
            .filter(|(j, f)| *j != i && f.subject.object() == *object)
            .filter(|(j, _)| !leads_to(findings, *j, i))
            .min_by_key(|(_, f)| (f.cause.is_some(), f.severity, f.code.clone()))
            .map(|(_, f)| f.as_cause())
    };
    let mut current = findings[i].subject.object();
    let mut rendered_by = None;
    for _ in 0..OWNER_DEPTH {
        let Some(meta) = view.object_meta(&current) else {
            break;
        };
        rendered_by = rendered_by.or_else(|| view.rendered_by(&current));
        let Some(owner) = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
        else {
            break;
        };
        current = ObjectRef::new(
            &owner.api_version,
            &owner.kind,
            current.namespace.as_deref(),
            &owner.name,
        );
        if let Some(cause) = on(&current) {
            return Some(cause);
        }
    }
    rendered_by.and_then(|r| on(&r))
}

/// Findings about one missing object: the root is the one whose check
/// reported it once (the finding about the object itself, such as SEL005 on
/// the tracing configuration), else the first; the others hang under it.
fn shared_missing(findings: &mut [Finding], traits: &[Traits]) {
    let mut groups: BTreeMap<&ObjectRef, Vec<usize>> = BTreeMap::new();
    for (i, t) in traits.iter().enumerate() {
        if let Some(about) = &t.about
            && findings[i].cause.is_none()
        {
            groups.entry(about).or_default().push(i);
        }
    }
    for members in groups.into_values().filter(|m| m.len() > 1) {
        let count = |code: &str| {
            members
                .iter()
                .filter(|j| findings[**j].code == code)
                .count()
        };
        let root = *members
            .iter()
            .min_by_key(|j| {
                let f = &findings[**j];
                (
                    count(&f.code) > 1,
                    f.severity,
                    f.code.clone(),
                    f.subject.clone(),
                )
            })
            .expect("a group has members");
        let cause = findings[root].as_cause();
        for j in members.into_iter().filter(|j| *j != root) {
            findings[j].cause = Some(cause.clone());
        }
    }
}

/// Whether following causes from finding `from` reaches finding `to`.
fn leads_to(findings: &[Finding], from: usize, to: usize) -> bool {
    let mut at = from;
    for _ in 0..=findings.len() {
        if at == to {
            return true;
        }
        let Some(cause) = &findings[at].cause else {
            return false;
        };
        match findings.iter().position(|f| f.as_cause() == *cause) {
            Some(next) => at = next,
            None => return false,
        }
    }
    false
}

/// Each finding's id, and each symptom's root: the finding at the top of its
/// cause chain (a cause that is not reported ends the chain).
pub fn stamp(findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        f.id = Finding::id_of(&f.code, &f.subject);
    }
    for i in 0..findings.len() {
        let mut at = i;
        let mut steps = 0;
        while let Some(cause) = &findings[at].cause
            && let Some(next) = findings.iter().position(|f| f.as_cause() == *cause)
            && steps < findings.len()
        {
            at = next;
            steps += 1;
        }
        findings[i].root = (at != i).then(|| findings[at].id.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::findings::Severity;

    fn finding(code: &str, kind: &str, name: &str) -> Finding {
        Finding {
            id: String::new(),
            code: code.into(),
            check: code.to_lowercase(),
            severity: Severity::Error,
            subject: ObjectRef::new("v1", kind, Some("ml"), name),
            message: format!("{code} on {name}"),
            evidence: Vec::new(),
            cause: None,
            root: None,
            fix: None,
        }
    }

    fn plain() -> Traits {
        Traits {
            symptom: false,
            about: None,
        }
    }

    #[test]
    fn one_missing_service_is_one_incident() {
        let svc = ObjectRef::new("v1", "Service", Some("ml"), "mlflow");
        let about = || Traits {
            symptom: false,
            about: Some(svc.clone()),
        };
        let mut findings = vec![
            finding("WKL007", "Job", "train-a"),
            finding("WKL007", "Job", "train-b"),
            finding("SEL005", "SeldonRuntime", "seldon"),
            finding("WKL004", "Job", "other"),
        ];
        let traits = [about(), about(), about(), plain()];
        link(&mut findings, &traits, &ClusterView::default());
        stamp(&mut findings);
        // The finding about the object itself is the root.
        let root = findings[2].id.clone();
        assert_eq!(root, "SEL005:SeldonRuntime/ml/seldon");
        assert_eq!(findings[0].root.as_deref(), Some(root.as_str()));
        assert_eq!(findings[1].root.as_deref(), Some(root.as_str()));
        assert_eq!(findings[2].root, None);
        assert_eq!(findings[3].root, None, "unrelated");
    }

    #[test]
    fn roots_follow_the_whole_chain_and_cycles_end() {
        let mut findings = vec![
            finding("A001", "Deployment", "a"),
            finding("B001", "Deployment", "b"),
            finding("C001", "Deployment", "c"),
        ];
        findings[2].cause = Some(findings[1].as_cause());
        findings[1].cause = Some(findings[0].as_cause());
        stamp(&mut findings);
        assert_eq!(findings[2].root.as_deref(), Some("A001:Deployment/ml/a"));
        assert!(leads_to(&findings, 2, 0));
        assert!(!leads_to(&findings, 0, 2));
        // A cycle (never made by link, which checks) still ends.
        findings[0].cause = Some(findings[2].as_cause());
        stamp(&mut findings);
    }

    #[test]
    fn an_operators_label_leads_past_owners_that_were_not_read() {
        // Knative's Deployment → Revision → Configuration (not read) →
        // Knative Service (not read) → InferenceService.
        let text = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: m-predictor-00001-deployment
  namespace: ml
  labels: {serving.kserve.io/inferenceservice: m}
  ownerReferences:
  - {apiVersion: serving.knative.dev/v1, kind: Revision, name: m-predictor-00001, uid: r, controller: true}
spec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: []}}}
---
apiVersion: serving.knative.dev/v1
kind: Revision
metadata:
  name: m-predictor-00001
  namespace: ml
  ownerReferences:
  - {apiVersion: serving.knative.dev/v1, kind: Configuration, name: m-predictor, uid: c, controller: true}
";
        let mut view = ClusterView::default();
        crate::snapshot::add_file(&mut view, std::path::Path::new("k.yaml"), text.as_bytes())
            .unwrap();
        view.finish();
        let mut findings = vec![
            finding("WKL004", "Deployment", "m-predictor-00001-deployment"),
            finding("KSV001", "InferenceService", "m"),
        ];
        findings[0].subject = ObjectRef::new(
            "apps/v1",
            "Deployment",
            Some("ml"),
            "m-predictor-00001-deployment",
        );
        findings[1].subject = ObjectRef::new(
            "serving.kserve.io/v1beta1",
            "InferenceService",
            Some("ml"),
            "m",
        );
        let symptom = Traits {
            symptom: true,
            about: None,
        };
        link(&mut findings, &[symptom, plain()], &view);
        stamp(&mut findings);
        assert_eq!(
            findings[0].root.as_deref(),
            Some("KSV001:InferenceService/ml/m")
        );
    }
}
