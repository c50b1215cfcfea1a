//! End to end through the Azure emulator: `docker cp` through the agent
//! (put, get, stat, errors) and the health reported by the agent (inspect,
//! ps status, `health` filter). Needs SOCKERLESS_SIM_ENGINE,
//! SOCKERLESS_TEST_REGISTRY and SOCKERLESS_AGENT_IMAGE; `#[ignore]`d: `cargo xtask test` runs it with `--include-ignored`, and it fails without them.

mod sim_support;

use std::io::Read;

use bytes::Bytes;
use futures_util::StreamExt;
use sim_support::{Env, GUARD, backend_on, create, setup_with, vars};
use sockerless_api::docker::{ContainerCreateBody, HealthConfig, HealthStatusEnum};
use sockerless_api::{
    ApiError, Backend, ByteStream, ListContainersOptions, RemoveContainerOptions, StopOptions,
};
use sockerless_backend_aca::AcaBackend;

fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, name, content)
        .expect("tar entry");
    builder.into_inner().expect("tar")
}

/// A tar whose only entry is `../escape` (the tar crate refuses to build
/// such a path, so the header's name is written by hand).
fn escaping_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_old();
    let name = b"../escape";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_size(1);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    builder.append(&header, &b"x"[..]).expect("tar entry");
    builder.into_inner().expect("tar")
}

fn stream_of(data: Vec<u8>) -> ByteStream {
    // Several chunks, so the put really streams.
    let chunks: Vec<Result<Bytes, ApiError>> = data
        .chunks(700)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures_util::stream::iter(chunks))
}

async fn health(backend: &AcaBackend, name: &str) -> Option<HealthStatusEnum> {
    backend
        .container_inspect(name)
        .await
        .expect("inspect")
        .state
        .and_then(|s| s.health)
        .and_then(|h| h.status)
}

