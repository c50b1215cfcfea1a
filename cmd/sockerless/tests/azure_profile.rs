//! The all-in-one against the emulator's azure profile (as slow and strict
//! as Azure: replicas scheduled in seconds to minutes, a replica that cannot
//! pull its image left pending until replicaTimeout): image errors reach the
//! Docker user as Docker's, at once when the backend itself cannot find the
//! image, within replicaTimeout when only the replica cannot pull it. See
//! `common/mod.rs` for the environment these need.

use sockerless_testkit as common;

use std::time::{Duration, Instant};

use common::{Sockerless, serial, test_env};

fn start_azure() -> Sockerless {
    Sockerless::start_with(&test_env(), &["--emulator-profile", "azure"])
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn a_missing_image_is_dockers_pull_error_and_creates_no_job() {
    let _serial = serial();
    let d = start_azure();
    assert_eq!(d.sim_config()["profile"], "azure");
    let out = d.docker(&["run", "nosuch/image", "true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr
            .contains("Unable to find image 'nosuch/image:latest' locally"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("Error response from daemon:") && out.stderr.contains("nosuch/image"),
        "{out:?}"
    );
    assert!(
        d.arm_jobs().is_empty(),
        "the image is resolved before any job is created"
    );
    assert_eq!(d.docker(&["ps", "-aq"]).ok().stdout, "");
}

#[test]
#[ignore = "needs the emulator's engine, the test registry and the static agent: cargo xtask test"]
fn an_image_the_replica_cannot_pull_fails_within_replica_timeout_with_the_reason() {
    // Longer than the azure profile's scheduling (5–40 s, tail removed
    // below), so the replica has tried to pull when the backend gives up.
    const REPLICA_TIMEOUT: u64 = 60;
    let env = test_env();
    let _serial = serial();
    let d = start_azure();
    d.pull_busybox();
    // The backend reaches the test registry (it resolved busybox from it);
    // the replicas, as behind a firewall, do not.
    let mut faults = d.sim_config()["faults"].clone();
    faults["pullBlockedRegistries"] = serde_json::json!([env.registry]);
    d.set_faults(&faults);
    let mut timing = d.sim_config()["timing"].clone();
    timing["schedulingTailRate"] = serde_json::json!(0.0);
    d.put_sim("timing", &timing);
    let started = Instant::now();
    let out = d.docker(&[
        "run",
        "--label",
        &format!("sockerless.aca.replica-timeout={REPLICA_TIMEOUT}"),
        "busybox",
        "echo",
        "never",
    ]);
    let took = started.elapsed();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("never"), "{out:?}");
    assert!(
        out.stderr
            .contains("could not be pulled from inside Azure Container Apps")
            && out.stderr.contains("busybox"),
        "a message naming the image and the cause: {out:?}"
    );
    assert!(
        out.stderr.contains("ImagePullBackOff") && out.stderr.contains("i/o timeout"),
        "the replica's own reason, from the execution's detailedStatus: {out:?}"
    );
    // replicaTimeout, plus the operations around it (job PUT, start, delete).
    assert!(
        took < Duration::from_secs(REPLICA_TIMEOUT + 60),
        "failed after {took:?}, replicaTimeout {REPLICA_TIMEOUT} s"
    );
    d.set_faults(&serde_json::json!({}));
    let rm = d.docker(&["ps", "-aq"]).ok().stdout;
    for id in rm.split_whitespace() {
        d.docker(&["rm", "-f", id]).ok();
    }
    d.assert_nothing_left();
}
