//! In-memory state of containers: the live agent connection, watchers of the
//! Docker state (for `wait`), live output subscribers (attach, `logs -f`),
//! the queue of commands for the main process, and ARM call counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use sockerless_agent::peer::{HealthReport, PeerError, ResumeState, Session};
use sockerless_api::StreamKind;
use sockerless_azure::pipeline::ArmCallCounter;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use crate::agent_link::process::Command;
use crate::agent_link::pump::{AgentLink, LinkObserver};
use crate::containers::health::HealthState;
use crate::store::ContainerRecord;
use sockerless_azure::pipeline::count_arm_calls;

/// What `wait` watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The main process runs.
    pub running: bool,
    /// Last exit code.
    pub exit_code: Option<i64>,
    /// Exits seen by this process (for `next-exit`).
    pub exits: u64,
    /// The container was removed.
    pub removed: bool,
}

/// A chunk of live output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChunk {
    /// Sequence number of the chunk's last stored line.
    pub seq: i64,
    /// Which stream.
    pub stream: StreamKind,
    /// When it was received, nanoseconds since the epoch.
    pub time_nanos: i64,
    /// The bytes.
    pub data: Bytes,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The execution of an exited container, kept by its lingering agent
/// (`linger_secs`): `docker start` reruns the process in it.
pub struct Lingering {
    /// The agent's connection, still open.
    pub link: Arc<AgentLink>,
    /// What the connection reports to (a restarted run's pump reports there too).
    pub observer: Arc<dyn LinkObserver>,
    /// The hash of the run's agent token, accepted again once restarted
    /// (the agent may then reconnect as during its first run).
    pub token_hash: String,
}

