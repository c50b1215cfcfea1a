//! Volumes as containers use them: resolution at create (dockerd's
//! `registerMountPoints`), the job's volumes at start, anonymous volumes
//! removed with the container (`docker rm -v`, `docker run --rm`).

use sockerless_api::docker::{ContainerCreateBody, MountPoint};
use sockerless_api::{ApiError, Result};
use sockerless_azure::models::{Job, StorageType, Volume as JobVolume, VolumeMount};

use super::storage;
use crate::AcaBackend;
use crate::containers::mounts::{self, MountSpec};
use crate::runtime::{StoredConfig, find_container};

/// The mounts of a container being created: classified (refusing what
/// cannot be honoured), `--volumes-from` merged, missing named volumes
/// created (as dockerd does for `-v name:/p` and `--mount`), anonymous
/// volumes named and created. Refused when a volume is wanted and no
/// storage account is configured.
pub async fn resolve(backend: &AcaBackend, body: &ContainerCreateBody) -> Result<Vec<MountSpec>> {
    let mut classified = mounts::classify(body)?;
    // Binds of the daemon's own socket path are the Docker socket too.
    crate::docker_socket::adopt(backend.config(), &mut classified.mounts);
    let mut sources = Vec::new();
    for from in &classified.volumes_from {
        let record = find_container(backend, &from.container).await?;
        sources.push((StoredConfig::of(&record)?.mounts, from.read_only));
    }
    let mut all = mounts::assemble(&classified, &sources);
    for m in &mut all {
        let MountSpec::Volume {
            name,
            anonymous,
            labels,
            ..
        } = m
        else {
            continue;
        };
        if name.is_empty() {
            *name = crate::clock::random_id()?;
        }
        let labels = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        match super::get(backend, name).await? {
            Some(existing) => {
                let stored = super::decode(&existing)?;
                if stored.share.is_none() {
                    return Err(ApiError::InvalidParameter(format!(
                        "volume {name} was recorded without an Azure Files directory (no storage account was configured then): remove it and create it again"
                    )));
                }
            }
            None => {
                super::create_named(backend, name, labels, *anonymous).await?;
            }
        }
    }
    Ok(all)
}

/// Adds the container's volumes and tmpfs mounts to the job: AzureFile
/// volumes (one per access mode) on the share's environment storage,
/// mounted with `subPath` = the volume's directory, and an `EmptyDir` per
/// tmpfs. Makes the environment storages ready (once per backend).
pub async fn add_to_job(backend: &AcaBackend, specs: &[MountSpec], job: &mut Job) -> Result<()> {
    let mut planned = Vec::new();
    for m in specs {
        match m {
            MountSpec::Volume {
                name,
                target,
                read_only,
                ..
            } => {
                let record = super::get(backend, name).await?.ok_or_else(|| {
                    ApiError::NotFound(format!(
                        "volume {name} of this container no longer exists: recreate the container"
                    ))
                })?;
                let storage = storage::ensure_storage(backend, *read_only).await?;
                planned.push(Planned::Share {
                    storage,
                    dir: record.file_share_name,
                    target: target.clone(),
                });
            }
            MountSpec::Tmpfs { target, .. } => planned.push(Planned::EmptyDir {
                target: target.clone(),
            }),
            MountSpec::Bind { .. } | MountSpec::DockerSocket { .. } => {}
        }
    }
    apply(job, &planned)
}

/// One mount to add to a job (see [`apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// A directory of the share through environment storage `storage`.
    Share {
        /// Environment storage name.
        storage: String,
        /// Directory in the share (`subPath`).
        dir: String,
        /// Container path.
        target: String,
    },
    /// A scratch `EmptyDir`.
    EmptyDir {
        /// Container path.
        target: String,
    },
}

/// Prefix of the job volumes added here.
pub const JOB_VOLUME_PREFIX: &str = "sockerless-vol-";

