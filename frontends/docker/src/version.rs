//! API version prefixes (`/v1.44/...`), Docker's standard response headers and
//! request logging.

use std::cmp::Ordering;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::errors::DockerError;

/// The API version served (and the default for unversioned paths).
pub const API_VERSION: &str = "1.44";
/// The oldest API version accepted.
pub const MIN_API_VERSION: &str = "1.24";
macro_rules! engine_version {
    () => {
        concat!("25.0.0+sockerless.", env!("CARGO_PKG_VERSION"))
    };
}

/// The Docker Engine release whose API sockerless speaks; clients that parse
/// `Version` as semver see this, the build metadata names sockerless.
pub const ENGINE_VERSION: &str = engine_version!();

/// Docker's `Server` header: `Docker/<version> (<os>)`.
const SERVER_HEADER: &str = concat!("Docker/", engine_version!(), " (linux)");

/// The API version a request asked for, stored in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(pub String);

impl ApiVersion {
    /// Whether this version is at least `other` (Docker's numeric comparison).
    pub fn at_least(&self, other: &str) -> bool {
        compare_versions(&self.0, other) != Ordering::Less
    }
}

/// Compares dotted versions numerically, as Docker's `versions.compare` does
/// (missing or non-numeric parts count as 0).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(0),
            pb.get(i).copied().unwrap_or(0),
        );
        match x.cmp(&y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

/// Splits `/v1.44/rest` into (`1.44`, `/rest`); `None` when unversioned.
fn split_prefix(path: &str) -> Option<(&str, &str)> {
    let after_v = path.strip_prefix("/v")?;
    let end = after_v.find('/').unwrap_or(after_v.len());
    let version = &after_v[..end];
    let is_version = !version.is_empty()
        && version.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && version.as_bytes()[0].is_ascii_digit();
    if !is_version {
        return None;
    }
    let rest = &after_v[end..];
    Some((version, if rest.is_empty() { "/" } else { rest }))
}

/// Checks a client's version against the supported range, with Docker's messages.
pub fn check_version(version: &str) -> Result<(), DockerError> {
    if compare_versions(version, MIN_API_VERSION) == Ordering::Less {
        return Err(DockerError::bad_request(format!(
            "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    if compare_versions(version, API_VERSION) == Ordering::Greater {
        return Err(DockerError::bad_request(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    Ok(())
}

/// Strips the version prefix, checks it, records it, and hands the request
/// to the API router (which therefore only knows unversioned paths).
pub async fn dispatch(State(api): State<Router>, mut req: Request) -> Response {
    let (version, rest) = match split_prefix(req.uri().path()) {
        Some((v, rest)) => (v.to_owned(), Some(rest.to_owned())),
        None => (API_VERSION.to_owned(), None),
    };
    if let Err(err) = check_version(&version) {
        return err.into_response();
    }
    if let Some(rest) = rest {
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest,
        };
        match Uri::builder().path_and_query(path_and_query).build() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return DockerError::page_not_found().into_response(),
        }
    }
    req.extensions_mut().insert(ApiVersion(version));
    match api.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// Adds Docker's `Server`, `API-Version` and `OSType` headers and logs the
/// request (method, path, status, duration; never headers, which carry credentials).
pub async fn headers_and_logging(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    headers.insert("api-version", HeaderValue::from_static(API_VERSION));
    headers.insert("ostype", HeaderValue::from_static("linux"));
    tracing::info!(
        %method,
        %path,
        status = resp.status().as_u16(),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(split_prefix("/v1.44/_ping"), Some(("1.44", "/_ping")));
        assert_eq!(
            split_prefix("/v1.24/containers/x/json"),
            Some(("1.24", "/containers/x/json"))
        );
        assert_eq!(split_prefix("/v1.44"), Some(("1.44", "/")));
        assert_eq!(split_prefix("/volumes"), None);
        assert_eq!(split_prefix("/vx/_ping"), None);
        assert_eq!(split_prefix("/_ping"), None);
    }

    #[test]
    fn version_range() {
        assert!(check_version("1.44").is_ok());
        assert!(check_version("1.24").is_ok());
        assert!(check_version("1.4").is_err());
        let err = check_version("1.45").expect_err("too new");
        assert_eq!(
            err.message(),
            "client version 1.45 is too new. Maximum supported API version is 1.44"
        );
        assert!(check_version("1.23").is_err());
        assert!(check_version("2").is_err());
    }

    proptest::proptest! {
        #[test]
        fn prefix_and_version_parsing_never_panic(path in "/?v?[0-9.]{0,8}(/[a-z_]{0,6}){0,3}") {
            if let Some((version, rest)) = split_prefix(&path) {
                proptest::prop_assert!(rest.starts_with('/'));
                let _ = check_version(version);
            }
        }

        #[test]
        fn comparison_is_antisymmetric(a in "[0-9.]{0,8}", b in "[0-9.]{0,8}") {
            proptest::prop_assert_eq!(compare_versions(&a, &b), compare_versions(&b, &a).reverse());
        }
    }
}
