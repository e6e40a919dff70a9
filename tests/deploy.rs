//! The shipped RBAC grants exactly what the analyzers declare they read.

use std::path::PathBuf;

#[test]
fn doctor_role_matches_the_collectors_needs() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/rbac-doctor.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let rules = mlopsctl::rbac::rules_yaml(&mlopsctl::rbac::doctor_rules());
    let (start, end) = ("# rules:start\n", "# rules:end");
    let a = text.find(start).expect("rules:start marker") + start.len();
    let b = text.find(end).expect("rules:end marker");
    if text[a..b] != rules {
        if std::env::var_os("UPDATE_DEPLOY").is_some() {
            std::fs::write(&path, format!("{}{rules}{}", &text[..a], &text[b..])).unwrap();
        } else {
            panic!(
                "deploy/rbac-doctor.yaml is stale: run `UPDATE_DEPLOY=1 cargo test --test deploy`"
            );
        }
    }
    // Read-only: no verb that writes.
    for verb in [
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
        "*",
    ] {
        assert!(!rules.contains(verb), "doctor's role must not grant {verb}");
    }
}

#[test]
fn deploy_manifests_parse_as_kubernetes_objects() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let view = mlopsctl::snapshot::load(&dir).expect("deploy/ holds valid Kubernetes YAML");
    assert_eq!(view.cron_jobs.len(), 1);
}

/// Every change a shipped fix plans on any fixture is granted by the fix role.
#[test]
fn fix_role_grants_every_planned_change() {
    use mlopsctl::catalogue::Catalogue;
    use mlopsctl::cluster::Kind;
    use mlopsctl::plan::Change;

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("deploy/rbac-fix.yaml")).unwrap();
    let role: serde_json::Value = mlopsctl::yaml::from_str(&text).unwrap();
    let granted = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has = |field: &str, v: &str| r[field].as_array().unwrap().iter().any(|x| x == v);
            has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
        })
    };
    let catalogue = Catalogue::load(&[]).unwrap();
    let checks = catalogue.select(&[], &[]).unwrap();
    let mut planned = 0;
    for entry in std::fs::read_dir(root.join("fixtures")).unwrap() {
        let dir = entry.unwrap().path();
        let view = mlopsctl::snapshot::load(&dir).unwrap();
        let report = mlopsctl::report::engine::run(&checks, &view, String::new());
        for op in report
            .findings
            .iter()
            .filter_map(|f| f.fix.as_ref())
            .flat_map(|fix| &fix.operations)
        {
            // The fix's verb, and the one undo takes it back with.
            let verbs = match op.change {
                Change::JsonPatch(_) => ["patch", "patch"],
                Change::Delete => ["delete", "create"],
                Change::Create(_) => ["create", "delete"],
                // Topics are created through Kafka, not the API server.
                Change::CreateTopic(_) => continue,
            };
            let kind =
                Kind::from_object(&op.target.api_version, &op.target.kind).expect("a known kind");
            let info = kind.info();
            for verb in verbs {
                assert!(
                    granted(info.group, info.plural, verb),
                    "{verb} {} ({}) is not in rbac-fix.yaml",
                    info.plural,
                    info.group
                );
            }
            assert!(
                granted(info.group, info.plural, "get"),
                "get {} is not in rbac-fix.yaml",
                info.plural
            );
            planned += 1;
        }
    }
    assert!(planned > 0, "the fixtures plan some fixes");
    // Which cluster a journal belongs to: the kube-system namespace's uid.
    assert!(
        granted("", "namespaces", "get"),
        "get namespaces (kube-system)"
    );
}
