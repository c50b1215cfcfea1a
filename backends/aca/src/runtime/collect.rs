//! Job deletions that outlive the request that asked for them. `docker rm`
//! (and so `docker run --rm`) answers once the container's record is gone:
//! the job's DELETE is queued in the store in the same transaction and
//! carried out here, retried with backoff until Azure confirms it, and
//! resumed at startup if the process died first. A cloud that fails deletes
//! for a while delays the collection, never the client. The share's copies
//! of the job's `:ro` binds go with it (`binds::read_only`).

use std::time::Duration;

use crate::AcaBackend;
use crate::store::records;

/// First wait after a failed delete; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Deletes `job` in the background until Azure confirms it (a job already
/// gone counts), then forgets the queued deletion.
pub fn spawn(backend: &AcaBackend, job: String) {
    let backend = backend.clone();
    tokio::spawn(async move { collect(&backend, &job).await });
}

/// Queues the deletion of `job` in the store (so a crash cannot lose it),
/// then carries it out as [`spawn`] does. A job whose deletion cannot even be
/// queued is still deleted now; reconciliation finds it if that fails too.
pub async fn queue(backend: &AcaBackend, job: &str) {
    record(backend, job).await;
    spawn(backend, job.to_owned());
}

/// [`queue`], with the first try awaited: when it succeeds the job is gone
/// on return (a failed `docker start` says so); when it fails, the retries
/// go on in the background.
pub async fn queue_and_try(backend: &AcaBackend, job: &str) {
    record(backend, job).await;
    match delete(backend, job).await {
        Ok(()) => forget(backend, job).await,
        Err(e) => {
            tracing::warn!(%job, error = %e, "job deletion failed; retrying in the background");
            spawn(backend, job.to_owned());
        }
    }
}

async fn record(backend: &AcaBackend, job: &str) {
    let queued = job.to_owned();
    let now = crate::clock::now_nanos();
    if let Err(e) = backend
        .store()
        .call(move |c| records::queue_job_delete(c, &queued, now))
        .await
    {
        tracing::warn!(%job, error = %e, "cannot queue the job's deletion; deleting it now");
    }
}

/// Resumes the deletions a previous run of this backend queued and did not
/// finish.
pub async fn resume(backend: &AcaBackend) {
    match backend
        .store()
        .call(|c| records::queued_job_deletes(c))
        .await
    {
        Ok(jobs) => {
            if !jobs.is_empty() {
                tracing::info!(jobs = jobs.len(), "resuming queued job deletions");
            }
            for job in jobs {
                spawn(backend, job);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the queued job deletions"),
    }
}

async fn collect(backend: &AcaBackend, job: &str) {
    let mut backoff = FIRST_BACKOFF;
    let mut failures = 0u32;
    loop {
        match delete(backend, job).await {
            Ok(()) => break,
            Err(e) => {
                failures += 1;
                tracing::warn!(%job, error = %e, failures, retry_in_secs = backoff.as_secs(), "job deletion failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    if failures > 0 {
        tracing::info!(%job, failures, "job deleted after retries");
    }
    forget(backend, job).await;
}

/// The job, then the share's copies of its `:ro` binds (they may be in use
/// until the job is gone).
async fn delete(backend: &AcaBackend, job: &str) -> Result<(), String> {
    backend
        .azure()
        .jobs
        .delete_job(job)
        .await
        .map_err(|e| e.to_string())?;
    crate::binds::read_only::forget_job(backend, job)
        .await
        .map_err(|e| e.to_string())
}

async fn forget(backend: &AcaBackend, job: &str) {
    let done = job.to_owned();
    if let Err(e) = backend
        .store()
        .call(move |c| records::job_delete_done(c, &done))
        .await
    {
        tracing::warn!(%job, error = %e, "job deleted, but its queued deletion stays recorded");
    }
    tracing::debug!(target: super::TIMELINE, %job, "job_deleted");
}
