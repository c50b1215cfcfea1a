//! `POST /images/load`: a `docker save` tarball (the legacy layout with
//! `<id>/layer.tar` and the OCI layout of Docker ≥ 25 both carry
//! `manifest.json`, which is what is read).
//!
//! ACA pulls images from a registry, so the layers have to go to one: with
//! `registry_server` configured, every image of the tarball is pushed there
//! (layers as they are, config, an OCI manifest) under its tag's repository
//! path (`busybox:latest` → `<registry_server>/library/busybox:latest`) and
//! recorded under its tag; ACA pulls it from there by digest. Without
//! `registry_server` the load is refused with a 501 that says why. The
//! tarball is held in memory (at most [`MAX_TARBALL_BYTES`]), once.

use std::collections::HashMap;
use std::io::Read;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sockerless_api::docker::CreateImageInfo;
use sockerless_api::{ApiError, ByteStream, ProgressStream, Result};

use super::publish::{OwnImage, own_target};
use super::reference::ImageRef;
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// Largest tarball accepted (held in memory while its layers are pushed).
pub const MAX_TARBALL_BYTES: usize = 2 << 30;

/// One entry of `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SavedImage {
    /// Path of the config JSON in the tarball.
    pub config: String,
    /// Tags (`busybox:latest`); may be absent.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer tars, base first.
    pub layers: Vec<String>,
}

/// An image read out of the tarball.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// Tags as given.
    pub tags: Vec<String>,
    /// Config JSON bytes.
    pub config: Bytes,
    /// Layer bytes with their media types.
    pub layers: Vec<(Bytes, String)>,
}

fn bad(why: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidParameter(format!("image load: {why}"))
}

fn clean(path: &str) -> String {
    path.trim_start_matches("./").to_owned()
}

