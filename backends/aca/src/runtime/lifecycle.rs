//! The run of a container: start (put the job, start an execution, wait for
//! the agent) and removal (of the record, the job, the output). The
//! running state is [`super::running`], the exit [`super::exit`], stop and
//! kill [`super::stop`].

use std::sync::Arc;
use std::time::Duration;

use sockerless_api::{ApiError, Result};
use sockerless_azure::pipeline::count_arm_calls;

use super::running::{wait_not_running, wait_synced};
use super::state::{Command, ContainerRuntime};
use super::template::{ContainerSpec, TemplateSettings, job_for};
use super::{StoredConfig, find_container};
use crate::AcaBackend;
use crate::clock::{now_nanos, random_hex};
use crate::errors::map_azure_error;
use crate::store::hash_token;

/// `docker start`: puts the job, starts an execution and returns once the
/// agent has dialed in. On failure the job is deleted and the error returned.
pub async fn start(backend: &AcaBackend, id: &str) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    let by_policy = super::state::lock(&rt.restart_backoff).start_pending();
    if !by_policy {
        rt.stop_requested
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
    let result = {
        let _guard = rt.op_lock.lock().await;
        // A user's stop since the policy decided wins over the policy.
        if by_policy && rt.stop_requested.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::NotModified("stopped by the user".into()));
        }
        count_arm_calls(rt.arm.clone(), start_locked(backend, &rt, &record.id)).await
    };
    if let Err(e) = &result
        && !matches!(e, ApiError::NotModified(_))
    {
        crate::ports::close(&rt).await;
    }
    if let Err(e) = &result
        && !matches!(e, ApiError::NotModified(_))
        && super::restart_policy::auto_remove_of(&record)
    {
        // As dockerd does: an AutoRemove container whose start failed is
        // removed, which ends `docker run --rm`'s wait and attach.
        spawn_auto_remove(backend, &record.id);
    }
    result
}

pub(crate) fn spawn_auto_remove(backend: &AcaBackend, id: &str) {
    let backend = backend.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        // `docker run --rm` removes the anonymous volumes too, as dockerd does.
        let opts = sockerless_api::RemoveContainerOptions {
            force: true,
            volumes: true,
            ..Default::default()
        };
        if let Err(e) = remove(&backend, &id, opts).await {
            tracing::warn!(container = %id, error = %e, "auto-remove failed");
        }
    });
}

async fn start_locked(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, id: &str) -> Result<()> {
    let mut record = find_container(backend, id).await?;
    if rt.state.borrow().running || record.state == "running" {
        return Err(ApiError::NotModified("container already started".into()));
    }
    if super::restart::in_place(backend, rt, id).await? {
        return Ok(());
    }
    let endpoint = backend.agent_endpoint().await?;
    let agent_image = backend.config().agent_image.clone().ok_or_else(|| {
        ApiError::Internal(
            "agent_image is not configured: every container needs the sockerless agent image (agent_image / SOCKERLESS_ACA_AGENT_IMAGE)".into(),
        )
    })?;
    let mut stored = StoredConfig::of(&record)?;
    let image = crate::images::resolve(backend, &stored.image_id).await?;
    crate::networks::endpoints::assign_addresses(backend, id).await?;
    let token = random_hex(32)?;
    let settings = TemplateSettings {
        location: backend.config().location.clone(),
        environment_id: backend.config().managed_environment_id(),
        agent_registry_credential: crate::images::configured_credential_for(backend, &agent_image),
        agent_image,
        callback_url: endpoint.callback_url.clone(),
        agent_ca_pem: endpoint.ca_pem.clone(),
        replica_timeout_secs: backend.config().replica_timeout_secs,
        linger_secs: backend.config().linger_secs,
        ping_secs: backend.config().agent_ping_secs,
        liveness_timeout_secs: backend.config().agent_liveness_timeout_secs,
        instance_id: backend.instance_id().to_owned(),
    };
    let mut job = job_for(
        &ContainerSpec {
            id: &record.id,
            config: &stored.body,
            agent_token: &token,
        },
        &image,
        &settings,
    )?;
    crate::volumes::attach::add_to_job(backend, &stored.mounts, &mut job).await?;
    let by_policy = super::state::lock(&rt.restart_backoff).take_start();
    stored.restart_count =
        super::restart_policy::count_after_start(stored.restart_count, by_policy);
    stored.manually_stopped = false;
    // Binds are checked (and missing `-v` paths created) before any ARM write.
    crate::binds::before_start(backend, &record, &stored, &mut job).await?;
    crate::changes::before_start(backend, &record.id, &stored, &mut job).await?;
    // Published ports are bound before any ARM write: a taken one fails here.
    let endpoint_id = crate::networks::endpoints::first_endpoint_id(backend, &record).await?;
    crate::ports::open(rt, &record.name, &endpoint_id, &stored.body)?;
    rt.begin_run(hash_token(&token));
    let connected_before = *rt.connections.borrow();
    let mut connections = rt.connections.subscribe();
    record.agent_token_hash = Some(hash_token(&token));
    record.exit_code = None;
    let arm = rt.arm.counts();
    (stored.arm_reads, stored.arm_writes) = (arm.reads, arm.writes);
    record.config = stored.to_value()?;
    {
        // A new execution's streams start at 0 (a restart in a lingering
        // one goes on from where it was, and does not come here).
        let (id, hash, config) = (record.id.clone(), hash_token(&token), record.config.clone());
        backend
            .store()
            .call(move |c| {
                crate::store::records::begin_run(c, &id, &hash, &config)?;
                crate::store::logs::reset_output_offsets(c, &id)
            })
            .await?;
    }

    let jobs = &backend.azure().jobs;
    let job_name = record.job_name.clone();
    let started = async {
        jobs.put_job(&job_name, &job).await.map_err(map_azure_error)?;
        tracing::debug!(target: super::TIMELINE, container = %record.id, job = %job_name, "job_written");
        let execution = jobs.start(&job_name, None).await.map_err(map_azure_error)?;
        Ok::<_, ApiError>(execution.name.unwrap_or_default())
    }
    .await;
    let execution = match started {
        Ok(name) => name,
        Err(e) => {
            rt.end_run();
            abandon_job(backend, &job_name).await;
            return Err(e);
        }
    };
    {
        let (id, execution) = (record.id.clone(), execution.clone());
        backend
            .store()
            .call(move |c| crate::store::records::set_execution_name(c, &id, &execution))
            .await?;
    }
    tracing::info!(container = %record.id, job = %job_name, %execution, "execution started; waiting for the agent");
    tracing::debug!(target: super::TIMELINE, container = %record.id, job = %job_name, %execution, "execution_started");

    let waiting = super::first_connect::Waiting {
        backend,
        container: &record.id,
        job: &job_name,
        execution: &execution,
        image: &image.reference,
        replica_timeout_secs: super::template::replica_timeout(
            &stored.body,
            settings.replica_timeout_secs,
        )
        .ok()
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(u64::MAX),
    };
    let connected = async move {
        connections
            .wait_for(|g| *g > connected_before)
            .await
            .is_ok()
    };
    let Err(outcome) = waiting.agent_connected(connected).await else {
        return Ok(());
    };
    rt.end_run();
    abandon_job(backend, &job_name).await;
    let gone = record.id.clone();
    backend
        .store()
        .call(move |c| crate::store::records::set_token_hash(c, &gone, None))
        .await?;
    Err(ApiError::Unavailable(format!(
        "{outcome}; the job was deleted"
    )))
}

