//! [`AcaBackend`]: the `sockerless_api::Backend` of Azure Container Apps.
//!
//! This issue builds the system operations; the container lifecycle is built
//! on the same clients and store by later issues. Until then every other
//! operation answers the trait's `NotImplemented`, naming the operation.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use sockerless_api::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    ContainerWaitResponse, ExecConfig, ExecInspectResponse, ExecStartConfig, IdResponse,
    ImageDeleteResponseItem, ImageInspect, ImageSummary, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect,
    NetworkPruneResponse, SystemInfo, SystemVersion, SystemVersionComponents,
    SystemVersionPlatform, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, Backend, BackendInfo, ByteStream, Capabilities,
    CreateContainerRequest, EventStream, Filters, InputStream, ListContainersOptions,
    ListImagesOptions, LogsOptions, PathStat, ProgressStream, PullImageOptions,
    RemoveContainerOptions, RemoveImageOptions, StopOptions, WaitCondition,
};

pub use crate::azure::clients::AzureClients;
use crate::azure::credential::ChainedCredential;
use crate::azure::pipeline::AzureOptions;
use crate::config::Config;
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
                let endpoint = crate::agent_link::endpoint::start(self.clone()).await?;
                crate::runtime::poller::reconcile(self).await;
                Ok::<_, ApiError>(endpoint)
            })
            .await?;
        Ok(endpoint.clone())
    }

    /// The running agent endpoint, started on first use.
    pub async fn agent_endpoint(&self) -> Result<crate::agent_link::AgentEndpoint, ApiError> {
        self.start_agent_endpoint().await
    }

    /// ARM reads and writes made on behalf of container `id` by this process
    /// (also shown by `docker inspect` under `HostConfig.Annotations`).
    pub fn arm_calls(&self, id: &str) -> crate::azure::pipeline::ArmCallCounts {
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
                crate::azure::loganalytics::resolve_customer_id(&self.inner.azure.arm, workspace)
            })
            .await?;
        Ok(Some(id.clone()))
    }

    /// Closes the store (at shutdown).
    pub async fn close(&self) -> Result<(), StoreError> {
        self.inner.store.close().await
    }
}

#[async_trait]
impl Backend for AcaBackend {
    async fn capabilities(&self) -> sockerless_api::Result<BackendInfo> {
        Ok(backend_info())
    }

    async fn ping(&self) -> sockerless_api::Result<()> {
        self.inner
            .store
            .call(|c| c.query_row("SELECT 1", [], |_| Ok(())))
            .await
            .map_err(ApiError::from)
    }

    async fn system_version(&self) -> sockerless_api::Result<SystemVersion> {
        let version = env!("CARGO_PKG_VERSION").to_owned();
        let details = HashMap::from([
            ("ApiVersion".to_owned(), DOCKER_API_VERSION.to_owned()),
            ("Backend".to_owned(), BACKEND_NAME.to_owned()),
        ]);
        Ok(SystemVersion {
            platform: Some(SystemVersionPlatform {
                name: "Sockerless (Azure Container Apps)".to_owned(),
            }),
            components: Some(vec![SystemVersionComponents {
                name: "Engine".to_owned(),
                version: version.clone(),
                details: Some(details),
            }]),
            version: Some(version),
            api_version: Some(DOCKER_API_VERSION.to_owned()),
            min_api_version: Some(DOCKER_MIN_API_VERSION.to_owned()),
            os: Some("linux".to_owned()),
            arch: Some("amd64".to_owned()),
            experimental: Some(false),
            ..Default::default()
        })
    }

