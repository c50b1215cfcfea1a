//! One task per live agent connection: reads the main session (output and
//! exit code, reported to the [`LinkObserver`] through [`super::capture`])
//! and delivers queued commands (stdin, signals, resize) to it. A second
//! task owns the connection itself ([`AgentLink`]): it reads the health
//! reports and opens the other sessions (exec, `docker cp`) on request.
//! Nothing here knows the runtime: what happens is reported to a
//! [`LinkObserver`] (the runtime implements it), so the dependency runs one
//! way: the runtime uses the link.

use std::sync::Arc;

use sockerless_agent::peer::{
    AgentConnection, ExecConfig, HealthReport, PathStat, PeerError, PeersUpdate, PutOptions,
    Session,
};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::cut::LinkCut;
use super::process::{Command, Output};

/// The consumer of what one container's agent link reports. Each method
/// returns once the report is handled: output is acknowledged to the agent
/// only after [`LinkObserver::output`] returned (stored), and health
/// reports are handled in order.
#[async_trait::async_trait]
pub trait LinkObserver: Send + Sync + 'static {
    /// The container's ID (for logs).
    fn container_id(&self) -> &str;

    /// Signals and resizes queued for the main process.
    fn commands(&self) -> &Mutex<mpsc::Receiver<Command>>;

    /// Stdin chunks and its end, queued apart from the commands so a
    /// process not reading never holds up a signal.
    fn input(&self) -> &Mutex<mpsc::Receiver<Command>>;

    /// A batch of output from the main process (stored, then acknowledged).
    async fn output(&self, batch: Vec<Output>);

    /// A health-check report of the current run.
    async fn health(&self, report: HealthReport);

    /// The main process exited with `code` on `link`. The exit is not yet
    /// acknowledged: `session` is the main session, whose exit the
    /// observer acknowledges (`Session::ack_exit`) once it is recorded.
    async fn exited(self: Arc<Self>, link: Arc<AgentLink>, code: i32, session: Session);

    /// The connection `link` closed before the main process reported an exit.
    fn disconnected(&self, link: &Arc<AgentLink>);
}

type Reply<T> = oneshot::Sender<Result<T, PeerError>>;

enum Request {
    Exec(ExecConfig, Reply<Session>),
    Stat(String, Reply<PathStat>),
    GetArchive(String, Reply<(PathStat, Session)>),
    GetChanges(u64, Reply<Session>),
    Op(sockerless_agent::protocol::Op, Reply<Session>),
    PutArchive(String, PutOptions, Reply<Session>),
    TcpConnect(String, u16, Reply<Session>),
    SetPeers(PeersUpdate),
    UnixListen(Vec<String>),
    RestartMain(Reply<Session>),
    End,
    Resume(u32, Reply<Session>),
}

/// The live connection to a container's agent, shared by the backend.
///
/// Reading health reports needs the connection exclusively
/// (`AgentConnection::next_health` takes `&mut self`), so one task owns it
/// and opens sessions for the others. Opening a session only waits for the
/// agent's first answer (STARTED or PATH_STAT); the session's data then
/// flows on its own, so requests stay short and health reports wait at
/// most that long. The main session is taken before, so its output never
/// goes through here. When the last `AgentLink` is dropped, the task ends
/// and the connection closes.
#[derive(Debug)]
pub struct AgentLink {
    requests: mpsc::Sender<Request>,
    records_changes: bool,
    cut: LinkCut,
}

/// Requests waiting for the connection's task: callers beyond it wait
/// (`ask`) or hand the send to a task (one-way notices), so the queue itself
/// never grows past this.
const REQUEST_QUEUE: usize = 64;

impl AgentLink {
    /// Starts the task owning `conn` (the main session taken out before):
    /// health reports go to `observer`; `cut` fails its transport on request.
    pub fn spawn(
        conn: Arc<AgentConnection>,
        observer: Arc<dyn LinkObserver>,
        cut: LinkCut,
    ) -> Arc<Self> {
        let (requests, rx) = mpsc::channel(REQUEST_QUEUE);
        let records_changes = conn.info().records_changes;
        tokio::spawn(serve(conn, observer, rx));
        Arc::new(Self {
            requests,
            records_changes,
            cut,
        })
    }

