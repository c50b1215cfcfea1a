//! One build on ACR Tasks, from the context to the recorded image: upload
//! the context, schedule the run, follow its log blob (ACR Tasks has no
//! push notification: the log is read every [`LOG_POLL`], the run itself
//! asked through ARM only at the end or every [`STATUS_EVERY`] while the
//! log says nothing), then record the image. A client that goes away
//! cancels the run.

use std::sync::Mutex;
use std::time::Duration;

use sockerless_api::{ApiError, BuildImageOptions, BuildProgress, ByteStream, Result};
use sockerless_azure::ErrorKind;
use sockerless_azure::acr_tasks::{AcrTasksClient, Run};
use sockerless_azure::blobs::BlobClient;
use tokio::sync::mpsc;

use super::context::gzipped;
use super::log::{LogEvent, LogReader};
use super::plan::{self, Destination};
use super::record::record_built;
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// How often the log blob is read while the run goes on.
const LOG_POLL: Duration = Duration::from_secs(1);
/// How often the run's status is asked while its log shows no end.
const STATUS_EVERY: Duration = Duration::from_secs(30);
/// Most log bytes read per request.
const LOG_READ: u64 = 1 << 20;

/// What a build needs, decided before the context is read.
pub struct Build {
    /// The backend (its registry client and catalog).
    pub backend: AcaBackend,
    /// The registry's ACR Tasks.
    pub tasks: AcrTasksClient,
    /// `registry_server`, where the image is pushed.
    pub server: String,
    /// The client's options.
    pub opts: BuildImageOptions,
    /// Where the image goes.
    pub destinations: Vec<Destination>,
}

type Progress = mpsc::Sender<Result<BuildProgress>>;

/// Runs the build, sending its progress to `tx`; if the client goes away
/// (the receiver dropped), the run is cancelled.
pub async fn drive(build: Build, context: ByteStream, tx: Progress) {
    let run_id: Mutex<Option<String>> = Mutex::default();
    let outcome = tokio::select! {
        result = follow(&build, context, &tx, &run_id) => Some(result),
        () = tx.closed() => None,
    };
    if let Some(Err(e)) = outcome {
        let _ = tx.send(Err(e)).await;
    }
    if !tx.is_closed() {
        return;
    }
    let id = run_id.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(id) = id {
        tracing::info!(run = %id, "build client gone: cancelling the run");
        if let Err(e) = build.tasks.cancel(&id).await {
            tracing::warn!(run = %id, error = %e, "cancelling the build's run");
        }
    }
}

async fn follow(
    build: &Build,
    context: ByteStream,
    tx: &Progress,
    run_id: &Mutex<Option<String>>,
) -> Result<()> {
    let azure = build.backend.azure();
    let upload = build
        .tasks
        .source_upload_url()
        .await
        .map_err(map_azure_error)?;
    let sent = azure
        .blobs
        .upload_stream(&upload.upload_url, gzipped(context))
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidInput => {
                ApiError::InvalidParameter(format!("reading the build context: {}", e.message()))
            }
            _ => map_azure_error(e),
        })?;
    tracing::debug!(bytes = sent, "build context uploaded");
    let request = plan::build_request(&build.opts, &build.destinations, &upload.relative_path)?;
    let run = build
        .tasks
        .schedule_build(&request)
        .await
        .map_err(map_azure_error)?;
    let id = run.properties.run_id.clone();
    *run_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
    tracing::info!(run = %id, registry = build.tasks.registry_name(), "build scheduled on ACR Tasks");
    let log_url = build.tasks.log_url(&id).await.map_err(map_azure_error)?;
    let mut reader = LogReader::default();
    let run = follow_log(build, &azure.blobs, &log_url, &id, &mut reader, tx).await?;
    *run_id.lock().unwrap_or_else(|p| p.into_inner()) = None;
    if !run.succeeded() {
        let (message, code) = reader.error().unwrap_or_else(|| {
            let why = run
                .properties
                .run_error_message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("the run ended {}", run.properties.status));
            (format!("build failed on ACR Tasks (run {id}): {why}"), None)
        });
        let _ = tx.send(Ok(BuildProgress::failed(message, code))).await;
        return Ok(());
    }
    let image_id = record_built(
        &build.backend,
        &build.server,
        &build.destinations,
        &run.properties.output_images,
        &build.opts.labels,
    )
    .await?;
    finish(build, &image_id, tx).await;
    Ok(())
}

/// Reads the log to its end, showing the builder's lines; answers the run
/// as it ended.
async fn follow_log(
    build: &Build,
    blobs: &BlobClient,
    log_url: &str,
    id: &str,
    reader: &mut LogReader,
    tx: &Progress,
) -> Result<Run> {
    let quiet = build.opts.quiet;
    let mut offset = 0u64;
    let mut last_status = tokio::time::Instant::now();
    let mut run_over = false;
    // ACR Tasks ends a run at its timeout; past that and a margin, the
    // service is not answering as it should and the client is told.
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(u64::from(plan::BUILD_TIMEOUT_SECS) + 600);
    loop {
        let props = blobs.properties(log_url).await.map_err(map_azure_error)?;
        let length = props.as_ref().map_or(0, |p| p.length);
        while offset < length {
            let chunk = blobs
                .read_range(log_url, offset, (length - offset).min(LOG_READ))
                .await
                .map_err(map_azure_error)?;
            if chunk.is_empty() {
                break;
            }
            offset += chunk.len() as u64;
            for event in reader.feed(&chunk) {
                if let (LogEvent::Show(line), false) = (event, quiet)
                    && tx.send(Ok(BuildProgress::line(line))).await.is_err()
                {
                    return Err(ApiError::Internal("build client gone".into()));
                }
            }
        }
        let complete = props
            .as_ref()
            .is_some_and(|p| p.metadata.contains_key("complete"));
        if complete || run_over {
            for event in reader.finish() {
                if let (LogEvent::Show(line), false) = (event, quiet) {
                    let _ = tx.send(Ok(BuildProgress::line(line))).await;
                }
            }
            return build.tasks.run(id).await.map_err(map_azure_error);
        }
        if last_status.elapsed() >= STATUS_EVERY {
            last_status = tokio::time::Instant::now();
            // The log's end mark may never come (a run that failed before
            // its first step): the run's own status ends the wait.
            run_over = build
                .tasks
                .run(id)
                .await
                .map_err(map_azure_error)?
                .is_done();
            if run_over {
                continue;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Unavailable(format!(
                "ACR Tasks run {id} did not end within its timeout ({} s)",
                plan::BUILD_TIMEOUT_SECS
            )));
        }
        tokio::time::sleep(LOG_POLL).await;
    }
}

/// dockerd's last lines of a build: the ID, then (unless quiet) the
/// short ID and each name; one `tag` event per name.
async fn finish(build: &Build, image_id: &str, tx: &Progress) {
    let mut lines = vec![BuildProgress::image_id(image_id)];
    if build.opts.quiet {
        lines.push(BuildProgress::line(format!("{image_id}\n")));
    } else {
        let short = image_id.trim_start_matches("sha256:");
        lines.push(BuildProgress::line(format!(
            "Successfully built {}\n",
            &short[..short.len().min(12)]
        )));
    }
    for dest in &build.destinations {
        if let Some(name) = &dest.name {
            let familiar = name.familiar();
            crate::events::actors::image(&build.backend, "tag", image_id, &familiar);
            if !build.opts.quiet {
                lines.push(BuildProgress::line(format!(
                    "Successfully tagged {familiar}\n"
                )));
            }
        }
    }
    for line in lines {
        if tx.send(Ok(line)).await.is_err() {
            return;
        }
    }
}
