//! Session state shared by producers (process pipes), the connection writer
//! and the frame dispatcher.
//!
//! Each output stream keeps the bytes between the peer's acknowledged offset
//! and the produced offset. Producers stop reading their pipe while that
//! backlog is at the window, so a slow or absent peer blocks the process
//! instead of losing output, and memory stays bounded.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use crate::process;
use crate::protocol::{AckStream, Frame, MAX_CHUNK, OutputStream, ResumeEntry, SessionInfo};

/// Control frames kept while no peer is connected; older health reports go first.
const MAX_CONTROL_QUEUE: usize = 1024;

/// Stdin delivered to a session's writer task.
pub(crate) enum StdinMsg {
    Data(Bytes),
    Close,
}

#[derive(Default)]
struct OutBuf {
    acked: u64,
    sent: u64,
    data: VecDeque<u8>,
    eof: bool,
}

impl OutBuf {
    fn produced(&self) -> u64 {
        self.acked + self.data.len() as u64
    }
}

struct Session {
    out: [OutBuf; 2],
    exit: Option<i32>,
    exit_sent: bool,
    exit_acked: bool,
    /// Removed once everything is acknowledged (exec and archive sessions).
    transient: bool,
    stdin_tx: Option<mpsc::UnboundedSender<StdinMsg>>,
    stdin_received: u64,
    pid: Option<i32>,
    pty: Option<OwnedFd>,
    space: Arc<Notify>,
    /// Kept after its exit is acknowledged (a socket whose write side is open).
    held: bool,
    /// A socket session: tied to its connection, not announced in hellos.
    socket: bool,
    /// Signals that came before the process existed (a `docker kill` right
    /// after `docker start`, while the process waits for its peers): sent
    /// to it once it starts. At most [`PENDING_SIGNALS`].
    pending_signals: Vec<i32>,
}

/// Signals kept for a process not started yet.
const PENDING_SIGNALS: usize = 8;

impl Session {
    fn done(&self) -> bool {
        !self.held && self.exit_acked && self.out.iter().all(|o| o.eof && o.data.is_empty())
    }
}

#[derive(Default)]
struct State {
    sessions: BTreeMap<u32, Session>,
    control: VecDeque<Frame>,
}

/// Shared agent state.
pub(crate) struct Hub {
    state: Mutex<State>,
    writer_wake: Notify,
    progress: Notify,
    /// Unacknowledged output bytes kept per stream.
    pub window: u64,
    /// Stdin bytes the peer may have in flight per session.
    pub stdin_window: u64,
}

fn idx(s: OutputStream) -> usize {
    match s {
        OutputStream::Stdout => 0,
        OutputStream::Stderr => 1,
    }
}

impl Hub {
    pub(crate) fn new(window: u64, stdin_window: u64) -> Arc<Self> {
        Arc::new(Hub {
            state: Mutex::new(State::default()),
            writer_wake: Notify::new(),
            progress: Notify::new(),
            window: window.max(1),
            stdin_window,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Creates a session; fails if the id is in use.
    pub(crate) fn register(&self, id: u32, transient: bool) -> Result<(), String> {
        let mut st = self.lock();
        if st.sessions.contains_key(&id) {
            return Err(format!("session {id} already exists"));
        }
        st.sessions.insert(
            id,
            Session {
                out: Default::default(),
                exit: None,
                exit_sent: false,
                exit_acked: false,
                transient,
                stdin_tx: None,
                stdin_received: 0,
                pid: None,
                pty: None,
                space: Arc::new(Notify::new()),
                held: false,
                socket: false,
                pending_signals: Vec::new(),
            },
        );
        Ok(())
    }

    /// Creates a socket session (transient, left out of the hello); fails if the id is in use.
    pub(crate) fn register_socket(&self, id: u32) -> Result<(), String> {
        self.register(id, true)?;
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.socket = true;
        }
        Ok(())
    }

    /// Queues stdin of session `id` until its process starts (the main
    /// process may wait for its peers); the receiver goes to the writer.
    pub(crate) fn early_stdin(&self, id: u32) -> Option<mpsc::UnboundedReceiver<StdinMsg>> {
        let mut st = self.lock();
        let s = st.sessions.get_mut(&id)?;
        // Bounded by the peer's credit: it never has more than `stdin_window`
        // unacknowledged bytes in flight, and these are acknowledged only as
        // the process's writer takes them.
        let (tx, rx) = mpsc::unbounded_channel();
        s.stdin_tx = Some(tx);
        Some(rx)
    }

    /// Attaches the process controls of a session.
    pub(crate) fn set_process(
        &self,
        id: u32,
        pid: Option<i32>,
        pty: Option<OwnedFd>,
        stdin: Option<mpsc::UnboundedSender<StdinMsg>>,
    ) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.pid = pid;
            s.pty = pty;
            if stdin.is_some() {
                s.stdin_tx = stdin;
            }
            if let Some(pid) = pid {
                for signal in std::mem::take(&mut s.pending_signals) {
                    if let Err(e) = process::kill(pid, signal) {
                        tracing::warn!(session = id, signal, error = %e, "kept signal not delivered");
                    }
                }
            }
        }
    }

