//! Published ports (`-p`, `-P`): the daemon listens on its own host and
//! pipes every accepted connection through the container's agent to the
//! container's port ([`relay`]).
//!
//! - At create, [`validate`] refuses what cannot be published (UDP, SCTP,
//!   invalid ports or addresses) with Docker's 400 ([`spec`]).
//! - At start, [`open`] binds every listener before anything is written to
//!   Azure, so a taken port fails `docker start` with dockerd's wording and
//!   no ARM call ([`bind`]). Dynamic ports (`-p 8080`, `-p ip::8080`, `-P`)
//!   are chosen then, from the ephemeral range, anew at every start as
//!   dockerd does; fixed ones come back the same.
//! - When the main process exits, is stopped or the container removed,
//!   [`close`] drops the listeners and every relayed connection.
//! - [`port_map`] and [`summaries`] are `NetworkSettings.Ports` and the
//!   `Ports` of `docker ps` ([`view`]).

pub mod bind;
pub mod relay;
pub mod slot;
pub mod spec;
pub mod view;

use std::sync::Arc;

use sockerless_api::docker::{ContainerCreateBody, PortMap, PortSummary};
use sockerless_api::{ApiError, Result};

pub use slot::PortsSlot;

use crate::runtime::state::ContainerRuntime;
use slot::Published;

/// Create-time check: Docker's 400 for ports that cannot be published.
pub fn validate(body: &ContainerCreateBody) -> Result<()> {
    spec::plan(body).map(|_| ())
}

/// Start-time: binds the container's published ports and starts relaying.
/// Nothing happens when they are open already (a reconnecting agent).
/// Fails with dockerd's message naming the container `name` and its network
/// endpoint `endpoint_id` when a port is taken; nothing stays bound.
pub fn open(
    rt: &Arc<ContainerRuntime>,
    name: &str,
    endpoint_id: &str,
    body: &ContainerCreateBody,
) -> Result<()> {
    let mut slot = rt.ports.lock();
    if slot.is_some() {
        return Ok(());
    }
    let plan = spec::plan(body)?;
    let mut listeners = bind::bind_requests(&plan.bindings).map_err(|e| {
        ApiError::Internal(format!(
            "driver failed programming external connectivity on endpoint {name} ({endpoint_id}): {e}"
        ))
    })?;
    let mut sockets = Vec::new();
    for (socket, b) in listeners.sockets.drain(..).zip(&listeners.bound) {
        let listener = tokio::net::TcpListener::from_std(socket).map_err(|e| {
            ApiError::Internal(format!(
                "cannot listen on published port {}: {e}",
                b.host_port
            ))
        })?;
        sockets.push((b.container_port, listener));
    }
    for b in &listeners.bound {
        tracing::info!(container = %rt.id, host = %std::net::SocketAddr::new(b.ip, b.host_port), port = b.container_port, "published port listening");
    }
    let task = (!sockets.is_empty()).then(|| tokio::spawn(relay::serve(rt.clone(), sockets)));
    *slot = Some(Published {
        exposed: plan.exposed,
        listeners,
        task,
    });
    Ok(())
}

/// Closes the listeners and relayed connections of `rt` (stopped, exited,
/// removed or a failed start); returns once the host ports are free.
pub async fn close(rt: &ContainerRuntime) {
    let published = rt.ports.lock().take();
    let Some(mut published) = published else {
        return;
    };
    if let Some(task) = published.task.take() {
        task.abort();
        let _ = task.await;
    }
    if !published.listeners.bound.is_empty() {
        tracing::info!(container = %rt.id, "published ports closed");
    }
}

/// `NetworkSettings.Ports` of a container (empty unless it runs).
pub fn port_map(rt: Option<&ContainerRuntime>) -> PortMap {
    rt.map_or_else(PortMap::new, |rt| rt.ports.view(view::port_map))
}

/// The `Ports` of a container's `docker ps` row (empty unless it runs).
pub fn summaries(rt: Option<&ContainerRuntime>) -> Vec<PortSummary> {
    rt.map_or_else(Vec::new, |rt| rt.ports.view(view::summaries))
}