    async fn ask<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, PeerError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(request(tx))
            .await
            .map_err(|_| PeerError::Closed)?;
        rx.await.map_err(|_| PeerError::Closed)?
    }

    /// Starts an exec session; returns once the process runs.
    pub async fn exec(&self, config: &ExecConfig) -> Result<Session, PeerError> {
        let config = config.clone();
        self.ask(|tx| Request::Exec(config, tx)).await
    }

    /// Docker's PathStat of a path in the container.
    pub async fn stat(&self, path: &str) -> Result<PathStat, PeerError> {
        let path = path.to_owned();
        self.ask(|tx| Request::Stat(path, tx)).await
    }

    /// The stat of `path` and a session whose stdout is its tar.
    pub async fn get_archive(&self, path: &str) -> Result<(PathStat, Session), PeerError> {
        let path = path.to_owned();
        self.ask(|tx| Request::GetArchive(path, tx)).await
    }

    /// The agent keeps a baseline (its hello said so): changes can be asked for.
    pub fn records_changes(&self) -> bool {
        self.records_changes
    }

    /// A session whose stdout is the container's changes against its image.
    pub async fn get_changes(&self, max_bytes: u64) -> Result<Session, PeerError> {
        self.ask(|tx| Request::GetChanges(max_bytes, tx)).await
    }

    /// A session answering a container operation (top, stats, pause, export).
    pub async fn op(&self, op: sockerless_agent::protocol::Op) -> Result<Session, PeerError> {
        self.ask(|tx| Request::Op(op, tx)).await
    }

    /// A session extracting the tar written to its stdin into directory `path`.
    pub async fn put_archive(&self, path: &str) -> Result<Session, PeerError> {
        self.put_archive_with(path, PutOptions::default()).await
    }

    /// [`AgentLink::put_archive`] that may create or clear `path` first.
    pub async fn put_archive_with(
        &self,
        path: &str,
        options: PutOptions,
    ) -> Result<Session, PeerError> {
        let path = path.to_owned();
        self.ask(|tx| Request::PutArchive(path, options, tx)).await
    }

    /// Opens a TCP connection to `host:port` inside the container (a socket
    /// session: output = bytes from the socket, stdin = bytes to it).
    pub async fn tcp_connect(&self, host: &str, port: u16) -> Result<Session, PeerError> {
        let host = host.to_owned();
        self.ask(|tx| Request::TcpConnect(host, port, tx)).await
    }

    /// Asks the agent to serve Unix sockets at `paths` (the full set); each
    /// connection to one arrives as an inbound Unix socket event.
    pub fn unix_listen(&self, paths: Vec<String>) -> Result<(), PeerError> {
        self.notify(Request::UnixListen(paths))
    }

    /// Reruns the exited main process in the lingering agent; the new run's
    /// main session once it started.
    pub async fn restart_main(&self) -> Result<Session, PeerError> {
        self.ask(Request::RestartMain).await
    }

    /// Tells a lingering agent to exit (its execution ends).
    pub fn end(&self) -> Result<(), PeerError> {
        self.notify(Request::End)
    }

    /// Re-opens session `id` (an exec started on an earlier connection of
    /// this run): output after what was delivered, stdin after what the
    /// agent received. Fails when the agent no longer has it.
    pub async fn resume_session(&self, id: u32) -> Result<Session, PeerError> {
        self.ask(|tx| Request::Resume(id, tx)).await
    }

    /// Fails the connection as the network would; the agent dials again
    /// (see [`crate::AcaBackend::drop_agent_link`]).
    pub fn cut(&self) {
        self.cut.cut();
    }

    /// Queues a one-way notice; when the queue is full, a task waits for
    /// room so the caller (a sync path) never blocks.
    fn notify(&self, request: Request) -> Result<(), PeerError> {
        match self.requests.try_send(request) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(PeerError::Closed),
            Err(mpsc::error::TrySendError::Full(request)) => {
                let requests = self.requests.clone();
                tokio::spawn(async move {
                    let _ = requests.send(request).await;
                });
                Ok(())
            }
        }
    }

    /// Sends the relay state (peers' names, addresses and ports) to the agent.
    pub fn set_peers(&self, peers: PeersUpdate) -> Result<(), PeerError> {
        self.notify(Request::SetPeers(peers))
    }
}

