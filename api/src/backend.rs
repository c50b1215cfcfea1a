//! The `Backend` trait: one method per internal endpoint.
//!
//! A frontend (the Docker API) drives any backend through this trait, either
//! in-process or through [`crate::RemoteBackend`] over the internal HTTP API.
//! Every method has a default that answers `NotImplemented` naming the
//! operation, so a backend states exactly what it has built.

use async_trait::async_trait;

use crate::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse,
    ContainerPruneResponse, ContainerSummary, ContainerTopResponse, ContainerUpdateBody,
    ContainerUpdateResponse, ContainerWaitResponse, DistributionInspect, EventMessage, ExecConfig,
    ExecInspectResponse, ExecStartConfig, FilesystemChange, IdResponse, ImageDeleteResponseItem,
    ImageInspect, ImagePruneResponse, ImageSummary, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect, NetworkPruneResponse,
    SystemInfo, SystemVersion, Volume, VolumeCreateRequest, VolumeListResponse,
    VolumePruneResponse,
};
use crate::{
    ApiError, AttachOptions, AttachedOutput, BackendInfo, BuildImageOptions, BuildStream,
    ByteStream, CommitOptions, CreateContainerRequest, Filters, ImportImageOptions, InputStream,
    ListContainersOptions, ListImagesOptions, LogsOptions, PathStat, ProgressStream,
    PullImageOptions, PushStream, RemoveContainerOptions, RemoveImageOptions, StatsStream,
    StopOptions, WaitCondition,
};

/// Shorthand for results of backend operations.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Stream of Docker events.
pub type EventStream =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<EventMessage>> + Send>>;

