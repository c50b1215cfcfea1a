//! The checks ARM, Log Analytics and ACR make of a caller against the
//! emulator's role table (see the parent module for the table).

use super::*;
use crate::auth::Claims;
use crate::state::AppState;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Whether the caller of `claims` may do `action` (no table: yes).
pub fn permits(state: &AppState, claims: &Claims, action: &str, scope: Option<&str>) -> bool {
    state
        .config
        .roles
        .as_ref()
        .is_none_or(|t| t.allows(&principals(claims), action, scope))
}

/// ARM's authorisation: `403 AuthorizationFailed` in ARM's words when the
/// caller holds no role allowing the request's action over its scope
/// (`None`: allowed).
pub fn check_arm(
    state: &AppState,
    claims: &Claims,
    method: &Method,
    path: &str,
) -> Option<Response> {
    let (action, scope) = arm_action(method, path);
    // An operation's status lives under the subscription, yet whoever may
    // start it at a narrower scope may poll it: any assignment counts.
    let operation =
        action.ends_with("OperationStatuses/read") || action.ends_with("OperationResults/read");
    let scope_checked = (!operation).then_some(scope.as_str());
    if permits(state, claims, &action, scope_checked) {
        return None;
    }
    tracing::info!(client = %claims.appid, %action, %scope, "ARM request refused: no role allows it");
    let message = format!(
        "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
        claims.appid, claims.oid
    );
    let mut resp = (
        StatusCode::FORBIDDEN,
        axum::Json(json!({"error": {"code": "AuthorizationFailed", "message": message}})),
    )
        .into_response();
    // ARM's gateway, not the resource provider, refuses it.
    resp.headers_mut()
        .insert("x-ms-failure-cause", HeaderValue::from_static("gateway"));
    Some(resp)
}

/// The Log Analytics query API's authorisation: `403 InsufficientAccessError`
/// (`None`: allowed).
pub fn check_log_analytics(state: &AppState, claims: &Claims) -> Option<Response> {
    if permits(state, claims, LOG_ANALYTICS_QUERY, None) {
        return None;
    }
    Some(crate::loganalytics::la_error(
        StatusCode::FORBIDDEN,
        "InsufficientAccessError",
        "The provided credentials have insufficient access to perform the requested operation",
        None,
    ))
}

/// Of the registry actions `requested` (`pull`, `push`, `delete`, `*`) on a
/// repository (or `*` on `registry:catalog`), those the caller's roles allow,
/// as ACR's token server narrows a scope to what the identity may do.
pub fn acr_grant(
    state: &AppState,
    claims: &Claims,
    kind: &str,
    requested: &[String],
) -> Vec<String> {
    let may = |action: &str| permits(state, claims, action, None);
    if kind == "registry" {
        // Listing the catalog needs read access to the registry.
        return if may(ACR_PULL) {
            requested.to_vec()
        } else {
            Vec::new()
        };
    }
    let wanted: Vec<&str> = if requested.iter().any(|a| a == "*") {
        vec!["pull", "push", "delete"]
    } else {
        requested.iter().map(String::as_str).collect()
    };
    let granted: Vec<String> = wanted
        .into_iter()
        .filter(|a| match *a {
            "pull" => may(ACR_PULL),
            "push" => may(ACR_PUSH),
            "delete" => may(ACR_DELETE),
            _ => false,
        })
        .map(str::to_string)
        .collect();
    if requested.iter().any(|a| a == "*") && granted.len() == 3 {
        vec!["*".to_string()]
    } else {
        granted
    }
}
