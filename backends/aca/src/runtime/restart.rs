//! `docker start` of an exited container whose execution is still there:
//! with `linger_secs`, the agent outlives the process and reruns it on
//! RESTART — no ARM call, no scheduling delay, the container's filesystem
//! kept, as with dockerd.

use std::sync::Arc;
use std::time::Duration;

use sockerless_api::Result;

use super::state::{ContainerRuntime, Lingering};
use super::{StoredConfig, find_container};
use crate::AcaBackend;
use crate::agent_link::pump::{AgentLink, LinkObserver};

/// Seconds the backend stops offering a restart before the agent's own
/// linger time ends (that one started at the exit's acknowledgement, a
/// little earlier): a RESTART then never races the agent's exit.
const LINGER_MARGIN_SECS: u64 = 5;
/// Longest wait for the agent's STARTED after RESTART (it answers at once
/// unless the connection is dead without having closed yet).
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

/// At an exit reported by the agent, with `linger_secs`: offers the
/// still-open agent connection for a restart (before the exit is recorded,
/// so a start right after it finds the execution). Returns whether it did.
pub async fn offer(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: &Arc<AgentLink>,
    observer: Arc<dyn LinkObserver>,
) -> bool {
    let Some(token_hash) = rt.token_hash() else {
        return false;
    };
    // Not running: the exit was recorded already (a stop recorded one).
    if backend.config().linger_secs == 0 || !rt.state.borrow().running {
        return false;
    }
    // An AutoRemove container is removed at its exit (its agent does not
    // linger), a gone one is gone: nothing may keep their connection.
    let auto_remove = find_container(backend, &rt.id)
        .await
        .map_or(true, |r| super::restart_policy::auto_remove_of(&r));
    if auto_remove || rt.state.borrow().removed {
        return false;
    }
    rt.set_lingering(Lingering {
        link: link.clone(),
        observer,
        token_hash,
    });
    true
}

/// After the offered exit was recorded: keeps the offer for about the
/// agent's linger time. Runs on the pump's task, which a restart (a new
/// pump) or the container's removal aborts.
pub async fn linger(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, link: Arc<AgentLink>) {
    let secs = backend.config().linger_secs;
    let window = secs.saturating_sub(LINGER_MARGIN_SECS).max(secs / 2);
    tokio::time::sleep(Duration::from_secs(window)).await;
    rt.clear_lingering(&link);
}

/// Reruns the process of exited container `id` in its lingering execution.
/// `Ok(false)`: there is none (or the agent is gone or refused): the caller
/// starts a new execution. Called with the container's op lock held.
pub async fn in_place(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, id: &str) -> Result<bool> {
    let Some(lingering) = rt.take_lingering() else {
        return Ok(false);
    };
    // Published ports are bound first, as for a new execution: a taken one
    // fails the start, and the execution is still offered to the next start.
    let ready = async {
        let record = find_container(backend, id).await?;
        let stored = StoredConfig::of(&record)?;
        let endpoint_id = crate::networks::endpoints::first_endpoint_id(backend, &record).await?;
        crate::ports::open(rt, &record.name, &endpoint_id, &stored.body)?;
        Ok::<_, sockerless_api::ApiError>((record, stored))
    }
    .await;
    let (record, mut stored) = match ready {
        Ok(ready) => ready,
        Err(e) => {
            rt.set_lingering(lingering);
            return Err(e);
        }
    };
    // The execution's replicaTimeout bounds all its runs together: a run
    // started in place gets what is left of it, so an execution past half
    // of it is not reused (a new one gives the run the whole timeout).
    let limit =
        super::template::replica_timeout(&stored.body, backend.config().replica_timeout_secs)
            .ok()
            .and_then(|secs| u64::try_from(secs).ok())
            .map(Duration::from_secs);
    let young = match (rt.execution_age(), limit) {
        (Some(age), Some(limit)) => age < limit / 2,
        _ => false,
    };
    if !young {
        fall_back(rt, &lingering, "past half of its replica timeout").await;
        return Ok(false);
    }
    // Files put while exited and the binds go in again, as at a first start
    // (the host side may have changed since the last run).
    rt.prepared
        .store(false, std::sync::atomic::Ordering::SeqCst);
    if let Err(e) = crate::containers::prepare::run(
        backend,
        rt,
        &lingering.link,
        crate::containers::prepare::Replica::Same,
    )
    .await
    {
        tracing::warn!(container = %rt.id, error = %e, "preparing the restarted container failed");
    }
    rt.prepared.store(true, std::sync::atomic::Ordering::SeqCst);
    // The token is accepted again before the process runs: the agent may
    // reconnect during the new run as during the first.
    rt.resume_run(lingering.token_hash.clone());
    let restarted = tokio::time::timeout(RESTART_TIMEOUT, lingering.link.restart_main()).await;
    let main = match restarted {
        Ok(Ok(main)) => main,
        Ok(Err(e)) => {
            fall_back(rt, &lingering, &e.to_string()).await;
            return Ok(false);
        }
        Err(_) => {
            fall_back(rt, &lingering, "no answer").await;
            return Ok(false);
        }
    };
    let by_policy = super::state::lock(&rt.restart_backoff).take_start();
    stored.restart_count =
        super::restart_policy::count_after_start(stored.restart_count, by_policy);
    stored.manually_stopped = false;
    let (cid, hash, config) = (
        record.id.clone(),
        lingering.token_hash.clone(),
        stored.to_value()?,
    );
    backend
        .store()
        .call(move |c| crate::store::records::begin_run(c, &cid, &hash, &config))
        .await?;
    // Running before `docker start` returns, and before the pump can record an exit.
    super::running::mark_running(backend, id).await?;
    tracing::info!(container = %rt.id, "process restarted in the lingering execution");
    // Replaces the previous run's pump, which only waited out the linger time.
    rt.run_main(lingering.observer, lingering.link, Ok(main));
    Ok(true)
}

/// The lingering agent cannot restart: it is told to go, and the start
/// goes on with a new execution.
async fn fall_back(rt: &Arc<ContainerRuntime>, lingering: &Lingering, why: &str) {
    tracing::info!(container = %rt.id, error = %why, "the lingering agent did not restart the process; starting a new execution");
    rt.revoke();
    let _ = lingering.link.end();
    crate::ports::close(rt).await;
}
