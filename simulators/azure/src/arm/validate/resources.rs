//! Replica sizing: CPU/memory strings, and the pairs each workload profile
//! accepts (Azure's `ContainerAppInvalidResourceTotal`).

use serde_json::{Map, Value};

use super::{ArmError, EnvFacts, V, invalid, str_of};

/// Memory in GiB from an ACA memory string (`0.5Gi`, `1Gi`, `512Mi`, `2G`).
pub fn parse_memory_gi(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, factor) = if let Some(n) = s.strip_suffix("Gi") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("Mi") {
        (n, 1.0 / 1024.0)
    } else if let Some(n) = s.strip_suffix('G') {
        (n, 1e9 / 1073741824.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v * factor)
}

/// The largest replica of the Consumption workload profile (workload
/// profiles environments): 4 vCPU, 8 GiB.
pub const CONSUMPTION_MAX_CPU: f64 = 4.0;
/// The largest replica of a Consumption-only environment: 2 vCPU, 4 GiB.
pub const CONSUMPTION_ONLY_MAX_CPU: f64 = 2.0;

/// Whether (cpu, memory GiB) is an allowed consumption pair: cpu from 0.25
/// to `max_cpu` in steps of 0.25 with memory = 2 × cpu.
pub fn is_consumption_pair(cpu: f64, mem_gi: f64, max_cpu: f64) -> bool {
    let quarters = cpu * 4.0;
    (quarters - quarters.round()).abs() < 1e-6
        && (1.0..=(max_cpu * 4.0)).contains(&quarters.round())
        && (mem_gi - 2.0 * cpu).abs() < 1e-3
}

/// How a job's replicas are sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Sizing {
    /// Consumption: pairs up to this many vCPU.
    Consumption(f64),
    /// A Dedicated profile: any positive amounts (its node size bounds them).
    Dedicated,
}

/// The sizing rule of the job's workload profile (none named: Consumption).
pub(super) fn sizing(props: &Map<String, Value>, env: &EnvFacts) -> Result<Sizing, ArmError> {
    if env.workload_profiles.is_empty() {
        return match str_of(props, "workloadProfileName") {
            Some(p) => Err(invalid(format!(
                "The workload profile '{p}' does not exist in the managed environment."
            ))),
            None => Ok(Sizing::Consumption(CONSUMPTION_ONLY_MAX_CPU)),
        };
    }
    match str_of(props, "workloadProfileName") {
        None => Ok(Sizing::Consumption(CONSUMPTION_MAX_CPU)),
        Some(p) => match env.workload_profiles.get(p) {
            None => Err(invalid(format!(
                "The workload profile '{p}' does not exist in the managed environment."
            ))),
            Some(kind) if kind.starts_with("Consumption") => {
                Ok(Sizing::Consumption(CONSUMPTION_MAX_CPU))
            }
            Some(_) => Ok(Sizing::Dedicated),
        },
    }
}

/// Resources of one container: (cpu, memory GiB), defaulting to 0.5 / 1Gi.
pub(super) fn container_resources(
    c: &Map<String, Value>,
    at: &str,
) -> Result<(f64, f64), ArmError> {
    let Some(r) = c.get("resources").and_then(Value::as_object) else {
        return Ok((0.5, 1.0));
    };
    let cpu = r.get("cpu").and_then(Value::as_f64).unwrap_or(0.5);
    let mem = match str_of(r, "memory") {
        None => 1.0,
        Some(m) => parse_memory_gi(m).ok_or_else(|| {
            invalid(format!(
                "The memory value '{m}' of '{at}.resources.memory' is not valid."
            ))
        })?,
    };
    Ok((cpu, mem))
}

fn resource_error(cpu: f64, mem: f64, max_cpu: f64) -> ArmError {
    let steps = (max_cpu * 4.0).round() as u32;
    let pairs: Vec<String> = (1..=steps)
        .map(|q| {
            let c = f64::from(q) / 4.0;
            format!("[cpu: {c:?}, memory: {:?}Gi]", c * 2.0)
        })
        .collect();
    ArmError::bad_request(
        "ContainerAppInvalidResourceTotal",
        format!(
            "The total requested CPU and memory resources for this application (CPU: {cpu}, memory: {mem}) is invalid. Total CPU and memory for all containers defined in a Container App Job must add up to one of the following CPU - Memory combinations: {}",
            pairs.join("; ")
        ),
    )
}

pub(super) fn check_total(cpu: f64, mem: f64, sizing: Sizing) -> V {
    match sizing {
        Sizing::Consumption(max) if !is_consumption_pair(cpu, mem, max) => {
            Err(resource_error(cpu, mem, max))
        }
        Sizing::Dedicated if cpu <= 0.0 => Err(resource_error(cpu, mem, CONSUMPTION_MAX_CPU)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert!(is_consumption_pair(0.25, 0.5, CONSUMPTION_ONLY_MAX_CPU));
        assert!(is_consumption_pair(2.0, 4.0, CONSUMPTION_ONLY_MAX_CPU));
        assert!(!is_consumption_pair(2.25, 4.5, CONSUMPTION_ONLY_MAX_CPU));
        assert!(is_consumption_pair(2.25, 4.5, CONSUMPTION_MAX_CPU));
        assert!(is_consumption_pair(4.0, 8.0, CONSUMPTION_MAX_CPU));
        assert!(!is_consumption_pair(4.25, 8.5, CONSUMPTION_MAX_CPU));
        let max = CONSUMPTION_MAX_CPU;
        assert!(is_consumption_pair(
            0.75,
            parse_memory_gi("1.5Gi").unwrap(),
            max
        ));
        assert!(is_consumption_pair(
            0.25,
            parse_memory_gi("512Mi").unwrap(),
            max
        ));
        assert!(!is_consumption_pair(
            0.2,
            parse_memory_gi("100Mi").unwrap(),
            max
        ));
        assert!(!is_consumption_pair(0.5, 2.0, max));
        assert_eq!(parse_memory_gi("1Ti"), None);
        assert_eq!(parse_memory_gi("-1Gi"), None);
        let e = resource_error(0.2, 0.1, max);
        assert!(
            e.message.contains("[cpu: 4.0, memory: 8.0Gi]"),
            "{}",
            e.message
        );
    }
}