/// The internal API contract between a frontend and a backend.
///
/// IDs passed in are what the Docker client sent (full ID, unique prefix or
/// name); the backend resolves them. Frontends validate and normalise query
/// parameters before calling.
#[async_trait]
#[allow(unused_variables)]
pub trait Backend: Send + Sync + 'static {
    // ---- system ---------------------------------------------------------------

    /// Name, version and capabilities.
    async fn capabilities(&self) -> Result<BackendInfo>;

    /// `GET /_ping`: the backend is up and can serve requests.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    /// `GET /info`.
    async fn system_info(&self) -> Result<SystemInfo> {
        Err(ApiError::not_implemented("system info"))
    }

    /// `GET /version`.
    async fn system_version(&self) -> Result<SystemVersion> {
        Err(ApiError::not_implemented("system version"))
    }

    /// `POST /auth`: checks registry credentials.
    async fn auth(&self, config: AuthConfig) -> Result<AuthResponse> {
        Err(ApiError::not_implemented("auth"))
    }

    /// `GET /events`.
    async fn events(
        &self,
        since_nanos: Option<i64>,
        until_nanos: Option<i64>,
        filters: Filters,
    ) -> Result<EventStream> {
        Err(ApiError::not_implemented("events"))
    }

    // ---- containers -----------------------------------------------------------

    /// `POST /containers/create`. Stores the container; no cloud write.
    async fn container_create(
        &self,
        req: CreateContainerRequest,
    ) -> Result<ContainerCreateResponse> {
        Err(ApiError::not_implemented("container create"))
    }

    /// `POST /containers/{id}/start`. `NotModified` if already running.
    async fn container_start(&self, id: &str) -> Result<()> {
        Err(ApiError::not_implemented("container start"))
    }

    /// `GET /containers/{id}/json`.
    async fn container_inspect(&self, id: &str) -> Result<ContainerInspectResponse> {
        Err(ApiError::not_implemented("container inspect"))
    }

    /// `GET /containers/json`.
    async fn container_list(&self, opts: ListContainersOptions) -> Result<Vec<ContainerSummary>> {
        Err(ApiError::not_implemented("container list"))
    }

    /// `GET /containers/{id}/logs`.
    async fn container_logs(&self, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
        Err(ApiError::not_implemented("container logs"))
    }

    /// `POST /containers/{id}/stop`. `NotModified` if not running.
    async fn container_stop(&self, id: &str, opts: StopOptions) -> Result<()> {
        Err(ApiError::not_implemented("container stop"))
    }

    /// `POST /containers/{id}/restart`.
    async fn container_restart(&self, id: &str, opts: StopOptions) -> Result<()> {
        Err(ApiError::not_implemented("container restart"))
    }

    /// `POST /containers/{id}/kill`; `signal` is a name (`SIGUSR1`, `USR1`) or number.
    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()> {
        Err(ApiError::not_implemented("container kill"))
    }

    /// `DELETE /containers/{id}`.
    async fn container_remove(&self, id: &str, opts: RemoveContainerOptions) -> Result<()> {
        Err(ApiError::not_implemented("container remove"))
    }

    /// `POST /containers/{id}/wait`: resolves when `condition` holds.
    async fn container_wait(
        &self,
        id: &str,
        condition: WaitCondition,
    ) -> Result<ContainerWaitResponse> {
        Err(ApiError::not_implemented("container wait"))
    }

    /// `POST /containers/{id}/attach`. `stdin`, when given, feeds the main
    /// process; its end closes the process's stdin.
    async fn container_attach(
        &self,
        id: &str,
        opts: AttachOptions,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        Err(ApiError::not_implemented("container attach"))
    }

    /// `POST /containers/{id}/resize` (TTY size).
    async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        Err(ApiError::not_implemented("container resize"))
    }

    /// `POST /containers/{id}/rename`.
    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()> {
        Err(ApiError::not_implemented("container rename"))
    }

    /// `HEAD /containers/{id}/archive`.
    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        Err(ApiError::not_implemented("container archive stat"))
    }

    /// `GET /containers/{id}/archive`: a tar of `path`.
    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        Err(ApiError::not_implemented("container archive get"))
    }

    /// `PUT /containers/{id}/archive`: extract a tar at `path`.
    async fn container_archive_put(&self, id: &str, path: &str, tar: ByteStream) -> Result<()> {
        Err(ApiError::not_implemented("container archive put"))
    }

    /// `GET /containers/{id}/top`.
    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> Result<ContainerTopResponse> {
        Err(ApiError::not_implemented("container top"))
    }

    /// `GET /containers/{id}/stats`.
    async fn container_stats(&self, id: &str, stream: bool, one_shot: bool) -> Result<StatsStream> {
        Err(ApiError::not_implemented("container stats"))
    }

    /// `POST /containers/{id}/pause`.
    async fn container_pause(&self, id: &str) -> Result<()> {
        Err(ApiError::not_implemented("container pause"))
    }

    /// `POST /containers/{id}/unpause`.
    async fn container_unpause(&self, id: &str) -> Result<()> {
        Err(ApiError::not_implemented("container unpause"))
    }

    /// `GET /containers/{id}/export`: a tar of the root filesystem.
    async fn container_export(&self, id: &str) -> Result<ByteStream> {
        Err(ApiError::not_implemented("container export"))
    }

    /// `POST /containers/{id}/update`: the restart policy, and resources
    /// where the backend can apply them.
    async fn container_update(
        &self,
        id: &str,
        update: ContainerUpdateBody,
    ) -> Result<ContainerUpdateResponse> {
        Err(ApiError::not_implemented("container update"))
    }

    /// `POST /containers/prune`: removes stopped containers.
    async fn container_prune(&self, filters: Filters) -> Result<ContainerPruneResponse> {
        Err(ApiError::not_implemented("container prune"))
    }

    /// `GET /containers/{id}/changes`.
    async fn container_changes(&self, id: &str) -> Result<Vec<FilesystemChange>> {
        Err(ApiError::not_implemented("container changes"))
    }

    /// `POST /commit`: a new image from a container's changes.
    async fn container_commit(&self, opts: CommitOptions) -> Result<IdResponse> {
        Err(ApiError::not_implemented("container commit"))
    }

    // ---- exec -----------------------------------------------------------------

    /// `POST /containers/{id}/exec`.
    async fn exec_create(&self, container_id: &str, config: ExecConfig) -> Result<IdResponse> {
        Err(ApiError::not_implemented("exec create"))
    }

    /// `POST /exec/{id}/start`. With `detach`, the output stream is empty.
    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        Err(ApiError::not_implemented("exec start"))
    }

    /// `GET /exec/{id}/json`.
    async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse> {
        Err(ApiError::not_implemented("exec inspect"))
    }

    /// `POST /exec/{id}/resize`.
    async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<()> {
        Err(ApiError::not_implemented("exec resize"))
    }

    // ---- images ---------------------------------------------------------------

    /// `POST /images/create?fromImage=`: pull, with progress.
    async fn image_pull(
        &self,
        opts: PullImageOptions,
        auth: Option<AuthConfig>,
    ) -> Result<ProgressStream> {
        Err(ApiError::not_implemented("image pull"))
    }

    /// `GET /images/{name}/json`.
    async fn image_inspect(&self, name: &str) -> Result<ImageInspect> {
        Err(ApiError::not_implemented("image inspect"))
    }

    /// `GET /images/json`.
    async fn image_list(&self, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        Err(ApiError::not_implemented("image list"))
    }

    /// `POST /images/load`: a `docker save` tarball.
    async fn image_load(&self, tarball: ByteStream, quiet: bool) -> Result<ProgressStream> {
        Err(ApiError::not_implemented("image load"))
    }

    /// `POST /images/{name}/tag`.
    async fn image_tag(&self, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
        Err(ApiError::not_implemented("image tag"))
    }

    /// `DELETE /images/{name}`.
    async fn image_remove(
        &self,
        name: &str,
        opts: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        Err(ApiError::not_implemented("image remove"))
    }

    /// `POST /images/prune`: removes unused images.
    async fn image_prune(&self, filters: Filters) -> Result<ImagePruneResponse> {
        Err(ApiError::not_implemented("image prune"))
    }

    /// `GET /images/get`: a `docker save` tarball of the named images.
    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        Err(ApiError::not_implemented("image export"))
    }

    /// `POST /images/{name}/push`: copies the image to its registry.
    async fn image_push(
        &self,
        name: &str,
        tag: Option<&str>,
        auth: Option<AuthConfig>,
    ) -> Result<PushStream> {
        Err(ApiError::not_implemented("image push"))
    }

    /// `POST /images/create?fromSrc=-`: a one-layer image from a tar.
    async fn image_import(
        &self,
        opts: ImportImageOptions,
        tarball: ByteStream,
    ) -> Result<ProgressStream> {
        Err(ApiError::not_implemented("image import"))
    }

    /// `POST /build`: an image built from a context (a tar, possibly
    /// compressed) by the classic builder's rules.
    async fn image_build(
        &self,
        opts: BuildImageOptions,
        context: ByteStream,
    ) -> Result<BuildStream> {
        Err(ApiError::not_implemented("image build"))
    }

    /// `GET /distribution/{name}/json`: the image's descriptor and platforms at its registry.
    async fn distribution_inspect(
        &self,
        name: &str,
        auth: Option<AuthConfig>,
    ) -> Result<DistributionInspect> {
        Err(ApiError::not_implemented("distribution inspect"))
    }

    // ---- networks -------------------------------------------------------------

    /// `POST /networks/create`.
    async fn network_create(&self, req: NetworkCreateRequest) -> Result<NetworkCreateResponse> {
        Err(ApiError::not_implemented("network create"))
    }

    /// `GET /networks`.
    async fn network_list(&self, filters: Filters) -> Result<Vec<NetworkInspect>> {
        Err(ApiError::not_implemented("network list"))
    }

    /// `GET /networks/{id}`.
    async fn network_inspect(&self, id: &str) -> Result<NetworkInspect> {
        Err(ApiError::not_implemented("network inspect"))
    }

    /// `POST /networks/{id}/connect`.
    async fn network_connect(&self, id: &str, req: NetworkConnectRequest) -> Result<()> {
        Err(ApiError::not_implemented("network connect"))
    }

    /// `POST /networks/{id}/disconnect`.
    async fn network_disconnect(&self, id: &str, req: NetworkDisconnectRequest) -> Result<()> {
        Err(ApiError::not_implemented("network disconnect"))
    }

    /// `DELETE /networks/{id}`.
    async fn network_remove(&self, id: &str) -> Result<()> {
        Err(ApiError::not_implemented("network remove"))
    }

    /// `POST /networks/prune`.
    async fn network_prune(&self, filters: Filters) -> Result<NetworkPruneResponse> {
        Err(ApiError::not_implemented("network prune"))
    }

    // ---- volumes --------------------------------------------------------------

    /// `POST /volumes/create`.
    async fn volume_create(&self, req: VolumeCreateRequest) -> Result<Volume> {
        Err(ApiError::not_implemented("volume create"))
    }

    /// `GET /volumes`.
    async fn volume_list(&self, filters: Filters) -> Result<VolumeListResponse> {
        Err(ApiError::not_implemented("volume list"))
    }

    /// `GET /volumes/{name}`.
    async fn volume_inspect(&self, name: &str) -> Result<Volume> {
        Err(ApiError::not_implemented("volume inspect"))
    }

    /// `DELETE /volumes/{name}`.
    async fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        Err(ApiError::not_implemented("volume remove"))
    }

    /// `POST /volumes/prune`.
    async fn volume_prune(&self, filters: Filters) -> Result<VolumePruneResponse> {
        Err(ApiError::not_implemented("volume prune"))
    }
}
