//! Addresses in configuration values — `[scheme://][user[:password]@]host[:port][/path]` —
//! and what their host names, as cluster DNS resolves it. Every check that
//! reads an address (Service references, KEDA triggers, the Seldon scheduler
//! and collector, Kafka bootstrap servers) reads it here.

use std::sync::LazyLock;

use regex::Regex;

/// Schemes whose "host" is not a host inside the cluster: object stores,
/// file systems, volumes and model registries name a bucket, a claim or a
/// model there.
const NOT_A_HOST: &[&str] = &[
    "s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss", "wasb", "wasbs", "adl", "hdfs", "viewfs",
    "file", "local", "pvc", "hf", "models", "runs", "dbfs",
];

/// One address, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts<'a> {
    pub scheme: Option<&'a str>,
    pub user: Option<&'a str>,
    /// Never printed: [`Parts::masked`] shows it as `****`.
    pub password: Option<&'a str>,
    pub host: &'a str,
    pub port: Option<i32>,
    /// What follows the authority: `/path`, `?query`, `#fragment`.
    pub path: &'a str,
}

/// `[scheme://][userinfo@]host[:port][/path]`, the host a DNS name.
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://)?(?:(?P<userinfo>[^@/\s]*)@)?(?P<host>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)(?::(?P<port>\d{1,5}))?(?P<path>[/?#].*)?$")
        .expect("valid regex")
});

/// The parts of one address, or None when `token` is not one.
pub fn parse(token: &str) -> Option<Parts<'_>> {
    let caps = ADDRESS.captures(token)?;
    let (user, password) = match caps.name("userinfo").map(|u| u.as_str()) {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (Some(user), Some(password)),
            None => (Some(info), None),
        },
        None => (None, None),
    };
    Some(Parts {
        scheme: caps.name("scheme").map(|s| s.as_str()),
        user,
        password,
        host: caps.name("host")?.as_str(),
        port: caps.name("port").and_then(|p| p.as_str().parse().ok()),
        path: caps.name("path").map_or("", |p| p.as_str()),
    })
}

impl Parts<'_> {
    /// The host names a machine to connect to (not a bucket, claim or model).
    fn names_a_host(&self) -> bool {
        !self
            .scheme
            .is_some_and(|s| NOT_A_HOST.contains(&s.to_ascii_lowercase().as_str()))
    }
}

/// The password in a URL's `user:password@`, if it has one. Lenient on
/// purpose (any host, any case): whatever looks like a password is masked.
pub fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// A value with a URL password masked whole: `amqp://celery:****@rabbitmq:5672/`.
pub fn masked(value: &str) -> String {
    match url_password(value) {
        Some(pw) => value.replacen(
            &format!(":{pw}@"),
            &format!(":{}@", crate::analyzers::text::mask(pw)),
            1,
        ),
        None => value.to_string(),
    }
}

/// How a host names a Service, as cluster DNS resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `name`: the pod's search path makes it `name.<pod's namespace>.svc…`.
    Short,
    /// `name.namespace`: the search path completes it with `svc.cluster.local`.
    Namespaced,
    /// `name.namespace.svc` or the full `name.namespace.svc.cluster.local`
    /// (with a pod's name in front for a headless Service).
    Full,
}

/// An address that names a Service inside the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub service: String,
    pub namespace: String,
    pub port: Option<i32>,
    pub form: Form,
}

impl Address {
    /// The host as Kubernetes DNS resolves it: "short name `rabbitmq`, which
    /// resolves in the pod's namespace ml", "`rabbitmq.default.svc.cluster.local`,
    /// Service rabbitmq in namespace default".
    pub fn described(&self, resolver: &str) -> String {
        match self.form {
            Form::Short => format!(
                "short name `{}`, which {resolver} resolves in its own namespace ({})",
                self.host, self.namespace
            ),
            Form::Namespaced | Form::Full => format!(
                "`{}`, Service {} in namespace {}",
                self.host, self.service, self.namespace
            ),
        }
    }

    /// The host naming the same Service in namespace `other`, in the same
    /// form: only the namespace label changes (`name.other`,
    /// `pod.name.other.svc.cluster.local`); a short name gains one.
    pub fn in_namespace(&self, other: &str) -> String {
        let labels: Vec<&str> = self.host.split('.').collect();
        match labels.iter().position(|l| *l == self.service) {
            Some(i) if self.form != Form::Short && i + 1 < labels.len() => {
                let mut labels = labels;
                labels[i + 1] = other;
                labels.join(".")
            }
            _ => format!("{}.{other}", self.host),
        }
    }
}