/// One container's runtime state.
pub struct ContainerRuntime {
    /// Container ID.
    pub id: String,
    /// The Docker state as `wait` sees it.
    pub state: watch::Sender<Snapshot>,
    /// Incremented at each authenticated agent connection.
    pub connections: watch::Sender<u64>,
    /// Serialises start/stop/remove of this container.
    pub op_lock: tokio::sync::Mutex<()>,
    /// ARM calls made for this container.
    pub arm: Arc<ArmCallCounter>,
    /// Published ports, open while the container runs.
    pub ports: crate::ports::slot::PortsSlot,
    /// The current run was prepared (binds, files, sockets put into the
    /// container); until then its agent gets no peers, so its process waits.
    pub prepared: std::sync::atomic::AtomicBool,
    /// The user stopped, killed or removed it since its last start: its
    /// restart policy does not start it again.
    pub stop_requested: std::sync::atomic::AtomicBool,
    /// Its restart policy is starting it again (the delay, then the start):
    /// shown as `restarting`, as dockerd does, not as `exited`.
    pub restarting: std::sync::atomic::AtomicBool,
    /// Its restart policy's backoff and whether the start under way is the policy's.
    pub restart_backoff: Mutex<super::restart_policy::Backoff>,
    /// `docker pause`: the exit count of the run it paused (`u64::MAX`:
    /// not paused).
    pub paused_run: AtomicU64,
    /// Binds copied into the current run (synced back at its exit).
    pub binds: Mutex<Vec<crate::binds::spec::Bind>>,
    /// True while the exited process's binds are synced back (stop waits).
    pub syncing: watch::Sender<bool>,
    commands_tx: mpsc::Sender<Command>,
    /// Signals and resizes for the main process, taken by the connection's pump.
    pub commands_rx: tokio::sync::Mutex<mpsc::Receiver<Command>>,
    input_tx: mpsc::Sender<Command>,
    /// Stdin chunks and its end, in order, taken by the pump's stdin writer:
    /// apart from the commands so a process not reading never holds up a
    /// signal.
    pub input_rx: tokio::sync::Mutex<mpsc::Receiver<Command>>,
    agent: Mutex<Option<Arc<AgentLink>>>,
    lingering: Mutex<Option<Lingering>>,
    /// When the current execution was started (by this daemon).
    execution_started: Mutex<Option<std::time::Instant>>,
    health: Mutex<Option<HealthState>>,
    resume: Mutex<ResumeState>,
    token_hash: Mutex<Option<String>>,
    subscribers: Mutex<Vec<Subscriber>>,
    pump: Mutex<Option<JoinHandle<()>>>,
    watchdog: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for ContainerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerRuntime")
            .field("id", &self.id)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl ContainerRuntime {
    fn new(record: &ContainerRecord) -> Self {
        let (commands_tx, commands_rx) = mpsc::channel(COMMANDS_CAPACITY);
        let (input_tx, input_rx) = mpsc::channel(INPUT_CAPACITY);
        let running = record.state == "running";
        Self {
            id: record.id.clone(),
            state: watch::Sender::new(Snapshot {
                running,
                exit_code: record.exit_code,
                exits: 0,
                removed: false,
            }),
            connections: watch::Sender::new(0),
            op_lock: tokio::sync::Mutex::new(()),
            // Going on from what the store kept (a restarted backend).
            arm: Arc::new(ArmCallCounter::starting_at(
                super::StoredConfig::of(record)
                    .map(|c| c.arm_calls())
                    .unwrap_or_default(),
            )),
            ports: Default::default(),
            // A run found running (the daemon restarted) was prepared by
            // the previous daemon: its agent's reconnection must not copy
            // the binds in again; they are synced back at its exit.
            prepared: std::sync::atomic::AtomicBool::new(running),
            stop_requested: std::sync::atomic::AtomicBool::new(false),
            restarting: std::sync::atomic::AtomicBool::new(false),
            restart_backoff: Mutex::new(Default::default()),
            paused_run: AtomicU64::new(u64::MAX),
            binds: Mutex::new(if running {
                crate::binds::spec::of_running(record)
            } else {
                Vec::new()
            }),
            syncing: watch::Sender::new(false),
            commands_tx,
            commands_rx: tokio::sync::Mutex::new(commands_rx),
            input_tx,
            input_rx: tokio::sync::Mutex::new(input_rx),
            agent: Mutex::new(None),
            lingering: Mutex::new(None),
            execution_started: Mutex::new(None),
            health: Mutex::new(None),
            resume: Mutex::new(ResumeState::new()),
            token_hash: Mutex::new(record.agent_token_hash.clone().filter(|_| running)),
            subscribers: Mutex::new(Vec::new()),
            pump: Mutex::new(None),
            watchdog: Mutex::new(None),
        }
    }

    /// Queues a command for the main process (delivered once the agent is connected).
    pub fn send(&self, command: Command) {
        let queue = match command {
            Command::Stdin(_) | Command::CloseStdin => &self.input_tx,
            Command::Signal(_) | Command::Resize(..) => &self.commands_tx,
        };
        match queue.try_send(command) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            // Full of stdin: a signal or resize still gets through, after it.
            Err(mpsc::error::TrySendError::Full(command)) => {
                let tx = queue.clone();
                tokio::spawn(async move {
                    let _ = tx.send(command).await;
                });
            }
        }
    }

    /// Queues stdin for the main process, waiting while the queue is full:
    /// a client writing faster than the process reads is slowed down
    /// instead of growing the daemon's memory.
    pub async fn send_input(&self, command: Command) {
        let _ = self.input_tx.send(command).await;
    }

    /// The live agent connection, if any.
    pub fn agent(&self) -> Option<Arc<AgentLink>> {
        lock(&self.agent).clone()
    }

    /// Pumps `main`, the main session of the connection behind `link`
    /// (counting its ARM calls), reporting to `observer`; `link` becomes
    /// the live connection (see [`ContainerRuntime::set_agent`]).
    pub fn run_main(
        &self,
        observer: Arc<dyn LinkObserver>,
        link: Arc<AgentLink>,
        main: Result<Session, PeerError>,
    ) {
        let task = tokio::spawn(count_arm_calls(
            self.arm.clone(),
            crate::agent_link::pump::run(observer, link.clone(), main),
        ));
        self.set_agent(link, task);
    }

