//! Networks, kept as records (traffic between containers is a later issue).
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

/// `Backend::network_create`.
pub async fn create(
    backend: &AcaBackend,
    req: NetworkCreateRequest,
) -> Result<NetworkCreateResponse> {
    let _ = (backend, req);
    Err(ApiError::not_implemented("network create"))
}

/// `Backend::network_list`.
pub async fn list(backend: &AcaBackend, filters: Filters) -> Result<Vec<NetworkInspect>> {
    let _ = (backend, filters);
    Err(ApiError::not_implemented("network list"))
}

/// `Backend::network_inspect`.
pub async fn inspect(backend: &AcaBackend, id: &str) -> Result<NetworkInspect> {
    let _ = (backend, id);
    Err(ApiError::not_implemented("network inspect"))
}

/// `Backend::network_connect`.
pub async fn connect(backend: &AcaBackend, id: &str, req: NetworkConnectRequest) -> Result<()> {
    let _ = (backend, id, req);
    Err(ApiError::not_implemented("network connect"))
}

/// `Backend::network_disconnect`.
pub async fn disconnect(
    backend: &AcaBackend,
    id: &str,
    req: NetworkDisconnectRequest,
) -> Result<()> {
    let _ = (backend, id, req);
    Err(ApiError::not_implemented("network disconnect"))
}

/// `Backend::network_remove`.
pub async fn remove(backend: &AcaBackend, id: &str) -> Result<()> {
    let _ = (backend, id);
    Err(ApiError::not_implemented("network remove"))
}

/// `Backend::network_prune`.
pub async fn prune(backend: &AcaBackend, filters: Filters) -> Result<NetworkPruneResponse> {
    let _ = (backend, filters);
    Err(ApiError::not_implemented("network prune"))
}
