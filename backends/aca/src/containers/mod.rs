//! Containers: create, lifecycle on ACA Jobs, attach, logs, wait.
//!
//! Each function implements one `Backend` method of [`AcaBackend`]; the
//! trait impl in `backend.rs` only delegates here.

#![allow(unused_imports)]

use sockerless_api::docker::*;
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, ByteStream, CreateContainerRequest, EventStream,
    Filters, InputStream, ListContainersOptions, ListImagesOptions, LogsOptions, PathStat,
    ProgressStream, PullImageOptions, RemoveContainerOptions, RemoveImageOptions, Result,
    StopOptions, WaitCondition,
};

use crate::AcaBackend;

/// `Backend::container_create`.
pub async fn create(
    backend: &AcaBackend,
    req: CreateContainerRequest,
) -> Result<ContainerCreateResponse> {
    let _ = (backend, req);
    Err(ApiError::not_implemented("container create"))
}

/// `Backend::container_start`.
pub async fn start(backend: &AcaBackend, id: &str) -> Result<()> {
    let _ = (backend, id);
    Err(ApiError::not_implemented("container start"))
}

/// `Backend::container_inspect`.
pub async fn inspect(backend: &AcaBackend, id: &str) -> Result<ContainerInspectResponse> {
    let _ = (backend, id);
    Err(ApiError::not_implemented("container inspect"))
}

/// `Backend::container_list`.
pub async fn list(
    backend: &AcaBackend,
    opts: ListContainersOptions,
) -> Result<Vec<ContainerSummary>> {
    let _ = (backend, opts);
    Err(ApiError::not_implemented("container list"))
}

/// `Backend::container_logs`.
pub async fn logs(backend: &AcaBackend, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
    let _ = (backend, id, opts);
    Err(ApiError::not_implemented("container logs"))
}

/// `Backend::container_stop`.
pub async fn stop(backend: &AcaBackend, id: &str, opts: StopOptions) -> Result<()> {
    let _ = (backend, id, opts);
    Err(ApiError::not_implemented("container stop"))
}

/// `Backend::container_restart`.
pub async fn restart(backend: &AcaBackend, id: &str, opts: StopOptions) -> Result<()> {
    let _ = (backend, id, opts);
    Err(ApiError::not_implemented("container restart"))
}

/// `Backend::container_kill`.
pub async fn kill(backend: &AcaBackend, id: &str, signal: Option<String>) -> Result<()> {
    let _ = (backend, id, signal);
    Err(ApiError::not_implemented("container kill"))
}

/// `Backend::container_remove`.
pub async fn remove(backend: &AcaBackend, id: &str, opts: RemoveContainerOptions) -> Result<()> {
    let _ = (backend, id, opts);
    Err(ApiError::not_implemented("container remove"))
}

/// `Backend::container_wait`.
pub async fn wait(
    backend: &AcaBackend,
    id: &str,
    condition: WaitCondition,
) -> Result<ContainerWaitResponse> {
    let _ = (backend, id, condition);
    Err(ApiError::not_implemented("container wait"))
}

/// `Backend::container_attach`.
pub async fn attach(
    backend: &AcaBackend,
    id: &str,
    opts: AttachOptions,
    stdin: Option<InputStream>,
) -> Result<AttachedOutput> {
    let _ = (backend, id, opts, stdin);
    Err(ApiError::not_implemented("container attach"))
}

/// `Backend::container_resize`.
pub async fn resize(backend: &AcaBackend, id: &str, height: u16, width: u16) -> Result<()> {
    let _ = (backend, id, height, width);
    Err(ApiError::not_implemented("container resize"))
}

/// `Backend::container_rename`.
pub async fn rename(backend: &AcaBackend, id: &str, new_name: &str) -> Result<()> {
    let _ = (backend, id, new_name);
    Err(ApiError::not_implemented("container rename"))
}

/// `Backend::container_archive_stat`.
pub async fn archive_stat(backend: &AcaBackend, id: &str, path: &str) -> Result<PathStat> {
    let _ = (backend, id, path);
    Err(ApiError::not_implemented("container archive stat"))
}

/// `Backend::container_archive_get`.
pub async fn archive_get(
    backend: &AcaBackend,
    id: &str,
    path: &str,
) -> Result<(PathStat, ByteStream)> {
    let _ = (backend, id, path);
    Err(ApiError::not_implemented("container archive get"))
}

/// `Backend::container_archive_put`.
pub async fn archive_put(
    backend: &AcaBackend,
    id: &str,
    path: &str,
    tar: ByteStream,
) -> Result<()> {
    let _ = (backend, id, path, tar);
    Err(ApiError::not_implemented("container archive put"))
}

/// `Backend::events`.
pub async fn events(
    backend: &AcaBackend,
    since_nanos: Option<i64>,
    until_nanos: Option<i64>,
    filters: Filters,
) -> Result<EventStream> {
    let _ = (backend, since_nanos, until_nanos, filters);
    Err(ApiError::not_implemented("events"))
}
