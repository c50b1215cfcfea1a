//! Reading request bodies and headers the way Docker does: JSON bodies with a
//! size limit, `X-Registry-Auth`, streamed uploads, and name checks.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use futures_util::TryStreamExt;
use serde::de::DeserializeOwned;
use sockerless_api::docker::AuthConfig;
use sockerless_api::{ApiError, ByteStream};

use crate::errors::DockerError;

/// Largest JSON body accepted (container configs are a few KiB; 32 MiB leaves
/// room for huge env/label sets while bounding memory). Larger gets 413.
pub const JSON_BODY_LIMIT: usize = 32 * 1024 * 1024;

/// Reads a JSON body. `Ok(None)` when the body is empty. Like Docker, a
/// non-empty body must be sent as `application/json`.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<T>, DockerError> {
    let bytes = axum::body::to_bytes(body, JSON_BODY_LIMIT)
        .await
        .map_err(|err| {
            if is_length_limit(&err) {
                DockerError::payload_too_large(JSON_BODY_LIMIT)
            } else {
                DockerError::bad_request(format!("cannot read request body: {err}"))
            }
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    check_json_content_type(headers)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| DockerError::bad_request(format!("invalid JSON body: {err}")))
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn check_json_content_type(headers: &HeaderMap) -> Result<(), DockerError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(DockerError::bad_request(format!(
            "unsupported Content-Type header ({content_type}): must be 'application/json'"
        )))
    }
}

/// Decodes `X-Registry-Auth` (base64url JSON `AuthConfig`, padded or not; the
/// standard alphabet is accepted too). Absent or empty credentials give `None`.
pub fn registry_auth(headers: &HeaderMap) -> Result<Option<AuthConfig>, DockerError> {
    let Some(value) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    // Never echo the header: it carries a password.
    let invalid =
        || DockerError::bad_request("invalid X-Registry-Auth header: not base64url-encoded JSON");
    let text = value.to_str().map_err(|_| invalid())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let unpadded = text.trim_end_matches('=');
    let decoded = URL_SAFE_NO_PAD
        .decode(unpadded)
        .or_else(|_| STANDARD_NO_PAD.decode(unpadded))
        .map_err(|_| invalid())?;
    let config: Option<AuthConfig> = serde_json::from_slice(&decoded).map_err(|_| invalid())?;
    Ok(config.filter(|c| *c != AuthConfig::default()))
}

/// A request body as a stream of bytes for the backend (tarballs; no limit).
pub fn byte_stream(body: Body) -> ByteStream {
    Box::pin(
        body.into_data_stream()
            .map_err(|err| ApiError::InvalidParameter(format!("reading request body: {err}"))),
    )
}

/// Container and exec references: IDs, ID prefixes or names. Anything else
/// cannot exist, so it is a 404 without asking the backend.
pub fn check_object_ref(kind: &str, reference: &str) -> Result<(), DockerError> {
    let ok = !reference.is_empty()
        && reference.len() <= 256
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && reference != "."
        && reference != "..";
    if ok {
        Ok(())
    } else {
        Err(DockerError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("No such {kind}: {}", reference.escape_debug()),
        ))
    }
}

/// Container names as Docker accepts them: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`,
/// with an optional leading `/`. Returns the name without the slash.
pub fn check_container_name(name: &str) -> Result<String, DockerError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let bytes = bare.as_bytes();
    let ok = bytes.len() >= 2
        && bytes.len() <= 255
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(bare.to_owned())
    } else {
        Err(DockerError::bad_request(format!(
            "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            name.escape_debug()
        )))
    }
}

/// Network, volume and image references: no control characters, no `..`
/// path segments, bounded length. Backends may use them in paths.
pub fn check_plain_ref(kind: &str, reference: &str) -> Result<(), DockerError> {
    let ok = !reference.is_empty()
        && reference.len() <= 512
        && !reference
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && !reference.split('/').any(|seg| seg == ".." || seg == ".");
    if ok {
        Ok(())
    } else {
        Err(DockerError::bad_request(format!(
            "invalid {kind} reference: {}",
            reference.escape_debug()
        )))
    }
}

/// Network names and references as dockerd takes them: any printable text
/// (`docker network create "a b"` works on dockerd), bounded; networks are
/// records, never paths.
pub fn check_network_ref(reference: &str) -> Result<(), DockerError> {
    let ok = !reference.trim().is_empty()
        && reference.len() <= 512
        && !reference.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(DockerError::bad_request(format!(
            "invalid network reference: {}",
            reference.escape_debug()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-registry-auth",
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn registry_auth_decodes_url_and_std_alphabets() {
        let json = br#"{"username":"u?>","password":"p~~~","serveraddress":"r.io"}"#;
        for engine in [&URL_SAFE_NO_PAD, &STANDARD_NO_PAD] {
            let enc = engine.encode(json);
            for value in [enc.clone(), format!("{enc}==")] {
                let auth = registry_auth(&auth_header(&value))
                    .expect("ok")
                    .expect("some");
                assert_eq!(auth.username.as_deref(), Some("u?>"));
                assert_eq!(auth.password.as_deref(), Some("p~~~"));
            }
        }
        assert_eq!(registry_auth(&auth_header("e30=")), Ok(None));
        assert_eq!(registry_auth(&HeaderMap::new()), Ok(None));
        assert!(registry_auth(&auth_header("!!!")).is_err());
        assert!(registry_auth(&auth_header("bm90IGpzb24")).is_err());
    }

    #[test]
    fn references() {
        assert!(check_object_ref("container", "abc_1.2-3").is_ok());
        assert!(check_object_ref("container", "../etc").is_err());
        assert!(check_object_ref("container", "..").is_err());
        assert!(check_object_ref("container", "").is_err());
        assert_eq!(check_container_name("/web").as_deref(), Ok("web"));
        assert!(check_container_name("a").is_err());
        assert!(check_container_name("-a").is_err());
        assert!(check_plain_ref("image", "registry:5000/library/busybox:1.36").is_ok());
        assert!(check_plain_ref("image", "../../etc/passwd").is_err());
        assert!(check_plain_ref("volume", "a\nb").is_err());
        for ok in ["a b", " lead", "a/b", "é"] {
            assert!(check_network_ref(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", " ", "a\nb", "a\u{1b}b"] {
            assert!(check_network_ref(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn registry_auth_never_panics(value in "[ -~]{0,200}") {
            if let Ok(header) = HeaderValue::from_str(&value) {
                let mut headers = HeaderMap::new();
                headers.insert("x-registry-auth", header);
                let _ = registry_auth(&headers);
            }
        }

        #[test]
        fn reference_checks_never_panic(s in "\\PC{0,40}") {
            let _ = check_object_ref("container", &s);
            let _ = check_container_name(&s);
            let _ = check_plain_ref("image", &s);
        }
    }
}