/// The in-cluster Service addresses in one value (a single address or a
/// list separated by commas, spaces or semicolons); `namespace` is the
/// namespace of whoever resolves them, `known_ns` tells whether `a.b` means
/// Service a in namespace b (else it is an outside name such as `example.com`).
pub fn addresses(value: &str, namespace: &str, known_ns: &dyn Fn(&str) -> bool) -> Vec<Address> {
    let mut out = Vec::new();
    for token in value
        .split([',', ' ', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let Some(parts) = parse(token) else {
            continue;
        };
        if parts.scheme.is_none() && parts.port.is_none() {
            continue; // a bare word is not an address
        }
        if !parts.names_a_host() {
            continue;
        }
        let host = parts.host;
        if host == "localhost" || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        let labels: Vec<&str> = host.split('.').collect();
        let (service, ns, form) = if let Some(svc_at) = labels.iter().position(|l| *l == "svc") {
            // name.ns.svc[.cluster.local], or pod.name.ns.svc… for headless Services
            if svc_at < 2 {
                continue;
            }
            (labels[svc_at - 2], labels[svc_at - 1], Form::Full)
        } else {
            match labels.as_slice() {
                [one] => (*one, namespace, Form::Short),
                [name, ns] if known_ns(ns) => (*name, *ns, Form::Namespaced),
                _ => continue, // an outside name such as api.example.com
            }
        };
        out.push(Address {
            host: host.to_string(),
            service: service.to_string(),
            namespace: ns.to_string(),
            port: parts.port,
            form,
        });
    }
    out
}

/// Whether a name is under a public suffix of the Public Suffix List
/// (`com`, `io`, `co.uk`): the part of DNS anyone can register names in.
/// `internal`, `local`, `corp` or a namespace's name are not.
pub fn public_suffix(host: &str) -> bool {
    psl::suffix(host.trim_end_matches('.').as_bytes()).is_some_and(|s| s.is_known())
}

/// Where a dotted host name without `svc` (`x.y`, `a.b.c`) can resolve, as
/// far as names and the cluster's namespaces tell (see [`resolves`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolves {
    /// `x.y` with namespace y: Service x in namespace y, what [`addresses`] reads.
    Service,
    /// `x.y` with a Service y in the resolver's own namespace: pod x of that
    /// headless Service (`x.y.<own namespace>.svc.cluster.local`).
    HeadlessPod,
    /// Its suffix is public (`api.example.com`): outside DNS may answer.
    Outside,
    /// Nowhere: cluster DNS completes it to `….<namespace>.svc.cluster.local`
    /// and that namespace does not exist; outside the cluster, its last label
    /// is no public suffix.
    Nowhere {
        /// The would-be namespace: the host's last label.
        namespace: String,
    },
    /// Not known: not such a name (a short name, `….svc…`, an IP, an absolute
    /// `name.`), or whether the namespace (or the resolver's Service) exists
    /// was not read.
    Unknown,
}

impl Resolves {
    /// Some(false) when the name resolves nowhere, Some(true) when it may,
    /// None when that is not known.
    pub fn can_resolve(&self) -> Option<bool> {
        match self {
            Resolves::Service | Resolves::HeadlessPod | Resolves::Outside => Some(true),
            Resolves::Nowhere { .. } => Some(false),
            Resolves::Unknown => None,
        }
    }
}