/// The job of a failed start goes through the retried deletion queue: a
/// delete that fails now must not leak it.
async fn abandon_job(backend: &AcaBackend, job_name: &str) {
    super::collect::queue_and_try(backend, job_name).await;
}

/// `docker rm`: refuses a running container unless `force`; deletes the job
/// (when one was ever created), the captured output and the record.
pub async fn remove(
    backend: &AcaBackend,
    id: &str,
    opts: sockerless_api::RemoveContainerOptions,
) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    rt.stop_requested
        .store(true, std::sync::atomic::Ordering::SeqCst);
    if rt.state.borrow().running {
        if !opts.force {
            return Err(ApiError::Conflict(format!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                record.id
            )));
        }
        if rt.agent().is_some() {
            rt.send(Command::Signal(9));
            if !wait_not_running(&rt, Duration::from_secs(5)).await {
                wait_synced(backend, &rt).await;
            }
        }
    }
    let _guard = rt.op_lock.lock().await;
    // A lingering agent exits at once (the job's deletion ends it too, later).
    rt.end_lingering();
    let record = find_container(backend, &record.id).await?;
    // The job goes after the record, in the background (runtime::collect):
    // `docker rm` and `--rm` never wait on Azure, and the queued deletion
    // commits with the record's removal, so a crash cannot leak the job.
    let job = record
        .execution_name
        .is_some()
        .then(|| record.job_name.clone());
    let (id, queued) = (record.id.clone(), job.clone());
    backend
        .store()
        .call(move |c| {
            let tx = c.transaction()?;
            crate::store::logs::delete(&tx, &id)?;
            crate::store::records::delete_container(&tx, &id)?;
            if let Some(job) = &queued {
                crate::store::records::queue_job_delete(&tx, job, now_nanos())?;
            }
            tx.commit()
        })
        .await?;
    // Before the job's deletion starts: what comes after this event is
    // nothing the client waits for.
    tracing::debug!(target: super::TIMELINE, container = %record.id, job = %record.job_name, "removed");
    if let Some(job) = job {
        super::collect::spawn(backend, job);
    }
    crate::binds::files::forget(backend, &record.id).await;
    crate::changes::forget(backend, &record.id).await;
    crate::ports::close(&rt).await;
    backend.runtimes().remove(&record.id);
    crate::networks::endpoints::release_container(backend, &record.id).await?;
    crate::relay::gone(backend, &record.id);
    if opts.volumes
        && let Ok(stored) = StoredConfig::of(&record)
    {
        crate::volumes::attach::remove_anonymous(backend, &stored.mounts).await;
    }
    crate::events::actors::container(backend, &record, "destroy", &[]);
    tracing::info!(container = %record.id, job = %record.job_name, "container removed");
    Ok(())
}
