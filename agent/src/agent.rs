//! The agent: runs the main process, carries out the peer's frames (its
//! connections, reverse dial and/or forward listen, are [`crate::link`]'s),
//! and exits with the main process's code.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

use crate::config::{Config, user_environment};
use crate::dispatch::Shared;
use crate::exec::{self, ProcessContext};
use crate::hub::Hub;
use crate::net;
use crate::process::{self, SpawnSpec};
use crate::protocol::MAIN_SESSION;
use crate::relay::Relay;
use crate::socket::Sockets;
use crate::start_failure::{StartFailure, cli_exit_code};
use crate::unix_listen::UnixListeners;
use crate::{health, linger, link, listening};

const FORWARDED_SIGNALS: [i32; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Fatal agent errors (before the main process could run).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Setting up signals, the reaper or the listener failed.
    #[error("{0}")]
    Setup(String),
}

/// Runs `argv` as the main process and returns its exit code once the peer
/// acknowledged it (or a connected peer let the acknowledgement wait run out).
pub async fn run(cfg: Config, argv: Vec<String>) -> Result<i32, AgentError> {
    process::start_reaper().map_err(|e| AgentError::Setup(format!("reaper: {e}")))?;
    let hub = Hub::new(cfg.backlog, cfg.stdin_window);
    let ctx = Arc::new(ProcessContext {
        base_env: user_environment(std::env::vars()),
    });
    let (connections, connections_rx) = tokio::sync::watch::channel(0u64);
    let relay = Relay::new(cfg.hosts_file.clone());
    let shared = Arc::new(Shared {
        hub: hub.clone(),
        ctx: ctx.clone(),
        cfg: cfg.clone(),
        sockets: Arc::new(Sockets::default()),
        relay: relay.clone(),
        unix: UnixListeners::default(),
        connections,
        next_generation: AtomicU64::new(1),
        live: tokio::sync::watch::Sender::new(0),
        refusals: tokio::sync::watch::Sender::new(0),
        peers_applied: tokio::sync::watch::Sender::new(false),
        main_control: std::sync::Mutex::new(None),
    });
    hub.register(MAIN_SESSION, false)
        .map_err(AgentError::Setup)?;
    crate::uts::Identity::from_lookup(|k| std::env::var(k).ok()).apply();
    if let Some(json) = std::env::var(crate::limits::ENV)
        .ok()
        .filter(|v| !v.is_empty())
    {
        crate::limits::configure(crate::limits::parse(&json).map_err(AgentError::Setup)?);
    }
    if let Some(json) = std::env::var(crate::userdb::GROUP_ADD_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    {
        crate::userdb::configure_extra_groups(&json, std::path::Path::new("/"))
            .map_err(AgentError::Setup)?;
    }
    let resolv =
        crate::resolv::Resolv::from_lookup(|k| std::env::var(k).ok()).map_err(AgentError::Setup)?;
    // Before connecting: nothing is copied in or run before the baseline.
    crate::changes::take_baseline_from_env().await;

    let mut signals = Vec::new();
    for sig in FORWARDED_SIGNALS {
        signals.push((
            sig,
            signal(SignalKind::from_raw(sig)).map_err(|e| AgentError::Setup(e.to_string()))?,
        ));
    }
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    if let Some(url) = cfg.callback_url.clone() {
        tasks.push(tokio::spawn(link::reverse_loop(shared.clone(), url)));
    }
    let mut own_listeners = Vec::new();
    if let Some(listen) = &cfg.listen {
        let addr = net::parse_listen(listen).map_err(|e| AgentError::Setup(e.to_string()))?;
        let listener = net::listen(addr)
            .await
            .map_err(|e| AgentError::Setup(format!("listen {listen}: {e}")))?;
        own_listeners.extend(listener.local_addr().ok());
        tasks.push(tokio::spawn(link::forward_loop(shared.clone(), listener)));
    }
    tasks.push(tokio::spawn(listening::run(
        hub.clone(),
        relay,
        own_listeners,
        connections_rx,
    )));

    // Stdin may arrive while the process waits for its peers: keep it for the process.
    let early_stdin = if cfg.open_stdin {
        hub.early_stdin(MAIN_SESSION)
    } else {
        None
    };
    if !cfg.await_peers.is_zero() && (cfg.callback_url.is_some() || cfg.listen.is_some()) {
        let mut applied = shared.peers_applied.subscribe();
        let waited = tokio::time::timeout(cfg.await_peers, applied.wait_for(|a| *a)).await;
        if waited.is_err() {
            tracing::warn!(
                secs = cfg.await_peers.as_secs(),
                "no peers from the backend in time; starting the process without them"
            );
        }
    }
    if let Err(e) = resolv.apply() {
        let msg = format!("sockerless-agent: DNS settings not applied: {e}\n");
        eprint!("{msg}");
        hub.push_output(
            MAIN_SESSION,
            crate::protocol::OutputStream::Stderr,
            msg.as_bytes(),
        );
    }
    // Fed only by the backend's RESTART/END frames and terminating signals.
    let (control_tx, mut control_rx) = tokio::sync::mpsc::unbounded_channel();
    *shared
        .main_control
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some(control_tx.clone());
    let mut signals = Some(signals);
    let mut announce = false;
    let mut code;
    let mut early_stdin = early_stdin;
    let mut health_task: Option<JoinHandle<()>> = None;
    loop {
        let run = run_main(&hub, &cfg, &ctx, &argv, early_stdin, announce);
        // Forwarding starts once the first run's pid is known: a signal that
        // came earlier (waiting for peers) is queued and goes to the process.
        // Each signal then goes to whichever run's pid is current.
        if let Some(signals) = signals.take() {
            tasks.push(tokio::spawn(forward_signals(
                signals,
                hub.clone(),
                control_tx.clone(),
            )));
        }
        code = match run {
            Ok(exit_task) => {
                // Each run has its own health checks, from "starting" (as
                // Docker resets them at every start).
                if let Some(hc) = cfg.healthcheck.clone() {
                    health_task = Some(tokio::spawn(health::run(hub.clone(), hc, ctx.clone())));
                }
                exit_task.await.unwrap_or(255)
            }
            Err(code) => code,
        };
        tracing::info!(code, "main process exited");
        // Lingering, nothing is left to probe (without linger the agent
        // exits soon and the checks run until then, as they always did).
        if !cfg.linger.is_zero()
            && let Some(h) = health_task.take()
        {
            h.abort();
        }
        match linger::after_exit(&hub, &cfg, shared.links(), code, &mut control_rx).await {
            Some(early) => {
                tracing::info!("restarting the main process");
                early_stdin = early;
                announce = true;
            }
            None => break,
        }
    }
    tasks.extend(health_task);
    for t in tasks {
        t.abort();
    }
    Ok(code)
}

/// Starts one run of the main process: its exit task, or the exit code when
/// it could not start (reported on its stderr in runc's words, with the code
/// the Docker CLI gives: 127, 126 or 125).
/// `announce`: a restarted run reports STARTED (the first one does not).
fn run_main(
    hub: &Arc<Hub>,
    cfg: &Config,
    ctx: &ProcessContext,
    argv: &[String],
    early_stdin: Option<tokio::sync::mpsc::UnboundedReceiver<crate::hub::StdinMsg>>,
    announce: bool,
) -> Result<JoinHandle<i32>, i32> {
    let spawned = main_spec(cfg, ctx, argv).and_then(|spec| {
        exec::start_process_with(hub, MAIN_SESSION, spec, announce, early_stdin)
            .map_err(StartFailure::Spawn)
    });
    match spawned {
        Ok((_pid, exit_task)) => Ok(exit_task),
        Err(failure) => {
            let name = argv.first().map(String::as_str).unwrap_or_default();
            let message = failure.message(name);
            let line = format!("{message}\n");
            eprint!("{line}");
            hub.push_output(
                MAIN_SESSION,
                crate::protocol::OutputStream::Stderr,
                line.as_bytes(),
            );
            for s in [
                crate::protocol::OutputStream::Stdout,
                crate::protocol::OutputStream::Stderr,
            ] {
                hub.finish_stream(MAIN_SESSION, s);
            }
            let code = cli_exit_code(&message);
            hub.set_exit(MAIN_SESSION, code);
            Err(code)
        }
    }
}

/// Forwards the agent's signals to the current run of the main process.
/// Between runs (lingering) a terminating signal ends the agent: that is
/// how ACA stops the execution.
async fn forward_signals(
    mut signals: Vec<(i32, tokio::signal::unix::Signal)>,
    hub: Arc<Hub>,
    control: tokio::sync::mpsc::UnboundedSender<linger::MainControl>,
) {
    // Bounded as the kernel's pending signals are: past 64 a signal is coalesced.
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    for (sig, mut stream) in signals.drain(..) {
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() && !tx.is_closed() {
                let _ = tx.try_send(sig);
            }
        });
    }
    while let Some(sig) = rx.recv().await {
        match hub.pid(MAIN_SESSION) {
            Some(pid) => {
                let _ = process::kill(pid, sig);
            }
            None if sig != libc::SIGUSR1 && sig != libc::SIGUSR2 => {
                let _ = control.send(linger::MainControl::End);
            }
            None => {}
        }
    }
}

/// The main process: Docker's `WorkingDir` (created when missing, as Docker
/// does) and `User` (resolved in the image's `/etc/passwd` and `/etc/group`).
fn main_spec(
    cfg: &Config,
    ctx: &ProcessContext,
    argv: &[String],
) -> Result<SpawnSpec, StartFailure> {
    let creds = match cfg.user.as_deref() {
        Some(user) => Some(
            crate::userdb::resolve_user(user, std::path::Path::new("/"))
                .map_err(StartFailure::User)?,
        ),
        None => None,
    };
    if let Some(dir) = cfg.workdir.as_deref() {
        std::fs::create_dir_all(dir).map_err(|e| StartFailure::Workdir(dir.to_owned(), e))?;
    }
    Ok(SpawnSpec {
        argv: argv.to_vec(),
        env: ctx.env_with(&[], creds.as_ref().and_then(|c| c.home.as_deref())),
        workdir: cfg.workdir.clone(),
        creds,
        tty: cfg.tty.then_some((24, 80)),
        stdin: cfg.open_stdin,
    })
}
