//! `seldon-server-scale`: Servers whose scaling spec Seldon rejects
//! (`replicas` above `maxReplicas` or below `minReplicas`), as a `kubectl scale
//! server … --replicas=N` beyond maxReplicas leaves them: the operator reports
//! `scaling spec is invalid: number of replicas N must be <= max replicas M`.

use serde::Deserialize;
use serde_json::json;

use crate::analyzers::seldon::model as seldon;
use crate::analyzers::seldon::patches;
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, Kind};
use crate::report::findings::{Applicability, Fix};

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "seldon-server-scale",
    summary: "Seldon Servers whose replicas fall outside minReplicas/maxReplicas, so the scale is rejected",
    needs: &[Kind::SeldonServer],
    optional: &[Kind::Event],
    data: &[],
    build: build::<ServerScale>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServerScale {}

const INVALID: &str = "scaling spec is invalid";

impl Analyzer for ServerScale {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if !view.has(Kind::SeldonServer) {
            return Err(seldon::absent(view, "no Servers were read"));
        }
        if view.custom(Kind::SeldonServer).next().is_none() {
            return Err("not applicable: no Servers".into());
        }
        let mut drafts = Vec::new();
        for s in view.custom(Kind::SeldonServer) {
            let name = s.name();
            let ns = s.namespace();
            let replicas = s.i64_at("/spec/replicas").unwrap_or(1);
            let min = s.i64_at("/spec/minReplicas").filter(|m| *m > 0);
            let max = s.i64_at("/spec/maxReplicas").filter(|m| *m > 0);
            let mut evidence: Vec<String> = crate::analyzers::conditions::conditions(s)
                .into_iter()
                .filter(|c| c.reason.contains(INVALID) || c.message.contains(INVALID))
                .map(|c| c.describe())
                .collect();
            for e in view.events_for(Kind::SeldonServer, ns, name) {
                let msg = e.message.as_deref().unwrap_or_default();
                if msg.contains(INVALID) {
                    evidence.push(format!(
                        "event {}: {msg}",
                        e.reason.as_deref().unwrap_or_default()
                    ));
                }
            }
            let server = seldon::object_ref(Kind::SeldonServer, s);
            let above = max.filter(|m| replicas > *m);
            let below = min.filter(|m| replicas < *m);
            let (message, body, what) = match (above, below) {
                (Some(m), _) => (
                    format!(
                        "Server {name} asks for {replicas} replicas but maxReplicas is {m}, so Seldon rejects the scale and keeps the old replica count"
                    ),
                    json!({"spec": {"maxReplicas": replicas}}),
                    format!("raise maxReplicas from {m} to {replicas}"),
                ),
                (None, Some(m)) => (
                    format!(
                        "Server {name} asks for {replicas} replicas but minReplicas is {m}, so Seldon rejects the scale"
                    ),
                    json!({"spec": {"replicas": m}}),
                    format!("raise replicas from {replicas} to {m}"),
                ),
                (None, None) if !evidence.is_empty() => (
                    format!("Seldon rejected the scaling spec of Server {name}"),
                    serde_json::Value::Null,
                    String::new(),
                ),
                (None, None) => continue,
            };
            evidence.insert(
                0,
                format!(
                    "spec.replicas {replicas}, minReplicas {}, maxReplicas {}",
                    min.map_or("unset".to_string(), |m| m.to_string()),
                    max.map_or("unset".to_string(), |m| m.to_string())
                ),
            );
            let fix = if body.is_null() {
                Fix::manual(format!(
                    "Make spec.replicas of Server {name} lie within minReplicas..maxReplicas."
                ))
            } else {
                Fix::new(
                    Applicability::Safe,
                    format!(
                        "Change the bounds with the replicas: {what} on Server {name}. `kubectl scale` only sets replicas, so it cannot get past maxReplicas; a merge patch sets both. Only adds capacity."
                    ),
                )
                .with_kubectl(patches::patch_command(&server, "merge", &body))
            };
            let mut d = Draft::new(server.with_field("spec.maxReplicas"), message);
            d.evidence = evidence;
            drafts.push(d.fix(fix));
        }
        Ok(drafts)
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testing::summary;
    use crate::analyzers::testing::{fixture, run};

    #[test]
    fn scale_beyond_max_replicas() {
        let drafts = run("seldon-server-scale", "{}", &fixture("seldon-misconfig"));
        assert_eq!(drafts.len(), 1);
        insta::assert_yaml_snapshot!(summary(&drafts));
    }

    #[test]
    fn quiet_when_healthy() {
        assert!(run("seldon-server-scale", "{}", &fixture("healthy-seldon")).is_empty());
        assert!(run("seldon-server-scale", "{}", &fixture("seldon-mesh-broken")).is_empty());
    }
}
