//! `docker logs` for a run whose output the backend did not capture (for
//! example, it was down while the container ran) falls back to Log Analytics:
//! the agent copies the main process's output to its console, the platform
//! ingests it, and the backend reads it back — the user's container only,
//! streams kept apart. Needs the emulator's variables (see runtime_sim.rs);
//! `#[ignore]`d: `cargo xtask test` runs it with `--include-ignored`, and it fails without them.

mod sim_support;

use std::time::Duration;

use sim_support::{Env, GUARD, collect, create, setup, setup_on, sh, start_sim_with, vars};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{ApiError, Backend, LogsOptions, WaitCondition};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn logs_fall_back_to_log_analytics_when_nothing_was_captured() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, scenario(engine, registry, agent_image))
        .await
        .expect("scenario hung");
}

async fn scenario(engine: String, registry: String, agent_image: String) {
    let Env { sim, backend, _dir } = setup(engine, registry, agent_image).await;
    let id = create(
        &backend,
        "console",
        ContainerCreateBody {
            cmd: sh("echo to-out; echo to-err >&2"),
            ..Default::default()
        },
    )
    .await;
    backend.container_start(&id).await.expect("start");
    let status = backend
        .container_wait(&id, WaitCondition::NotRunning)
        .await
        .expect("wait");
    assert_eq!(status.status_code, 0);

    forget_output(&backend, &id).await;

    let opts = LogsOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    // Log Analytics lags (the emulator's ingestion delay is short in tests):
    // poll until the rows are there; the guard above bounds it.
    let (stdout, stderr) = loop {
        let logs = backend
            .container_logs(&id, opts.clone())
            .await
            .expect("logs");
        let (out, err) = collect(logs).await;
        if !out.is_empty() && !err.is_empty() {
            break (out, err);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(stdout, "to-out\n");
    assert_eq!(stderr, "to-err\n", "no init-container or agent lines");

    backend
        .container_remove(&id, Default::default())
        .await
        .expect("rm");
    sim.shutdown().await;
}

/// What the backend would have if it had been down during the run: nothing.
async fn forget_output(backend: &sockerless_backend_aca::AcaBackend, id: &str) {
    let forget = id.to_owned();
    backend
        .store()
        .call(move |c| {
            c.execute(
                "DELETE FROM container_logs WHERE container_id = ?1",
                [&forget],
            )?;
            c.execute(
                "DELETE FROM container_log_totals WHERE container_id = ?1",
                [&forget],
            )
        })
        .await
        .expect("forget captured output");
}

/// Under the azure profile a new workspace has no console table until its
/// first row is ingested (minutes after a replica prints): `docker logs` of
/// output never captured says so (503, "nothing yet"), not a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn logs_say_log_analytics_has_nothing_yet_before_the_table_exists() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, async {
        let sim = start_sim_with(engine, |c| {
            sockerless_azure_sim::Profile::Azure.apply(c);
            // The azure profile's scheduling delays are not what this is about.
            c.timing.scheduling_min_ms = 0;
            c.timing.scheduling_max_ms = 0;
            c.timing.scheduling_tail_rate = 0.0;
            c.faults.lro_delay_ms = 50;
            c.faults.lro_jitter_ms = 0;
            // No row becomes queryable during the test.
            c.ingestion_delay = Duration::from_secs(3600);
        })
        .await;
        let Env { sim, backend, _dir } = setup_on(sim, registry, agent_image, |_| {}).await;
        let id = create(
            &backend,
            "uncaptured",
            ContainerCreateBody {
                cmd: sh("echo lost"),
                ..Default::default()
            },
        )
        .await;
        backend.container_start(&id).await.expect("start");
        let status = backend
            .container_wait(&id, WaitCondition::NotRunning)
            .await
            .expect("wait");
        assert_eq!(status.status_code, 0);
        forget_output(&backend, &id).await;
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let err = match backend.container_logs(&id, opts).await {
            Ok(_) => panic!("logs answered although Log Analytics has no table"),
            Err(e) => e,
        };
        assert!(
            matches!(&err, ApiError::Unavailable(m) if m.contains("Log Analytics has nothing yet")),
            "{err:?}"
        );
        backend
            .container_remove(&id, Default::default())
            .await
            .expect("rm");
        sim.shutdown().await;
    })
    .await
    .expect("scenario hung");
}