    /// Waits until the stream may take more bytes; returns how many (0: session gone).
    pub(crate) async fn wait_space(&self, id: u32, stream: OutputStream) -> usize {
        loop {
            let space = match self.lock().sessions.get(&id) {
                Some(s) => s.space.clone(),
                None => return 0,
            };
            let notified = space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = self.lock();
                let Some(s) = st.sessions.get(&id) else {
                    return 0;
                };
                let used = s.out[idx(stream)].data.len() as u64;
                if used < self.window {
                    return (self.window - used) as usize;
                }
            }
            notified.await;
        }
    }

    /// Appends produced output.
    pub(crate) fn push_output(&self, id: u32, stream: OutputStream, data: &[u8]) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.out[idx(stream)].data.extend(data);
        }
        self.writer_wake.notify_one();
    }

    /// Total bytes produced on a stream so far.
    pub(crate) fn produced(&self, id: u32, stream: OutputStream) -> u64 {
        self.lock()
            .sessions
            .get(&id)
            .map(|s| s.out[idx(stream)].produced())
            .unwrap_or(0)
    }

    /// Whether the stream's backlog has room (the producer is not held by the window).
    pub(crate) fn has_space(&self, id: u32, stream: OutputStream) -> bool {
        self.lock()
            .sessions
            .get(&id)
            .is_some_and(|s| (s.out[idx(stream)].data.len() as u64) < self.window)
    }

    /// Marks a stream finished.
    pub(crate) fn finish_stream(&self, id: u32, stream: OutputStream) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.out[idx(stream)].eof = true;
        }
        self.writer_wake.notify_one();
    }

    /// Records a session's exit code (sent after its remaining output).
    pub(crate) fn set_exit(&self, id: u32, code: i32) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.exit = Some(code);
            s.pid = None;
        }
        self.writer_wake.notify_one();
    }

    /// Keeps (`true`) or no longer keeps a session once its exit is acknowledged.
    pub(crate) fn hold(&self, id: u32, held: bool) {
        let mut st = self.lock();
        let Some(s) = st.sessions.get_mut(&id) else {
            return;
        };
        s.held = held;
        if s.transient && s.done() {
            st.sessions.remove(&id);
        }
        drop(st);
        self.progress.notify_waiters();
    }

    /// Whether the session exists (it is forgotten once everything is acknowledged).
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.lock().sessions.contains_key(&id)
    }

    /// Drops a session that failed before producing anything.
    pub(crate) fn remove(&self, id: u32) {
        self.lock().sessions.remove(&id);
    }

    /// Queues a control frame for the peer.
    pub(crate) fn push_control(&self, frame: Frame) {
        let mut st = self.lock();
        if st.control.len() >= MAX_CONTROL_QUEUE {
            if let Some(pos) = st
                .control
                .iter()
                .position(|f| matches!(f, Frame::Health(_)))
            {
                st.control.remove(pos);
            } else {
                st.control.pop_front();
            }
        }
        st.control.push_back(frame);
        drop(st);
        self.writer_wake.notify_one();
    }

    /// Applies a peer acknowledgement.
    pub(crate) fn ack(&self, id: u32, stream: AckStream, offset: u64) {
        let mut st = self.lock();
        let Some(s) = st.sessions.get_mut(&id) else {
            return;
        };
        match stream {
            AckStream::Stdout | AckStream::Stderr => {
                let o = &mut s.out[if stream == AckStream::Stdout { 0 } else { 1 }];
                let target = offset.min(o.produced());
                if target > o.acked {
                    o.data.drain(..(target - o.acked) as usize);
                    o.acked = target;
                    o.sent = o.sent.max(target);
                    s.space.notify_waiters();
                }
            }
            AckStream::Exit => s.exit_acked = s.exit.is_some(),
            AckStream::Stdin => {}
        }
        if s.transient && s.done() {
            st.sessions.remove(&id);
        }
        drop(st);
        self.progress.notify_waiters();
    }

    /// Live sessions and the stdin each has received, for the agent's hello
    /// (socket sessions end with their connection and are left out).
    /// The peer continues stdin from these offsets, so stdin acks queued for a
    /// dead connection are not needed.
    pub(crate) fn session_infos(&self) -> Vec<SessionInfo> {
        let st = self.lock();
        st.sessions
            .iter()
            .filter(|(_, s)| !s.socket)
            .map(|(id, s)| SessionInfo {
                session: *id,
                stdin_offset: s.stdin_received,
            })
            .collect()
    }

    /// Starts a new connection: send cursors move to the peer's resume points
    /// (clamped to what is still held), unacknowledged exits are sent again,
    /// and control frames meant for the previous connection are dropped.
    pub(crate) fn begin_connection(&self, resume: &[ResumeEntry]) {
        let mut st = self.lock();
        for (id, s) in st.sessions.iter_mut() {
            let r = resume.iter().find(|r| r.session == *id);
            for (i, o) in s.out.iter_mut().enumerate() {
                let want = r
                    .map(|r| if i == 0 { r.stdout } else { r.stderr })
                    .unwrap_or(o.acked);
                o.sent = want.clamp(o.acked, o.produced());
            }
            s.exit_sent = false;
        }
        st.control.retain(|f| matches!(f, Frame::Health(_)));
        drop(st);
        self.writer_wake.notify_one();
    }

    /// Moves a session's send cursors (peer's attach).
    pub(crate) fn attach(&self, id: u32, stdout: u64, stderr: u64) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            for (o, want) in s.out.iter_mut().zip([stdout, stderr]) {
                o.sent = want.clamp(o.acked, o.produced());
            }
            s.exit_sent = false;
        }
        self.writer_wake.notify_one();
    }

    /// Next frames to send, control first, then at most one chunk per stream.
    pub(crate) fn next_frames(&self) -> Vec<Frame> {
        let mut st = self.lock();
        let mut frames: Vec<Frame> = st.control.drain(..).collect();
        for (id, s) in st.sessions.iter_mut() {
            for (i, o) in s.out.iter_mut().enumerate() {
                let produced = o.produced();
                if o.sent < produced {
                    let start = (o.sent - o.acked) as usize;
                    let len = ((produced - o.sent) as usize).min(MAX_CHUNK);
                    let data: Vec<u8> = o.data.range(start..start + len).copied().collect();
                    frames.push(Frame::Output {
                        session: *id,
                        stream: if i == 0 {
                            OutputStream::Stdout
                        } else {
                            OutputStream::Stderr
                        },
                        offset: o.sent,
                        data: Bytes::from(data),
                    });
                    o.sent += len as u64;
                }
            }
            let drained = s.out.iter().all(|o| o.eof && o.sent == o.produced());
            if let (Some(code), false, true) = (s.exit, s.exit_sent, drained) {
                frames.push(Frame::Exit { session: *id, code });
                s.exit_sent = true;
            }
        }
        frames
    }

    /// Waits until there may be something to send.
    pub(crate) async fn writer_wait(&self) {
        self.writer_wake.notified().await
    }

    /// Delivers stdin; bytes below what was already received are skipped.
    pub(crate) fn stdin(&self, id: u32, offset: u64, data: Bytes) -> Result<(), String> {
        let mut st = self.lock();
        let s = st
            .sessions
            .get_mut(&id)
            .ok_or_else(|| format!("no session {id}"))?;
        if offset > s.stdin_received {
            return Err(format!(
                "stdin gap: expected offset {}, got {offset}",
                s.stdin_received
            ));
        }
        let skip = (s.stdin_received - offset) as usize;
        if skip >= data.len() {
            return Ok(());
        }
        let data = data.slice(skip..);
        s.stdin_received += data.len() as u64;
        let received = s.stdin_received;
        match &s.stdin_tx {
            Some(tx) if tx.send(StdinMsg::Data(data)).is_ok() => {}
            // Nobody reads this stdin: acknowledge so the peer never waits forever.
            _ => {
                drop(st);
                self.push_control(Frame::Ack {
                    session: id,
                    stream: AckStream::Stdin,
                    offset: received,
                });
            }
        }
        Ok(())
    }

    /// Closes a session's stdin.
    pub(crate) fn close_stdin(&self, id: u32) {
        let tx = self
            .lock()
            .sessions
            .get_mut(&id)
            .and_then(|s| s.stdin_tx.take());
        if let Some(tx) = tx {
            let _ = tx.send(StdinMsg::Close);
        }
    }

    /// Resizes a session's terminal.
    pub(crate) fn resize(&self, id: u32, rows: u16, cols: u16) -> Result<(), String> {
        let st = self.lock();
        let s = st
            .sessions
            .get(&id)
            .ok_or_else(|| format!("no session {id}"))?;
        let pty = s
            .pty
            .as_ref()
            .ok_or_else(|| format!("session {id} has no tty"))?;
        process::resize_pty(pty.as_raw_fd(), rows, cols).map_err(|e| format!("resize: {e}"))
    }

    /// Signals a session's process.
    /// A process that has not started yet (and not ended) gets it when it starts.
    pub(crate) fn signal(&self, id: u32, signal: i32) -> Result<(), String> {
        let mut st = self.lock();
        let s = st
            .sessions
            .get_mut(&id)
            .ok_or_else(|| format!("session {id} has no running process"))?;
        match s.pid {
            Some(pid) => process::kill(pid, signal).map_err(|e| format!("signal {signal}: {e}")),
            None if s.exit.is_none() && !s.socket => {
                if s.pending_signals.len() < PENDING_SIGNALS {
                    s.pending_signals.push(signal);
                }
                Ok(())
            }
            None => Err(format!("session {id} has no running process")),
        }
    }

    /// The pid of a session's running process.
    pub(crate) fn pid(&self, id: u32) -> Option<i32> {
        self.lock().sessions.get(&id).and_then(|s| s.pid)
    }

    /// Makes a finished session ready for a new run of its process (RESTART
    /// of the main process). Refused unless its exit and output were all
    /// acknowledged, so nothing of the previous run can be lost or mixed in.
    /// Output offsets go on from where they are: the peer's resume positions
    /// stay valid across runs. Stdin starts again at offset 0 (the peer opens
    /// a fresh stdin for the new run); with `open_stdin`, stdin arriving
    /// before the process exists is queued for it (the returned receiver).
    pub(crate) fn restart(
        &self,
        id: u32,
        open_stdin: bool,
    ) -> Result<Option<mpsc::UnboundedReceiver<StdinMsg>>, String> {
        let mut st = self.lock();
        let s = st
            .sessions
            .get_mut(&id)
            .ok_or_else(|| format!("no session {id}"))?;
        if !s.done() {
            return Err("the process has not exited or its exit is not acknowledged".into());
        }
        s.exit = None;
        s.exit_sent = false;
        s.exit_acked = false;
        for o in s.out.iter_mut() {
            o.eof = false;
        }
        s.pid = None;
        s.pty = None;
        s.stdin_received = 0;
        s.stdin_tx = None;
        // The previous run's writer may still hold an early-stdin receiver:
        // dropping the sender above ends it; the new run gets its own,
        // bounded by stdin credit as in `early_stdin`.
        let early = open_stdin.then(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            s.stdin_tx = Some(tx);
            rx
        });
        // Stdin acknowledgements of the previous run not sent yet would count
        // against the new run's stdin, which starts again at 0.
        st.control.retain(|f| {
            !matches!(f, Frame::Ack { session, stream: AckStream::Stdin, .. } if *session == id)
        });
        drop(st);
        self.progress.notify_waiters();
        Ok(early)
    }

    /// Whether a session's exit code and all its output were acknowledged.
    pub(crate) fn session_done(&self, id: u32) -> bool {
        self.lock().sessions.get(&id).is_none_or(Session::done)
    }

    /// Waits until [`Hub::session_done`] may have changed.
    pub(crate) async fn wait_progress(&self, id: u32) {
        let notified = self.progress.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.session_done(id) {
            return;
        }
        notified.await
    }
}
