//! The Azure Files data plane (REST, Shared Key) of the configured storage
//! accounts, at `{base}/files/{account}` (Azure: `https://{account}.file.core.windows.net`).
//! A share is the host directory [`crate::arm::storage::share_dir`] that
//! AzureFile volumes mount, so what the data plane creates is what replicas see.
//!
//! Served (data-plane `file.json`): `Share_Create` / `Share_Delete`
//! (`?restype=share`), `Directory_Create` / `Directory_GetProperties` /
//! `Directory_Delete` (`?restype=directory`),
//! `Directory_ListFilesAndDirectoriesSegment` (`?restype=directory&comp=list`,
//! `marker`, `maxresults`, `prefix`) and `File_Delete`. Errors are XML
//! `<Error><Code/><Message/></Error>` with `x-ms-error-code`.

pub mod sharedkey;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::arm::storage::share_dir;
use crate::state::AppState;

/// Largest `maxresults` of a listing.
pub const MAX_RESULTS: usize = 5000;

/// A data-plane error.
#[derive(Debug)]
pub struct FilesError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> FilesError {
    FilesError {
        status,
        code,
        message: message.into(),
    }
}

/// Escapes XML text.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn with_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("x-ms-version", HeaderValue::from_static("2025-01-05"));
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        h.insert("x-ms-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(
        &chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    ) {
        h.insert("date", v);
    }
    resp
}

impl IntoResponse for FilesError {
    fn into_response(self) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code,
            xml_escape(&self.message)
        );
        let mut resp = (
            self.status,
            [
                ("content-type", "application/xml"),
                ("x-ms-error-code", self.code),
            ],
            body,
        )
            .into_response();
        resp = with_headers(resp);
        resp
    }
}

type FilesResult = Result<Response, FilesError>;

/// Azure Files name rule for one path component.
fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= 255
        && c != "."
        && c != ".."
        && !c.ends_with('.')
        && !c
            .chars()
            .any(|ch| ch.is_control() || "\"\\/:|<>*?".contains(ch))
}

fn resolve(root: &FsPath, path: &str) -> Result<PathBuf, FilesError> {
    if path.len() > 2048 {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            "The path is longer than 2048 characters.",
        ));
    }
    let mut out = root.to_path_buf();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        if !valid_component(c) {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "InvalidResourceName",
                format!("The specifed resource name contains invalid characters: '{c}'."),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

fn io_err(e: std::io::Error) -> FilesError {
    err(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        format!("storage I/O failed: {e}"),
    )
}

fn auth(state: &AppState, account: &str, req: &Request) -> Result<(), FilesError> {
    let Some(seed) = state
        .config
        .storage_accounts
        .iter()
        .find(|a| a.name == account)
    else {
        return Err(err(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The storage account '{account}' does not exist in this emulator."),
        ));
    };
    if req.headers().get("x-ms-version").is_none() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "MissingRequiredHeader",
            "An HTTP header that's mandatory for this request is not specified: x-ms-version.",
        ));
    }
    sharedkey::verify(req.method(), req.uri(), req.headers(), account, &seed.key).map_err(|f| {
        match f {
            sharedkey::AuthFailure::Missing(m) => {
                err(StatusCode::FORBIDDEN, "AuthenticationFailed", m)
            }
            sharedkey::AuthFailure::Failed(m) => {
                err(StatusCode::FORBIDDEN, "AuthenticationFailed", m)
            }
        }
    })
}

