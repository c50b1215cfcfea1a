//! Request/response routes: parse, call one backend method, map the error.

use axum::Json;
use axum::extract::State;
use http::StatusCode;

use super::{Id, JsonBody, Shared};
use crate::docker::{
    AuthConfig, AuthResponse, ContainerCreateResponse, ContainerInspectResponse,
    ContainerPruneResponse, ContainerSummary, ContainerTopResponse, ContainerUpdateBody,
    ContainerUpdateResponse, ContainerWaitResponse, DistributionInspect, ExecConfig,
    ExecInspectResponse, FilesystemChange, IdResponse, ImageDeleteResponseItem, ImageInspect,
    ImagePruneResponse, ImageSummary, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkInspect, NetworkPruneResponse,
    SystemInfo, SystemVersion, Volume, VolumeCreateRequest, VolumeListResponse,
    VolumePruneResponse,
};
use crate::wire::{
    DistributionBody, FiltersBody, KillBody, PathBody, RenameBody, ResizeBody, TagBody, TopBody,
    VolumeRemoveBody, WaitBody,
};
use crate::{
    ApiError, BackendInfo, CommitOptions, CreateContainerRequest, ListContainersOptions,
    ListImagesOptions, PathStat, RemoveContainerOptions, RemoveImageOptions, StopOptions,
};

type JsonResult<T> = Result<Json<T>, ApiError>;
type EmptyResult = Result<StatusCode, ApiError>;

fn done(r: crate::Result<()>) -> EmptyResult {
    r.map(|()| StatusCode::NO_CONTENT)
}

// ---- system ----------------------------------------------------------------

pub(super) async fn capabilities(State(b): Shared) -> JsonResult<BackendInfo> {
    b.capabilities().await.map(Json)
}

pub(super) async fn ping(State(b): Shared) -> EmptyResult {
    done(b.ping().await)
}

pub(super) async fn system_info(State(b): Shared) -> JsonResult<SystemInfo> {
    b.system_info().await.map(Json)
}

pub(super) async fn system_version(State(b): Shared) -> JsonResult<SystemVersion> {
    b.system_version().await.map(Json)
}

pub(super) async fn auth(
    State(b): Shared,
    JsonBody(c): JsonBody<AuthConfig>,
) -> JsonResult<AuthResponse> {
    b.auth(c).await.map(Json)
}

// ---- containers ------------------------------------------------------------

pub(super) async fn container_create(
    State(b): Shared,
    JsonBody(req): JsonBody<CreateContainerRequest>,
) -> JsonResult<ContainerCreateResponse> {
    b.container_create(req).await.map(Json)
}

pub(super) async fn container_list(
    State(b): Shared,
    JsonBody(opts): JsonBody<ListContainersOptions>,
) -> JsonResult<Vec<ContainerSummary>> {
    b.container_list(opts).await.map(Json)
}

