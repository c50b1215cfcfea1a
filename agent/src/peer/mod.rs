//! The backend side of the agent protocol.
//!
//! ```no_run
//! use sockerless_agent::peer::{self, PeerError, ResumeState, SessionEvent};
//! use sockerless_agent::transport::FrameTransport;
//!
//! // Reverse mode, inside the backend's WebSocket handler (the token was
//! // already checked on the upgrade request with `transport::verify_bearer`).
//! // `resume` is kept per container across reconnects.
//! async fn serve_agent(io: impl FrameTransport, token: &str, resume: ResumeState)
//!     -> Result<i32, PeerError> {
//!     let conn = peer::accept(io, token, resume).await?;
//!     let mut main = conn.main_session()?;
//!     while let Some(ev) = main.recv().await { // acknowledges as it returns
//!         match ev {
//!             SessionEvent::Output { stream, offset, data } => { /* log store, attach */ }
//!             SessionEvent::Exit(code) => return Ok(code),
//!             SessionEvent::Error(message) => { /* record */ }
//!         }
//!     }
//!     Err(conn.closed().unwrap_or(PeerError::Closed))
//! }
//! ```
//! Output is acknowledged when [`Session::recv`] hands it over, so a consumer
//! that reads slowly slows the container's process instead of growing memory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::net::{self, DialOptions};
use crate::protocol::{
    AGENT_SESSION_BASE, AckStream, Frame, Hello, MAIN_SESSION, PROTOCOL_VERSION,
};
pub use crate::protocol::{
    ExecConfig, HealthReport, Listening, NetDev, Op, OutputStream, PathStat, PeerHost, PeersUpdate,
    PutOptions, ResumeEntry, SessionInfo, StatsSample, TopAnswer,
};
use crate::transport::{FrameTransport, token_matches};

mod changes;
mod events;
mod ops;
mod outliving;
mod restart;
mod routes;
mod session;
mod stdin;

pub use ops::read_answer;

/// How long either side waits for the other's hello.
const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub use events::AgentEvent;
pub(crate) use routes::{Inner, Routed, Routes, SocketRoute};
pub use routes::{MAX_PEER_WINDOW, MAX_PENDING_SESSIONS};
pub use session::{Session, SessionEvent};
pub use stdin::SessionInput;

/// Errors seen by the backend side.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PeerError {
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(String),
    /// The other side broke the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Authentication failed (no detail is given to the other side).
    #[error("authentication failed")]
    Auth,
    /// The connection is closed.
    #[error("connection closed")]
    Closed,
    /// The agent refused or failed the request.
    #[error("{0}")]
    Agent(String),
}

/// What the agent said about itself in its hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    /// Protocol version.
    pub version: u32,
    /// Container id, when the agent knows it.
    pub container_id: Option<String>,
    /// Per-stream output window in bytes.
    pub window: u64,
    /// Per-session stdin window in bytes.
    pub stdin_window: u64,
    /// Main process has a TTY.
    pub tty: bool,
    /// Main process keeps stdin open.
    pub open_stdin: bool,
    /// Live sessions.
    pub sessions: Vec<SessionInfo>,
    /// The agent answers CHANGES_GET.
    pub records_changes: bool,
    /// The agent answers the container operations (TOP … EXPORT).
    pub ops: bool,
    /// The agent holds the container paused.
    pub paused: bool,
}

/// Output positions the backend has consumed, per session, and the stdin
/// of the sessions that outlive a connection (the main process, execs).
/// Keep one per container across connections and pass it to
/// [`accept`]/[`connect`]: the agent resumes from it, so nothing is lost or
/// repeated.
#[derive(Debug, Clone, Default)]
pub struct ResumeState(
    Arc<Mutex<BTreeMap<u32, (u64, u64)>>>,
    Arc<Mutex<outliving::Outliving>>,
);

