//! The Azure Blob Storage data plane ACR Tasks hands out: `/blob/{account}/
//! {container}/{*path}` stands in for `https://{account}.blob.core.windows.net/
//! {container}/{path}`. Requests are authorised by a service SAS in the
//! query ([`sas`]); block blobs are written with `Put Blob` or `Put Block`
//! and `Put Block List`, read with `Get Blob` (ranges) and `Get Blob
//! Properties`. Bodies go to and come from files, never whole in memory.

pub mod blocks;
pub mod sas;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::state::AppState;
use blocks::{MAX_BLOCK, MAX_PUT_BLOB, RangeError};

/// An Azure Storage error: XML body and `x-ms-error-code`.
pub fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f0Z");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}\nRequestId:{}\nTime:{time}</Message></Error>",
        xml_escape(message),
        uuid::Uuid::new_v4()
    );
    let mut resp = (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(code) {
        resp.headers_mut().insert("x-ms-error-code", v);
    }
    versioned(resp)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn versioned(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert("x-ms-version", HeaderValue::from_static(sas::SAS_VERSION));
    resp
}

fn io_error(e: &std::io::Error) -> Response {
    tracing::warn!(error = %e, "blob storage failed");
    storage_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "The server encountered an internal error. Please retry the request.",
    )
}

/// The storage key of a blob.
pub fn blob_key(account: &str, container: &str, path: &str) -> String {
    format!("{account}/{container}/{path}")
}

/// `Get Blob`, `Get Blob Properties`, `Put Blob`, `Put Block`, `Put Block List`.
pub async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    Path((account, container, path)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let key = blob_key(&account, &container, &path);
    let need = match method {
        Method::GET | Method::HEAD => "r",
        Method::PUT => "cw",
        _ => {
            return storage_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UnsupportedHttpVerb",
                "The resource doesn't support specified Http Verb.",
            );
        }
    };
    if let Err(e) = sas::verify(&state.sas_key, &key, &q, chrono::Utc::now(), need) {
        tracing::info!(blob = %key, error = %e, "blob request refused");
        return match e {
            sas::SasError::Permission => storage_error(
                StatusCode::FORBIDDEN,
                "AuthorizationPermissionMismatch",
                &e.to_string(),
            ),
            _ => storage_error(
                StatusCode::FORBIDDEN,
                "AuthenticationFailed",
                &format!(
                    "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature. {e}"
                ),
            ),
        };
    }
    let file = match state.blobs().blob_path(&account, &container, &path) {
        Ok(f) => f,
        Err(e) => {
            return storage_error(
                StatusCode::BAD_REQUEST,
                "InvalidResourceName",
                &format!("The specifed resource name contains invalid characters: {e}"),
            );
        }
    };
    let resp = match (method, q.get("comp").map(String::as_str)) {
        (Method::GET, None) => get(&state, &key, &headers, false).await,
        (Method::HEAD, None) => get(&state, &key, &headers, true).await,
        (Method::PUT, None) => put_blob(&state, &key, file, &headers, body).await,
        (Method::PUT, Some("block")) => put_block(&state, &key, &q, &headers, body).await,
        (Method::PUT, Some("blocklist")) => {
            put_block_list(&state, &key, file, &headers, body).await
        }
        _ => storage_error(
            StatusCode::BAD_REQUEST,
            "UnsupportedQueryParameter",
            "One of the query parameters specified in the request URI is not supported.",
        ),
    };
    versioned(resp)
}

fn metadata_of(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().strip_prefix("x-ms-meta-")?.to_string(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Writes `body` to `path`, at most `limit` bytes; `Ok(None)` past it
/// (the file removed).
async fn write_body(
    path: &std::path::Path,
    body: Body,
    limit: u64,
) -> std::io::Result<Option<u64>> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut file = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut len = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(std::io::Error::other)?;
        len += chunk.len() as u64;
        if len > limit {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
            return Ok(None);
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(Some(len))
}

fn too_large() -> Response {
    storage_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestBodyTooLarge",
        "The request body is too large and exceeds the maximum permissible limit.",
    )
}

fn created(entry: &store::BlobEntry) -> Response {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&entry.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(
        &entry
            .last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    ) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("true"),
    );
    (StatusCode::CREATED, h).into_response()
}

/// Records a blob written to `tmp` and moves it to `file`.
async fn commit(
    state: &AppState,
    key: &str,
    tmp: std::path::PathBuf,
    file: std::path::PathBuf,
    len: u64,
    headers: &HeaderMap,
) -> Response {
    let moved = async {
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        tokio::fs::rename(&tmp, &file).await
    }
    .await;
    if let Err(e) = moved {
        let _ = tokio::fs::remove_file(&tmp).await;
        return io_error(&e);
    }
    let (entry, gone) = state.blobs().put(key, file, len, metadata_of(headers));
    tokio::task::spawn_blocking(move || store::delete_all(gone));
    created(&entry)
}

