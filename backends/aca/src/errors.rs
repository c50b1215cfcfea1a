//! Mapping of the Azure clients' failures ([`AzureError`]) to Docker's
//! [`ApiError`]: the kind decides the status, the message (which names the
//! call, and the RBAC role missing when Azure says "forbidden") is kept as
//! it is.

use sockerless_api::ApiError;
use sockerless_azure::{AzureError, ErrorKind};

/// The Docker error for a failed Azure call: 404 for what does not exist,
/// 409 for a conflict, 400 for a refused request, 503 for throttling and
/// unreachable Azure, 500 for the rest (a refused identity included: the
/// daemon's configuration, not the client's request, is at fault).
/// The Azure error stays attached as the cause (logged where the error is
/// answered, never sent to the client).
pub fn map_azure_error(err: AzureError) -> ApiError {
    let message = err.message().to_owned();
    let mapped = match err.kind() {
        ErrorKind::NotFound => ApiError::NotFound(message),
        ErrorKind::Conflict => ApiError::Conflict(message),
        ErrorKind::InvalidInput => ApiError::InvalidParameter(message),
        ErrorKind::Unavailable => ApiError::Unavailable(message),
        ErrorKind::Denied | ErrorKind::Other => ApiError::Internal(message),
    };
    mapped.with_source(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_docker_statuses_with_the_message_kept() {
        let cases = [
            (ErrorKind::NotFound, ApiError::NotFound("m".into())),
            (ErrorKind::Conflict, ApiError::Conflict("m".into())),
            (
                ErrorKind::InvalidInput,
                ApiError::InvalidParameter("m".into()),
            ),
            (ErrorKind::Unavailable, ApiError::Unavailable("m".into())),
            (ErrorKind::Denied, ApiError::Internal("m".into())),
            (ErrorKind::Other, ApiError::Internal("m".into())),
        ];
        for (kind, want) in cases {
            let got = map_azure_error(AzureError::new(kind, "m"));
            assert!(
                got.cause().is_some(),
                "the Azure error is kept as the cause"
            );
            assert_eq!(got, want);
        }
    }
}
