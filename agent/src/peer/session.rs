//! Sessions on an agent connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::stdin::{SessionInput, StdinJournal};
use super::{Inner, OutputStream, PathStat, PeerError, Routed, SocketRoute};
use crate::protocol::{AckStream, Frame, MAIN_SESSION, RESTART_REFUSED};

/// An event of a session, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Output bytes starting at `offset` of `stream` (never repeated, never skipped).
    Output {
        /// Which stream.
        stream: OutputStream,
        /// Offset of the first byte.
        offset: u64,
        /// The bytes.
        data: Bytes,
    },
    /// The process exited (128+n when killed by signal n); the last event.
    Exit(i32),
    /// The agent reported a problem with this session (e.g. a failed resize).
    Error(String),
}

/// One session on a connection: the main process, an exec, or an archive operation.
pub struct Session {
    pub(super) id: u32,
    pub(super) inner: Arc<Inner>,
    pub(super) rx: mpsc::UnboundedReceiver<Routed>,
    pub(super) peeked: VecDeque<Routed>,
    /// Bytes queued for this session (its channel and `peeked`); the reader
    /// task refuses frames past the connection's budget.
    pub(super) queued: Arc<AtomicU64>,
    pub(super) delivered: [u64; 2],
    pub(super) input: SessionInput,
    pub(super) last_error: Option<String>,
    pub(super) done: bool,
    /// The exit is acknowledged by [`Session::ack_exit`], not by `recv`.
    pub(super) defer_exit_ack: bool,
    /// Output is acknowledged by [`Session::ack_output`], not by `recv`.
    pub(super) defer_output_ack: bool,
}