/// Adds `planned` to the job's template (pure). Each environment storage is
/// one job volume, shared by every mount through it (also across calls:
/// the volume already in the template is used); each `EmptyDir` its own.
/// Mounts go to the main container only.
pub fn apply(job: &mut Job, planned: &[Planned]) -> Result<()> {
    if planned.is_empty() {
        return Ok(());
    }
    let template = job
        .properties
        .as_mut()
        .and_then(|p| p.template.as_mut())
        .ok_or_else(|| ApiError::Internal("job has no template".into()))?;
    let volumes = template.volumes.get_or_insert_with(Vec::new);
    let main = template
        .containers
        .as_mut()
        .and_then(|c| c.first_mut())
        .ok_or_else(|| ApiError::Internal("job has no container".into()))?;
    let mounts = main.volume_mounts.get_or_insert_with(Vec::new);
    for p in planned {
        let (volume, sub_path, target) = match p {
            Planned::Share {
                storage,
                dir,
                target,
            } => {
                let existing = volumes.iter().find(|v| {
                    v.storage_type == Some(StorageType::AzureFile)
                        && v.storage_name.as_deref() == Some(storage.as_str())
                });
                let volume = match existing.and_then(|v| v.name.clone()) {
                    Some(name) => name,
                    None => {
                        let name = free_name(volumes, "share");
                        volumes.push(JobVolume {
                            name: Some(name.clone()),
                            storage_type: Some(StorageType::AzureFile),
                            storage_name: Some(storage.clone()),
                            ..Default::default()
                        });
                        name
                    }
                };
                (volume, Some(dir.clone()), target)
            }
            Planned::EmptyDir { target } => {
                let volume = free_name(volumes, "tmpfs");
                volumes.push(JobVolume {
                    name: Some(volume.clone()),
                    storage_type: Some(StorageType::EmptyDir),
                    ..Default::default()
                });
                (volume, None, target)
            }
        };
        mounts.push(VolumeMount {
            volume_name: Some(volume),
            mount_path: Some(target.clone()),
            sub_path,
        });
    }
    Ok(())
}

/// `sockerless-vol-<kind>-<n>` with the first `n` no volume of the job has.
fn free_name(volumes: &[JobVolume], kind: &str) -> String {
    (0..)
        .map(|n| format!("{JOB_VOLUME_PREFIX}{kind}-{n}"))
        .find(|name| !volumes.iter().any(|v| v.name.as_deref() == Some(name)))
        .unwrap_or_default()
}

/// After `docker rm -v` / `--rm`: removes the container's anonymous volumes
/// that no other container uses (as dockerd; failures are logged).
pub async fn remove_anonymous(backend: &AcaBackend, specs: &[MountSpec]) {
    for m in specs {
        let MountSpec::Volume {
            name,
            anonymous: true,
            ..
        } = m
        else {
            continue;
        };
        match super::users(backend, name).await {
            Ok(users) if !users.is_empty() => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(volume = %name, error = %e, "cannot check the users of an anonymous volume");
                continue;
            }
        }
        match super::remove(backend, name, false).await {
            Ok(()) => {}
            Err(e) if e.kind() == sockerless_api::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(volume = %name, error = %e, "cannot remove an anonymous volume")
            }
        }
    }
}

