//! A container's `resources` as the engine's limits: CPU cores as
//! `NanoCpus`, memory as `Memory` with `MemorySwap` equal to it, so a
//! process over its memory is OOM-killed as in a replica, not swapped.

use serde_json::Value;

/// Bytes of a Kubernetes quantity as ACA writes memory (`1Gi`, `0.5Gi`,
/// `512Mi`, `2G`, `1024`); `None` when it does not parse or is not positive.
pub fn memory_bytes(s: &str) -> Option<i64> {
    let s = s.trim();
    const UNITS: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("K", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (num, factor) = UNITS
        .iter()
        .find_map(|(suffix, f)| s.strip_suffix(suffix).map(|n| (n, *f)))
        .unwrap_or((s, 1.0));
    let v: f64 = num.trim().parse().ok()?;
    let bytes = (v * factor).round();
    (bytes.is_finite() && bytes >= 1.0 && bytes < i64::MAX as f64).then_some(bytes as i64)
}

/// CPU cores (`0.5` or `"0.5"`) as nano-CPUs; `None` when absent or not positive.
pub fn nano_cpus(cpu: &Value) -> Option<i64> {
    let cores = match cpu {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let nanos = (cores * 1e9).round();
    (nanos.is_finite() && nanos >= 1.0 && nanos < i64::MAX as f64).then_some(nanos as i64)
}

/// The engine limits of container `c`: (`NanoCpus`, `Memory`), each `None`
/// when the template does not set it (validation filled in the defaults).
pub fn limits(c: &Value) -> (Option<i64>, Option<i64>) {
    let r = &c["resources"];
    (
        nano_cpus(&r["cpu"]),
        r["memory"].as_str().and_then(memory_bytes),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_quantities() {
        assert_eq!(memory_bytes("1Gi"), Some(1 << 30));
        assert_eq!(memory_bytes("0.5Gi"), Some(1 << 29));
        assert_eq!(memory_bytes("32Mi"), Some(32 << 20));
        assert_eq!(memory_bytes("2G"), Some(2_000_000_000));
        assert_eq!(memory_bytes("1024"), Some(1024));
        assert_eq!(memory_bytes("-1Gi"), None);
        assert_eq!(memory_bytes("0"), None);
        assert_eq!(memory_bytes("lots"), None);
        assert_eq!(memory_bytes("1e400Gi"), None);
    }

    #[test]
    fn cpu_and_limits() {
        assert_eq!(nano_cpus(&json!(0.5)), Some(500_000_000));
        assert_eq!(nano_cpus(&json!("1.25")), Some(1_250_000_000));
        assert_eq!(nano_cpus(&json!(0)), None);
        assert_eq!(nano_cpus(&Value::Null), None);
        let c = json!({"resources": {"cpu": 0.25, "memory": "0.5Gi"}});
        assert_eq!(limits(&c), (Some(250_000_000), Some(512 << 20)));
        assert_eq!(limits(&json!({})), (None, None));
    }
}
