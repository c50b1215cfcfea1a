//! Serving the Docker API on a listen address until shutdown.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sockerless_api::Backend;
use sockerless_api::listen::{
    Drain, ListenAddr, ListenError, Listener, ServeLimits, TlsAcceptorConfig, TlsError,
    TlsSettings, bind,
};

use crate::{CapabilityCache, router_with_cache};

/// How the frontend serves.
#[derive(Debug, Clone)]
pub struct FrontendConfig {
    /// Where Docker clients connect: `unix:///path`, or `tcp://host:port` on
    /// loopback (any host with `tls` verifying clients).
    pub listen: ListenAddr,
    /// How long a graceful shutdown waits for open requests and hijacked streams.
    pub drain_timeout: Duration,
    /// How often known capabilities are re-read (unknown ones are retried with backoff).
    pub capabilities_refresh: Duration,
    /// TLS for every connection; `client_ca_pem: Some` verifies client
    /// certificates (`--tlsverify`), which non-loopback TCP requires.
    pub tls: Option<TlsSettings>,
    /// Header-read timeout and connection cap.
    pub limits: ServeLimits,
}

impl FrontendConfig {
    /// Defaults for `listen`: 30 s drain, capabilities re-read every 5 minutes.
    pub fn new(listen: ListenAddr) -> Self {
        Self {
            listen,
            drain_timeout: Duration::from_secs(30),
            capabilities_refresh: Duration::from_secs(300),
            tls: None,
            limits: ServeLimits::default(),
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
         (127.0.0.1, ::1, localhost) unless client certificates are verified; use a unix:// \
         socket, loopback TCP, or --tlsverify with --tlscacert, --tlscert and --tlskey"
    )]
    InsecureTcp(String),
    /// TLS without client verification: anyone who reaches the port controls the daemon.
    #[error(
        "refusing to serve the Docker API on {0} with --tls but without --tlsverify: clients \
         would not be authenticated, so anyone who can reach the port would control the daemon; \
         add --tlsverify and --tlscacert (the CA that signs client certificates), or listen on \
         loopback or a unix:// socket"
    )]
    UnauthenticatedTcp(String),
    /// A TLS file could not be used (the error names the file).
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TLS flags do not make sense together.
    #[error("{0}")]
    TlsFlags(String),
}

/// Refuses listen addresses that would expose the API without TLS.
pub fn check_listen_addr(addr: &ListenAddr) -> Result<(), FrontendError> {
    check_listen(addr, None)
}

/// Refuses what would expose the API to unauthenticated clients: TCP beyond
/// loopback needs TLS with client verification (`client_ca_pem`).
pub fn check_listen(addr: &ListenAddr, tls: Option<&TlsSettings>) -> Result<(), FrontendError> {
    match (addr, tls) {
        (ListenAddr::Tcp { .. }, _) if addr.is_loopback() => Ok(()),
        (ListenAddr::Unix(_), _) => Ok(()),
        (_, None) => Err(FrontendError::InsecureTcp(addr.to_string())),
        (_, Some(tls)) if tls.client_ca_pem.is_none() => {
            Err(FrontendError::UnauthenticatedTcp(addr.to_string()))
        }
        (_, Some(_)) => Ok(()),
    }
}

