//! Preparing a run before the container's process starts: the agent holds
//! the process back until its first peers arrive, and the backend sends those
//! only once this step is done (see `crate::relay`). Runs once per run, on
//! the agent's first connection.

use std::sync::Arc;

use sockerless_api::Result;

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::runtime::state::ContainerRuntime;

/// Which replica the run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replica {
    /// A new execution: the image's filesystem.
    Fresh,
    /// The lingering execution of the previous run: its filesystem as left.
    Same,
}

/// Puts into the container what must be there before its process starts.
pub async fn run(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: &Arc<AgentLink>,
    replica: Replica,
) -> Result<()> {
    // A fresh replica gets the previous run's changes first: files put
    // before start and binds go over them.
    if replica == Replica::Fresh
        && let Some(failure) = crate::changes::restore(backend, &rt.id, link).await
    {
        crate::binds::report(backend, rt, &[failure]).await;
    }
    // Files put before start, then binds (failures go to the container's stderr).
    crate::binds::prepare(backend, rt, link).await;
    // The Docker socket, if bound: the agent listens before the process runs.
    crate::docker_socket::prepare(backend, rt, link).await?;
    Ok(())
}
