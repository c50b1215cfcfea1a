//! Container endpoints: status codes, bodies, query parsing, errors.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine;
use common::{MemBackend, app, call, call_with, deframe};

async fn create(app: &axum::Router, name: &str, body: &str) -> String {
    let r = call(
        app,
        Method::POST,
        &format!("/containers/create?name={name}"),
        Some(body),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    r.json()["Id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn lifecycle_status_codes() {
    let app = app(Arc::new(MemBackend::new())).await;
    let id = create(&app, "web", r#"{"Image":"busybox","Labels":{"a":"b"}}"#).await;
    assert_eq!(id.len(), 64);
    let start = |u: String| {
        let app = app.clone();
        async move { call(&app, Method::POST, &u, None).await }
    };
    assert_eq!(
        start(format!("/containers/{id}/start")).await.status,
        StatusCode::NO_CONTENT
    );
    let again = start(format!("/containers/{id}/start")).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    let inspect = call(&app, Method::GET, "/containers/web/json", None).await;
    assert_eq!(inspect.status, StatusCode::OK);
    assert_eq!(inspect.json()["Name"], "/web");
    assert_eq!(inspect.json()["State"]["Running"], true);
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/containers/web/stop?t=3&signal=SIGTERM",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::POST, "/containers/web/stop", None)
            .await
            .status,
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        call(&app, Method::POST, "/containers/web/restart?t=1", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/containers/web/kill?signal=SIGUSR1",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let kill_again = call(&app, Method::POST, "/containers/web/kill", None).await;
    assert_eq!(kill_again.status, StatusCode::CONFLICT);
    assert!(kill_again.message().contains("is not running"));
    assert_eq!(
        call(&app, Method::POST, "/containers/web/rename?name=web2", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/containers/web2/resize?h=40&w=120",
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &app,
            Method::DELETE,
            "/containers/web2?force=1&v=true",
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let gone = call(&app, Method::GET, "/containers/web2/json", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.message(), "No such container: web2");
}

#[tokio::test]
async fn conflicts_and_unknown_ids() {
    let app = app(Arc::new(MemBackend::new())).await;
    create(&app, "dup", r#"{"Image":"busybox"}"#).await;
    let r = call(
        &app,
        Method::POST,
        "/containers/create?name=dup",
        Some(r#"{"Image":"busybox"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    for (method, uri) in [
        (Method::GET, "/containers/nope/json"),
        (Method::POST, "/containers/nope/start"),
        (Method::POST, "/containers/nope/wait"),
        (Method::DELETE, "/containers/nope"),
        (Method::GET, "/containers/nope/logs?stdout=1"),
        (Method::POST, "/containers/nope/attach?stream=1"),
    ] {
        let r = call(&app, method, uri, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(r.message(), "No such container: nope", "{uri}");
    }
}

#[tokio::test]
async fn list_options_and_both_filter_encodings() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    create(&app, "a1", r#"{"Image":"busybox"}"#).await;
    let list_form = "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"; // {"label":["a=b"]}
    let map_form = "%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D"; // {"label":{"a=b":true}}
    let mut seen = Vec::new();
    for filters in [list_form, map_form] {
        let r = call(
            &app,
            Method::GET,
            &format!("/containers/json?all=True&limit=5&size=0&filters={filters}"),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json().as_array().map(Vec::len), Some(1));
        seen.push(backend.seen().list_opts.clone().expect("opts"));
    }
    assert_eq!(seen[0], seen[1]);
    assert!(seen[0].all);
    assert!(!seen[0].size);
    assert_eq!(seen[0].limit, Some(5));
    assert_eq!(seen[0].filters["label"], vec!["a=b".to_owned()]);
    let bad = call(&app, Method::GET, "/containers/json?filters=%7Bnope", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.message(), "invalid filter");
    let bad = call(&app, Method::GET, "/containers/json?limit=lots", None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn bad_bodies_are_docker_4xx() {
    let app = app(Arc::new(MemBackend::new())).await;
    type Case = (
        Option<Vec<u8>>,
        &'static [(&'static str, &'static str)],
        StatusCode,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Some(b"{not json".to_vec()),
            &[],
            StatusCode::BAD_REQUEST,
            "invalid JSON body",
        ),
        (
            Some(br#"{"Image":42}"#.to_vec()),
            &[],
            StatusCode::BAD_REQUEST,
            "invalid JSON body",
        ),
        (
            Some(br#"{"Cmd":"echo"}"#.to_vec()),
            &[],
            StatusCode::BAD_REQUEST,
            "invalid JSON body",
        ),
        (None, &[], StatusCode::BAD_REQUEST, "config cannot be empty"),
        (
            Some(br#"{"Image":"x"}"#.to_vec()),
            &[("content-type", "text/plain")],
            StatusCode::BAD_REQUEST,
            "unsupported Content-Type",
        ),
        (
            Some(vec![b' '; 33 * 1024 * 1024]),
            &[],
            StatusCode::PAYLOAD_TOO_LARGE,
            "too large",
        ),
    ];
    for (body, headers, status, msg) in cases {
        let r = call_with(&app, Method::POST, "/containers/create", headers, body).await;
        assert_eq!(r.status, status, "{msg}");
        assert!(r.message().contains(msg), "{}", r.message());
    }
    let r = call(
        &app,
        Method::POST,
        "/containers/create?name=../etc",
        Some(r#"{"Image":"x"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().starts_with("Invalid container name"));
    for uri in [
        "/containers/..%2F..%2Fetc%2Fpasswd/json",
        "/containers/%00/json",
        "/containers/a%20b/json",
    ] {
        let r = call(&app, Method::GET, uri, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(r.message().starts_with("No such container"), "{uri}");
    }
    for uri in [
        "/containers/x/stop?t=soon",
        "/containers/x/resize?h=-1&w=5",
        "/containers/x/resize?h=70000&w=5",
        "/containers/x/wait?condition=whenever",
        "/containers/x/logs",
    ] {
        let r = call(&app, Method::POST, uri, None).await;
        let r = if r.status == StatusCode::NOT_FOUND {
            call(&app, Method::GET, uri, None).await
        } else {
            r
        };
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.message());
    }
}

#[tokio::test]
async fn healthcheck_is_gated() {
    let mut caps = common::full_caps();
    caps.health_checks = false;
    let app = app(Arc::new(MemBackend::with_caps(caps))).await;
    let r = call(
        &app,
        Method::POST,
        "/containers/create",
        Some(r#"{"Image":"x","Healthcheck":{"Test":["CMD","true"]}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        r.message(),
        "This backend (memtest) does not support health checks"
    );
    let r = call(
        &app,
        Method::POST,
        "/containers/create",
        Some(r#"{"Image":"x","Healthcheck":{"Test":["NONE"]}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn logs_are_framed_without_tty_and_raw_with() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    create(&app, "plain", r#"{"Image":"busybox"}"#).await;
    create(&app, "tty", r#"{"Image":"busybox","Tty":true}"#).await;
    let r = call(
        &app,
        Method::GET,
        "/containers/plain/logs?stdout=1&stderr=1&tail=10&since=5&timestamps=1",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        "application/vnd.docker.multiplexed-stream"
    );
    assert_eq!(
        deframe(&r.body),
        vec![(1, b"out1\n".to_vec()), (2, b"err1\n".to_vec())]
    );
    let opts = backend.seen().logs_opts.clone().expect("opts");
    assert_eq!(opts.tail, Some(10));
    assert_eq!(opts.since_nanos, Some(5_000_000_000));
    assert!(opts.timestamps && opts.stdout && opts.stderr && !opts.follow);
    let r = call(
        &app,
        Method::GET,
        "/containers/tty/logs?stdout=1&tail=all",
        None,
    )
    .await;
    assert_eq!(
        r.header("content-type"),
        "application/vnd.docker.raw-stream"
    );
    assert_eq!(&r.body[..], b"out1\nerr1\n");
    // Before API 1.42 Docker labelled both as raw-stream.
    let r = call(
        &app,
        Method::GET,
        "/v1.41/containers/plain/logs?stdout=1",
        None,
    )
    .await;
    assert_eq!(
        r.header("content-type"),
        "application/vnd.docker.raw-stream"
    );
    let r = call(
        &app,
        Method::GET,
        "/containers/plain/logs?stdout=1&tail=many",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logs_follow_and_attach_are_gated() {
    let mut caps = common::full_caps();
    caps.logs_follow = false;
    caps.attach = false;
    let app = app(Arc::new(MemBackend::with_caps(caps))).await;
    create(&app, "gg", r#"{"Image":"busybox"}"#).await;
    assert_eq!(
        call(&app, Method::GET, "/containers/gg/logs?stdout=1", None)
            .await
            .status,
        StatusCode::OK
    );
    let r = call(
        &app,
        Method::GET,
        "/containers/gg/logs?stdout=1&follow=1",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        r.message(),
        "This backend (memtest) does not support logs follow"
    );
    let r = call(
        &app,
        Method::POST,
        "/containers/gg/attach?stream=1&stdout=1",
        None,
    )
    .await;
    assert_eq!(
        r.message(),
        "This backend (memtest) does not support attach"
    );
}

#[tokio::test]
async fn archive_head_get_put() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    create(&app, "arc", r#"{"Image":"busybox"}"#).await;
    let r = call(
        &app,
        Method::HEAD,
        "/containers/arc/archive?path=/etc/hostname",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let stat = base64::engine::general_purpose::STANDARD
        .decode(r.header("x-docker-container-path-stat"))
        .expect("base64");
    let stat: serde_json::Value = serde_json::from_slice(&stat).expect("json");
    assert_eq!(stat["name"], "hostname");
    assert_eq!(stat["linkTarget"], "");
    let r = call(
        &app,
        Method::GET,
        "/containers/arc/archive?path=/etc/hostname",
        None,
    )
    .await;
    assert_eq!(r.header("content-type"), "application/x-tar");
    assert_eq!(&r.body[..], b"TARDATA");
    let r = call(
        &app,
        Method::GET,
        "/containers/arc/archive?path=/missing",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&app, Method::GET, "/containers/arc/archive", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call_with(
        &app,
        Method::PUT,
        "/containers/arc/archive?path=/tmp",
        &[("content-type", "application/x-tar")],
        Some(vec![7u8; 5000]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(backend.seen().archive_put, Some(("/tmp".to_owned(), 5000)));
}
