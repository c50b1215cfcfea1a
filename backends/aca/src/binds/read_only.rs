//! `:ro` binds of directories made read-only for real, through the volume
//! share.
//!
//! The agent cannot mount anything (no `CAP_SYS_ADMIN`), but ACA can: a
//! directory of the share is mounted twice, read-only at the bind's target
//! through the share's `ReadOnly` environment storage (the storage's
//! `accessMode` is the only read-only switch ACA has), and read-write at a
//! staging path through the share's read-write storage. The agent copies the
//! host tree into the staging path before the process starts; the process
//! sees it at the target, and a write there fails with `EROFS` as under
//! dockerd. The directories are `.binds-<job>/<n>` (`n`: the bind's place
//! among the container's binds; a leading `.` keeps them apart from volume
//! directories, since Docker volume names cannot start with one), reused by
//! every run of the container and deleted with its job ([`forget_job`]).
//!
//! Without a storage account, with `ro_binds = "copy"` (each file costs
//! round trips to the share; a large tree copies faster into the container)
//! and for binds of single files (a share mount is a directory), `:ro` binds
//! are copied in as read-write ones are, and never synced back: the host path
//! never changes, but the process may change its own copy.

use std::path::Path;

use sockerless_api::{ApiError, Result};
use sockerless_azure::models::Job;

use super::Bind;
use crate::AcaBackend;
use crate::config::ReadOnlyBinds;
use crate::errors::map_azure_error;
use crate::volumes::attach::{self, Planned};
use crate::volumes::storage;

/// Where the read-write mounts the agent fills are, in the container.
pub const STAGING_DIR: &str = "/.sockerless-binds";

/// The share directory holding the copies of a job's `:ro` binds.
pub fn job_dir(job: &str) -> String {
    format!(".binds-{job}")
}

/// The share directory of the `n`th bind of a job.
pub fn share_dir(job: &str, n: usize) -> String {
    format!("{}/{n}", job_dir(job))
}

/// The staging path of the `n`th bind, in the container.
pub fn staging_path(n: usize) -> String {
    format!("{STAGING_DIR}/{n}")
}

/// Whether a bind goes through the share: read-only, of a directory, and a
/// storage account is configured (pure).
pub fn through_share(bind: &Bind, share_configured: bool, host_is_dir: bool) -> bool {
    bind.read_only && share_configured && host_is_dir
}

/// The mounts of the binds that go through the share (pure): each bind's
/// directory read-only at its target and read-write at its staging path.
pub fn plan(job: &str, staged: &[(usize, &Bind)], ro: &str, rw: &str) -> Vec<Planned> {
    staged
        .iter()
        .flat_map(|(n, bind)| {
            let dir = share_dir(job, *n);
            [
                Planned::Share {
                    storage: ro.to_owned(),
                    dir: dir.clone(),
                    target: bind.target.clone(),
                },
                Planned::Share {
                    storage: rw.to_owned(),
                    dir,
                    target: staging_path(*n),
                },
            ]
        })
        .collect()
}

/// The share's client, when `:ro` binds go through it (a storage account
/// is configured and `ro_binds` is `mount`).
fn share(backend: &AcaBackend) -> Option<&sockerless_azure::files::FilesClient> {
    (backend.config().ro_binds == ReadOnlyBinds::Mount)
        .then_some(())
        .and(backend.azure().files.as_ref())
}

fn is_dir(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// `docker start`, after the binds were checked: the share directories of
/// the `:ro` directory binds created, and their two mounts added to `job`.
pub async fn before_start(
    backend: &AcaBackend,
    job_name: &str,
    binds: &[Bind],
    job: &mut Job,
) -> Result<()> {
    let Some(files) = share(backend) else {
        return Ok(());
    };
    let staged: Vec<(usize, &Bind)> = binds
        .iter()
        .enumerate()
        .filter(|(_, b)| through_share(b, true, is_dir(&b.host_path)))
        .collect();
    if staged.is_empty() {
        return Ok(());
    }
    let ro = storage::ensure_storage(backend, true).await?;
    let rw = storage::ensure_storage(backend, false).await?;
    files
        .create_directory(&job_dir(job_name))
        .await
        .map_err(map_azure_error)?;
    for (n, _) in &staged {
        files
            .create_directory(&share_dir(job_name, *n))
            .await
            .map_err(map_azure_error)?;
    }
    attach::apply(job, &plan(job_name, &staged, &ro, &rw))
}

/// Where the agent copies the `n`th bind: its staging path when it goes
/// through the share, else its target.
pub fn copy_target(backend: &AcaBackend, n: usize, bind: &Bind, host_is_dir: bool) -> String {
    if through_share(bind, share(backend).is_some(), host_is_dir) {
        staging_path(n)
    } else {
        bind.target.clone()
    }
}

/// Once a job is deleted: the copies of its `:ro` binds go too (one call
/// when it had none). Fails so that the deletion is tried again.
pub async fn forget_job(backend: &AcaBackend, job: &str) -> Result<(), ApiError> {
    let Some(files) = backend.azure().files.as_ref() else {
        return Ok(());
    };
    files
        .delete_tree(&job_dir(job))
        .await
        .map(|_| ())
        .map_err(map_azure_error)
}
