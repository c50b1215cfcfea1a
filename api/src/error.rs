//! The error every backend operation returns, with its Docker status code and body.

use std::sync::Arc;

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// An error as a Docker client sees it: a status code and `{"message": "..."}`.
///
/// Backends wrap lower-level failures with context before turning them into one
/// of these; the message is shown to the user verbatim by the Docker CLI, so it
/// must say what failed and never contain secrets. The lower-level error can
/// stay attached ([`ApiError::with_source`]) for the logs: it is logged once,
/// where the error becomes an HTTP answer ([`ApiError::log_cause`]), and never
/// sent to the client.
///
/// Errors compare by kind and message (not by cause). Match on
/// [`ApiError::kind`] rather than on the variants: an error with a cause is
/// the [`ApiError::Caused`] variant whatever its kind.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// One of the errors above with the lower-level error that caused it;
    /// kind, status and message are the inner error's.
    #[error("{error}")]
    Caused {
        /// The error as the client sees it (never itself `Caused`).
        error: Box<ApiError>,
        /// What caused it, for the logs.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
}

/// The kind of an [`ApiError`], which decides its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 400.
    InvalidParameter,
    /// 304.
    NotModified,
    /// 501.
    NotImplemented,
    /// 503.
    Unavailable,
    /// 500.
    Internal,
}

impl PartialEq for ApiError {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.message() == other.message()
    }
}

impl Eq for ApiError {}

/// Docker's error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let m = message.into();
        match kind {
            ErrorKind::NotFound => ApiError::NotFound(m),
            ErrorKind::Conflict => ApiError::Conflict(m),
            ErrorKind::InvalidParameter => ApiError::InvalidParameter(m),
            ErrorKind::NotModified => ApiError::NotModified(m),
            ErrorKind::NotImplemented => ApiError::NotImplemented(m),
            ErrorKind::Unavailable => ApiError::Unavailable(m),
            ErrorKind::Internal => ApiError::Internal(m),
        }
    }

    /// What kind of error this is, with or without a cause.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::NotFound(_) => ErrorKind::NotFound,
            ApiError::Conflict(_) => ErrorKind::Conflict,
            ApiError::InvalidParameter(_) => ErrorKind::InvalidParameter,
            ApiError::NotModified(_) => ErrorKind::NotModified,
            ApiError::NotImplemented(_) => ErrorKind::NotImplemented,
            ApiError::Unavailable(_) => ErrorKind::Unavailable,
            ApiError::Internal(_) => ErrorKind::Internal,
            ApiError::Caused { error, .. } => error.kind(),
        }
    }

    /// The HTTP status Docker uses for this kind of error.
    pub fn status(&self) -> StatusCode {
        match self.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::InvalidParameter => StatusCode::BAD_REQUEST,
            ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
            ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
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
            ApiError::Caused { error, .. } => error.message(),
        }
    }

    /// Docker's JSON body for this error.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            message: self.message().to_owned(),
        }
    }

    /// Attaches the lower-level error that caused this one (replacing any
    /// cause already attached); kind and message are unchanged. The cause
    /// goes to the logs only, so it may hold detail the message leaves out,
    /// but never secrets.
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        let source = Arc::new(source);
        match self {
            ApiError::Caused { error, .. } => ApiError::Caused { error, source },
            error => ApiError::Caused {
                error: Box::new(error),
                source,
            },
        }
    }

    /// The lower-level error attached with [`ApiError::with_source`].
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self {
            ApiError::Caused { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }

    /// Logs the attached cause with its chain, if there is one. Called once,
    /// where the error is mapped to the answer a client gets (the cause does
    /// not cross the internal API, so each cause is logged by one process).
    pub fn log_cause(&self) {
        if let Some(cause) = self.cause() {
            tracing::warn!(
                status = self.status().as_u16(),
                message = self.message(),
                cause = %error_chain(cause),
                "request failed"
            );
        }
    }

    /// Rebuilds an error from a status code and message, as read off the wire.
    /// Unknown error statuses become `Internal`, so nothing is lost.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::CONFLICT => ErrorKind::Conflict,
            StatusCode::BAD_REQUEST => ErrorKind::InvalidParameter,
            StatusCode::NOT_MODIFIED => ErrorKind::NotModified,
            StatusCode::NOT_IMPLEMENTED => ErrorKind::NotImplemented,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
                ErrorKind::Unavailable
            }
            _ => ErrorKind::Internal,
        };
        ApiError::new(kind, message)
    }

    /// The standard "not built yet" error for operation `op`.
    pub fn not_implemented(op: &str) -> Self {
        ApiError::NotImplemented(format!("{op} is not implemented by this backend yet"))
    }

    /// Prefixes the message with context, keeping the kind and the cause.
    pub fn context(self, ctx: impl std::fmt::Display) -> Self {
        match self {
            ApiError::Caused { error, source } => ApiError::Caused {
                error: Box::new(error.context(ctx)),
                source,
            },
            error => ApiError::new(error.kind(), format!("{ctx}: {}", error.message())),
        }
    }
}

/// An error and its sources, joined by `: `.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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

    #[test]
    fn a_cause_keeps_kind_message_and_context() {
        let io = std::io::Error::other("disk on fire");
        let err = ApiError::NotFound("no such thing".into()).with_source(io);
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        assert_eq!(err.to_string(), "no such thing");
        assert_eq!(err, ApiError::NotFound("no such thing".into()));
        let err = err.context("aca: get job");
        assert_eq!(err.message(), "aca: get job: no such thing");
        let cause = err.cause().map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("disk on fire"));
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert_ne!(
            err,
            ApiError::Conflict("aca: get job: no such thing".into())
        );
    }
}