/// Dropping an unfinished socket session (tcp_connect or inbound) resets
/// its connection; other sessions are left running. Once a socket session
/// exited and its handle and every input are gone, its input is closed.
impl Drop for Session {
    fn drop(&mut self) {
        let socket = {
            let mut r = self.inner.routes();
            if r.queued
                .get(&self.id)
                .is_some_and(|q| Arc::ptr_eq(q, &self.queued))
            {
                r.queued.remove(&self.id);
            }
            r.sockets.contains_key(&self.id)
        };
        if !self.done && socket {
            let _ = self.input.signal(9);
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens the handle of session `id` on a connection (once per id at a time).
    pub(super) fn open(inner: &Arc<Inner>, id: u32) -> Result<Session, PeerError> {
        let stdin_start = inner
            .info
            .sessions
            .iter()
            .find(|s| s.session == id)
            .map(|s| s.stdin_offset);
        Self::open_at(inner, id, stdin_start)
    }

    /// [`Session::open`] with stdin going on from `stdin_start` (a restarted
    /// main process reads a new stdin from 0, whatever the hello said).
    pub(super) fn open_at(
        inner: &Arc<Inner>,
        id: u32,
        stdin_start: Option<u64>,
    ) -> Result<Session, PeerError> {
        let (tx, rx) = mpsc::unbounded_channel();
        // The main session's and exec sessions' stdin outlives the connection.
        let journal = match inner.resume.journal(id) {
            Some(kept) => kept,
            None if id == MAIN_SESSION => inner.resume.keep_stdin(id),
            None => StdinJournal::new(id, false),
        };
        let queued = {
            let mut r = inner.routes();
            if let Some(why) = &r.closed {
                return Err(why.clone());
            }
            if r.handles.get(&id).is_some_and(|h| !h.is_closed()) {
                return Err(PeerError::Agent(format!("session {id} is already open")));
            }
            for item in r.pending.remove(&id).unwrap_or_default() {
                let _ = tx.send(item);
            }
            r.handles.insert(id, tx);
            journal.bind(inner, stdin_start);
            r.stdin.insert(id, journal.clone());
            Inner::queued(&mut r, id)
        };
        let delivered = inner.resume.position(id);
        Ok(Session {
            id,
            inner: inner.clone(),
            rx,
            peeked: VecDeque::new(),
            queued,
            delivered: [delivered.0, delivered.1],
            input: SessionInput {
                id,
                inner: inner.clone(),
                journal,
                _guard: Arc::new(InputGuard {
                    id,
                    inner: inner.clone(),
                }),
            },
            last_error: None,
            done: false,
            defer_exit_ack: false,
            defer_output_ack: false,
        })
    }

    /// Session id.
    pub fn id(&self) -> u32 {
        self.id
    }

    async fn next_routed(&mut self) -> Option<Routed> {
        let item = match self.peeked.pop_front() {
            Some(r) => Some(r),
            None => self.rx.recv().await,
        }?;
        self.queued.fetch_sub(
            item.cost().min(self.queued.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        Some(item)
    }

    /// Puts `item` back for a later [`Session::next_routed`] (still queued).
    fn keep(&mut self, item: Routed) {
        self.queued.fetch_add(item.cost(), Ordering::Relaxed);
        self.peeked.push_back(item);
    }

    pub(super) async fn await_started(&mut self) -> Result<u32, PeerError> {
        loop {
            match self.next_routed().await {
                Some(Routed::Started(pid)) => return Ok(pid),
                Some(Routed::Event(SessionEvent::Error(m))) => return Err(PeerError::Agent(m)),
                Some(other) => self.keep(other),
                None => return Err(self.close_reason()),
            }
        }
    }

    /// After RESTART: the new run's STARTED, or its output and exit when it
    /// could not start (no STARTED then). Only an ERROR marked as a refused
    /// restart fails; other errors on session 0 are unrelated and kept.
    pub(super) async fn await_restarted(&mut self) -> Result<(), PeerError> {
        let mut kept = VecDeque::new();
        let result = loop {
            match self.next_routed().await {
                Some(Routed::Started(_)) => break Ok(()),
                Some(Routed::Event(SessionEvent::Error(m))) if m.starts_with(RESTART_REFUSED) => {
                    break Err(PeerError::Agent(m));
                }
                Some(other @ Routed::Event(SessionEvent::Error(_))) => kept.push_back(other),
                Some(other) => {
                    kept.push_back(other);
                    break Ok(());
                }
                None => break Err(self.close_reason()),
            }
        };
        for item in &kept {
            self.queued.fetch_add(item.cost(), Ordering::Relaxed);
        }
        kept.append(&mut self.peeked);
        self.peeked = kept;
        result
    }

    pub(super) async fn await_stat(&mut self) -> Result<PathStat, PeerError> {
        loop {
            match self.next_routed().await {
                Some(Routed::Stat(s)) => return Ok(s),
                Some(Routed::Event(SessionEvent::Error(m))) => return Err(PeerError::Agent(m)),
                Some(other) => self.keep(other),
                None => return Err(self.close_reason()),
            }
        }
    }

    fn close_reason(&self) -> PeerError {
        self.inner
            .routes()
            .closed
            .clone()
            .unwrap_or(PeerError::Closed)
    }

    pub(super) fn detach(&self) {
        let mut r = self.inner.routes();
        if r.queued
            .get(&self.id)
            .is_some_and(|q| Arc::ptr_eq(q, &self.queued))
        {
            r.queued.remove(&self.id);
        }
        r.handles.remove(&self.id);
        r.stdin.remove(&self.id);
        r.sockets.remove(&self.id);
        drop(r);
        if self.id != MAIN_SESSION {
            // Over: nothing of it is resumed on a later connection.
            self.inner.resume.finish(self.id);
        }
    }

    /// Next event, acknowledging it to the agent as it is handed over.
    /// `None` after the exit event or when the connection closed.
    pub async fn recv(&mut self) -> Option<SessionEvent> {
        if self.done {
            return None;
        }
        loop {
            let ev = match self.next_routed().await? {
                Routed::Event(ev) => ev,
                Routed::Started(_) | Routed::Stat(_) => continue,
            };
            match ev {
                SessionEvent::Output {
                    stream,
                    offset,
                    data,
                } => {
                    let i = if stream == OutputStream::Stdout { 0 } else { 1 };
                    let end = offset + data.len() as u64;
                    if end <= self.delivered[i] {
                        continue; // already delivered on an earlier connection
                    }
                    let skip = self.delivered[i].saturating_sub(offset) as usize;
                    let data = data.slice(skip..);
                    let offset = offset + skip as u64;
                    self.delivered[i] = end;
                    self.inner.resume.advance(self.id, stream, end);
                    if !self.defer_output_ack {
                        let _ = self.ack_output(stream, end);
                    }
                    return Some(SessionEvent::Output {
                        stream,
                        offset,
                        data,
                    });
                }
                SessionEvent::Exit(code) => {
                    self.done = true;
                    if !self.defer_exit_ack {
                        let _ = self.ack_exit();
                    }
                    if !self.input.socket_step(|s| s.exited = true) && self.id != MAIN_SESSION {
                        self.detach();
                    }
                    return Some(SessionEvent::Exit(code));
                }
                SessionEvent::Error(m) => {
                    self.last_error = Some(m.clone());
                    return Some(SessionEvent::Error(m));
                }
            }
        }
    }

    /// From now on [`Session::recv`] hands the exit over without
    /// acknowledging it: the caller acknowledges with [`Session::ack_exit`]
    /// once it is done with the process's side (the agent of the main
    /// session keeps the container alive until then, at most
    /// `SOCKERLESS_EXIT_ACK_TIMEOUT`), e.g. to copy files out after the exit.
    pub fn defer_exit_ack(&mut self) {
        self.defer_exit_ack = true;
    }

    /// From now on [`Session::recv`] hands output over without
    /// acknowledging it: the caller acknowledges with [`Session::ack_output`]
    /// once the bytes are safe (a backend stores them first, so a crash in
    /// between cannot lose what the agent already let go of). Until then the
    /// agent keeps them, within its window, and resends them on the next
    /// connection from the peer's resume position.
    pub fn defer_output_ack(&mut self) {
        self.defer_output_ack = true;
    }

    /// Acknowledges `stream` up to `offset` (the first byte not held yet).
    /// Fails when the connection is closed: the agent then resends from the
    /// resume position the next connection's hello gives it.
    pub fn ack_output(&self, stream: OutputStream, offset: u64) -> Result<(), PeerError> {
        self.inner.send(Frame::Ack {
            session: self.id,
            stream: stream.into(),
            offset,
        })
    }

    /// Acknowledges the session's exit (done by `recv` unless deferred).
    /// Harmless when repeated or before the exit (the agent ignores it then).
    /// Fails when the connection is closed: the agent resends the exit on
    /// its next connection.
    pub fn ack_exit(&self) -> Result<(), PeerError> {
        if let Some(why) = self.inner.routes().closed.clone() {
            return Err(why);
        }
        self.inner.send(Frame::Ack {
            session: self.id,
            stream: AckStream::Exit,
            offset: 0,
        })
    }

    /// The connection this session runs on is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.routes().closed.is_some()
    }

    /// A cloneable handle for stdin, resize and signals, usable while another
    /// task reads this session's output.
    pub fn input(&self) -> SessionInput {
        self.input.clone()
    }

    /// Sends stdin, waiting for the agent's credit (the process reads it).
    pub async fn write_stdin(&self, data: &[u8]) -> Result<(), PeerError> {
        self.input.write(data).await
    }

    /// Closes stdin: the process reads EOF.
    pub fn close_stdin(&self) -> Result<(), PeerError> {
        self.input.close()
    }

    /// Resizes the session's terminal.
    pub fn resize(&self, rows: u16, cols: u16) -> Result<(), PeerError> {
        self.input.resize(rows, cols)
    }

    /// Sends a signal to the session's process.
    pub fn signal(&self, signal: i32) -> Result<(), PeerError> {
        self.input.signal(signal)
    }

    /// Asks the agent to resend output from these offsets (clamped to what it still holds).
    pub fn attach_from(&mut self, stdout: u64, stderr: u64) -> Result<(), PeerError> {
        self.delivered = [self.delivered[0].min(stdout), self.delivered[1].min(stderr)];
        self.inner.send(Frame::Attach {
            session: self.id,
            stdout,
            stderr,
        })
    }

    /// Consumes events until the exit code; output is discarded. An error
    /// reported before a non-zero exit becomes the error.
    pub async fn finish(&mut self) -> Result<i32, PeerError> {
        loop {
            match self.recv().await {
                Some(SessionEvent::Exit(code)) => {
                    return match (&self.last_error, code) {
                        (Some(m), c) if c != 0 => Err(PeerError::Agent(m.clone())),
                        _ => Ok(code),
                    };
                }
                Some(_) => {}
                None => return Err(self.close_reason()),
            }
        }
    }

    /// Collects all output and the exit code (for small outputs).
    pub async fn collect(&mut self) -> Result<(Vec<u8>, Vec<u8>, i32), PeerError> {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        loop {
            match self.recv().await {
                Some(SessionEvent::Output {
                    stream: OutputStream::Stdout,
                    data,
                    ..
                }) => out.extend_from_slice(&data),
                Some(SessionEvent::Output {
                    stream: OutputStream::Stderr,
                    data,
                    ..
                }) => err.extend_from_slice(&data),
                Some(SessionEvent::Exit(code)) => return Ok((out, err, code)),
                Some(SessionEvent::Error(_)) => {}
                None => return Err(self.close_reason()),
            }
        }
    }
}

/// Records progress of a socket session and forgets it once it exited and
/// its input is done; false when `id` is not a live socket session.
pub(super) fn socket_step(inner: &Inner, id: u32, step: impl FnOnce(&mut SocketRoute)) -> bool {
    let mut r = inner.routes();
    let Some(s) = r.sockets.get_mut(&id) else {
        return false;
    };
    step(s);
    let s = *s;
    if s.exited {
        // No more output: later frames (errors) are dropped, stdin acks still count.
        r.handles.remove(&id);
        if s.input_done {
            r.sockets.remove(&id);
            r.stdin.remove(&id);
        }
    }
    true
}

/// Shared by a session and its inputs: when the last of them goes, a socket
/// whose input was neither closed nor signalled is closed (half-close).
pub(super) struct InputGuard {
    pub(super) id: u32,
    pub(super) inner: Arc<Inner>,
}

impl Drop for InputGuard {
    fn drop(&mut self) {
        let open = self
            .inner
            .routes()
            .sockets
            .get(&self.id)
            .is_some_and(|s| !s.input_done);
        if open {
            let _ = self.inner.send(Frame::CloseStdin { session: self.id });
            socket_step(&self.inner, self.id, |s| s.input_done = true);
        }
    }
}