async fn ps_health(backend: &AcaBackend, value: &str) -> Vec<String> {
    backend
        .container_list(ListContainersOptions {
            filters: [("health".to_owned(), vec![value.to_owned()])].into(),
            ..Default::default()
        })
        .await
        .expect("ps")
        .into_iter()
        .filter_map(|c| c.status)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator's engine, registry and agent image: SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY, SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"]
async fn cp_and_health_through_the_agent() {
    let (engine, registry, agent_image) = vars();
    tokio::time::timeout(GUARD, scenario(engine, registry, agent_image))
        .await
        .expect("scenario hung");
}

async fn scenario(engine: String, registry: String, agent_image: String) {
    let mut saved = None;
    let Env { sim, backend, _dir } =
        setup_with(engine, registry, agent_image, |c| saved = Some(c.clone())).await;
    let config = saved.expect("config");
    let id = create(
        &backend,
        "hc",
        ContainerCreateBody {
            cmd: Some(vec!["sleep".into(), "300".into()]),
            healthcheck: Some(HealthConfig {
                test: Some(vec!["CMD-SHELL".into(), "test -f /tmp/ok".into()]),
                interval: Some(1_000_000_000),
                timeout: Some(5_000_000_000),
                retries: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(health(&backend, "hc").await, None, "no health before start");
    // A created container answers from the files put into it: none yet.
    let err = backend
        .container_archive_stat("hc", "/tmp")
        .await
        .expect_err("nothing kept");
    assert!(
        matches!(err, ApiError::NotFound(ref m) if m == "Could not find the file /tmp in container hc"),
        "{err:?}"
    );

    backend.container_start(&id).await.expect("start");
    let first = health(&backend, "hc").await;
    assert!(
        matches!(
            first,
            Some(HealthStatusEnum::STARTING | HealthStatusEnum::UNHEALTHY)
        ),
        "{first:?}"
    );
    assert!(ps_health(&backend, "healthy").await.is_empty());
    assert_eq!(ps_health(&backend, "none").await.len(), 0);

    // Missing paths: 404 with Docker's message.
    let err = backend
        .container_archive_stat("hc", "/nope")
        .await
        .expect_err("missing");
    assert!(
        matches!(err, ApiError::NotFound(ref m) if m == "Could not find the file /nope in container hc"),
        "{err:?}"
    );
    let err = backend
        .container_archive_put("hc", "/nope", stream_of(tar_with("ok", b"x")))
        .await
        .expect_err("missing dir");
    assert!(matches!(err, ApiError::NotFound(_)), "{err:?}");

    let err = backend
        .container_archive_put("hc", "/tmp", stream_of(escaping_tar()))
        .await
        .expect_err("escape");
    assert!(
        matches!(err, ApiError::InvalidParameter(ref m) if m.contains("escapes")),
        "{err:?}"
    );

    // Put a file: the probe starts succeeding.
    let content = b"healthy now\n".repeat(200);
    backend
        .container_archive_put("hc", "/tmp", stream_of(tar_with("ok", &content)))
        .await
        .expect("put");
    let stat = backend
        .container_archive_stat("hc", "/tmp/ok")
        .await
        .expect("stat");
    assert_eq!(
        (stat.name.as_str(), stat.size),
        ("ok", content.len() as i64)
    );

    // Hang guard only: the scenario's GUARD bounds this wait.
    while health(&backend, "hc").await != Some(HealthStatusEnum::HEALTHY) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let inspect = backend.container_inspect("hc").await.expect("inspect");
    let h = inspect.state.and_then(|s| s.health).expect("health");
    assert_eq!(h.failing_streak, Some(0));
    let log = h.log.expect("log");
    assert!(!log.is_empty() && log.len() <= 5, "{log:?}");
    assert_eq!(log.last().and_then(|r| r.exit_code), Some(0));
    let statuses = ps_health(&backend, "healthy").await;
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert!(statuses[0].starts_with("Up ") && statuses[0].ends_with(" (healthy)"));

    // Get it back as a tar.
    let (stat, mut tar_stream) = backend
        .container_archive_get("hc", "/tmp/ok")
        .await
        .expect("get");
    assert_eq!(stat.name, "ok");
    assert_eq!(
        last_entry(&mut tar_stream).await,
        Some(("ok".to_owned(), content.clone()))
    );

    backend
        .container_stop(
            &id,
            StopOptions {
                timeout_secs: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("stop");
    // As with dockerd, the file can still be copied out once it exited
    // (from the changes kept at exit over the image's layers).
    let (stat, mut tar_stream) = backend
        .container_archive_get("hc", "/tmp/ok")
        .await
        .expect("get from the exited container");
    assert_eq!(stat.name, "ok");
    assert_eq!(
        last_entry(&mut tar_stream).await,
        Some(("ok".to_owned(), content.clone()))
    );
    // The last run's health and ARM call counts outlive the backend's
    // process, as the record does.
    let arm_calls = |inspect: &sockerless_api::docker::ContainerInspectResponse| {
        let annotations = inspect
            .host_config
            .as_ref()
            .and_then(|h| h.annotations.clone())
            .unwrap_or_default();
        (
            annotations.get("sockerless.aca.arm.reads").cloned(),
            annotations.get("sockerless.aca.arm.writes").cloned(),
        )
    };
    let before = backend.container_inspect("hc").await.expect("inspect");
    let shown = before.state.clone().and_then(|s| s.health);
    assert!(shown.is_some(), "health after the exit");
    let counted = arm_calls(&before);
    assert!(
        counted.1.as_deref().is_some_and(|w| w != "0"),
        "writes counted: {counted:?}"
    );
    backend.close().await.expect("close");
    let backend = backend_on(&sim, config).await;
    let after = backend
        .container_inspect("hc")
        .await
        .expect("inspect after restart");
    assert_eq!(
        after.state.clone().and_then(|s| s.health),
        shown,
        "the health kept in the store"
    );
    assert_eq!(
        arm_calls(&after),
        counted,
        "the ARM calls kept in the store"
    );
    backend
        .container_remove(&id, RemoveContainerOptions::default())
        .await
        .expect("rm");
    sim.shutdown().await;
}

/// The last entry (path, content) of the tar `stream` carries.
async fn last_entry(
    stream: &mut (impl futures_util::Stream<Item = sockerless_api::Result<bytes::Bytes>> + Unpin),
) -> Option<(String, Vec<u8>)> {
    let mut tar_bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        tar_bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut found = None;
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        found = Some((path, data));
    }
    found
}
