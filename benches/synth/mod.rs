//! A deterministic synthetic cluster: namespaces of Deployments with their
//! ReplicaSets, Pods, Services, EndpointSlices, HPAs or KEDA ScaledObjects and
//! Events, Seldon Core v2 namespaces on a shared Kafka, and the Kafka
//! observation, with a known number of injected faults per check code so a
//! benchmark also checks that every finding is there and nothing else is.

mod platform;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

/// Size of the synthetic cluster.
pub struct Spec {
    pub deployments: usize,
    pub pods_per_deployment: usize,
    pub deployments_per_namespace: usize,
    /// Every n-th Deployment gets a fault (cycling through the fault kinds).
    pub fault_every: usize,
    /// One Seldon namespace per this many team namespaces (at least three, so
    /// each Seldon fault is there at every size).
    pub seldon_every: usize,
    /// Every n-th healthy Deployment is scaled by a KEDA ScaledObject instead of
    /// a plain HPA.
    pub scaled_every: usize,
    /// Every n-th ScaledObject gets a fault (alternating SCL004 and SCL005).
    pub keda_fault_every: usize,
    pub seed: u64,
    /// Pods of one small container (one port, the env the faults need, small
    /// requests, no probe and no limits) instead of a full serving container.
    pub small_pods: bool,
    /// Each pod's Events: what the scheduler and kubelet report from its start
    /// (Scheduled, Pulling, Pulled, Created, Started, and the faults' Warnings),
    /// with `reportingComponent`, `reportingInstance` and `source.host`, instead
    /// of one Pulled Event (and the OOM-killed pods' BackOff).
    pub lifecycle_events: bool,
    /// Every n-th healthy pod waited for a node before it was scheduled: a
    /// Warning FailedScheduling Event on a pod that now runs. 0: none.
    pub waited_every: usize,
}

/// What was generated: its size, and the faults injected per code.
pub struct Generated {
    pub bytes: u64,
    pub pods: usize,
    pub expected: BTreeMap<&'static str, usize>,
}

/// A small deterministic generator (SplitMix64), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hash(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    fn uid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

#[derive(Clone, Copy)]
enum Fault {
    MissingEnv,
    MissingConfig,
    OomKilled,
    DanglingService,
    PinnedAtMax,
}

/// What is wrong with a Deployment a ScaledObject scales.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KedaFault {
    None,
    /// Its plain HPA was left in place: two HPAs over the same pods.
    SecondHpa,
    /// The trigger names Prometheus by its short name, which KEDA resolves in
    /// its own namespace, where there is none.
    ShortAddress,
}

const FAULTS: [Fault; 5] = [
    Fault::MissingEnv,
    Fault::MissingConfig,
    Fault::OomKilled,
    Fault::DanglingService,
    Fault::PinnedAtMax,
];

