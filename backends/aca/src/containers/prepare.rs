//! Preparing a run before the container's process starts: the agent holds
//! the process back until its first peers arrive, and the backend sends those
//! only once this step is done (see `crate::relay`). Runs once per run, on
//! the agent's first connection.

use std::sync::Arc;

use sockerless_api::Result;

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::runtime::state::ContainerRuntime;

/// Puts into the container what must be there before its process starts.
pub async fn run(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: &Arc<AgentLink>,
) -> Result<()> {
    // Files put before start, then binds (failures go to the container's stderr).
    crate::binds::prepare(backend, rt, link).await;
    // The Docker socket, if bound: the agent listens before the process runs.
    crate::docker_socket::prepare(backend, rt, link).await?;
    Ok(())
}
