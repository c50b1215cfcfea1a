//! One run in the background: wait for a build slot, give the context to
//! the engine's `/build`, write its progress to the log blob, push, and
//! record the end. A cancel or the run's timeout drops the build request,
//! which makes dockerd abort a classic build; nothing is pushed then.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;
use tokio::sync::watch;

use super::logs::{self, LogWriter};
use super::push;
use super::request::{BuildRequest, ImageName, parse_image_name, platform_string};
use super::runs::{OutputImage, RunStatus};
use crate::state::AppState;

/// How a run ended, short of success.
struct Failure {
    status: RunStatus,
    message: String,
}

fn failed(message: impl Into<String>) -> Failure {
    Failure {
        status: RunStatus::Failed,
        message: message.into(),
    }
}

fn error(message: impl Into<String>) -> Failure {
    Failure {
        status: RunStatus::Error,
        message: message.into(),
    }
}

/// Everything a run needs, captured when it was scheduled.
pub struct RunJob {
    /// Run ID.
    pub run_id: String,
    /// The request.
    pub request: BuildRequest,
    /// The context's blob key.
    pub source_key: String,
    /// The log blob's key.
    pub log_key: String,
    /// Where the log blob's file goes.
    pub log_path: std::path::PathBuf,
    /// Set to true to cancel.
    pub cancel: watch::Receiver<bool>,
}

/// Runs `job` to its end (spawned by `scheduleRun`).
pub async fn run(state: Arc<AppState>, job: RunJob) {
    let mut cancel = job.cancel.clone();
    let mut log = LogWriter::create(state.clone(), job.log_key.clone(), job.log_path.clone()).await;
    let permits = state.tasks.permits.clone();
    let permit = tokio::select! {
        p = permits.acquire_owned() => p.ok(),
        _ = cancel.wait_for(|c| *c) => None,
    };
    let started = Instant::now();
    // Set once the engine has the build: only then may a tag be left there.
    let building = AtomicBool::new(false);
    let tag = format!(
        "sockerless-sim-build/{}:{}",
        job.run_id,
        crate::util::random_suffix(8)
    );
    let outcome = match permit {
        None => Err(Failure {
            status: RunStatus::Canceled,
            message: String::new(),
        }),
        Some(_permit) => {
            state
                .tasks
                .set_status(&job.run_id, RunStatus::Running, None, vec![]);
            log.raw(&logs::opening(
                chrono::Utc::now(),
                &state.registry_host(),
                job.request.timeout_secs,
            ))
            .await;
            let limit = Duration::from_secs(job.request.timeout_secs);
            let work = build_and_push(&state, &job, &tag, &mut log, started, &building);
            tokio::select! {
                r = tokio::time::timeout(limit, work) => r.unwrap_or_else(|_| Err(Failure {
                    status: RunStatus::Timeout,
                    message: format!("the run exceeded its timeout of {}s", job.request.timeout_secs),
                })),
                _ = cancel.wait_for(|c| *c) => Err(Failure { status: RunStatus::Canceled, message: String::new() }),
            }
        }
    };
    let (status, message, images) = match outcome {
        Ok(images) => (RunStatus::Succeeded, None, images),
        Err(f) => (f.status, Some(f.message).filter(|m| !m.is_empty()), vec![]),
    };
    // A cancel recorded by the API already stands; this end then changes nothing.
    state
        .tasks
        .set_status(&job.run_id, status, message.clone(), images);
    let ended = state.tasks.status(&job.run_id).unwrap_or(status);
    let secs = started.elapsed().as_secs() as i64;
    log.raw(&logs::closing(
        chrono::Utc::now(),
        &job.run_id,
        ended,
        secs,
        message.as_deref(),
    ))
    .await;
    log.complete(ended.complete_metadata());
    let source = state.blobs().remove(&job.source_key);
    if let Some(path) = source {
        let _ = tokio::fs::remove_file(path).await;
    }
    if building.load(Ordering::Relaxed) {
        crate::runner::untag(&state.config.engine, &[tag]).await;
    }
    tracing::info!(run = %job.run_id, status = ended.as_str(), "ACR Tasks run ended");
}

/// Credentials the build's `FROM` lines may need: the emulator's own
/// registry (a run is logged into it, as ACR's are) and the request's.
fn credentials(state: &AppState, req: &BuildRequest) -> HashMap<String, DockerCredentials> {
    let mut out = HashMap::new();
    let own = state.registry_host();
    out.insert(
        own.clone(),
        DockerCredentials {
            username: Some(state.config.registry_username.clone()),
            password: Some(state.config.registry_password.clone()),
            serveraddress: Some(own),
            ..Default::default()
        },
    );
    for l in &req.logins {
        out.insert(
            l.server.clone(),
            DockerCredentials {
                username: Some(l.username.clone()),
                password: Some(l.password.clone()),
                serveraddress: Some(l.server.clone()),
                ..Default::default()
            },
        );
    }
    out
}

