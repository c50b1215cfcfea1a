//! The accept loop: axum over hyper (HTTP/1.1 with upgrades), graceful
//! shutdown that also covers upgraded connections.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use http::request::Parts;
use std::sync::Arc;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::{Listener, TlsAcceptorConfig};
use crate::ApiError;

/// Lets handlers keep upgraded (hijacked, WebSocket) connections alive
/// through a graceful shutdown, and learn when one has begun.
///
/// [`serve`] puts one into every request's extensions; handlers extract it
/// directly (`handle: ShutdownHandle`) or as `Extension<ShutdownHandle>`.
/// Work registered through [`ShutdownHandle::spawn`] or
/// [`ShutdownHandle::guard`] is waited for by [`serve`], up to its drain
/// timeout, after which it is dropped (its connection closes).
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle {
    tracker: TaskTracker,
    stop: CancellationToken,
    abort: CancellationToken,
}

/// Keeps [`serve`] waiting while alive; see [`ShutdownHandle::guard`].
#[derive(Debug)]
pub struct TaskGuard {
    _token: TaskTrackerToken,
    abort: CancellationToken,
}

impl TaskGuard {
    /// Runs `fut` to completion, or until the drain timeout runs out (`None`).
    pub async fn run<F: Future>(self, fut: F) -> Option<F::Output> {
        tokio::select! {
            out = fut => Some(out),
            () = self.abort.cancelled() => None,
        }
    }
}

impl ShutdownHandle {
    /// A handle not tied to any server (for tests and in-process use).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers work from now on: take the guard in the handler (before
    /// answering 101) and run the upgraded connection's task with
    /// [`TaskGuard::run`], so there is no instant where [`serve`] could
    /// think the connection is done.
    pub fn guard(&self) -> TaskGuard {
        TaskGuard {
            _token: self.tracker.token(),
            abort: self.abort.clone(),
        }
    }

    /// Spawns a tracked task, e.g. the one serving a `hyper::upgrade::on`
    /// connection. It yields `None` if cut off by the drain timeout.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(self.guard().run(fut))
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Resolves when a graceful shutdown begins: long streams that can end
    /// early (e.g. an idle events feed) should end now.
    pub async fn stopping(&self) {
        self.stop.cancelled().await;
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ShutdownHandle {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<ShutdownHandle>()
            .cloned()
            .ok_or_else(|| {
                ApiError::Internal(
                    "no ShutdownHandle: the router is not served by sockerless_api::listen::serve"
                        .into(),
                )
            })
    }
}

/// Bounds every listener puts on its clients, so a slow or hostile one
/// cannot hold the daemon's sockets or memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a connection may take to send a request's headers. hyper
    /// arms this timer whenever it waits for a request, so it is also the
    /// idle timeout of a keep-alive connection between requests. A request
    /// in progress (a long `wait`, a quiet `logs -f`, an attach) is not
    /// affected: once its headers are read, no timer runs.
    pub header_read_timeout: Duration,
    /// Connections served at once; a connection past it is closed at accept
    /// (logged, rate-limited), and those already open keep working.
    pub max_connections: usize,
}

/// Default of [`ServeLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`ServeLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// How [`serve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Every request and tracked connection finished in time.
    Complete,
    /// The drain timeout ran out; this many were cut off.
    TimedOut {
        /// Connections and tracked tasks still running at the timeout.
        remaining: usize,
    },
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
///
/// HTTP/1.1 with upgrades on both Unix and TCP (WebSocket and Docker's
/// `Upgrade: tcp` hijack via `hyper::upgrade::on`). On shutdown it stops
/// accepting, lets in-flight requests finish and idle connections close,
/// waits for work registered on the [`ShutdownHandle`], all bounded by
/// `drain_timeout`, then cuts off what is left, removes the Unix socket file
/// and returns. No request timeout is imposed (long `wait`s are normal).
pub async fn serve<F>(
    listener: Listener,
    router: Router,
    shutdown: F,
    drain_timeout: Duration,
) -> Drain
where
    F: Future<Output = ()> + Send,
{
    serve_with(
        listener,
        router,
        None,
        ServeLimits::default(),
        shutdown,
        drain_timeout,
    )
    .await
}

/// [`serve`] over TLS: every accepted connection (TCP or Unix) first
/// completes a TLS handshake with `tls`, within its handshake timeout.
///
/// With client verification ([`TlsAcceptorConfig::verifies_clients`]) a
/// client without a certificate signed by the CA is refused at the
/// handshake, before any HTTP is read. Failed and timed-out handshakes are
/// logged at debug (peer and reason, nothing secret) and cost the server
/// nothing further. Handshakes still running when shutdown begins are
/// abandoned; upgrades, hijack and draining work as with [`serve`].
pub async fn serve_tls<F>(
    listener: Listener,
    router: Router,
    tls: TlsAcceptorConfig,
    shutdown: F,
    drain_timeout: Duration,
) -> Drain
where
    F: Future<Output = ()> + Send,
{
    serve_with(
        listener,
        router,
        Some(tls),
        ServeLimits::default(),
        shutdown,
        drain_timeout,
    )
    .await
}