impl ResumeState {
    /// An empty state (a first connection).
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u32, (u64, u64)>> {
        match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A state holding what an earlier process of the peer stored: session
    /// `session` consumed `stdout` and `stderr` bytes (a backend restarted
    /// after a crash resumes from what it committed, not from zero).
    pub fn starting_at(session: u32, stdout: u64, stderr: u64) -> Self {
        let state = Self::default();
        state.lock().insert(session, (stdout, stderr));
        state
    }

    /// Consumed (stdout, stderr) bytes of a session.
    pub fn position(&self, session: u32) -> (u64, u64) {
        self.lock().get(&session).copied().unwrap_or((0, 0))
    }

    /// All positions, as sent in the peer's hello.
    pub fn entries(&self) -> Vec<ResumeEntry> {
        self.lock()
            .iter()
            .map(|(s, (o, e))| ResumeEntry {
                session: *s,
                stdout: *o,
                stderr: *e,
            })
            .collect()
    }

    pub(crate) fn advance(&self, session: u32, stream: OutputStream, to: u64) {
        let mut m = self.lock();
        let e = m.entry(session).or_default();
        match stream {
            OutputStream::Stdout => e.0 = e.0.max(to),
            OutputStream::Stderr => e.1 = e.1.max(to),
        }
    }
}

/// One authenticated connection to an agent. Dropping it closes the
/// connection after sending what was already queued (acknowledgements
/// included); its sessions see it closed.
pub struct AgentConnection {
    inner: Arc<Inner>,
    health: mpsc::UnboundedReceiver<HealthReport>,
    events: Mutex<Option<mpsc::Receiver<AgentEvent>>>,
    reader: JoinHandle<()>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for AgentConnection {
    fn drop(&mut self) {
        self.reader.abort();
        // The reader would have closed the routes; without this, sessions
        // still held (an exec waiting to resume) would wait forever.
        self.inner.close(PeerError::Closed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Resolves once the kill flag is set (or its sender is gone).
async fn killed(kill: &mut watch::Receiver<bool>) {
    loop {
        if *kill.borrow_and_update() {
            return;
        }
        if kill.changed().await.is_err() {
            return;
        }
    }
}

/// Accepts an agent's reverse connection: reads its hello, checks the token
/// in constant time (closing without detail on mismatch), then answers with
/// the resume positions.
pub async fn accept<T: FrameTransport>(
    io: T,
    expected_token: &str,
    resume: ResumeState,
) -> Result<AgentConnection, PeerError> {
    let (mut sink, mut stream) = io.split();
    let hello = recv_hello(&mut stream).await?;
    if !token_matches(hello.token.as_deref().unwrap_or(""), expected_token) {
        let _ = sink.close().await;
        return Err(PeerError::Auth);
    }
    let mine = Hello {
        version: PROTOCOL_VERSION,
        resume: resume.entries(),
        ..Default::default()
    };
    sink.send(Frame::Hello(mine).encode())
        .await
        .map_err(|e| PeerError::Transport(e.to_string()))?;
    start(sink, stream, hello, resume)
}

/// Dials an agent in forward mode (`ws://host:9111`) and authenticates.
pub async fn connect(
    url: &str,
    token: &str,
    resume: ResumeState,
) -> Result<AgentConnection, PeerError> {
    let opts = DialOptions {
        token: token.to_string(),
        ..Default::default()
    };
    let io = net::dial(url, &opts)
        .await
        .map_err(|e| PeerError::Transport(e.to_string()))?;
    connect_over(io, token, resume).await
}

/// Runs the forward-mode handshake over an already open transport.
pub async fn connect_over<T: FrameTransport>(
    io: T,
    token: &str,
    resume: ResumeState,
) -> Result<AgentConnection, PeerError> {
    let (mut sink, mut stream) = io.split();
    let mine = Hello {
        version: PROTOCOL_VERSION,
        token: Some(token.to_string()),
        resume: resume.entries(),
        ..Default::default()
    };
    sink.send(Frame::Hello(mine).encode())
        .await
        .map_err(|e| PeerError::Transport(e.to_string()))?;
    let hello = recv_hello(&mut stream).await.map_err(|e| {
        if e == PeerError::Closed {
            PeerError::Auth
        } else {
            e
        }
    })?;
    start(sink, stream, hello, resume)
}

async fn recv_hello<S>(stream: &mut S) -> Result<Hello, PeerError>
where
    S: futures_util::Stream<Item = Result<Bytes, crate::transport::TransportError>> + Unpin,
{
    let msg = tokio::time::timeout(HELLO_TIMEOUT, stream.next())
        .await
        .map_err(|_| PeerError::Protocol("no hello within 30 s".into()))?
        .ok_or(PeerError::Closed)?
        .map_err(|e| PeerError::Transport(e.to_string()))?;
    match Frame::decode(&msg) {
        Ok(Frame::Hello(h)) if h.version == PROTOCOL_VERSION => Ok(h),
        Ok(Frame::Hello(h)) => Err(PeerError::Protocol(format!(
            "unsupported protocol version {}",
            h.version
        ))),
        Ok(_) => Err(PeerError::Protocol("first frame is not a hello".into())),
        Err(e) => Err(PeerError::Protocol(e.to_string())),
    }
}

fn start<Si, St>(
    mut sink: Si,
    mut stream: St,
    hello: Hello,
    resume: ResumeState,
) -> Result<AgentConnection, PeerError>
where
    Si: futures_util::Sink<Bytes, Error = crate::transport::TransportError>
        + Unpin
        + Send
        + 'static,
    St: futures_util::Stream<Item = Result<Bytes, crate::transport::TransportError>>
        + Unpin
        + Send
        + 'static,
{
    let info = AgentInfo {
        version: hello.version,
        container_id: hello.container_id,
        window: hello.window,
        stdin_window: hello.stdin_window.max(1),
        tty: hello.tty,
        open_stdin: hello.open_stdin,
        records_changes: hello.records_changes,
        ops: hello.ops,
        paused: hello.paused,
        sessions: hello.sessions,
    };
    let first_free = info
        .sessions
        .iter()
        .filter(|s| s.session < AGENT_SESSION_BASE)
        .map(|s| s.session + 1)
        .max()
        .unwrap_or(1)
        .max(1);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Frame>();
    let window = info.window.clamp(1, MAX_PEER_WINDOW);
    let inner = Arc::new(Inner {
        out: out_tx,
        routes: Mutex::new(Routes::default()),
        resume,
        next_id: AtomicU32::new(first_free),
        info,
        // Two output streams, each up to a window plus a frame past its edge.
        budget: 2 * (window + crate::protocol::MAX_FRAME_LEN as u64),
        kill: watch::channel(false).0,
    });
    outliving::drop_finished(&inner);
    let (health_tx, health) = mpsc::unbounded_channel();
    let (events_tx, events) = mpsc::channel(events::EVENTS_CAPACITY);
    let listening_tx = events::spawn_listening_forwarder(events_tx.clone());
    let writer_inner = inner.clone();
    let mut writer_kill = inner.kill.subscribe();
    let mut reader_kill = inner.kill.subscribe();
    let (shutdown_tx, mut shutdown_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                f = out_rx.recv() => f,
                () = killed(&mut writer_kill) => None,
                _ = &mut shutdown_rx => {
                    // Flush what is queued (e.g. the exit acknowledgement), then close.
                    out_rx.close();
                    while let Some(f) = out_rx.recv().await {
                        if sink.feed(f.encode()).await.is_err() {
                            break;
                        }
                    }
                    None
                }
            };
            let Some(frame) = frame else { break };
            if let Err(e) = sink.send(frame.encode()).await {
                writer_inner.close(PeerError::Transport(e.to_string()));
                return;
            }
        }
        let _ = sink.close().await;
    });
    let reader_inner = inner.clone();
    let reader = tokio::spawn(async move {
        let inner = reader_inner;
        let why = loop {
            let next = tokio::select! {
                next = stream.next() => next,
                () = killed(&mut reader_kill) => None,
            };
            let msg = match next {
                None => break inner.routes().closed.clone().unwrap_or(PeerError::Closed),
                Some(Err(e)) => break PeerError::Transport(e.to_string()),
                Some(Ok(m)) => m,
            };
            let frame = match Frame::decode(&msg) {
                Ok(f) => f,
                Err(e) => break PeerError::Protocol(e.to_string()),
            };
            if let Some(why) = inner.routes().closed.clone() {
                break why;
            }
            match frame {
                Frame::Output {
                    session,
                    stream,
                    offset,
                    data,
                } => inner.route(
                    session,
                    Routed::Event(SessionEvent::Output {
                        stream,
                        offset,
                        data,
                    }),
                ),
                Frame::Exit { session, code } => {
                    inner.route(session, Routed::Event(SessionEvent::Exit(code)))
                }
                Frame::Error { session, message } => {
                    inner.route(session, Routed::Event(SessionEvent::Error(message)))
                }
                Frame::Started { session, pid } => inner.route(session, Routed::Started(pid)),
                Frame::PathStat { session, stat } => inner.route(session, Routed::Stat(stat)),
                Frame::Ack {
                    session,
                    stream: AckStream::Stdin,
                    offset,
                } => {
                    if let Some(stdin) = inner.routes().stdin.get(&session) {
                        stdin.ack(offset);
                    }
                }
                Frame::Health(h) => {
                    let _ = health_tx.send(h);
                }
                Frame::TcpAccepted { session, on } => {
                    events::inbound(&inner, &events_tx, session, events::Accepted::Tcp(on))
                }
                Frame::UnixAccepted { session, path } => {
                    events::inbound(&inner, &events_tx, session, events::Accepted::Unix(path))
                }
                Frame::Listening(l) => {
                    listening_tx.send_replace(Some(l));
                }
                _ => {} // frames meant for the agent are ignored
            }
        };
        inner.close(why);
        // Nothing more goes out on a dead link: the writer closes the
        // transport, so the agent notices and dials again.
        inner.kill.send_replace(true);
    });
    Ok(AgentConnection {
        inner,
        health,
        events: Mutex::new(Some(events)),
        reader,
        shutdown: Some(shutdown_tx),
    })
}

impl AgentConnection {
    /// What the agent announced.
    pub fn info(&self) -> &AgentInfo {
        &self.inner.info
    }

