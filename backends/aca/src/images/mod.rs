//! Images: pull through registry mirrors, and the image store.
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

/// `Backend::auth`.
pub async fn auth(backend: &AcaBackend, config: AuthConfig) -> Result<AuthResponse> {
    let _ = (backend, config);
    Err(ApiError::not_implemented("auth"))
}

/// `Backend::image_pull`.
pub async fn pull(
    backend: &AcaBackend,
    opts: PullImageOptions,
    auth: Option<AuthConfig>,
) -> Result<ProgressStream> {
    let _ = (backend, opts, auth);
    Err(ApiError::not_implemented("image pull"))
}

/// `Backend::image_inspect`.
pub async fn inspect(backend: &AcaBackend, name: &str) -> Result<ImageInspect> {
    let _ = (backend, name);
    Err(ApiError::not_implemented("image inspect"))
}

/// `Backend::image_list`.
pub async fn list(backend: &AcaBackend, opts: ListImagesOptions) -> Result<Vec<ImageSummary>> {
    let _ = (backend, opts);
    Err(ApiError::not_implemented("image list"))
}

/// `Backend::image_load`.
pub async fn load(
    backend: &AcaBackend,
    tarball: ByteStream,
    quiet: bool,
) -> Result<ProgressStream> {
    let _ = (backend, tarball, quiet);
    Err(ApiError::not_implemented("image load"))
}

/// `Backend::image_tag`.
pub async fn tag(backend: &AcaBackend, name: &str, repo: &str, tag: Option<&str>) -> Result<()> {
    let _ = (backend, name, repo, tag);
    Err(ApiError::not_implemented("image tag"))
}

/// `Backend::image_remove`.
pub async fn remove(
    backend: &AcaBackend,
    name: &str,
    opts: RemoveImageOptions,
) -> Result<Vec<ImageDeleteResponseItem>> {
    let _ = (backend, name, opts);
    Err(ApiError::not_implemented("image remove"))
}
