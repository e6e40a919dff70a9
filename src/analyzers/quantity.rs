//! Kubernetes resource quantities as numbers, for comparing requests with
//! allocatable capacity: CPU in millicores, memory in bytes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `500m` → 500, `2` → 2000, `0.5` → 500.
pub fn millicores(q: &str) -> Option<f64> {
    let q = q.trim();
    match q.strip_suffix('m') {
        Some(n) => n.parse().ok(),
        None => q.parse::<f64>().ok().map(|n| n * 1000.0),
    }
}

/// A Kubernetes quantity in base units, the one parser of them:
/// `512Mi`, `1Gi`, `1500M`, `1e9`, `123456` → bytes; `100m` → 0.1.
pub fn bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    const UNITS: [(&str, f64); 14] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
        ("K", 1e3),
        ("m", 1e-3),
    ];
    for (suffix, factor) in UNITS {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    q.parse().ok()
}

/// Bytes the way `kubectl describe` would show them: `1.5Gi`, `412Mi`.
pub fn show_bytes(b: f64) -> String {
    let gi = 1073741824.0;
    let mi = 1048576.0;
    if b.abs() >= gi {
        trim(format!("{:.1}", b / gi)) + "Gi"
    } else {
        format!("{:.0}Mi", b / mi)
    }
}

/// Millicores as `250m` or `2`.
pub fn show_cpu(m: f64) -> String {
    if m % 1000.0 == 0.0 {
        format!("{}", m / 1000.0)
    } else {
        format!("{m:.0}m")
    }
}

fn trim(s: String) -> String {
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// CPU (millicores) and memory (bytes) a set of resource values adds up to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Resources {
    pub cpu: f64,
    pub memory: f64,
}

impl std::ops::Add for Resources {
    type Output = Resources;

    fn add(self, other: Resources) -> Resources {
        Resources {
            cpu: self.cpu + other.cpu,
            memory: self.memory + other.memory,
        }
    }
}

impl Resources {
    pub fn of(map: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let get = |k: &str| map.and_then(|m| m.get(k)).map(|q| q.0.as_str());
        Resources {
            cpu: get("cpu").and_then(millicores).unwrap_or(0.0),
            memory: get("memory").and_then(bytes).unwrap_or(0.0),
        }
    }

    pub fn show(&self) -> String {
        format!(
            "cpu {}, memory {}",
            show_cpu(self.cpu),
            show_bytes(self.memory)
        )
    }
}

/// What a container requests.
pub fn container_requests(c: &Container) -> Resources {
    Resources::of(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

/// What a pod requests, as the scheduler counts it: the sum of its containers,
/// or its largest init container when that is more.
pub fn pod_requests(pod: &Pod) -> Resources {
    let Some(spec) = &pod.spec else {
        return Resources::default();
    };
    let sum = spec
        .containers
        .iter()
        .map(container_requests)
        .fold(Resources::default(), |a, b| a + b);
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(container_requests)
        .fold(Resources::default(), |a, b| Resources {
            cpu: a.cpu.max(b.cpu),
            memory: a.memory.max(b.memory),
        });
    Resources {
        cpu: sum.cpu.max(init.cpu),
        memory: sum.memory.max(init.memory),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quantities() {
        assert_eq!(millicores("250m"), Some(250.0));
        assert_eq!(millicores("2"), Some(2000.0));
        assert_eq!(millicores("0.5"), Some(500.0));
        assert_eq!(bytes("512Mi"), Some(536870912.0));
        assert_eq!(bytes("1G"), Some(1e9));
        assert_eq!(bytes("6091372Ki"), Some(6091372.0 * 1024.0));
        assert_eq!(show_bytes(1610612736.0), "1.5Gi");
        assert_eq!(show_bytes(536870912.0), "512Mi");
        assert_eq!(show_cpu(2000.0), "2");
        assert_eq!(show_cpu(250.0), "250m");
    }
}
