//! System endpoints, version prefixes, headers, unknown and unsupported routes.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::{MemBackend, app, call};

#[tokio::test]
async fn ping_has_docker_headers_for_get_and_head() {
    let app = app(Arc::new(MemBackend::new())).await;
    for method in [Method::GET, Method::HEAD] {
        let r = call(&app, method.clone(), "/_ping", None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("api-version"), "1.44");
        assert_eq!(r.header("docker-experimental"), "false");
        assert_eq!(r.header("ostype"), "linux");
        assert_eq!(r.header("builder-version"), "1");
        assert_eq!(
            r.header("cache-control"),
            "no-cache, no-store, must-revalidate"
        );
        assert_eq!(r.header("pragma"), "no-cache");
        assert_eq!(
            r.header("server"),
            concat!(
                "Docker/25.0.0+sockerless.",
                env!("CARGO_PKG_VERSION"),
                " (linux)"
            )
        );
        let want: &[u8] = if method == Method::GET { b"OK" } else { b"" };
        assert_eq!(&r.body[..], want);
    }
}

#[tokio::test]
async fn version_prefixes() {
    let app = app(Arc::new(MemBackend::new())).await;
    for uri in ["/v1.44/_ping", "/v1.24/_ping", "/v1.41/_ping", "/_ping"] {
        assert_eq!(
            call(&app, Method::GET, uri, None).await.status,
            StatusCode::OK,
            "{uri}"
        );
    }
    let r = call(&app, Method::GET, "/v1.45/_ping", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.message(),
        "client version 1.45 is too new. Maximum supported API version is 1.44"
    );
    let r = call(&app, Method::GET, "/v1.23/version", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("too old"), "{}", r.message());
    // A versioned path keeps its query string.
    let r = call(&app, Method::GET, "/v1.44/containers/json?all=1", None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_docker_404() {
    let app = app(Arc::new(MemBackend::new())).await;
    for (method, uri) in [
        (Method::GET, "/nope"),
        (Method::GET, "/v1.44/nope/deeper"),
        (Method::PATCH, "/containers/json"),
        (Method::GET, "/vbad/_ping"),
    ] {
        let r = call(&app, method, uri, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.json(), serde_json::json!({"message": "page not found"}));
        assert_eq!(r.header("content-type"), "application/json");
    }
}

#[tokio::test]
async fn endpoints_without_backend_operation_are_501() {
    let app = app(Arc::new(MemBackend::new())).await;
    for (method, uri) in [
        (Method::POST, "/build/prune"),
        (Method::GET, "/images/search?term=x"),
        (Method::GET, "/containers/abc/attach/ws"),
        (Method::POST, "/swarm/init"),
        (Method::POST, "/swarm/join"),
        (Method::GET, "/plugins"),
        (Method::GET, "/images/busybox/history"),
        (Method::PUT, "/volumes/v1"),
    ] {
        let r = call(&app, method, uri, None).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{uri}");
        assert!(
            r.message().ends_with("is not supported by sockerless"),
            "{uri}: {}",
            r.message()
        );
    }
}

/// `POST /build` reaches the backend: one that cannot build says so (501),
/// after the options were checked (a 400 for one no backend honours).
#[tokio::test]
async fn build_is_the_backends_to_answer() {
    let app = app(Arc::new(MemBackend::new())).await;
    let r = call(&app, Method::POST, "/build?t=app:1", None).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        r.message(),
        "image build is not implemented by this backend yet"
    );
    let r = call(&app, Method::POST, "/build?t=app:1&memory=1000000", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("memory"), "{}", r.message());
}

/// As a dockerd outside any swarm: 503 with dockerd's messages (SDKs
/// tolerate these, not a 501).
#[tokio::test]
async fn swarm_endpoints_answer_as_a_node_outside_a_swarm() {
    let app = app(Arc::new(MemBackend::new())).await;
    let not_a_manager = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
    for (method, uri, message) in [
        (Method::GET, "/swarm", not_a_manager),
        (
            Method::POST,
            "/swarm/leave?force=1",
            "This node is not part of a swarm",
        ),
        (Method::GET, "/swarm/unlockkey", not_a_manager),
        (Method::GET, "/nodes", not_a_manager),
        (Method::DELETE, "/nodes/x", not_a_manager),
        (Method::GET, "/services", not_a_manager),
        (Method::POST, "/services/create", not_a_manager),
        (Method::GET, "/services/x/logs", not_a_manager),
        (Method::GET, "/tasks", not_a_manager),
        (Method::GET, "/secrets", not_a_manager),
        (Method::GET, "/configs/x", not_a_manager),
    ] {
        let r = call(&app, method, uri, None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert_eq!(r.json(), serde_json::json!({"message": message}), "{uri}");
    }
    let r = call(&app, Method::PUT, "/swarm", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "dockerd has no PUT /swarm");
}

#[tokio::test]
async fn version_names_the_backend() {
    let app = app(Arc::new(MemBackend::new())).await;
    let v = call(&app, Method::GET, "/version", None).await.json();
    assert_eq!(v["ApiVersion"], "1.44");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Platform"]["Name"], "Sockerless (memtest)");
    let components = v["Components"].as_array().expect("components");
    assert_eq!(components[0]["Name"], "Engine");
    assert_eq!(components[0]["Details"]["ApiVersion"], "1.44");
    assert!(
        components
            .iter()
            .any(|c| c["Name"] == "sockerless-backend-memtest" && c["Version"] == "9.9.9")
    );
}

#[tokio::test]
async fn info_names_the_backend() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend).await;
    let info = call(&app, Method::GET, "/info", None).await.json();
    assert_eq!(info["Name"], "sockerless-memtest");
    assert_eq!(info["Driver"], "memtest");
    assert_eq!(info["OSType"], "linux");
    assert_eq!(info["NCPU"], 2);
    assert!(
        info["ServerVersion"]
            .as_str()
            .unwrap_or_default()
            .starts_with("25.0.0")
    );
}

