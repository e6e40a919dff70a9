//! Objects of a ClusterView as JSON, and changed objects put back into a view:
//! what the offline verify step runs the checks on.

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{ClusterView, HasMeta, Kind, ObjectRef, Store};
use crate::snapshot::{Doc, ObjectSink};

/// An object of the view as the API server would return it, if it is there.
pub fn get(view: &ClusterView, target: &ObjectRef) -> Option<Value> {
    fn json<K: Serialize + HasMeta>(s: &Store<K>, ns: &str, name: &str) -> Option<Value> {
        s.get(ns, name)
            .map(|o| serde_json::to_value(o).expect("objects serialize"))
    }
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_str();
    match Kind::from_object(&target.api_version, &target.kind)? {
        Kind::Namespace => json(&view.namespaces, "", name),
        Kind::Node => json(&view.nodes, "", name),
        Kind::Pod => json(&view.pods, ns, name),
        Kind::Service => json(&view.services, ns, name),
        Kind::Endpoints => json(&view.endpoints, ns, name),
        Kind::EndpointSlice => json(&view.endpoint_slices, ns, name),
        Kind::ConfigMap => json(&view.config_maps, ns, name),
        Kind::Secret => json(&view.secrets, ns, name),
        Kind::Event => json(&view.events, ns, name),
        Kind::Deployment => json(&view.deployments, ns, name),
        Kind::ReplicaSet => json(&view.replica_sets, ns, name),
        Kind::StatefulSet => json(&view.stateful_sets, ns, name),
        Kind::DaemonSet => json(&view.daemon_sets, ns, name),
        Kind::Job => json(&view.jobs, ns, name),
        Kind::CronJob => json(&view.cron_jobs, ns, name),
        Kind::HorizontalPodAutoscaler => json(&view.hpas, ns, name),
        custom => view.custom_get(custom, ns, name).map(|o| o.data.clone()),
    }
}

/// Put a changed object into the view (replacing the one of the same name), or
/// remove the target when `object` is `None`. Rebuilds the view's indexes.
pub fn put(view: &mut ClusterView, target: &ObjectRef, object: Option<Value>) -> Result<()> {
    match object {
        Some(object) => ObjectSink::new(view).add(Doc::Value(object))?,
        None => remove(view, target)?,
    }
    view.finish();
    Ok(())
}

fn remove(view: &mut ClusterView, target: &ObjectRef) -> Result<()> {
    fn drop_from<K: HasMeta>(s: &mut Store<K>, ns: &str, name: &str) {
        s.retain(|o| {
            let m = o.meta();
            !(m.namespace.as_deref().unwrap_or_default() == ns && m.name.as_deref() == Some(name))
        });
    }
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_str();
    let Some(kind) = Kind::from_object(&target.api_version, &target.kind) else {
        bail!("cannot remove {target}: mlopsctl does not read its kind");
    };
    match kind {
        Kind::Namespace => drop_from(&mut view.namespaces, "", name),
        Kind::Node => drop_from(&mut view.nodes, "", name),
        Kind::Pod => drop_from(&mut view.pods, ns, name),
        Kind::Service => drop_from(&mut view.services, ns, name),
        Kind::Endpoints => drop_from(&mut view.endpoints, ns, name),
        Kind::EndpointSlice => drop_from(&mut view.endpoint_slices, ns, name),
        Kind::ConfigMap => drop_from(&mut view.config_maps, ns, name),
        Kind::Secret => drop_from(&mut view.secrets, ns, name),
        Kind::Event => drop_from(&mut view.events, ns, name),
        Kind::Deployment => drop_from(&mut view.deployments, ns, name),
        Kind::ReplicaSet => drop_from(&mut view.replica_sets, ns, name),
        Kind::StatefulSet => drop_from(&mut view.stateful_sets, ns, name),
        Kind::DaemonSet => drop_from(&mut view.daemon_sets, ns, name),
        Kind::Job => drop_from(&mut view.jobs, ns, name),
        Kind::CronJob => drop_from(&mut view.cron_jobs, ns, name),
        Kind::HorizontalPodAutoscaler => drop_from(&mut view.hpas, ns, name),
        custom => {
            if let Some(store) = view.custom.get_mut(&custom) {
                drop_from(store, ns, name);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::analyzers::testing::fixture;

    fn trainer() -> ObjectRef {
        ObjectRef::new("apps/v1", "Deployment", Some("flts"), "train-lstm")
    }

    #[test]
    fn typed_objects_come_back_with_api_version_and_kind() {
        let view = fixture("training-pipeline");
        let object = get(&view, &trainer()).expect("in the fixture");
        assert_eq!(object["kind"], json!("Deployment"));
        assert_eq!(object["apiVersion"], json!("apps/v1"));
        assert!(object["metadata"]["resourceVersion"].is_string());
    }

    #[test]
    fn put_replaces_and_removes() {
        let mut view = fixture("training-pipeline");
        let mut object = get(&view, &trainer()).unwrap();
        object["spec"]["replicas"] = json!(7);
        put(&mut view, &trainer(), Some(object)).unwrap();
        assert_eq!(
            get(&view, &trainer()).unwrap()["spec"]["replicas"],
            json!(7)
        );
        put(&mut view, &trainer(), None).unwrap();
        assert_eq!(get(&view, &trainer()), None);
    }
}
