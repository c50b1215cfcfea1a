//! dockerd's stats document from the agent's samples (pure): the current
//! sample and the one before it (`precpu_stats`, `preread`); none gives
//! dockerd's zeroed document of a container that does not run.

use serde_json::{Map, Value, json};
use sockerless_agent::protocol::StatsSample;

use crate::clock::ZERO_TIME;

fn time(s: Option<&StatsSample>) -> String {
    s.map_or_else(
        || ZERO_TIME.to_owned(),
        |s| crate::clock::rfc3339(s.read_nanos),
    )
}

fn cpu(s: Option<&StatsSample>) -> Value {
    let Some(s) = s else {
        return json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        });
    };
    let mut usage = Map::new();
    usage.insert("total_usage".into(), s.cpu_total_ns.into());
    if !s.cpu_percpu_ns.is_empty() {
        usage.insert("percpu_usage".into(), json!(s.cpu_percpu_ns));
    }
    usage.insert("usage_in_kernelmode".into(), s.cpu_system_ns.into());
    usage.insert("usage_in_usermode".into(), s.cpu_user_ns.into());
    json!({
        "cpu_usage": usage,
        "system_cpu_usage": s.system_cpu_ns,
        "online_cpus": s.online_cpus,
        "throttling_data": {
            "periods": s.throttling.0,
            "throttled_periods": s.throttling.1,
            "throttled_time": s.throttling.2,
        },
    })
}

fn memory(s: Option<&StatsSample>) -> Value {
    let Some(s) = s.filter(|s| s.cgroup_version > 0) else {
        return json!({});
    };
    let mut m = Map::new();
    m.insert("usage".into(), s.memory_usage.into());
    if let Some(max) = s.memory_max_usage {
        m.insert("max_usage".into(), max.into());
    }
    m.insert("stats".into(), json!(s.memory_stat));
    m.insert("limit".into(), s.memory_limit.into());
    Value::Object(m)
}

fn pids(s: Option<&StatsSample>) -> Value {
    let mut m = Map::new();
    if let Some(s) = s {
        let current = s.pids_current.unwrap_or(u64::from(s.num_procs));
        m.insert("current".into(), current.into());
        if let Some(limit) = s.pids_limit {
            m.insert("limit".into(), limit.into());
        }
    }
    Value::Object(m)
}

fn blkio(s: Option<&StatsSample>) -> Value {
    const OTHERS: [&str; 7] = [
        "io_serviced_recursive",
        "io_queue_recursive",
        "io_service_time_recursive",
        "io_wait_time_recursive",
        "io_merged_recursive",
        "io_time_recursive",
        "sectors_recursive",
    ];
    let mut m = Map::new();
    let bytes = s.map(|s| {
        s.blkio
            .iter()
            .map(|(major, minor, op, value)| {
                json!({"major": major, "minor": minor, "op": op, "value": value})
            })
            .collect::<Vec<_>>()
    });
    m.insert("io_service_bytes_recursive".into(), json!(bytes));
    // cgroup v1 lists the others empty, v2 has none (null), as dockerd.
    let others = match s {
        Some(s) if s.cgroup_version == 1 => json!([]),
        _ => Value::Null,
    };
    for k in OTHERS {
        m.insert(k.into(), others.clone());
    }
    Value::Object(m)
}

