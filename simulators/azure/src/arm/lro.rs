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
    let mut body = json!({
        "id": format!("/subscriptions/{sub}/providers/Microsoft.App/locations/{location}/containerappOperationStatuses/{id}"),
        "name": op.id,
        "status": op.status.as_str(),
        "startTime": op.start_time,
        "endTime": op.end_time,
    });
    if let Some(error) = operation_error(op.status) {
        body["error"] = json!({"code": error.code, "message": error.message});
    }
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
    // ARM's result URL answers a failed operation with the failure itself.
    if let Some(error) = operation_error(op.status) {
        return Err(error);
    }
    Ok(match op.result {
        Some(body) => axum::Json(body).into_response(),
        None => StatusCode::OK.into_response(),
    })
}

/// Why an operation did not succeed, as its status's `error` (the spec's
/// `OperationStatusResult.error`, an `ErrorDetail`) and as the answer of its
/// result URL; `None` unless it failed or was canceled.
fn operation_error(status: OpStatus) -> Option<ArmError> {
    match status {
        OpStatus::Failed => Some(ArmError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ContainerAppOperationError",
            "The operation failed: an internal error occurred while provisioning the job (injected by the emulator). Please retry the operation.",
        )),
        OpStatus::Canceled => Some(ArmError::conflict(
            "OperationCanceled",
            "The operation was canceled (injected by the emulator). Please retry the operation.",
        )),
        OpStatus::InProgress | OpStatus::Succeeded => None,
    }
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