async fn put_blob(
    state: &AppState,
    key: &str,
    file: std::path::PathBuf,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    match headers.get("x-ms-blob-type").and_then(|v| v.to_str().ok()) {
        None => {
            return storage_error(
                StatusCode::BAD_REQUEST,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory for this request is not specified. x-ms-blob-type",
            );
        }
        Some("BlockBlob") => {}
        Some(_) => {
            return storage_error(
                StatusCode::BAD_REQUEST,
                "InvalidHeaderValue",
                "The value for one of the HTTP headers is not in the correct format. x-ms-blob-type (only BlockBlob is emulated)",
            );
        }
    }
    let Some(declared) = content_length(headers) else {
        return storage_error(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLengthHeader",
            "Content-Length HTTP header is missing.",
        );
    };
    if declared > MAX_PUT_BLOB {
        return too_large();
    }
    let tmp = state.blobs().tmp_path();
    match write_body(&tmp, body, MAX_PUT_BLOB).await {
        Ok(Some(len)) => commit(state, key, tmp, file, len, headers).await,
        Ok(None) => too_large(),
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            io_error(&e)
        }
    }
}

async fn put_block(
    state: &AppState,
    key: &str,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Some(id) = q.get("blockid").and_then(|id| blocks::block_file_name(id)) else {
        return storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid. blockid",
        );
    };
    if content_length(headers).is_some_and(|l| l > MAX_BLOCK) {
        return too_large();
    }
    let path = state.blobs().blocks_dir(key).join(&id);
    match write_body(&path, body, MAX_BLOCK).await {
        Ok(Some(len)) => {
            let gone = state.blobs().add_block(key, &id, len);
            tokio::task::spawn_blocking(move || store::delete_all(gone));
            (
                StatusCode::CREATED,
                [("x-ms-request-server-encrypted", "true")],
            )
                .into_response()
        }
        Ok(None) => too_large(),
        Err(e) => io_error(&e),
    }
}

async fn put_block_list(
    state: &AppState,
    key: &str,
    file: std::path::PathBuf,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, 8 << 20).await else {
        return too_large();
    };
    let ids = match std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(blocks::parse_block_list)
    {
        Ok(ids) => ids,
        Err(e) => {
            return storage_error(
                StatusCode::BAD_REQUEST,
                "InvalidXmlDocument",
                &format!("XML specified is not syntactically valid. {e}"),
            );
        }
    };
    let (parts, tmp) = {
        let blobs = state.blobs();
        (blobs.block_files(key, &ids), blobs.tmp_path())
    };
    let parts = match parts {
        Ok(p) => p,
        Err(id) => {
            return storage_error(
                StatusCode::BAD_REQUEST,
                "InvalidBlockList",
                &format!("The specified block list is invalid. Block {id} was not uploaded."),
            );
        }
    };
    let out = tmp.clone();
    let joined = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
        let mut dest = std::fs::File::create(&out)?;
        let mut len = 0;
        for p in parts {
            len += std::io::copy(&mut std::fs::File::open(p)?, &mut dest)?;
        }
        Ok(len)
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r);
    match joined {
        Ok(len) => commit(state, key, tmp, file, len, headers).await,
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            io_error(&e)
        }
    }
}

async fn get(state: &AppState, key: &str, headers: &HeaderMap, head: bool) -> Response {
    let Some(entry) = state.blobs().get(key).cloned() else {
        return storage_error(
            StatusCode::NOT_FOUND,
            "BlobNotFound",
            "The specified blob does not exist.",
        );
    };
    let range = headers
        .get(header::RANGE)
        .or_else(|| headers.get("x-ms-range"))
        .and_then(|v| v.to_str().ok());
    let range = match blocks::parse_range(range, entry.len) {
        Ok(r) => r,
        Err(RangeError::Unsatisfiable) => {
            return storage_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The range specified is invalid for the current size of the resource.",
            );
        }
    };
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, entry.len),
    };
    let mut h = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("content-length", len.to_string());
    set("content-type", "application/octet-stream".into());
    set("etag", entry.etag.clone());
    set(
        "last-modified",
        entry
            .last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    );
    set("x-ms-blob-type", "BlockBlob".into());
    set("accept-ranges", "bytes".into());
    if range.is_some() {
        set(
            "content-range",
            format!("bytes {start}-{}/{}", start + len - 1, entry.len),
        );
    }
    for (k, v) in &entry.metadata {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(format!("x-ms-meta-{k}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(name, value);
        }
    }
    if head {
        return (status, h).into_response();
    }
    let file = match tokio::fs::File::open(&entry.path).await {
        Ok(mut f) => match f.seek(std::io::SeekFrom::Start(start)).await {
            Ok(_) => f,
            Err(e) => return io_error(&e),
        },
        Err(e) => return io_error(&e),
    };
    (status, h, Body::from_stream(file_chunks(file, len))).into_response()
}

/// `len` bytes of a file as a body, a piece at a time.
pub fn file_chunks(
    file: tokio::fs::File,
    len: u64,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(Some((file, len)), |st| async move {
        let (mut file, left) = st?;
        if left == 0 {
            return None;
        }
        let mut buf = vec![0u8; (64u64 << 10).min(left) as usize];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some((file, left - n as u64))))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}