pub fn generate(spec: &Spec, dir: &Path) -> std::io::Result<Generated> {
    fs::create_dir_all(dir)?;
    let mut rng = Rng(spec.seed);
    let mut items: Vec<Value> = Vec::new();
    let mut expected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut scaled_count = 0;
    let mut rv = 100_000u64;
    let mut next_rv = || {
        rv += 7;
        rv.to_string()
    };
    let namespaces = spec.deployments.div_ceil(spec.deployments_per_namespace);
    for n in 0..namespaces {
        let ns = format!("team-{n:03}");
        items.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-01T00:00:00Z",
                         "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));
        items.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-01T00:00:00Z"},
            "data": {"model-uri": "s3://models/latest", "log-level": "INFO"}}));
    }
    for d in 0..spec.deployments {
        let ns = format!("team-{:03}", d / spec.deployments_per_namespace);
        let name = format!("model-{d:05}");
        let fault = (d % spec.fault_every == spec.fault_every - 1)
            .then(|| FAULTS[(d / spec.fault_every) % FAULTS.len()]);
        let scaled = fault.is_none() && d % spec.scaled_every == spec.scaled_every / 2;
        let keda_fault = if !scaled {
            KedaFault::None
        } else {
            scaled_count += 1;
            if scaled_count % spec.keda_fault_every != 0 {
                KedaFault::None
            } else if (scaled_count / spec.keda_fault_every) % 2 == 1 {
                KedaFault::SecondHpa
            } else {
                KedaFault::ShortAddress
            }
        };
        match keda_fault {
            // The plain HPA is the finding; both HPAs show AmbiguousSelector.
            KedaFault::SecondHpa => {
                *expected.entry("SCL004").or_default() += 1;
                *expected.entry("SCL008").or_default() += 2;
            }
            // The trigger is the finding; the ScaledObject is not Ready and its
            // HPA gets no metric.
            KedaFault::ShortAddress => {
                *expected.entry("SCL005").or_default() += 1;
                *expected.entry("SCL008").or_default() += 2;
            }
            KedaFault::None => {}
        }
        let dep_uid = rng.uid();
        let hash = rng.hash(10);
        let rs_name = format!("{name}-{hash}");
        let rs_uid = rng.uid();
        let labels =
            json!({"app.kubernetes.io/name": name, "app.kubernetes.io/component": "serving"});
        let mut env = vec![
            json!({"name": "MODEL_URI", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "model-uri"}}}),
            json!({"name": "TRACKING_URI", "value": "http://mlflow:5000"}),
            json!({"name": "MODEL_TYPE", "value": "xgboost"}),
            json!({"name": "WORKERS", "value": "2"}),
        ];
        if spec.small_pods {
            // The variables the faults are about: the ConfigMap's and the address.
            env.truncate(2);
        }
        match fault {
            Some(Fault::MissingEnv) => {
                env.retain(|e| e["name"] != "MODEL_TYPE");
                // The log names the variable: the cause, and the serving symptom.
                *expected.entry("WKL001").or_default() += 1;
                *expected.entry("SRV004").or_default() += 1;
            }
            Some(Fault::MissingConfig) => {
                env[0] = json!({"name": "MODEL_URI", "valueFrom": {"configMapKeyRef": {"name": "missing-config", "key": "model-uri"}}});
                *expected.entry("WKL002").or_default() += 1;
                *expected.entry("WKL009").or_default() += 1;
            }
            Some(Fault::OomKilled) => {
                *expected.entry("WKL003").or_default() += 1;
                *expected.entry("WKL004").or_default() += 1;
                *expected.entry("WKL009").or_default() += 1;
            }
            Some(Fault::DanglingService) => {
                env[1] = json!({"name": "TRACKING_URI", "value": "http://mlflow-server:5000"});
                *expected.entry("WKL007").or_default() += 1;
            }
            Some(Fault::PinnedAtMax) => {
                *expected.entry("SCL003").or_default() += 1;
            }
            None => {}
        }
        let image = format!("registry.local/models/{name}:1.0.{}", d % 7);
        let mut container = json!({"name": "server", "image": image,
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}], "env": env,
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
            "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"});
        if spec.small_pods {
            container.as_object_mut().unwrap().remove("readinessProbe");
            container["resources"] = json!({"requests": {"cpu": "50m", "memory": "128Mi"}});
        }
        let pod_spec = json!({"containers": [container], "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30, "securityContext": {}});
        let replicas = spec.pods_per_deployment;
        let ready = if matches!(fault, Some(Fault::OomKilled | Fault::MissingConfig)) {
            0
        } else {
            replicas
        };
        items.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "uid": dep_uid, "resourceVersion": next_rv(), "generation": 3,
                "creationTimestamp": "2025-10-02T00:00:00Z", "labels": labels, "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {"metadata": {"labels": labels}, "spec": pod_spec.clone()},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": {"observedGeneration": 3, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                "conditions": [
                    {"type": "Available", "status": if ready > 0 {"True"} else {"False"}, "reason": if ready > 0 {"MinimumReplicasAvailable"} else {"MinimumReplicasUnavailable"},
                     "message": "Deployment availability.", "lastUpdateTime": "2025-10-02T00:01:00Z", "lastTransitionTime": "2025-10-02T00:01:00Z"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                     "lastUpdateTime": "2025-10-02T00:01:00Z", "lastTransitionTime": "2025-10-02T00:00:00Z"}]}}));
        let mut rs_labels = labels.clone();
        rs_labels["pod-template-hash"] = json!(hash);
        items.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "uid": rs_uid, "resourceVersion": next_rv(), "generation": 1,
                "creationTimestamp": "2025-10-02T00:00:00Z", "labels": rs_labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep_uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app.kubernetes.io/name": name, "pod-template-hash": hash}},
                "template": {"metadata": {"labels": rs_labels}, "spec": pod_spec.clone()}},
            "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready, "fullyLabeledReplicas": replicas, "observedGeneration": 1}}));
        let mut endpoints = Vec::new();
        for p in 0..replicas {
            let pod_name = format!("{rs_name}-{}", rng.hash(5));
            let ip = format!(
                "10.{}.{}.{}",
                1 + d / 65536 % 200,
                d / 256 % 256,
                (d * replicas + p) % 250 + 2
            );
            let (state, last, restarts) = match fault {
                Some(Fault::OomKilled) => (
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 5m0s restarting failed container=server pod={pod_name}")}}),
                    json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2025-10-02T01:00:00Z", "finishedAt": "2025-10-02T01:03:00Z"}}),
                    9,
                ),
                Some(Fault::MissingConfig) => (
                    json!({"waiting": {"reason": "CreateContainerConfigError", "message": "configmap \"missing-config\" not found"}}),
                    json!({}),
                    0,
                ),
                _ => (
                    json!({"running": {"startedAt": "2025-10-02T00:00:30Z"}}),
                    json!({}),
                    0,
                ),
            };
            let is_ready = state.get("running").is_some();
            let node = format!("node-{}", d % 50);
            let mut pod_labels = rs_labels.clone();
            pod_labels["pod-template-hash"] = json!(hash);
            let pod_uid = rng.uid();
            items.push(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "generateName": format!("{rs_name}-"), "namespace": ns, "uid": pod_uid, "resourceVersion": next_rv(),
                    "creationTimestamp": "2025-10-02T00:00:10Z", "labels": pod_labels,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}]},
                "spec": {"containers": pod_spec["containers"].clone(), "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "nodeName": node,
                    "serviceAccountName": "default", "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30, "priority": 0},
                "status": {"phase": if matches!(fault, Some(Fault::MissingConfig)) {"Pending"} else {"Running"}, "podIP": ip, "podIPs": [{"ip": ip}],
                    "hostIP": format!("10.0.0.{}", d % 50 + 10), "qosClass": "Burstable", "startTime": "2025-10-02T00:00:10Z",
                    "conditions": [
                        {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-10-02T00:00:10Z"},
                        {"type": "Ready", "status": if is_ready {"True"} else {"False"}, "lastProbeTime": null, "lastTransitionTime": "2025-10-02T00:00:40Z"},
                        {"type": "ContainersReady", "status": if is_ready {"True"} else {"False"}, "lastProbeTime": null, "lastTransitionTime": "2025-10-02T00:00:40Z"},
                        {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2025-10-02T00:00:10Z"}],
                    "containerStatuses": [{"name": "server", "image": image, "imageID": "", "containerID": format!("containerd://{}", rng.hash(32)),
                        "ready": is_ready, "started": is_ready, "restartCount": restarts, "state": state, "lastState": last}]}}));
            if matches!(fault, Some(Fault::MissingEnv)) {
                let log_dir = dir.join("logs").join(&ns).join(&pod_name);
                fs::create_dir_all(&log_dir)?;
                fs::write(
                    log_dir.join("server.log"),
                    "INFO starting\nERROR Environment variable, MODEL_TYPE, not defined\n",
                )?;
            }
            endpoints.push(json!({"addresses": [ip], "conditions": {"ready": is_ready, "serving": is_ready, "terminating": false},
                "targetRef": {"kind": "Pod", "name": pod_name, "namespace": ns, "uid": pod_uid}}));
            let pod = PodRef {
                ns: &ns,
                name: &pod_name,
                uid: &pod_uid,
                node: &node,
            };
            let waited = fault.is_none()
                && spec.waited_every > 0
                && (d * replicas + p) % spec.waited_every == spec.waited_every - 1;
            for e in pod_events(spec.lifecycle_events, fault, waited, &image, &pod) {
                items.push(pod.event(&e, spec.lifecycle_events, &mut rng, &mut next_rv));
            }
        }
        items.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-02T00:00:00Z", "labels": labels},
            "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.{}.{}", d / 250 % 250, d % 250 + 1), "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
                "selector": {"app.kubernetes.io/name": name}, "sessionAffinity": "None"},
            "status": {"loadBalancer": {}}}));
        items.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": format!("{name}-{}", rng.hash(5)), "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-02T00:00:00Z",
                "labels": {"kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "endpoints": endpoints, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}));
        // Two HPAs over the same pods: the controller acts on neither.
        let ambiguous = (keda_fault == KedaFault::SecondHpa).then(|| {
            json!({"type": "ScalingActive", "status": "False", "reason": "AmbiguousSelector", "lastTransitionTime": "2025-10-02T00:05:00Z",
                "message": format!("pods by selector app.kubernetes.io/name={name} are controlled by multiple HPAs: [{ns}/keda-hpa-{name} {ns}/{name}]")})
        });
        if !scaled || keda_fault == KedaFault::SecondHpa {
            // A pinned HPA: at its maximum, the controller says TooManyReplicas.
            let pinned = matches!(fault, Some(Fault::PinnedAtMax));
            let max_replicas = if pinned { replicas } else { 10 };
            let limited = if pinned {
                json!({"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas", "message": "the desired replica count is more than the maximum replica count", "lastTransitionTime": "2025-10-02T00:05:00Z"})
            } else {
                json!({"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range", "lastTransitionTime": "2025-10-02T00:05:00Z"})
            };
            items.push(json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": name, "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-02T00:00:00Z"},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}, "minReplicas": 1, "maxReplicas": max_replicas,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
                "status": {"currentReplicas": replicas, "desiredReplicas": replicas, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": if pinned {95} else {35}, "averageValue": "87m"}}}],
                    "conditions": [
                        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": "2025-10-02T00:05:00Z"},
                        ambiguous.clone().unwrap_or_else(|| json!({"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", "lastTransitionTime": "2025-10-02T00:05:00Z"})),
                        limited]}}));
        }
        if scaled {
            items.extend(scaled_object(
                &ns,
                &name,
                replicas,
                keda_fault,
                ambiguous,
                &mut rng,
                &mut next_rv,
            ));
        }
    }
    // The Services every workload talks to, one per namespace.
    for n in 0..namespaces {
        let ns = format!("team-{n:03}");
        items.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "mlflow", "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-01T00:00:00Z"},
            "spec": {"type": "ExternalName", "externalName": "mlflow.platform.svc.cluster.local", "ports": [{"port": 5000, "protocol": "TCP"}]}}));
    }
    // metrics-server is installed and available, as the HPAs need.
    items.push(json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io", "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-01T00:00:00Z",
            "labels": {"k8s-app": "metrics-server"}},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
            "insecureSkipTLSVerify": true, "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}},
        "status": {"conditions": [{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed", "lastTransitionTime": "2025-10-01T00:01:00Z"}]}}));
    // KEDA and the Prometheus its triggers query, when anything is scaled by it.
    if scaled_count > 0 {
        items.extend(platform::keda_platform()?);
    }
    // Seldon namespaces on one Kafka, and what that Kafka holds.
    let seldon = platform::seldon(namespaces.div_ceil(spec.seldon_every).max(3), &mut || {
        rng.uid()
    })?;
    for (code, n) in seldon.expected {
        *expected.entry(code).or_default() += n;
    }
    items.extend(seldon.objects);
    for (rel, text) in &seldon.logs {
        let path = dir.join("logs").join(rel);
        fs::create_dir_all(path.parent().expect("a log has a directory"))?;
        fs::write(path, text)?;
    }
    // JSON is YAML: the loader reads it as the observation file.
    fs::write(
        dir.join("kafka.yaml"),
        serde_json::to_vec_pretty(&seldon.kafka).expect("serialises"),
    )?;
    let pods = items.iter().filter(|o| o["kind"] == "Pod").count();
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items});
    let json_file = dir.join("cluster.json");
    let text = serde_json::to_vec(&list).expect("serialises");
    fs::write(&json_file, &text)?;
    Ok(Generated {
        bytes: text.len() as u64,
        pods,
        expected,
    })
}

