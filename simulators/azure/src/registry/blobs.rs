//! Blobs and blob uploads of the registry: bytes go to and come from the
//! store's files (see [`super::store`]), off the async workers.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use super::auth::acr_error;
use super::headers;
use super::store::{Upload, digest_of_file, is_digest};
use crate::state::AppState;

pub(super) async fn get_blob(state: &AppState, name: &str, digest: &str, head: bool) -> Response {
    let found = {
        let reg = state.registry();
        let linked = reg
            .repos
            .get(name)
            .is_some_and(|r| r.blobs.contains(digest));
        reg.blobs
            .get(digest)
            .filter(|_| linked)
            .map(|len| (*len, reg.blob_path(digest)))
    };
    let Some((len, path)) = found else {
        return acr_error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        );
    };
    let hdrs = headers(&[
        ("content-type", "application/octet-stream".into()),
        ("docker-content-digest", digest.to_string()),
        ("content-length", len.to_string()),
    ]);
    if head {
        return (StatusCode::OK, hdrs).into_response();
    }
    match tokio::fs::File::open(&path).await {
        Ok(file) => (StatusCode::OK, hdrs, Body::from_stream(file_chunks(file))).into_response(),
        Err(e) => storage_error(&path, &e),
    }
}

/// A file's bytes as a body, a piece at a time.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            // The error ends the body; nothing is read after it.
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// A blob or upload file could not be read or written.
fn storage_error(path: &std::path::Path, e: &std::io::Error) -> Response {
    tracing::warn!(path = %path.display(), error = %e, "registry storage failed");
    acr_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        &format!("registry storage failed: {e}"),
    )
}

/// Runs file work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)?
}

pub(super) fn delete_blob(state: &AppState, name: &str, digest: &str) -> Response {
    let mut reg = state.registry();
    let removed = reg
        .repos
        .get_mut(name)
        .is_some_and(|r| r.blobs.remove(digest));
    if removed {
        (StatusCode::ACCEPTED, headers(&[])).into_response()
    } else {
        acr_error(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        )
    }
}

/// Stores the blob in `file` (moved into place) when its bytes have digest
/// `expected`; the file is removed otherwise.
async fn store_blob(
    state: &AppState,
    name: &str,
    file: std::path::PathBuf,
    expected: &str,
) -> Response {
    if !is_digest(expected) {
        let _ = std::fs::remove_file(&file);
        return acr_error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest is not a sha256 digest",
        );
    }
    let blob = state.registry().blob_path(expected);
    let expected_digest = expected.to_owned();
    let moved = {
        let file = file.clone();
        blocking(move || {
            let digest = digest_of_file(&file)?;
            if digest != expected_digest {
                std::fs::remove_file(&file)?;
                return Ok(None);
            }
            let len = std::fs::metadata(&file)?.len();
            std::fs::rename(&file, &blob)?;
            Ok(Some(len))
        })
        .await
    };
    let len = match moved {
        Ok(Some(len)) => len,
        Ok(None) => {
            return acr_error(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
            );
        }
        Err(e) => {
            let _ = std::fs::remove_file(&file);
            return storage_error(&file, &e);
        }
    };
    let digest = expected.to_owned();
    let mut reg = state.registry();
    reg.blobs.insert(digest.clone(), len);
    reg.repos
        .entry(name.to_string())
        .or_default()
        .blobs
        .insert(digest.clone());
    let location = format!("/v2/{name}/blobs/{digest}");
    (
        StatusCode::CREATED,
        headers(&[("location", location), ("docker-content-digest", digest)]),
    )
        .into_response()
}

/// Appends `body` to the file at `path` (creating it).
async fn append(path: std::path::PathBuf, body: Bytes) -> std::io::Result<()> {
    blocking(move || {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        file.write_all(&body)
    })
    .await
}

