//! `docker pause`/`unpause`: the agent stops and continues every process
//! of the container (see the agent's `ops::pause`). The paused state is
//! kept in memory, tied to the run it paused (`paused_run` holds that
//! run's exit count): a run that ends, by a kill or otherwise, is never
//! shown paused afterwards.

use std::sync::atomic::Ordering;

use sockerless_agent::protocol::Op;
use sockerless_api::docker::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum,
};
use sockerless_api::{ApiError, Result};

use crate::AcaBackend;
use crate::runtime::find_container;
use crate::runtime::state::ContainerRuntime;

/// The container's current run is paused.
pub fn is_paused(rt: &ContainerRuntime) -> bool {
    let st = rt.state.borrow();
    st.running && rt.paused_run.load(Ordering::SeqCst) == st.exits
}

/// A stop or kill: the agent continues the processes before it signals
/// them (as dockerd unpauses before a kill), so the run is no longer paused.
pub fn on_signal(rt: &ContainerRuntime) {
    rt.paused_run.store(u64::MAX, Ordering::SeqCst);
}

/// An agent (re)connected: it says whether it holds the processes stopped,
/// so a paused container stays paused across a backend restart.
pub fn on_connect(rt: &ContainerRuntime, paused: bool) {
    if paused {
        let exits = rt.state.borrow().exits;
        rt.paused_run.store(exits, Ordering::SeqCst);
    }
}

/// Exec into a paused container: dockerd's 409 (`name` as the client gave it).
pub fn refuse_exec(rt: &ContainerRuntime, name: &str) -> Result<()> {
    if is_paused(rt) {
        return Err(ApiError::Conflict(format!(
            "Container {name} is paused, unpause the container before exec"
        )));
    }
    Ok(())
}

/// `Backend::container_pause`.
pub async fn pause(backend: &AcaBackend, id: &str) -> Result<()> {
    let live = super::live(backend, id).await?;
    if is_paused(&live.rt) {
        return Err(ApiError::Conflict(format!(
            "Container {} is already paused",
            live.record.id
        )));
    }
    let exits = live.rt.state.borrow().exits;
    super::ask(&live.link, Op::Pause)
        .await
        .map_err(|e| super::agent_error("pause", &live.record, e))?;
    live.rt.paused_run.store(exits, Ordering::SeqCst);
    crate::events::actors::pause(backend, &live.record.id).await;
    Ok(())
}

/// `Backend::container_unpause`.
pub async fn unpause(backend: &AcaBackend, id: &str) -> Result<()> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    if !is_paused(&rt) {
        // dockerd answers 500 here, running or not.
        return Err(ApiError::Internal(format!(
            "Container {} is not paused",
            record.id
        )));
    }
    let live = super::live(backend, id).await?;
    super::ask(&live.link, Op::Unpause)
        .await
        .map_err(|e| super::agent_error("unpause", &live.record, e))?;
    on_signal(&rt);
    crate::events::actors::unpause(backend, &record.id).await;
    Ok(())
}

/// `docker inspect` of a paused container: `Paused`, status `paused`.
pub fn show_inspect(response: &mut ContainerInspectResponse, rt: Option<&ContainerRuntime>) {
    if !rt.is_some_and(is_paused) {
        return;
    }
    if let Some(state) = response.state.as_mut() {
        state.paused = Some(true);
        state.status = Some(ContainerStateStatusEnum::PAUSED);
    }
}

/// `docker ps` of a paused container: state `paused`, `Up … (Paused)`.
pub fn show_summary(row: &mut ContainerSummary, rt: Option<&ContainerRuntime>) {
    if !rt.is_some_and(is_paused) {
        return;
    }
    row.state = Some(ContainerSummaryStateEnum::PAUSED);
    if let Some(status) = row.status.as_mut() {
        status.push_str(" (Paused)");
    }
}
