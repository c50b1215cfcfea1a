//! The token endpoints (client credentials and managed identity), with the
//! throttling faults the emulator injects into them.

use super::*;
use crate::state::AppState;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// An injected 429 for a token request (`FaultConfig::token_rate_429`), in
/// the shape of the endpoint's own errors, or `None` to serve it.
fn throttled(state: &AppState, msi: bool) -> Option<Response> {
    let retry = {
        let mut f = state.faults();
        if !f.draw_token_429() {
            return None;
        }
        f.config.retry_after_secs
    };
    // MSAL retries `temporarily_unavailable` after `Retry-After`; the
    // managed identity endpoint answers in its own `{statusCode, message}`.
    let body = if msi {
        json!({"statusCode": 429, "message": "Too many requests (injected by the emulator)."})
    } else {
        json!({
            "error": "temporarily_unavailable",
            "error_description": "The request was throttled (injected by the emulator).",
            "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
            "trace_id": uuid::Uuid::new_v4().to_string(),
            "correlation_id": uuid::Uuid::new_v4().to_string(),
        })
    };
    let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(retry),
    );
    Some(r)
}

/// Form of the client-credentials grant.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description}"),
        "error_codes": [code],
        "timestamp": chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": uuid::Uuid::new_v4().to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, axum::Json(body)).into_response()
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token_endpoint(
    State(state): State<Arc<AppState>>,
    Path(_tenant): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(r) = throttled(&state, false) {
        return r;
    }
    if form.grant_type.as_deref() != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type; only 'client_credentials' is supported.",
        );
    }
    let Some(client_id) = form.client_id.filter(|c| !c.is_empty()) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(scope) = form.scope.filter(|s| !s.is_empty()) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let Some(resource) = scope.strip_suffix("/.default") else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    };
    let cfg = &state.config;
    if cfg.client_id.as_ref().is_some_and(|c| *c != client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        );
    }
    if form.client_secret.as_deref() != Some(cfg.client_secret.as_str()) {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided.",
        );
    }
    let (token, _) = state.tokens.issue(resource, &client_id, "aad");
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
        "ext_expires_in": TOKEN_LIFETIME_SECS,
        "access_token": token,
    }))
    .into_response()
}

/// `GET /msi/token?resource=...&api-version=2019-08-01` with `X-IDENTITY-HEADER`.
pub async fn msi_endpoint(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = throttled(&state, true) {
        return r;
    }
    let header_ok = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == state.config.identity_header);
    if !header_ok {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"statusCode": 401, "message": "Unauthorized: the X-IDENTITY-HEADER header is missing or invalid."})),
        )
            .into_response();
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"statusCode": 400, "message": "The api-version parameter is missing or not supported; use 2019-08-01."})),
        )
            .into_response();
    }
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"statusCode": 400, "message": "The resource parameter is required."}),
            ),
        )
            .into_response();
    };
    let client_id = q
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| "system-assigned-identity".into());
    let (token, exp) = state.tokens.issue(resource, &client_id, "aad");
    axum::Json(json!({
        "access_token": token,
        "expires_on": exp.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    }))
    .into_response()
}