/// One Event on a pod, before it has a name and uid.
struct PodEvent {
    type_: &'static str,
    reason: &'static str,
    message: String,
    count: u32,
    first: &'static str,
    last: &'static str,
    /// Who reported it: the kubelet, or the scheduler.
    component: &'static str,
    /// About the container (`fieldPath`) rather than the pod.
    container: bool,
}

impl PodEvent {
    /// What the kubelet reports once about the container at `at`.
    fn kubelet(reason: &'static str, message: String, at: &'static str) -> PodEvent {
        PodEvent {
            type_: "Normal",
            reason,
            message,
            count: 1,
            first: at,
            last: at,
            component: "kubelet",
            container: true,
        }
    }

    /// A Warning, seen `count` times until `last`.
    fn warning(self, count: u32, last: &'static str) -> PodEvent {
        PodEvent {
            type_: "Warning",
            count,
            last,
            ..self
        }
    }

    /// Reported by the scheduler, about the pod.
    fn scheduler(self) -> PodEvent {
        PodEvent {
            component: "default-scheduler",
            container: false,
            ..self
        }
    }
}

/// The Events a pod has, in the order they are generated. Without
/// `lifecycle`: one Pulled, after the BackOff of an OOM-killed pod. With it:
/// the scheduler's and the kubelet's report of the pod's start with each
/// fault's Warnings, after the FailedScheduling of a pod that `waited` for a node.
fn pod_events(
    lifecycle: bool,
    fault: Option<Fault>,
    waited: bool,
    image: &str,
    at: &PodRef,
) -> Vec<PodEvent> {
    let pod = at.name;
    let back_off = PodEvent::kubelet(
        "BackOff",
        format!("Back-off restarting failed container server in pod {pod}"),
        "2025-10-02T01:03:00Z",
    )
    .warning(40, "2025-10-02T01:40:00Z");
    let oom = matches!(fault, Some(Fault::OomKilled));
    let mut events = Vec::new();
    if !lifecycle {
        events.extend(oom.then_some(back_off));
        events.push(PodEvent::kubelet(
            "Pulled",
            "Container image already present on machine".into(),
            "2025-10-02T00:00:12Z",
        ));
        return events;
    }
    if waited {
        events.push(
            PodEvent::kubelet("FailedScheduling",
                "0/50 nodes are available: 50 Insufficient cpu. preemption: 0/50 nodes are available: 50 No preemption victims found for incoming pod.".into(),
                "2025-10-02T00:00:04Z").warning(3, "2025-10-02T00:00:09Z").scheduler(),
        );
    }
    events.extend([
        PodEvent::kubelet(
            "Scheduled",
            format!("Successfully assigned {}/{pod} to {}", at.ns, at.node),
            "2025-10-02T00:00:10Z",
        )
        .scheduler(),
        PodEvent::kubelet("Pulling", format!("Pulling image \"{image}\""), "2025-10-02T00:00:11Z"),
        PodEvent::kubelet("Pulled",
            format!("Successfully pulled image \"{image}\" in 13.2s (13.2s including waiting). Image size: 412788341 bytes."),
            "2025-10-02T00:00:24Z"),
    ]);
    if matches!(fault, Some(Fault::MissingConfig)) {
        events.push(
            PodEvent::kubelet(
                "Failed",
                "Error: configmap \"missing-config\" not found".into(),
                "2025-10-02T00:00:24Z",
            )
            .warning(31, "2025-10-02T00:06:40Z"),
        );
        return events;
    }
    events.extend([
        PodEvent::kubelet(
            "Created",
            "Created container: server".into(),
            "2025-10-02T00:00:30Z",
        ),
        PodEvent::kubelet(
            "Started",
            "Started container server".into(),
            "2025-10-02T00:00:30Z",
        ),
    ]);
    events.extend(oom.then_some(back_off));
    events
}

