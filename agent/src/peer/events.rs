//! TCP streams and relay events: `tcp_connect`, `set_peers`, `unix_listen`,
//! and the events channel carrying inbound relay and Unix socket
//! connections and listening reports.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::{AgentConnection, Inner, Listening, PeerError, PeersUpdate, Session};
use crate::protocol::{AGENT_SESSION_BASE, AcceptedOn, Frame, TcpTarget, UnixListen};

/// Capacity of the events channel; an inbound connection that finds it full is refused.
pub(super) const EVENTS_CAPACITY: usize = 64;
/// Signal sent to refuse an inbound connection (the agent resets the client socket).
const REFUSE_SIGNAL: i32 = 9;

/// Something the agent reported outside any session the backend opened.
#[derive(Debug)]
pub enum AgentEvent {
    /// A relay listener accepted a connection to `ip:port`; `session` carries
    /// its bytes like a [`AgentConnection::tcp_connect`] session.
    Inbound {
        /// Relay listener address the client connected to (e.g. `127.18.0.3`).
        ip: String,
        /// Relay listener port.
        port: u16,
        /// The socket session (output = bytes from the client).
        session: Session,
    },
    /// A Unix listener (see [`AgentConnection::unix_listen`]) accepted a
    /// connection; `session` carries its bytes like an inbound relay session.
    UnixInbound {
        /// The socket path the client connected to.
        path: String,
        /// The socket session (output = bytes from the client).
        session: Session,
    },
    /// The container's listening ports and addresses changed (the full set).
    Listening(Listening),
}

/// Where an agent-opened socket session was accepted.
pub(super) enum Accepted {
    /// On a relay listener (TCP_ACCEPTED).
    Tcp(AcceptedOn),
    /// On a Unix listener (UNIX_ACCEPTED).
    Unix(String),
}

/// Handles TCP_ACCEPTED and UNIX_ACCEPTED: opens the session and hands it
/// over, or refuses it (SIGNAL) when the id is not agent-chosen or the
/// events channel is full.
pub(super) fn inbound(
    inner: &Arc<Inner>,
    events: &mpsc::Sender<AgentEvent>,
    id: u32,
    on: Accepted,
) {
    let refuse = |why: &str| {
        tracing::debug!(session = id, why, "refusing inbound relay connection");
        let _ = inner.send(Frame::Signal {
            session: id,
            signal: REFUSE_SIGNAL,
        });
    };
    if id < AGENT_SESSION_BASE {
        return refuse("session id not chosen by the agent");
    }
    let session = match Session::open(inner, id) {
        Ok(s) => s,
        Err(_) => return refuse("session already open"),
    };
    inner.routes().sockets.insert(id, Default::default());
    let event = match on {
        Accepted::Tcp(on) => AgentEvent::Inbound {
            ip: on.ip,
            port: on.port,
            session,
        },
        Accepted::Unix(path) => AgentEvent::UnixInbound { path, session },
    };
    if let Err(e) = events.try_send(event) {
        tracing::debug!(
            session = id,
            "events channel full: refusing inbound relay connection"
        );
        // Dropping the unfinished socket session resets it; what follows is
        // acknowledged so the agent forgets it.
        drop(e.into_inner());
    }
}

/// Spawns the task that delivers the latest listening report, waiting for
/// room in the events channel: an unread report is replaced by a newer one.
pub(super) fn spawn_listening_forwarder(
    events: mpsc::Sender<AgentEvent>,
) -> watch::Sender<Option<Listening>> {
    let (tx, mut rx) = watch::channel(None::<Listening>);
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let Ok(permit) = events.reserve().await else {
                return;
            };
            let latest = rx.borrow_and_update().clone();
            match latest {
                Some(l) => permit.send(AgentEvent::Listening(l)),
                None => drop(permit),
            }
        }
    });
    tx
}

impl AgentConnection {
    /// Opens a TCP connection to `host:port` inside the container; returns
    /// once connected. The session's stdout carries the bytes the remote end
    /// sends; [`super::SessionInput::write`] sends bytes (with credit),
    /// [`super::SessionInput::close`] half-closes, a signal resets the
    /// connection (exit 137). It exits with 0 when the remote end closed its
    /// side (writing still works until `close`), 1 on a reset or error.
    /// Dropping the session before its exit resets the connection.
    ///
    /// `Err(PeerError::Agent(msg))` when the agent cannot connect (`msg` e.g.
    /// `connect 127.0.0.1:7000: connection refused`).
    pub async fn tcp_connect(&self, host: &str, port: u16) -> Result<Session, PeerError> {
        let mut s = self.new_session()?;
        self.inner.routes().sockets.insert(s.id, Default::default());
        self.inner.send(Frame::TcpConnect {
            session: s.id,
            target: TcpTarget {
                host: host.to_string(),
                port,
            },
        })?;
        match s.await_started().await {
            Ok(_) => Ok(s),
            Err(e) => {
                s.detach();
                Err(e)
            }
        }
    }

    /// Sends the full relay state (PEERS): `/etc/hosts` entries and relay
    /// listeners. Failures inside the agent arrive as errors on the main session.
    pub fn set_peers(&self, peers: &PeersUpdate) -> Result<(), PeerError> {
        self.inner.send(Frame::Peers(peers.clone()))
    }

    /// Asks the agent to serve Unix sockets at `paths` (the full set:
    /// listeners not listed are closed). Each connection a client makes
    /// arrives as [`AgentEvent::UnixInbound`]. Failures inside the agent
    /// arrive as errors on the main session.
    pub fn unix_listen(&self, paths: &[String]) -> Result<(), PeerError> {
        self.inner.send(Frame::UnixListen(UnixListen {
            paths: paths.to_vec(),
        }))
    }

    /// Takes the receiver of inbound relay and Unix socket connections and listening
    /// reports; `None` after the first call. The channel is bounded
    /// (64 events): an inbound connection that finds it full
    /// is refused, and only the latest listening report waits for room.
    /// It ends when the connection closes.
    pub fn take_events(&self) -> Option<mpsc::Receiver<AgentEvent>> {
        match self.events.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }
}
