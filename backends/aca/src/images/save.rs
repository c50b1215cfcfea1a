//! `GET /images/get` (`docker save`): a tarball in the layout of dockerd
//! ≥ 25, which both dockerd's `docker load` (legacy store: `manifest.json`;
//! containerd store: `index.json`) and ours read: `blobs/sha256/<hex>` for
//! each manifest, config and layer exactly as the registry holds them (so
//! every digest stays true; compressed layers stay compressed, which both
//! loaders decompress), then `index.json`, `manifest.json`, `oci-layout`
//! and `repositories`. Built from the registry as it is sent: each layer is
//! streamed from the registry into the tar (a layer is never held), a blob
//! shared by several images written once.

use std::collections::HashSet;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::manifest::OciDescriptor;
use serde_json::{Value, json};
use sockerless_api::{ApiError, ByteStream, Result};
use sockerless_azure::registry::blobs::{RawManifest, Repo};
use tokio::sync::mpsc;

use super::source;
use super::stored::{self, ImageEntry};
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// Chunks queued towards the client: the memory a save holds.
const DEPTH: usize = 8;

/// One image of the tarball.
#[derive(Debug, Clone)]
pub struct SaveItem {
    /// Tags as `docker save` names them (`busybox:latest`); none when named by ID.
    pub tags: Vec<String>,
    /// Fully qualified names for `index.json` (`docker.io/library/busybox:latest`).
    pub names: Vec<String>,
    /// The image manifest, as stored.
    pub manifest: RawManifest,
    /// Its config descriptor.
    pub config: OciDescriptor,
    /// Its layers, base first.
    pub layers: Vec<OciDescriptor>,
}

fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

/// The metadata files of the tarball, in the order they are written (pure).
pub fn metadata(items: &[SaveItem]) -> Vec<(String, Vec<u8>)> {
    let mut index = Vec::new();
    let mut manifest = Vec::new();
    let mut repositories = serde_json::Map::new();
    for item in items {
        let descriptor = |name: Option<&String>| {
            let mut d = json!({
                "mediaType": item.manifest.media_type,
                "digest": item.manifest.digest,
                "size": item.manifest.bytes.len(),
            });
            if let Some(name) = name {
                let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
                d["annotations"] = json!({
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag,
                });
            }
            d
        };
        if item.names.is_empty() {
            index.push(descriptor(None));
        }
        for name in &item.names {
            index.push(descriptor(Some(name)));
        }
        let layers: Vec<String> = item.layers.iter().map(|l| blob_path(&l.digest)).collect();
        manifest.push(json!({
            "Config": blob_path(&item.config.digest),
            "RepoTags": item.tags,
            "Layers": layers,
        }));
        let top = item
            .layers
            .last()
            .map(|l| l.digest.trim_start_matches("sha256:").to_owned());
        for tag in &item.tags {
            if let (Some((repo, t)), Some(top)) = (tag.rsplit_once(':'), &top) {
                let entry = repositories
                    .entry(repo.to_owned())
                    .or_insert_with(|| json!({}));
                entry[t] = Value::String(top.clone());
            }
        }
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": index,
    });
    let encode = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
    vec![
        ("index.json".to_owned(), encode(&index)),
        ("manifest.json".to_owned(), encode(&Value::Array(manifest))),
        (
            "oci-layout".to_owned(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        (
            "repositories".to_owned(),
            encode(&Value::Object(repositories)),
        ),
    ]
}

/// A ustar header for a regular file (pure).
pub fn file_header(path: &str, size: u64) -> std::io::Result<[u8; 512]> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut out = [0u8; 512];
    out.copy_from_slice(header.as_bytes());
    Ok(out)
}

/// Zero bytes padding `size` to a whole block.
pub fn padding(size: u64) -> usize {
    let rest = (size % 512) as usize;
    if rest == 0 { 0 } else { 512 - rest }
}

/// Which images `names` are (each resolved in the store, tags kept).
async fn entries(backend: &AcaBackend, names: &[String]) -> Result<Vec<(ImageEntry, bool)>> {
    if names.is_empty() {
        return Err(ApiError::InvalidParameter(
            "image export: no image names given".into(),
        ));
    }
    let mut out = Vec::new();
    for name in names {
        let found = stored::find(backend, name).await?;
        out.push((found.entry, found.by_id));
    }
    Ok(out)
}

