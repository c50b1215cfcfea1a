//! `docker build` on ACR Tasks (`POST /build`): the context uploaded to the
//! blob ACR Tasks hands out, a `DockerBuildRequest` run that pushes into
//! `registry_server`, its log shown as the builder's output, the image
//! recorded under the client's names. `plan.rs` (the request, pure),
//! `context.rs` (the context gzipped as it streams), `log.rs` (the run's log
//! as Docker progress, pure), `run.rs` (the build from upload to record),
//! `record.rs` (the built image read back, labelled, recorded).

mod context;
mod log;
mod plan;
mod record;
mod run;

use sockerless_api::{ApiError, BuildImageOptions, BuildStream, ByteStream, Result};
use tokio::sync::mpsc;

use crate::AcaBackend;

/// Progress messages queued for a slow client (the run's log waits).
const PROGRESS_DEPTH: usize = 64;

/// `Backend::image_build`: refuses what cannot be built before reading
/// the context, then streams the build.
pub async fn build(
    backend: &AcaBackend,
    opts: BuildImageOptions,
    context: ByteStream,
) -> Result<BuildStream> {
    let tasks = backend
        .azure()
        .acr_tasks
        .clone()
        .map_err(ApiError::NotImplemented)?;
    let Some(server) = backend.config().registry_server.clone() else {
        return Err(ApiError::NotImplemented(
            "docker build pushes the image to registry_server, where ACA pulls it: configure registry_server".into(),
        ));
    };
    let unique = crate::clock::random_hex(6)?;
    let destinations = plan::destinations(&opts.tags, &unique)?;
    plan::run_platform(opts.platform.as_deref())?;
    let (tx, rx) = mpsc::channel(PROGRESS_DEPTH);
    let build = run::Build {
        backend: backend.clone(),
        tasks,
        server,
        opts,
        destinations,
    };
    tokio::spawn(run::drive(build, context, tx));
    Ok(Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}
