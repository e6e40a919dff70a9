//! `metrics-api`: HPAs that need the resource metrics API (metrics-server) or the
//! external metrics API (KEDA's metrics adapter) while that API is not registered
//! or not available, judged from the APIService and the HPAs' own conditions.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::Deserialize;

use crate::analyzers::autoscaling::scaling::{self, hpa_condition, metrics, qualified};
use crate::analyzers::conditions::{self, Condition};
use crate::analyzers::{Analyzer, AnalyzerDef, Draft, build};
use crate::cluster::{ClusterView, DynamicObject, Kind, ObjectRef};
use crate::report::findings::Fix;

pub static DEF: AnalyzerDef = AnalyzerDef {
    name: "metrics-api",
    summary: "HPAs whose metrics API (metrics-server, KEDA's adapter) is not registered or not available",
    needs: &[Kind::HorizontalPodAutoscaler],
    // Without APIServices the check still judges from the HPAs' own words.
    optional: &[
        Kind::ApiService,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Endpoints,
        Kind::Deployment,
    ],
    data: &[],
    build: build::<MetricsApi>,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsApi {}

/// One aggregated metrics API and how the HPA controller reports its failure.
struct Api {
    apiservice: &'static str,
    what: &'static str,
    /// Condition/event reasons of HPAs that failed to read a metric of this API.
    reasons: &'static [&'static str],
    /// The metrics client's words when the API itself failed.
    marker: &'static str,
    uses: fn(&k8s_openapi::api::autoscaling::v2::MetricSpec) -> bool,
    /// What the HPAs cannot read without it.
    reads: &'static str,
    /// Who serves it, and how a cluster-admin (re)installs that.
    server: &'static str,
    install: &'static str,
    install_command: &'static str,
}

const METRICS_SERVER_INSTALL: &str = "kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml";
const KEDA_INSTALL: &str =
    "helm upgrade --install keda kedacore/keda --namespace keda --create-namespace";

const APIS: [Api; 3] = [
    Api {
        apiservice: "v1beta1.metrics.k8s.io",
        what: "resource metrics API (metrics-server)",
        reasons: &[
            "FailedGetResourceMetric",
            "FailedGetContainerResourceMetric",
        ],
        marker: "unable to fetch metrics from resource metrics API",
        uses: |m| m.resource.is_some() || m.container_resource.is_some(),
        reads: "CPU or memory usage",
        server: "metrics-server",
        install: "install metrics-server (kubernetes-sigs/metrics-server). On kind, k3d, minikube or Docker Desktop the kubelet certificates are self-signed: add `--kubelet-insecure-tls` to its args",
        install_command: METRICS_SERVER_INSTALL,
    },
    Api {
        apiservice: "v1beta1.external.metrics.k8s.io",
        what: "external metrics API",
        reasons: &["FailedGetExternalMetric"],
        marker: "unable to fetch metrics from external metrics API",
        uses: |m| m.external.is_some(),
        reads: "external metrics",
        server: "the external metrics adapter",
        install: "install the external metrics adapter that serves it; for KEDA that is keda-operator-metrics-apiserver, which the KEDA chart installs",
        install_command: KEDA_INSTALL,
    },
    Api {
        apiservice: "v1beta1.custom.metrics.k8s.io",
        what: "custom metrics API",
        reasons: &["FailedGetPodsMetric", "FailedGetObjectMetric"],
        marker: "unable to fetch metrics from custom metrics API",
        uses: |m| m.pods.is_some() || m.object.is_some(),
        reads: "custom (Pods or Object) metrics",
        server: "the custom metrics adapter",
        install: "install the custom metrics adapter that serves it (e.g. prometheus-adapter) and configure the metrics the HPAs ask for",
        install_command: "kubectl get apiservice v1beta1.custom.metrics.k8s.io",
    },
];

