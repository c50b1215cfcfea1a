//! A registry's refusal of a pull, kept in the registry's own terms so that
//! the pull can word it as dockerd does (moby `distribution/errors.go`,
//! `TranslatePullError`): the first error of the registry's answer decides,
//! and only `MANIFEST_UNKNOWN`, `NAME_UNKNOWN` and `DENIED` are refusals
//! (dockerd's 404s); anything else is an ordinary failure.

use oci_client::errors::{OciDistributionError, OciErrorCode};

use crate::AzureError;

/// The registry error codes dockerd answers a pull with 404 for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalCode {
    /// `MANIFEST_UNKNOWN`: no such tag or digest in the repository.
    ManifestUnknown,
    /// `NAME_UNKNOWN`: no such repository.
    NameUnknown,
    /// `DENIED`, or HTTP 401 to an authenticated request (Docker Hub's
    /// `insufficient_scope` for a repository that does not exist or is private).
    Denied,
}

impl RefusalCode {
    /// The code in words, as distribution's `errcode.ErrorCode.Error()` gives it.
    fn words(self) -> &'static str {
        match self {
            Self::ManifestUnknown => "manifest unknown",
            Self::NameUnknown => "name unknown",
            Self::Denied => "denied",
        }
    }
}

/// What the registry said: its code and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The registry's error code.
    pub code: RefusalCode,
    /// The registry's message for it (e.g. `manifest unknown`).
    pub message: String,
}

/// distribution's message of `DENIED` when the registry gives none.
const DENIED_MESSAGE: &str = "requested access to the resource is denied";

impl Refusal {
    /// distribution's `errcode.Error.Error()`: the code in words, then the
    /// registry's message, e.g. `manifest unknown: manifest unknown`.
    pub fn cause(&self) -> String {
        format!("{}: {}", self.code.words(), self.message)
    }

    /// The refusal in `err`, if it is one.
    pub fn of(err: &OciDistributionError) -> Option<Self> {
        match err {
            OciDistributionError::RegistryError { envelope, .. } => {
                let first = envelope.errors.first()?;
                let code = match first.code {
                    OciErrorCode::ManifestUnknown => RefusalCode::ManifestUnknown,
                    OciErrorCode::NameUnknown => RefusalCode::NameUnknown,
                    OciErrorCode::Denied => RefusalCode::Denied,
                    _ => return None,
                };
                let message = if first.message.is_empty() {
                    match code {
                        RefusalCode::Denied => DENIED_MESSAGE.to_owned(),
                        other => other.words().to_owned(),
                    }
                } else {
                    first.message.clone()
                };
                Some(Self { code, message })
            }
            // oci-client keeps neither the body nor the challenge of a 401.
            OciDistributionError::UnauthorizedError { .. } => Some(Self {
                code: RefusalCode::Denied,
                message: DENIED_MESSAGE.to_owned(),
            }),
            _ => None,
        }
    }
}

/// Why a pull failed: the registry refused it, or anything else.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry refused: dockerd words this with the image's name.
    #[error("{}", refusal.cause())]
    Refused {
        /// The registry's code and message.
        refusal: Refusal,
        /// The call and the registry's answer in full, for the log.
        context: String,
    },
    /// Any other failure, already mapped.
    #[error(transparent)]
    Other(#[from] AzureError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::errors::OciEnvelope;

    fn registry_error(body: &str) -> OciDistributionError {
        let envelope: OciEnvelope = serde_json::from_str(body).expect("envelope");
        OciDistributionError::RegistryError {
            envelope,
            url: "http://127.0.0.1:5000/v2/x/manifests/latest".into(),
        }
    }

    #[test]
    fn the_first_error_decides() {
        let refusal = Refusal::of(&registry_error(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"latest"}}]}"#,
        ))
        .expect("refusal");
        assert_eq!(refusal.code, RefusalCode::ManifestUnknown);
        assert_eq!(refusal.cause(), "manifest unknown: manifest unknown");
        let refusal = Refusal::of(&registry_error(
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"},{"code":"MANIFEST_UNKNOWN"}]}"#,
        ))
        .expect("refusal");
        assert_eq!(
            refusal.cause(),
            "name unknown: repository name not known to registry"
        );
        let refusal =
            Refusal::of(&registry_error(r#"{"errors":[{"code":"DENIED"}]}"#)).expect("refusal");
        assert_eq!(
            refusal.cause(),
            "denied: requested access to the resource is denied"
        );
        assert!(
            Refusal::of(&registry_error(
                r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"},{"code":"MANIFEST_UNKNOWN"}]}"#
            ))
            .is_none()
        );
        assert!(Refusal::of(&registry_error(r#"{"errors":[]}"#)).is_none());
    }

    #[test]
    fn a_401_is_denied_and_other_failures_are_not_refusals() {
        let refusal = Refusal::of(&OciDistributionError::UnauthorizedError {
            url: "https://registry-1.docker.io/v2/library/x/manifests/latest".into(),
        })
        .expect("refusal");
        assert_eq!(refusal.code, RefusalCode::Denied);
        assert_eq!(refusal.message, DENIED_MESSAGE);
        assert!(
            Refusal::of(&OciDistributionError::ServerError {
                code: 404,
                url: "u".into(),
                message: String::new(),
            })
            .is_none()
        );
        assert!(
            Refusal::of(&OciDistributionError::ImageManifestNotFoundError(
                "no entry found in image index manifest matching client's default platform".into()
            ))
            .is_none()
        );
    }
}
