//! What a failing cloud costs a Docker user: with the emulator answering
//! every job DELETE 500, `docker run --rm` still prints, exits with the
//! process's code and returns (the job's deletion is queued, not awaited);
//! once the faults stop, the job is collected. And a cloud that throttles,
//! fails and slows down a tenth of the calls costs time, never a run. See
//! `common/mod.rs` for the environment it needs.

mod common;

use common::{Sockerless, serial, test_env};

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn run_rm_returns_while_job_deletes_fail_and_the_job_goes_after() {
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    d.set_faults(&serde_json::json!({"failMethods": ["DELETE"]}));
    let out = d.docker(&["run", "--rm", "busybox", "sh", "-c", "echo hi; exit 3"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "hi\n"), "{out:?}");
    assert_eq!(
        d.docker(&["ps", "-aq"]).ok().stdout,
        "",
        "the record is gone"
    );
    assert_eq!(
        d.arm_jobs().len(),
        1,
        "the job stays while Azure fails its DELETE"
    );
    // Azure keeps failing deletes for a minute; the retries go on (with
    // backoff, at most 30 s apart), so the job goes soon after it recovers.
    std::thread::sleep(std::time::Duration::from_secs(60));
    assert_eq!(d.arm_jobs().len(), 1, "still failing");
    d.set_faults(&serde_json::json!({}));
    let recovered = std::time::Instant::now();
    d.assert_nothing_left();
    assert!(
        recovered.elapsed() < std::time::Duration::from_secs(120),
        "the job went {:?} after the faults stopped",
        recovered.elapsed()
    );
}

/// A flaky, slow cloud: 10% of ARM requests answered 429, 500 or 503 and
/// long-running operations slowed. 100 `docker run --rm` (10 at a time) all
/// print their line and exit 0, and nothing is left behind.
#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_hundred_runs_through_a_flaky_cloud_all_succeed_and_leave_nothing() {
    const RUNS: usize = 100;
    const PARALLEL: usize = 10;
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    d.set_faults(&serde_json::json!({
        "rate429": 0.04, "rate500": 0.03, "rate503": 0.03,
        "retryAfterSecs": 1, "lroDelayMs": 1500
    }));
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PARALLEL)
            .map(|w| {
                let d = &d;
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for i in (w..RUNS).step_by(PARALLEL) {
                        let out = d.docker(&["run", "--rm", "busybox", "echo", &i.to_string()]);
                        if out.code != 0 || out.stdout != format!("{i}\n") {
                            failures.push(format!("run {i}: {out:?}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    let injected = d
        .sim_requests()
        .iter()
        .filter(|r| matches!(r["status"].as_u64(), Some(429 | 500 | 503)))
        .count();
    d.set_faults(&serde_json::json!({}));
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(injected >= 50, "only {injected} faults were injected");
    d.assert_nothing_left();
}
