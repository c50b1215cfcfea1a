//! A new image made here (`docker commit`, `docker import`): one layer
//! written to a local gzip file (both digests computed as it is written,
//! never held in memory), stacked on a base image's layers, pushed into
//! `registry_server` like a `docker load` (base layers mounted or copied
//! from where the base is held, the new layer streamed from its file, the
//! config, an OCI manifest) and recorded in the image catalog under its
//! name, or dangling under `sockerless/<kind>:<id>` when it has none.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use oci_client::manifest::{IMAGE_LAYER_GZIP_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sockerless_api::{ApiError, Result};
use sockerless_azure::registry::blobs::Repo;
use sockerless_azure::registry::{PullTarget, is_loopback_registry};

use super::reference::ImageRef;
use super::stored::{self, ImageEntry, StoredImage};
use crate::AcaBackend;
use crate::errors::map_azure_error;

/// Unique names for layer files.
static SERIAL: AtomicU64 = AtomicU64::new(0);
/// File read size when a layer is pushed.
const CHUNK: usize = 256 * 1024;

/// A layer written to a local file.
#[derive(Debug, Clone)]
pub struct LayerFile {
    /// The gzip file.
    pub path: PathBuf,
    /// `sha256:` of the uncompressed tar (the config's `diff_id`).
    pub diff_id: String,
    /// `sha256:` of the file.
    pub digest: String,
    /// The file's size.
    pub size: u64,
}

impl Drop for LayerFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A fresh path for a layer file under the data dir.
pub fn new_layer_path(backend: &AcaBackend) -> Result<PathBuf> {
    let dir = backend.config().data_dir.join("new-layers");
    std::fs::create_dir_all(&dir)
        .map_err(|e| ApiError::Internal(format!("{}: {e}", dir.display())))?;
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!("{}-{n}.tar.gz", std::process::id())))
}

struct Hashing<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hash.update(&data[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Compresses the tar read from `input` into `path` (blocking), at most
/// `max` bytes of it.
pub fn write_layer(input: impl Read, path: &Path, max: u64) -> std::io::Result<LayerFile> {
    let file = std::fs::File::create(path)?;
    let gz = flate2::write::GzEncoder::new(
        Hashing {
            inner: std::io::BufWriter::new(file),
            hash: Sha256::new(),
            size: 0,
        },
        flate2::Compression::fast(),
    );
    let mut raw = Hashing {
        inner: gz,
        hash: Sha256::new(),
        size: 0,
    };
    std::io::copy(&mut input.take(max.saturating_add(1)), &mut raw)?;
    if raw.size > max {
        return Err(std::io::Error::other(format!(
            "the tar is larger than {max} bytes"
        )));
    }
    let diff_id = format!("sha256:{:x}", raw.hash.finalize());
    let mut out = raw.inner.finish()?;
    out.flush()?;
    Ok(LayerFile {
        diff_id,
        digest: format!("sha256:{:x}", out.hash.finalize()),
        size: out.size,
        path: path.to_owned(),
    })
}

/// The base of a new image: where its layers are, and which.
pub struct Base {
    /// Its source repository.
    pub repo: Repo,
    /// Its layers, base first.
    pub layers: Vec<OciDescriptor>,
}

/// The OCI manifest of a new image (pure).
pub fn manifest_of(config: &Bytes, layers: &[OciDescriptor]) -> Value {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| {
            json!({
                "mediaType": oci_media_type(&l.media_type),
                "digest": l.digest,
                "size": l.size,
            })
        })
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{:x}", Sha256::digest(config)),
            "size": config.len(),
        },
        "layers": layers,
    })
}

/// Docker's layer media types as their OCI equivalents (same bytes).
fn oci_media_type(media: &str) -> &str {
    match media {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => IMAGE_LAYER_GZIP_MEDIA_TYPE,
        "application/vnd.docker.image.rootfs.diff.tar" => "application/vnd.oci.image.layer.v1.tar",
        other => other,
    }
}

