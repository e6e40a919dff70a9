//! The read-only RBAC rules doctor needs, derived from what the analyzers
//! declare, so `deploy/` can be checked against the code.

use std::collections::{BTreeMap, BTreeSet};

use crate::analyzers::{ANALYZERS, Data};

/// One rule of a ClusterRole: an API group, its resources and verbs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub group: String,
    pub resources: Vec<String>,
    pub verbs: Vec<&'static str>,
}

/// Rules for every analyzer: `list` on each kind read, `get` on the pod log
/// and proxy subresources where logs or probes are read. Nothing else.
pub fn doctor_rules() -> Vec<Rule> {
    let mut lists: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut gets: BTreeSet<&str> = BTreeSet::new();
    for def in ANALYZERS {
        for kind in def.needs.iter().chain(def.optional) {
            let info = kind.info();
            lists
                .entry(info.group.to_string())
                .or_default()
                .insert(info.plural.to_string());
        }
        for data in def.data {
            match data {
                Data::Logs => {
                    gets.insert("pods/log");
                }
                Data::Probes => {
                    gets.extend(["pods/proxy", "services/proxy"]);
                }
                Data::Kafka => {}
            }
        }
    }
    let mut rules: Vec<Rule> = lists
        .into_iter()
        .map(|(group, resources)| Rule {
            group,
            resources: resources.into_iter().collect(),
            verbs: vec!["list"],
        })
        .collect();
    if !gets.is_empty() {
        rules.push(Rule {
            group: String::new(),
            resources: gets.into_iter().map(String::from).collect(),
            verbs: vec!["get"],
        });
    }
    rules
}

/// The rules as the `rules:` YAML of a ClusterRole.
pub fn rules_yaml(rules: &[Rule]) -> String {
    let mut out = String::from("rules:\n");
    for r in rules {
        out.push_str(&format!("  - apiGroups: [\"{}\"]\n", r.group));
        out.push_str(&format!("    resources: [{}]\n", r.resources.join(", ")));
        out.push_str(&format!("    verbs: [{}]\n", r.verbs.join(", ")));
    }
    out
}
