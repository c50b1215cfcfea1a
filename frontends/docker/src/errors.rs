//! Docker-format error responses: a status code and `{"message": "..."}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sockerless_api::{ApiError, ErrorBody};

/// An error on its way to a Docker client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerError {
    status: StatusCode,
    message: String,
}

impl DockerError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 `page not found`, what Docker answers for unknown routes.
    pub fn page_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "page not found")
    }

    /// 501 for a Docker endpoint sockerless has no backend operation for.
    pub fn unsupported(operation: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{operation} is not supported by sockerless"),
        )
    }

    /// 413 for a JSON body over the limit.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body is too large (the limit is {} MiB)",
                limit / (1024 * 1024)
            ),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ApiError> for DockerError {
    /// Where a backend error becomes the client's answer, so its cause (if
    /// any, never sent to the client) is logged here, once.
    fn from(err: ApiError) -> Self {
        err.log_cause();
        Self::new(err.status(), err.message())
    }
}

impl IntoResponse for DockerError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::NOT_MODIFIED {
            // Docker (Go's net/http) never sends a body with 304.
            return self.status.into_response();
        }
        let body = ErrorBody {
            message: self.message,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response()
    }
}

/// What every handler returns.
pub type HandlerResult = Result<Response, DockerError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_status_and_message() {
        let err: DockerError = ApiError::Conflict("in use".into()).into();
        assert_eq!(err.status(), StatusCode::CONFLICT);
        assert_eq!(err.message(), "in use");
    }

    #[test]
    fn not_modified_has_no_body() {
        let resp = DockerError::from(ApiError::NotModified("x".into())).into_response();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert!(resp.headers().get(header::CONTENT_TYPE).is_none());
    }
}
