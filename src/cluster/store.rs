//! A list of objects of one kind with an index by namespace and name.

use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// Anything with object metadata: the typed k8s-openapi structs and [`DynamicObject`].
pub trait HasMeta {
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
}

impl<K: k8s_openapi::Metadata<Ty = ObjectMeta>> HasMeta for K {
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
}

/// An object kept as JSON: custom resources and kinds mlopsctl has no struct for.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicObject {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// The whole object as it was read.
    pub data: Value,
}

impl HasMeta for DynamicObject {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl DynamicObject {
    /// A field by JSON pointer (`/spec/replicas`).
    /// `metadata.name`, empty when absent.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// `metadata.namespace`, empty for a cluster-scoped object.
    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }

    pub fn pointer(&self, path: &str) -> Option<&Value> {
        self.data.pointer(path)
    }

    pub fn str_at(&self, path: &str) -> Option<&str> {
        self.pointer(path).and_then(Value::as_str)
    }

    pub fn i64_at(&self, path: &str) -> Option<i64> {
        self.pointer(path).and_then(Value::as_i64)
    }
}

/// Objects of one kind, indexed by (namespace, name); cluster-scoped objects
/// have the empty namespace.
#[derive(Debug, Clone)]
pub struct Store<K> {
    items: Vec<K>,
    index: HashMap<(String, String), usize>,
    /// Positions by namespace, so per-namespace lookups stay linear in total.
    by_namespace: HashMap<String, Vec<usize>>,
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Store {
            items: Vec::new(),
            index: HashMap::new(),
            by_namespace: HashMap::new(),
        }
    }
}

impl<K: HasMeta> Store<K> {
    /// Add an object; a later copy of the same namespace/name replaces the earlier
    /// one (the same object listed twice in a snapshot). Returns whether it was a duplicate.
    pub fn insert(&mut self, item: K) -> bool {
        let key = key_of(item.meta());
        match self.index.get(&key) {
            Some(&i) => {
                self.items[i] = item;
                true
            }
            None => {
                self.by_namespace
                    .entry(key.0.clone())
                    .or_default()
                    .push(self.items.len());
                self.index.insert(key, self.items.len());
                self.items.push(item);
                false
            }
        }
    }

    /// Add every object of `other`, as [`Store::insert`] would one by one.
    pub fn append(&mut self, other: Store<K>) {
        if self.is_empty() {
            *self = other;
        } else {
            for item in other.items {
                self.insert(item);
            }
        }
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&K> {
        self.index
            .get(&(namespace.to_string(), name.to_string()))
            .map(|&i| &self.items[i])
    }

    /// The object at a position, as the ClusterView's indexes record it.
    pub fn at(&self, position: usize) -> Option<&K> {
        self.items.get(position)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, K> {
        self.items.iter()
    }

    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a K> + 'a {
        self.by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.items[i])
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Keep only the objects `keep` accepts, and rebuild the index.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.items.retain(|o| keep(o));
        self.index.clear();
        self.by_namespace.clear();
        for i in 0..self.items.len() {
            let key = key_of(self.items[i].meta());
            self.by_namespace.entry(key.0.clone()).or_default().push(i);
            self.index.insert(key, i);
        }
    }
}

fn key_of(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}
