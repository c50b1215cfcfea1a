//! A start that fails before the agent connects (here: the agent image does
//! not exist, so the execution's init container cannot be pulled, and the
//! replica stays pending until its replicaTimeout, as on Azure): the job
//! is deleted, `docker start` answers an error, and an AutoRemove container
//! is removed as dockerd removes it, which ends `docker run --rm`'s wait.
//! Needs the emulator's variables (see runtime_sim.rs); `#[ignore]`d: `cargo xtask test` runs it with `--include-ignored`, and it fails without them.

mod sim_support;

use sim_support::{Env, GUARD, create, setup, sh, vars, wait_job_gone};
use sockerless_api::docker::{ContainerCreateBody, HostConfig};
use sockerless_api::{ApiError, Backend, WaitCondition};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn failed_start_removes_an_auto_remove_container() {
    let (engine, registry, _agent_image) = vars();
    let missing_agent = format!("{registry}/sockerless/no-such-agent:missing");
    tokio::time::timeout(GUARD, scenario(engine, registry, missing_agent))
        .await
        .expect("scenario hung");
}

async fn scenario(engine: String, registry: String, agent_image: String) {
    let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
    let auto = create(
        &backend,
        "doomed-rm",
        ContainerCreateBody {
            cmd: sh("echo never"),
            labels: short_replica_timeout(),
            host_config: Some(HostConfig {
                auto_remove: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let kept = create(
        &backend,
        "doomed-kept",
        ContainerCreateBody {
            cmd: sh("echo never"),
            labels: short_replica_timeout(),
            ..Default::default()
        },
    )
    .await;
    let removed = {
        let backend = backend.clone();
        let id = auto.clone();
        tokio::spawn(async move { backend.container_wait(&id, WaitCondition::Removed).await })
    };

    let err = backend
        .container_start(&auto)
        .await
        .expect_err("start must fail");
    assert!(
        matches!(err, ApiError::Unavailable(_)),
        "unexpected error kind: {err:?}"
    );
    assert!(
        err.message().contains("the job was deleted"),
        "{}",
        err.message()
    );
    assert!(
        err.message().contains("ImagePullBackOff") && err.message().contains("no-such-agent"),
        "the replica's reason: {}",
        err.message()
    );
    removed.await.expect("join").expect("wait removed");
    let gone = backend.container_inspect(&auto).await.expect_err("removed");
    assert!(matches!(gone, ApiError::NotFound(_)), "{gone:?}");

    // Without AutoRemove the container stays, not running, for `docker start` again or `docker rm`.
    backend
        .container_start(&kept)
        .await
        .expect_err("start must fail");
    let inspect = backend.container_inspect(&kept).await.expect("kept");
    assert_eq!(inspect.state.and_then(|s| s.running), Some(false));

    for id in [&auto, &kept] {
        let job = sockerless_backend_aca::names::job_name(id).expect("job name");
        // A failed start deletes its job itself; an AutoRemove through rm's queue.
        wait_job_gone(&backend, &job).await;
    }
    backend
        .container_remove(&kept, Default::default())
        .await
        .expect("rm");
    sim.shutdown().await;
}

/// The replica waits for an image it cannot pull until replicaTimeout: 10 s
/// here instead of the default day.
fn short_replica_timeout() -> Option<std::collections::HashMap<String, String>> {
    Some(
        [(
            sockerless_backend_aca::runtime::template::REPLICA_TIMEOUT_LABEL.to_owned(),
            "10".to_owned(),
        )]
        .into(),
    )
}