    /// The resume state this connection advances (share it with the next one).
    pub fn resume_state(&self) -> ResumeState {
        self.inner.resume.clone()
    }

    /// Why the connection closed, or `None` while it is open.
    pub fn closed(&self) -> Option<PeerError> {
        self.inner.routes().closed.clone()
    }

    /// The main process's session (session 0); can be taken once per connection.
    pub fn main_session(&self) -> Result<Session, PeerError> {
        self.session(MAIN_SESSION)
    }

    /// A handle on an existing session (e.g. an exec that survived a reconnect).
    pub fn session(&self, id: u32) -> Result<Session, PeerError> {
        Session::open(&self.inner, id)
    }

    fn new_session(&self) -> Result<Session, PeerError> {
        self.new_session_with(false)
    }

    /// A session with a fresh id; `outlives`: its stdin is kept for the
    /// next connection ([`AgentConnection::resume_session`]).
    fn new_session_with(&self, outlives: bool) -> Result<Session, PeerError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if id >= AGENT_SESSION_BASE {
            return Err(PeerError::Protocol("session ids exhausted".into()));
        }
        // The id may have served a session of an earlier connection: this
        // one starts from nothing.
        self.inner.resume.forget(id);
        if outlives {
            self.inner.resume.keep_stdin(id);
        }
        self.session(id)
    }

