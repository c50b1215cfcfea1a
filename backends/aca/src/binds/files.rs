//! Files put into a container that does not run (`PUT /containers/{id}/archive`,
//! `docker cp` before `docker start`): kept in the data directory and put
//! into the container by the agent before its process starts, at every
//! start (as files in a container's filesystem outlive a restart).
//!
//! Layout: `<data_dir>/files/<id>/NNNNNN.tar`, each the caller's tar with
//! its entries re-rooted at `/` (in order), and `tree/`, the same files
//! extracted, which `HEAD`/`GET` archive of a created container read.
//! Bounded by `bind_max_bytes` per container; removed with the container.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use futures_util::StreamExt;
use sockerless_api::{ApiError, ByteStream, PathStat, Result};
use tokio::io::AsyncWriteExt;

use super::{pipe, transfer};
use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;

/// One PUT at a time (numbering, budget), over all containers.
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn dir_of(backend: &AcaBackend, id: &str) -> PathBuf {
    backend.config().data_dir.join("files").join(id)
}

/// The stored tars of `id`, in order.
fn stored(dir: &Path) -> Vec<PathBuf> {
    let mut tars: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "tar"))
                .collect()
        })
        .unwrap_or_default();
    tars.sort();
    tars
}

/// The kept tars of `id`, in the order they were put.
pub fn kept_tars(backend: &AcaBackend, id: &str) -> Vec<PathBuf> {
    stored(&dir_of(backend, id))
}

/// Whether files wait to be put into `id` at its start.
pub async fn has_any(backend: &AcaBackend, id: &str) -> bool {
    let dir = dir_of(backend, id);
    tokio::task::spawn_blocking(move || !stored(&dir).is_empty())
        .await
        .unwrap_or(false)
}

/// `path` relative to `/`, refused when it has `..`.
fn relative(path: &str) -> Result<PathBuf> {
    let mut rel = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => {
                return Err(ApiError::InvalidParameter(format!(
                    "path {path} leaves the container's root"
                )));
            }
        }
    }
    Ok(rel)
}

/// Keeps the caller's tar for extraction into `path` at start.
pub async fn put(
    backend: &AcaBackend,
    id: &str,
    name: &str,
    path: &str,
    mut tar: ByteStream,
) -> Result<()> {
    let rel = relative(path)?;
    let _one = LOCK.lock().await;
    let dir = dir_of(backend, id);
    let tree = dir.join("tree");
    tokio::fs::create_dir_all(tree.join(&rel))
        .await
        .map_err(|e| ApiError::Internal(format!("keeping files for container {name}: {e}")))?;
    let tars = stored(&dir);
    let mut used = 0u64;
    for t in &tars {
        used += tokio::fs::metadata(t).await.map(|m| m.len()).unwrap_or(0);
    }
    let max = backend.config().bind_max_bytes;
    let too_large = || {
        ApiError::InvalidParameter(format!(
            "files put into container {name} before it starts may total at most {max} bytes (bind_max_bytes)"
        ))
    };
    let raw = dir.join("incoming.raw");
    let internal =
        |e: std::io::Error| ApiError::Internal(format!("keeping files for container {name}: {e}"));
    let mut file = tokio::fs::File::create(&raw).await.map_err(internal)?;
    let mut size = 0u64;
    let received: Result<()> = async {
        while let Some(chunk) = tar.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if used + size > max {
                return Err(too_large());
            }
            file.write_all(&chunk).await.map_err(internal)?;
        }
        file.flush().await.map_err(internal)
    }
    .await;
    drop(file);
    if let Err(e) = received {
        let _ = tokio::fs::remove_file(&raw).await;
        return Err(e);
    }
    let out = dir.join(format!("{:06}.tar", tars.len() + 1));
    let (raw2, out2) = (raw.clone(), out.clone());
    let done = tokio::task::spawn_blocking(move || -> std::result::Result<(), String> {
        let input = std::fs::File::open(&raw2).map_err(|e| e.to_string())?;
        let output = std::fs::File::create(&out2).map_err(|e| e.to_string())?;
        transfer::prefixed(input, &rel, output)?;
        let mut archive = tar::Archive::new(std::fs::File::open(&out2).map_err(|e| e.to_string())?);
        archive.set_overwrite(true);
        archive
            .unpack(&tree)
            .map_err(|e| format!("extracting: {e}"))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let _ = tokio::fs::remove_file(&raw).await;
    if let Err(e) = done {
        let _ = tokio::fs::remove_file(&out).await;
        return Err(ApiError::InvalidParameter(e));
    }
    tracing::info!(container = %id, %path, bytes = size, "files kept for the container's start");
    Ok(())
}

fn go_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    m |= match mode & libc::S_IFMT {
        libc::S_IFDIR => 1 << 31,
        libc::S_IFLNK => 1 << 27,
        _ => 0,
    };
    m
}

