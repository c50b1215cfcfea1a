//! Where a stored image's blobs are read from: its source repository (a
//! mirror, `registry_server` or its own registry) with the login it was
//! pulled with, else the configured one. Shared by `save`, `push`,
//! `commit` and the layers of an exited container.

use sockerless_api::Result;
use sockerless_azure::registry::blobs::Repo;
use sockerless_azure::registry::{Login, PullTarget, is_loopback_registry};

use super::mirrors::url_host;
use super::stored::ImageEntry;
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// The source repository of `entry`, pinned to its digest when known.
pub fn target_of(backend: &AcaBackend, entry: &ImageEntry) -> Option<(PullTarget, Option<Login>)> {
    let (registry, repository) = entry.image.source.split_once('/')?;
    let mirror = backend
        .config()
        .registry_mirrors
        .values()
        .find(|u| url_host(u).as_deref() == Some(registry));
    let target = PullTarget {
        registry: registry.to_owned(),
        repository: repository.to_owned(),
        tag: entry.reference.tag.clone(),
        digest: (!entry.digest.is_empty()).then(|| entry.digest.clone()),
        plain_http: mirror.map_or_else(|| is_loopback_registry(registry), |u| u.scheme() == "http"),
        mirrored: mirror.is_some(),
    };
    let login = entry
        .image
        .credential
        .as_ref()
        .map(|c| Login {
            username: c.username.clone(),
            password: c.password.clone(),
        })
        .or_else(|| {
            super::configured_credential_for(backend, &entry.image.source).map(|c| Login {
                username: c.username,
                password: c.password,
            })
        });
    Some((target, login))
}

/// Opens the source repository of `entry` for reading.
pub async fn open(backend: &AcaBackend, entry: &ImageEntry) -> Result<Repo> {
    let (target, login) = target_of(backend, entry).ok_or_else(|| {
        sockerless_api::ApiError::Internal(format!(
            "image {} has no source repository ({})",
            entry.reference.familiar(),
            entry.image.source
        ))
    })?;
    backend
        .azure()
        .registry
        .open_repo(&target, login.as_ref(), false)
        .await
        .map_err(map_azure_error)
}

/// The image manifest of `entry` at its source: its digest when known
/// (an index is resolved to its linux/amd64 entry, or the entry matching
/// the image ID's config).
pub async fn image_manifest(
    repo: &Repo,
    entry: &ImageEntry,
) -> Result<sockerless_azure::registry::blobs::RawManifest> {
    let manifest = repo.manifest(None).await.map_err(map_azure_error)?;
    if !manifest.is_index() {
        return Ok(manifest);
    }
    let wanted = sockerless_azure::registry::PlatformSpec::default();
    let entries = manifest
        .json
        .get("manifests")
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    let chosen = entries.iter().find_map(|m| {
        let p = m.get("platform")?;
        let ok = p.get("os")?.as_str()? == wanted.os
            && p.get("architecture")?.as_str()? == wanted.architecture;
        ok.then(|| m.get("digest")?.as_str().map(str::to_owned))
            .flatten()
    });
    let digest = chosen.ok_or_else(|| {
        sockerless_api::ApiError::NotFound(format!(
            "image {}: no linux/amd64 manifest in its index",
            entry.reference.familiar()
        ))
    })?;
    repo.manifest(Some(&digest)).await.map_err(map_azure_error)
}