/// Owns the connection: health reports go to the observer, requests are
/// answered one at a time.
async fn serve(
    mut conn: Arc<AgentConnection>,
    observer: Arc<dyn LinkObserver>,
    mut requests: mpsc::Receiver<Request>,
) {
    let container = observer.container_id().to_owned();
    let mut health_open = true;
    loop {
        let request = match Arc::get_mut(&mut conn) {
            Some(owned) if health_open => tokio::select! {
                report = owned.next_health() => {
                    match report {
                        Some(report) => observer.health(report).await,
                        None => health_open = false,
                    }
                    continue;
                }
                request = requests.recv() => request,
            },
            _ => requests.recv().await,
        };
        let Some(request) = request else { return };
        // A caller that gave up drops its receiver; the answer is then dropped too.
        match request {
            Request::Exec(config, tx) => {
                let _ = tx.send(conn.exec(&config).await);
            }
            Request::Stat(path, tx) => {
                let _ = tx.send(conn.stat(&path).await);
            }
            Request::GetArchive(path, tx) => {
                let _ = tx.send(conn.get_archive(&path).await);
            }
            Request::GetChanges(max, tx) => {
                let _ = tx.send(conn.get_changes(max).await);
            }
            Request::Op(op, tx) => {
                let _ = tx.send(conn.op(op).await);
            }
            Request::PutArchive(path, options, tx) => {
                let _ = tx.send(conn.put_archive_with(&path, options).await);
            }
            Request::TcpConnect(host, port, tx) => {
                // Connects run concurrently: one slow peer must not hold up the others.
                let conn = conn.clone();
                tokio::spawn(async move {
                    let _ = tx.send(conn.tcp_connect(&host, port).await);
                });
            }
            Request::SetPeers(peers) => {
                if let Err(e) = conn.set_peers(&peers) {
                    tracing::info!(container = %container, error = %e, "peers not delivered to the agent");
                }
            }
            Request::RestartMain(tx) => {
                let _ = tx.send(conn.restart_main().await);
            }
            Request::End => {
                if let Err(e) = conn.end() {
                    tracing::info!(container = %container, error = %e, "end not delivered to the agent");
                }
            }
            Request::Resume(id, tx) => {
                let _ = tx.send(conn.resume_session(id));
            }
            Request::UnixListen(paths) => {
                if let Err(e) = conn.unix_listen(&paths) {
                    tracing::info!(container = %container, error = %e, "unix listen not delivered to the agent");
                }
            }
        }
    }
}

/// Pumps the main session `main` of the connection behind `link` until
/// the process exits or the connection closes, then reports which to
/// `observer`. Output and the exit are acknowledged later: output once
/// stored (the agent keeps what a crash of this process could lose), the
/// exit by the observer once recorded.
pub async fn run(
    observer: Arc<dyn LinkObserver>,
    link: Arc<AgentLink>,
    main: Result<Session, PeerError>,
) {
    let mut session = match main {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(container = %observer.container_id(), error = %e, "agent connection has no main session");
            observer.disconnected(&link);
            return;
        }
    };
    session.defer_exit_ack();
    session.defer_output_ack();
    match pump(observer.as_ref(), &mut session).await {
        Some(code) => observer.exited(link, code, session).await,
        None => observer.disconnected(&link),
    }
}

/// Runs until the exit code (`Some`) or the connection closes (`None`).
/// Output is read while stdin is written: a write waiting for the agent's
/// stdin credit never holds up output, signals or resizes.
async fn pump(observer: &dyn LinkObserver, session: &mut Session) -> Option<i32> {
    let id = observer.container_id();
    let input = session.input();
    let mut commands = observer.commands().lock().await;
    let mut stdin_rx = observer.input().lock().await;
    let dispatch = async {
        while let Some(command) = commands.recv().await {
            let sent = match command {
                Command::Signal(n) => input.signal(n),
                Command::Resize(rows, cols) => input.resize(rows, cols),
                // Queued apart ([`LinkObserver::input`]); never here.
                Command::Stdin(_) | Command::CloseStdin => Ok(()),
            };
            if let Err(e) = sent {
                tracing::info!(container = %id, error = %e, "command not delivered to the agent");
            }
        }
        std::future::pending::<()>().await
    };
    let stdin_writer = async {
        while let Some(item) = stdin_rx.recv().await {
            let written = match item {
                Command::Stdin(data) => input.write(&data).await,
                Command::CloseStdin => input.close(),
                Command::Signal(_) | Command::Resize(..) => Ok(()),
            };
            if let Err(e) = written {
                tracing::info!(container = %id, error = %e, "stdin not delivered to the agent");
            }
        }
        std::future::pending::<()>().await
    };
    let read = super::capture::read_main(id, session, |batch| observer.output(batch));
    tokio::select! {
        code = read => code,
        () = dispatch => None,
        () = stdin_writer => None,
    }
}
