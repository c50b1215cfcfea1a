//! sockerless-azure-sim: an Azure emulator built from the official REST
//! contracts (Microsoft Entra ID tokens, ARM `Microsoft.App` jobs and
//! managed environments, `Microsoft.Storage` file shares, the Log Analytics
//! query API and the ACR data plane). Job executions run as real containers
//! on a local Docker engine.
//!
//! Embedding:
//!
//! ```no_run
//! # async fn demo() -> Result<(), sockerless_azure_sim::SimError> {
//! use sockerless_azure_sim::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! println!("Azure at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod acr_tasks;
pub mod arm;
pub mod auth;
pub mod blob;
pub mod config;
pub mod faults;
pub mod files;
pub mod loganalytics;
pub mod registry;
pub mod roles;
pub mod runner;
pub mod state;
mod util;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use serde_json::json;
use tokio::sync::oneshot;

pub use config::{EnvironmentSeed, FaultConfig, Profile, SimConfig, StorageAccountSeed, Timing};
use state::AppState;

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The emulator serves plain HTTP with bearer tokens, so only loopback.
    #[error("refusing to listen on {0}: only loopback addresses are allowed (plain HTTP)")]
    NotLoopback(SocketAddr),
    /// The data directory could not be created.
    #[error("cannot use data dir {path}: {source}")]
    DataDir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Name of the file in the data dir that holds this start's credentials.
pub const CREDENTIALS_FILE: &str = "credentials.json";

/// Writes the credentials clients need (`client_secret`, `identity_header`,
/// `registry_username`, `registry_password`) to [`CREDENTIALS_FILE`], mode
/// 0600 from creation: they are random per start and never logged.
fn write_credentials(data_dir: &std::path::Path, config: &SimConfig) -> Result<(), SimError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(CREDENTIALS_FILE);
    let body = serde_json::json!({
        "client_secret": config.client_secret,
        "identity_header": config.identity_header,
        "registry_username": config.registry_username,
        "registry_password": config.registry_password,
    });
    let _ = std::fs::remove_file(&path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(body.to_string().as_bytes()))
        .map_err(|source| SimError::DataDir {
            path: path.clone(),
            source,
        })?;
    tracing::info!(file = %path.display(), "emulator credentials (random unless given)");
    Ok(())
}

/// Entry point.
pub struct Simulator;

/// A running emulator. Dropping it without [`RunningSim::shutdown`] stops the
/// listener and removes the emulator's containers and network (blocking for
/// a few seconds at most), without waiting for executions to end.
pub struct RunningSim {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Binds the listener, removes containers left by an earlier emulator
    /// with the same data dir, and starts serving.
    pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
        if !config.listen.ip().is_loopback() {
            return Err(SimError::NotLoopback(config.listen));
        }
        let data_dir = match &config.data_dir {
            Some(d) => d.clone(),
            None => {
                std::env::temp_dir().join(format!("sockerless-azure-sim-{}", uuid::Uuid::new_v4()))
            }
        };
        std::fs::create_dir_all(&data_dir).map_err(|source| SimError::DataDir {
            path: data_dir.clone(),
            source,
        })?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(|source| SimError::DataDir {
                path: data_dir.clone(),
                source,
            })?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
        write_credentials(&data_dir, &config)?;
        let state = Arc::new(AppState::new(config, addr, data_dir));
        state.runner.remove_leftovers().await;
        if let Err(e) = state.runner.prepare_network().await {
            tracing::warn!(error = %e, "no replica network yet (executions retry when they start)");
        }
        let app = router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator listener failed");
            }
        });
        tracing::info!(%addr, "azure emulator listening");
        Ok(RunningSim {
            addr,
            state,
            stop: Some(tx),
            server,
        })
    }
}

impl RunningSim {
    /// Bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: base of every endpoint (token, ARM, Log
    /// Analytics, registry).
    pub fn base_url(&self) -> String {
        self.state.base_url()
    }

    /// Registry login server (`127.0.0.1:PORT`).
    pub fn registry_host(&self) -> String {
        self.state.registry_host()
    }

    /// The emulator's registry as ARM names it (`registries/{name}`, for the
    /// ACR Tasks operations); its login server is [`RunningSim::registry_host`].
    pub fn registry_name(&self) -> &'static str {
        acr_tasks::REGISTRY_NAME
    }

    /// The bridge network replicas run on (`None` when the engine could not
    /// be reached at start; executions then try again).
    pub fn network(&self) -> Option<runner::SimNetwork> {
        self.state.runner.network()
    }

    /// The host's address on the replica network: services the replicas must
    /// reach (an agent endpoint) listen there; the host's loopback is out of
    /// their reach. Also served as `GET /_sim/network`.
    pub fn gateway(&self) -> Option<std::net::IpAddr> {
        self.network().map(|n| n.gateway)
    }

    /// The Azure Files endpoint of storage account `account` (its file
    /// service URL, as `https://{account}.file.core.windows.net` in Azure).
    pub fn file_endpoint(&self, account: &str) -> String {
        format!("{}/files/{account}", self.state.base_url())
    }

    /// Data directory in use.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.state.data_dir
    }

    /// Stops the listener, stops running executions and removes the
    /// emulator's containers, the network it created and the registry's
    /// files (their index goes with the process).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.state.tasks.cancel_all();
        self.state.runner.shutdown().await;
        let _ = (&mut self.server).await;
        self.state.registry().remove_files();
        self.state.blobs().remove_files();
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
            // Not shut down: remove containers and network on a thread of its
            // own (this may run inside a runtime that is going away).
            let state = self.state.clone();
            state.tasks.cancel_all();
            state.runner.close();
            let (done, wait) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(state.runner.remove_leftovers());
                }
                let _ = done.send(());
            });
            let _ = wait.recv_timeout(std::time::Duration::from_secs(20));
            self.state.registry().remove_files();
            self.state.blobs().remove_files();
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(auth::endpoints::token_endpoint))
        .route("/msi/token", get(auth::endpoints::msi_endpoint))
        .merge(arm::router(state.clone()))
        .merge(acr_tasks::router(state.clone()))
        .route("/blob/{account}/{container}/{*path}", any(blob::dispatch))
        .route(
            "/v1/workspaces/{workspaceId}/query",
            get(loganalytics::query).post(loganalytics::query),
        )
        .route("/v2/", get(registry::base))
        .route("/v2/_catalog", get(registry::catalog))
        .route("/v2/{*rest}", any(registry::dispatch))
        .route("/acr/v1/_catalog", get(registry::catalog))
        .route("/oauth2/exchange", post(registry::auth::exchange))
        .route(
            "/oauth2/token",
            get(registry::auth::token_get).post(registry::auth::token_post),
        )
        .route(
            "/_sim/requests",
            get(faults::routes::list_requests).delete(faults::routes::clear_requests),
        )
        .route("/_sim/faults", get(faults::routes::get_faults).put(faults::routes::put_faults))
        .route("/_sim/network", get(faults::routes::get_network))
        .route("/_sim/config", get(faults::routes::get_config))
        .route("/_sim/timing", axum::routing::put(faults::routes::put_timing))
        .route("/files/{account}/{share}", any(files::dispatch_share))
        .route("/files/{account}/{share}/{*path}", any(files::dispatch_path))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": {"code": "NotFound", "message": "No route matches this request in the Azure emulator."}})),
            )
                .into_response()
        })
        .layer(DefaultBodyLimit::max(2 << 30))
        .layer(middleware::from_fn_with_state(state.clone(), faults::routes::middleware))
        .with_state(state)
}