pub(super) async fn container_prune(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<ContainerPruneResponse> {
    b.container_prune(f.filters).await.map(Json)
}

pub(super) async fn container_commit(
    State(b): Shared,
    JsonBody(opts): JsonBody<CommitOptions>,
) -> JsonResult<IdResponse> {
    b.container_commit(opts).await.map(Json)
}

pub(super) async fn container_inspect(
    State(b): Shared,
    Id(id): Id,
) -> JsonResult<ContainerInspectResponse> {
    b.container_inspect(&id).await.map(Json)
}

pub(super) async fn container_start(State(b): Shared, Id(id): Id) -> EmptyResult {
    done(b.container_start(&id).await)
}

pub(super) async fn container_stop(
    State(b): Shared,
    Id(id): Id,
    JsonBody(o): JsonBody<StopOptions>,
) -> EmptyResult {
    done(b.container_stop(&id, o).await)
}

pub(super) async fn container_restart(
    State(b): Shared,
    Id(id): Id,
    JsonBody(o): JsonBody<StopOptions>,
) -> EmptyResult {
    done(b.container_restart(&id, o).await)
}

pub(super) async fn container_kill(
    State(b): Shared,
    Id(id): Id,
    JsonBody(k): JsonBody<KillBody>,
) -> EmptyResult {
    done(b.container_kill(&id, k.signal).await)
}

pub(super) async fn container_remove(
    State(b): Shared,
    Id(id): Id,
    JsonBody(o): JsonBody<RemoveContainerOptions>,
) -> EmptyResult {
    done(b.container_remove(&id, o).await)
}

pub(super) async fn container_wait(
    State(b): Shared,
    Id(id): Id,
    JsonBody(w): JsonBody<WaitBody>,
) -> JsonResult<ContainerWaitResponse> {
    b.container_wait(&id, w.condition).await.map(Json)
}

pub(super) async fn container_resize(
    State(b): Shared,
    Id(id): Id,
    JsonBody(r): JsonBody<ResizeBody>,
) -> EmptyResult {
    done(b.container_resize(&id, r.height, r.width).await)
}

pub(super) async fn container_rename(
    State(b): Shared,
    Id(id): Id,
    JsonBody(r): JsonBody<RenameBody>,
) -> EmptyResult {
    done(b.container_rename(&id, &r.name).await)
}

pub(super) async fn container_update(
    State(b): Shared,
    Id(id): Id,
    JsonBody(update): JsonBody<ContainerUpdateBody>,
) -> JsonResult<ContainerUpdateResponse> {
    b.container_update(&id, update).await.map(Json)
}

pub(super) async fn container_pause(State(b): Shared, Id(id): Id) -> EmptyResult {
    done(b.container_pause(&id).await)
}

pub(super) async fn container_unpause(State(b): Shared, Id(id): Id) -> EmptyResult {
    done(b.container_unpause(&id).await)
}

pub(super) async fn container_top(
    State(b): Shared,
    Id(id): Id,
    JsonBody(t): JsonBody<TopBody>,
) -> JsonResult<ContainerTopResponse> {
    b.container_top(&id, t.ps_args).await.map(Json)
}

pub(super) async fn container_changes(
    State(b): Shared,
    Id(id): Id,
) -> JsonResult<Vec<FilesystemChange>> {
    b.container_changes(&id).await.map(Json)
}

pub(super) async fn container_archive_stat(
    State(b): Shared,
    Id(id): Id,
    JsonBody(p): JsonBody<PathBody>,
) -> JsonResult<PathStat> {
    b.container_archive_stat(&id, &p.path).await.map(Json)
}

// ---- exec ------------------------------------------------------------------

pub(super) async fn exec_create(
    State(b): Shared,
    Id(id): Id,
    JsonBody(c): JsonBody<ExecConfig>,
) -> JsonResult<IdResponse> {
    b.exec_create(&id, c).await.map(Json)
}

pub(super) async fn exec_inspect(State(b): Shared, Id(id): Id) -> JsonResult<ExecInspectResponse> {
    b.exec_inspect(&id).await.map(Json)
}

pub(super) async fn exec_resize(
    State(b): Shared,
    Id(id): Id,
    JsonBody(r): JsonBody<ResizeBody>,
) -> EmptyResult {
    done(b.exec_resize(&id, r.height, r.width).await)
}

// ---- images ----------------------------------------------------------------

pub(super) async fn image_list(
    State(b): Shared,
    JsonBody(o): JsonBody<ListImagesOptions>,
) -> JsonResult<Vec<ImageSummary>> {
    b.image_list(o).await.map(Json)
}

pub(super) async fn image_prune(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<ImagePruneResponse> {
    b.image_prune(f.filters).await.map(Json)
}

pub(super) async fn distribution_inspect(
    State(b): Shared,
    JsonBody(body): JsonBody<DistributionBody>,
) -> JsonResult<DistributionInspect> {
    b.distribution_inspect(&body.name, body.auth)
        .await
        .map(Json)
}

pub(super) async fn image_inspect(State(b): Shared, Id(name): Id) -> JsonResult<ImageInspect> {
    b.image_inspect(&name).await.map(Json)
}

pub(super) async fn image_tag(
    State(b): Shared,
    Id(name): Id,
    JsonBody(t): JsonBody<TagBody>,
) -> EmptyResult {
    done(b.image_tag(&name, &t.repo, t.tag.as_deref()).await)
}

pub(super) async fn image_remove(
    State(b): Shared,
    Id(name): Id,
    JsonBody(o): JsonBody<RemoveImageOptions>,
) -> JsonResult<Vec<ImageDeleteResponseItem>> {
    b.image_remove(&name, o).await.map(Json)
}

// ---- networks --------------------------------------------------------------

pub(super) async fn network_create(
    State(b): Shared,
    JsonBody(r): JsonBody<NetworkCreateRequest>,
) -> JsonResult<NetworkCreateResponse> {
    b.network_create(r).await.map(Json)
}

pub(super) async fn network_list(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<Vec<NetworkInspect>> {
    b.network_list(f.filters).await.map(Json)
}

pub(super) async fn network_prune(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<NetworkPruneResponse> {
    b.network_prune(f.filters).await.map(Json)
}

pub(super) async fn network_inspect(State(b): Shared, Id(id): Id) -> JsonResult<NetworkInspect> {
    b.network_inspect(&id).await.map(Json)
}

pub(super) async fn network_connect(
    State(b): Shared,
    Id(id): Id,
    JsonBody(r): JsonBody<NetworkConnectRequest>,
) -> EmptyResult {
    done(b.network_connect(&id, r).await)
}

pub(super) async fn network_disconnect(
    State(b): Shared,
    Id(id): Id,
    JsonBody(r): JsonBody<NetworkDisconnectRequest>,
) -> EmptyResult {
    done(b.network_disconnect(&id, r).await)
}

pub(super) async fn network_remove(State(b): Shared, Id(id): Id) -> EmptyResult {
    done(b.network_remove(&id).await)
}

// ---- volumes ---------------------------------------------------------------

pub(super) async fn volume_create(
    State(b): Shared,
    JsonBody(r): JsonBody<VolumeCreateRequest>,
) -> JsonResult<Volume> {
    b.volume_create(r).await.map(Json)
}

pub(super) async fn volume_list(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<VolumeListResponse> {
    b.volume_list(f.filters).await.map(Json)
}

pub(super) async fn volume_prune(
    State(b): Shared,
    JsonBody(f): JsonBody<FiltersBody>,
) -> JsonResult<VolumePruneResponse> {
    b.volume_prune(f.filters).await.map(Json)
}

pub(super) async fn volume_inspect(State(b): Shared, Id(name): Id) -> JsonResult<Volume> {
    b.volume_inspect(&name).await.map(Json)
}

pub(super) async fn volume_remove(
    State(b): Shared,
    Id(name): Id,
    JsonBody(r): JsonBody<VolumeRemoveBody>,
) -> EmptyResult {
    done(b.volume_remove(&name, r.force).await)
}
