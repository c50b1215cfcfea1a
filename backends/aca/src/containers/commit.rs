//! `POST /commit` (`docker commit`): the container's changes tar (see
//! [`super::diff::changes_tar`]; whiteouts are OCI's, so it is a layer as
//! it is) gzipped into a new layer on top of its image's layers, with a
//! config made as dockerd makes it: the container's config, overridden by
//! the request body's fields that are set, then by `changes`; history and
//! `rootfs.diff_ids` extended. Pushed to `registry_server` and recorded
//! (see `crate::images::publish`), so `docker run` of it works.
//!
//! With `pause` (the CLI's default) a running container is paused while
//! its changes are read, as dockerd does, so the layer is one moment of a
//! process that keeps writing; it runs on afterwards, whatever happened.

use serde_json::{Map, Value, json};
use sockerless_api::docker::{ContainerConfig, IdResponse};
use sockerless_api::{ApiError, CommitOptions, Result};

use super::diff;
use crate::AcaBackend;
use crate::errors::map_azure_error;
use crate::images::publish::{self, Base};
use crate::images::reference::ImageRef;
use crate::images::{instructions, source, stored};

/// Largest changes tar committed (bytes of the tar).
const MAX_COMMIT_BYTES: u64 = 16 << 30;

/// The new image's config (pure): `base` (the image's config JSON) with
/// the container's `config`, `overrides` and `changes` applied.
pub fn commit_config(
    base: &Value,
    config: &ContainerConfig,
    overrides: Option<&ContainerConfig>,
    opts: &CommitOptions,
    diff_id: &str,
    created: &str,
) -> Result<Value> {
    let to_map = |c: &ContainerConfig| -> Map<String, Value> {
        match serde_json::to_value(c) {
            Ok(Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
            _ => Map::new(),
        }
    };
    let mut merged = to_map(config);
    if let Some(o) = overrides {
        merged.extend(to_map(o));
    }
    // Per-run fields of a container, not of an image.
    for key in [
        "Hostname",
        "Domainname",
        "Image",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
    ] {
        merged.remove(key);
    }
    instructions::apply(&mut merged, &opts.changes)?;
    let mut image = match base {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    image["config"] = Value::Object(merged);
    image["created"] = json!(created);
    if let Some(author) = opts.author.as_deref().filter(|a| !a.is_empty()) {
        image["author"] = json!(author);
    }
    let rootfs = image.as_object_mut().map(|m| {
        m.entry("rootfs")
            .or_insert_with(|| json!({"type": "layers"}))
    });
    if let Some(rootfs) = rootfs {
        if !rootfs.get("diff_ids").is_some_and(Value::is_array) {
            rootfs["diff_ids"] = json!([]);
        }
        if let Some(ids) = rootfs["diff_ids"].as_array_mut() {
            ids.push(json!(diff_id));
        }
    }
    let cmd: Vec<String> = config
        .entrypoint
        .iter()
        .flatten()
        .chain(config.cmd.iter().flatten())
        .cloned()
        .collect();
    let mut history = json!({"created": created, "created_by": cmd.join(" ")});
    if let Some(c) = opts.comment.as_deref().filter(|c| !c.is_empty()) {
        history["comment"] = json!(c);
    }
    if let Some(a) = opts.author.as_deref().filter(|a| !a.is_empty()) {
        history["author"] = json!(a);
    }
    if !image.get("history").is_some_and(Value::is_array) {
        image["history"] = json!([]);
    }
    if let Some(h) = image["history"].as_array_mut() {
        h.push(history);
    }
    Ok(image)
}

/// The name the committed image gets (pure).
pub fn commit_name(repo: Option<&str>, tag: Option<&str>) -> Result<Option<ImageRef>> {
    crate::images::import::import_name(repo, tag)
}

/// The changes tar, read with the container paused when asked and running
/// (and not paused by the user already, whose pause is left as it is).
async fn changes_paused(
    backend: &AcaBackend,
    opts: &CommitOptions,
) -> Result<Option<diff::ChangesTar>> {
    let record = crate::runtime::find_container(backend, &opts.container).await?;
    let rt = backend.runtimes().get(&record);
    let pause = opts.pause && rt.state.borrow().running && !crate::ops::pause::is_paused(&rt);
    if pause {
        crate::ops::pause::pause(backend, &record.id).await?;
    }
    let tar = diff::changes_tar(backend, &record.id).await;
    if pause && let Err(e) = crate::ops::pause::unpause(backend, &record.id).await {
        tracing::warn!(container = %record.id, error = %e, "unpause after commit failed");
    }
    tar
}

/// `Backend::container_commit`.
pub async fn commit(backend: &AcaBackend, opts: CommitOptions) -> Result<IdResponse> {
    let name = commit_name(opts.repo.as_deref(), opts.tag.as_deref())?;
    instructions::apply(&mut Map::new(), &opts.changes)?;
    let tar = changes_paused(backend, &opts).await?;
    let record = crate::runtime::find_container(backend, &opts.container).await?;
    let stored_config = crate::runtime::StoredConfig::of(&record)?;
    let entry = stored::find(backend, &stored_config.image_id)
        .await
        .map_err(|_| {
            ApiError::Conflict(format!(
                "the image of container {} is no longer in the image store",
                record.name.trim_start_matches('/')
            ))
        })?
        .entry;
    let layer = match &tar {
        Some(t) => {
            let path = t.path.clone();
            let out = publish::new_layer_path(backend)?;
            let written = {
                let out = out.clone();
                tokio::task::spawn_blocking(move || {
                    let file = std::fs::File::open(&path)?;
                    publish::write_layer(file, &out, MAX_COMMIT_BYTES)
                })
                .await
                .map_err(|e| ApiError::Internal(format!("writing the layer: {e}")))?
            };
            written.map_err(|e| {
                let _ = std::fs::remove_file(&out);
                ApiError::Internal(format!("writing the layer: {e}"))
            })?
        }
        None => {
            // Never started: an empty layer, as dockerd commits one.
            let out = publish::new_layer_path(backend)?;
            let empty = tar::Builder::new(Vec::new())
                .into_inner()
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            publish::write_layer(&empty[..], &out, MAX_COMMIT_BYTES)
                .map_err(|e| ApiError::Internal(format!("writing the layer: {e}")))?
        }
    };
    drop(tar);
    let repo = source::open(backend, &entry).await?;
    let manifest = source::image_manifest(&repo, &entry).await?;
    let base = Base {
        layers: manifest.layers().map_err(map_azure_error)?,
        repo,
    };
    let container_config: ContainerConfig = serde_json::to_value(&stored_config.body)
        .and_then(serde_json::from_value)
        .map_err(|e| ApiError::Internal(format!("container config: {e}")))?;
    let created = crate::clock::rfc3339(crate::clock::now_nanos());
    let config = commit_config(
        &entry.image.config,
        &container_config,
        opts.config.as_ref(),
        &opts,
        &layer.diff_id,
        &created,
    )?;
    let id = publish::publish(backend, "committed", name, Some(base), &layer, config).await?;
    Ok(IdResponse { id })
}

#[cfg(test)]
mod tests;