#[tokio::test]
async fn events_stream_json_lines_with_filters_and_since() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    let r = call(
        &app,
        Method::GET,
        "/events?since=12.5&filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/json");
    let lines: Vec<serde_json::Value> = r
        .body
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|l| serde_json::from_slice(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["Action"], "start");
    assert_eq!(lines[0]["timeNano"], 12_500_000_000_i64);
    let seen = backend.seen().filters.clone().expect("filters");
    assert_eq!(seen["type"], vec!["container".to_owned()]);
    let r = call(&app, Method::GET, "/events?since=yesterday", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn system_df_has_api_1_44_shape() {
    let app = app(Arc::new(MemBackend::new())).await;
    let df = call(&app, Method::GET, "/system/df", None).await.json();
    assert_eq!(df["LayersSize"], 100);
    assert_eq!(df["Images"].as_array().map(Vec::len), Some(1));
    assert!(df["Containers"].is_array());
    assert!(df["Volumes"].is_array());
    assert_eq!(df["BuildCache"], serde_json::json!([]));
}

#[tokio::test]
async fn auth_passes_through() {
    let app = app(Arc::new(MemBackend::new())).await;
    let ok = call(
        &app,
        Method::POST,
        "/auth",
        Some(r#"{"username":"u","password":"right","serveraddress":"r.io"}"#),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.json()["Status"], "Login Succeeded");
    let bad = call(
        &app,
        Method::POST,
        "/auth",
        Some(r#"{"username":"u","password":"wrong"}"#),
    )
    .await;
    assert_eq!(bad.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(bad.message(), "login failed");
    let empty = call(&app, Method::POST, "/auth", None).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

/// A backend with nothing but capabilities: every call answers the trait's
/// NotImplemented, which must reach the client as 501 with its message.
struct Bare;

#[async_trait::async_trait]
impl sockerless_api::Backend for Bare {
    async fn capabilities(&self) -> sockerless_api::Result<sockerless_api::BackendInfo> {
        Ok(sockerless_api::BackendInfo {
            backend: "bare".into(),
            version: "0".into(),
            capabilities: common::full_caps(),
        })
    }
}

#[tokio::test]
async fn not_implemented_passes_through_as_501() {
    let backend: Arc<dyn sockerless_api::Backend> = Arc::new(Bare);
    let info = backend.capabilities().await.expect("caps");
    let app = sockerless_frontend_docker::router(backend, info);
    let r = call(&app, Method::POST, "/containers/abc/start", None).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        r.message(),
        "container start is not implemented by this backend yet"
    );
    // /version still answers: the frontend knows what it serves.
    let v = call(&app, Method::GET, "/version", None).await;
    assert_eq!(v.status, StatusCode::OK);
    assert_eq!(v.json()["Platform"]["Name"], "Sockerless (bare)");
    // /info falls back to counts, which need container_list: 501 here.
    let i = call(&app, Method::GET, "/info", None).await;
    assert_eq!(i.status, StatusCode::NOT_IMPLEMENTED);
}
