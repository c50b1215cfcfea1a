//! Running the backend as a daemon: logging, the internal API listener,
//! request logging, the startup check and graceful shutdown.

// unsafe: the open-files limit raised with setrlimit.
#![allow(unsafe_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use sockerless_api::Backend;
use sockerless_api::listen::{self, Drain, ListenAddr, ListenError};
use sockerless_azure::pipeline::collect_request_ids;

use crate::backend::{AcaBackend, BackendError};
use crate::config::{Config, LogFormat};

/// Longest the daemon waits for in-flight requests and streams at shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);
/// Longest the startup check of the managed environment may take.
pub const STARTUP_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The listen address is invalid or not allowed (exit code 2).
    #[error("invalid configuration: listen: {0}")]
    Listen(String),
    /// Binding failed.
    #[error(transparent)]
    Bind(#[from] ListenError),
    /// The backend could not start.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The agent endpoint (`agent_listen`) could not start.
    #[error("agent endpoint: {0}")]
    AgentEndpoint(String),
}

/// Parses `config.listen`; plain TCP is only allowed on loopback (no TLS here).
pub fn listen_addr(config: &Config) -> Result<ListenAddr, DaemonError> {
    let addr =
        ListenAddr::from_str(&config.listen).map_err(|e| DaemonError::Listen(e.to_string()))?;
    if matches!(addr, ListenAddr::Tcp { .. }) && !addr.is_loopback() {
        return Err(DaemonError::Listen(format!(
            "{addr}: the internal API has no TLS, so TCP is only allowed on a loopback address; use a unix:// socket"
        )));
    }
    Ok(addr)
}

/// Installs the `tracing` subscriber (text or JSON on stderr) with `config.log_level`.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Raises the open-file soft limit to the hard limit and returns both: every
/// connected agent, attach and published port holds descriptors, and the
/// usual soft limit (1024) would end around a thousand containers with
/// EMFILE. Logs what it did.
pub fn raise_open_file_limit() -> std::io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        tracing::info!(from = before, to = limit.rlim_cur, "open-file limit raised");
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// The internal API router for `backend`, with request logging.
pub fn router(backend: Arc<dyn Backend>) -> axum::Router {
    sockerless_api::server::router(backend).layer(axum::middleware::from_fn(log_request))
}

/// Logs method, path, status, duration and the Azure request and correlation
/// IDs of the ARM calls the request made. Never headers or bodies.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let (response, azure_ids) = collect_request_ids(next.run(request)).await;
    let join = |f: fn(&sockerless_azure::pipeline::AzureRequestId) -> Option<&String>| {
        azure_ids
            .iter()
            .filter_map(f)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        azure_calls = azure_ids.len(),
        x_ms_request_ids = %join(|i| i.request_id.as_ref()),
        x_ms_correlation_request_ids = %join(|i| i.correlation_id.as_ref()),
        "request"
    );
    response
}

/// Resolves at SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            }
        }
        _ => {
            tracing::warn!("cannot install signal handlers; falling back to Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs the backend until `shutdown` resolves: binds, checks the managed
/// environment in the background, serves, drains (bounded), closes the store.
pub async fn run<F>(config: Config, shutdown: F) -> Result<(), DaemonError>
where
    F: Future<Output = ()> + Send,
{
    let addr = listen_addr(&config)?;
    let backend = AcaBackend::new(config).await?;
    let listener = listen::bind(&addr).await?;
    tracing::info!(listen = %addr, version = env!("CARGO_PKG_VERSION"), "sockerless-backend-aca listening");
    backend
        .start_agent_endpoint()
        .await
        .map_err(|e| DaemonError::AgentEndpoint(e.message().to_owned()))?;

    let check_backend = backend.clone();
    let startup_check = tokio::spawn(async move {
        if tokio::time::timeout(STARTUP_CHECK_TIMEOUT, check_backend.check_environment())
            .await
            .is_err()
        {
            tracing::warn!(
                environment = %check_backend.azure().environment.id(),
                "managed environment check timed out after {} s; Azure unreachable?",
                STARTUP_CHECK_TIMEOUT.as_secs()
            );
        }
    });

    let limits = backend.config().serve_limits();
    let drain = listen::serve_with(
        listener,
        router(Arc::new(backend.clone())),
        None,
        limits,
        shutdown,
        DRAIN_TIMEOUT,
    )
    .await;
    startup_check.abort();
    match drain {
        Drain::Complete => tracing::info!("drained"),
        Drain::TimedOut { remaining } => {
            tracing::warn!(remaining, "drain timed out; cut off open connections")
        }
    }
    if let Err(e) = backend.close().await {
        tracing::warn!(error = %e, "closing the state store failed");
    }
    tracing::info!("stopped");
    Ok(())
}