    /// Counts come from the store; the managed environment is read from ARM so
    /// that a missing or unreachable environment shows up as a warning.
    async fn system_info(&self) -> sockerless_api::Result<SystemInfo> {
        let counts = self.inner.store.container_counts().await?;
        let images: i64 = self
            .inner
            .store
            .call(|c| c.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0)))
            .await?;
        let config = &self.inner.config;
        let warnings: Vec<String> = self.check_environment().await.into_iter().collect();
        Ok(SystemInfo {
            id: Some(self.inner.azure.environment.id().to_owned()),
            containers: Some(counts.total),
            containers_running: Some(counts.running),
            containers_paused: Some(counts.paused),
            containers_stopped: Some(counts.stopped),
            images: Some(images),
            driver: Some(BACKEND_NAME.to_owned()),
            docker_root_dir: Some(config.data_dir.display().to_string()),
            system_time: Some(now_rfc3339()),
            logging_driver: Some("json-file".to_owned()),
            kernel_version: Some("n/a (Azure Container Apps)".to_owned()),
            operating_system: Some(format!(
                "Azure Container Apps (environment {}, {})",
                config.managed_environment_name, config.location
            )),
            os_version: Some(String::new()),
            os_type: Some("linux".to_owned()),
            architecture: Some("x86_64".to_owned()),
            ncpu: Some(CONSUMPTION_MAX_CPUS),
            mem_total: Some(CONSUMPTION_MAX_MEMORY),
            index_server_address: Some("https://index.docker.io/v1/".to_owned()),
            name: Some(config.managed_environment_name.clone()),
            labels: Some(vec![
                format!("sockerless.backend={BACKEND_NAME}"),
                format!("sockerless.aca.location={}", config.location),
                format!("sockerless.aca.resource_group={}", config.resource_group),
            ]),
            server_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            warnings: Some(warnings),
            ..Default::default()
        })
    }

    async fn auth(&self, config: AuthConfig) -> sockerless_api::Result<AuthResponse> {
        crate::images::auth(self, config).await
    }

    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> sockerless_api::Result<ProgressStream> {
        crate::images::pull(self, opts, auth).await
    }

    async fn image_inspect(&self, name: &str) -> sockerless_api::Result<ImageInspect> {
        crate::images::inspect(self, name).await
    }

    async fn image_list(
        &self,
        opts: ListImagesOptions,
    ) -> sockerless_api::Result<Vec<ImageSummary>> {
        crate::images::list(self, opts).await
    }

    async fn image_load(
        &self,
        tarball: ByteStream,
        quiet: bool,
    ) -> sockerless_api::Result<ProgressStream> {
        crate::images::load(self, tarball, quiet).await
    }

    async fn image_tag(
        &self,
        name: &str,
        repo: &str,
        tag: Option<&str>,
    ) -> sockerless_api::Result<()> {
        crate::images::tag(self, name, repo, tag).await
    }

    async fn image_remove(
        &self,
        name: &str,
        opts: RemoveImageOptions,
    ) -> sockerless_api::Result<Vec<ImageDeleteResponseItem>> {
        crate::images::remove(self, name, opts).await
    }

    async fn network_create(
        &self,
        req: NetworkCreateRequest,
    ) -> sockerless_api::Result<NetworkCreateResponse> {
        crate::networks::create(self, req).await
    }

    async fn network_list(&self, filters: Filters) -> sockerless_api::Result<Vec<NetworkInspect>> {
        crate::networks::list(self, filters).await
    }

    async fn network_inspect(&self, id: &str) -> sockerless_api::Result<NetworkInspect> {
        crate::networks::inspect(self, id).await
    }

    async fn network_connect(
        &self,
        id: &str,
        req: NetworkConnectRequest,
    ) -> sockerless_api::Result<()> {
        crate::networks::connect(self, id, req).await
    }

    async fn network_disconnect(
        &self,
        id: &str,
        req: NetworkDisconnectRequest,
    ) -> sockerless_api::Result<()> {
        crate::networks::disconnect(self, id, req).await
    }

    async fn network_remove(&self, id: &str) -> sockerless_api::Result<()> {
        crate::networks::remove(self, id).await
    }

    async fn network_prune(
        &self,
        filters: Filters,
    ) -> sockerless_api::Result<NetworkPruneResponse> {
        crate::networks::prune(self, filters).await
    }

    async fn volume_create(&self, req: VolumeCreateRequest) -> sockerless_api::Result<Volume> {
        crate::volumes::create(self, req).await
    }

    async fn volume_list(&self, filters: Filters) -> sockerless_api::Result<VolumeListResponse> {
        crate::volumes::list(self, filters).await
    }

    async fn volume_inspect(&self, name: &str) -> sockerless_api::Result<Volume> {
        crate::volumes::inspect(self, name).await
    }

    async fn volume_remove(&self, name: &str, force: bool) -> sockerless_api::Result<()> {
        crate::volumes::remove(self, name, force).await
    }

    async fn volume_prune(&self, filters: Filters) -> sockerless_api::Result<VolumePruneResponse> {
        crate::volumes::prune(self, filters).await
    }

    async fn container_create(
        &self,
        req: CreateContainerRequest,
    ) -> sockerless_api::Result<ContainerCreateResponse> {
        crate::containers::create(self, req).await
    }

    async fn container_start(&self, id: &str) -> sockerless_api::Result<()> {
        crate::containers::start(self, id).await
    }

    async fn container_inspect(
        &self,
        id: &str,
    ) -> sockerless_api::Result<ContainerInspectResponse> {
        crate::containers::inspect(self, id).await
    }

    async fn container_list(
        &self,
        opts: ListContainersOptions,
    ) -> sockerless_api::Result<Vec<ContainerSummary>> {
        crate::containers::list(self, opts).await
    }

    async fn container_logs(
        &self,
        id: &str,
        opts: LogsOptions,
    ) -> sockerless_api::Result<AttachedOutput> {
        crate::containers::logs(self, id, opts).await
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> sockerless_api::Result<()> {
        crate::containers::stop(self, id, opts).await
    }

    async fn container_restart(&self, id: &str, opts: StopOptions) -> sockerless_api::Result<()> {
        crate::containers::restart(self, id, opts).await
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> sockerless_api::Result<()> {
        crate::containers::kill(self, id, signal).await
    }

    async fn container_remove(
        &self,
        id: &str,
        opts: RemoveContainerOptions,
    ) -> sockerless_api::Result<()> {
        crate::containers::remove(self, id, opts).await
    }

    async fn container_wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> sockerless_api::Result<ContainerWaitResponse> {
        crate::containers::wait(self, id, condition).await
    }

    async fn container_attach(
        &self,
        id: &str,
        opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> sockerless_api::Result<AttachedOutput> {
        crate::containers::attach(self, id, opts, stdin).await
    }

    async fn container_resize(
        &self,
        id: &str,
        height: u16,
        width: u16,
    ) -> sockerless_api::Result<()> {
        crate::containers::resize(self, id, height, width).await
    }

    async fn container_rename(&self, id: &str, new_name: &str) -> sockerless_api::Result<()> {
        crate::containers::rename(self, id, new_name).await
    }

    async fn container_archive_stat(
        &self,
        id: &str,
        path: &str,
    ) -> sockerless_api::Result<PathStat> {
        crate::containers::archive_stat(self, id, path).await
    }

    async fn container_archive_get(
        &self,
        id: &str,
        path: &str,
    ) -> sockerless_api::Result<(PathStat, ByteStream)> {
        crate::containers::archive_get(self, id, path).await
    }

    async fn container_archive_put(
        &self,
        id: &str,
        path: &str,
        tar: ByteStream,
    ) -> sockerless_api::Result<()> {
        crate::containers::archive_put(self, id, path, tar).await
    }

    async fn events(
        &self,
        since_nanos: Option<i64>,
        until_nanos: Option<i64>,
        filters: Filters,
    ) -> sockerless_api::Result<EventStream> {
        crate::containers::events(self, since_nanos, until_nanos, filters).await
    }

    async fn exec_create(
        &self,
        container_id: &str,
        config: ExecConfig,
    ) -> sockerless_api::Result<IdResponse> {
        crate::exec::create(self, container_id, config).await
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> sockerless_api::Result<AttachedOutput> {
        crate::exec::start(self, exec_id, config, stdin).await
    }

    async fn exec_inspect(&self, exec_id: &str) -> sockerless_api::Result<ExecInspectResponse> {
        crate::exec::inspect(self, exec_id).await
    }

    async fn exec_resize(
        &self,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> sockerless_api::Result<()> {
        crate::exec::resize(self, exec_id, height, width).await
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