/// Docker's TLS flags (`dockerd --tls --tlsverify --tlscacert --tlscert
/// --tlskey`), for binaries to `#[command(flatten)]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve TLS (clients are not authenticated: loopback or unix:// only).
    #[arg(long, env = "SOCKERLESS_DOCKER_TLS", value_parser = clap::builder::BoolishValueParser::new())]
    pub tls: bool,
    /// Serve TLS and require client certificates signed by --tlscacert (implies --tls).
    #[arg(long, env = "SOCKERLESS_DOCKER_TLSVERIFY", value_parser = clap::builder::BoolishValueParser::new())]
    pub tlsverify: bool,
    /// CA that client certificates must chain to [default: $DOCKER_CERT_PATH/ca.pem or ~/.docker/ca.pem].
    #[arg(long, env = "SOCKERLESS_DOCKER_TLSCACERT", value_name = "PEM")]
    pub tlscacert: Option<PathBuf>,
    /// Server certificate chain [default: $DOCKER_CERT_PATH/cert.pem or ~/.docker/cert.pem].
    #[arg(long, env = "SOCKERLESS_DOCKER_TLSCERT", value_name = "PEM")]
    pub tlscert: Option<PathBuf>,
    /// Server private key [default: $DOCKER_CERT_PATH/key.pem or ~/.docker/key.pem].
    #[arg(long, env = "SOCKERLESS_DOCKER_TLSKEY", value_name = "PEM")]
    pub tlskey: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS settings asked for, defaults from `DOCKER_CERT_PATH` or `~/.docker`.
    pub fn settings(&self) -> Result<Option<TlsSettings>, FrontendError> {
        let dir = std::env::var_os("DOCKER_CERT_PATH")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| Path::new(&h).join(".docker"))
            });
        self.settings_in(dir.as_deref())
    }

    /// [`TlsArgs::settings`] with unset paths taken from `default_dir`. The
    /// certificate flags without `--tls`/`--tlsverify` are an error, not
    /// silently plain text; `--tlscacert` with only `--tls` is ignored (as
    /// dockerd does) with a warning.
    pub fn settings_in(
        &self,
        default_dir: Option<&Path>,
    ) -> Result<Option<TlsSettings>, FrontendError> {
        if !self.tls && !self.tlsverify {
            let given: Vec<&str> = [
                ("--tlscacert", &self.tlscacert),
                ("--tlscert", &self.tlscert),
                ("--tlskey", &self.tlskey),
            ]
            .into_iter()
            .filter_map(|(flag, path)| path.as_ref().map(|_| flag))
            .collect();
            if given.is_empty() {
                return Ok(None);
            }
            return Err(FrontendError::TlsFlags(format!(
                "{} given without --tls or --tlsverify: refusing to serve plain text",
                given.join(", ")
            )));
        }
        let pick = |given: &Option<PathBuf>, flag: &str, file: &str| match (given, default_dir) {
            (Some(path), _) => Ok(path.clone()),
            (None, Some(dir)) => Ok(dir.join(file)),
            (None, None) => Err(FrontendError::TlsFlags(format!(
                "{flag} is required: neither DOCKER_CERT_PATH nor HOME is set to find {file}"
            ))),
        };
        let client_ca_pem = if self.tlsverify {
            Some(pick(&self.tlscacert, "--tlscacert", "ca.pem")?)
        } else {
            if self.tlscacert.is_some() {
                tracing::warn!(
                    "--tlscacert has no effect without --tlsverify: clients are not verified"
                );
            }
            None
        };
        Ok(Some(TlsSettings {
            cert_chain_pem: pick(&self.tlscert, "--tlscert", "cert.pem")?,
            key_pem: pick(&self.tlskey, "--tlskey", "key.pem")?,
            client_ca_pem,
        }))
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
    check_listen(&config.listen, config.tls.as_ref())?;
    // Certificates before binding: a bad file fails startup, naming the file.
    let tls = config
        .tls
        .as_ref()
        .map(TlsAcceptorConfig::load)
        .transpose()?;
    let listener = bind(&config.listen).await?;
    match &tls {
        Some(tls) => tracing::info!(
            listen = %config.listen,
            client_certificates = if tls.verifies_clients() { "verified" } else { "not requested" },
            "serving the Docker API over TLS"
        ),
        None => tracing::info!(listen = %config.listen, "serving the Docker API"),
    }
    Ok(serve_with(listener, config, tls, backend, shutdown).await)
}

/// Serves on an already bound listener (tests bind `tcp://127.0.0.1:0` and
/// read the port first), without TLS whatever `config.tls` says (see
/// [`serve_on_tls`]). Capabilities are read now and kept fresh in the
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
    serve_with(listener, config, None, backend, shutdown).await
}

/// [`serve_on`] over TLS (load `tls` with `TlsAcceptorConfig::load`, and
/// check the address with [`check_listen`] first).
pub async fn serve_on_tls<F>(
    listener: Listener,
    config: &FrontendConfig,
    tls: TlsAcceptorConfig,
    backend: Arc<dyn Backend>,
    shutdown: F,
) -> Drain
where
    F: Future<Output = ()> + Send,
{
    serve_with(listener, config, Some(tls), backend, shutdown).await
}

async fn serve_with<F>(
    listener: Listener,
    config: &FrontendConfig,
    tls: Option<TlsAcceptorConfig>,
    backend: Arc<dyn Backend>,
    shutdown: F,
) -> Drain
where
    F: Future<Output = ()> + Send,
{
    let caps = Arc::new(CapabilityCache::new(backend.clone()));
    let refresher = tokio::spawn(caps.clone().keep_fresh(config.capabilities_refresh));
    let app = router_with_cache(backend, caps);
    let drain = sockerless_api::listen::serve_with(
        listener,
        app,
        tls,
        config.limits,
        shutdown,
        config.drain_timeout,
    )
    .await;
    refresher.abort();
    drain
}
