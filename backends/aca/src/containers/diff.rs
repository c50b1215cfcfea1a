//! `GET /containers/{id}/changes` (`docker diff`): the container's changes
//! tar (from its agent while it runs, else the record kept at its exit; see
//! `crate::changes`) read against its image's file list (the layers as
//! local files, `super::layers`, stacked by `super::overlay`). A path in
//! the image is Modified, any other Added, a whiteout Deleted; the parent
//! directories of a change are reported too, as dockerd's overlay2 does
//! (they are in its upper directory). Sorted as dockerd walks: by path
//! components.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sockerless_api::docker::{ChangeType, FilesystemChange};
use sockerless_api::{ApiError, Result};

use super::layers;
use super::overlay::{Index, normalize};
use crate::AcaBackend;
use crate::runtime::{StoredConfig, find_container};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// The change list of a changes tar's entry names (pure): `in_image`
/// says whether a path exists in the image.
pub fn classify<'a>(
    entries: impl IntoIterator<Item = &'a str>,
    in_image: impl Fn(&str) -> bool,
) -> Vec<FilesystemChange> {
    // Keyed by components, so the order is a sorted depth-first walk.
    let mut changes: BTreeMap<Vec<String>, ChangeType> = BTreeMap::new();
    let key = |p: &str| -> Vec<String> { p.split('/').skip(1).map(str::to_owned).collect() };
    for raw in entries {
        let Some(path) = normalize(raw) else { continue };
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        let (path, kind) = if name == OPAQUE {
            let dir = if dir.is_empty() { "/" } else { dir };
            (dir.to_owned(), ChangeType::_0)
        } else if let Some(gone) = name.strip_prefix(WHITEOUT) {
            (format!("{dir}/{gone}"), ChangeType::_2)
        } else if in_image(&path) {
            (path.clone(), ChangeType::_0)
        } else {
            (path.clone(), ChangeType::_1)
        };
        if path == "/" {
            continue;
        }
        // Parents: changed (or added) directories of the change.
        let parts = key(&path);
        for n in 1..parts.len() {
            let parent = &parts[..n];
            let shown = format!("/{}", parent.join("/"));
            let kind = if in_image(&shown) {
                ChangeType::_0
            } else {
                ChangeType::_1
            };
            changes.entry(parent.to_vec()).or_insert(kind);
        }
        changes.insert(parts, kind);
    }
    changes
        .into_iter()
        .map(|(parts, kind)| FilesystemChange {
            path: format!("/{}", parts.join("/")),
            kind,
        })
        .collect()
}

/// The entry names of a tar file.
fn tar_names(path: &Path) -> std::result::Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(file));
    let mut names = Vec::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.path().map_err(|e| e.to_string())?;
        names.push(name.to_string_lossy().into_owned());
    }
    Ok(names)
}

/// The container's changes tar, as a file: the running agent's record
/// fetched into a temporary file (removed on drop), or the kept one.
pub struct ChangesTar {
    /// The tar.
    pub path: PathBuf,
    temporary: bool,
    /// The container's stored config.
    pub stored: StoredConfig,
    /// Its ID.
    pub id: String,
    /// Its name.
    pub name: String,
}

impl Drop for ChangesTar {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The changes of container `id`; `None` for a container never started.
pub async fn changes_tar(backend: &AcaBackend, id: &str) -> Result<Option<ChangesTar>> {
    let record = find_container(backend, id).await?;
    let stored = StoredConfig::of(&record)?;
    let name = record.name.trim_start_matches('/').to_owned();
    let rt = backend.runtimes().get(&record);
    let running = rt.state.borrow().running;
    let not_kept = || {
        ApiError::Conflict(format!(
            "the changes of container {name} are not recorded (changes_max_bytes is 0, \
             it runs with --rm, or the record failed): sockerless cannot list or commit them"
        ))
    };
    if running {
        let link = rt.agent().ok_or_else(|| {
            ApiError::Conflict(format!(
                "container {name} runs but its agent is reconnecting; try again"
            ))
        })?;
        if !link.records_changes() {
            return Err(not_kept());
        }
        let path = crate::images::publish::new_layer_path(backend)?.with_extension("changes");
        let max = backend.config().changes_max_bytes;
        crate::changes::fetch(&link, &path, max)
            .await
            .map_err(|e| ApiError::Internal(format!("reading the changes of {name}: {e}")))?;
        return Ok(Some(ChangesTar {
            path,
            temporary: true,
            stored,
            id: record.id,
            name,
        }));
    }
    if record.started_at.is_none() {
        return Ok(None);
    }
    let path = crate::changes::record_path(backend, &record.id);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Err(not_kept());
    }
    Ok(Some(ChangesTar {
        path,
        temporary: false,
        stored,
        id: record.id,
        name,
    }))
}

/// `Backend::container_changes`.
pub async fn changes(backend: &AcaBackend, id: &str) -> Result<Vec<FilesystemChange>> {
    let Some(tar) = changes_tar(backend, id).await? else {
        return Ok(Vec::new());
    };
    let image = layers::image_layers(
        backend,
        &tar.stored.image_id,
        tar.stored.platform.as_deref(),
        &tar.name,
    )
    .await?;
    let path = tar.path.clone();
    let listed = tokio::task::spawn_blocking(move || -> std::result::Result<_, String> {
        let names = tar_names(&path)?;
        let mut index = Index::default();
        for (i, layer) in image.iter().rev().enumerate() {
            index
                .add_layer(i, layers::open_tar(layer)?)
                .map_err(|e| format!("{}: {e}", layer.display()))?;
        }
        Ok(classify(names.iter().map(String::as_str), |p| {
            index.get(p).is_some()
        }))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    drop(tar);
    listed.map_err(|e| ApiError::Internal(format!("listing the changes of {id}: {e}")))
}

#[cfg(test)]
mod tests;
