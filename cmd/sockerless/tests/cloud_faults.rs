//! What a failing cloud costs a Docker user: with the emulator answering
//! every job DELETE 500, `docker run --rm` still prints, exits with the
//! process's code and returns (the job's deletion is queued, not awaited);
//! once the faults stop, the job is collected. And a cloud that throttles,
//! fails and slows down a tenth of the calls costs time, never a run. See
//! `common/mod.rs` for the environment it needs.

use sockerless_testkit as common;

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
    let failures = run_many(&d, RUNS, PARALLEL);
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

/// `runs` × `docker run --rm busybox echo $i`, `parallel` at a time: the
/// runs that did not print their line and exit 0.
fn run_many(d: &Sockerless, runs: usize, parallel: usize) -> Vec<String> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel)
            .map(|w| {
                scope.spawn(move || {
                    let mut failures = Vec::new();
                    for i in (w..runs).step_by(parallel) {
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
    })
}

/// Azure's less pleasant answers: writes whose response is lost after they
/// took effect, connections dropped before any answer, job operations that
/// end `Failed` or `Canceled`, and throttled token and registry endpoints.
/// Every run still prints its line and exits 0, and nothing is left.
#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn runs_survive_lost_responses_dropped_connections_and_failed_operations() {
    const RUNS: usize = 40;
    const PARALLEL: usize = 5;
    let env = test_env();
    let _serial = serial();
    let d = Sockerless::start(&env);
    d.pull_busybox();
    d.set_faults(&serde_json::json!({
        "lostResponseRate": 0.05, "dropRate": 0.03,
        "lroFailRate": 0.05, "lroCancelRate": 0.03,
        "tokenRate429": 0.1, "acrRate429": 0.1,
        "retryAfterSecs": 1, "lroDelayMs": 500, "lroJitterMs": 1000
    }));
    let failures = run_many(&d, RUNS, PARALLEL);
    let requests = d.sim_requests();
    let dropped = requests.iter().filter(|r| r["status"] == 0).count();
    d.set_faults(&serde_json::json!({}));
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(dropped >= 5, "only {dropped} connections were dropped");
    d.assert_nothing_left();
}
