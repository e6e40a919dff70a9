//! An in-memory [`Cluster`] for unit tests: objects by (kind, namespace,
//! name), resourceVersions bumped on every write, patches applied with
//! `json-patch` and refused as the API server refuses them.

use std::cell::RefCell;
use std::collections::BTreeMap;

use json_patch::PatchOperation;
use serde_json::{Value, json};

use super::client::{Cluster, WriteError};
use crate::cluster::ObjectRef;

type Key = (String, String, String);

#[derive(Default)]
pub struct Memory {
    objects: RefCell<BTreeMap<Key, Value>>,
    version: RefCell<u64>,
}

fn key(target: &ObjectRef) -> Key {
    (
        target.kind.clone(),
        target.namespace.clone().unwrap_or_default(),
        target.name.clone(),
    )
}

impl Memory {
    pub fn with(objects: &[Value]) -> Memory {
        let memory = Memory::default();
        for o in objects {
            memory.create(o, false).expect("creates");
        }
        memory
    }

    fn bump(&self) -> String {
        let mut v = self.version.borrow_mut();
        *v += 1;
        v.to_string()
    }
}

impl Cluster for Memory {
    fn get(&self, target: &ObjectRef) -> Result<Option<Value>, WriteError> {
        Ok(self.objects.borrow().get(&key(target)).cloned())
    }

    fn patch(
        &self,
        target: &ObjectRef,
        patch: &[PatchOperation],
        dry_run: bool,
    ) -> Result<Value, WriteError> {
        let rv = self.bump();
        let mut objects = self.objects.borrow_mut();
        let object = objects
            .get_mut(&key(target))
            .ok_or_else(|| WriteError::NotFound(target.to_string()))?;
        let mut changed = object.clone();
        json_patch::patch(&mut changed, patch)
            .map_err(|e| WriteError::Conflict(format!("test failed: {e}")))?;
        if changed["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"] {
            return Err(WriteError::Conflict("the object has been modified".into()));
        }
        changed["metadata"]["resourceVersion"] = json!(rv);
        if !dry_run {
            *object = changed.clone();
        }
        Ok(changed)
    }

    fn delete(
        &self,
        target: &ObjectRef,
        resource_version: Option<&str>,
        dry_run: bool,
    ) -> Result<(), WriteError> {
        let mut objects = self.objects.borrow_mut();
        let found = objects
            .get(&key(target))
            .ok_or_else(|| WriteError::NotFound(target.to_string()))?;
        if resource_version.is_some()
            && found["metadata"]["resourceVersion"].as_str() != resource_version
        {
            return Err(WriteError::Conflict("Precondition failed".into()));
        }
        if !dry_run {
            objects.remove(&key(target));
        }
        Ok(())
    }

    fn create(&self, object: &Value, dry_run: bool) -> Result<Value, WriteError> {
        let rv = self.bump();
        let target = ObjectRef::of_json(object);
        let mut objects = self.objects.borrow_mut();
        if objects.contains_key(&key(&target)) {
            return Err(WriteError::Conflict("already exists".into()));
        }
        let mut stored = object.clone();
        stored["metadata"]["resourceVersion"] = json!(rv);
        stored["metadata"]["uid"] = json!(format!("uid-{rv}"));
        if !dry_run {
            objects.insert(key(&target), stored.clone());
        }
        Ok(stored)
    }
}
