//! A run's task against engines that never answer: its timeout, and a
//! cancel while it waits for a build slot.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;

use super::build::{RunJob, run};
use super::runs::RunStatus;
use super::{LOG_CONTAINER, SOURCE_CONTAINER, STORAGE_ACCOUNT, request};
use crate::blob::blob_key;
use crate::config::SimConfig;
use crate::state::AppState;

/// A state whose engine accepts connections and never answers, and a job
/// with an uploaded source.
async fn setup(timeout_secs: u64) -> (Arc<AppState>, RunJob, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("acr-run-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sock = dir.join("engine.sock");
    let listener = tokio::net::UnixListener::bind(&sock).expect("bind");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            held.push(c);
        }
    });
    let config = SimConfig {
        engine: format!("unix://{}", sock.display()),
        ..SimConfig::default()
    };
    let state = Arc::new(AppState::new(
        config,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join("data"),
    ));
    let source_key = blob_key(STORAGE_ACCOUNT, SOURCE_CONTAINER, "source/x.tar.gz");
    let path = state
        .blobs()
        .blob_path(STORAGE_ACCOUNT, SOURCE_CONTAINER, "source/x.tar.gz")
        .expect("path");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(&path, b"not read").expect("source");
    state.blobs().put(&source_key, path, 8, Default::default());
    let mut req = request::parse(&json!({
        "type": "DockerBuildRequest", "dockerFilePath": "Dockerfile",
        "platform": {"os": "Linux"}, "sourceLocation": "source/x.tar.gz", "imageNames": ["app:1"],
    }))
    .expect("request");
    req.timeout_secs = timeout_secs;
    let (r, cancel, _) = state
        .tasks
        .create(
            "/registries/sockerlesssim",
            json!({"os": "Linux"}),
            false,
            |id| blob_key(STORAGE_ACCOUNT, LOG_CONTAINER, &format!("{id}/rawtext.log")),
        )
        .expect("run");
    let log_path = state
        .blobs()
        .blob_path(
            STORAGE_ACCOUNT,
            LOG_CONTAINER,
            &format!("{}/rawtext.log", r.run_id),
        )
        .expect("log path");
    let job = RunJob {
        run_id: r.run_id.clone(),
        request: req,
        source_key,
        log_key: r.log_key,
        log_path,
        cancel,
    };
    (state, job, dir)
}

fn log_of(state: &AppState, key: &str) -> (String, Option<String>) {
    let entry = state.blobs().get(key).cloned().expect("log blob");
    let text = std::fs::read_to_string(&entry.path).expect("log");
    (text, entry.metadata.get("Complete").cloned())
}

#[tokio::test]
async fn a_run_past_its_timeout_ends_timeout() {
    let (state, job, dir) = setup(1).await;
    let (id, log_key, source_key) = (
        job.run_id.clone(),
        job.log_key.clone(),
        job.source_key.clone(),
    );
    let started = std::time::Instant::now();
    run(state.clone(), job).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let r = state.tasks.get(&id).expect("run");
    assert_eq!(r.status, RunStatus::Timeout);
    assert!(r.finish_time.is_some() && r.output_images.is_empty());
    let (text, complete) = log_of(&state, &log_key);
    assert_eq!(complete.as_deref(), Some("timedout"));
    assert!(
        text.contains("Launching container with name: build"),
        "{text}"
    );
    assert!(
        text.contains(&format!("Run ID: {id} timed out after")),
        "{text}"
    );
    assert!(state.blobs().get(&source_key).is_none(), "the source stays");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn runs_past_the_build_slots_wait_queued_and_may_be_canceled_there() {
    let (state, job, dir) = setup(3600).await;
    let slots = state.tasks.permits.clone();
    let _held = slots
        .acquire_many(super::runs::MAX_BUILDING as u32)
        .await
        .expect("slots");
    let (id, log_key) = (job.run_id.clone(), job.log_key.clone());
    let task = tokio::spawn(run(state.clone(), job));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        state.tasks.status(&id),
        Some(RunStatus::Queued),
        "no slot is free"
    );
    state.tasks.cancel(&id);
    task.await.expect("task");
    assert_eq!(state.tasks.status(&id), Some(RunStatus::Canceled));
    let (text, complete) = log_of(&state, &log_key);
    assert_eq!(complete.as_deref(), Some("canceled"));
    assert!(
        text.contains(&format!("Run ID: {id} was canceled after")),
        "{text}"
    );
    assert!(
        !text.contains("Launching container"),
        "a queued run never started: {text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
