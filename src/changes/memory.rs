//! An in-memory [`Cluster`] for unit tests: objects by (kind, namespace,
//! name), resourceVersions bumped on every write, patches applied with
//! `json-patch` and refused as the API server refuses them.

use std::cell::RefCell;
use std::collections::BTreeMap;

use json_patch::PatchOperation;
use serde_json::{Value, json};

use super::client::{Cluster, Guard, WriteError};
use crate::cluster::ObjectRef;

type Key = (String, String, String);

#[derive(Default)]
pub struct Memory {
    objects: RefCell<BTreeMap<Key, Value>>,
    version: RefCell<u64>,
    /// Writes refused: (verb, kind, also in a dry run).
    refused: RefCell<Vec<(&'static str, String, bool)>>,
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

    /// Refuse `verb` ("patch", "delete", "create") on objects of `kind` with
    /// a 403, as RBAC would; `dry_run_too` false refuses only real writes
    /// (the object changed between validation and the write).
    pub fn refuse(&self, verb: &'static str, kind: &str, dry_run_too: bool) {
        self.refused
            .borrow_mut()
            .push((verb, kind.to_string(), dry_run_too));
    }

    fn check(&self, verb: &str, kind: &str, dry_run: bool) -> Result<(), WriteError> {
        let refused = self.refused.borrow();
        match refused
            .iter()
            .find(|(v, k, dry)| *v == verb && k == kind && (*dry || !dry_run))
        {
            Some(_) => Err(WriteError::Forbidden(format!("{verb} {kind} is forbidden"))),
            None => Ok(()),
        }
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
        self.check("patch", &target.kind, dry_run)?;
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

    fn delete(&self, target: &ObjectRef, guard: &Guard, dry_run: bool) -> Result<(), WriteError> {
        self.check("delete", &target.kind, dry_run)?;
        let mut objects = self.objects.borrow_mut();
        let found = objects
            .get(&key(target))
            .ok_or_else(|| WriteError::NotFound(target.to_string()))?;
        let held = match guard {
            Guard::ResourceVersion(rv) => found["metadata"]["resourceVersion"] == rv.as_str(),
            Guard::Uid(uid) => found["metadata"]["uid"] == uid.as_str(),
            Guard::None => true,
        };
        if !held {
            return Err(WriteError::Conflict("Precondition failed".into()));
        }
        if !dry_run {
            objects.remove(&key(target));
        }
        Ok(())
    }

    fn create(&self, object: &Value, dry_run: bool) -> Result<Value, WriteError> {
        let target = ObjectRef::of_json(object);
        self.check("create", &target.kind, dry_run)?;
        let rv = self.bump();
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

    fn identity(&self) -> Option<String> {
        Some("memory".into())
    }
}
