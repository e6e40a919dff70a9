//! Label selectors as the API server evaluates them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Does a `LabelSelector` (matchLabels + matchExpressions) select these labels?
/// An empty selector selects everything, as for a Deployment; a `None` selector
/// selects nothing, as for a Service without one.
pub fn selects(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let labels_ok = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    labels_ok
        && selector.match_expressions.iter().flatten().all(|expr| {
            let value = labels.get(&expr.key);
            let values = expr.values.as_deref().unwrap_or_default();
            match expr.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                // An operator the API server would have rejected: select nothing.
                _ => false,
            }
        })
}

/// Does a Service-style equality selector (a plain map) select these labels?
/// An empty map selects nothing: a Service without a selector has manual endpoints.
pub fn map_selects(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    !selector.is_empty()
        && labels.is_some_and(|labels| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// `app=x,tier=y` as kubectl prints a selector.
pub fn describe(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.as_deref().unwrap_or_default().join(",");
        parts.push(match expr.operator.as_str() {
            "Exists" => expr.key.clone(),
            "DoesNotExist" => format!("!{}", expr.key),
            op => format!("{} {} ({values})", expr.key, op.to_lowercase()),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "train")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["ml", "batch"]),
                expr("canary", "DoesNotExist", &[]),
                expr("zone", "NotIn", &["b"]),
            ]),
        };
        assert!(selects(
            &sel,
            Some(&labels(&[("app", "train"), ("tier", "ml")]))
        ));
        assert!(!selects(
            &sel,
            Some(&labels(&[("app", "train"), ("tier", "web")]))
        ));
        assert!(!selects(
            &sel,
            Some(&labels(&[
                ("app", "train"),
                ("tier", "ml"),
                ("canary", "1")
            ]))
        ));
        assert!(!selects(
            &sel,
            Some(&labels(&[("app", "train"), ("tier", "ml"), ("zone", "b")]))
        ));
        assert!(!selects(&sel, None));
        assert_eq!(
            describe(&sel),
            "app=train,tier in (ml,batch),!canary,zone notin (b)"
        );
    }

    #[test]
    fn empty_selectors() {
        assert!(selects(&LabelSelector::default(), None));
        assert!(!map_selects(&BTreeMap::new(), Some(&labels(&[("a", "b")]))));
        assert!(map_selects(
            &labels(&[("a", "b")]),
            Some(&labels(&[("a", "b"), ("c", "d")]))
        ));
    }
}

#[cfg(test)]
mod properties {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use proptest::prelude::*;

    use super::*;

    fn label_map() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map("[a-c]", "[x-z]", 0..4)
    }

    fn req(key: String, op: &str, values: Vec<String>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key,
            operator: op.into(),
            values: Some(values),
        }
    }

    proptest! {
        /// matchLabels selects exactly the label sets that contain it.
        #[test]
        fn match_labels_is_subset(sel in label_map(), labels in label_map()) {
            let selector = LabelSelector { match_labels: Some(sel.clone()), match_expressions: None };
            let subset = sel.iter().all(|(k, v)| labels.get(k) == Some(v));
            prop_assert_eq!(selects(&selector, Some(&labels)), subset);
            // A Service selector agrees, except that an empty one selects nothing.
            prop_assert_eq!(map_selects(&sel, Some(&labels)), subset && !sel.is_empty());
        }

        /// In and NotIn are complements; so are Exists and DoesNotExist.
        #[test]
        fn operators_are_complements(key in "[a-c]", values in prop::collection::vec("[x-z]", 1..3), labels in label_map()) {
            let one = |op: &str| LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![req(key.clone(), op, values.clone())]),
            };
            prop_assert_ne!(selects(&one("In"), Some(&labels)), selects(&one("NotIn"), Some(&labels)));
            prop_assert_ne!(selects(&one("Exists"), Some(&labels)), selects(&one("DoesNotExist"), Some(&labels)));
        }

        /// Adding requirements (new keys) never selects more.
        #[test]
        fn requirements_only_narrow(sel in label_map(), extra in label_map(), labels in label_map()) {
            let base = LabelSelector { match_labels: Some(sel.clone()), match_expressions: None };
            let mut wider = sel.clone();
            for (k, v) in extra {
                wider.entry(k).or_insert(v);
            }
            let narrow = LabelSelector { match_labels: Some(wider), match_expressions: None };
            prop_assert!(!selects(&narrow, Some(&labels)) || selects(&base, Some(&labels)));
        }
    }
}
