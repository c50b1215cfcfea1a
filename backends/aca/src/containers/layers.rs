//! The layers of a container's image as local files, for reading an exited
//! container's filesystem. A pull reads manifests and configs only (ACA
//! pulls the layers), so the layers are fetched here on first use: the
//! manifest through the registry client's pull, each blob streamed (through
//! the registry client's repository, with its login) to
//! `<data_dir>/layers/<algorithm>-<hex>` (digest verified while it streams,
//! never held in memory) and kept there for later copies.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use sockerless_api::{ApiError, Result};
use sockerless_azure::registry::PlatformSpec;
use tokio::io::AsyncWriteExt;

use crate::AcaBackend;
use crate::errors::map_azure_error;
use crate::images::stored;
use sockerless_azure::registry::blobs::Repo;

/// Unique names for partial downloads.
static PARTIAL: AtomicU64 = AtomicU64::new(0);

fn missing(name: &str, what: impl std::fmt::Display) -> ApiError {
    ApiError::Conflict(format!(
        "container {name} has exited and the layers of its image cannot be read to copy from it: {what}"
    ))
}

/// The image layers of an exited container, bottom first, as local files.
pub async fn image_layers(
    backend: &AcaBackend,
    image_id: &str,
    platform: Option<&str>,
    name: &str,
) -> Result<Vec<PathBuf>> {
    let entry = stored::find(backend, image_id)
        .await
        .map_err(|_| {
            missing(
                name,
                format!("image {image_id} is no longer in the image store"),
            )
        })?
        .entry;
    let (target, login) = crate::images::source::target_of(backend, &entry)
        .ok_or_else(|| missing(name, format!("image source {}", entry.image.source)))?;
    let platform = platform
        .filter(|p| !p.is_empty())
        .map(PlatformSpec::parse)
        .transpose()
        .map_err(map_azure_error)?;
    let pulled = backend
        .azure()
        .registry
        .pull_image(&target, login.as_ref(), platform.as_ref())
        .await
        .map_err(|e| missing(name, e))?;
    let dir = backend.config().data_dir.join("layers");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| missing(name, format!("{}: {e}", dir.display())))?;
    // Opened on the first layer not kept yet: kept layers cost no login.
    let mut repo: Option<Repo> = None;
    let mut paths = Vec::new();
    for layer in &pulled.manifest.layers {
        let file = layer.digest.replace(':', "-");
        if file.contains('/') || file.starts_with('.') {
            return Err(missing(name, format!("layer digest {}", layer.digest)));
        }
        let path = dir.join(file);
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            if repo.is_none() {
                let opened = backend
                    .azure()
                    .registry
                    .open_repo(&target, login.as_ref(), false)
                    .await
                    .map_err(|e| missing(name, format!("{target}: {e}")))?;
                repo = Some(opened);
            }
            if let Some(repo) = &repo {
                download(repo, layer, &path)
                    .await
                    .map_err(|e| missing(name, format!("layer {}: {e}", layer.digest)))?;
            }
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Streams one blob into `path` (through a partial file).
async fn download(
    repo: &Repo,
    layer: &oci_client::manifest::OciDescriptor,
    path: &std::path::Path,
) -> std::result::Result<(), String> {
    let n = PARTIAL.fetch_add(1, Ordering::Relaxed);
    let partial = path.with_extension(format!("partial{}-{n}", std::process::id()));
    let stream = repo.blob_stream(layer).await.map_err(|e| e.to_string())?;
    let mut stream = std::pin::pin!(stream);
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| e.to_string())?;
    let written = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.flush().await.map_err(|e| e.to_string())
    }
    .await;
    drop(file);
    let done = match written {
        Ok(()) => tokio::fs::rename(&partial, path)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if done.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    done
}

/// A layer file as a tar reader: gzip or plain (by its first bytes).
pub fn open_tar(path: &std::path::Path) -> std::result::Result<Box<dyn Read>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(|e| e.to_string())?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let reader = std::io::BufReader::new(head.chain(file));
    if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Err(format!(
            "{}: zstd-compressed layers are not supported",
            path.display()
        ))
    } else {
        Ok(Box::new(reader))
    }
}
