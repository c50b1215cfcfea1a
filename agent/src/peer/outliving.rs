//! Sessions that outlive their connection: an exec re-opened on the next
//! connection with [`AgentConnection::resume_session`], the kept stdin of
//! the main and exec sessions ([`super::stdin`]), and sessions finished on
//! an earlier connection whose end the agent sends again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use super::stdin::StdinJournal;
use super::{AgentConnection, Inner, PeerError, ResumeState, Session, SocketRoute};

/// Most sessions remembered as finished (their exits, when the agent sends
/// them again, are acknowledged and dropped).
const FINISHED_KEPT: usize = 1024;

/// Sessions beyond their connection.
#[derive(Debug, Default)]
pub(super) struct Outliving {
    /// The kept stdin of the sessions that outlive connections.
    stdin: BTreeMap<u32, Arc<StdinJournal>>,
    /// Sessions whose exit was delivered, newest last: the agent sends the
    /// exit again when its acknowledgement was lost with a connection.
    finished: VecDeque<u32>,
}

fn lock_outliving<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ResumeState {
    /// Forgets a session (over, or given up): its positions go, its
    /// stdin writers fail. A session id reused later starts from nothing.
    pub fn forget(&self, session: u32) {
        self.lock().remove(&session);
        let journal = {
            let mut o = lock_outliving(&self.1);
            o.finished.retain(|f| *f != session);
            o.stdin.remove(&session)
        };
        if let Some(journal) = journal {
            journal.abandon();
        }
    }

    /// [`ResumeState::forget`] a session whose exit was delivered, and
    /// remember it finished: on a later connection, what the agent sends for
    /// it again is acknowledged and dropped, so the agent forgets it too.
    pub(crate) fn finish(&self, session: u32) {
        self.forget(session);
        let mut o = lock_outliving(&self.1);
        if o.finished.len() >= FINISHED_KEPT {
            o.finished.pop_front();
        }
        o.finished.push_back(session);
    }

    pub(crate) fn is_finished(&self, session: u32) -> bool {
        lock_outliving(&self.1).finished.contains(&session)
    }

    /// The kept stdin of `session`, if it outlives connections.
    pub(crate) fn journal(&self, session: u32) -> Option<Arc<StdinJournal>> {
        lock_outliving(&self.1).stdin.get(&session).cloned()
    }

    /// The kept stdin of `session`, made to outlive connections.
    pub(crate) fn keep_stdin(&self, session: u32) -> Arc<StdinJournal> {
        lock_outliving(&self.1)
            .stdin
            .entry(session)
            .or_insert_with(|| StdinJournal::new(session, true))
            .clone()
    }
}

impl AgentConnection {
    /// Re-opens a session that outlived an earlier connection of this
    /// container (an exec started there, with the same [`ResumeState`]): its
    /// output goes on after what was delivered, its stdin after what the
    /// agent received (what was written and not received is sent again).
    /// Fails when the agent's hello does not list it: it ended and was
    /// forgotten, or this is another agent.
    pub fn resume_session(&self, id: u32) -> Result<Session, PeerError> {
        if !self.inner.info.sessions.iter().any(|s| s.session == id) {
            return Err(PeerError::Agent(format!(
                "session {id} is not live on the agent"
            )));
        }
        self.session(id)
    }
}

/// Sessions whose exit was delivered on an earlier connection but whose
/// acknowledgement was lost with it: the agent sends their end again; it is
/// acknowledged and dropped as for a socket nobody reads.
pub(super) fn drop_finished(inner: &Inner) {
    let mut r = inner.routes();
    for s in &inner.info.sessions {
        if inner.resume.is_finished(s.session) {
            r.sockets.insert(
                s.session,
                SocketRoute {
                    exited: false,
                    input_done: true,
                },
            );
        }
    }
}