fn query(req: &Request, name: &str) -> Option<String> {
    sharedkey::query_pairs(req.uri())
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Requests on a share: `/files/{account}/{share}`.
pub async fn dispatch_share(
    State(state): State<Arc<AppState>>,
    Path((account, share)): Path<(String, String)>,
    req: Request,
) -> Response {
    handle(&state, &account, &share, "", req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Requests below a share: `/files/{account}/{share}/{*path}`.
pub async fn dispatch_path(
    State(state): State<Arc<AppState>>,
    Path((account, share, path)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    handle(&state, &account, &share, &path, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(
    state: &AppState,
    account: &str,
    share: &str,
    path: &str,
    req: Request,
) -> FilesResult {
    auth(state, account, &req)?;
    if crate::arm::storage::validate_share_name(share).is_err() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            format!("The specifed resource name contains invalid characters: '{share}'."),
        ));
    }
    let root = share_dir(&state.data_dir, account, share)
        .map_err(|e| err(StatusCode::BAD_REQUEST, "InvalidResourceName", e))?;
    let restype = query(&req, "restype");
    let comp = query(&req, "comp");
    let method = req.method().clone();
    if path.is_empty() {
        match (restype.as_deref(), comp.as_deref()) {
            (Some("share"), None) => return share_op(&method, &root),
            (Some("directory"), Some("list")) => {}
            _ => {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "UnsupportedQueryParameter",
                    "This operation on a share is not supported by this emulator.",
                ));
            }
        }
    }
    if !root.is_dir() {
        return Err(err(
            StatusCode::NOT_FOUND,
            "ShareNotFound",
            "The specified share does not exist.",
        ));
    }
    let target = resolve(&root, path)?;
    match (restype.as_deref(), comp.as_deref()) {
        (Some("directory"), Some("list")) if method == Method::GET => {
            list(&req, &root, &target, share, path, state, account)
        }
        (Some("directory"), None) => directory_op(&method, &req, &root, &target),
        (None, None) if method == Method::DELETE => {
            let meta = std::fs::symlink_metadata(&target).map_err(|_| not_found(&root, &target))?;
            if meta.is_dir() {
                return Err(err(
                    StatusCode::CONFLICT,
                    "ResourceTypeMismatch",
                    "The specified resource type does not match the type of the resource: it is a directory.",
                ));
            }
            std::fs::remove_file(&target).map_err(io_err)?;
            Ok(with_headers(StatusCode::ACCEPTED.into_response()))
        }
        _ => Err(err(
            StatusCode::BAD_REQUEST,
            "UnsupportedQueryParameter",
            "This operation is not supported by this emulator.",
        )),
    }
}

fn not_found(root: &FsPath, target: &FsPath) -> FilesError {
    let parent_ok = target.parent().is_none_or(|p| p == root || p.is_dir());
    if parent_ok {
        err(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            "The specified resource does not exist.",
        )
    } else {
        err(
            StatusCode::NOT_FOUND,
            "ParentNotFound",
            "The specified parent path does not exist.",
        )
    }
}

fn share_op(method: &Method, root: &FsPath) -> FilesResult {
    match *method {
        Method::PUT => {
            if root.is_dir() {
                return Err(err(
                    StatusCode::CONFLICT,
                    "ShareAlreadyExists",
                    "The specified share already exists.",
                ));
            }
            std::fs::create_dir_all(root).map_err(io_err)?;
            Ok(with_headers(StatusCode::CREATED.into_response()))
        }
        Method::DELETE => {
            if !root.is_dir() {
                return Err(err(
                    StatusCode::NOT_FOUND,
                    "ShareNotFound",
                    "The specified share does not exist.",
                ));
            }
            std::fs::remove_dir_all(root).map_err(io_err)?;
            Ok(with_headers(StatusCode::ACCEPTED.into_response()))
        }
        Method::GET | Method::HEAD if root.is_dir() => {
            Ok(with_headers(StatusCode::OK.into_response()))
        }
        Method::GET | Method::HEAD => Err(err(
            StatusCode::NOT_FOUND,
            "ShareNotFound",
            "The specified share does not exist.",
        )),
        _ => Err(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnsupportedHttpVerb",
            "The resource doesn't support the specified HTTP verb.",
        )),
    }
}