/// Pushes the image (`base`'s layers, then `layer`) with `config` to
/// `registry_server` and records it; returns its ID.
pub async fn publish(
    backend: &AcaBackend,
    kind: &str,
    name: Option<ImageRef>,
    base: Option<Base>,
    layer: &LayerFile,
    config: Value,
) -> Result<String> {
    let Some(server) = backend.config().registry_server.clone() else {
        return Err(ApiError::NotImplemented(format!(
            "image {kind} needs a registry for the new image's layers (ACA pulls images from a registry): configure registry_server"
        )));
    };
    let config_bytes = Bytes::from(
        serde_json::to_vec(&config)
            .map_err(|e| ApiError::Internal(format!("image config: {e}")))?,
    );
    let id = format!("sha256:{:x}", Sha256::digest(&config_bytes));
    let (path, tag) = match &name {
        Some(r) => (
            r.path.clone(),
            r.tag.clone().unwrap_or_else(|| "latest".to_owned()),
        ),
        None => (format!("sockerless/{kind}"), id[7..19].to_owned()),
    };
    let target = own_target(&server, &path, &tag);
    let dest = backend
        .azure()
        .registry
        .open_repo(&target, None, true)
        .await
        .map_err(map_azure_error)?;
    let mut layers = Vec::new();
    if let Some(base) = &base {
        for l in &base.layers {
            dest.copy_blob(&base.repo, l)
                .await
                .map_err(map_azure_error)?;
        }
        layers.extend(base.layers.iter().cloned());
    }
    if !dest
        .has_blob(&layer.digest)
        .await
        .map_err(map_azure_error)?
    {
        dest.push_stream(file_stream(layer.path.clone()), &layer.digest, layer.size)
            .await
            .map_err(map_azure_error)?;
    }
    layers.push(OciDescriptor {
        media_type: IMAGE_LAYER_GZIP_MEDIA_TYPE.to_owned(),
        digest: layer.digest.clone(),
        size: i64::try_from(layer.size).unwrap_or(i64::MAX),
        ..Default::default()
    });
    dest.push_bytes(config_bytes.clone())
        .await
        .map_err(map_azure_error)?;
    let manifest = manifest_of(&config_bytes, &layers);
    let manifest = Bytes::from(serde_json::to_vec(&manifest).unwrap_or_default());
    let digest = dest
        .push_manifest(&tag, manifest, OCI_IMAGE_MEDIA_TYPE)
        .await
        .map_err(map_azure_error)?;
    let own = OwnImage {
        server,
        path,
        digest,
        id: id.clone(),
        config,
        size: layers.iter().map(|l| l.size).sum(),
    };
    own.record(backend, name, crate::clock::now_nanos()).await?;
    Ok(id)
}

/// Where this daemon puts an image it made: `path:tag` in `server` (its
/// `registry_server`).
pub(super) fn own_target(server: &str, path: &str, tag: &str) -> PullTarget {
    PullTarget {
        registry: server.to_owned(),
        repository: path.to_owned(),
        tag: Some(tag.to_owned()),
        digest: None,
        plain_http: is_loopback_registry(server),
        mirrored: false,
    }
}

/// An image this daemon made (built, committed, imported, loaded) and
/// pushed to its registry.
pub(super) struct OwnImage {
    /// The registry (`registry_server`).
    pub server: String,
    /// The repository in it.
    pub path: String,
    /// The manifest digest the push answered.
    pub digest: String,
    /// `sha256:<config digest>`.
    pub id: String,
    /// The image config.
    pub config: Value,
    /// Sum of the layer sizes.
    pub size: i64,
}

impl OwnImage {
    /// Records it under `name`, else by its digest, as made at `now`;
    /// returns the reference recorded.
    pub(super) async fn record(
        self,
        backend: &AcaBackend,
        name: Option<ImageRef>,
        now: i64,
    ) -> Result<ImageRef> {
        let source = format!("{}/{}", self.server, self.path);
        let reference = match name {
            Some(r) => r,
            None => ImageRef::parse(&format!("{source}@{}", self.digest))?,
        };
        let entry = ImageEntry {
            reference: reference.clone(),
            digest: self.digest,
            image: StoredImage {
                id: self.id,
                config: self.config,
                size: self.size,
                source,
                credential: None,
                pulled: false,
                tagged_at: now,
            },
            created_at: now,
        };
        stored::put(backend, &entry).await?;
        Ok(reference)
    }
}

/// A local file as a stream of chunks.
fn file_stream(path: PathBuf) -> impl futures_util::Stream<Item = Result<Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    // State: `None` before opening, `Some(None)` after an error (ended).
    futures_util::stream::unfold(None, move |file: Option<Option<tokio::fs::File>>| {
        let path = path.clone();
        async move {
            let mut file = match file {
                Some(None) => return None,
                Some(Some(f)) => f,
                None => match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    // The stream ends after this error (see below).
                    Err(e) => {
                        return Some((
                            Err(ApiError::Internal(format!("{}: {e}", path.display()))),
                            Some(None),
                        ));
                    }
                },
            };
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some(Some(file))))
                }
                Err(e) => Some((
                    Err(ApiError::Internal(format!("{}: {e}", path.display()))),
                    Some(None),
                )),
            }
        }
    })
}
