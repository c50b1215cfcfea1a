//! STATS: one sample of the container's figures, read from its cgroup
//! (v2, or v1's per-controller hierarchies) and `/proc`. The parsers are
//! pure; [`sample`] reads the files under given roots (tests use fixtures).

use std::collections::BTreeMap;
use std::path::Path;

use crate::protocol::{NetDev, StatsSample};

/// `key value` lines (`memory.stat`, `cpu.stat`, `cpuacct.stat`).
pub(crate) fn parse_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_owned(), f.next()?.parse().ok()?))
        })
        .collect()
}

/// cgroup v2 `io.stat`: `8:0 rbytes=1 wbytes=2 …` → dockerd's `read`/`write` entries.
pub(crate) fn parse_io_stat(text: &str) -> Vec<(u64, u64, String, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((major, minor)) = f.next().and_then(device) else {
            continue;
        };
        for kv in f {
            let op = match kv.split_once('=') {
                Some(("rbytes", v)) => ("read", v),
                Some(("wbytes", v)) => ("write", v),
                _ => continue,
            };
            if let Ok(v) = op.1.parse() {
                out.push((major, minor, op.0.to_owned(), v));
            }
        }
    }
    out
}

/// cgroup v1 `blkio.throttle.io_service_bytes`: `8:0 Read 123` lines (the
/// closing `Total N` line names no device and is left out).
pub(crate) fn parse_blkio(text: &str) -> Vec<(u64, u64, String, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (major, minor) = device(f.next()?)?;
            let op = f.next()?.to_owned();
            Some((major, minor, op, f.next()?.parse().ok()?))
        })
        .collect()
}

fn device(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `/proc/stat`: the host's CPU time in ticks (the first seven fields of
/// the `cpu` line, as dockerd sums them) and the CPUs online.
pub(crate) fn parse_proc_stat(text: &str) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        match f.next() {
            Some("cpu") => total = f.take(7).filter_map(|v| v.parse::<u64>().ok()).sum(),
            Some(n) if n.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// `/proc/net/dev`, loopback left out.
pub(crate) fn parse_net_dev(text: &str) -> BTreeMap<String, NetDev> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let v: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if name == "lo" || v.len() < 12 {
            continue;
        }
        out.insert(
            name.to_owned(),
            NetDev {
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            },
        );
    }
    out
}

/// `MemTotal` of `/proc/meminfo`, bytes.
pub(crate) fn parse_mem_total(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// `Threads` of `/proc/<pid>/status`.
pub(crate) fn parse_threads(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A number file (`max` and unreadable: none).
fn number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Reads one sample: the cgroup mounted at `cgroup` (`/sys/fs/cgroup`),
/// `/proc` at `proc_root`; `ticks` per second; `num_procs` counted by the caller.
pub(crate) fn sample(cgroup: &Path, proc_root: &Path, ticks: u64, num_procs: u32) -> StatsSample {
    let ticks = ticks.max(1);
    let (host_ticks, online_cpus) = parse_proc_stat(&text(&proc_root.join("stat")));
    let mem_total = parse_mem_total(&text(&proc_root.join("meminfo")));
    let mut s = StatsSample {
        read_nanos: crate::ops::now_nanos(),
        system_cpu_ns: host_ticks.saturating_mul(1_000_000_000 / ticks),
        online_cpus,
        networks: parse_net_dev(&text(&proc_root.join("net/dev"))),
        num_procs,
        memory_limit: mem_total,
        ..Default::default()
    };
    if cgroup.join("cgroup.controllers").exists() {
        s.cgroup_version = 2;
        s.memory_usage = number(&cgroup.join("memory.current")).unwrap_or(0);
        if let Some(max) = number(&cgroup.join("memory.max")) {
            s.memory_limit = max.min(mem_total.max(1));
        }
        s.memory_stat = parse_keyed(&text(&cgroup.join("memory.stat")));
        let cpu = parse_keyed(&text(&cgroup.join("cpu.stat")));
        let us = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
        s.cpu_total_ns = us("usage_usec");
        s.cpu_user_ns = us("user_usec");
        s.cpu_system_ns = us("system_usec");
        s.throttling = (
            cpu.get("nr_periods").copied().unwrap_or(0),
            cpu.get("nr_throttled").copied().unwrap_or(0),
            us("throttled_usec"),
        );
        s.pids_current = number(&cgroup.join("pids.current"));
        s.pids_limit = number(&cgroup.join("pids.max"));
        s.blkio = parse_io_stat(&text(&cgroup.join("io.stat")));
    } else if cgroup.join("memory/memory.usage_in_bytes").exists() {
        s.cgroup_version = 1;
        let mem = cgroup.join("memory");
        s.memory_usage = number(&mem.join("memory.usage_in_bytes")).unwrap_or(0);
        s.memory_max_usage = number(&mem.join("memory.max_usage_in_bytes"));
        if let Some(limit) = number(&mem.join("memory.limit_in_bytes")) {
            s.memory_limit = limit.min(mem_total.max(1));
        }
        s.memory_stat = parse_keyed(&text(&mem.join("memory.stat")));
        let acct = cgroup.join("cpuacct");
        s.cpu_total_ns = number(&acct.join("cpuacct.usage")).unwrap_or(0);
        s.cpu_percpu_ns = text(&acct.join("cpuacct.usage_percpu"))
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let split = parse_keyed(&text(&acct.join("cpuacct.stat")));
        let ns = |k: &str| {
            split
                .get(k)
                .copied()
                .unwrap_or(0)
                .saturating_mul(1_000_000_000 / ticks)
        };
        s.cpu_user_ns = ns("user");
        s.cpu_system_ns = ns("system");
        let cpu = parse_keyed(&text(&cgroup.join("cpu/cpu.stat")));
        s.throttling = (
            cpu.get("nr_periods").copied().unwrap_or(0),
            cpu.get("nr_throttled").copied().unwrap_or(0),
            cpu.get("throttled_time").copied().unwrap_or(0),
        );
        s.pids_current = number(&cgroup.join("pids/pids.current"));
        s.pids_limit = number(&cgroup.join("pids/pids.max"));
        s.blkio = parse_blkio(&text(&cgroup.join("blkio/blkio.throttle.io_service_bytes")));
    }
    s
}

#[cfg(test)]
mod tests;
