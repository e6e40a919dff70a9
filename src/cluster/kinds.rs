//! The resource kinds mlopsctl knows how to read, with what a collector needs
//! to list them (group, version, plural) and what a snapshot calls them.

use serde::Serialize;

/// A resource kind a check can need. Typed kinds are parsed into
/// k8s-openapi structs; the custom resources stay dynamic JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    Namespace,
    Node,
    Pod,
    Service,
    Endpoints,
    EndpointSlice,
    ConfigMap,
    Secret,
    Event,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    HorizontalPodAutoscaler,
    ApiService,
    ScaledObject,
    ScaledJob,
    TriggerAuthentication,
    SeldonModel,
    SeldonPipeline,
    SeldonServer,
    SeldonRuntime,
    SeldonConfig,
    SeldonServerConfig,
    SeldonExperiment,
}

/// Where a kind lives in the API: enough to list it and to write RBAC rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Kind {
    pub const ALL: [Kind; 27] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Service,
        Kind::Endpoints,
        Kind::EndpointSlice,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::Event,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::Job,
        Kind::CronJob,
        Kind::HorizontalPodAutoscaler,
        Kind::ApiService,
        Kind::ScaledObject,
        Kind::ScaledJob,
        Kind::TriggerAuthentication,
        Kind::SeldonModel,
        Kind::SeldonPipeline,
        Kind::SeldonServer,
        Kind::SeldonRuntime,
        Kind::SeldonConfig,
        Kind::SeldonServerConfig,
        Kind::SeldonExperiment,
    ];

    pub const fn info(self) -> KindInfo {
        const fn core(kind: &'static str, plural: &'static str, namespaced: bool) -> KindInfo {
            KindInfo {
                kind,
                group: "",
                version: "v1",
                plural,
                namespaced,
            }
        }
        const fn grouped(
            kind: &'static str,
            group: &'static str,
            version: &'static str,
            plural: &'static str,
            namespaced: bool,
        ) -> KindInfo {
            KindInfo {
                kind,
                group,
                version,
                plural,
                namespaced,
            }
        }
        match self {
            Kind::Namespace => core("Namespace", "namespaces", false),
            Kind::Node => core("Node", "nodes", false),
            Kind::Pod => core("Pod", "pods", true),
            Kind::Service => core("Service", "services", true),
            Kind::Endpoints => core("Endpoints", "endpoints", true),
            Kind::EndpointSlice => grouped(
                "EndpointSlice",
                "discovery.k8s.io",
                "v1",
                "endpointslices",
                true,
            ),
            Kind::ConfigMap => core("ConfigMap", "configmaps", true),
            Kind::Secret => core("Secret", "secrets", true),
            Kind::Event => core("Event", "events", true),
            Kind::Deployment => grouped("Deployment", "apps", "v1", "deployments", true),
            Kind::ReplicaSet => grouped("ReplicaSet", "apps", "v1", "replicasets", true),
            Kind::StatefulSet => grouped("StatefulSet", "apps", "v1", "statefulsets", true),
            Kind::DaemonSet => grouped("DaemonSet", "apps", "v1", "daemonsets", true),
            Kind::Job => grouped("Job", "batch", "v1", "jobs", true),
            Kind::CronJob => grouped("CronJob", "batch", "v1", "cronjobs", true),
            Kind::HorizontalPodAutoscaler => grouped(
                "HorizontalPodAutoscaler",
                "autoscaling",
                "v2",
                "horizontalpodautoscalers",
                true,
            ),
            Kind::ApiService => grouped(
                "APIService",
                "apiregistration.k8s.io",
                "v1",
                "apiservices",
                false,
            ),
            Kind::ScaledObject => {
                grouped("ScaledObject", "keda.sh", "v1alpha1", "scaledobjects", true)
            }
            Kind::ScaledJob => grouped("ScaledJob", "keda.sh", "v1alpha1", "scaledjobs", true),
            Kind::TriggerAuthentication => grouped(
                "TriggerAuthentication",
                "keda.sh",
                "v1alpha1",
                "triggerauthentications",
                true,
            ),
            Kind::SeldonModel => grouped("Model", "mlops.seldon.io", "v1alpha1", "models", true),
            Kind::SeldonPipeline => {
                grouped("Pipeline", "mlops.seldon.io", "v1alpha1", "pipelines", true)
            }
            Kind::SeldonServer => grouped("Server", "mlops.seldon.io", "v1alpha1", "servers", true),
            Kind::SeldonRuntime => grouped(
                "SeldonRuntime",
                "mlops.seldon.io",
                "v1alpha1",
                "seldonruntimes",
                true,
            ),
            Kind::SeldonConfig => grouped(
                "SeldonConfig",
                "mlops.seldon.io",
                "v1alpha1",
                "seldonconfigs",
                true,
            ),
            Kind::SeldonServerConfig => grouped(
                "ServerConfig",
                "mlops.seldon.io",
                "v1alpha1",
                "serverconfigs",
                true,
            ),
            Kind::SeldonExperiment => grouped(
                "Experiment",
                "mlops.seldon.io",
                "v1alpha1",
                "experiments",
                true,
            ),
        }
    }

    /// `group/version`, or `version` for the core group: the `apiVersion` of an object.
    pub fn api_version(self) -> String {
        let info = self.info();
        if info.group.is_empty() {
            info.version.to_string()
        } else {
            format!("{}/{}", info.group, info.version)
        }
    }

    /// Recognise a kind from an object's `apiVersion` and `kind`. The version is
    /// ignored so `autoscaling/v1` HPAs or `v1beta1` CRDs still map to the kind;
    /// callers that parse typed structs check the version themselves.
    pub fn from_object(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Kind::ALL.into_iter().find(|k| {
            let info = k.info();
            info.kind == kind
                && (info.group == group || (kind == "Event" && group == "events.k8s.io"))
        })
    }

    /// Whether objects of this kind are parsed into typed structs.
    pub const fn is_typed(self) -> bool {
        !matches!(
            self,
            Kind::ApiService
                | Kind::ScaledObject
                | Kind::ScaledJob
                | Kind::TriggerAuthentication
                | Kind::SeldonModel
                | Kind::SeldonPipeline
                | Kind::SeldonServer
                | Kind::SeldonRuntime
                | Kind::SeldonConfig
                | Kind::SeldonServerConfig
                | Kind::SeldonExperiment
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.info().kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_kinds_by_group_not_version() {
        assert_eq!(
            Kind::from_object("apps/v1", "Deployment"),
            Some(Kind::Deployment)
        );
        assert_eq!(Kind::from_object("v1", "Pod"), Some(Kind::Pod));
        assert_eq!(
            Kind::from_object("autoscaling/v1", "HorizontalPodAutoscaler"),
            Some(Kind::HorizontalPodAutoscaler)
        );
        assert_eq!(
            Kind::from_object("mlops.seldon.io/v1alpha1", "Model"),
            Some(Kind::SeldonModel)
        );
        assert_eq!(
            Kind::from_object("serving.kserve.io/v1beta1", "Model"),
            None
        );
        assert_eq!(Kind::from_object("v1", "Deployment"), None);
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in Kind::ALL {
            assert_eq!(
                Kind::from_object(&kind.api_version(), kind.info().kind),
                Some(kind)
            );
        }
    }
}