/// The pod an Event is about.
struct PodRef<'a> {
    ns: &'a str,
    name: &'a str,
    uid: &'a str,
    node: &'a str,
}

impl PodRef<'_> {
    /// The Event as the API server returns it (core/v1). `reporter`: with
    /// `reportingComponent`, `reportingInstance` and the source's host, as a
    /// current scheduler and kubelet fill them in.
    fn event(
        &self,
        e: &PodEvent,
        reporter: bool,
        rng: &mut Rng,
        next_rv: &mut dyn FnMut() -> String,
    ) -> Value {
        let (ns, pod) = (self.ns, self.name);
        let mut involved = json!({"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns, "uid": self.uid});
        if e.container {
            involved["fieldPath"] = json!("spec.containers{server}");
        }
        let mut event = json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{pod}.{}", rng.hash(16)), "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": e.first},
            "involvedObject": involved,
            "reason": e.reason, "message": e.message, "type": e.type_, "count": e.count,
            "firstTimestamp": e.first, "lastTimestamp": e.last, "source": {"component": e.component}});
        if reporter {
            let instance = if e.component == "kubelet" {
                event["source"]["host"] = json!(self.node);
                self.node.to_string()
            } else {
                format!("{}-control-plane", e.component)
            };
            event["reportingComponent"] = json!(e.component);
            event["reportingInstance"] = json!(instance);
        }
        event
    }
}

