//! Stdin of a session, kept until the agent acknowledges it.
//!
//! Every session's stdin goes through a [`StdinJournal`]: writers append,
//! the journal sends what the agent's credit allows and keeps the bytes sent
//! but not acknowledged yet. The main session's and exec sessions' journals
//! live in the container's [`super::ResumeState`], so they outlive a
//! connection: when the session is opened on the next one, the journal
//! continues from the offset the agent reports having received (its hello's
//! `sessions[].stdinOffset`) and sends again what it kept past it, then a
//! close that was asked for, before anything newer. Socket, archive and
//! changes sessions end with their connection; their journals fail the
//! writers when it closes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use tokio::sync::watch;

use super::session::{InputGuard, socket_step};
use super::{Inner, PeerError, SocketRoute};
use crate::protocol::{Frame, MAX_CHUNK};

/// A session's stdin: what writers handed over and the agent has not
/// acknowledged, and the connection carrying it.
pub(crate) struct StdinJournal {
    id: u32,
    /// Survives its connection (main and exec sessions): writers wait for
    /// the next one instead of failing.
    resumable: bool,
    state: Mutex<Journal>,
    /// Bumped at every change writers may wait for.
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for StdinJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdinJournal")
            .field("id", &self.id)
            .field("resumable", &self.resumable)
            .finish_non_exhaustive()
    }
}

/// Offsets are stdin byte positions of the session (the STDIN frames' offsets).
#[derive(Default)]
struct Journal {
    /// Everything below was acknowledged by the agent (or reported received
    /// in its hello); `kept` starts here.
    acked: u64,
    /// The bytes from `acked` to `end`: sent and unacknowledged (at most the
    /// stdin window), then not sent yet (what blocked writers handed over).
    kept: VecDeque<u8>,
    /// Next byte to send on the current connection.
    sent: u64,
    /// The agent's stdin window on the current connection.
    window: u64,
    /// Stdin ends after `end` (CLOSE_STDIN once everything is sent).
    closed: bool,
    close_sent: bool,
    link: Option<Weak<Inner>>,
    /// Why writes fail now: the agent's error on this session (until the
    /// next connection), or the end of a connection this journal does not outlive.
    failed: Option<PeerError>,
    /// Forgotten ([`StdinJournal::abandon`]): writes fail from now on.
    abandoned: bool,
}

impl Journal {
    fn end(&self) -> u64 {
        self.acked + self.kept.len() as u64
    }

    /// Sends what the window allows, then the close once everything is out.
    /// A send that fails (the connection's writer is gone) leaves the bytes
    /// kept: the next connection sends them.
    fn flush(&mut self, id: u32) {
        let Some(inner) = self.link.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        let chunk = (MAX_CHUNK as u64).min(self.window).max(1);
        while self.sent < self.end() && self.sent < self.acked + self.window {
            let n = chunk
                .min(self.end() - self.sent)
                .min(self.acked + self.window - self.sent);
            let start = (self.sent - self.acked) as usize;
            let data: Vec<u8> = self
                .kept
                .range(start..start + n as usize)
                .copied()
                .collect();
            let frame = Frame::Stdin {
                session: id,
                offset: self.sent,
                data: Bytes::from(data),
            };
            if inner.send(frame).is_err() {
                return;
            }
            self.sent += n;
        }
        if self.closed && !self.close_sent && self.sent == self.end() {
            self.close_sent = inner.send(Frame::CloseStdin { session: id }).is_ok();
        }
    }
}

