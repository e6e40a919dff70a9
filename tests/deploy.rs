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