/// Where a dotted host name without `svc` can resolve, for a pod whose DNS
/// is the cluster's (`dnsPolicy: ClusterFirst`, `ndots:5`): cluster DNS tries
/// `host.<own namespace>.svc.cluster.local` (a headless Service's pod, for
/// `x.y`), then `host.svc.cluster.local` (Service x of namespace y, for
/// `x.y`), then the name as it is, which outside DNS answers only under a
/// public suffix. `namespace_exists` and `own_service` (a Service of that
/// name in the resolver's namespace) answer None when that was not read.
///
/// A private zone (a CoreDNS stub domain, a corporate resolver serving
/// `.corp` or `.internal`) can still answer a name judged `Nowhere`; the
/// judgement is for names meant as in-cluster Services.
pub fn resolves(
    host: &str,
    namespace_exists: &dyn Fn(&str) -> Option<bool>,
    own_service: &dyn Fn(&str) -> Option<bool>,
) -> Resolves {
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let is_label = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if labels.len() < 2
        || !labels.iter().all(is_label)
        || host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        // Forms cluster DNS serves itself: Services, pods, the cluster domain.
        || labels.iter().any(|l| *l == "svc" || *l == "pod")
        || host.ends_with(".cluster.local")
    {
        return Resolves::Unknown;
    }
    let last = labels[labels.len() - 1];
    match namespace_exists(last) {
        None => return Resolves::Unknown,
        Some(true) if labels.len() == 2 => return Resolves::Service,
        // a.b.ns: pod a of headless Service b in namespace ns.
        Some(true) => return Resolves::Unknown,
        Some(false) => {}
    }
    if public_suffix(&host) {
        return Resolves::Outside;
    }
    if let [_, subdomain] = labels.as_slice() {
        match own_service(subdomain) {
            None => return Resolves::Unknown,
            Some(true) => return Resolves::HeadlessPod,
            Some(false) => {}
        }
    }
    Resolves::Nowhere {
        namespace: last.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(value: &str) -> Vec<(String, String, Option<i32>)> {
        addresses(value, "ml", &|ns| ns == "kafka")
            .into_iter()
            .map(|a| (a.service, a.namespace, a.port))
            .collect()
    }

    #[test]
    fn finds_in_cluster_addresses() {
        let cases = [
            ("http://mlflow:5000", "mlflow", "ml", Some(5000)),
            ("minio:9000", "minio", "ml", Some(9000)),
            ("kafka.kafka.svc:9092", "kafka", "kafka", Some(9092)),
            ("broker.kafka:9092", "broker", "kafka", Some(9092)),
            (
                "kafka-0.kafka-headless.kafka.svc.cluster.local:9092",
                "kafka-headless",
                "kafka",
                Some(9092),
            ),
            (
                "http://user:pw@minio:9000/bucket",
                "minio",
                "ml",
                Some(9000),
            ),
            (
                "mlflow-artifacts://mlflow:5000/x",
                "mlflow",
                "ml",
                Some(5000),
            ),
        ];
        for (value, service, ns, port) in cases {
            assert_eq!(
                services(value),
                vec![(service.to_string(), ns.to_string(), port)],
                "{value}"
            );
        }
        assert_eq!(services("a:1,b:2").len(), 2);
    }

    #[test]
    fn the_same_service_in_another_namespace_keeps_the_form() {
        let moved =
            |value: &str| addresses(value, "ml", &|ns| ns == "kafka")[0].in_namespace("streaming");
        assert_eq!(moved("mlflow:5000"), "mlflow.streaming");
        assert_eq!(moved("broker.kafka:9092"), "broker.streaming");
        assert_eq!(moved("kafka.kafka.svc:9092"), "kafka.streaming.svc");
        assert_eq!(
            moved("kafka-0.kafka-headless.kafka.svc.cluster.local:9092"),
            "kafka-0.kafka-headless.streaming.svc.cluster.local"
        );
    }

    #[test]
    fn ignores_what_is_not_an_in_cluster_address() {
        for v in [
            "LSTM",
            "GRU,LSTM,PROPHET",
            "https://api.example.com",
            "127.0.0.1:8080",
            "localhost:5000",
            "s3://bucket.other:1",
            "0.5",
            "true",
            // Buckets, claims, file systems and registered models are not hosts.
            "s3://models/prefix",
            "s3a://training-data",
            "gs://bucket/path",
            "abfs://container@account.dfs.core.windows.net/x",
            "hdfs://namenode:8020/data",
            "file:///mnt/models",
            "pvc://model-store/sklearn",
            "models:/churn/3",
            "runs:/0f3a/model",
            "hf://org/model",
        ] {
            assert!(services(v).is_empty(), "{v}: {:?}", services(v));
        }
    }

    #[test]
    fn splits_an_address_into_its_parts() {
        let p =
            parse("amqp://celery:s3cret@rabbitmq.default.svc.cluster.local:5672/vhost").unwrap();
        assert_eq!(p.scheme, Some("amqp"));
        assert_eq!((p.user, p.password), (Some("celery"), Some("s3cret")));
        assert_eq!(p.host, "rabbitmq.default.svc.cluster.local");
        assert_eq!((p.port, p.path), (Some(5672), "/vhost"));
        let bare = parse("minio:9000").unwrap();
        assert_eq!((bare.scheme, bare.user, bare.password), (None, None, None));
        assert!(parse("not an address").is_none());
    }

    #[test]
    fn names_the_form_as_dns_resolves_it() {
        let one = |v: &str| addresses(v, "ml", &|ns| ns == "default").remove(0);
        let full = one("amqp://rabbitmq.default.svc.cluster.local:5672");
        assert_eq!(full.form, Form::Full);
        assert_eq!(
            full.described("the KEDA operator"),
            "`rabbitmq.default.svc.cluster.local`, Service rabbitmq in namespace default"
        );
        assert_eq!(one("rabbitmq.default:5672").form, Form::Namespaced);
        let short = one("rabbitmq:5672");
        assert_eq!(short.form, Form::Short);
        assert_eq!(
            short.described("the KEDA operator"),
            "short name `rabbitmq`, which the KEDA operator resolves in its own namespace (ml)"
        );
    }

    #[test]
    fn finds_and_masks_url_passwords() {
        let url = "amqp://celery:Xk9-rabbit-2024@rabbitmq:5672/%2f";
        assert_eq!(url_password(url), Some("Xk9-rabbit-2024"));
        assert_eq!(masked(url), "amqp://celery:****@rabbitmq:5672/%2f");
        assert_eq!(url_password("http://prometheus:9090"), None);
        assert_eq!(url_password("amqp://guest@rabbitmq:5672"), None);
        assert_eq!(
            url_password("postgres://u:p@db:5432/x?sslmode=disable"),
            Some("p")
        );
    }

    /// A cluster whose namespaces are ml and kafka, and ml has Services
    /// minio and kafka-headless.
    fn judged(host: &str) -> Resolves {
        resolves(host, &|ns| Some(["ml", "kafka"].contains(&ns)), &|svc| {
            Some(["minio", "kafka-headless"].contains(&svc))
        })
    }

    #[test]
    fn a_dotted_name_in_no_namespace_and_no_public_suffix_resolves_nowhere() {
        let nowhere = |ns: &str| Resolves::Nowhere {
            namespace: ns.to_string(),
        };
        assert_eq!(
            judged("seldon-scheduler.seldon-system"),
            nowhere("seldon-system")
        );
        assert_eq!(judged("foo.internal"), nowhere("internal"));
        assert_eq!(judged("db.prod.corp"), nowhere("corp"));
        assert_eq!(judged("Seldon-Scheduler.Seldon"), nowhere("seldon"));
        assert_eq!(judged("foo.internal").can_resolve(), Some(false));
    }

    #[test]
    fn a_dotted_name_that_may_resolve() {
        assert_eq!(judged("api.example.com"), Resolves::Outside);
        assert_eq!(judged("bucket.s3.amazonaws.com"), Resolves::Outside);
        assert_eq!(judged("example.co.uk"), Resolves::Outside);
        assert_eq!(judged("broker.kafka"), Resolves::Service);
        // pod kafka-0 of the headless Service kafka-headless in ml itself
        assert_eq!(judged("kafka-0.kafka-headless"), Resolves::HeadlessPod);
        assert_eq!(judged("kafka-0.kafka-headless.kafka"), Resolves::Unknown);
        for r in [Resolves::Outside, Resolves::Service, Resolves::HeadlessPod] {
            assert_eq!(r.can_resolve(), Some(true));
        }
    }

    #[test]
    fn what_names_alone_cannot_tell() {
        for host in [
            "seldon-scheduler",
            "kafka.kafka.svc",
            "rabbitmq.default.svc.cluster.local",
            "10-1-2-3.ml.pod.cluster.local",
            "a.b.cluster.local",
            "127.0.0.1",
            "seldon-scheduler.seldon-system.",
            "not a host.x",
            "",
        ] {
            assert_eq!(judged(host), Resolves::Unknown, "{host}");
        }
        // Namespaces (or the resolver's Services) not read: unknown, never nowhere.
        let unread = |host: &str| resolves(host, &|_| None, &|_| Some(false));
        assert_eq!(unread("seldon-scheduler.seldon-system"), Resolves::Unknown);
        let no_services = |host: &str| resolves(host, &|_| Some(false), &|_| None);
        assert_eq!(
            no_services("seldon-scheduler.seldon-system"),
            Resolves::Unknown
        );
        assert_eq!(
            no_services("db.prod.corp"),
            Resolves::Nowhere {
                namespace: "corp".into()
            }
        );
        assert_eq!(Resolves::Unknown.can_resolve(), None);
    }
}
