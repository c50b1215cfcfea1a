//! Issue 16, item 6: when the daemon starts again, the containers dockerd
//! would restore are started — `always` even after the user stopped it,
//! `unless-stopped` only when the user did not, nothing without a policy —
//! with their restart count back at 0.

mod sim_support;

use std::time::{Duration, Instant};

use sim_support::{Env, GUARD, backend_on, create, pull_busybox, setup, sh, sim_config, vars};
use sockerless_api::docker::{ContainerCreateBody, HostConfig, RestartPolicy};
use sockerless_api::{Backend, StopOptions};
use sockerless_backend_aca::AcaBackend;

async fn stopped_by_the_user(backend: &AcaBackend, name: &str, policy: &str) -> String {
    let policy: RestartPolicy =
        serde_json::from_value(serde_json::json!({ "Name": policy })).expect("policy");
    let id = create(
        backend,
        name,
        ContainerCreateBody {
            cmd: sh("sleep 600"),
            host_config: Some(HostConfig {
                restart_policy: Some(policy),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    backend.container_start(&id).await.expect("start");
    backend
        .container_stop(
            &id,
            StopOptions {
                signal: None,
                timeout_secs: Some(1),
            },
        )
        .await
        .expect("stop");
    id
}

async fn status(backend: &AcaBackend, id: &str) -> (String, i64) {
    let c = backend.container_inspect(id).await.expect("inspect");
    let state = c
        .state
        .and_then(|s| s.status)
        .map(|s| s.to_string())
        .unwrap_or_default();
    (state, c.restart_count.unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn the_daemon_starts_what_dockerd_restores() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let Env {
            sim,
            backend: first,
            _dir,
        } = setup(engine, registry.clone(), agent_image.clone()).await;
        let always = stopped_by_the_user(&first, "rp-always", "always").await;
        let unless = stopped_by_the_user(&first, "rp-unless", "unless-stopped").await;
        let none = stopped_by_the_user(&first, "rp-none", "no").await;
        for id in [&always, &unless, &none] {
            assert_eq!(status(&first, id).await.0, "exited");
        }
        // The daemon goes away; another starts on its data dir.
        first.store().close().await.expect("close the store");
        drop(first);
        let second = backend_on(
            &sim,
            sim_config(&sim, _dir.path(), &registry, agent_image, 0),
        )
        .await;
        second.start_agent_endpoint().await.expect("endpoint");
        pull_busybox(&second).await;
        let deadline = Instant::now() + GUARD;
        while status(&second, &always).await != ("running".into(), 0) {
            assert!(Instant::now() < deadline, "the always container never ran");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Decided in the same pass as `always`: give a wrong start time to show.
        tokio::time::sleep(Duration::from_secs(3)).await;
        for id in [&unless, &none] {
            assert_eq!(status(&second, id).await.0, "exited", "{id}");
        }
        for id in [&always, &unless, &none] {
            second
                .container_remove(
                    id,
                    sockerless_api::RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    },
                )
                .await
                .expect("rm");
        }
        sim.shutdown().await;
    })
    .await
    .expect("hang guard");
}
