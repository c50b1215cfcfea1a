//! ACR authentication: `/oauth2/exchange` (AAD token → ACR refresh token),
//! `/oauth2/token` (refresh token or admin password → access token), and the
//! check of registry requests (bearer access token or admin basic auth).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::state::AppState;

/// User name ACR expects with a refresh token as password.
pub const NULL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// An ACR error body (`{"errors":[{code,message,detail}]}`).
pub fn acr_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": message, "detail": null}]})),
    )
        .into_response()
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Whether user/password are valid: admin credentials, or the null GUID
/// with a refresh token.
fn password_ok(state: &AppState, user: &str, password: &str) -> bool {
    if user == state.config.registry_username && password == state.config.registry_password {
        return true;
    }
    user == NULL_GUID
        && state
            .tokens
            .verify(password)
            .is_ok_and(|c| c.typ == "acr_refresh")
}

/// Checks a registry request; on failure, the 401 with the Bearer challenge.
pub fn check(state: &AppState, headers: &HeaderMap, scope: &str) -> Result<(), Box<Response>> {
    if let Some((u, p)) = basic(headers)
        && password_ok(state, &u, &p)
    {
        return Ok(());
    }
    if let Some(token) = crate::auth::bearer(headers)
        && state
            .tokens
            .verify(token)
            .is_ok_and(|c| c.typ == "acr_access")
    {
        return Ok(());
    }
    let host = state.registry_host();
    let challenge = format!(
        "Bearer realm=\"{}/oauth2/token\",service=\"{host}\"{}",
        state.base_url(),
        if scope.is_empty() {
            String::new()
        } else {
            format!(",scope=\"{scope}\"")
        }
    );
    let mut resp = acr_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    Err(Box::new(resp))
}

/// `POST /oauth2/exchange`.
pub async fn exchange(
    State(state): State<Arc<AppState>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let grant = f.get("grant_type").map(String::as_str);
    if !matches!(
        grant,
        Some("access_token") | Some("access_token_refresh_token")
    ) {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            "grant_type must be 'access_token'",
        );
    }
    let Some(service) = f.get("service").filter(|s| !s.is_empty()) else {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "service is required",
        );
    };
    let Some(aad) = f.get("access_token") else {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "access_token is required",
        );
    };
    match state.tokens.verify(aad) {
        Ok(c) if c.typ == "aad" => {
            let (refresh, _) = state.tokens.issue(service, &c.sub, "acr_refresh");
            axum::Json(json!({ "refresh_token": refresh })).into_response()
        }
        _ => acr_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "the AAD access token is invalid or expired",
        ),
    }
}

/// `POST /oauth2/token` (grant_type `refresh_token` or `password`).
pub async fn token_post(
    State(state): State<Arc<AppState>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(service) = f.get("service").filter(|s| !s.is_empty()) else {
        return acr_error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "service is required",
        );
    };
    let subject = match f.get("grant_type").map(String::as_str) {
        Some("refresh_token") => match f.get("refresh_token").map(|t| state.tokens.verify(t)) {
            Some(Ok(c)) if c.typ == "acr_refresh" => c.sub,
            _ => {
                return acr_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "the refresh token is invalid or expired",
                );
            }
        },
        Some("password") => {
            let u = f.get("username").cloned().unwrap_or_default();
            let p = f.get("password").cloned().unwrap_or_default();
            if !password_ok(&state, &u, &p) {
                return acr_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "invalid username or password",
                );
            }
            u
        }
        _ => {
            return acr_error(
                StatusCode::BAD_REQUEST,
                "UNSUPPORTED",
                "grant_type must be 'refresh_token' or 'password'",
            );
        }
    };
    let (access, _) = state.tokens.issue(service, &subject, "acr_access");
    axum::Json(json!({ "access_token": access })).into_response()
}

/// `GET /oauth2/token?service=&scope=` with basic auth (what `docker login`
/// and the engine's pull do).
pub async fn token_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let service = q
        .get("service")
        .cloned()
        .unwrap_or_else(|| state.registry_host());
    match basic(&headers) {
        Some((u, p)) if password_ok(&state, &u, &p) => {
            let (access, _) = state.tokens.issue(&service, &u, "acr_access");
            axum::Json(json!({ "access_token": access })).into_response()
        }
        _ => acr_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        ),
    }
}
