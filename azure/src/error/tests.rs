//! How Azure's answers are classified and worded.

use super::*;
use azure_core::http::StatusCode;

fn ctx() -> CallContext {
    CallContext::new(
        "aca: put job sl-1a2b",
        "Container Apps Contributor on resource group rg",
    )
}

fn http_error(status: u16, code: Option<&str>) -> azure_core::Error {
    azure_core::Error::with_message(
        CoreKind::HttpResponse {
            status: StatusCode::from(status),
            error_code: code.map(str::to_owned),
            raw_response: None,
        },
        "the message",
    )
}

#[test]
fn classifies_by_status_and_code() {
    let cases: &[(u16, Option<&str>, ErrorKind)] = &[
        (404, Some("ResourceNotFound"), ErrorKind::NotFound),
        (404, None, ErrorKind::NotFound),
        (400, Some("ResourceNotFound"), ErrorKind::NotFound),
        (409, Some("Conflict"), ErrorKind::Conflict),
        (400, Some("InvalidParameter"), ErrorKind::InvalidInput),
        (429, None, ErrorKind::Unavailable),
        (503, None, ErrorKind::Unavailable),
        (500, Some("InternalServerError"), ErrorKind::Other),
        (500, Some("Conflict"), ErrorKind::Conflict),
    ];
    for (status, code, kind) in cases {
        let got = AzureError::from_core(&ctx(), http_error(*status, *code));
        assert_eq!(got.kind(), *kind, "{status} {code:?} gave {got:?}");
        assert_eq!(got.status(), Some(*status));
        assert_eq!(got.code(), *code);
        assert!(
            got.message().starts_with("aca: put job sl-1a2b: "),
            "{got:?}"
        );
        assert!(std::error::Error::source(&got).is_some(), "keeps the cause");
    }
}

#[test]
fn forbidden_names_the_missing_role() {
    for (status, code) in [
        (403, Some("AuthorizationFailed")),
        (401, None),
        (400, Some("InvalidAuthenticationToken")),
    ] {
        let got = AzureError::from_core(&ctx(), http_error(status, code));
        assert_eq!(got.kind(), ErrorKind::Denied, "{status} gave {got:?}");
        assert!(
            got.message()
                .contains("Container Apps Contributor on resource group rg"),
            "{got}"
        );
    }
}

#[test]
fn credential_and_transport_errors() {
    let cred = azure_core::Error::with_message(CoreKind::Credential, "no credential worked");
    let got = AzureError::from_core(&ctx(), cred);
    assert_eq!(got.kind(), ErrorKind::Denied);
    assert!(
        got.message().contains("no credential worked")
            && got.message().contains("Container Apps Contributor"),
        "{got}"
    );
    let io = azure_core::Error::with_message(CoreKind::Connection, "connection refused");
    assert_eq!(
        AzureError::from_core(&ctx(), io).kind(),
        ErrorKind::Unavailable
    );
}

#[test]
fn lro_failure_without_status_classifies_by_code() {
    let got = AzureError::failure(&ctx(), None, Some("ResourceNotFound"), "gone");
    assert_eq!(got.kind(), ErrorKind::NotFound);
    assert_eq!(
        got.message(),
        "aca: put job sl-1a2b: ResourceNotFound: gone"
    );
    let got = AzureError::failure(&ctx(), None, Some("ContainerAppOperationError"), "boom");
    assert_eq!(got.kind(), ErrorKind::Other);
}
