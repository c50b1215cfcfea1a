//! How an Azure call failed: the kind of failure (what a caller branches
//! on: "does not exist" is often an answer, "throttled" a reason to wait),
//! a message naming the call, Azure's HTTP status and error code when it
//! answered, and the underlying error as the source.
//!
//! The message is complete on its own (callers show it as it is); the
//! kinds are Azure's, not any API's: mapping them to the caller's errors is
//! the caller's business.

use azure_core::error::ErrorKind as CoreKind;

/// What an Azure call was doing, used to word its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// e.g. `aca: put job sl-1a2b3c`.
    pub operation: String,
    /// The RBAC role (and scope) the call needs, e.g.
    /// `Container Apps Contributor on resource group rg`.
    pub required_role: String,
}

impl CallContext {
    /// A context for `operation` needing `required_role`.
    pub fn new(operation: impl Into<String>, required_role: impl Into<String>) -> Self {
        Self {
            operation: operation.into(),
            required_role: required_role.into(),
        }
    }
}

/// The kind of an [`AzureError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The resource, share, workspace or image does not exist.
    NotFound,
    /// The request conflicts with the resource's state (409).
    Conflict,
    /// The request is invalid (400/422, a bad reference or platform).
    InvalidInput,
    /// Azure or the registry is throttling, unreachable or did not finish
    /// in time; worth trying again later.
    Unavailable,
    /// The identity may not do this, or has no token.
    Denied,
    /// Anything else (an unexpected answer, a failed operation).
    Other,
}

/// A failed Azure (or registry) call.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AzureError {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    code: Option<String>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AzureError {
    /// An error of `kind` with its full `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            code: None,
            source: None,
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    /// Records the HTTP status Azure answered.
    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Keeps `source` as the cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The message, naming the call.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The HTTP status Azure answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Azure's error code (e.g. `ResourceNotFound`), if it gave one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// A failure described by HTTP status, ARM error code and message.
    ///
    /// `status` is `None` for failures reported inside a long-running
    /// operation (a `Failed` status with an error object) or before any
    /// response.
    pub(crate) fn failure(
        ctx: &CallContext,
        status: Option<u16>,
        code: Option<&str>,
        message: &str,
    ) -> Self {
        let detail = match code {
            Some(code) if !message.contains(code) => format!("{code}: {message}"),
            _ => message.to_owned(),
        };
        let text = format!("{}: {detail}", ctx.operation);
        let (kind, text) = classify(ctx, status, code, text);
        Self {
            status,
            code: code.map(str::to_owned),
            ..Self::new(kind, text)
        }
    }

    /// An `azure_core` error (HTTP status, transport, credential), kept as
    /// the source.
    pub(crate) fn from_core(ctx: &CallContext, err: azure_core::Error) -> Self {
        let mapped = match err.kind() {
            CoreKind::HttpResponse {
                status, error_code, ..
            } => Self::failure(
                ctx,
                Some(u16::from(*status)),
                error_code.as_deref(),
                &err.to_string(),
            ),
            CoreKind::Connection | CoreKind::Io => Self::unavailable(format!(
                "{}: cannot reach Azure: {}",
                ctx.operation,
                error_chain(&err)
            )),
            CoreKind::Credential => Self::new(
                ErrorKind::Denied,
                format!(
                    "{}: cannot get an Azure access token: {} (configure a managed identity, \
                     AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload identity or `az login`; \
                     the identity needs {})",
                    ctx.operation,
                    error_chain(&err),
                    ctx.required_role
                ),
            ),
            _ => Self::other(format!("{}: {}", ctx.operation, error_chain(&err))),
        };
        mapped.with_source(err)
    }
}

/// ARM error codes that mean "the resource does not exist".
const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFound",
    "ResourceGroupNotFound",
    "NotFound",
    "ParentResourceNotFound",
    "SubscriptionNotFound",
    "ShareNotFound",
    "PathNotFound",
    "WorkspaceNotFound",
];

/// ARM error codes that mean "the caller may not do this".
const AUTH_CODES: &[&str] = &[
    "AuthorizationFailed",
    "AuthenticationFailed",
    "InvalidAuthenticationToken",
    "InvalidAuthenticationTokenTenant",
    "ExpiredAuthenticationToken",
    "LinkedAuthorizationFailed",
    "Unauthorized",
    "Forbidden",
    "InsufficientAccessError",
];

const THROTTLE_CODES: &[&str] = &["TooManyRequests", "ServiceUnavailable", "ServerBusy"];

/// The kind of a failure and its final text (`text` names the call).
fn classify(
    ctx: &CallContext,
    status: Option<u16>,
    code: Option<&str>,
    text: String,
) -> (ErrorKind, String) {
    let code_in =
        |list: &[&str]| code.is_some_and(|c| list.iter().any(|k| k.eq_ignore_ascii_case(c)));
    if code_in(AUTH_CODES) || matches!(status, Some(401 | 403)) {
        return (
            ErrorKind::Denied,
            format!(
                "{text} (permission denied: the backend's Azure identity needs the role {})",
                ctx.required_role
            ),
        );
    }
    if code_in(NOT_FOUND_CODES) || status == Some(404) {
        return (ErrorKind::NotFound, text);
    }
    if code_in(THROTTLE_CODES) || matches!(status, Some(429 | 502 | 503 | 504)) {
        return (
            ErrorKind::Unavailable,
            format!("{text} (Azure is throttling or unavailable; retries exhausted)"),
        );
    }
    let kind = match status {
        Some(409) => ErrorKind::Conflict,
        Some(400 | 422) => ErrorKind::InvalidInput,
        _ => match code {
            Some(c) if c.eq_ignore_ascii_case("Conflict") => ErrorKind::Conflict,
            Some(c)
                if ["InvalidParameter", "BadRequest", "ValidationError"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(c)) =>
            {
                ErrorKind::InvalidInput
            }
            _ => ErrorKind::Other,
        },
    };
    (kind, text)
}

/// The error and its sources, joined by `: ` (deduplicated), on one line.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    // Some Azure errors span lines; keep log lines and messages single-line.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
