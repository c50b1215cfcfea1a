//! Volumes, backed by Azure Files shares.
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

/// `Backend::volume_create`.
pub async fn create(backend: &AcaBackend, req: VolumeCreateRequest) -> Result<Volume> {
    let _ = (backend, req);
    Err(ApiError::not_implemented("volume create"))
}

/// `Backend::volume_list`.
pub async fn list(backend: &AcaBackend, filters: Filters) -> Result<VolumeListResponse> {
    let _ = (backend, filters);
    Err(ApiError::not_implemented("volume list"))
}

/// `Backend::volume_inspect`.
pub async fn inspect(backend: &AcaBackend, name: &str) -> Result<Volume> {
    let _ = (backend, name);
    Err(ApiError::not_implemented("volume inspect"))
}

/// `Backend::volume_remove`.
pub async fn remove(backend: &AcaBackend, name: &str, force: bool) -> Result<()> {
    let _ = (backend, name, force);
    Err(ApiError::not_implemented("volume remove"))
}

/// `Backend::volume_prune`.
pub async fn prune(backend: &AcaBackend, filters: Filters) -> Result<VolumePruneResponse> {
    let _ = (backend, filters);
    Err(ApiError::not_implemented("volume prune"))
}
