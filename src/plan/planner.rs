//! From findings to a plan: which fixes run in this pass, which wait for an
//! input or for `--unsafe`, and which are isolated because an earlier one
//! changes the same field of the same object (ruff's rule: one edit per spot
//! per pass; the next pass plans them again on the changed object).

use serde::Serialize;

use super::inputs::{Inputs, Unfilled};
use super::operation::{Change, Operation};
use crate::cluster::ObjectRef;
use crate::report::findings::{Applicability, Finding};

/// What happens to one finding's fix in this pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Status {
    /// Applied in this pass.
    Ready,
    /// Unsafe, and `--unsafe` was not given.
    SkippedUnsafe,
    /// Waits for `--set` values for these inputs.
    NeedsInput { missing: Vec<String> },
    /// A `--set` value the fix refuses (a limit it would lower), and why.
    InputRefused { reason: String },
    /// Declared manual by its check: shown, never applied.
    Manual,
    /// Changes a field an earlier fix of this pass changes.
    Isolated { by: String },
}

/// One finding's fix, planned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub code: String,
    pub subject: ObjectRef,
    pub message: String,
    /// The fix's own words: what it changes, and which Helm or Argo CD values
    /// to change too so the next sync does not undo it.
    pub description: String,
    /// `manual` while inputs are missing, else the least safe operation's.
    pub applicability: Applicability,
    #[serde(flatten)]
    pub status: Status,
    /// The targets Helm or Argo CD render, with the fields the fix changes
    /// there: the values to change too, or the next sync undoes the fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed: Vec<Managed>,
    /// With the inputs filled in when all were given, else with placeholders.
    pub operations: Vec<Operation>,
}

/// A target of a fix that a tool renders, and what the fix changes there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Managed {
    pub target: ObjectRef,
    /// "Helm release flts", "Argo CD application x".
    pub by: String,
    /// What the fix does to the object.
    pub change: ManagedChange,
    /// The fields a patch writes, as paths (`spec.template.spec.containers[0].env`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ManagedChange {
    Patch,
    Delete,
    Create,
}

impl Managed {
    /// The fields a patch changes, for a description that already names the tool.
    pub fn fields_sentence(&self) -> Option<String> {
        (self.change == ManagedChange::Patch && !self.fields.is_empty()).then(|| {
            format!(
                "The fields of {} this fix changes: {}.",
                self.target,
                self.fields.join(", ")
            )
        })
    }

    /// One sentence for the plan: what to change in the tool's source too.
    pub fn sentence(&self) -> String {
        let sync = if self.by.starts_with("Argo CD") {
            "the next Argo CD sync"
        } else {
            "the next `helm upgrade`"
        };
        let (by, target) = (&self.by, &self.target);
        match self.change {
            ManagedChange::Patch => format!(
                "{by} renders {target}: this fix changes {}; set the same in the values that render them, or {sync} undoes it.",
                self.fields.join(", ")
            ),
            ManagedChange::Delete => format!(
                "{by} renders {target}: remove it from the chart too, or {sync} recreates it."
            ),
            ManagedChange::Create => format!(
                "{by} is named in the labels of {target}: add it to the chart too, or {sync} may remove it."
            ),
        }
    }
}

/// The managed targets of these operations, in order, one entry per target.
pub fn managed(operations: &[Operation]) -> Vec<Managed> {
    let mut out: Vec<Managed> = Vec::new();
    for op in operations {
        let Some(by) = &op.managed_by else { continue };
        let change = match op.change {
            Change::JsonPatch(_) => ManagedChange::Patch,
            Change::Delete => ManagedChange::Delete,
            Change::Create(_) | Change::CreateTopic(_) => ManagedChange::Create,
        };
        let target = op.target.object();
        let i = match out.iter().position(|m| m.target == target) {
            Some(i) => i,
            None => {
                out.push(Managed {
                    target,
                    by: by.clone(),
                    change,
                    fields: Vec::new(),
                });
                out.len() - 1
            }
        };
        let entry = &mut out[i];
        if change == ManagedChange::Delete {
            entry.change = ManagedChange::Delete;
            entry.fields.clear();
        }
        if entry.change == ManagedChange::Patch {
            for pointer in op.touched() {
                let field = field_path(&pointer);
                if !entry.fields.contains(&field) {
                    entry.fields.push(field);
                }
            }
        }
    }
    out
}

