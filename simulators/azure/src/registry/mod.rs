//! ACR data plane: OCI distribution v2 (`/v2/...`), `/acr/v1/_catalog` and
//! ACR's token endpoints, served at the emulator's own address (the login
//! server is `127.0.0.1:PORT`).

pub mod auth;
mod blobs;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use self::auth::acr_error;
use self::blobs::{
    cancel_upload, delete_blob, finish_upload, get_blob, patch_upload, start_upload, upload_status,
};
use self::store::{Manifest, digest_of, is_digest, references, valid_repo_name, valid_tag};
use crate::state::AppState;

/// Manifest media types accepted on push.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(*k, v);
        }
    }
    h.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    h
}

/// `GET /v2/`.
pub async fn base(State(state): State<Arc<AppState>>, h: HeaderMap) -> Response {
    if let Some(r) = auth::throttled(&state) {
        return r;
    }
    if let Err(r) = auth::check(&state, &h, "") {
        return *r;
    }
    (StatusCode::OK, headers(&[]), axum::Json(json!({}))).into_response()
}

/// `GET /v2/_catalog` and `/acr/v1/_catalog` (`n` and `last` paging).
pub async fn catalog(
    State(state): State<Arc<AppState>>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = auth::throttled(&state) {
        return r;
    }
    if let Err(r) = auth::check(&state, &h, "registry:catalog:*") {
        return *r;
    }
    let n = q
        .get("n")
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let last = q.get("last").cloned().unwrap_or_default();
    let repos: Vec<String> = state
        .registry()
        .repos
        .iter()
        .filter(|(name, r)| name.as_str() > last.as_str() && !r.manifests.is_empty())
        .map(|(name, _)| name.clone())
        .take(n)
        .collect();
    (headers(&[]), axum::Json(json!({ "repositories": repos }))).into_response()
}

/// Everything under `/v2/{name}/...` (names contain slashes, so routing is by suffix).
pub async fn dispatch(
    State(state): State<Arc<AppState>>,
    method: Method,
    Path(rest): Path<String>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if let Some(r) = auth::throttled(&state) {
        return r;
    }
    let (name, kind, arg) = if let Some(name) = rest.strip_suffix("/tags/list") {
        (name, "tags", "")
    } else if let Some((name, r)) = rest.rsplit_once("/manifests/") {
        (name, "manifests", r)
    } else if let Some((name, r)) = rest.rsplit_once("/blobs/uploads/") {
        (name, "uploads", r)
    } else if let Some(name) = rest.strip_suffix("/blobs/uploads") {
        (name, "uploads", "")
    } else if let Some((name, r)) = rest.rsplit_once("/blobs/") {
        (name, "blobs", r)
    } else {
        return acr_error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown registry path");
    };
    if !valid_repo_name(name) {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            "invalid repository name",
        );
    }
    // ACR's actions: reads need pull, uploads pull and push, and deleting a
    // manifest or blob needs delete (AcrPush alone cannot).
    let actions = match (&method, kind) {
        (&Method::GET | &Method::HEAD, _) => "pull",
        (&Method::DELETE, "manifests" | "blobs") => "delete",
        _ => "pull,push",
    };
    let scope = format!("repository:{name}:{actions}");
    if let Err(r) = auth::check(&state, &h, &scope) {
        return *r;
    }
    match (kind, &method) {
        ("tags", &Method::GET) => tags_list(&state, name),
        ("manifests", &Method::GET | &Method::HEAD) => {
            get_manifest(&state, name, arg, method == Method::HEAD)
        }
        ("manifests", &Method::PUT) => put_manifest(&state, name, arg, &h, body),
        ("manifests", &Method::DELETE) => delete_manifest(&state, name, arg),
        ("blobs", &Method::GET | &Method::HEAD) => {
            get_blob(&state, name, arg, method == Method::HEAD).await
        }
        ("blobs", &Method::DELETE) => delete_blob(&state, name, arg),
        ("uploads", &Method::POST) if arg.is_empty() => start_upload(&state, name, &q, body).await,
        ("uploads", &Method::PATCH) => patch_upload(&state, name, arg, body).await,
        ("uploads", &Method::PUT) => finish_upload(&state, name, arg, &q, body).await,
        ("uploads", &Method::GET) => upload_status(&state, name, arg),
        ("uploads", &Method::DELETE) => cancel_upload(&state, arg),
        _ => acr_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "the operation is unsupported",
        ),
    }
}

