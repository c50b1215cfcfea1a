//! `top`, `stats`, `pause`/`unpause` and `export` reach the backend: a
//! backend without them answers its own 501 naming the operation (not the
//! frontend's "not supported by sockerless"); bad container references are
//! refused before the backend is asked.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::{MemBackend, app, call};

#[tokio::test]
async fn routes_reach_the_backend() {
    let app = app(Arc::new(MemBackend::new())).await;
    for (method, uri, op) in [
        (
            Method::GET,
            "/containers/abc/top?ps_args=aux",
            "container top",
        ),
        (
            Method::GET,
            "/v1.44/containers/abc/stats?stream=false",
            "container stats",
        ),
        (Method::POST, "/containers/abc/pause", "container pause"),
        (Method::POST, "/containers/abc/unpause", "container unpause"),
        (Method::GET, "/containers/abc/export", "container export"),
    ] {
        let r = call(&app, method, uri, None).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{uri}");
        assert_eq!(
            r.message(),
            format!("{op} is not implemented by this backend yet"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn wrong_methods_are_404() {
    let app = app(Arc::new(MemBackend::new())).await;
    for (method, uri) in [
        (Method::POST, "/containers/abc/top"),
        (Method::GET, "/containers/abc/pause"),
        (Method::POST, "/containers/abc/export"),
    ] {
        let r = call(&app, method, uri, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
    }
}
