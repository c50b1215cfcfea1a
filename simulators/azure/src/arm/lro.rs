//! Status URLs of long-running operations (`Azure-AsyncOperation` and
//! `Location`), the way Microsoft.App serves them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::{OpStatus, Operation};
use super::{APP_API_VERSION, ArmError, ArmResult};
use crate::state::AppState;

/// URL of the `Azure-AsyncOperation` status resource.
pub fn status_url(base: &str, op: &Operation) -> String {
    format!(
        "{base}/subscriptions/{}/providers/Microsoft.App/locations/{}/containerappOperationStatuses/{}?api-version={APP_API_VERSION}",
        op.subscription, op.location, op.id
    )
}

/// URL of the `Location` result resource.
pub fn result_url(base: &str, op: &Operation) -> String {
    format!(
        "{base}/subscriptions/{}/providers/Microsoft.App/locations/{}/containerappOperationResults/{}?api-version={APP_API_VERSION}",
        op.subscription, op.location, op.id
    )
}

/// Headers announcing an operation: `Azure-AsyncOperation`, `Location`
/// (when asked for) and `Retry-After`.
pub fn lro_headers(state: &AppState, op: &Operation, location: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    let base = state.base_url();
    if let Ok(v) = HeaderValue::from_str(&status_url(&base, op)) {
        h.insert("azure-asyncoperation", v);
    }
    if location && let Ok(v) = HeaderValue::from_str(&result_url(&base, op)) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after(state)));
    h
}

fn retry_after(state: &AppState) -> u64 {
    // Whole seconds, at least 1 as ARM sends; 0 only when operations are instant.
    let ms = state.faults_snapshot().lro_delay_ms;
    if ms == 0 { 0 } else { ms.div_ceil(1000).max(1) }
}

fn lookup(state: &AppState, sub: &str, id: &str) -> Result<Operation, ArmError> {
    let mut arm = state.arm();
    match arm.poll_operation(id) {
        Some(op) if op.subscription.eq_ignore_ascii_case(sub) => Ok(op),
        _ => Err(ArmError::not_found(
            "OperationNotFound",
            format!("The operation '{id}' was not found."),
        )),
    }
}

/// `GET .../containerappOperationStatuses/{id}`.
pub async fn operation_status(
    State(state): State<Arc<AppState>>,
    Path((sub, location, id)): Path<(String, String, String)>,
) -> ArmResult {
    let op = lookup(&state, &sub, &id)?;
    let body = json!({
        "id": format!("/subscriptions/{sub}/providers/Microsoft.App/locations/{location}/containerappOperationStatuses/{id}"),
        "name": op.id,
        "status": match op.status { OpStatus::InProgress => "InProgress", OpStatus::Succeeded => "Succeeded" },
        "startTime": op.start_time,
        "endTime": op.end_time,
    });
    let mut resp = axum::Json(body).into_response();
    if op.status == OpStatus::InProgress {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after(&state)));
    }
    Ok(resp)
}

/// `GET .../containerappOperationResults/{id}`: 202 while running, then the result.
pub async fn operation_result(
    State(state): State<Arc<AppState>>,
    Path((sub, _location, id)): Path<(String, String, String)>,
) -> ArmResult {
    let op = lookup(&state, &sub, &id)?;
    if op.status == OpStatus::InProgress {
        return Ok((StatusCode::ACCEPTED, lro_headers(&state, &op, true)).into_response());
    }
    Ok(match op.result {
        Some(body) => axum::Json(body).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

/// Shortcut for handlers: an operation response.
pub fn accepted(
    state: &AppState,
    op: &Operation,
    status: StatusCode,
    body: Option<serde_json::Value>,
) -> Response {
    let headers = lro_headers(state, op, true);
    match body {
        Some(b) => (status, headers, axum::Json(b)).into_response(),
        None => (status, headers).into_response(),
    }
}
