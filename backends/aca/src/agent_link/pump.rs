//! One task per live agent connection: reads the main session (output into
//! the log store and to live subscribers through [`super::capture`], then
//! the exit code) and delivers
//! queued commands (stdin, signals, resize) to it. A second task owns the
//! connection itself ([`AgentLink`]): it reads the health reports and opens
//! the other sessions (exec, `docker cp`) on request.

use std::sync::Arc;

use sockerless_agent::peer::{
    AgentConnection, ExecConfig, PathStat, PeerError, PeersUpdate, PutOptions, Session,
};
use sockerless_azure::pipeline::count_arm_calls;
use tokio::sync::{mpsc, oneshot};

use super::cut::LinkCut;
use crate::AcaBackend;
use crate::runtime::lifecycle;
use crate::runtime::state::{Command, ContainerRuntime};

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
    fn spawn(
        conn: Arc<AgentConnection>,
        rt: Arc<ContainerRuntime>,
        store: crate::store::Store,
        cut: LinkCut,
        events: crate::events::EventHub,
    ) -> Arc<Self> {
        let (requests, rx) = mpsc::channel(REQUEST_QUEUE);
        let records_changes = conn.info().records_changes;
        tokio::spawn(serve(conn, rt, store, rx, events));
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

/// Owns the connection: health reports go to the runtime, requests are
/// answered one at a time.
async fn serve(
    mut conn: Arc<AgentConnection>,
    rt: Arc<ContainerRuntime>,
    store: crate::store::Store,
    mut requests: mpsc::Receiver<Request>,
    events: crate::events::EventHub,
) {
    let mut health_open = true;
    loop {
        let request = match Arc::get_mut(&mut conn) {
            Some(owned) if health_open => tokio::select! {
                report = owned.next_health() => {
                    match report {
                        Some(report) => {
                            let before = rt.health().map(|h| h.status);
                            rt.record_health(report);
                            store_health(&store, &rt).await;
                            crate::events::actors::health_changed(&events, &rt.id, before, rt.health().map(|h| h.status)).await;
                        }
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
                    tracing::info!(container = %rt.id, error = %e, "peers not delivered to the agent");
                }
            }
            Request::RestartMain(tx) => {
                let _ = tx.send(conn.restart_main().await);
            }
            Request::End => {
                if let Err(e) = conn.end() {
                    tracing::info!(container = %rt.id, error = %e, "end not delivered to the agent");
                }
            }
            Request::Resume(id, tx) => {
                let _ = tx.send(conn.resume_session(id));
            }
            Request::UnixListen(paths) => {
                if let Err(e) = conn.unix_listen(&paths) {
                    tracing::info!(container = %rt.id, error = %e, "unix listen not delivered to the agent");
                }
            }
        }
    }
}

/// Keeps the run's health in the store (awaited here, so reports are
/// stored in order): `docker inspect` shows it across a backend restart.
async fn store_health(store: &crate::store::Store, rt: &ContainerRuntime) {
    let Some(health) = rt.health() else { return };
    let (id, state) = (rt.id.clone(), health.to_stored());
    if let Err(e) = store
        .call(move |c| crate::store::records::save_health(c, &id, &state))
        .await
    {
        tracing::warn!(container = %rt.id, error = %e, "cannot store the health report");
    }
}

/// Makes `conn` the container's live connection and starts its pump;
/// `cut` fails its transport on request.
pub fn attach_connection(
    backend: AcaBackend,
    rt: Arc<ContainerRuntime>,
    conn: Arc<AgentConnection>,
    cut: LinkCut,
) {
    let main = conn.main_session();
    crate::ops::pause::on_connect(&rt, conn.info().paused);
    if let Some(events) = conn.take_events() {
        crate::relay::serve_events(backend.clone(), rt.id.clone(), events);
    }
    if Arc::strong_count(&conn) > 1 {
        tracing::warn!(container = %rt.id, "agent connection is shared: health reports are not read");
    }
    let link = AgentLink::spawn(
        conn,
        rt.clone(),
        backend.store().clone(),
        cut,
        backend.event_hub().clone(),
    );
    let relay_backend = backend.clone();
    let task = tokio::spawn(count_arm_calls(
        rt.arm.clone(),
        run(backend, rt.clone(), link.clone(), main),
    ));
    rt.set_agent(link.clone(), task);
    tokio::spawn(async move {
        if !rt.prepared.load(std::sync::atomic::Ordering::SeqCst) {
            if let Err(e) = crate::containers::prepare::run(
                &relay_backend,
                &rt,
                &link,
                crate::containers::prepare::Replica::Fresh,
            )
            .await
            {
                tracing::warn!(container = %rt.id, error = %e, "preparing the container failed");
            }
            rt.prepared.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        crate::relay::connected(&relay_backend, &rt.id);
    });
}

/// Pumps the main session of a run restarted in the lingering agent behind
/// `link` (the connection stays; only the main session is new).
pub fn resume(backend: AcaBackend, rt: Arc<ContainerRuntime>, link: Arc<AgentLink>, main: Session) {
    let task = tokio::spawn(count_arm_calls(
        rt.arm.clone(),
        run(backend, rt.clone(), link.clone(), Ok(main)),
    ));
    // Aborts the previous run's pump, which only waited out the linger time.
    rt.set_agent(link, task);
}

async fn run(
    backend: AcaBackend,
    rt: Arc<ContainerRuntime>,
    link: Arc<AgentLink>,
    main: Result<Session, PeerError>,
) {
    let mut session = match main {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(container = %rt.id, error = %e, "agent connection has no main session");
            disconnected(&backend, &rt, &link);
            return;
        }
    };
    // The exit is acknowledged once the binds are synced back: until then
    // the agent keeps the replica (and its files) alive.
    session.defer_exit_ack();
    // Output is acknowledged once stored: the agent keeps what a crash of
    // this process could lose, and a restart resumes from the stored offsets.
    session.defer_output_ack();
    match pump(&backend, &rt, &mut session).await {
        Some(code) => {
            let synced = crate::binds::has_rw(&rt);
            let mut failures = Vec::new();
            if synced {
                // Reset even when this task is aborted (a newer connection).
                struct Syncing<'a>(&'a ContainerRuntime);
                impl Drop for Syncing<'_> {
                    fn drop(&mut self) {
                        self.0.syncing.send_replace(false);
                    }
                }
                rt.syncing.send_replace(true);
                let _syncing = Syncing(&rt);
                failures = crate::binds::sync_back(&backend, &rt, &link).await;
            }
            // Before the acknowledgement: the replica's files are still there.
            failures.extend(crate::changes::record(&backend, &rt, &link).await);
            if synced && session.is_closed() {
                // The agent resends the exit on its next connection, whose
                // pump syncs again.
                tracing::info!(container = %rt.id, "connection lost while syncing binds back");
                disconnected(&backend, &rt, &link);
                return;
            }
            crate::binds::report(&backend, &rt, &failures).await;
            // Offered before the exit is recorded: a `docker start` right
            // after the exit (`docker restart`) finds the execution.
            let offered = crate::runtime::restart::offer(&backend, &rt, &link).await;
            // Acknowledged once stored (a crash in between: the agent resends
            // it to the restarted backend), before waiters wake (a restart
            // needs the exit acknowledged), and the session's handle closed
            // with it (a restart opens session 0 anew on this connection).
            lifecycle::record_exit_then(&backend, &rt, i64::from(code), move || {
                let _ = session.ack_exit();
                drop(session);
            })
            .await;
            if offered {
                crate::runtime::restart::linger(&backend, &rt, link).await;
            }
        }
        None => disconnected(&backend, &rt, &link),
    }
}

