//! Restart benchmark (not a timed test): time to first output of
//! `docker start -a` of an exited container rerun in its lingering
//! execution (`--linger-secs`), next to the same container's first start
//! (a new ACA execution) and to a start after the linger time (a new
//! execution that restores the recorded changes). Issue 11's goal: the
//! rerun under 1 s on the emulator, against about 2 s for an execution.
//!
//! `cargo bench -p sockerless --bench restart` with the scenario tests'
//! environment (`SOCKERLESS_SIM_ENGINE`, `SOCKERLESS_TEST_REGISTRY`,
//! `SOCKERLESS_AGENT_BIN`); fails without it.
//! `SOCKERLESS_BENCH_RUNS` (default 3) sets the repetitions.

use sockerless_testkit as common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Sockerless, test_env, unique};

/// Seconds the execution lingers; the "after linger" case waits past it.
const LINGER_SECS: u64 = 4;

/// Time from spawning `docker start -a NAME` to its first stdout byte.
fn first_output(d: &Sockerless, name: &str) -> Duration {
    let started = Instant::now();
    let mut child = d
        .docker_cmd(&["start", "-a", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker start");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut byte = [0u8; 1];
    let n = stdout.read(&mut byte).expect("read");
    let first = started.elapsed();
    assert_eq!(n, 1, "no output from {name}");
    let mut rest = Vec::new();
    let _ = stdout.read_to_end(&mut rest);
    let _ = child.wait();
    first
}

fn main() {
    let env = test_env();
    let runs: usize = std::env::var("SOCKERLESS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let linger = LINGER_SECS.to_string();
    let d = Sockerless::start_with(&env, &["--linger-secs", &linger]);
    d.pull_busybox();
    let (mut fresh, mut rerun, mut restored) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let name = unique("bench-restart");
        let created = d.docker(&[
            "create",
            "--name",
            &name,
            "busybox",
            "sh",
            "-c",
            "echo 1 >> /tmp/n; cat /tmp/n",
        ]);
        assert_eq!(created.code, 0, "{created:?}");
        fresh.push(first_output(&d, &name));
        rerun.push(first_output(&d, &name));
        std::thread::sleep(Duration::from_secs(LINGER_SECS + 3));
        restored.push(first_output(&d, &name));
        d.docker(&["rm", "-f", &name]).ok();
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (f, r, s) = (
        median(&mut fresh),
        median(&mut rerun),
        median(&mut restored),
    );
    println!("restart benchmark, {runs} runs, median time to first output of `docker start -a`:");
    println!(
        "  new execution (first start):            {:>8.3} s",
        f.as_secs_f64()
    );
    println!(
        "  rerun in the lingering execution:       {:>8.3} s",
        r.as_secs_f64()
    );
    println!(
        "  new execution, recorded changes put in: {:>8.3} s",
        s.as_secs_f64()
    );
    println!(
        "  rerun / new execution: {:.2} (goal: rerun under 1 s)",
        r.as_secs_f64() / f.as_secs_f64()
    );
}