/// A JSON pointer as a field path: `/spec/containers/0/env/-` →
/// `spec.containers[0].env`; keys with dots or slashes in brackets
/// (`metadata.annotations["kubectl.kubernetes.io/restartedAt"]`).
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        if segment == "-" {
            continue;
        }
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else if segment.contains(['.', '/']) || segment.is_empty() {
            out.push_str(&format!("[{segment:?}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

impl Planned {
    /// `WKL001 Deployment flts/train-lstm`: how other entries refer to this one.
    pub fn label(&self) -> String {
        format!("{} {}", self.code, self.subject.object())
    }
}

/// The plan of one pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub planned: Vec<Planned>,
    /// Findings whose fix has no operations: only a person can fix them.
    pub unfixable: Vec<Finding>,
}

impl Plan {
    pub fn ready(&self) -> impl Iterator<Item = &Planned> {
        self.planned.iter().filter(|p| p.status == Status::Ready)
    }
}

/// Plan the fixes of these findings, in their order.
pub fn build(findings: &[Finding], inputs: &Inputs, allow_unsafe: bool) -> Plan {
    let mut plan = Plan::default();
    for finding in findings {
        let Some(fix) = finding.fix.as_ref().filter(|f| !f.operations.is_empty()) else {
            plan.unfixable.push(finding.clone());
            continue;
        };
        let mut missing = Vec::new();
        let mut refused = None;
        let mut operations = Vec::new();
        for op in &fix.operations {
            match inputs.fill(op) {
                Ok(filled) => operations.push(filled),
                Err(Unfilled::Missing(names)) => {
                    for name in names {
                        if !missing.contains(&name) {
                            missing.push(name);
                        }
                    }
                    operations.push(op.clone());
                }
                Err(Unfilled::Refused(reason)) => {
                    refused.get_or_insert(reason);
                    operations.push(op.clone());
                }
            }
        }
        let applicability = if missing.is_empty() && refused.is_none() {
            operations
                .iter()
                .map(|o| o.applicability)
                .max()
                .unwrap_or(Applicability::Manual)
        } else {
            Applicability::Manual
        };
        let status = match applicability {
            _ if !missing.is_empty() => Status::NeedsInput { missing },
            _ if refused.is_some() => Status::InputRefused {
                reason: refused.expect("some"),
            },
            Applicability::Safe => Status::Ready,
            Applicability::Unsafe if allow_unsafe => Status::Ready,
            Applicability::Unsafe => Status::SkippedUnsafe,
            Applicability::Manual => Status::Manual,
        };
        let managed = managed(&operations);
        let mut description = fix.description.clone();
        for m in &managed {
            // The check's own words may already say who manages the target:
            // then only the fields are news.
            let sentence = if fix.description.contains(&m.by) {
                m.fields_sentence()
            } else {
                Some(m.sentence())
            };
            if let Some(s) = sentence {
                description.push(' ');
                description.push_str(&s);
            }
        }
        plan.planned.push(Planned {
            code: finding.code.clone(),
            subject: finding.subject.clone(),
            message: finding.message.clone(),
            description,
            applicability,
            status,
            managed,
            operations,
        });
    }
    let touches: Vec<Option<Touches>> = plan
        .planned
        .iter()
        .map(|p| (p.status == Status::Ready).then(|| touches(&p.operations)))
        .collect();
    for (i, by) in isolate(&touches).into_iter().enumerate() {
        if let Some(j) = by {
            let label = plan.planned[j].label();
            plan.planned[i].status = Status::Isolated { by: label };
        }
    }
    plan
}

/// The (object, JSON pointer) pairs a fix writes.
pub type Touches = Vec<(ObjectRef, String)>;

fn touches(operations: &[Operation]) -> Touches {
    operations
        .iter()
        .flat_map(|o| o.touched().into_iter().map(|p| (o.target.clone(), p)))
        .collect()
}

/// Whether two JSON pointers name the same field or one lies inside the other.
pub fn overlaps(a: &str, b: &str) -> bool {
    let inside = |outer: &str, inner: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    inside(a, b) || inside(b, a)
}

fn conflict(a: &Touches, b: &Touches) -> bool {
    a.iter()
        .any(|(ta, pa)| b.iter().any(|(tb, pb)| ta == tb && overlaps(pa, pb)))
}

/// For each fix taking part (`Some`), `None` when it runs in this pass or
/// `Some(j)`: the earlier running fix it conflicts with. The first fix always
/// runs; a later one runs unless it conflicts with one that runs.
pub fn isolate(fixes: &[Option<Touches>]) -> Vec<Option<usize>> {
    let mut running: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(fixes.len());
    for (i, fix) in fixes.iter().enumerate() {
        let Some(fix) = fix else {
            out.push(None);
            continue;
        };
        let by = running
            .iter()
            .copied()
            .find(|&j| conflict(fixes[j].as_ref().expect("running fixes take part"), fix));
        if by.is_none() {
            running.push(i);
        }
        out.push(by);
    }
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::plan::operation::placeholder;
    use crate::report::findings::{Fix, Severity};

    fn object(name: &str) -> ObjectRef {
        ObjectRef::new("apps/v1", "Deployment", Some("ml"), name)
    }

    fn finding(code: &str, name: &str, fix: Fix) -> Finding {
        Finding {
            id: String::new(),
            code: code.into(),
            check: "c".into(),
            severity: Severity::Error,
            subject: object(name).with_field("spec"),
            message: format!("{code} on {name}"),
            evidence: vec![],
            cause: None,
            root: None,
            fix: Some(fix),
        }
    }

    fn set(name: &str, path: &str, applicability: Applicability) -> Operation {
        Operation::patch(&object(name), &ObjectMeta::default(), applicability).add(path, json!(1))
    }

    #[test]
    fn pointers_read_as_field_paths() {
        assert_eq!(
            field_path("/spec/template/spec/containers/0/env/-"),
            "spec.template.spec.containers[0].env"
        );
        assert_eq!(
            field_path("/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"),
            r#"spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]"#
        );
        assert_eq!(field_path("/spec/replicas"), "spec.replicas");
    }

    #[test]
    fn helm_managed_targets_name_the_fields_to_carry_into_the_values() {
        let helm = ObjectMeta {
            labels: Some([("app.kubernetes.io/managed-by".into(), "Helm".into())].into()),
            annotations: Some([("meta.helm.sh/release-name".into(), "flts".into())].into()),
            ..Default::default()
        };
        let argo = ObjectMeta {
            labels: Some([("argocd.argoproj.io/instance".into(), "serving".into())].into()),
            ..Default::default()
        };
        let fix = Fix::new(Applicability::Unsafe, "Do it.")
            .with_operation(
                Operation::patch(&object("a"), &helm, Applicability::Safe)
                    .add("/spec/replicas", json!(2))
                    .add("/spec/template/spec/containers/0/env/-", json!({})),
            )
            .with_operation(Operation::delete(
                &object("b"),
                &argo,
                Applicability::Unsafe,
            ))
            .with_operation(set("c", "/spec/c", Applicability::Safe));
        let plan = build(&[finding("A1", "a", fix)], &Inputs::default(), true);
        let p = &plan.planned[0];
        assert_eq!(p.managed.len(), 2, "{:#?}", p.managed);
        assert_eq!(p.managed[0].by, "Helm release flts");
        assert_eq!(
            p.managed[0].fields,
            ["spec.replicas", "spec.template.spec.containers[0].env"]
        );
        assert_eq!(p.managed[1].change, ManagedChange::Delete);
        assert_eq!(
            p.description,
            "Do it. Helm release flts renders Deployment ml/a: this fix changes spec.replicas, \
             spec.template.spec.containers[0].env; set the same in the values that render them, \
             or the next `helm upgrade` undoes it. Argo CD application serving renders \
             Deployment ml/b: remove it from the chart too, or the next Argo CD sync recreates it."
        );
    }

    #[test]
    fn pointers_overlap_on_segments_not_on_characters() {
        assert!(overlaps("/spec/replicas", "/spec/replicas"));
        assert!(overlaps("/spec", "/spec/replicas"));
        assert!(overlaps("", "/spec"));
        assert!(!overlaps("/spec/replicas", "/spec/replicasMax"));
        assert!(!overlaps("/spec/replicas", "/spec/maxReplicas"));
    }

    #[test]
    fn statuses_follow_applicability_inputs_and_unsafe() {
        let needs = set("a", "/spec/a", Applicability::Safe)
            .add("/spec/env", placeholder("X"))
            .input("X", "x");
        let findings = vec![
            finding("A1", "a", Fix::manual("set X").with_operation(needs)),
            finding(
                "B1",
                "b",
                Fix::new(Applicability::Unsafe, "u").with_operation(set(
                    "b",
                    "/spec/b",
                    Applicability::Unsafe,
                )),
            ),
            finding("C1", "c", Fix::manual("by hand")),
        ];
        let plan = build(&findings, &Inputs::default(), false);
        assert_eq!(
            plan.planned[0].status,
            Status::NeedsInput {
                missing: vec!["X".into()]
            }
        );
        assert_eq!(plan.planned[0].applicability, Applicability::Manual);
        assert_eq!(plan.planned[1].status, Status::SkippedUnsafe);
        assert_eq!(plan.unfixable.len(), 1);

        let given = Inputs::parse(&["X=v"]).unwrap();
        let plan = build(&findings, &given, true);
        assert_eq!(plan.planned[0].applicability, Applicability::Safe);
        assert_eq!(plan.ready().count(), 2);
        assert!(plan.planned[0].operations[0].inputs.is_empty());
    }

    #[test]
    fn a_second_fix_of_the_same_field_waits_for_the_next_pass() {
        let env = "/spec/template/spec/containers/0/env/-";
        let findings = vec![
            finding(
                "A1",
                "a",
                Fix::new(Applicability::Safe, "first").with_operation(set(
                    "a",
                    env,
                    Applicability::Safe,
                )),
            ),
            finding(
                "A1",
                "a",
                Fix::new(Applicability::Safe, "second").with_operation(set(
                    "a",
                    env,
                    Applicability::Safe,
                )),
            ),
            finding(
                "A1",
                "b",
                Fix::new(Applicability::Safe, "other object").with_operation(set(
                    "b",
                    env,
                    Applicability::Safe,
                )),
            ),
        ];
        let plan = build(&findings, &Inputs::default(), false);
        assert_eq!(plan.planned[0].status, Status::Ready);
        assert_eq!(
            plan.planned[1].status,
            Status::Isolated {
                by: "A1 Deployment ml/a".into()
            }
        );
        assert_eq!(plan.planned[2].status, Status::Ready);
    }

    fn arb_touches() -> impl Strategy<Value = Option<Touches>> {
        let pointer = prop::sample::select(vec![
            "",
            "/spec",
            "/spec/replicas",
            "/spec/maxReplicas",
            "/spec/template/spec/containers/0/env/-",
            "/metadata/annotations",
        ]);
        let target = prop::sample::select(vec!["a", "b", "c"]);
        prop::option::weighted(
            0.8,
            prop::collection::vec((target, pointer), 1..3).prop_map(|v| {
                v.into_iter()
                    .map(|(t, p)| (object(t), p.to_string()))
                    .collect()
            }),
        )
    }

    proptest! {
        #[test]
        fn isolation_runs_a_maximal_conflict_free_prefix_first_set(
            fixes in prop::collection::vec(arb_touches(), 0..12)
        ) {
            let by = isolate(&fixes);
            prop_assert_eq!(by.len(), fixes.len());
            let running: Vec<usize> = (0..fixes.len())
                .filter(|&i| fixes[i].is_some() && by[i].is_none())
                .collect();
            // No two running fixes touch the same field of the same object.
            for (x, &i) in running.iter().enumerate() {
                for &j in &running[x + 1..] {
                    prop_assert!(!conflict(fixes[i].as_ref().unwrap(), fixes[j].as_ref().unwrap()));
                }
            }
            // Every held-back fix conflicts with an earlier running one.
            for (i, b) in by.iter().enumerate() {
                if let Some(j) = *b {
                    prop_assert!(j < i && running.contains(&j));
                    prop_assert!(conflict(fixes[j].as_ref().unwrap(), fixes[i].as_ref().unwrap()));
                }
            }
            // The first taking part always runs; those not taking part are never held.
            if let Some(first) = fixes.iter().position(Option::is_some) {
                prop_assert!(by[first].is_none());
            }
            for (i, f) in fixes.iter().enumerate() {
                if f.is_none() {
                    prop_assert!(by[i].is_none());
                }
            }
        }
    }
}