/// `Backend::image_save`.
pub async fn save(backend: &AcaBackend, names: Vec<String>) -> Result<ByteStream> {
    // Everything that can fail before the first byte fails here, as an
    // HTTP error: names, registries, manifests and configs.
    let mut items: Vec<(SaveItem, Repo, Bytes)> = Vec::new();
    let wanted = entries(backend, &names).await?;
    for (entry, _) in &wanted {
        crate::events::actors::image_save(backend, &entry.image.id, &entry.reference.familiar());
    }
    for (entry, by_id) in wanted {
        let repo = source::open(backend, &entry).await?;
        let manifest = source::image_manifest(&repo, &entry).await?;
        let config = manifest.config().map_err(map_azure_error)?;
        let config_bytes = repo.small_blob(&config).await.map_err(map_azure_error)?;
        let layers = manifest.layers().map_err(map_azure_error)?;
        let (tags, full) = if by_id {
            (Vec::new(), Vec::new())
        } else {
            (
                vec![entry.reference.familiar()],
                vec![entry.reference.canonical()],
            )
        };
        if let Some((known, _, _)) = items
            .iter_mut()
            .find(|(i, _, _)| i.manifest.digest == manifest.digest)
        {
            known.tags.extend(tags);
            known.names.extend(full);
            continue;
        }
        items.push((
            SaveItem {
                tags,
                names: full,
                manifest,
                config,
                layers,
            },
            repo,
            config_bytes,
        ));
    }
    let (tx, rx) = mpsc::channel::<Result<Bytes>>(DEPTH);
    tokio::spawn(async move {
        if let Err(e) = write_all(&tx, items).await {
            tracing::warn!(error = %e, "image save failed while streaming");
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    )))
}

async fn send(tx: &mpsc::Sender<Result<Bytes>>, data: Bytes) -> Result<()> {
    tx.send(Ok(data))
        .await
        .map_err(|_| ApiError::Unavailable("image save: the client went away".into()))
}

async fn send_file(tx: &mpsc::Sender<Result<Bytes>>, path: &str, data: Bytes) -> Result<()> {
    let size = data.len() as u64;
    let header = file_header(path, size).map_err(|e| ApiError::Internal(e.to_string()))?;
    send(tx, Bytes::copy_from_slice(&header)).await?;
    send(tx, data).await?;
    send(tx, Bytes::from(vec![0u8; padding(size)])).await
}

async fn write_all(
    tx: &mpsc::Sender<Result<Bytes>>,
    items: Vec<(SaveItem, Repo, Bytes)>,
) -> Result<()> {
    let mut written: HashSet<String> = HashSet::new();
    for (item, repo, config) in &items {
        for layer in &item.layers {
            if !written.insert(layer.digest.clone()) {
                continue;
            }
            let size = u64::try_from(layer.size).unwrap_or(0);
            let header = file_header(&blob_path(&layer.digest), size)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            send(tx, Bytes::copy_from_slice(&header)).await?;
            let mut stream =
                std::pin::pin!(repo.blob_stream(layer).await.map_err(map_azure_error)?);
            let mut sent = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(map_azure_error)?;
                sent += chunk.len() as u64;
                if sent > size {
                    return Err(ApiError::Internal(format!(
                        "image save: layer {} is larger than its manifest says",
                        layer.digest
                    )));
                }
                send(tx, chunk).await?;
            }
            if sent != size {
                return Err(ApiError::Internal(format!(
                    "image save: layer {} ended after {sent} of {size} bytes",
                    layer.digest
                )));
            }
            send(tx, Bytes::from(vec![0u8; padding(size)])).await?;
        }
        if written.insert(item.config.digest.clone()) {
            send_file(tx, &blob_path(&item.config.digest), config.clone()).await?;
        }
        if written.insert(item.manifest.digest.clone()) {
            send_file(
                tx,
                &blob_path(&item.manifest.digest),
                item.manifest.bytes.clone(),
            )
            .await?;
        }
    }
    let plain: Vec<SaveItem> = items.into_iter().map(|(i, _, _)| i).collect();
    for (path, data) in metadata(&plain) {
        send_file(tx, &path, Bytes::from(data)).await?;
    }
    send(tx, Bytes::from(vec![0u8; 1024])).await
}

#[cfg(test)]
mod tests;