fn directory_op(method: &Method, req: &Request, root: &FsPath, target: &FsPath) -> FilesResult {
    if target == root {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "InvalidUri",
            "The directory path is required.",
        ));
    }
    let meta = std::fs::symlink_metadata(target).ok();
    match *method {
        Method::PUT => {
            if req.headers().get("x-ms-file-attributes").is_none() {
                return Err(err(
                    StatusCode::BAD_REQUEST,
                    "MissingRequiredHeader",
                    "An HTTP header that's mandatory for this request is not specified: x-ms-file-attributes.",
                ));
            }
            if meta.is_some() {
                return Err(err(
                    StatusCode::CONFLICT,
                    "ResourceAlreadyExists",
                    "The specified resource already exists.",
                ));
            }
            if !target.parent().is_some_and(FsPath::is_dir) {
                return Err(err(
                    StatusCode::NOT_FOUND,
                    "ParentNotFound",
                    "The specified parent path does not exist.",
                ));
            }
            std::fs::create_dir(target).map_err(io_err)?;
            Ok(with_headers(StatusCode::CREATED.into_response()))
        }
        Method::GET | Method::HEAD => match meta {
            Some(m) if m.is_dir() => Ok(with_headers(StatusCode::OK.into_response())),
            Some(_) => Err(err(
                StatusCode::CONFLICT,
                "ResourceTypeMismatch",
                "The specified resource is a file.",
            )),
            None => Err(not_found(root, target)),
        },
        Method::DELETE => match meta {
            Some(m) if m.is_dir() => {
                if std::fs::read_dir(target).map_err(io_err)?.next().is_some() {
                    return Err(err(
                        StatusCode::CONFLICT,
                        "DirectoryNotEmpty",
                        "The specified directory is not empty.",
                    ));
                }
                std::fs::remove_dir(target).map_err(io_err)?;
                Ok(with_headers(StatusCode::ACCEPTED.into_response()))
            }
            Some(_) => Err(err(
                StatusCode::CONFLICT,
                "ResourceTypeMismatch",
                "The specified resource is a file.",
            )),
            None => Err(not_found(root, target)),
        },
        _ => Err(err(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnsupportedHttpVerb",
            "The resource doesn't support the specified HTTP verb.",
        )),
    }
}

/// A name for XML: as is, or percent-encoded with `Encoded="true"` when it
/// holds characters XML 1.0 cannot carry.
fn xml_name(name: &str) -> String {
    let bad = |c: char| {
        c.is_control() && !matches!(c, '\t' | '\n' | '\r') || c == '\u{FFFE}' || c == '\u{FFFF}'
    };
    if name.chars().any(bad) {
        let enc: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("<Name Encoded=\"true\">{enc}</Name>")
    } else {
        format!("<Name>{}</Name>", xml_escape(name))
    }
}

fn list(
    req: &Request,
    root: &FsPath,
    target: &FsPath,
    share: &str,
    path: &str,
    state: &AppState,
    account: &str,
) -> FilesResult {
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(err(
                StatusCode::CONFLICT,
                "ResourceTypeMismatch",
                "The specified resource is a file.",
            ));
        }
        Err(_) => return Err(not_found(root, target)),
    }
    let max = match query(req, "maxresults") {
        None => MAX_RESULTS,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=MAX_RESULTS).contains(m))
            .ok_or_else(|| {
                err(
                    StatusCode::BAD_REQUEST,
                    "OutOfRangeQueryParameterValue",
                    format!("maxresults '{m}' must be between 1 and {MAX_RESULTS}."),
                )
            })?,
    };
    let marker = query(req, "marker").unwrap_or_default();
    let prefix = query(req, "prefix").unwrap_or_default();
    let mut entries: Vec<(String, bool, u64)> = Vec::new();
    for e in std::fs::read_dir(target).map_err(io_err)? {
        let e = e.map_err(io_err)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = e.path().symlink_metadata().map_err(io_err)?;
        entries.push((name, meta.is_dir(), meta.len()));
    }
    entries.sort();
    let mut items: Vec<&(String, bool, u64)> = entries
        .iter()
        .filter(|(n, _, _)| n.starts_with(&prefix) && n.as_str() >= marker.as_str())
        .collect();
    let next = if items.len() > max {
        items.get(max).map(|(n, _, _)| n.clone())
    } else {
        None
    };
    items.truncate(max);
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}/\" ShareName=\"{}\" DirectoryPath=\"{}\">",
        xml_escape(&format!("{}/files/{account}", state.base_url())),
        xml_escape(share),
        xml_escape(path)
    );
    body.push_str(&format!("<Prefix>{}</Prefix>", xml_escape(&prefix)));
    if !marker.is_empty() {
        body.push_str(&format!("<Marker>{}</Marker>", xml_escape(&marker)));
    }
    body.push_str("<Entries>");
    for (name, is_dir, len) in items {
        if *is_dir {
            body.push_str(&format!(
                "<Directory>{}<Properties /></Directory>",
                xml_name(name)
            ));
        } else {
            body.push_str(&format!(
                "<File>{}<Properties><Content-Length>{len}</Content-Length></Properties></File>",
                xml_name(name)
            ));
        }
    }
    body.push_str("</Entries>");
    body.push_str(&format!(
        "<NextMarker>{}</NextMarker></EnumerationResults>",
        xml_escape(next.as_deref().unwrap_or_default())
    ));
    Ok(with_headers(
        (StatusCode::OK, [("content-type", "application/xml")], body).into_response(),
    ))
}
