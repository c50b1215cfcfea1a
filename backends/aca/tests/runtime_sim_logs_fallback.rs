//! `docker logs` for a run whose output the backend did not capture (for
//! example, it was down while the container ran) falls back to Log Analytics:
//! the agent copies the main process's output to its console, the platform
//! ingests it, and the backend reads it back — the user's container only,
//! streams kept apart. Needs the emulator's variables (see runtime_sim.rs);
//! `#[ignore]`d: `cargo xtask test` runs it with `--include-ignored`, and it fails without them.

mod sim_support;

use std::time::Duration;

use sim_support::{Env, GUARD, collect, create, setup, sh, vars};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{Backend, LogsOptions, WaitCondition};

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

    // What the backend would have if it had been down during the run: nothing.
    let forget = id.clone();
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
