//! What a failing cloud costs a Docker user: with the emulator answering
//! every job DELETE 500, `docker run --rm` still prints, exits with the
//! process's code and returns (the job's deletion is queued, not awaited);
//! once the faults stop, the job is collected. See `common/mod.rs` for the
//! environment it needs.

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
    d.set_faults(&serde_json::json!({}));
    d.assert_nothing_left();
}