impl StdinJournal {
    pub(crate) fn new(id: u32, resumable: bool) -> Arc<Self> {
        Arc::new(Self {
            id,
            resumable,
            state: Mutex::new(Journal::default()),
            changed: watch::Sender::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Journal> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Carries the stdin on `inner` from now on. `received`: the stdin bytes
    /// the agent holds (its hello), where sending resumes; what was kept past
    /// it is sent again, then the close if it was asked for. Called with the
    /// connection's routes locked (the journal is registered there in the
    /// same step, so no acknowledgement is missed).
    pub(crate) fn bind(&self, inner: &Arc<Inner>, received: Option<u64>) {
        let mut j = self.lock();
        j.link = Some(Arc::downgrade(inner));
        j.window = inner.info.stdin_window.max(1);
        j.failed = None;
        j.close_sent = false;
        let received = received.unwrap_or(j.acked);
        if received >= j.end() {
            // The agent holds everything (or more: this journal is new, e.g.
            // after the backend restarted): go on from there.
            j.kept.clear();
            j.acked = received;
        } else if received > j.acked {
            let n = (received - j.acked) as usize;
            j.kept.drain(..n);
            j.acked = received;
        }
        // Below `acked` nothing can be sent again; the agent reports a gap.
        j.sent = j.acked;
        j.flush(self.id);
        drop(j);
        self.bump();
    }

    /// The connection `inner` closed. A resumable journal keeps everything
    /// for the next one; another fails its writers with `why`.
    pub(crate) fn unlink(&self, inner: &Inner, why: &PeerError) {
        let mut j = self.lock();
        let ours = j
            .link
            .as_ref()
            .is_some_and(|l| std::ptr::eq(l.as_ptr(), inner));
        if !ours {
            return;
        }
        j.link = None;
        if !self.resumable {
            j.failed = Some(why.clone());
        }
        drop(j);
        self.bump();
    }

    /// Starts over at `offset` with nothing kept (a new run of the main
    /// process reads a new stdin).
    pub(crate) fn reset(&self, offset: u64) {
        let mut j = self.lock();
        j.kept.clear();
        j.acked = offset;
        j.sent = offset;
        j.closed = false;
        j.close_sent = false;
        j.failed = None;
        drop(j);
        self.bump();
    }

    /// The agent acknowledged stdin up to `offset`: frees that much and
    /// sends what the window now allows.
    pub(crate) fn ack(&self, offset: u64) {
        let mut j = self.lock();
        let offset = offset.min(j.sent);
        if offset <= j.acked {
            return;
        }
        let n = (offset - j.acked) as usize;
        j.kept.drain(..n);
        j.acked = offset;
        j.flush(self.id);
        drop(j);
        self.bump();
    }

    /// The agent reported an error on the session: writes fail (until the
    /// session is opened on another connection).
    pub(crate) fn fail(&self, message: String) {
        self.lock().failed = Some(PeerError::Agent(message));
        self.bump();
    }

    /// Nobody will carry this stdin any more (the session is over or given
    /// up): kept bytes go, writers fail.
    pub(crate) fn abandon(&self) {
        let mut j = self.lock();
        j.abandoned = true;
        j.link = None;
        j.kept.clear();
        drop(j);
        self.bump();
    }

    fn check(&self, j: &Journal) -> Result<(), PeerError> {
        if j.abandoned {
            return Err(PeerError::Closed);
        }
        match &j.failed {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }

    /// Appends `data` and sends what the window allows; the offset past it.
    /// Synchronous, so a writer cancelled after this loses nothing: the
    /// bytes are kept and go out as credit comes.
    fn push(&self, data: &[u8]) -> Result<u64, PeerError> {
        let mut j = self.lock();
        self.check(&j)?;
        if !self.resumable && j.link.is_none() {
            return Err(PeerError::Closed);
        }
        j.kept.extend(data);
        j.flush(self.id);
        Ok(j.end())
    }

    /// Waits until every byte below `end` was sent.
    async fn sent_past(&self, end: u64) -> Result<(), PeerError> {
        let mut changed = self.changed.subscribe();
        loop {
            {
                let j = self.lock();
                self.check(&j)?;
                if j.sent >= end {
                    return Ok(());
                }
            }
            // The sender lives as long as `self`: this never fails.
            let _ = changed.changed().await;
        }
    }

    fn close(&self) -> Result<(), PeerError> {
        let mut j = self.lock();
        self.check(&j)?;
        if !self.resumable && j.link.is_none() {
            return Err(PeerError::Closed);
        }
        j.closed = true;
        j.flush(self.id);
        Ok(())
    }

    /// Sends a control frame (resize, signal) on the current connection.
    fn send_now(&self, frame: Frame) -> Result<(), PeerError> {
        let link = self.lock().link.as_ref().and_then(Weak::upgrade);
        match link {
            Some(inner) => inner.send(frame),
            None => Err(PeerError::Closed),
        }
    }
}

/// The input side of a session: stdin with credit-based flow control, resize, signals.
///
/// The main session's and exec sessions' inputs outlive their connection:
/// a write waits for the session to be opened on the next connection
/// ([`super::AgentConnection::session`] or
/// [`super::AgentConnection::resume_session`]) and nothing handed over is
/// lost or repeated; resize and signal go to the current connection (they
/// fail while there is none).
#[derive(Clone)]
pub struct SessionInput {
    pub(super) id: u32,
    pub(super) inner: Arc<Inner>,
    pub(super) journal: Arc<StdinJournal>,
    pub(super) _guard: Arc<InputGuard>,
}

impl SessionInput {
    /// Sends stdin, waiting while the agent's stdin window is full. Once
    /// called, the bytes are kept in order even if the returned future is
    /// dropped before it completes.
    pub async fn write(&self, data: &[u8]) -> Result<(), PeerError> {
        let end = self.journal.push(data)?;
        self.journal.sent_past(end).await
    }

    /// Closes stdin after what was written: the process reads EOF (a socket
    /// is half-closed).
    pub fn close(&self) -> Result<(), PeerError> {
        let closed = self.journal.close();
        self.socket_step(|s| s.input_done = true);
        closed
    }

    pub(super) fn socket_step(&self, step: impl FnOnce(&mut SocketRoute)) -> bool {
        socket_step(&self.inner, self.id, step)
    }

    /// Resizes the session's terminal.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<(), PeerError> {
        self.journal.send_now(Frame::Resize {
            session: self.id,
            rows,
            cols,
        })
    }

    /// Sends a signal to the session's process (resets a socket session).
    pub fn signal(&self, signal: i32) -> Result<(), PeerError> {
        let sent = self.journal.send_now(Frame::Signal {
            session: self.id,
            signal,
        });
        self.socket_step(|s| s.input_done = true);
        sent
    }
}
