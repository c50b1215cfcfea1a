//! Names and TCP between containers (DESIGN.md, "Networking").
//!
//! Relay mode: every container on a network has an address (`networks`);
//! each running container's agent is told its peers ([`peers`]): it writes
//! their names into `/etc/hosts` and listens on each peer's address on the
//! ports that peer listens on. A connection a relay listener accepts reaches
//! the backend as an inbound socket session, which is spliced ([`splice`])
//! into a socket session the peer's agent opens to `127.0.0.1:port` in the
//! peer. Direct mode: names point at the replica addresses agents report,
//! and no bytes pass through here.
//!
//! The agents' state is pushed, never polled: a refresh runs when an agent
//! connects or reports new listening ports, and when a container starts,
//! stops, is removed, or is connected to or disconnected from a network.

pub mod peers;
pub mod splice;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use sockerless_agent::peer::{AgentEvent, PeersUpdate, Session};
use tokio::sync::mpsc;

use crate::AcaBackend;
use crate::config::NetworkMode;
use peers::Observed;

/// Most relayed connections at once, over all containers.
pub const MAX_RELAYED: usize = 4096;

/// The relay's state, one per backend.
#[derive(Debug)]
pub struct Relay {
    observed: Mutex<HashMap<String, Observed>>,
    /// What each agent was last sent, and so may relay.
    sent: Mutex<HashMap<String, PeersUpdate>>,
    /// Relay address → container, as of the last refresh.
    owners: Mutex<HashMap<String, String>>,
    pending: AtomicBool,
    running: tokio::sync::Mutex<()>,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Default for Relay {
    fn default() -> Self {
        Self {
            observed: Mutex::default(),
            sent: Mutex::default(),
            owners: Mutex::default(),
            pending: AtomicBool::new(false),
            running: tokio::sync::Mutex::new(()),
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_RELAYED)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Relay {
    /// The listening ports and addresses the agent of `id` last reported.
    pub fn observed(&self, id: &str) -> Option<Observed> {
        lock(&self.observed).get(id).cloned()
    }
}

/// Something changed that peers may see: refresh every agent (coalesced:
/// one queued refresh covers every change made before it runs).
pub fn changed(backend: &AcaBackend) {
    if backend.relay().pending.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        backend.relay().pending.store(false, Ordering::SeqCst);
        return;
    };
    let backend = backend.clone();
    handle.spawn(async move {
        let relay = backend.relay();
        let _one_at_a_time = relay.running.lock().await;
        relay.pending.store(false, Ordering::SeqCst);
        if let Err(e) = refresh(&backend).await {
            tracing::warn!(error = %e, "relay refresh failed");
        }
    });
}

/// A new agent connection of `id`: it knows nothing yet.
pub fn connected(backend: &AcaBackend, id: &str) {
    lock(&backend.relay().sent).remove(id);
    changed(backend);
}

/// The container `id` stopped or was removed.
pub fn gone(backend: &AcaBackend, id: &str) {
    lock(&backend.relay().sent).remove(id);
    lock(&backend.relay().observed).remove(id);
    changed(backend);
}

async fn refresh(backend: &AcaBackend) -> sockerless_api::Result<()> {
    let (endpoints, containers) = crate::networks::endpoints::snapshot(backend).await?;
    let mode = backend.config().network_mode;
    let observed = lock(&backend.relay().observed).clone();
    let owners: HashMap<String, String> = endpoints
        .iter()
        .filter_map(|e| Some((e.ip?.to_string(), e.container.clone())))
        .collect();
    *lock(&backend.relay().owners) = owners;
    for c in containers.iter().filter(|c| c.state == "running") {
        let Some(rt) = backend.runtimes().find(&c.id) else {
            continue;
        };
        // The first peers release the process: not before the run is prepared.
        if !rt.prepared.load(Ordering::SeqCst) {
            continue;
        }
        let Some(link) = rt.agent() else {
            continue;
        };
        let update = peers::peers_for(c, &endpoints, &containers, &observed, mode);
        if lock(&backend.relay().sent).get(&c.id) == Some(&update) {
            continue;
        }
        if link.set_peers(update.clone()).is_ok() {
            lock(&backend.relay().sent).insert(c.id.clone(), update);
        }
    }
    let running: Vec<&str> = containers
        .iter()
        .filter(|c| c.state == "running")
        .map(|c| c.id.as_str())
        .collect();
    lock(&backend.relay().sent).retain(|id, _| running.contains(&id.as_str()));
    Ok(())
}

/// Reads the events of the agent of container `id`: listening reports and
/// inbound relay connections. Ends with the connection.
pub fn serve_events(backend: AcaBackend, id: String, mut events: mpsc::Receiver<AgentEvent>) {
    tokio::spawn(async move {
        // Docker socket tunnels of this connection (they end with it).
        let tunnels = crate::docker_socket::Tunnels::default();
        while let Some(event) = events.recv().await {
            match event {
                AgentEvent::Listening(listening) => {
                    let mut observed = lock(&backend.relay().observed);
                    let entry = observed.entry(id.clone()).or_default();
                    if entry.listening != listening {
                        entry.listening = listening;
                        drop(observed);
                        changed(&backend);
                    }
                }
                AgentEvent::Inbound { ip, port, session } => {
                    tokio::spawn(inbound(backend.clone(), id.clone(), ip, port, session));
                }
                AgentEvent::UnixInbound { path, session } => {
                    crate::docker_socket::inbound(&backend, &id, &tunnels, path, session);
                }
            }
        }
    });
}

/// The container a relay connection from `from` to `ip:port` is for, if
/// `from` was told of that peer (an agent can reach nothing else).
fn target(backend: &AcaBackend, from: &str, ip: &str, port: u16) -> Option<String> {
    let allowed = lock(&backend.relay().sent).get(from).is_some_and(|u| {
        u.hosts
            .iter()
            .any(|h| h.ip == ip && h.ports.contains(&port))
    });
    if !allowed {
        return None;
    }
    lock(&backend.relay().owners).get(ip).cloned()
}

async fn inbound(backend: AcaBackend, from: String, ip: String, port: u16, session: Session) {
    let refuse = |session: &Session, why: &str| {
        tracing::debug!(container = %from, %ip, port, why, "relay connection refused");
        let _ = session.input().signal(splice::ABORT_SIGNAL);
    };
    if backend.config().network_mode != NetworkMode::Relay {
        return refuse(&session, "not in relay mode");
    }
    let Ok(_slot) = backend.relay().slots.clone().try_acquire_owned() else {
        return refuse(&session, "too many relayed connections");
    };
    let Some(peer) = target(&backend, &from, &ip, port) else {
        return refuse(&session, "no such peer");
    };
    let Some(link) = backend.runtimes().find(&peer).and_then(|rt| rt.agent()) else {
        return refuse(&session, "peer's agent is not connected");
    };
    match link.tcp_connect("127.0.0.1", port).await {
        Ok(upstream) => splice::splice(session, upstream).await,
        Err(e) => refuse(&session, &e.to_string()),
    }
}