/// A KEDA ScaledObject on a Deployment, as KEDA 2.13 shows it, with the HPA
/// KEDA made for it (owned by it, `keda-hpa-NAME`). `ambiguous` is the
/// HPA controller's condition when a second HPA covers the same pods.
fn scaled_object(
    ns: &str,
    name: &str,
    replicas: usize,
    fault: KedaFault,
    ambiguous: Option<Value>,
    rng: &mut Rng,
    next_rv: &mut dyn FnMut() -> String,
) -> [Value; 2] {
    let so_uid = rng.uid();
    let failing = fault == KedaFault::ShortAddress;
    let address = if failing {
        "http://prometheus:9090"
    } else {
        "http://prometheus.monitoring.svc.cluster.local:9090"
    };
    let hpa_name = format!("keda-hpa-{name}");
    let ready = if failing {
        json!({"type": "Ready", "status": "False", "reason": "TriggerError", "message": "Triggers defined in ScaledObject are not working correctly"})
    } else {
        json!({"type": "Ready", "status": "True", "reason": "ScaledObjectReady", "message": "ScaledObject is defined correctly and is ready for scaling"})
    };
    let active = if failing {
        json!({"type": "Active", "status": "False", "reason": "ScalerNotActive", "message": "Scaling is not performed because triggers are not active"})
    } else {
        json!({"type": "Active", "status": "True", "reason": "ScalerActive", "message": "Scaling is performed because triggers are active"})
    };
    let scaled = json!({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": ns, "uid": so_uid, "resourceVersion": next_rv(), "generation": 1,
            "finalizers": ["finalizer.keda.sh"], "creationTimestamp": "2025-10-02T00:00:00Z",
            "labels": {"scaledobject.keda.sh/name": name}},
        "spec": {"scaleTargetRef": {"name": name}, "pollingInterval": 30, "cooldownPeriod": 300,
            "minReplicaCount": 1, "maxReplicaCount": 10,
            "triggers": [{"type": "prometheus", "metadata": {"serverAddress": address,
                "query": format!("sum(rate(http_requests_total{{service=\"{name}\"}}[2m]))"), "threshold": "50"}}]},
        "status": {"scaleTargetKind": "apps/v1.Deployment",
            "scaleTargetGVKR": {"group": "apps", "kind": "Deployment", "resource": "deployments", "version": "v1"},
            "originalReplicaCount": replicas, "hpaName": hpa_name, "externalMetricNames": ["s0-prometheus"],
            "health": {"s0-prometheus": if failing {json!({"numberOfFailures": 57, "status": "Failing"})} else {json!({"numberOfFailures": 0, "status": "Happy"})}},
            "conditions": [ready, active,
                {"type": "Fallback", "status": "False", "reason": "NoFallbackFound", "message": "No fallbacks are active on this scaled object"},
                {"type": "Paused", "status": "Unknown"}]}});
    let selector = json!({"matchLabels": {"scaledobject.keda.sh/name": name}});
    let scaling_active = match (ambiguous, failing) {
        (Some(condition), _) => condition,
        (None, true) => {
            json!({"type": "ScalingActive", "status": "False", "reason": "FailedGetExternalMetric", "lastTransitionTime": "2025-10-02T00:05:00Z",
            "message": format!("the HPA was unable to compute the replica count: unable to get external metric {ns}/s0-prometheus/&LabelSelector{{MatchLabels:map[string]string{{scaledobject.keda.sh/name: {name},}},MatchExpressions:[]LabelSelectorRequirement{{}},}}: unable to fetch metrics from external metrics API: rpc error: code = Unknown desc = error when getting metric values metric:s0-prometheus encountered error")})
        }
        (None, false) => {
            json!({"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "lastTransitionTime": "2025-10-02T00:05:00Z",
            "message": format!("the HPA was able to successfully calculate a replica count from external metric s0-prometheus(&LabelSelector{{MatchLabels:map[string]string{{scaledobject.keda.sh/name: {name},}},MatchExpressions:[]LabelSelectorRequirement{{}},}})")})
        }
    };
    let current = if failing {
        json!([])
    } else {
        json!([{"type": "External", "external": {"metric": {"name": "s0-prometheus", "selector": selector}, "current": {"averageValue": "31500m"}}}])
    };
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": hpa_name, "namespace": ns, "uid": rng.uid(), "resourceVersion": next_rv(), "creationTimestamp": "2025-10-02T00:00:00Z",
            "labels": {"app.kubernetes.io/managed-by": "keda-operator", "app.kubernetes.io/name": hpa_name,
                "app.kubernetes.io/part-of": name, "app.kubernetes.io/version": "2.13.0", "scaledobject.keda.sh/name": name},
            "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "name": name, "uid": so_uid,
                "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}, "minReplicas": 1, "maxReplicas": 10,
            "metrics": [{"type": "External", "external": {"metric": {"name": "s0-prometheus", "selector": selector},
                "target": {"type": "AverageValue", "averageValue": "50"}}}]},
        "status": {"currentReplicas": replicas, "desiredReplicas": replicas, "currentMetrics": current,
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size", "lastTransitionTime": "2025-10-02T00:05:00Z"},
                scaling_active,
                {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range", "lastTransitionTime": "2025-10-02T00:05:00Z"}]}});
    [scaled, hpa]
}