/// `Mounts` of `docker inspect` / `docker ps` for resolved mounts; volume
/// sources are `azurefile://account/share/dir` (`share`: the configured
/// account and share, if any).
pub fn mount_points(specs: &[MountSpec], share: Option<(&str, &str)>) -> Vec<MountPoint> {
    specs
        .iter()
        .map(|m| match m {
            MountSpec::Volume {
                name,
                target,
                read_only,
                ..
            } => MountPoint {
                typ: Some("volume".into()),
                name: Some(name.clone()),
                source: Some(share.map_or_else(String::new, |(account, share)| {
                    storage::mountpoint(account, share, &storage::dir_name(name))
                })),
                destination: Some(target.clone()),
                driver: Some("local".into()),
                mode: Some(if *read_only { "ro" } else { "z" }.into()),
                rw: Some(!read_only),
                propagation: Some(String::new()),
            },
            MountSpec::Bind {
                host_path,
                target,
                read_only,
                ..
            }
            | MountSpec::DockerSocket {
                host_path,
                target,
                read_only,
            } => MountPoint {
                typ: Some("bind".into()),
                source: Some(host_path.clone()),
                destination: Some(target.clone()),
                mode: Some(if *read_only { "ro" } else { "" }.into()),
                rw: Some(!read_only),
                propagation: Some("rprivate".into()),
                ..Default::default()
            },
            MountSpec::Tmpfs { target, .. } => MountPoint {
                typ: Some("tmpfs".into()),
                source: Some(String::new()),
                destination: Some(target.clone()),
                mode: Some(String::new()),
                rw: Some(true),
                propagation: Some(String::new()),
                ..Default::default()
            },
        })
        .collect()
}

/// [`mount_points`] of a stored container.
pub fn mount_points_of(backend: &AcaBackend, stored: &StoredConfig) -> Vec<MountPoint> {
    let share = backend
        .azure()
        .files
        .as_ref()
        .map(|f| (f.account(), f.share()));
    mount_points(&stored.mounts, share)
}

/// A job with one bare container and no volumes (tests of what is added to it).
#[cfg(test)]
pub(crate) fn bare_job() -> Job {
    use sockerless_azure::models::{Container, JobProperties, JobTemplate};
    Job {
        properties: Some(JobProperties {
            template: Some(JobTemplate {
                containers: Some(vec![Container::default()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_empty_dirs_in_the_template() {
        let mut job = bare_job();
        let share = |storage: &str, dir: &str, target: &str| Planned::Share {
            storage: storage.into(),
            dir: dir.into(),
            target: target.into(),
        };
        apply(
            &mut job,
            &[
                share("vols", "v1", "/data"),
                share("vols", "v2", "/cache"),
                share("vols-ro", "v1", "/ro"),
                Planned::EmptyDir {
                    target: "/run".into(),
                },
            ],
        )
        .expect("apply");
        let t = job.properties.and_then(|p| p.template).expect("template");
        let vols = t.volumes.expect("volumes");
        let summary: Vec<(String, Option<StorageType>, Option<String>)> = vols
            .iter()
            .map(|v| {
                (
                    v.name.clone().unwrap_or_default(),
                    v.storage_type,
                    v.storage_name.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "sockerless-vol-share-0".into(),
                    Some(StorageType::AzureFile),
                    Some("vols".into())
                ),
                (
                    "sockerless-vol-share-1".into(),
                    Some(StorageType::AzureFile),
                    Some("vols-ro".into())
                ),
                (
                    "sockerless-vol-tmpfs-0".into(),
                    Some(StorageType::EmptyDir),
                    None
                ),
            ]
        );
        let mounts = t.containers.expect("c")[0]
            .volume_mounts
            .clone()
            .expect("mounts");
        let m: Vec<(String, String, Option<String>)> = mounts
            .iter()
            .map(|m| {
                (
                    m.volume_name.clone().unwrap_or_default(),
                    m.mount_path.clone().unwrap_or_default(),
                    m.sub_path.clone(),
                )
            })
            .collect();
        assert_eq!(
            m,
            vec![
                (
                    "sockerless-vol-share-0".into(),
                    "/data".into(),
                    Some("v1".into())
                ),
                (
                    "sockerless-vol-share-0".into(),
                    "/cache".into(),
                    Some("v2".into())
                ),
                (
                    "sockerless-vol-share-1".into(),
                    "/ro".into(),
                    Some("v1".into())
                ),
                ("sockerless-vol-tmpfs-0".into(), "/run".into(), None),
            ]
        );
    }
}