/// The document for `cur` with `pre` as the previous sample.
pub fn shape(cur: Option<&StatsSample>, pre: Option<&StatsSample>, name: &str, id: &str) -> Value {
    let mut doc = json!({
        "read": time(cur),
        "preread": time(pre),
        "pids_stats": pids(cur),
        "blkio_stats": blkio(cur),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(cur),
        "precpu_stats": cpu(pre),
        "memory_stats": memory(cur),
        "name": format!("/{name}"),
        "id": id,
    });
    if let (Some(s), Some(obj)) = (cur, doc.as_object_mut())
        && !s.networks.is_empty()
    {
        obj.insert("networks".into(), json!(s.networks));
    }
    doc
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sockerless_agent::protocol::NetDev;

    use super::*;

    fn sample(v: u8, at: i64) -> StatsSample {
        StatsSample {
            read_nanos: at,
            cgroup_version: v,
            cpu_total_ns: 20,
            cpu_user_ns: 15,
            cpu_system_ns: 5,
            cpu_percpu_ns: if v == 1 { vec![8, 12] } else { vec![] },
            system_cpu_ns: 1000,
            online_cpus: 2,
            memory_usage: 52 << 20,
            memory_max_usage: (v == 1).then_some(60 << 20),
            memory_limit: 1 << 30,
            memory_stat: BTreeMap::from([("inactive_file".to_owned(), 4096)]),
            pids_current: Some(2),
            blkio: vec![(8, 0, "read".into(), 10)],
            networks: BTreeMap::from([(
                "eth0".to_owned(),
                NetDev {
                    rx_bytes: 1,
                    ..Default::default()
                },
            )]),
            ..Default::default()
        }
    }

    #[test]
    fn zeroed_as_dockerd_answers_a_stopped_container() {
        let doc = shape(None, None, "web", "abc");
        let want = json!({
            "read": ZERO_TIME, "preread": ZERO_TIME, "pids_stats": {},
            "blkio_stats": {"io_service_bytes_recursive": null, "io_serviced_recursive": null,
                "io_queue_recursive": null, "io_service_time_recursive": null,
                "io_wait_time_recursive": null, "io_merged_recursive": null,
                "io_time_recursive": null, "sectors_recursive": null},
            "num_procs": 0, "storage_stats": {},
            "cpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
            "precpu_stats": {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}},
            "memory_stats": {}, "name": "/web", "id": "abc",
        });
        assert_eq!(doc, want);
    }

    #[test]
    fn v1_sample_with_its_predecessor() {
        let (pre, cur) = (sample(1, 1_000_000_000), sample(1, 2_000_000_000));
        let doc = shape(Some(&cur), Some(&pre), "web", "abc");
        assert_eq!(doc["read"], "1970-01-01T00:00:02Z");
        assert_eq!(doc["preread"], "1970-01-01T00:00:01Z");
        assert_eq!(doc["memory_stats"]["usage"], 52u64 << 20);
        assert_eq!(doc["memory_stats"]["max_usage"], 60u64 << 20);
        assert_eq!(doc["memory_stats"]["limit"], 1u64 << 30);
        assert_eq!(doc["memory_stats"]["stats"]["inactive_file"], 4096);
        assert_eq!(
            doc["cpu_stats"]["cpu_usage"]["percpu_usage"],
            json!([8, 12])
        );
        assert_eq!(doc["cpu_stats"]["cpu_usage"]["usage_in_kernelmode"], 5);
        assert_eq!(doc["precpu_stats"]["system_cpu_usage"], 1000);
        assert_eq!(doc["cpu_stats"]["online_cpus"], 2);
        assert_eq!(doc["pids_stats"], json!({"current": 2}));
        assert_eq!(doc["blkio_stats"]["io_serviced_recursive"], json!([]));
        assert_eq!(
            doc["blkio_stats"]["io_service_bytes_recursive"],
            json!([{"major": 8, "minor": 0, "op": "read", "value": 10}])
        );
        assert_eq!(doc["networks"]["eth0"]["rx_bytes"], 1);
        assert_eq!(doc["num_procs"], 0);
    }

    #[test]
    fn v2_and_first_samples() {
        let cur = sample(2, 5);
        let doc = shape(Some(&cur), None, "web", "abc");
        assert_eq!(doc["preread"], ZERO_TIME);
        assert_eq!(doc["precpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert!(doc["precpu_stats"].get("system_cpu_usage").is_none());
        assert!(doc["memory_stats"].get("max_usage").is_none());
        assert!(doc["cpu_stats"]["cpu_usage"].get("percpu_usage").is_none());
        assert_eq!(doc["blkio_stats"]["io_serviced_recursive"], Value::Null);
        let mut none = sample(0, 5);
        none.networks.clear();
        let doc = shape(Some(&none), None, "web", "abc");
        assert_eq!(doc["memory_stats"], json!({}));
        assert!(doc.get("networks").is_none());
    }
}
