//! The probe repairs as an operation: JSON-patch operations on one container
//! of the pod template, guarded by `test`s on what they change; and the JSON
//! pointer of that container, which every repair starts from.

use k8s_openapi::api::core::v1::Container;
use serde_json::{Value, json};

use crate::cluster::Workload;
use crate::plan::Operation;
use crate::report::findings::Applicability;

/// The probe repair as an operation, guarded by the container's name and by
/// the current value of every field it changes (for an append, the list).
/// Unsafe: changing the pod template rolls every pod of the workload.
pub(super) fn patch_probes(w: &Workload<'_>, c: &Container, ops: &[&Value]) -> Operation {
    let base = container_pointer(w, c);
    let current = serde_json::to_value(c).expect("containers serialise");
    let mut op = Operation::patch(&w.object_ref(), w.meta, Applicability::Unsafe)
        .test(&format!("{base}/name"), json!(c.name));
    let mut tested: Vec<String> = Vec::new();
    for o in ops {
        let path = o["path"].as_str().unwrap_or_default();
        let guarded = path.strip_suffix("/-").unwrap_or(path);
        let Some(inner) = guarded.strip_prefix(&base) else {
            continue;
        };
        if let Some(value) = current.pointer(inner)
            && !tested.iter().any(|t| t == guarded)
        {
            op = op.test(guarded, value.clone());
            tested.push(guarded.to_string());
        }
    }
    for o in ops {
        let path = o["path"].as_str().unwrap_or_default();
        op = match o["op"].as_str() {
            Some("replace") => op.replace(path, o["value"].clone()),
            _ => op.add(path, o["value"].clone()),
        };
    }
    op
}

/// `/spec/template/spec/containers/0`
pub(super) fn container_pointer(w: &Workload<'_>, c: &Container) -> String {
    let (list, i) = w.container_index(&c.name).unwrap_or(("containers", 0));
    format!("{}/{list}/{i}", w.spec_pointer())
}