impl Analyzer for MetricsApi {
    fn analyze(&self, view: &ClusterView) -> Result<Vec<Draft>, String> {
        if view.hpas.is_empty() {
            return Err("not applicable: no HorizontalPodAutoscalers".into());
        }
        let mut drafts = Vec::new();
        for api in &APIS {
            let users: Vec<&HorizontalPodAutoscaler> = view
                .hpas
                .iter()
                .filter(|h| metrics(h).iter().any(api.uses))
                .collect();
            if users.is_empty() {
                continue;
            }
            let failing: Vec<(&HorizontalPodAutoscaler, Condition)> = users
                .iter()
                .filter_map(|h| {
                    hpa_condition(h, "ScalingActive")
                        .filter(|c| {
                            c.is("False")
                                && api.reasons.contains(&c.reason.as_str())
                                && api_down(api, &c.message)
                        })
                        .map(|c| (*h, c))
                })
                .collect();
            if let Some(draft) = judge(view, api, &users, &failing) {
                drafts.push(draft);
            }
        }
        Ok(drafts)
    }
}

fn judge(
    view: &ClusterView,
    api: &Api,
    users: &[&HorizontalPodAutoscaler],
    failing: &[(&HorizontalPodAutoscaler, Condition)],
) -> Option<Draft> {
    let apiservice = view.custom_get(Kind::ApiService, "", api.apiservice);
    let subject = apiservice_ref(api.apiservice);
    let available = apiservice.and_then(|a| conditions::condition(a, &["Available"]));
    let (mut draft, fix) = match (apiservice, &available) {
        (Some(_), Some(c)) if c.is("True") => return None,
        (Some(a), cond) => {
            let cond = cond.clone().unwrap_or(Condition {
                type_: "Available".into(),
                status: "Unknown".into(),
                reason: String::new(),
                message: "no Available condition reported".into(),
            });
            let backend = backend(a);
            let who = backend
                .as_ref()
                .map(|(ns, name)| format!("Service {ns}/{name}"))
                .unwrap_or_else(|| "its backend".to_string());
            let mut draft = Draft::new(
                subject.with_field("status.conditions[Available]"),
                format!(
                    "the {} is registered but not available ({}): {who} is not serving, so {} cannot read {}",
                    api.what,
                    if cond.reason.is_empty() { cond.status.as_str() } else { cond.reason.as_str() },
                    hpa_count(users.len()),
                    metric_kind(api)
                ),
            )
            .evidence(format!("APIService {}: {}", api.apiservice, cond.line()));
            if let Some((ns, name)) = &backend {
                draft.evidence.push(backend_state(view, ns, name));
                draft = draft.caused_by_backends(view, ns, name);
            }
            let fix = unavailable_fix(view, api, &cond, backend.as_ref());
            (draft, fix)
        }
        (None, _) if view.has(Kind::ApiService) => {
            let draft = Draft::new(
                subject,
                format!(
                    "the {} is not installed: no APIService {} is registered, so {} cannot read {}",
                    api.what,
                    api.apiservice,
                    hpa_count(users.len()),
                    metric_kind(api)
                ),
            )
            .evidence(format!(
                "APIService {} does not exist (APIServices were collected)",
                api.apiservice
            ));
            (draft, absent_fix(api))
        }
        (None, _) => {
            // APIServices were not collected: only the HPAs' own words can tell.
            if failing.is_empty() {
                return None;
            }
            let draft = Draft::new(
                subject,
                format!(
                    "the {} is not serving: {} report it unreachable; {} (behind {}) is not installed or not healthy",
                    api.what,
                    hpa_count(failing.len()),
                    api.server,
                    api.apiservice
                ),
            )
            .evidence(format!(
                "APIServices were not collected: check `kubectl get apiservice {}`",
                api.apiservice
            ));
            (draft, absent_fix(api))
        }
    };
    for hpa in users {
        let metric_list: Vec<String> = metrics(hpa)
            .iter()
            .filter(|m| (api.uses)(m))
            .map(scaling::describe_metric)
            .collect();
        draft.evidence.push(format!(
            "HPA {} ({}) scales on {}",
            qualified(&hpa.metadata),
            scaling::hpa_reference(hpa),
            metric_list.join(", ")
        ));
    }
    for (hpa, cond) in failing.iter().take(3) {
        draft
            .evidence
            .push(format!("HPA {}: {}", qualified(&hpa.metadata), cond.line()));
    }
    Some(draft.fix(fix))
}

