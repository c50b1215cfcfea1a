//! Container operations answered by the agent inside the container
//! (issue 16): `top`, `stats`, `pause`/`unpause` and `export`. Each asks
//! the running container's agent over its link (`AgentLink::op`); nothing
//! goes to Azure.

use std::sync::Arc;

use sockerless_agent::peer::{self, PeerError};
use sockerless_agent::protocol::Op;
use sockerless_api::{ApiError, Result};

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::runtime::find_container;
use crate::runtime::state::ContainerRuntime;
use crate::store::ContainerRecord;

pub mod export;
pub mod pause;
pub mod stats;
pub mod stats_shape;
pub mod top;

/// Largest JSON answer taken from an agent (a `top` of many processes).
const MAX_ANSWER: usize = 8 << 20;

/// A running container and its agent link.
pub struct Live {
    /// The container.
    pub record: ContainerRecord,
    /// Its runtime state.
    pub rt: Arc<ContainerRuntime>,
    /// Its agent.
    pub link: Arc<AgentLink>,
}

/// dockerd's refusal of an operation on a container that does not run.
pub fn not_running(record: &ContainerRecord) -> ApiError {
    ApiError::Conflict(format!("Container {} is not running", record.id))
}

/// The running container `id` and its agent, or dockerd's 409.
pub async fn live(backend: &AcaBackend, id: &str) -> Result<Live> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    if !rt.state.borrow().running {
        return Err(not_running(&record));
    }
    let link = rt.agent().ok_or_else(|| {
        ApiError::Conflict(format!(
            "container {} runs but its agent is reconnecting; try again",
            record.name
        ))
    })?;
    Ok(Live { record, rt, link })
}

/// An agent failure as a 500 naming the container and the operation.
pub fn agent_error(what: &str, record: &ContainerRecord, e: PeerError) -> ApiError {
    match e {
        PeerError::Agent(m) => ApiError::Internal(m),
        other => ApiError::Internal(format!(
            "{what} of container {}: the agent connection failed: {other}",
            record.name
        )),
    }
}

/// Runs `op` and takes its whole (small) answer.
pub async fn ask(link: &AgentLink, op: Op) -> std::result::Result<Vec<u8>, PeerError> {
    let mut session = link.op(op).await?;
    peer::read_answer(&mut session, MAX_ANSWER).await
}

/// Runs `op` and decodes its JSON answer.
pub async fn ask_json<T: serde::de::DeserializeOwned>(
    link: &AgentLink,
    op: Op,
) -> std::result::Result<T, PeerError> {
    let bytes = ask(link, op).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| PeerError::Protocol(format!("the agent's answer is not understood: {e}")))
}
