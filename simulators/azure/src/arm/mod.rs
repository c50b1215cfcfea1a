//! Azure Resource Manager: `Microsoft.App` (managed environments, their
//! storages, jobs and executions) and `Microsoft.Storage` file shares.

pub mod environments;
pub mod executions;
pub mod jobs;
pub mod lock;
pub mod lro;
pub mod schema;
pub mod storage;
pub mod store;
pub mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::auth::{ARM_AUDIENCES, TokenError};
use crate::state::AppState;

/// The only `Microsoft.App` api-version served.
pub const APP_API_VERSION: &str = "2025-01-01";
/// `Microsoft.Storage` api-versions served (file.json is 2024-01-01; the file
/// share contract did not change in the versions listed before it).
pub const STORAGE_API_VERSIONS: &[&str] = &["2024-01-01", "2023-05-01", "2023-01-01"];
/// The `Microsoft.ContainerRegistry` api-version of the ACR Tasks operations
/// (`containerregistry_build.json`).
pub const TASKS_API_VERSION: &str = "2019-06-01-preview";

/// An ARM error: `{"error":{"code","message"}}` with a status code.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmError {
    /// HTTP status.
    pub status: StatusCode,
    /// ARM error code.
    pub code: String,
    /// Human readable message.
    pub message: String,
}

impl ArmError {
    /// Any status.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ArmError {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }
    /// 400.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 404.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 409.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer authorization_uri=\"/oauth2/authorize\", error=\"invalid_token\", error_description=\"The authentication failed.\"",
                ),
            );
        }
        resp
    }
}

/// Result of ARM handlers.
pub type ArmResult = Result<Response, ArmError>;

/// Parses a JSON request body into a value, mapping failures the ARM way.
pub fn parse_body(body: &[u8]) -> Result<serde_json::Value, ArmError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: the body is empty.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ArmError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })
}

fn auth_error(e: TokenError) -> ArmError {
    let code = match e {
        TokenError::Missing => "AuthenticationFailed",
        TokenError::Audience(_) => "InvalidAuthenticationTokenAudience",
        TokenError::Invalid | TokenError::Expired => "InvalidAuthenticationToken",
    };
    ArmError::new(StatusCode::UNAUTHORIZED, code, e.to_string())
}

/// Authentication, roles, then api-version, as ARM's front door does them
/// (each provider's versions: Microsoft.App, Microsoft.Storage, and ACR Tasks').
pub async fn guard(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
    req: Request,
    next: Next,
) -> Response {
    let claims = match state.tokens.check_bearer(req.headers(), ARM_AUDIENCES) {
        Ok(c) => c,
        Err(e) => return auth_error(e).into_response(),
    };
    if let Some(r) =
        crate::roles::checks::check_arm(&state, &claims, req.method(), req.uri().path())
    {
        return r;
    }
    let path = req.uri().path();
    let supported: &[&str] = if path.contains("/providers/Microsoft.Storage/") {
        STORAGE_API_VERSIONS
    } else if path.contains("/providers/Microsoft.ContainerRegistry/") {
        &[TASKS_API_VERSION]
    } else {
        &[APP_API_VERSION]
    };
    match q.get("api-version") {
        None => ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .into_response(),
        Some(v) if !supported.contains(&v.as_str()) => ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )
        .into_response(),
        Some(_) => next.run(req).await,
    }
}

const RG: &str = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}";

/// All ARM routes, behind authentication and api-version checks.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let app = format!("{RG}/providers/Microsoft.App");
    Router::new()
        .route(
            "/subscriptions/{subscriptionId}/providers/Microsoft.App/jobs",
            get(jobs::list_by_subscription),
        )
        .route(&format!("{app}/jobs"), get(jobs::list_by_resource_group))
        .route(
            &format!("{app}/jobs/{{jobName}}"),
            get(jobs::get_job)
                .put(jobs::put_job)
                .patch(jobs::patch_job)
                .delete(jobs::delete_job),
        )
        .route(&format!("{app}/jobs/{{jobName}}/listSecrets"), post(jobs::list_secrets))
        .route(&format!("{app}/jobs/{{jobName}}/start"), post(executions::start))
        .route(&format!("{app}/jobs/{{jobName}}/stop"), post(executions::stop_many))
        .route(&format!("{app}/jobs/{{jobName}}/executions"), get(executions::list))
        .route(
            &format!("{app}/jobs/{{jobName}}/executions/{{jobExecutionName}}"),
            get(executions::get_one),
        )
        .route(
            &format!("{app}/jobs/{{jobName}}/executions/{{jobExecutionName}}/stop"),
            post(executions::stop_one),
        )
        .route(
            &format!("{app}/managedEnvironments"),
            get(environments::list_by_resource_group),
        )
        .route(
            "/subscriptions/{subscriptionId}/providers/Microsoft.App/managedEnvironments",
            get(environments::list_by_subscription),
        )
        .route(
            &format!("{app}/managedEnvironments/{{environmentName}}"),
            get(environments::get_environment),
        )
        .route(
            &format!("{app}/managedEnvironments/{{environmentName}}/storages"),
            get(environments::list_storages),
        )
        .route(
            &format!("{app}/managedEnvironments/{{environmentName}}/storages/{{storageName}}"),
            get(environments::get_storage)
                .put(environments::put_storage)
                .delete(environments::delete_storage),
        )
        .route(
            "/subscriptions/{subscriptionId}/providers/Microsoft.App/locations/{location}/containerappOperationStatuses/{operationId}",
            get(lro::operation_status),
        )
        .route(
            "/subscriptions/{subscriptionId}/providers/Microsoft.App/locations/{location}/containerappOperationResults/{operationId}",
            get(lro::operation_result),
        )
        .route(
            &format!("{RG}/providers/Microsoft.Storage/storageAccounts/{{accountName}}/fileServices/default/shares"),
            get(storage::list_shares),
        )
        .route(
            &format!("{RG}/providers/Microsoft.Storage/storageAccounts/{{accountName}}/fileServices/default/shares/{{shareName}}"),
            get(storage::get_share).put(storage::put_share).delete(storage::delete_share),
        )
        .route_layer(middleware::from_fn_with_state(state, guard))
}

/// ARM's "resource not found" for a resource type and name.
pub fn resource_not_found(kind: &str, name: &str, rg: &str) -> ArmError {
    ArmError::not_found(
        "ResourceNotFound",
        format!(
            "The Resource '{kind}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}