pub(super) async fn start_upload(
    state: &AppState,
    name: &str,
    q: &HashMap<String, String>,
    body: Bytes,
) -> Response {
    if let Some(mount) = q.get("mount") {
        let mut reg = state.registry();
        let from_has = q
            .get("from")
            .and_then(|f| reg.repos.get(f))
            .is_some_and(|r| r.blobs.contains(mount));
        if from_has && reg.blobs.contains_key(mount) {
            reg.repos
                .entry(name.to_string())
                .or_default()
                .blobs
                .insert(mount.clone());
            let location = format!("/v2/{name}/blobs/{mount}");
            return (
                StatusCode::CREATED,
                headers(&[
                    ("location", location),
                    ("docker-content-digest", mount.clone()),
                ]),
            )
                .into_response();
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let path = state.registry().upload_path(&id);
    let len = body.len();
    if let Err(e) = append(path.clone(), body).await {
        let _ = std::fs::remove_file(&path);
        return storage_error(&path, &e);
    }
    if let Some(digest) = q.get("digest") {
        return store_blob(state, name, path, digest).await;
    }
    state.registry().uploads.insert(
        id.clone(),
        Upload {
            repo: name.to_string(),
            len: len as u64,
        },
    );
    upload_accepted(name, &id, len as u64)
}

fn upload_accepted(name: &str, id: &str, len: u64) -> Response {
    let range = format!("0-{}", len.saturating_sub(1));
    (
        StatusCode::ACCEPTED,
        headers(&[
            ("location", format!("/v2/{name}/blobs/uploads/{id}")),
            ("docker-upload-uuid", id.to_string()),
            ("range", range),
        ]),
    )
        .into_response()
}

fn upload_unknown() -> Response {
    acr_error(
        StatusCode::NOT_FOUND,
        "BLOB_UPLOAD_UNKNOWN",
        "blob upload unknown to registry",
    )
}

/// The file of upload `id` of repository `name`, if that upload exists.
fn upload_file(state: &AppState, name: &str, id: &str) -> Option<std::path::PathBuf> {
    let reg = state.registry();
    reg.uploads
        .get(id)
        .filter(|u| u.repo == name)
        .map(|_| reg.upload_path(id))
}

pub(super) async fn patch_upload(state: &AppState, name: &str, id: &str, body: Bytes) -> Response {
    let Some(path) = upload_file(state, name, id) else {
        return upload_unknown();
    };
    let added = body.len() as u64;
    if let Err(e) = append(path.clone(), body).await {
        return storage_error(&path, &e);
    }
    let mut reg = state.registry();
    match reg.uploads.get_mut(id) {
        Some(u) => {
            u.len += added;
            upload_accepted(name, id, u.len)
        }
        // Cancelled meanwhile.
        None => upload_unknown(),
    }
}

pub(super) async fn finish_upload(
    state: &AppState,
    name: &str,
    id: &str,
    q: &HashMap<String, String>,
    body: Bytes,
) -> Response {
    let Some(digest) = q.get("digest") else {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "digest query parameter is required",
        );
    };
    let path = {
        let mut reg = state.registry();
        match reg.uploads.get(id) {
            Some(u) if u.repo == name => {
                reg.uploads.remove(id);
                reg.upload_path(id)
            }
            _ => return upload_unknown(),
        }
    };
    if let Err(e) = append(path.clone(), body).await {
        let _ = std::fs::remove_file(&path);
        return storage_error(&path, &e);
    }
    store_blob(state, name, path, digest).await
}

pub(super) fn upload_status(state: &AppState, name: &str, id: &str) -> Response {
    let reg = state.registry();
    match reg.uploads.get(id) {
        Some(u) if u.repo == name => {
            let mut r = upload_accepted(name, id, u.len);
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        _ => upload_unknown(),
    }
}

pub(super) fn cancel_upload(state: &AppState, id: &str) -> Response {
    let mut reg = state.registry();
    match reg.uploads.remove(id) {
        Some(_) => {
            let _ = std::fs::remove_file(reg.upload_path(id));
            StatusCode::NO_CONTENT.into_response()
        }
        None => upload_unknown(),
    }
}