    /// Replaces the live connection (a newer one replaces the old) and its pump.
    pub fn set_agent(&self, conn: Arc<AgentLink>, pump: JoinHandle<()>) {
        *lock(&self.agent) = Some(conn);
        if let Some(old) = lock(&self.pump).replace(pump) {
            old.abort();
        }
        if let Some(w) = lock(&self.watchdog).take() {
            w.abort();
        }
        self.connections.send_modify(|g| *g += 1);
    }

    /// Forgets `conn` if it is still the live one (it closed). Returns whether it was.
    pub fn clear_agent(&self, conn: &Arc<AgentLink>) -> bool {
        let mut a = lock(&self.agent);
        if a.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *a = None;
            true
        } else {
            false
        }
    }

    /// The resume state of the current run.
    pub fn resume(&self) -> ResumeState {
        lock(&self.resume).clone()
    }

    /// Resume positions a previous process of the backend stored (startup).
    pub fn set_resume(&self, resume: ResumeState) {
        *lock(&self.resume) = resume;
    }

    /// The exited run's agent lingers on `link` (replacing an older one).
    pub fn set_lingering(&self, lingering: Lingering) {
        if let Some(old) = lock(&self.lingering).replace(lingering) {
            let _ = old.link.end();
        }
    }

    /// Takes the lingering execution, if any (`docker start` restarts in it).
    pub fn take_lingering(&self) -> Option<Lingering> {
        lock(&self.lingering).take()
    }

    /// Forgets the lingering execution on `link` (its linger time is over).
    pub fn clear_lingering(&self, link: &Arc<AgentLink>) {
        let mut l = lock(&self.lingering);
        if l.as_ref().is_some_and(|l| Arc::ptr_eq(&l.link, link)) {
            *l = None;
        }
    }

    /// Tells a lingering agent to exit (its execution ends), if there is one.
    pub fn end_lingering(&self) {
        if let Some(l) = self.take_lingering() {
            let _ = l.link.end();
        }
    }

    /// How long the current execution has existed, if this daemon started it.
    pub fn execution_age(&self) -> Option<std::time::Duration> {
        lock(&self.execution_started).map(|t| t.elapsed())
    }

    /// A run restarted in the lingering execution: its token is accepted
    /// again, and resume positions are kept (the agent's output offsets go
    /// on across runs).
    pub fn resume_run(&self, token_hash: String) {
        *lock(&self.token_hash) = Some(token_hash);
        *lock(&self.health) = None;
    }

    /// Prepares a new run: the agent token it accepts, fresh resume positions.
    pub fn begin_run(&self, token_hash: String) {
        // A new execution: an older one still lingering is not needed any more.
        self.end_lingering();
        *lock(&self.execution_started) = Some(std::time::Instant::now());
        self.prepared
            .store(false, std::sync::atomic::Ordering::SeqCst);
        *lock(&self.token_hash) = Some(token_hash);
        *lock(&self.resume) = ResumeState::new();
        *lock(&self.health) = None;
    }

    /// Records a health-check report of the current run.
    pub fn record_health(&self, report: HealthReport) {
        let mut health = lock(&self.health);
        let state = health.get_or_insert_with(HealthState::default);
        if let Err(e) = state.apply(report) {
            tracing::warn!(container = %self.id, error = %e, "health report ignored");
        }
    }

    /// The health reported during the current (or last) run, if any.
    pub fn health(&self) -> Option<HealthState> {
        lock(&self.health).clone()
    }

    /// The hash of the token accepted now (starting or running), if any.
    pub fn token_hash(&self) -> Option<String> {
        lock(&self.token_hash).clone()
    }

    /// Stops accepting the agent and forgets the connection, leaving the pump
    /// (the caller) to finish on its own.
    pub fn revoke(&self) {
        *lock(&self.token_hash) = None;
        *lock(&self.agent) = None;
    }

    /// Stops accepting the agent (the run ended or failed to start).
    pub fn end_run(&self) {
        self.end_lingering();
        *lock(&self.token_hash) = None;
        *lock(&self.agent) = None;
        if let Some(p) = lock(&self.pump).take() {
            p.abort();
        }
        if let Some(w) = lock(&self.watchdog).take() {
            w.abort();
        }
    }

    /// Installs the task watching a disconnected agent (replacing an older one).
    pub fn set_watchdog(&self, task: JoinHandle<()>) {
        if let Some(old) = lock(&self.watchdog).replace(task) {
            old.abort();
        }
    }

    /// A new live output subscriber.
    pub fn subscribe(&self) -> LiveReceiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicU64::new(0));
        let lagged = Arc::new(AtomicBool::new(false));
        lock(&self.subscribers).push(Subscriber {
            tx,
            queued: queued.clone(),
            lagged: lagged.clone(),
        });
        LiveReceiver { rx, queued, lagged }
    }

    /// Sends a chunk to every subscriber, dropping those that left and those
    /// more than [`LIVE_BUDGET`] behind (they catch up from the store).
    pub fn publish(&self, chunk: LiveChunk) {
        let len = chunk.data.len() as u64;
        lock(&self.subscribers).retain(|s| {
            if s.queued.load(Ordering::Relaxed) + len > LIVE_BUDGET {
                s.lagged.store(true, Ordering::Relaxed);
                return false;
            }
            s.queued.fetch_add(len, Ordering::Relaxed);
            s.tx.send(chunk.clone()).is_ok()
        });
    }

    /// Ends every subscriber's stream (the run ended).
    pub fn close_subscribers(&self) {
        lock(&self.subscribers).clear();
    }

    /// Drops queued commands (a new run starts with an empty queue).
    pub fn drain_commands(&self) {
        if let Ok(mut rx) = self.commands_rx.try_lock() {
            while rx.try_recv().is_ok() {}
        }
        if let Ok(mut rx) = self.input_rx.try_lock() {
            while rx.try_recv().is_ok() {}
        }
    }
}

