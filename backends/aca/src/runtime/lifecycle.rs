//! The run of a container: start (put the job, start an execution, wait for
//! the agent), the running and exited states, stop, kill and removal of the job.

use std::sync::Arc;
use std::time::Duration;

use sockerless_api::{ApiError, Result};

use super::state::{Command, ContainerRuntime};
use super::template::{ContainerSpec, TemplateSettings, job_for};
use super::{StoredConfig, find_container};
use crate::AcaBackend;
use crate::azure::pipeline::count_arm_calls;
use crate::clock::{now_nanos, random_hex};
use crate::store::hash_token;

/// Exit code recorded when a run is stopped without the agent reporting one.
pub const EXIT_STOPPED: i64 = 137;

/// `docker start`: puts the job, starts an execution and returns once the
/// agent has dialed in. On failure the job is deleted and the error returned.
pub async fn start(backend: &AcaBackend, id: &str) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    let by_policy = super::restart_policy::policy_start_pending(&rt);
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
        && auto_remove_of(&record)
    {
        // As dockerd does: an AutoRemove container whose start failed is
        // removed, which ends `docker run --rm`'s wait and attach.
        spawn_auto_remove(backend, &record.id);
    }
    result
}

pub(crate) fn auto_remove_of(record: &crate::store::ContainerRecord) -> bool {
    StoredConfig::of(record).is_ok_and(|c| c.auto_remove())
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
    let by_policy = super::restart_policy::take_policy_start(rt);
    stored.restart_count =
        super::restart_policy::count_after_start(stored.restart_count, by_policy);
    stored.manually_stopped = false;
    // Binds are checked (and missing `-v` paths created) before any ARM write.
    crate::binds::before_start(backend, &record.id, &stored, &mut job).await?;
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
        jobs.put_job(&job_name, &job).await?;
        tracing::debug!(target: super::TIMELINE, container = %record.id, job = %job_name, "job_written");
        let execution = jobs.start(&job_name, None).await?;
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

/// Records that the agent of `id` is connected: state running.
pub async fn mark_running(backend: &AcaBackend, id: &str) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    // An agent reconnecting after a daemon restart: the published ports
    // open again (nothing happens when they are open).
    if let Err(e) = StoredConfig::of(&record)
        .and_then(|s| crate::ports::open(&rt, &record.name, &record.id, &s.body))
    {
        tracing::warn!(container = %record.id, error = %e, "published ports not reopened");
    }
    let (running, now) = (record.id.clone(), now_nanos());
    let started = backend
        .store()
        .call(move |c| crate::store::records::mark_running(c, &running, now))
        .await?;
    if started {
        // Here, not when `docker start` returns: the process may exit first.
        crate::events::actors::container_started(backend, &record.id).await;
    }
    rt.state.send_if_modified(|s| {
        let changed = !s.running;
        s.running = true;
        changed
    });
    crate::relay::changed(backend);
    Ok(())
}

/// Records the end of a run with `code`; wakes waiters, ends attached streams,
/// and removes the container when it was created with AutoRemove.
pub async fn record_exit(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, code: i64) {
    record_exit_then(backend, rt, code, || {}).await;
}

/// [`record_exit`], calling `stored` once the exit is in the store (or was
/// already recorded), before anyone waiting on the container wakes: the
/// agent's exit is acknowledged there.
pub async fn record_exit_then(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    code: i64,
    stored: impl FnOnce(),
) {
    if !rt.state.borrow().running {
        stored();
        return;
    }
    let (id, now, arm) = (rt.id.clone(), now_nanos(), rt.arm.counts());
    let stopped = rt.stop_requested.load(std::sync::atomic::Ordering::SeqCst);
    let recorded = backend
        .store()
        .call(move |c| {
            crate::store::records::record_exit(c, &id, code, now, (arm.reads, arm.writes), stopped)
        })
        .await;
    stored();
    if let Ok(Some(record)) = &recorded {
        crate::events::actors::die(backend, record, code).await;
    }
    let (auto_remove, exited) = match recorded {
        Ok(Some(record)) => (auto_remove_of(&record), Some(record)),
        Ok(None) => {
            tracing::warn!(container = %rt.id, "exit of an unknown container");
            (false, None)
        }
        Err(e) => {
            tracing::warn!(container = %rt.id, error = %e, "cannot record the exit");
            (false, None)
        }
    };
    tracing::info!(container = %rt.id, code, "container exited");
    tracing::debug!(target: super::TIMELINE, container = %rt.id, code, "exited");
    crate::relay::gone(backend, &rt.id);
    crate::ports::close(rt).await;
    rt.close_subscribers();
    rt.drain_commands();
    // The token and link go before the state changes: a start seeing the
    // exit may restart in the lingering execution at once, and its token
    // and link must not be revoked after it set them.
    let pump_is_caller = rt.agent().is_some();
    if !pump_is_caller {
        rt.end_run();
    } else {
        // The pump calling us ends with this function; only revoke the token.
        rt.revoke();
    }
    rt.state.send_modify(|s| {
        s.running = false;
        s.exit_code = Some(code);
        s.exits += 1;
    });
    if auto_remove {
        spawn_auto_remove(backend, &rt.id);
    } else if let Some(record) = &exited {
        crate::runtime::restart_policy::schedule(backend, rt, record, code);
    }
}

