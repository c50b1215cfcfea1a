//! Exec sessions, run by the agent inside the container.
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

/// `Backend::exec_create`.
pub async fn create(
    backend: &AcaBackend,
    container_id: &str,
    config: ExecConfig,
) -> Result<IdResponse> {
    let _ = (backend, container_id, config);
    Err(ApiError::not_implemented("exec create"))
}

/// `Backend::exec_start`.
pub async fn start(
    backend: &AcaBackend,
    exec_id: &str,
    config: ExecStartConfig,
    stdin: Option<InputStream>,
) -> Result<AttachedOutput> {
    let _ = (backend, exec_id, config, stdin);
    Err(ApiError::not_implemented("exec start"))
}

/// `Backend::exec_inspect`.
pub async fn inspect(backend: &AcaBackend, exec_id: &str) -> Result<ExecInspectResponse> {
    let _ = (backend, exec_id);
    Err(ApiError::not_implemented("exec inspect"))
}

/// `Backend::exec_resize`.
pub async fn resize(backend: &AcaBackend, exec_id: &str, height: u16, width: u16) -> Result<()> {
    let _ = (backend, exec_id, height, width);
    Err(ApiError::not_implemented("exec resize"))
}