/// The metrics client's error when the API itself is missing or not serving
/// (not when the API answered with an error of its own, e.g. a failing KEDA scaler).
fn api_down(api: &Api, message: &str) -> bool {
    message.split_once(api.marker).is_some_and(|(_, after)| {
        [
            "the server could not find the requested resource",
            "the server is currently unable to handle the request",
            "no endpoints available for service",
            "metrics API (custom.metrics.k8s.io) registered",
            "service unavailable",
        ]
        .iter()
        .any(|p| after.contains(p))
    })
}

fn hpa_count(n: usize) -> String {
    if n == 1 {
        "1 HPA".to_string()
    } else {
        format!("{n} HPAs")
    }
}

fn metric_kind(api: &Api) -> &'static str {
    api.reads
}

/// `spec.service` of an APIService: (namespace, name).
fn backend(a: &DynamicObject) -> Option<(String, String)> {
    Some((
        a.str_at("/spec/service/namespace")?.to_string(),
        a.str_at("/spec/service/name")?.to_string(),
    ))
}

fn backend_state(view: &ClusterView, ns: &str, name: &str) -> String {
    // Services of that namespace were not read (e.g. left out by `-n`).
    if !view.can_judge(Kind::Service, ns) {
        return format!("backed by Service {ns}/{name} (namespace {ns} was not collected)");
    }
    if view.services.get(ns, name).is_none() {
        return format!("Service {ns}/{name} does not exist");
    }
    match view.ready_endpoints(ns, name) {
        Some(n) => format!(
            "Service {ns}/{name} has {n} ready endpoint{}",
            if n == 1 { "" } else { "s" }
        ),
        None => format!("backed by Service {ns}/{name}"),
    }
}

/// The Deployment behind a Service, for `kubectl logs deploy/…`.
fn backing_deployment(view: &ClusterView, ns: &str, service: &str) -> String {
    let selector = view
        .services
        .get(ns, service)
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.selector.as_ref());
    selector
        .and_then(|sel| {
            view.deployments.in_namespace(ns).find(|d| {
                let labels = d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.metadata.as_ref())
                    .and_then(|m| m.labels.as_ref());
                crate::cluster::selector::map_selects(sel, labels)
            })
        })
        .map(|d| scaling::name_of(&d.metadata).to_string())
        .unwrap_or_else(|| service.to_string())
}

fn absent_fix(api: &Api) -> Fix {
    Fix::manual(format!(
        "A cluster-admin must {}. Then `kubectl get apiservice {}` must show Available=True.",
        api.install, api.apiservice
    ))
    .with_kubectl(api.install_command)
}

fn unavailable_fix(
    view: &ClusterView,
    api: &Api,
    cond: &Condition,
    backend: Option<&(String, String)>,
) -> Fix {
    let Some((ns, name)) = backend else {
        return absent_fix(api);
    };
    let deploy = backing_deployment(view, ns, name);
    match cond.reason.as_str() {
        "ServiceNotFound" => Fix::manual(format!(
            "APIService {} points at Service {ns}/{name}, which does not exist: a cluster-admin must reinstall {} (or delete the stale APIService if it is no longer used).",
            api.apiservice,
            api.server
        ))
        .with_kubectl(api.install_command),
        "MissingEndpoints" | "EndpointsNotFound" => Fix::manual(format!(
            "Service {ns}/{name} has no ready pod behind it: a cluster-admin must find out why Deployment {ns}/{deploy} is not ready (`kubectl -n {ns} describe deployment {deploy}`, then its pods' events and logs) and fix that."
        ))
        .with_kubectl(format!("kubectl -n {ns} logs deployment/{deploy}")),
        _ => Fix::manual(format!(
            "The API server cannot get an answer from Service {ns}/{name} ({}). A cluster-admin should check that the control plane can reach the pod network on the Service's target port (a firewall, security group or NetworkPolicy in the way; some managed clusters reach only a few node ports), and read `kubectl -n {ns} logs deployment/{deploy}` for TLS or start-up errors.",
            if cond.reason.is_empty() { cond.status.as_str() } else { cond.reason.as_str() }
        ))
        .with_kubectl(format!("kubectl -n {ns} logs deployment/{deploy}")),
    }
}

