//! `POST /images/create?fromSrc=-` (`docker import`): the request's tar
//! becomes the one layer of a new image (gzipped into a local file as it
//! arrives), its config made from `platform`, `changes` and `message`
//! as dockerd makes it, then pushed and recorded like a load (see
//! [`super::publish`]). Progress: the new image's ID, as dockerd prints it.

use std::io::Read;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use sockerless_api::docker::CreateImageInfo;
use sockerless_api::{ApiError, ByteStream, ImportImageOptions, ProgressStream, Result};
use sockerless_azure::registry::PlatformSpec;
use tokio::sync::mpsc;

use super::instructions;
use super::publish::{self, LayerFile};
use super::reference::ImageRef;
use crate::AcaBackend;

/// Largest tar imported (its bytes, uncompressed).
pub const MAX_IMPORT_BYTES: u64 = 16 << 30;
/// Chunks queued between the request and the compressor.
const DEPTH: usize = 8;

/// The name the image gets: `repo` with `tag` (pure).
pub fn import_name(repo: Option<&str>, tag: Option<&str>) -> Result<Option<ImageRef>> {
    let Some(repo) = repo.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let mut reference = ImageRef::parse(repo)?;
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        reference = reference.with_tag(tag);
    }
    Ok(Some(reference))
}

/// The config of an imported image (pure).
pub fn import_config(
    platform: &PlatformSpec,
    changes: &[String],
    message: Option<&str>,
    diff_id: &str,
    created: &str,
) -> Result<Value> {
    let mut config = Map::new();
    instructions::apply(&mut config, changes)?;
    let comment = message
        .filter(|m| !m.is_empty())
        .unwrap_or("Imported from -");
    let mut image = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": created,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "comment": comment}],
    });
    if let Some(variant) = &platform.variant {
        image["variant"] = json!(variant);
    }
    Ok(image)
}

/// A blocking reader over chunks sent from an async task.
pub struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    /// Feeds `stream` into a reader for a blocking thread.
    pub fn spawn(mut stream: ByteStream) -> Self {
        let (tx, rx) = mpsc::channel(DEPTH);
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        Self {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// The tar of `input`, gunzipped when it is gzip (as dockerd's import
/// takes compressed tars too).
fn decompressed(mut input: impl Read + Send + 'static) -> std::io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        let got = input.read(&mut magic[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let whole = std::io::Cursor::new(magic[..n].to_vec()).chain(input);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(whole)))
    } else {
        Ok(Box::new(whole))
    }
}

/// Writes a byte stream (a tar, possibly gzipped) as a layer file.
pub async fn layer_from_stream(
    backend: &AcaBackend,
    stream: ByteStream,
    max: u64,
) -> Result<LayerFile> {
    let path = publish::new_layer_path(backend)?;
    let reader = ChannelReader::spawn(stream);
    let written = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || publish::write_layer(decompressed(reader)?, &path, max))
            .await
            .map_err(|e| ApiError::Internal(format!("writing the layer: {e}")))?
    };
    written.map_err(|e| {
        let _ = std::fs::remove_file(&path);
        ApiError::InvalidParameter(format!("reading the tar: {e}"))
    })
}

/// `Backend::image_import`.
pub async fn import(
    backend: &AcaBackend,
    opts: ImportImageOptions,
    tarball: ByteStream,
) -> Result<ProgressStream> {
    let name = import_name(opts.repo.as_deref(), opts.tag.as_deref())?;
    let platform = super::pull::requested_platform(opts.platform.as_deref())?.unwrap_or_default();
    // Refuse bad changes before reading the body.
    instructions::apply(&mut Map::new(), &opts.changes)?;
    let layer = layer_from_stream(backend, tarball, MAX_IMPORT_BYTES).await?;
    let created = crate::clock::rfc3339(crate::clock::now_nanos());
    let config = import_config(
        &platform,
        &opts.changes,
        opts.message.as_deref(),
        &layer.diff_id,
        &created,
    )?;
    let shown = name.as_ref().map(ImageRef::familiar);
    let id = publish::publish(backend, "imported", name, None, &layer, config).await?;
    crate::events::actors::image_import(backend, &id, shown.as_deref().unwrap_or(&id));
    let line = CreateImageInfo {
        status: Some(id),
        ..Default::default()
    };
    Ok(Box::pin(futures_util::stream::iter([Ok(line)])))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn config_of_an_import() {
        let platform = PlatformSpec::parse("linux/arm64/v8").expect("platform");
        let config = import_config(
            &platform,
            &["CMD [\"/bin/echo\"]".to_owned()],
            None,
            "sha256:abc",
            "2026-01-01T00:00:00Z",
        )
        .expect("config");
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["variant"], "v8");
        assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/echo"]));
        assert_eq!(
            config["rootfs"]["diff_ids"],
            serde_json::json!(["sha256:abc"])
        );
        assert_eq!(config["history"][0]["comment"], "Imported from -");
        let named = import_name(Some("img"), Some("2"))
            .expect("ok")
            .expect("some");
        assert_eq!(named.familiar(), "img:2");
        assert!(import_name(Some(""), None).expect("ok").is_none());
    }

    #[test]
    fn gzip_input_is_unpacked_and_digests_are_of_the_tar() {
        let tar = b"not really a tar, but bytes".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).expect("gz");
        let gz = gz.finish().expect("gz");
        let dir = tempfile::tempdir().expect("dir");
        for input in [tar.clone(), gz] {
            let path = dir.path().join("layer.tar.gz");
            let reader = decompressed(std::io::Cursor::new(input)).expect("read");
            let layer = publish::write_layer(reader, &path, 1 << 20).expect("layer");
            use sha2::Digest;
            assert_eq!(
                layer.diff_id,
                format!("sha256:{:x}", sha2::Sha256::digest(&tar))
            );
            let on_disk = std::fs::read(&path).expect("file");
            assert_eq!(
                layer.digest,
                format!("sha256:{:x}", sha2::Sha256::digest(&on_disk))
            );
            assert_eq!(layer.size, on_disk.len() as u64);
        }
        let path = dir.path().join("big.tar.gz");
        assert!(publish::write_layer(&tar[..], &path, 4).is_err());
    }
}