/// Signals and resizes queued for a main process.
pub const COMMANDS_CAPACITY: usize = 256;
/// Stdin chunks queued for a main process (a client writing faster waits).
pub const INPUT_CAPACITY: usize = 64;
/// Live output bytes a subscriber may have unread before it is dropped.
pub const LIVE_BUDGET: u64 = 8 << 20;

struct Subscriber {
    tx: mpsc::UnboundedSender<LiveChunk>,
    queued: Arc<AtomicU64>,
    lagged: Arc<AtomicBool>,
}

/// A live output subscription: chunks in order until the run ends, or until
/// the subscriber fell [`LIVE_BUDGET`] behind ([`LiveReceiver::lagged`]).
#[derive(Debug)]
pub struct LiveReceiver {
    rx: mpsc::UnboundedReceiver<LiveChunk>,
    queued: Arc<AtomicU64>,
    lagged: Arc<AtomicBool>,
}

impl LiveReceiver {
    /// The next chunk; `None` at the run's end or after a lag.
    pub async fn recv(&mut self) -> Option<LiveChunk> {
        let chunk = self.rx.recv().await?;
        self.queued
            .fetch_sub(chunk.data.len() as u64, Ordering::Relaxed);
        Some(chunk)
    }

    /// Whether the stream ended because this subscriber fell behind.
    pub fn lagged(&self) -> bool {
        self.lagged.load(Ordering::Relaxed)
    }
}

/// Every container's runtime state, created on first use from its record.
#[derive(Debug, Default)]
pub struct Runtimes {
    map: Mutex<HashMap<String, Arc<ContainerRuntime>>>,
}

impl Runtimes {
    /// The runtime of `record`'s container.
    pub fn get(&self, record: &ContainerRecord) -> Arc<ContainerRuntime> {
        lock(&self.map)
            .entry(record.id.clone())
            .or_insert_with(|| Arc::new(ContainerRuntime::new(record)))
            .clone()
    }

    /// The runtime of `id`, if one exists.
    pub fn find(&self, id: &str) -> Option<Arc<ContainerRuntime>> {
        lock(&self.map).get(id).cloned()
    }

    /// Forgets a removed container, waking its `removed` waiters.
    pub fn remove(&self, id: &str) {
        if let Some(rt) = lock(&self.map).remove(id) {
            rt.end_run();
            rt.close_subscribers();
            rt.state.send_modify(|s| {
                s.running = false;
                s.removed = true;
            });
        }
    }
}