fn disconnected(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, link: &Arc<AgentLink>) {
    if rt.clear_agent(link) {
        tracing::info!(container = %rt.id, "agent disconnected before reporting an exit");
        crate::runtime::poller::watch_disconnected(backend.clone(), rt.clone());
    }
}

/// Runs until the exit code (`Some`) or the connection closes (`None`).
/// Output is read while stdin is written: a write waiting for the agent's
/// stdin credit never holds up output, signals or resizes.
async fn pump(backend: &AcaBackend, rt: &ContainerRuntime, session: &mut Session) -> Option<i32> {
    let input = session.input();
    let mut commands = rt.commands_rx.lock().await;
    let mut stdin_rx = rt.input_rx.lock().await;
    let dispatch = async {
        while let Some(command) = commands.recv().await {
            let sent = match command {
                Command::Signal(n) => input.signal(n),
                Command::Resize(rows, cols) => input.resize(rows, cols),
                // Queued apart (`input_rx`); never here.
                Command::Stdin(_) | Command::CloseStdin => Ok(()),
            };
            if let Err(e) = sent {
                tracing::info!(container = %rt.id, error = %e, "command not delivered to the agent");
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
                tracing::info!(container = %rt.id, error = %e, "stdin not delivered to the agent");
            }
        }
        std::future::pending::<()>().await
    };
    let read = super::capture::read_main(backend, rt, session);
    tokio::select! {
        code = read => code,
        () = dispatch => None,
        () = stdin_writer => None,
    }
}
