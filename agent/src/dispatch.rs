//! What the agent's connections and its main loop share ([`Shared`]), and
//! the routing of each frame from the backend to the session it is for
//! ([`dispatch`]): the link ([`crate::link`]) calls it, the main loop
//! ([`crate::agent`]) builds the state.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::archive;
use crate::config::Config;
use crate::exec::{self, ProcessContext};
use crate::hub::Hub;
use crate::linger;
use crate::protocol::{Frame, MAIN_SESSION};
use crate::relay::Relay;
use crate::socket::Sockets;
use crate::unix_listen::UnixListeners;

/// What the connections ([`crate::link`]) and the main loop share.
pub(crate) struct Shared {
    pub(crate) hub: Arc<Hub>,
    pub(crate) ctx: Arc<ProcessContext>,
    pub(crate) cfg: Config,
    pub(crate) sockets: Arc<Sockets>,
    pub(crate) relay: Arc<Relay>,
    /// Unix sockets served (UNIX_LISTEN).
    pub(crate) unix: UnixListeners,
    /// Generation of the latest connection that completed its handshake.
    pub(crate) connections: tokio::sync::watch::Sender<u64>,
    pub(crate) next_generation: AtomicU64,
    /// Connections past their handshake, open now.
    pub(crate) live: tokio::sync::watch::Sender<usize>,
    /// Dials in a row the backend answered 401 (reset by a handshake).
    pub(crate) refusals: tokio::sync::watch::Sender<u32>,
    /// Set once the first PEERS has been applied.
    pub(crate) peers_applied: tokio::sync::watch::Sender<bool>,
    /// The main loop's RESTART/END inbox (set before the process first runs).
    pub(crate) main_control:
        std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<linger::MainControl>>>,
}

impl Shared {
    /// What the wait for the exit acknowledgement watches of the links.
    pub(crate) fn links(&self) -> linger::Links {
        linger::Links {
            live: self.live.subscribe(),
            refusals: self.refusals.subscribe(),
        }
    }
}

/// Carries out one frame from the peer; a refusal goes back as ERROR.
pub(crate) fn dispatch(shared: &Shared, frame: Frame) {
    let hub = &shared.hub;
    let session = frame.session();
    let result = match frame {
        Frame::Ack {
            session,
            stream,
            offset,
        } => {
            hub.ack(session, stream, offset);
            Ok(())
        }
        Frame::Stdin {
            session,
            offset,
            data,
        } => hub.stdin(session, offset, data),
        Frame::CloseStdin { session } => {
            hub.close_stdin(session);
            Ok(())
        }
        Frame::Resize {
            session,
            rows,
            cols,
        } => hub.resize(session, rows, cols),
        Frame::Signal { session, signal } => {
            crate::ops::before_signal();
            if shared.sockets.signal(session) {
                Ok(())
            } else {
                hub.signal(session, signal)
            }
        }
        Frame::TcpConnect { session, target } => shared.sockets.connect(hub, session, target),
        Frame::Peers(update) => {
            for message in shared.relay.apply(hub, &shared.sockets, &update) {
                tracing::warn!(%message, "peers update");
                hub.push_control(Frame::Error {
                    session: MAIN_SESSION,
                    message,
                });
            }
            shared.peers_applied.send_replace(true);
            Ok(())
        }
        Frame::UnixListen(request) => {
            for message in shared.unix.apply(hub, &shared.sockets, &request) {
                tracing::warn!(%message, "unix listen");
                hub.push_control(Frame::Error {
                    session: MAIN_SESSION,
                    message,
                });
            }
            Ok(())
        }
        Frame::Attach {
            session,
            stdout,
            stderr,
        } => {
            hub.attach(session, stdout, stderr);
            Ok(())
        }
        Frame::ExecStart { session, config } => exec::start_exec(hub, &shared.ctx, session, config),
        Frame::ArchiveGet { session, path } => archive::get(hub, session, path),
        Frame::ChangesGet { session, max_bytes } => crate::changes::serve(hub, session, max_bytes),
        Frame::Op { session, op } => crate::ops::serve(hub, session, op),
        Frame::ArchivePut {
            session,
            path,
            options,
        } => archive::put(hub, session, path, options),
        Frame::ArchiveStat { session, path } => {
            archive::stat(&path).map(|stat| hub.push_control(Frame::PathStat { session, stat }))
        }
        Frame::Restart => match main_control(shared) {
            Some(control) => linger::restart(hub, &shared.cfg, &control),
            None => Err(format!(
                "{}the main process has not run yet",
                crate::protocol::RESTART_REFUSED
            )),
        },
        Frame::End => {
            if let Some(control) = main_control(shared) {
                let _ = control.send(linger::MainControl::End);
            }
            Ok(())
        }
        _ => Err("unexpected frame from peer".to_string()),
    };
    if let Err(message) = result {
        hub.push_control(Frame::Error { session, message });
    }
}

fn main_control(
    shared: &Shared,
) -> Option<tokio::sync::mpsc::UnboundedSender<linger::MainControl>> {
    shared
        .main_control
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}
