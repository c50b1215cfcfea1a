//! `Backend` over the internal HTTP API: each method calls its route from
//! [`crate::routes`] (the table the server mounts).

use async_trait::async_trait;

use super::RemoteBackend;
use crate::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse,
    ContainerPruneResponse, ContainerSummary, ContainerTopResponse, ContainerUpdateBody,
    ContainerUpdateResponse, ContainerWaitResponse, DistributionInspect, ExecConfig,
    ExecInspectResponse, ExecStartConfig, FilesystemChange, IdResponse, ImageDeleteResponseItem,
    ImageInspect, ImagePruneResponse, ImageSummary, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect, NetworkPruneResponse,
    SystemInfo, SystemVersion, Volume, VolumeCreateRequest, VolumeListResponse,
    VolumePruneResponse,
};
use crate::routes as r;
use crate::wire::{
    self, DistributionBody, EventsOptions, FiltersBody, KillBody, LoadOptions, PathBody,
    PushOptions, RenameBody, ResizeBody, SaveOptions, StatsOptions, TagBody, TopBody,
    VolumeRemoveBody, WaitBody, pct_decode,
};
use crate::{
    ApiError, AttachOptions, AttachedOutput, Backend, BackendInfo, BuildImageOptions, BuildStream,
    ByteStream, CommitOptions, CreateContainerRequest, EventStream, Filters, ImportImageOptions,
    InputStream, ListContainersOptions, ListImagesOptions, LogsOptions, PathStat, ProgressStream,
    PullImageOptions, PushStream, RemoveContainerOptions, RemoveImageOptions, Result, StatsStream,
    StopOptions, WaitCondition,
};

/// Stands in for "no body" where a body type must be named.
const NO_BODY: Option<&()> = None;

fn filters(filters: Filters) -> Option<FiltersBody> {
    Some(FiltersBody { filters })
}

#[async_trait]
impl Backend for RemoteBackend {
    // ---- system -----------------------------------------------------------

    async fn capabilities(&self) -> Result<BackendInfo> {
        self.call(&r::CAPABILITIES, &[], NO_BODY).await
    }

    async fn ping(&self) -> Result<()> {
        self.call_empty(&r::PING, &[], NO_BODY).await
    }

    async fn system_info(&self) -> Result<SystemInfo> {
        self.call(&r::SYSTEM_INFO, &[], NO_BODY).await
    }

    async fn system_version(&self) -> Result<SystemVersion> {
        self.call(&r::SYSTEM_VERSION, &[], NO_BODY).await
    }

    async fn auth(&self, config: AuthConfig) -> Result<AuthResponse> {
        self.call(&r::AUTH, &[], Some(&config)).await
    }

    async fn events(
        &self,
        since_nanos: Option<i64>,
        until_nanos: Option<i64>,
        filters: Filters,
    ) -> Result<EventStream> {
        let opts = EventsOptions {
            since_nanos,
            until_nanos,
            filters,
        };
        self.item_stream(&r::EVENTS, &[], &opts, None).await
    }

    // ---- containers -------------------------------------------------------

    async fn container_create(
        &self,
        req: CreateContainerRequest,
    ) -> Result<ContainerCreateResponse> {
        self.call(&r::CONTAINER_CREATE, &[], Some(&req)).await
    }

    async fn container_start(&self, id: &str) -> Result<()> {
        self.call_empty(&r::CONTAINER_START, &[id], NO_BODY).await
    }

