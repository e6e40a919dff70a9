//! The resource kinds mlopsctl knows how to read, with what a collector needs
//! to list them (group, version, plural) and what a snapshot calls them.

use serde::Serialize;

/// The kinds mlopsctl reads, one entry each: the variant, the object's kind,
/// its API group and version, its plural, whether it is namespaced, and
/// whether it is parsed into a k8s-openapi struct (`typed`, each with a
/// store of its own in the ClusterView) or kept as dynamic JSON (`custom`).
///
/// Adding a custom resource (a CRD) is one `custom` line here: the
/// collector lists it, the snapshot loader and the fix's plan applier keep
/// it in the view's custom stores, the RBAC role and the tests' CRDs follow
/// from the checks that need it.
macro_rules! kinds {
    ($($variant:ident => ($kind:literal, $group:literal, $version:literal, $plural:literal, $namespaced:literal, $storage:ident),)*) => {
        /// A resource kind a check can need. Typed kinds are parsed into
        /// k8s-openapi structs; the custom resources stay dynamic JSON.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum Kind {
            $($variant,)*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];

            pub const fn info(self) -> KindInfo {
                match self {
                    $(Kind::$variant => KindInfo {
                        kind: $kind,
                        group: $group,
                        version: $version,
                        plural: $plural,
                        namespaced: $namespaced,
                    },)*
                }
            }

            /// Whether objects of this kind are parsed into typed structs.
            pub const fn is_typed(self) -> bool {
                match self {
                    $(Kind::$variant => kinds!(@typed $storage),)*
                }
            }
        }
    };
    (@typed typed) => { true };
    (@typed custom) => { false };
}

kinds! {
    Namespace => ("Namespace", "", "v1", "namespaces", false, typed),
    Node => ("Node", "", "v1", "nodes", false, typed),
    Pod => ("Pod", "", "v1", "pods", true, typed),
    Service => ("Service", "", "v1", "services", true, typed),
    Endpoints => ("Endpoints", "", "v1", "endpoints", true, typed),
    EndpointSlice => ("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices", true, typed),
    ConfigMap => ("ConfigMap", "", "v1", "configmaps", true, typed),
    Secret => ("Secret", "", "v1", "secrets", true, typed),
    Event => ("Event", "", "v1", "events", true, typed),
    Deployment => ("Deployment", "apps", "v1", "deployments", true, typed),
    ReplicaSet => ("ReplicaSet", "apps", "v1", "replicasets", true, typed),
    StatefulSet => ("StatefulSet", "apps", "v1", "statefulsets", true, typed),
    DaemonSet => ("DaemonSet", "apps", "v1", "daemonsets", true, typed),
    Job => ("Job", "batch", "v1", "jobs", true, typed),
    CronJob => ("CronJob", "batch", "v1", "cronjobs", true, typed),
    HorizontalPodAutoscaler => ("HorizontalPodAutoscaler", "autoscaling", "v2", "horizontalpodautoscalers", true, typed),
    ApiService => ("APIService", "apiregistration.k8s.io", "v1", "apiservices", false, custom),
    ScaledObject => ("ScaledObject", "keda.sh", "v1alpha1", "scaledobjects", true, custom),
    ScaledJob => ("ScaledJob", "keda.sh", "v1alpha1", "scaledjobs", true, custom),
    TriggerAuthentication => ("TriggerAuthentication", "keda.sh", "v1alpha1", "triggerauthentications", true, custom),
    SeldonModel => ("Model", "mlops.seldon.io", "v1alpha1", "models", true, custom),
    SeldonPipeline => ("Pipeline", "mlops.seldon.io", "v1alpha1", "pipelines", true, custom),
    SeldonServer => ("Server", "mlops.seldon.io", "v1alpha1", "servers", true, custom),
    SeldonRuntime => ("SeldonRuntime", "mlops.seldon.io", "v1alpha1", "seldonruntimes", true, custom),
    SeldonConfig => ("SeldonConfig", "mlops.seldon.io", "v1alpha1", "seldonconfigs", true, custom),
    SeldonServerConfig => ("ServerConfig", "mlops.seldon.io", "v1alpha1", "serverconfigs", true, custom),
    SeldonExperiment => ("Experiment", "mlops.seldon.io", "v1alpha1", "experiments", true, custom),
    InferenceService => ("InferenceService", "serving.kserve.io", "v1beta1", "inferenceservices", true, custom),
    ServingRuntime => ("ServingRuntime", "serving.kserve.io", "v1alpha1", "servingruntimes", true, custom),
    ClusterServingRuntime => ("ClusterServingRuntime", "serving.kserve.io", "v1alpha1", "clusterservingruntimes", false, custom),
    KnativeRevision => ("Revision", "serving.knative.dev", "v1", "revisions", true, custom),
    StrimziKafka => ("Kafka", "kafka.strimzi.io", "v1beta2", "kafkas", true, custom),
    StrimziKafkaTopic => ("KafkaTopic", "kafka.strimzi.io", "v1beta2", "kafkatopics", true, custom),
    StrimziKafkaNodePool => ("KafkaNodePool", "kafka.strimzi.io", "v1beta2", "kafkanodepools", true, custom),
}

/// Labels an operator stamps on everything it renders for one of its
/// custom resources, for the cause graph where ownerReferences do not lead
/// back to that resource. KServe's Knative predictor is Pod → ReplicaSet →
/// Deployment → Revision → Configuration → Knative Service →
/// InferenceService, and mlopsctl reads neither Configurations nor Knative
/// Services; the label on the Revision, its Deployment and its pods names
/// the InferenceService.
pub const RENDERED_BY_LABEL: &[(&str, Kind)] =
    &[("serving.kserve.io/inferenceservice", Kind::InferenceService)];

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
        Kind::ALL.iter().copied().find(|k| {
            let info = k.info();
            info.kind == kind
                && (info.group == group || (kind == "Event" && group == "events.k8s.io"))
        })
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
        for &kind in Kind::ALL {
            assert_eq!(
                Kind::from_object(&kind.api_version(), kind.info().kind),
                Some(kind)
            );
        }
    }
}
