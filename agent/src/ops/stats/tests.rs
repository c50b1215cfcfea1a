//! Tests of `stats.rs`: the parsers, and samples of v1 and v2 fixtures.

use std::path::Path;

use super::*;

const PROC_STAT: &str = "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\ncpu1 50 1 15 200 3 3 4 4 0 0\nintr 1 2\n";
const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     10       1    0    0    0     0          0         0       10       1    0    0    0     0       0          0\n  eth0:   1296      16    1    2    0     0          0         0      126       3    4    5    0     0       0          0\n";

#[test]
fn parsers() {
    assert_eq!(parse_proc_stat(PROC_STAT), (550, 2));
    let nets = parse_net_dev(NET_DEV);
    assert_eq!(nets.len(), 1);
    let eth0 = &nets["eth0"];
    assert_eq!(
        (
            eth0.rx_bytes,
            eth0.rx_packets,
            eth0.rx_errors,
            eth0.rx_dropped
        ),
        (1296, 16, 1, 2)
    );
    assert_eq!(
        (
            eth0.tx_bytes,
            eth0.tx_packets,
            eth0.tx_errors,
            eth0.tx_dropped
        ),
        (126, 3, 4, 5)
    );
    assert_eq!(
        parse_io_stat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2\nbad\n"),
        vec![(8, 0, "read".into(), 4096), (8, 0, "write".into(), 8192)]
    );
    assert_eq!(
        parse_blkio("8:0 Read 10\n8:0 Write 20\nTotal 30\n"),
        vec![(8, 0, "Read".into(), 10), (8, 0, "Write".into(), 20)]
    );
    let keyed = parse_keyed("anon 4096\nfile 0\nbroken\n");
    assert_eq!(keyed.get("anon"), Some(&4096));
    assert_eq!(keyed.len(), 2);
    assert_eq!(parse_mem_total("MemTotal:       1024 kB\n"), 1024 * 1024);
    assert_eq!(parse_threads("Name:\tx\nThreads:\t7\n"), Some(7));
    assert_eq!(parse_threads("Name:\tx\n"), None);
}

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
}

fn proc_fixture(root: &Path) {
    write(root, "stat", PROC_STAT);
    write(root, "meminfo", "MemTotal:       2048 kB\n");
    write(root, "net/dev", NET_DEV);
}

#[test]
fn v2_sample() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cg, pr) = (dir.path().join("cg"), dir.path().join("proc"));
    proc_fixture(&pr);
    write(&cg, "cgroup.controllers", "cpu memory pids io\n");
    write(&cg, "memory.current", "1048576\n");
    write(&cg, "memory.max", "max\n");
    write(&cg, "memory.stat", "anon 4096\ninactive_file 100\n");
    write(
        &cg,
        "cpu.stat",
        "usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 7\n",
    );
    write(&cg, "pids.current", "2\n");
    write(&cg, "pids.max", "max\n");
    write(&cg, "io.stat", "8:0 rbytes=1 wbytes=2\n");
    let s = sample(&cg, &pr, 100, 2);
    assert_eq!(s.cgroup_version, 2);
    assert_eq!(s.memory_usage, 1_048_576);
    assert_eq!(s.memory_limit, 2048 * 1024, "unlimited: the host's memory");
    assert_eq!(s.memory_stat.get("inactive_file"), Some(&100));
    assert_eq!(
        (s.cpu_total_ns, s.cpu_user_ns, s.cpu_system_ns),
        (2_000_000, 1_500_000, 500_000)
    );
    assert_eq!(s.throttling, (3, 1, 7000));
    assert_eq!((s.pids_current, s.pids_limit), (Some(2), None));
    assert_eq!(s.blkio.len(), 2);
    assert_eq!(s.system_cpu_ns, 550 * 10_000_000);
    assert_eq!((s.online_cpus, s.num_procs), (2, 2));
    assert!(s.read_nanos > 0);
}

#[test]
fn v1_sample() {
    let dir = tempfile::tempdir().expect("tmp");
    let (cg, pr) = (dir.path().join("cg"), dir.path().join("proc"));
    proc_fixture(&pr);
    write(&cg, "memory/memory.usage_in_bytes", "561152\n");
    write(&cg, "memory/memory.max_usage_in_bytes", "3809280\n");
    write(&cg, "memory/memory.limit_in_bytes", "1048576\n");
    write(
        &cg,
        "memory/memory.stat",
        "cache 0\ntotal_inactive_file 4096\n",
    );
    write(&cg, "cpuacct/cpuacct.usage", "20193643\n");
    write(&cg, "cpuacct/cpuacct.usage_percpu", "2000118 18193525 \n");
    write(&cg, "cpuacct/cpuacct.stat", "user 2\nsystem 1\n");
    write(
        &cg,
        "cpu/cpu.stat",
        "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    );
    write(&cg, "pids/pids.current", "1\n");
    write(&cg, "blkio/blkio.throttle.io_service_bytes", "Total 0\n");
    let s = sample(&cg, &pr, 100, 1);
    assert_eq!(s.cgroup_version, 1);
    assert_eq!(
        (s.memory_usage, s.memory_max_usage, s.memory_limit),
        (561_152, Some(3_809_280), 1_048_576)
    );
    assert_eq!(s.cpu_total_ns, 20_193_643);
    assert_eq!(s.cpu_percpu_ns, vec![2_000_118, 18_193_525]);
    assert_eq!((s.cpu_user_ns, s.cpu_system_ns), (20_000_000, 10_000_000));
    assert_eq!(s.pids_current, Some(1));
    assert!(s.blkio.is_empty());
}

#[test]
fn no_cgroup_is_version_0_with_proc_figures() {
    let dir = tempfile::tempdir().expect("tmp");
    let pr = dir.path().join("proc");
    proc_fixture(&pr);
    let s = sample(&dir.path().join("none"), &pr, 100, 0);
    assert_eq!(s.cgroup_version, 0);
    assert_eq!(s.memory_usage, 0);
    assert_eq!(s.networks.len(), 1);
}