async fn build_and_push(
    state: &Arc<AppState>,
    job: &RunJob,
    tag: &str,
    log: &mut LogWriter,
    started: Instant,
    building: &AtomicBool,
) -> Result<Vec<OutputImage>, Failure> {
    let req = &job.request;
    let own_hosts = vec![
        state.registry_host(),
        format!("{}.azurecr.io", super::REGISTRY_NAME),
    ];
    let names: Vec<ImageName> = if req.push {
        req.image_names
            .iter()
            .map(|n| parse_image_name(n, &own_hosts))
            .collect::<Result<_, _>>()
            .map_err(failed)?
    } else {
        Vec::new()
    };
    let host = state.registry_host();
    let shown: Vec<String> = names
        .iter()
        .map(|n| format!("{host}/{}:{}", n.repository, n.tag))
        .collect();
    let source = state
        .blobs()
        .get(&job.source_key)
        .map(|e| e.path.clone())
        .ok_or_else(|| error("the source blob is gone"))?;
    let docker = crate::runner::connect(&state.config.engine)
        .await
        .map_err(|e| error(format!("no build agent: {e}")))?;
    let context = tokio::fs::File::open(&source)
        .await
        .map_err(|e| error(format!("reading the source: {e}")))?;
    let len = tokio::fs::metadata(&source)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let options = BuildImageOptions {
        dockerfile: req.dockerfile.clone(),
        t: Some(tag.to_string()),
        // Every ACR Tasks run builds on a fresh agent: nothing is cached
        // from an earlier run, whatever `noCache` says.
        nocache: true,
        rm: true,
        forcerm: true,
        buildargs: Some(
            req.arguments
                .iter()
                .map(|(k, v, _)| (k.clone(), v.clone()))
                .collect(),
        ),
        target: req.target.clone().unwrap_or_default(),
        platform: platform_string(&req.platform),
        ..Default::default()
    };
    let body = bollard::body_try_stream(crate::blob::file_chunks(context, len));
    building.store(true, Ordering::Relaxed);
    let mut progress = docker.build_image(options, Some(credentials(state, req)), Some(body));
    let mut builder_error = None;
    while let Some(item) = progress.next().await {
        match item {
            Ok(info) => {
                let error = info
                    .error_detail
                    .as_ref()
                    .and_then(|e| e.message.as_deref());
                let msg = logs::Progress {
                    stream: info.stream.as_deref(),
                    status: info.status.as_deref(),
                    id: info.id.as_deref(),
                    error,
                    counting: info
                        .progress_detail
                        .as_ref()
                        .is_some_and(|p| p.current.is_some()),
                };
                log.builder(&logs::retag(&logs::progress_text(&msg), tag, &shown))
                    .await;
                if let Some(e) = error {
                    builder_error = Some(e.to_string());
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                log.builder(&format!("{error}\n")).await;
                builder_error = Some(error);
            }
            Err(e) => {
                log.builder(&format!("{e}\n")).await;
                builder_error = Some(e.to_string());
            }
        }
    }
    drop(progress);
    if let Some(e) = builder_error {
        let code = e
            .rsplit("non-zero code: ")
            .next()
            .filter(|c| c.parse::<i64>().is_ok())
            .unwrap_or("1");
        return Err(failed(format!(
            "failed during run, err: exit status {code}"
        )));
    }
    log.raw(&logs::build_succeeded(
        chrono::Utc::now(),
        started.elapsed().as_secs_f64(),
    ))
    .await;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let t = chrono::Utc::now();
    log.raw(&logs::acr_line(
        t,
        "Executing step ID: push. Timeout(sec): 3600, Working directory: '', Network: ''",
    ))
    .await;
    let pushed = push::push(state, &docker, tag, &names)
        .await
        .map_err(|e| failed(format!("failed to push images: {e}")))?;
    let mut out = Vec::new();
    for p in pushed {
        let reference = format!("{host}/{}:{}", p.name.repository, p.name.tag);
        log.raw(&logs::pushed(
            chrono::Utc::now(),
            &reference,
            &p.name.tag,
            &p.digest,
            p.size,
        ))
        .await;
        out.push(OutputImage {
            registry: host.clone(),
            repository: p.name.repository,
            tag: p.name.tag,
            digest: p.digest,
        });
    }
    log.raw(&logs::acr_line(
        chrono::Utc::now(),
        &format!(
            "Step ID: push marked as successful (elapsed time in seconds: {:.6})",
            (chrono::Utc::now() - t).as_seconds_f64()
        ),
    ))
    .await;
    Ok(out)
}
