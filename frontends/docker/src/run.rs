//! Serving the Docker API on a listen address until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sockerless_api::Backend;
use sockerless_api::listen::{Drain, ListenAddr, ListenError, Listener, bind, serve};

use crate::{CapabilityCache, router_with_cache};

/// How the frontend serves.
#[derive(Debug, Clone)]
pub struct FrontendConfig {
    /// Where Docker clients connect (`unix:///path` or loopback `tcp://host:port`).
    pub listen: ListenAddr,
    /// How long a graceful shutdown waits for open requests and hijacked streams.
    pub drain_timeout: Duration,
    /// How often known capabilities are re-read (unknown ones are retried with backoff).
    pub capabilities_refresh: Duration,
}

impl FrontendConfig {
    /// Defaults for `listen`: 30 s drain, capabilities re-read every 5 minutes.
    pub fn new(listen: ListenAddr) -> Self {
        Self {
            listen,
            drain_timeout: Duration::from_secs(30),
            capabilities_refresh: Duration::from_secs(300),
        }
    }
}

/// Why the frontend could not serve.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The address cannot be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// TCP beyond loopback without TLS would expose a root-equivalent API.
    #[error(
        "refusing to serve the Docker API on {0} without TLS: TCP is allowed only on loopback \
         (127.0.0.1, ::1, localhost); TLS is not supported yet, so use a unix:// socket or loopback TCP"
    )]
    InsecureTcp(String),
}

/// Refuses listen addresses that would expose the API without TLS.
pub fn check_listen_addr(addr: &ListenAddr) -> Result<(), FrontendError> {
    match addr {
        ListenAddr::Tcp { .. } if !addr.is_loopback() => {
            Err(FrontendError::InsecureTcp(addr.to_string()))
        }
        _ => Ok(()),
    }
}

/// Binds `config.listen` and serves the Docker API over `backend` until
/// `shutdown` resolves, then drains (see [`serve_on`]).
pub async fn run<F>(
    config: &FrontendConfig,
    backend: Arc<dyn Backend>,
    shutdown: F,
) -> Result<Drain, FrontendError>
where
    F: Future<Output = ()> + Send,
{
    check_listen_addr(&config.listen)?;
    let listener = bind(&config.listen).await?;
    tracing::info!(listen = %config.listen, "serving the Docker API");
    Ok(serve_on(listener, config, backend, shutdown).await)
}

/// Serves on an already bound listener (tests bind `tcp://127.0.0.1:0` and
/// read the port first). Capabilities are read now and kept fresh in the
/// background; requests are answered even while the backend is unreachable.
pub async fn serve_on<F>(
    listener: Listener,
    config: &FrontendConfig,
    backend: Arc<dyn Backend>,
    shutdown: F,
) -> Drain
where
    F: Future<Output = ()> + Send,
{
    let caps = Arc::new(CapabilityCache::new(backend.clone()));
    let refresher = tokio::spawn(caps.clone().keep_fresh(config.capabilities_refresh));
    let app = router_with_cache(backend, caps);
    let drain = serve(listener, app, shutdown, config.drain_timeout).await;
    refresher.abort();
    drain
}
