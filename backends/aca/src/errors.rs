//! Mapping of Azure failures to [`ApiError`], with context and the RBAC role
//! that is missing when Azure says "forbidden".

use azure_core::error::ErrorKind;
use sockerless_api::ApiError;

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

/// Maps a failure described by HTTP status, ARM error code and message.
///
/// `status` is `None` for failures reported inside a long-running operation
/// (a `Failed` status with an error object) or before any response.
pub fn map_failure(
    ctx: &CallContext,
    status: Option<u16>,
    code: Option<&str>,
    message: &str,
) -> ApiError {
    let detail = match code {
        Some(code) if !message.contains(code) => format!("{code}: {message}"),
        _ => message.to_owned(),
    };
    let text = format!("{}: {detail}", ctx.operation);
    let code_in =
        |list: &[&str]| code.is_some_and(|c| list.iter().any(|k| k.eq_ignore_ascii_case(c)));
    if code_in(AUTH_CODES) || matches!(status, Some(401 | 403)) {
        return ApiError::Internal(format!(
            "{text} (permission denied: the backend's Azure identity needs the role {})",
            ctx.required_role
        ));
    }
    if code_in(NOT_FOUND_CODES) || status == Some(404) {
        return ApiError::NotFound(text);
    }
    if code_in(THROTTLE_CODES) || matches!(status, Some(429 | 502 | 503 | 504)) {
        return ApiError::Unavailable(format!(
            "{text} (Azure is throttling or unavailable; retries exhausted)"
        ));
    }
    match status {
        Some(409) => ApiError::Conflict(text),
        Some(400 | 422) => ApiError::InvalidParameter(text),
        _ => match code {
            Some(c) if c.eq_ignore_ascii_case("Conflict") => ApiError::Conflict(text),
            Some(c)
                if c.eq_ignore_ascii_case("InvalidParameter")
                    || c.eq_ignore_ascii_case("BadRequest")
                    || c.eq_ignore_ascii_case("ValidationError") =>
            {
                ApiError::InvalidParameter(text)
            }
            _ => ApiError::Internal(text),
        },
    }
}

/// Maps an `azure_core` error (HTTP status, transport, credential) to
/// [`ApiError`], keeping it attached as the cause (for the logs).
pub fn map_azure_error(ctx: &CallContext, err: azure_core::Error) -> ApiError {
    let mapped = match err.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => map_failure(
            ctx,
            Some(u16::from(*status)),
            error_code.as_deref(),
            &err.to_string(),
        ),
        ErrorKind::Connection | ErrorKind::Io => ApiError::Unavailable(format!(
            "{}: cannot reach Azure: {}",
            ctx.operation,
            error_chain(&err)
        )),
        ErrorKind::Credential => ApiError::Internal(format!(
            "{}: cannot get an Azure access token: {} (configure a managed identity, \
             AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload identity or `az login`; \
             the identity needs {})",
            ctx.operation,
            error_chain(&err),
            ctx.required_role
        )),
        _ => ApiError::Internal(format!("{}: {}", ctx.operation, error_chain(&err))),
    };
    mapped.with_source(err)
}

/// The error and its sources, joined by `: ` (deduplicated).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
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
    // Some Azure errors span lines; keep log lines and Docker messages single-line.
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::StatusCode;
    use sockerless_api::ErrorKind as Kind;

    fn ctx() -> CallContext {
        CallContext::new(
            "aca: put job sl-1a2b",
            "Container Apps Contributor on resource group rg",
        )
    }

    fn http_error(status: u16, code: Option<&str>) -> azure_core::Error {
        azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::from(status),
                error_code: code.map(str::to_owned),
                raw_response: None,
            },
            "the message",
        )
    }

    #[test]
    fn maps_by_status_and_code() {
        type Check = fn(&ApiError) -> bool;
        let cases: &[(u16, Option<&str>, Check)] = &[
            (404, Some("ResourceNotFound"), |e| {
                e.kind() == Kind::NotFound
            }),
            (404, None, |e| e.kind() == Kind::NotFound),
            (400, Some("ResourceNotFound"), |e| {
                e.kind() == Kind::NotFound
            }),
            (409, Some("Conflict"), |e| e.kind() == Kind::Conflict),
            (400, Some("InvalidParameter"), |e| {
                e.kind() == Kind::InvalidParameter
            }),
            (429, None, |e| e.kind() == Kind::Unavailable),
            (503, None, |e| e.kind() == Kind::Unavailable),
            (500, Some("InternalServerError"), |e| {
                e.kind() == Kind::Internal
            }),
        ];
        for (status, code, check) in cases {
            let got = map_azure_error(&ctx(), http_error(*status, *code));
            assert!(check(&got), "{status} {code:?} gave {got:?}");
            assert!(
                got.message().starts_with("aca: put job sl-1a2b: "),
                "{got:?}"
            );
        }
    }

    #[test]
    fn forbidden_names_the_missing_role() {
        for (status, code) in [
            (403, Some("AuthorizationFailed")),
            (401, None),
            (400, Some("InvalidAuthenticationToken")),
        ] {
            let got = map_azure_error(&ctx(), http_error(status, code));
            assert_eq!(got.kind(), Kind::Internal, "{status} gave {got:?}");
            let msg = got.message();
            assert!(got.cause().is_some(), "the azure_core error stays attached");
            assert!(
                msg.contains("Container Apps Contributor on resource group rg"),
                "{msg}"
            );
        }
    }

    #[test]
    fn credential_and_transport_errors() {
        let cred = azure_core::Error::with_message(ErrorKind::Credential, "no credential worked");
        let got = map_azure_error(&ctx(), cred);
        assert_eq!(got.kind(), Kind::Internal);
        let m = got.message();
        assert!(m.contains("no credential worked") && m.contains("Container Apps Contributor"));
        let io = azure_core::Error::with_message(ErrorKind::Connection, "connection refused");
        assert_eq!(map_azure_error(&ctx(), io).kind(), Kind::Unavailable);
    }

    #[test]
    fn lro_failure_without_status_maps_by_code() {
        let got = map_failure(&ctx(), None, Some("ResourceNotFound"), "gone");
        assert_eq!(
            got,
            ApiError::NotFound("aca: put job sl-1a2b: ResourceNotFound: gone".into())
        );
        let got = map_failure(&ctx(), None, Some("ContainerAppOperationError"), "boom");
        assert!(matches!(got, ApiError::Internal(_)));
    }
}
