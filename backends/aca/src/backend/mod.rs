//! [`AcaBackend`]: the `sockerless_api::Backend` of Azure Container Apps.
//!
//! This module builds the backend (configuration, credential, Azure
//! clients, state store, event hub, agent endpoint and relay) and holds
//! what every operation shares; [`backend_info`] is its capabilities.
//! `impl Backend` is in `trait_impl.rs`: each Docker operation delegates
//! to the module that owns it.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use sockerless_api::{ApiError, BackendInfo, Capabilities};
use sockerless_azure::credential::ChainedCredential;
use sockerless_azure::pipeline::AzureOptions;

pub use crate::clients::AzureClients;
use crate::config::Config;
use crate::errors::map_azure_error;
use crate::store::{Store, StoreError};

/// Backend name reported in capabilities and `docker info`.
pub const BACKEND_NAME: &str = "aca";
/// Docker Engine API version the frontend speaks.
pub const DOCKER_API_VERSION: &str = "1.44";
/// Oldest Docker API version accepted.
pub const DOCKER_MIN_API_VERSION: &str = "1.24";
/// vCPUs of the largest replica of the ACA Consumption profile.
pub const CONSUMPTION_MAX_CPUS: i64 = 4;
/// Memory (bytes) of the largest replica of the ACA Consumption profile (8 GiB).
pub const CONSUMPTION_MAX_MEMORY: i64 = 8 * 1024 * 1024 * 1024;

/// The capabilities of this backend (ACA-001).
pub fn backend_info() -> BackendInfo {
    BackendInfo {
        backend: BACKEND_NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        capabilities: Capabilities {
            exec: true,
            attach: true,
            logs: true,
            logs_follow: true,
            volumes: true,
            networks: true,
            health_checks: true,
            image_pull: true,
            image_load: true,
            max_timeout_seconds: 0,
            agent_required: true,
        },
    }
}

/// Why the backend could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backend instance ID could not be read or written.
    #[error("backend instance ID in the data directory: {0}")]
    InstanceId(std::io::Error),
}

/// The ACA backend; cheap to clone.
#[derive(Debug, Clone)]
pub struct AcaBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Store,
    azure: AzureClients,
    workspace_customer_id: tokio::sync::OnceCell<String>,
    instance_id: String,
    runtimes: crate::runtime::state::Runtimes,
    agent_endpoint: tokio::sync::OnceCell<crate::agent_link::AgentEndpoint>,
    execs: crate::exec::ExecTable,
    relay: crate::relay::Relay,
    volumes: crate::volumes::storage::VolumeState,
    events: crate::events::EventHub,
}

impl AcaBackend {
    /// Opens the store under `config.data_dir` and builds the Azure clients
    /// with the standard credential chain (read from the process environment).
    pub async fn new(config: Config) -> Result<Self, BackendError> {
        let credential = Arc::new(ChainedCredential::from_environment(
            crate::config::process_env(),
            &config.authority_host,
        ));
        Self::with_credential(config, credential, AzureOptions::default()).await
    }

