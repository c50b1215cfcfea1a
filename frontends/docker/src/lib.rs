//! Docker Engine API v1.44 over any sockerless [`Backend`].
//!
//! [`router`] builds the whole HTTP surface (version prefixes, Docker's
//! headers and errors, hijacked attach/exec, capability gating); [`run`] serves
//! it on a listen address until shutdown.
#![warn(missing_docs)]

use std::sync::Arc;

use axum::Router;
use sockerless_api::{Backend, BackendInfo};

pub mod errors;
pub mod escape;
pub mod extract;
pub mod framing;
pub mod hijack;
pub mod query;
mod routes;
mod run;
pub mod shape;
pub mod state;
mod v1_44;
pub mod version;

pub use errors::DockerError;
pub use run::{
    FrontendConfig, FrontendError, TlsArgs, check_listen, check_listen_addr, run, serve_on,
    serve_on_tls,
};
pub use state::{AppState, CapabilityCache};

/// The Docker API for `backend`, whose capabilities are known (`info`).
///
/// Serve it with `sockerless_api::listen::serve`, whose `ShutdownHandle`
/// keeps hijacked attach/exec connections alive through a graceful shutdown.
pub fn router(backend: Arc<dyn Backend>, info: BackendInfo) -> Router {
    let caps = Arc::new(CapabilityCache::with_info(backend.clone(), info));
    router_with_cache(backend, caps)
}

/// The Docker API for `backend` with a capability cache the caller keeps
/// fresh (see [`CapabilityCache::keep_fresh`]), for backends that may be
/// unreachable at startup.
pub fn router_with_cache(backend: Arc<dyn Backend>, caps: Arc<CapabilityCache>) -> Router {
    let state = AppState { backend, caps };
    let api = routes::api_router(state);
    Router::new()
        .fallback(version::dispatch)
        .with_state(api)
        .layer(axum::middleware::from_fn(version::headers_and_logging))
}