/// The kept file at `path`: every parent must be a real directory.
fn locate(
    backend: &AcaBackend,
    id: &str,
    name: &str,
    path: &str,
) -> Result<(PathBuf, std::fs::Metadata)> {
    let missing = || {
        ApiError::NotFound(format!(
            "Could not find the file {path} in container {name}"
        ))
    };
    let rel = relative(path)?;
    let mut at = dir_of(backend, id).join("tree");
    let parts: Vec<_> = rel.components().collect();
    for (i, c) in parts.iter().enumerate() {
        at.push(c);
        let m = std::fs::symlink_metadata(&at).map_err(|_| missing())?;
        if i + 1 < parts.len() && !m.is_dir() {
            return Err(missing());
        }
    }
    let m = std::fs::symlink_metadata(&at).map_err(|_| missing())?;
    Ok((at, m))
}

fn stat_of(path: &str, at: &Path, m: &std::fs::Metadata) -> PathStat {
    let base = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    PathStat {
        name: base,
        size: m.len() as i64,
        mode: go_mode(m.mode()),
        mtime: crate::clock::rfc3339(m.mtime() * 1_000_000_000 + m.mtime_nsec()),
        link_target: std::fs::read_link(at)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// `HEAD` archive of a created container: the kept files only (404 otherwise).
pub fn stat(backend: &AcaBackend, id: &str, name: &str, path: &str) -> Result<PathStat> {
    let (at, m) = locate(backend, id, name, path)?;
    Ok(stat_of(path, &at, &m))
}

/// `GET` archive of a created container: a tar of the kept files at `path`.
pub fn get(
    backend: &AcaBackend,
    id: &str,
    name: &str,
    path: &str,
) -> Result<(PathStat, ByteStream)> {
    let (at, m) = locate(backend, id, name, path)?;
    let stat = stat_of(path, &at, &m);
    let (writer, rx) = pipe::writer(u64::MAX);
    let entry = if stat.name == "/" {
        ".".to_owned()
    } else {
        stat.name.clone()
    };
    tokio::task::spawn_blocking(move || {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(false);
        let built = if m.is_dir() {
            b.append_dir_all(&entry, &at)
        } else {
            b.append_path_with_name(&at, &entry)
        };
        if let Err(e) = built.and_then(|()| b.into_inner().map(|_| ())) {
            tracing::warn!(error = %e, "reading kept files failed");
        }
    });
    Ok((stat, transfer::byte_stream(rx)))
}

/// At start: puts the kept files into the container. Returns the failures.
pub async fn apply(backend: &AcaBackend, id: &str, link: &AgentLink) -> Vec<String> {
    let dir = dir_of(backend, id);
    let tars = tokio::task::spawn_blocking(move || stored(&dir))
        .await
        .unwrap_or_default();
    let mut failures = Vec::new();
    for t in tars {
        if let Err(e) = transfer::put_file(link, &t).await {
            failures.push(format!(
                "files copied before start not put into the container: {e}"
            ));
        }
    }
    failures
}

/// `docker rm`: forgets the kept files.
pub async fn forget(backend: &AcaBackend, id: &str) {
    let dir = dir_of(backend, id);
    if let Err(e) = tokio::fs::remove_dir_all(&dir).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(container = %id, error = %e, "cannot remove kept files");
    }
}
