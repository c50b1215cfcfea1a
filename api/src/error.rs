//! The error every backend operation returns, with its Docker status code and body.

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// An error as a Docker client sees it: a status code and `{"message": "..."}`.
///
/// Backends wrap lower-level failures with context before turning them into one
/// of these; the message is shown to the user verbatim by the Docker CLI, so it
/// must say what failed and never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404: no such container, image, network, volume or exec.
    #[error("{0}")]
    NotFound(String),
    /// 409: name already in use, container running, resource in use.
    #[error("{0}")]
    Conflict(String),
    /// 400: the request is malformed or a parameter is invalid.
    #[error("{0}")]
    InvalidParameter(String),
    /// 304: the container was already started or stopped.
    #[error("{0}")]
    NotModified(String),
    /// 501: this backend does not implement the operation (yet).
    #[error("{0}")]
    NotImplemented(String),
    /// 503: a dependency (Azure, the agent) is unavailable or throttling.
    #[error("{0}")]
    Unavailable(String),
    /// 500: anything else.
    #[error("{0}")]
    Internal(String),
}

/// Docker's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The human-readable message.
    pub message: String,
}

impl ApiError {
    /// The HTTP status Docker uses for this kind of error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InvalidParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::NotModified(_) => StatusCode::NOT_MODIFIED,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        match self {
            ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::InvalidParameter(m)
            | ApiError::NotModified(m)
            | ApiError::NotImplemented(m)
            | ApiError::Unavailable(m)
            | ApiError::Internal(m) => m,
        }
    }

    /// Docker's JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            message: self.message().to_owned(),
        }
    }

    /// Rebuilds an error from a status code and message, as read off the wire.
    /// Unknown error statuses become `Internal`, so nothing is lost.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        match status {
            StatusCode::NOT_FOUND => ApiError::NotFound(message),
            StatusCode::CONFLICT => ApiError::Conflict(message),
            StatusCode::BAD_REQUEST => ApiError::InvalidParameter(message),
            StatusCode::NOT_MODIFIED => ApiError::NotModified(message),
            StatusCode::NOT_IMPLEMENTED => ApiError::NotImplemented(message),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                ApiError::Unavailable(message)
            }
            _ => ApiError::Internal(message),
        }
    }

    /// The standard "not built yet" error for operation `op`.
    pub fn not_implemented(op: &str) -> Self {
        ApiError::NotImplemented(format!("{op} is not implemented by this backend yet"))
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(self, ctx: impl std::fmt::Display) -> Self {
        let wrap = |m: String| format!("{ctx}: {m}");
        match self {
            ApiError::NotFound(m) => ApiError::NotFound(wrap(m)),
            ApiError::Conflict(m) => ApiError::Conflict(wrap(m)),
            ApiError::InvalidParameter(m) => ApiError::InvalidParameter(wrap(m)),
            ApiError::NotModified(m) => ApiError::NotModified(wrap(m)),
            ApiError::NotImplemented(m) => ApiError::NotImplemented(wrap(m)),
            ApiError::Unavailable(m) => ApiError::Unavailable(wrap(m)),
            ApiError::Internal(m) => ApiError::Internal(wrap(m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_for_every_kind() {
        let all = [
            ApiError::NotFound("a".into()),
            ApiError::Conflict("b".into()),
            ApiError::InvalidParameter("c".into()),
            ApiError::NotModified("d".into()),
            ApiError::NotImplemented("e".into()),
            ApiError::Unavailable("f".into()),
            ApiError::Internal("g".into()),
        ];
        for err in all {
            let back = ApiError::from_status(err.status(), err.message());
            assert_eq!(back, err);
        }
    }

    #[test]
    fn body_is_docker_shape() {
        let body = serde_json::to_string(&ApiError::NotFound("No such container: x".into()).body())
            .expect("serialize");
        assert_eq!(body, r#"{"message":"No such container: x"}"#);
    }

    #[test]
    fn context_keeps_kind() {
        let err = ApiError::Conflict("in use".into()).context("aca: put job j");
        assert_eq!(err, ApiError::Conflict("aca: put job j: in use".into()));
    }
}
