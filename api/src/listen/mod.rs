//! Where sockerless listens, and the HTTP server loop shared by the frontend
//! and backend binaries.
//!
//! - [`ListenAddr`]: `unix:///path` or `tcp://host:port`.
//! - [`bind`]: a [`Listener`] (Unix sockets are created 0600, stale sockets replaced).
//! - [`serve`]: axum over hyper with upgrades, graceful shutdown that also
//!   waits for upgraded connections registered through a [`ShutdownHandle`].
//! - [`serve_tls`]: the same over TLS ([`TlsSettings`] →
//!   [`TlsAcceptorConfig::load`]), optionally verifying client certificates.

mod addr;
mod bind;
mod guard;
mod serve;
mod tls;

pub use addr::ListenAddr;
pub use bind::{Listener, bind};
pub use serve::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Drain, ServeLimits, ShutdownHandle,
    TaskGuard, serve, serve_tls, serve_with,
};
pub use tls::{DEFAULT_HANDSHAKE_TIMEOUT, TlsAcceptorConfig, TlsError, TlsSettings};

/// Why an address could not be parsed or bound.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address is not `unix:///absolute/path` or `tcp://host:port`.
    #[error(
        "invalid listen address {input:?}: {reason} (accepted forms: unix:///absolute/path, tcp://host:port)"
    )]
    InvalidAddr {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something is already listening there.
    #[error("{0} is already in use")]
    InUse(String),
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What failed, e.g. `bind unix:///run/s.sock`.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ListenError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ListenError::Io {
            context: context.into(),
            source,
        }
    }
}