    async fn container_inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.call(&r::CONTAINER_INSPECT, &[id], NO_BODY).await
    }

    async fn container_list(&self, opts: ListContainersOptions) -> Result<Vec<ContainerSummary>> {
        self.call(&r::CONTAINER_LIST, &[], Some(&opts)).await
    }

    async fn container_logs(&self, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
        self.output_stream(&r::CONTAINER_LOGS, &[id], &opts, None)
            .await
    }

    async fn container_stop(&self, id: &str, opts: StopOptions) -> Result<()> {
        self.call_empty(&r::CONTAINER_STOP, &[id], Some(&opts))
            .await
    }

    async fn container_restart(&self, id: &str, opts: StopOptions) -> Result<()> {
        self.call_empty(&r::CONTAINER_RESTART, &[id], Some(&opts))
            .await
    }

    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()> {
        let body = KillBody { signal };
        self.call_empty(&r::CONTAINER_KILL, &[id], Some(&body))
            .await
    }

    async fn container_remove(&self, id: &str, opts: RemoveContainerOptions) -> Result<()> {
        self.call_empty(&r::CONTAINER_REMOVE, &[id], Some(&opts))
            .await
    }

    async fn container_wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> Result<ContainerWaitResponse> {
        let body = WaitBody { condition };
        self.call(&r::CONTAINER_WAIT, &[id], Some(&body)).await
    }

    async fn container_attach(
        &self,
        id: &str,
        opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        self.output_stream(&r::CONTAINER_ATTACH, &[id], &opts, stdin)
            .await
    }

    async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let body = ResizeBody { height, width };
        self.call_empty(&r::CONTAINER_RESIZE, &[id], Some(&body))
            .await
    }

    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()> {
        let body = RenameBody {
            name: new_name.to_owned(),
        };
        self.call_empty(&r::CONTAINER_RENAME, &[id], Some(&body))
            .await
    }

    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        let body = PathBody {
            path: path.to_owned(),
        };
        self.call(&r::CONTAINER_ARCHIVE_STAT, &[id], Some(&body))
            .await
    }

    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        let body = PathBody {
            path: path.to_owned(),
        };
        let (headers, bytes) = self
            .byte_stream(&r::CONTAINER_ARCHIVE_GET, &[id], &body)
            .await?;
        let stat = headers
            .get(wire::PATH_STAT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(pct_decode)
            .and_then(|json| serde_json::from_str::<PathStat>(&json).ok())
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "backend at {}: archive answer without path stat",
                    self.addr
                ))
            })?;
        Ok((stat, bytes))
    }

    async fn container_archive_put(&self, id: &str, path: &str, tar: ByteStream) -> Result<()> {
        let body = PathBody {
            path: path.to_owned(),
        };
        self.upload_stream(&r::CONTAINER_ARCHIVE_PUT, &[id], &body, tar)
            .await
    }

    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> Result<ContainerTopResponse> {
        let body = TopBody { ps_args };
        self.call(&r::CONTAINER_TOP, &[id], Some(&body)).await
    }

    async fn container_stats(&self, id: &str, stream: bool, one_shot: bool) -> Result<StatsStream> {
        let opts = StatsOptions { stream, one_shot };
        self.item_stream(&r::CONTAINER_STATS, &[id], &opts, None)
            .await
    }

    async fn container_pause(&self, id: &str) -> Result<()> {
        self.call_empty(&r::CONTAINER_PAUSE, &[id], NO_BODY).await
    }

    async fn container_unpause(&self, id: &str) -> Result<()> {
        self.call_empty(&r::CONTAINER_UNPAUSE, &[id], NO_BODY).await
    }

    async fn container_export(&self, id: &str) -> Result<ByteStream> {
        let (_, bytes) = self.byte_stream(&r::CONTAINER_EXPORT, &[id], &()).await?;
        Ok(bytes)
    }

    async fn container_update(
        &self,
        id: &str,
        update: ContainerUpdateBody,
    ) -> Result<ContainerUpdateResponse> {
        self.call(&r::CONTAINER_UPDATE, &[id], Some(&update)).await
    }

    async fn container_prune(&self, f: Filters) -> Result<ContainerPruneResponse> {
        self.call(&r::CONTAINER_PRUNE, &[], filters(f).as_ref())
            .await
    }

    async fn container_changes(&self, id: &str) -> Result<Vec<FilesystemChange>> {
        self.call(&r::CONTAINER_CHANGES, &[id], NO_BODY).await
    }

    async fn container_commit(&self, opts: CommitOptions) -> Result<IdResponse> {
        self.call(&r::CONTAINER_COMMIT, &[], Some(&opts)).await
    }

    // ---- exec -------------------------------------------------------------

    async fn exec_create(&self, container_id: &str, config: ExecConfig) -> Result<IdResponse> {
        self.call(&r::EXEC_CREATE, &[container_id], Some(&config))
            .await
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        self.output_stream(&r::EXEC_START, &[exec_id], &config, stdin)
            .await
    }

    async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse> {
        self.call(&r::EXEC_INSPECT, &[exec_id], NO_BODY).await
    }

    async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<()> {
        let body = ResizeBody { height, width };
        self.call_empty(&r::EXEC_RESIZE, &[exec_id], Some(&body))
            .await
    }

    // ---- images -----------------------------------------------------------

    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> Result<ProgressStream> {
        self.item_stream(&r::IMAGE_PULL, &[], &opts, auth).await
    }

    async fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        self.call(&r::IMAGE_INSPECT, &[name], NO_BODY).await
    }

    async fn image_list(&self, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        self.call(&r::IMAGE_LIST, &[], Some(&opts)).await
    }

    async fn image_load(&self, tarball: ByteStream, quiet: bool) -> Result<ProgressStream> {
        self.upload_progress(&r::IMAGE_LOAD, &LoadOptions { quiet }, tarball)
            .await
    }

    async fn image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        let body = TagBody {
            repo: repo.to_owned(),
            tag: tag.map(str::to_owned),
        };
        self.call_empty(&r::IMAGE_TAG, &[name], Some(&body)).await
    }

    async fn image_remove(
        &self,
        name: &str,
        opts: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        self.call(&r::IMAGE_REMOVE, &[name], Some(&opts)).await
    }

    async fn image_prune(&self, f: Filters) -> Result<ImagePruneResponse> {
        self.call(&r::IMAGE_PRUNE, &[], filters(f).as_ref()).await
    }

    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        let opts = SaveOptions { names };
        let (_, bytes) = self.byte_stream(&r::IMAGE_SAVE, &[], &opts).await?;
        Ok(bytes)
    }

    async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
    ) -> Result<PushStream> {
        let opts = PushOptions {
            name: name.to_owned(),
            tag: tag.map(str::to_owned),
        };
        self.item_stream(&r::IMAGE_PUSH, &[], &opts, auth).await
    }

    async fn image_import(
        &self,
        opts: ImportImageOptions,
        tarball: ByteStream,
    ) -> Result<ProgressStream> {
        self.upload_progress(&r::IMAGE_IMPORT, &opts, tarball).await
    }

    async fn image_build(
        &self,
        opts: BuildImageOptions,
        context: ByteStream,
    ) -> Result<BuildStream> {
        self.upload_progress(&r::IMAGE_BUILD, &opts, context).await
    }

    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<AuthConfig>,
    ) -> Result<DistributionInspect> {
        let body = DistributionBody {
            name: name.to_owned(),
            auth,
        };
        self.call(&r::DISTRIBUTION_INSPECT, &[], Some(&body)).await
    }

    // ---- networks ---------------------------------------------------------

    async fn network_create(&self, req: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        self.call(&r::NETWORK_CREATE, &[], Some(&req)).await
    }

    async fn network_list(&self, f: Filters) -> Result<Vec<NetworkInspect>> {
        self.call(&r::NETWORK_LIST, &[], filters(f).as_ref()).await
    }

    async fn network_inspect(&self, id: &str) -> Result<NetworkInspect> {
        self.call(&r::NETWORK_INSPECT, &[id], NO_BODY).await
    }

    async fn network_connect(&self, id: &str, req: NetworkConnectRequest) -> Result<()> {
        self.call_empty(&r::NETWORK_CONNECT, &[id], Some(&req))
            .await
    }

    async fn network_disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> Result<()> {
        self.call_empty(&r::NETWORK_DISCONNECT, &[id], Some(&req))
            .await
    }

    async fn network_remove(&self, id: &str) -> Result<()> {
        self.call_empty(&r::NETWORK_REMOVE, &[id], NO_BODY).await
    }

    async fn network_prune(&self, f: Filters) -> Result<NetworkPruneResponse> {
        self.call(&r::NETWORK_PRUNE, &[], filters(f).as_ref()).await
    }

    // ---- volumes ----------------------------------------------------------

    async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        self.call(&r::VOLUME_CREATE, &[], Some(&req)).await
    }

    async fn volume_list(&self, f: Filters) -> Result<VolumeListResponse> {
        self.call(&r::VOLUME_LIST, &[], filters(f).as_ref()).await
    }

    async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        self.call(&r::VOLUME_INSPECT, &[name], NO_BODY).await
    }

    async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let body = VolumeRemoveBody { force };
        self.call_empty(&r::VOLUME_REMOVE, &[name], Some(&body))
            .await
    }

    async fn volume_prune(&self, f: Filters) -> Result<VolumePruneResponse> {
        self.call(&r::VOLUME_PRUNE, &[], filters(f).as_ref()).await
    }
}
