//! `impl Backend for AcaBackend`: each Docker operation delegates to the
//! module that owns it (containers, exec, images, networks, volumes); the
//! system operations (version, info, ping) are answered here.

use std::collections::HashMap;

use async_trait::async_trait;
use sockerless_api::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    ContainerWaitResponse, ExecConfig, ExecInspectResponse, ExecStartConfig, IdResponse,
    ImageDeleteResponseItem, ImageInspect, ImageSummary, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect,
    NetworkPruneResponse, SystemInfo, SystemVersion, SystemVersionComponents,
    SystemVersionPlatform, Volume, VolumeCreateRequest, VolumeListResponse, VolumePruneResponse,
};
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, Backend, BackendInfo, ByteStream,
    CreateContainerRequest, EventStream, Filters, InputStream, ListContainersOptions,
    ListImagesOptions, LogsOptions, PathStat, ProgressStream, PullImageOptions,
    RemoveContainerOptions, RemoveImageOptions, StopOptions, WaitCondition,
};

use super::{
    AcaBackend, BACKEND_NAME, CONSUMPTION_MAX_CPUS, CONSUMPTION_MAX_MEMORY, DOCKER_API_VERSION,
    DOCKER_MIN_API_VERSION, backend_info,
};

#[async_trait]
impl Backend for AcaBackend {
    async fn capabilities(&self) -> sockerless_api::Result<BackendInfo> {
        Ok(backend_info())
    }

    async fn ping(&self) -> sockerless_api::Result<()> {
        self.inner.store.check_open().map_err(ApiError::from)
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
        let images = self.inner.store.image_count().await?;
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

    async fn image_prune(
        &self,
        filters: Filters,
    ) -> sockerless_api::Result<sockerless_api::docker::ImagePruneResponse> {
        crate::images::prune::prune(self, filters).await
    }

    async fn image_save(
        &self,
        names: Vec<String>,
    ) -> sockerless_api::Result<sockerless_api::ByteStream> {
        crate::images::save::save(self, names).await
    }

    async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<sockerless_api::docker::AuthConfig>,
    ) -> sockerless_api::Result<sockerless_api::PushStream> {
        crate::images::push::push(self, name, tag, auth).await
    }

    async fn image_import(
        &self,
        opts: sockerless_api::ImportImageOptions,
        tarball: sockerless_api::ByteStream,
    ) -> sockerless_api::Result<sockerless_api::ProgressStream> {
        crate::images::import::import(self, opts, tarball).await
    }

    async fn image_build(
        &self,
        opts: sockerless_api::BuildImageOptions,
        context: sockerless_api::ByteStream,
    ) -> sockerless_api::Result<sockerless_api::BuildStream> {
        crate::images::build::build(self, opts, context).await
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<sockerless_api::docker::AuthConfig>,
    ) -> sockerless_api::Result<sockerless_api::docker::DistributionInspect> {
        crate::images::distribution::inspect(self, name, auth).await
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

    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> sockerless_api::Result<sockerless_api::docker::ContainerTopResponse> {
        crate::ops::top::top(self, id, ps_args).await
    }

    async fn container_stats(
        &self,
        id: &str,
        stream: bool,
        one_shot: bool,
    ) -> sockerless_api::Result<sockerless_api::StatsStream> {
        crate::ops::stats::stats(self, id, stream, one_shot).await
    }

    async fn container_pause(&self, id: &str) -> sockerless_api::Result<()> {
        crate::ops::pause::pause(self, id).await
    }

    async fn container_unpause(&self, id: &str) -> sockerless_api::Result<()> {
        crate::ops::pause::unpause(self, id).await
    }

    async fn container_export(
        &self,
        id: &str,
    ) -> sockerless_api::Result<sockerless_api::ByteStream> {
        crate::ops::export::export(self, id).await
    }

    async fn container_update(
        &self,
        id: &str,
        update: sockerless_api::docker::ContainerUpdateBody,
    ) -> sockerless_api::Result<sockerless_api::docker::ContainerUpdateResponse> {
        crate::containers::update::update(self, id, update).await
    }

    async fn container_prune(
        &self,
        filters: Filters,
    ) -> sockerless_api::Result<sockerless_api::docker::ContainerPruneResponse> {
        crate::containers::prune::prune(self, filters).await
    }

    async fn container_changes(
        &self,
        id: &str,
    ) -> sockerless_api::Result<Vec<sockerless_api::docker::FilesystemChange>> {
        crate::containers::diff::changes(self, id).await
    }

    async fn container_commit(
        &self,
        opts: sockerless_api::CommitOptions,
    ) -> sockerless_api::Result<sockerless_api::docker::IdResponse> {
        crate::containers::commit::commit(self, opts).await
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
    crate::clock::rfc3339(crate::clock::now_nanos())
}