/// Whether an HPA's failure is the metrics API's fault, for cause links elsewhere.
pub fn apiservice_for_reason(reason: &str) -> Option<&'static str> {
    APIS.iter()
        .find(|a| a.reasons.contains(&reason))
        .map(|a| a.apiservice)
}

/// The subject this analyzer reports for an APIService.
pub fn apiservice_ref(name: &str) -> ObjectRef {
    ObjectRef::new(
        &Kind::ApiService.api_version(),
        Kind::ApiService.info().kind,
        None,
        name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::autoscaling::scaling::testing::{drafts, silent_on, summary};
    use crate::analyzers::testing::fixture;

    #[test]
    fn metrics_server_not_installed() {
        let found = drafts("metrics-api", "keda-autoscaling");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("not installed"));
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn apis_registered_but_not_available() {
        let found = drafts("metrics-api", "metrics-server-down");
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("MissingEndpoints"));
        assert!(found[1].message.contains("FailedDiscoveryCheck"));
        assert_eq!(found[1].subject.name, "v1beta1.external.metrics.k8s.io");
        insta::assert_yaml_snapshot!(summary(&found));
    }

    #[test]
    fn without_apiservices_only_the_hpas_words_count() {
        let mut view = fixture("metrics-server-down");
        view.custom.remove(&Kind::ApiService);
        view.collected.remove(&Kind::ApiService);
        let found = MetricsApi {}.analyze(&view).expect("applicable");
        assert_eq!(found.len(), 2);
        for d in &found {
            assert!(d.message.contains("is not serving"), "{}", d.message);
            assert!(
                !d.message.contains("no APIService"),
                "claims absence it cannot know"
            );
        }

        // Nothing collected and nothing reported by the HPAs: no claim at all.
        let mut view = fixture("keda-autoscaling");
        view.custom.remove(&Kind::ApiService);
        view.collected.remove(&Kind::ApiService);
        assert!(MetricsApi {}.analyze(&view).expect("applicable").is_empty());
    }

    #[test]
    fn a_namespace_left_out_is_not_a_missing_service() {
        let mut view = fixture("metrics-server-down");
        view.restrict_to(&["ml-serving".to_string()].into_iter().collect());
        let found = MetricsApi {}.analyze(&view).expect("applicable");
        assert_eq!(found.len(), 2);
        for d in &found {
            assert!(
                !d.evidence
                    .iter()
                    .any(|e| e.contains("does not exist") || e.contains("0 ready")),
                "{:#?}",
                d.evidence
            );
        }
    }

    #[test]
    fn a_failing_scaler_is_not_the_metrics_api() {
        let api = &APIS[1];
        assert!(api_down(
            api,
            "unable to fetch metrics from external metrics API: the server could not find the requested resource (get s0-x.external.metrics.k8s.io)"
        ));
        assert!(!api_down(
            api,
            "unable to fetch metrics from external metrics API: rpc error: scaler failed"
        ));
        let custom = &APIS[2];
        assert!(api_down(
            custom,
            "unable to get metric x: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
        ));
        // The adapter answered: it just has no such metric.
        assert!(!api_down(
            custom,
            "unable to fetch metrics from custom metrics API: the server could not find the metric heavywork_per_second for pods"
        ));
    }

    #[test]
    fn quiet_when_the_metrics_apis_serve() {
        silent_on(
            "metrics-api",
            &["healthy-autoscaling", "hpa-problems", "keda-problems"],
        );
    }
}