    /// Like [`AcaBackend::new`] with an explicit credential and options.
    pub async fn with_credential(
        config: Config,
        credential: Arc<dyn TokenCredential>,
        options: AzureOptions,
    ) -> Result<Self, BackendError> {
        let store = Store::open_async(config.database_path()).await?;
        let azure = AzureClients::new(&config, credential, options);
        let events = crate::events::EventHub::open(store.clone()).await?;
        let data_dir = config.data_dir.clone();
        let instance_id =
            tokio::task::spawn_blocking(move || crate::runtime::load_instance_id(&data_dir))
                .await
                .map_err(|e| BackendError::InstanceId(std::io::Error::other(e.to_string())))?
                .map_err(BackendError::InstanceId)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                azure,
                workspace_customer_id: tokio::sync::OnceCell::new(),
                instance_id,
                runtimes: Default::default(),
                agent_endpoint: tokio::sync::OnceCell::new(),
                execs: Default::default(),
                relay: Default::default(),
                volumes: Default::default(),
                events,
            }),
        })
    }

    /// This backend's instance ID (random, persisted in `data_dir/instance-id`;
    /// every job carries it as the `sockerless-instance` tag).
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// Running execs.
    pub fn execs(&self) -> &crate::exec::ExecTable {
        &self.inner.execs
    }

    /// In-memory state of containers (agent connections, waiters, output subscribers).
    pub fn runtimes(&self) -> &crate::runtime::state::Runtimes {
        &self.inner.runtimes
    }

    /// What is ready in Azure for volumes (share, environment storages).
    pub fn volume_state(&self) -> &crate::volumes::storage::VolumeState {
        &self.inner.volumes
    }

    /// The relay between containers' agents.
    pub fn relay(&self) -> &crate::relay::Relay {
        &self.inner.relay
    }

    /// Starts the agent endpoint on `agent_listen` (once; later calls return
    /// the running one) and reconciles containers recorded as running.
    /// The daemon and the all-in-one call this at startup; `docker start`
    /// calls it too, so an embedder that forgets still works.
    pub async fn start_agent_endpoint(&self) -> Result<crate::agent_link::AgentEndpoint, ApiError> {
        let endpoint = self
            .inner
            .agent_endpoint
            .get_or_try_init(|| async {
                // Tokens first: an agent redialing the moment the endpoint
                // listens must find its run.
                crate::runtime::reconcile::arm_recorded(self).await;
                let endpoint = crate::agent_link::endpoint::start(self.clone()).await?;
                crate::runtime::collect::resume(self).await;
                crate::runtime::reconcile::spawn(self);
                Ok::<_, ApiError>(endpoint)
            })
            .await?;
        Ok(endpoint.clone())
    }

    /// The running agent endpoint, started on first use.
    pub async fn agent_endpoint(&self) -> Result<crate::agent_link::AgentEndpoint, ApiError> {
        self.start_agent_endpoint().await
    }

    /// ARM reads and writes made on behalf of container `id`, going on from
    /// what the store kept when this process first touched it (`docker
    /// inspect` shows them under `HostConfig.Annotations`).
    pub fn arm_calls(&self, id: &str) -> sockerless_azure::pipeline::ArmCallCounts {
        self.inner
            .runtimes
            .find(id)
            .map(|rt| rt.arm.counts())
            .unwrap_or_default()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The Azure clients.
    pub fn azure(&self) -> &AzureClients {
        &self.inner.azure
    }

    /// Checks that the managed environment exists; logs a warning naming its
    /// resource ID when it does not or cannot be read. Returns the warning.
    pub async fn check_environment(&self) -> Option<String> {
        let id = self.inner.azure.environment.id().to_owned();
        let warning = match self.inner.azure.environment.get().await {
            Ok(Some(env)) => {
                tracing::info!(
                    environment = %id,
                    provisioning_state = env.provisioning_state().unwrap_or("unknown"),
                    "managed environment found"
                );
                return None;
            }
            Ok(None) => format!(
                "managed environment {id} does not exist; create it before running containers"
            ),
            Err(err) => format!("cannot read managed environment {id}: {}", err.message()),
        };
        tracing::warn!(environment = %id, "{warning}");
        Some(warning)
    }

    /// The Log Analytics workspace customer ID (resolved once from an ARM ID
    /// when configured that way); `None` when no workspace is configured.
    pub async fn log_analytics_workspace(&self) -> Result<Option<String>, ApiError> {
        let Some(workspace) = self.inner.config.log_analytics_workspace_id.as_deref() else {
            return Ok(None);
        };
        let id = self
            .inner
            .workspace_customer_id
            .get_or_try_init(|| {
                sockerless_azure::loganalytics::resolve_customer_id(
                    &self.inner.azure.arm,
                    workspace,
                )
            })
            .await
            .map_err(map_azure_error)?;
        Ok(Some(id.clone()))
    }

    /// Fails the agent connection of container `id` (its full ID) as the
    /// network would (see `agent_link::cut`): frames in flight are lost,
    /// the failure is noticed a moment later, the agent dials again with
    /// its backoff, and what must survive a lost link (the main process's
    /// output and stdin, exec sessions) is resumed on the next connection.
    /// A test and operator hook, not part of the Docker API; false when the
    /// container has no agent connection.
    #[doc(hidden)]
    pub fn drop_agent_link(&self, id: &str) -> bool {
        let link = self.inner.runtimes.find(id).and_then(|rt| rt.agent());
        link.map(|link| link.cut()).is_some()
    }

    /// The Docker events hub.
    pub fn event_hub(&self) -> &crate::events::EventHub {
        &self.inner.events
    }

    /// Closes the store (at shutdown).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.inner.events.flush().await;
        self.inner.store.close().await
    }
}

mod trait_impl;

#[cfg(test)]
mod tests;
