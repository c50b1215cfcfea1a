//! `docker cp` out of an exited container: its replica is gone, so the
//! filesystem is rebuilt from what the daemon keeps: the changes recorded
//! at its exit (`crate::changes`) and files put into it since
//! (`crate::binds::files`), stacked by time over the image's layers
//! (`super::layers`), whiteouts honoured (`super::overlay`). Volumes and
//! other mounts are not in those and are refused with a message saying so;
//! without a kept record the copy is refused rather than answered from the
//! image alone.

use std::io::Write;
use std::path::PathBuf;

use bytes::Bytes;
use sockerless_api::{ApiError, ByteStream, PathStat, Result};
use tokio::sync::mpsc;

use super::layers;
use super::overlay::{Index, Kind, Meta};
use crate::AcaBackend;
use crate::runtime::{StoredConfig, find_container};

/// Output chunk size and channel depth: the memory a copy holds.
const CHUNK: usize = 64 * 1024;
const DEPTH: usize = 8;

fn not_found(path: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Could not find the file {path} in container {name}"
    ))
}

/// The container's filesystem, indexed, with its tars top first.
struct Fs {
    index: Index,
    tars: Vec<PathBuf>,
}

async fn open(backend: &AcaBackend, id: &str, path: &str) -> Result<(Fs, String)> {
    let record = find_container(backend, id).await?;
    let stored = StoredConfig::of(&record)?;
    let name = record.name.clone();
    let changes = crate::changes::record_path(backend, &record.id);
    if !tokio::fs::try_exists(&changes).await.unwrap_or(false) {
        return Err(ApiError::Conflict(format!(
            "container {name} has exited and its filesystem changes were not kept \
             (changes_max_bytes is 0, it is removed on exit, or the record failed): \
             sockerless cannot copy from it"
        )));
    }
    if let Some(m) = stored
        .mounts
        .iter()
        .find(|m| super::overlay::under(path, m.target().trim_end_matches('/')))
    {
        return Err(ApiError::Conflict(format!(
            "{path} is on the mount {} of container {name}, which has exited: \
             sockerless can copy from mounts only while the container runs",
            m.target()
        )));
    }
    // The kept tars by time, newest on top: files put since the exit sit
    // above the record, older ones are in it already.
    let mut upper = crate::binds::files::kept_tars(backend, &record.id);
    upper.push(changes);
    let mut timed = Vec::new();
    for t in upper {
        let at = tokio::fs::metadata(&t)
            .await
            .and_then(|m| m.modified())
            .ok();
        timed.push((at, t));
    }
    timed.sort_by_key(|t| std::cmp::Reverse(t.0));
    let mut tars: Vec<PathBuf> = timed.into_iter().map(|(_, t)| t).collect();
    let mut image =
        layers::image_layers(backend, &stored.image_id, stored.platform.as_deref(), &name).await?;
    image.reverse();
    tars.extend(image);
    let fs = tokio::task::spawn_blocking(move || -> std::result::Result<Fs, String> {
        let mut index = Index::default();
        for (i, t) in tars.iter().enumerate() {
            let reader = layers::open_tar(t)?;
            index
                .add_layer(i, reader)
                .map_err(|e| format!("{}: {e}", t.display()))?;
        }
        Ok(Fs { index, tars })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| {
        ApiError::Internal(format!(
            "reading the filesystem of container {name} failed: {e}"
        ))
    })?;
    Ok((fs, name))
}

fn go_mode(meta: &Meta) -> u32 {
    let kind = match meta.kind {
        Kind::Dir => 1 << 31,
        Kind::Symlink(_) => 1 << 27,
        _ => 0,
    };
    (meta.mode & 0o777) | kind
}

/// The resolved path and the stat dockerd gives for `path`.
fn locate(fs: &Fs, path: &str, name: &str) -> Result<(String, PathStat)> {
    let follow_last = path.ends_with('/') || path.ends_with("/.");
    let resolved = fs
        .index
        .resolve(path, follow_last)
        .ok_or_else(|| not_found(path, name))?;
    let root = Meta {
        layer: 0,
        kind: Kind::Dir,
        size: 0,
        mode: 0o755,
        mtime: 0,
    };
    let meta = match fs.index.get(&resolved) {
        Some(m) => m.clone(),
        None if resolved == "/" => root,
        None => return Err(not_found(path, name)),
    };
    let size = match &meta.kind {
        Kind::Hardlink(t) => fs.index.get(t).map_or(0, |m| m.size),
        Kind::Dir => 4096,
        _ => meta.size,
    };
    let base = std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    let stat = PathStat {
        name: base,
        size: size as i64,
        mode: go_mode(&meta),
        mtime: crate::clock::rfc3339((meta.mtime as i64).saturating_mul(1_000_000_000)),
        link_target: match meta.kind {
            Kind::Symlink(t) => t,
            _ => String::new(),
        },
    };
    Ok((resolved, stat))
}

/// `HEAD` archive of an exited container.
pub async fn stat(backend: &AcaBackend, id: &str, path: &str) -> Result<PathStat> {
    let (fs, name) = open(backend, id, path).await?;
    locate(&fs, path, &name).map(|(_, s)| s)
}

/// `GET` archive of an exited container: the stat and the tar, streamed.
pub async fn get(backend: &AcaBackend, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
    let (fs, name) = open(backend, id, path).await?;
    let (resolved, stat) = locate(&fs, path, &name)?;
    let prefix = if stat.name == "/" {
        ".".to_owned()
    } else {
        stat.name.clone()
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes>>(DEPTH);
    tokio::task::spawn_blocking(move || {
        let mut out = tar::Builder::new(ChanWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        });
        let built = (|| -> std::result::Result<(), String> {
            for layer in fs.index.layers_under(&resolved) {
                let tar = &fs.tars[layer];
                let pending = fs.index.emit_layer(
                    layer,
                    layers::open_tar(tar)?,
                    &resolved,
                    &prefix,
                    &mut out,
                )?;
                fs.index
                    .emit_targets(layers::open_tar(tar)?, &pending, &mut out)?;
            }
            out.finish().map_err(|e| format!("writing: {e}"))?;
            out.get_mut().flush().map_err(|e| format!("writing: {e}"))
        })();
        if let Err(e) = built {
            let _ = tx.blocking_send(Err(ApiError::Internal(format!(
                "copying from container {name} failed: {e}"
            ))));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((stat, Box::pin(stream)))
}

/// A blocking writer sending chunks to the response.
struct ChanWriter {
    tx: mpsc::Sender<Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}