/// Reads a `docker save` tarball. The files of an uncompressed tar are
/// contiguous in it, so the layers are slices of `data`, not copies: a load
/// holds the tarball once.
pub fn read_tarball(data: Bytes) -> Result<Vec<LoadedImage>> {
    let mut files: HashMap<String, Bytes> = HashMap::new();
    let mut archive = tar::Archive::new(&data[..]);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("broken tar archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| bad(format!("bad path in tar archive: {e}")))?
            .to_string_lossy()
            .into_owned();
        let start = usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX);
        let end = usize::try_from(entry.size())
            .ok()
            .and_then(|size| start.checked_add(size));
        let bytes = match end {
            Some(end) if end <= data.len() => data.slice(start..end),
            // Not where the header says (never for an archive `docker save`
            // wrote): read it out instead.
            _ => {
                let mut buf = Vec::new();
                entry
                    .read_to_end(&mut buf)
                    .map_err(|e| bad(format!("reading {path}: {e}")))?;
                Bytes::from(buf)
            }
        };
        files.insert(clean(&path), bytes);
    }
    let manifest = files
        .get("manifest.json")
        .ok_or_else(|| bad("manifest.json is missing: is this a `docker save` tarball?"))?;
    let saved: Vec<SavedImage> =
        serde_json::from_slice(manifest).map_err(|e| bad(format!("manifest.json: {e}")))?;
    if saved.is_empty() {
        return Err(bad("manifest.json lists no images"));
    }
    let get = |path: &str| {
        files.get(&clean(path)).cloned().ok_or_else(|| {
            bad(format!(
                "{path} is named in manifest.json but not in the tarball"
            ))
        })
    };
    saved
        .iter()
        .map(|s| {
            let config = get(&s.config)?;
            serde_json::from_slice::<serde_json::Value>(&config)
                .map_err(|e| bad(format!("{} is not JSON: {e}", s.config)))?;
            let layers = s
                .layers
                .iter()
                .map(|l| {
                    get(l).map(|data| {
                        let media = if data.starts_with(&[0x1f, 0x8b]) {
                            "application/vnd.oci.image.layer.v1.tar+gzip"
                        } else {
                            "application/vnd.oci.image.layer.v1.tar"
                        };
                        (data, media.to_owned())
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(LoadedImage {
                tags: s.repo_tags.clone().unwrap_or_default(),
                config,
                layers,
            })
        })
        .collect()
}

async fn collect(mut tarball: ByteStream) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    while let Some(chunk) = tarball.next().await {
        let chunk = chunk?;
        if data.len() + chunk.len() > MAX_TARBALL_BYTES {
            return Err(bad(format!(
                "the tarball is larger than {MAX_TARBALL_BYTES} bytes; push the image to a registry and pull it instead"
            )));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

fn status(text: String, id: Option<String>) -> CreateImageInfo {
    CreateImageInfo {
        id,
        status: Some(text),
        ..Default::default()
    }
}

/// `Backend::image_load`.
pub async fn load(
    backend: &AcaBackend,
    tarball: ByteStream,
    quiet: bool,
) -> Result<ProgressStream> {
    let Some(server) = backend.config().registry_server.clone() else {
        return Err(ApiError::NotImplemented(
            "image load needs a registry for the layers (ACA pulls images from a registry): configure registry_server, or push the image to a registry and pull it".to_owned(),
        ));
    };
    let data = Bytes::from(collect(tarball).await?);
    let images = tokio::task::spawn_blocking(move || read_tarball(data))
        .await
        .map_err(|e| ApiError::Internal(format!("image load: {e}")))??;
    let mut messages = Vec::new();
    for image in images {
        messages.extend(push_one(backend, &server, image, quiet).await?);
    }
    Ok(Box::pin(stream::iter(messages.into_iter().map(Ok))))
}

async fn push_one(
    backend: &AcaBackend,
    server: &str,
    image: LoadedImage,
    quiet: bool,
) -> Result<Vec<CreateImageInfo>> {
    let id = format!("sha256:{:x}", Sha256::digest(&image.config));
    let hex12: String = id[7..19].to_owned();
    let refs: Vec<ImageRef> = image
        .tags
        .iter()
        .map(|t| ImageRef::parse(t))
        .collect::<Result<_>>()?;
    // Untagged images are pushed under a name of their own and stay dangling.
    let targets: Vec<(String, String)> = if refs.is_empty() {
        vec![("sockerless/loaded".to_owned(), hex12.clone())]
    } else {
        refs.iter()
            .map(|r| {
                (
                    r.path.clone(),
                    r.tag.clone().unwrap_or_else(|| "latest".to_owned()),
                )
            })
            .collect()
    };
    let mut messages = Vec::new();
    if !quiet {
        for (data, _) in &image.layers {
            let layer: String = format!("{:x}", Sha256::digest(data))
                .chars()
                .take(12)
                .collect();
            messages.push(status("Loading layer".to_owned(), Some(layer)));
        }
    }
    let config_json: serde_json::Value = serde_json::from_slice(&image.config)
        .map_err(|e| bad(format!("image config is not JSON: {e}")))?;
    let size = image.layers.iter().map(|(d, _)| d.len() as i64).sum();
    let now = crate::clock::now_nanos();
    for (index, (path, tag)) in targets.iter().enumerate() {
        let target = own_target(server, path, tag);
        let digest = backend
            .azure()
            .registry
            .push_image(&target, image.layers.clone(), image.config.clone())
            .await
            .map_err(map_azure_error)?;
        let own = OwnImage {
            server: server.to_owned(),
            path: path.clone(),
            digest,
            id: id.clone(),
            config: config_json.clone(),
            size,
        };
        let reference = own.record(backend, refs.get(index).cloned(), now).await?;
        crate::events::actors::image(backend, "load", &id, &id);
        let text = if refs.is_empty() {
            format!("Loaded image ID: {id}")
        } else {
            format!("Loaded image: {}", reference.familiar())
        };
        messages.push(status(text, None));
    }
    Ok(messages)
}