    /// Starts an exec session; returns once the process runs. The session
    /// outlives the connection: see [`AgentConnection::resume_session`].
    pub async fn exec(&self, config: &ExecConfig) -> Result<Session, PeerError> {
        let mut s = self.new_session_with(true)?;
        self.inner.send(Frame::ExecStart {
            session: s.id,
            config: config.clone(),
        })?;
        if let Err(e) = s.await_started().await {
            s.detach();
            return Err(e);
        }
        Ok(s)
    }

    /// Docker's PathStat of a path in the container.
    pub async fn stat(&self, path: &str) -> Result<PathStat, PeerError> {
        let mut s = self.new_session()?;
        self.inner.send(Frame::ArchiveStat {
            session: s.id,
            path: path.to_string(),
        })?;
        let stat = s.await_stat().await;
        s.detach();
        stat
    }

    /// Starts reading `path` as a tar stream: the stat, then a session whose
    /// stdout carries the tar and which exits with 0 when it is complete.
    pub async fn get_archive(&self, path: &str) -> Result<(PathStat, Session), PeerError> {
        let mut s = self.new_session()?;
        self.inner.send(Frame::ArchiveGet {
            session: s.id,
            path: path.to_string(),
        })?;
        let stat = s.await_stat().await?;
        Ok((stat, s))
    }

    /// Starts extracting a tar stream into the existing directory `path`:
    /// write the tar with [`Session::write_stdin`], then [`Session::close_stdin`]
    /// and [`Session::finish`]. Entries escaping `path` fail the whole operation.
    pub async fn put_archive(&self, path: &str) -> Result<Session, PeerError> {
        self.put_archive_with(path, PutOptions::default()).await
    }

    /// [`AgentConnection::put_archive`] that may first create the directory
    /// (with its parents) or clear its content (see [`PutOptions`]).
    pub async fn put_archive_with(
        &self,
        path: &str,
        options: PutOptions,
    ) -> Result<Session, PeerError> {
        let mut s = self.new_session()?;
        self.inner.send(Frame::ArchivePut {
            session: s.id,
            path: path.to_string(),
            options,
        })?;
        s.await_started().await?;
        Ok(s)
    }

    /// The next health-check result; `None` once the connection closed.
    pub async fn next_health(&mut self) -> Option<HealthReport> {
        self.health.recv().await
    }
}