/// Docker signal names and numbers → number (`SIGTERM`, `TERM`, `15`).
pub fn parse_signal(s: &str) -> Result<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(ApiError::InvalidParameter(format!("Invalid signal: {s}")))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" | "IOT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "STKFLT" => 16,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        "TTIN" => 21,
        "TTOU" => 22,
        "URG" => 23,
        "XCPU" => 24,
        "XFSZ" => 25,
        "VTALRM" => 26,
        "PROF" => 27,
        "WINCH" => 28,
        "IO" | "POLL" => 29,
        "PWR" => 30,
        "SYS" => 31,
        _ => return Err(ApiError::InvalidParameter(format!("Invalid signal: {s}"))),
    };
    Ok(n)
}

async fn wait_not_running(rt: &ContainerRuntime, within: Duration) -> bool {
    let mut rx = rt.state.subscribe();
    matches!(
        tokio::time::timeout(within, rx.wait_for(|s| !s.running)).await,
        Ok(Ok(_))
    )
}

/// The process exited and its binds are being synced back: waits for the
/// sync (bounded by `bind_sync_timeout_secs`) rather than killing the replica.
async fn wait_synced(backend: &AcaBackend, rt: &ContainerRuntime) -> bool {
    if !*rt.syncing.borrow() {
        return false;
    }
    let bound = Duration::from_secs(backend.config().bind_sync_timeout_secs + 5);
    wait_not_running(rt, bound).await
}

/// Stops the execution through ARM and records `EXIT_STOPPED` unless the
/// agent reports an exit within a short while.
async fn stop_execution(backend: &AcaBackend, rt: &Arc<ContainerRuntime>) -> Result<()> {
    let record = find_container(backend, &rt.id).await?;
    if let Some(execution) = &record.execution_name {
        match backend
            .azure()
            .jobs
            .stop_execution(&record.job_name, execution)
            .await
        {
            Ok(()) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if !wait_not_running(rt, Duration::from_secs(10)).await {
        record_exit(backend, rt, EXIT_STOPPED).await;
    }
    Ok(())
}

/// `docker stop`: the stop signal through the agent, then after the timeout
/// SIGKILL and `stopExecution`.
pub async fn stop(
    backend: &AcaBackend,
    id: &str,
    signal: Option<String>,
    timeout_secs: Option<i64>,
) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    crate::ops::pause::on_signal(&rt);
    rt.stop_requested
        .store(true, std::sync::atomic::Ordering::SeqCst);
    if rt.restarting.load(std::sync::atomic::Ordering::SeqCst) {
        // Its policy may be starting it: once that start is done, it is
        // stopped if it ran.
        drop(rt.op_lock.lock().await);
    }
    if !rt.state.borrow().running {
        return Err(ApiError::NotModified("container already stopped".into()));
    }
    let stored = StoredConfig::of(&record)?;
    let signal = signal
        .or(stored.body.stop_signal.clone())
        .unwrap_or_else(|| "SIGTERM".to_owned());
    let signal = parse_signal(&signal)?;
    let timeout = timeout_secs.or(stored.body.stop_timeout).unwrap_or(10);
    count_arm_calls(rt.arm.clone(), async {
        if rt.agent().is_some() {
            crate::events::actors::kill(backend, &record, signal);
            rt.send(Command::Signal(signal));
            // A negative timeout waits forever, as in Docker.
            let within = u64::try_from(timeout).map_or(Duration::MAX, Duration::from_secs);
            if wait_not_running(&rt, within).await || wait_synced(backend, &rt).await {
                return Ok(());
            }
            crate::events::actors::kill(backend, &record, 9);
            rt.send(Command::Signal(9));
            if wait_not_running(&rt, Duration::from_secs(2)).await
                || wait_synced(backend, &rt).await
            {
                return Ok(());
            }
        }
        stop_execution(backend, &rt).await
    })
    .await
    .inspect(|()| crate::events::actors::container(backend, &record, "stop", &[]))
}

/// `docker kill`: any signal, delivered by the agent (SIGKILL without an
/// agent stops the execution).
pub async fn kill(backend: &AcaBackend, id: &str, signal: Option<String>) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    let n = parse_signal(signal.as_deref().unwrap_or("SIGKILL"))?;
    crate::ops::pause::on_signal(&rt);
    // A kill meant to end it (not a reload signal) stops the restart policy.
    if matches!(n, 2 | 9 | 15) {
        rt.stop_requested
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    if !rt.state.borrow().running {
        return Err(ApiError::Conflict(format!(
            "Container {} is not running",
            record.id
        )));
    }
    crate::events::actors::kill(backend, &record, n);
    if rt.agent().is_some() {
        rt.send(Command::Signal(n));
        return Ok(());
    }
    if n == 9 {
        return count_arm_calls(rt.arm.clone(), stop_execution(backend, &rt)).await;
    }
    Err(ApiError::Unavailable(format!(
        "cannot deliver signal {n} to container {}: its agent is not connected",
        record.id
    )))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("term"), Ok(15));
        assert_eq!(parse_signal("USR1"), Ok(10));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("SIGNOPE").is_err());
    }
}