/// [`serve`] or [`serve_tls`] (with `tls`) under `limits`. A plain-TCP
/// listener on loopback also refuses requests from browsers
/// ([`super::guard`]): any local web page could otherwise drive it.
pub async fn serve_with<F>(
    listener: Listener,
    router: Router,
    tls: Option<TlsAcceptorConfig>,
    limits: ServeLimits,
    shutdown: F,
    drain_timeout: Duration,
) -> Drain
where
    F: Future<Output = ()> + Send,
{
    let handle = ShutdownHandle::new();
    let guarded = tls.is_none()
        && matches!(&listener, Listener::Tcp(l) if l.local_addr().is_ok_and(|a| a.ip().is_loopback()));
    let router = if guarded {
        router.layer(axum::middleware::from_fn(super::guard::loopback_only))
    } else {
        router
    };
    let app = router.layer(axum::Extension(handle.clone()));
    let conns = Conns {
        permits: Arc::new(Semaphore::new(limits.max_connections)),
        refused: Arc::new(super::guard::RateLimitedLog::new(REFUSED_LOG_INTERVAL)),
        header_read_timeout: limits.header_read_timeout,
    };
    tokio::pin!(shutdown);
    let socket_path = match &listener {
        Listener::Unix { path, .. } => Some(path.clone()),
        Listener::Tcp(_) => None,
    };
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &app, tls.as_ref(), &handle, &conns) => accepted,
        };
        if let Err(e) = accepted {
            // EMFILE and friends: back off instead of spinning.
            tracing::warn!(error = %e, "accept failed");
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
    drop(listener);
    handle.tracker.close();
    handle.stop.cancel();
    let outcome = match tokio::time::timeout(drain_timeout, handle.tracker.wait()).await {
        Ok(()) => Drain::Complete,
        Err(_) => {
            let remaining = handle.tracker.len();
            tracing::warn!(remaining, "drain timeout: cutting off open connections");
            handle.abort.cancel();
            handle.tracker.wait().await;
            Drain::TimedOut { remaining }
        }
    };
    if let Some(path) = socket_path
        && let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove socket file");
    }
    outcome
}

/// Refused connections are logged at most this often.
const REFUSED_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Per-listener connection state: the cap and the header timer.
struct Conns {
    permits: Arc<Semaphore>,
    refused: Arc<super::guard::RateLimitedLog>,
    header_read_timeout: Duration,
}

impl Conns {
    /// A slot for a new connection, or `None` (and a rate-limited log line)
    /// when the cap is reached.
    fn admit(&self, peer: Option<std::net::SocketAddr>) -> Option<OwnedSemaphorePermit> {
        let permit = self.permits.clone().try_acquire_owned().ok();
        if permit.is_none()
            && let Some(refused) = self.refused.tick()
        {
            tracing::warn!(
                ?peer,
                refused,
                "connection cap reached: refusing new connections"
            );
        }
        permit
    }
}

async fn accept(
    listener: &Listener,
    app: &Router,
    tls: Option<&TlsAcceptorConfig>,
    handle: &ShutdownHandle,
    conns: &Conns,
) -> std::io::Result<()> {
    match listener {
        Listener::Unix { listener, .. } => {
            let (io, _) = listener.accept().await?;
            if let Some(permit) = conns.admit(None) {
                spawn_connection(
                    io,
                    None,
                    app,
                    tls,
                    handle,
                    permit,
                    conns.header_read_timeout,
                );
            }
        }
        Listener::Tcp(listener) => {
            let (io, peer) = listener.accept().await?;
            let Some(permit) = conns.admit(Some(peer)) else {
                return Ok(());
            };
            // Interactive streams: do not wait to coalesce small writes.
            let _ = io.set_nodelay(true);
            spawn_connection(
                io,
                Some(peer),
                app,
                tls,
                handle,
                permit,
                conns.header_read_timeout,
            );
        }
    }
    Ok(())
}

fn spawn_connection<I>(
    io: I,
    peer: Option<std::net::SocketAddr>,
    app: &Router,
    tls: Option<&TlsAcceptorConfig>,
    handle: &ShutdownHandle,
    permit: OwnedSemaphorePermit,
    header_read_timeout: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (app, conn_handle) = (app.clone(), handle.clone());
    let Some(tls) = tls.cloned() else {
        handle.tracker.spawn(async move {
            serve_connection(io, app, conn_handle, header_read_timeout).await;
            drop(permit);
        });
        return;
    };
    handle.tracker.spawn(async move {
        let _permit = permit;
        let handshake = tokio::time::timeout(tls.handshake_timeout(), tls.acceptor().accept(io));
        let stream = tokio::select! {
            result = handshake => match result {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(?peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(?peer, "TLS handshake timed out");
                    return;
                }
            },
            () = conn_handle.stop.cancelled() => return,
        };
        serve_connection(stream, app, conn_handle, header_read_timeout).await;
    });
}

async fn serve_connection<I>(
    io: I,
    app: Router,
    handle: ShutdownHandle,
    header_read_timeout: Duration,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app))
        .with_upgrades();
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = handle.stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                r = conn.as_mut() => r,
                () = handle.abort.cancelled() => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
