//! Routing of the agent's frames to the sessions that read them, with the
//! per-session budget that bounds what an agent can make the peer queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};

use super::stdin::StdinJournal;
use super::{AgentInfo, PathStat, PeerError, ResumeState, SessionEvent};
use crate::protocol::{AckStream, Frame};

pub(crate) enum Routed {
    Event(SessionEvent),
    Started(u32),
    Stat(PathStat),
}

impl Routed {
    /// What keeping it queued costs, for the per-session budget.
    pub(crate) fn cost(&self) -> u64 {
        const ITEM: u64 = 64;
        ITEM + match self {
            Routed::Event(SessionEvent::Output { data, .. }) => data.len() as u64,
            Routed::Event(SessionEvent::Error(m)) => m.len() as u64,
            Routed::Stat(s) => (s.name.len() + s.link_target.len()) as u64,
            _ => 0,
        }
    }
}

/// Most output window the peer honours, whatever the agent announces: the
/// per-session budget derives from it.
pub const MAX_PEER_WINDOW: u64 = 8 << 20;
/// Sessions that may hold queued frames before anyone opened them (the main
/// session before it is taken, sessions being opened); an agent that sends
/// to more is disconnected.
pub const MAX_PENDING_SESSIONS: usize = 64;

/// Progress of a socket session: its stdin credit is kept after its exit
/// (the remote end's EOF) until the input side is closed too.
#[derive(Default, Clone, Copy)]
pub(crate) struct SocketRoute {
    pub(crate) exited: bool,
    pub(crate) input_done: bool,
}

#[derive(Default)]
pub(crate) struct Routes {
    pub(crate) handles: HashMap<u32, mpsc::UnboundedSender<Routed>>,
    pub(crate) pending: HashMap<u32, Vec<Routed>>,
    /// Bytes queued per session and not yet handed to its reader (in its
    /// channel, its peeked items, or pending): bounded by [`Inner::budget`].
    pub(crate) queued: HashMap<u32, Arc<AtomicU64>>,
    /// The stdin of each open session, fed the agent's acknowledgements.
    pub(crate) stdin: HashMap<u32, Arc<StdinJournal>>,
    /// Socket sessions not finished yet: their output is acknowledged (and
    /// dropped) once nobody holds their handle, so the agent forgets them.
    pub(crate) sockets: HashMap<u32, SocketRoute>,
    pub(crate) closed: Option<PeerError>,
}

pub(crate) struct Inner {
    pub(crate) out: mpsc::UnboundedSender<Frame>,
    pub(crate) routes: Mutex<Routes>,
    pub(crate) resume: ResumeState,
    pub(crate) next_id: AtomicU32,
    pub(crate) info: AgentInfo,
    /// Most bytes queued per session: an honest agent never has more than
    /// its window per stream unacknowledged, and the peer acknowledges only
    /// what its reader took.
    pub(crate) budget: u64,
    /// Set after a violation: the writer closes the transport and the
    /// reader stops reading.
    pub(crate) kill: watch::Sender<bool>,
}

impl Inner {
    pub(crate) fn routes(&self) -> MutexGuard<'_, Routes> {
        match self.routes.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn send(&self, frame: Frame) -> Result<(), PeerError> {
        self.out.send(frame).map_err(|_| PeerError::Closed)
    }

    /// The queued-bytes counter of `session` (shared with its handle).
    pub(crate) fn queued(r: &mut Routes, session: u32) -> Arc<AtomicU64> {
        r.queued.entry(session).or_default().clone()
    }

    pub(crate) fn route(&self, session: u32, item: Routed) {
        let mut r = self.routes();
        if r.closed.is_some() {
            return;
        }
        let known = r.handles.contains_key(&session) || r.pending.contains_key(&session);
        if !known && r.pending.len() >= MAX_PENDING_SESSIONS {
            drop(r);
            self.violation(format!(
                "frames for more than {MAX_PENDING_SESSIONS} sessions nobody opened"
            ));
            return;
        }
        if !r.sockets.contains_key(&session) {
            let queued = Self::queued(&mut r, session);
            let now = queued.fetch_add(item.cost(), Ordering::Relaxed) + item.cost();
            if now > self.budget {
                drop(r);
                self.violation(format!(
                    "session {session}: {now} bytes queued, past the {} its window allows",
                    self.budget
                ));
                return;
            }
        }
        if let (Routed::Event(SessionEvent::Error(msg)), Some(stdin)) =
            (&item, r.stdin.get(&session))
        {
            stdin.fail(msg.clone());
        }
        let unread = match r.handles.get(&session) {
            Some(tx) => match tx.send(item) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => item,
        };
        if r.sockets.contains_key(&session) {
            self.discard(&mut r, session, unread);
        } else if r.handles.contains_key(&session) {
            // The handle was dropped: nobody will read this.
        } else {
            r.pending.entry(session).or_default().push(unread);
        }
    }

    /// Acknowledges what arrives for a socket session whose handle was dropped.
    pub(crate) fn discard(&self, r: &mut Routes, session: u32, item: Routed) {
        let ack = match item {
            Routed::Event(SessionEvent::Output {
                stream,
                offset,
                data,
            }) => Frame::Ack {
                session,
                stream: stream.into(),
                offset: offset + data.len() as u64,
            },
            Routed::Event(SessionEvent::Exit(_)) => {
                r.sockets.remove(&session);
                r.handles.remove(&session);
                r.stdin.remove(&session);
                Frame::Ack {
                    session,
                    stream: AckStream::Exit,
                    offset: 0,
                }
            }
            _ => return,
        };
        let _ = self.send(ack);
    }

    pub(crate) fn close(&self, why: PeerError) {
        let mut r = self.routes();
        let why = r.closed.get_or_insert(why).clone();
        r.handles.clear();
        for (_, stdin) in r.stdin.drain() {
            stdin.unlink(self, &why);
        }
        r.sockets.clear();
        r.pending.clear();
        r.queued.clear();
    }

    /// A hostile or broken agent: drop what it queued and close the link.
    pub(crate) fn violation(&self, what: String) {
        tracing::warn!(%what, "closing the agent connection: protocol violation");
        self.close(PeerError::Protocol(what));
        self.kill.send_replace(true);
    }
}