fn tags_list(state: &AppState, name: &str) -> Response {
    let reg = state.registry();
    match reg.repos.get(name) {
        Some(r) => {
            let tags: Vec<&String> = r.tags.keys().collect();
            (
                headers(&[]),
                axum::Json(json!({"name": name, "tags": tags})),
            )
                .into_response()
        }
        None => acr_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        ),
    }
}

fn get_manifest(state: &AppState, name: &str, reference: &str, head: bool) -> Response {
    let reg = state.registry();
    let Some(repo) = reg.repos.get(name) else {
        return acr_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    };
    let digest = if is_digest(reference) {
        Some(reference.to_string())
    } else {
        repo.tags.get(reference).cloned()
    };
    let Some(m) = digest.as_ref().and_then(|d| repo.manifests.get(d)) else {
        return acr_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        );
    };
    let hdrs = headers(&[
        ("content-type", m.media_type.clone()),
        ("docker-content-digest", digest.clone().unwrap_or_default()),
        ("content-length", m.body.len().to_string()),
    ]);
    if head {
        (StatusCode::OK, hdrs).into_response()
    } else {
        (StatusCode::OK, hdrs, m.body.clone()).into_response()
    }
}

fn put_manifest(
    state: &AppState,
    name: &str,
    reference: &str,
    h: &HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return acr_error(
                StatusCode::BAD_REQUEST,
                "MANIFEST_INVALID",
                &format!("manifest invalid: {e}"),
            );
        }
    };
    let media_type = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or_default().trim().to_string())
        .filter(|s| MANIFEST_TYPES.contains(&s.as_str()))
        .or_else(|| {
            parsed["mediaType"]
                .as_str()
                .filter(|s| MANIFEST_TYPES.contains(s))
                .map(str::to_string)
        });
    let Some(media_type) = media_type else {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            "unsupported or missing manifest media type",
        );
    };
    let digest = digest_of(&body);
    if is_digest(reference) {
        if reference != digest {
            return acr_error(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
            );
        }
    } else if !valid_tag(reference) {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            "manifest tag did not match URI",
        );
    }
    let mut reg = state.registry();
    let (blobs, manifests) = references(&parsed);
    {
        let repo = reg.repos.get(name);
        for b in &blobs {
            if !repo.is_some_and(|r| r.blobs.contains(b)) {
                return acr_error(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_BLOB_UNKNOWN",
                    &format!("blob unknown to registry: {b}"),
                );
            }
        }
        for m in &manifests {
            if !repo.is_some_and(|r| r.manifests.contains_key(m)) {
                return acr_error(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_UNKNOWN",
                    &format!("manifest unknown: {m}"),
                );
            }
        }
    }
    let repo = reg.repos.entry(name.to_string()).or_default();
    repo.manifests
        .insert(digest.clone(), Manifest { media_type, body });
    if !is_digest(reference) {
        repo.tags.insert(reference.to_string(), digest.clone());
    }
    let location = format!("/v2/{name}/manifests/{digest}");
    (
        StatusCode::CREATED,
        headers(&[("location", location), ("docker-content-digest", digest)]),
    )
        .into_response()
}

fn delete_manifest(state: &AppState, name: &str, reference: &str) -> Response {
    let mut reg = state.registry();
    let Some(repo) = reg.repos.get_mut(name) else {
        return acr_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    };
    if !is_digest(reference) {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "manifests are deleted by digest",
        );
    }
    if repo.manifests.remove(reference).is_none() {
        return acr_error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
        );
    }
    repo.tags.retain(|_, d| d != reference);
    (StatusCode::ACCEPTED, headers(&[])).into_response()
}
