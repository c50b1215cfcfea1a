//! Images, networks and volumes: routes, streams, auth, gating.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use base64::Engine;
use common::{MemBackend, app, call, call_with};

fn json_lines(body: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(body).expect("utf8");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "Docker ends lines with CRLF: {text:?}"
    );
    text.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn pull_streams_progress_and_decodes_registry_auth() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    let auth = br#"{"username":"bob","password":"s3cr?t>>","serveraddress":"registry.example"}"#;
    let header = base64::engine::general_purpose::URL_SAFE.encode(auth);
    let r = call_with(
        &app,
        Method::POST,
        "/images/create?fromImage=library/alpine&tag=3.20",
        &[("x-registry-auth", &header)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/json");
    let lines = json_lines(&r.body);
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1]["status"],
        "Status: Downloaded newer image for library/alpine:3.20"
    );
    let seen = backend
        .seen()
        .pull_auth
        .clone()
        .expect("pull called")
        .expect("auth passed");
    assert_eq!(seen.username.as_deref(), Some("bob"));
    assert_eq!(seen.password.as_deref(), Some("s3cr?t>>"));
    assert_eq!(seen.serveraddress.as_deref(), Some("registry.example"));
    // No header: anonymous.
    call(
        &app,
        Method::POST,
        "/images/create?fromImage=busybox&tag=latest",
        None,
    )
    .await;
    assert_eq!(backend.seen().pull_auth.clone(), Some(None));
    // Garbage header: 400, and the value is not echoed back.
    let r = call_with(
        &app,
        Method::POST,
        "/images/create?fromImage=busybox",
        &[("x-registry-auth", "%%%secret")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(!r.message().contains("secret"));
}

#[tokio::test]
async fn pull_errors_before_and_during_the_stream() {
    let app = app(Arc::new(MemBackend::new())).await;
    let r = call(
        &app,
        Method::POST,
        "/images/create?fromImage=missing&tag=latest",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.message().contains("pull access denied"));
    let r = call(
        &app,
        Method::POST,
        "/images/create?fromImage=broken&tag=latest",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let lines = json_lines(&r.body);
    assert_eq!(lines.len(), 2, "the stream ends at the error");
    assert_eq!(lines[1]["errorDetail"]["message"], "registry went away");
    assert_eq!(lines[1]["error"], "registry went away");
    let r = call(&app, Method::POST, "/images/create", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn images_with_slashes_in_names() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    call(
        &app,
        Method::POST,
        "/images/create?fromImage=registry.local:5000/team/app&tag=v1",
        None,
    )
    .await;
    let r = call(
        &app,
        Method::GET,
        "/images/registry.local:5000/team/app:v1/json",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json()["RepoTags"][0], "registry.local:5000/team/app:v1");
    let r = call(
        &app,
        Method::POST,
        "/images/registry.local:5000/team/app:v1/tag?repo=mine/app&tag=v2",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        call(&app, Method::GET, "/images/mine/app:v2/json", None)
            .await
            .status,
        StatusCode::OK
    );
    let r = call(&app, Method::DELETE, "/images/mine/app:v2?force=1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["Untagged"], "mine/app:v2");
    let r = call(&app, Method::GET, "/images/nope:1/json", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "No such image: nope:1");
    let r = call(&app, Method::GET, "/images/..%2F..%2Fetc/json", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(&app, Method::POST, "/images/busybox:latest/tag", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn image_list_and_load() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    let r = call(
        &app,
        Method::GET,
        "/images/json?all=0&filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["RepoTags"][0], "busybox:latest");
    assert_eq!(
        backend.seen().filters.clone().expect("filters")["dangling"],
        vec!["false".to_owned()]
    );
    let r = call_with(
        &app,
        Method::POST,
        "/images/load?quiet=1",
        &[("content-type", "application/x-tar")],
        Some(vec![1u8; 100_000]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        json_lines(&r.body)[0]["status"],
        "Loaded image: loaded:latest"
    );
    assert_eq!(backend.seen().loaded_bytes, Some(100_000));
}

#[tokio::test]
async fn networks_roundtrip() {
    let backend = Arc::new(MemBackend::new());
    let app = app(backend.clone()).await;
    let r = call(
        &app,
        Method::POST,
        "/networks/create",
        Some(r#"{"Name":"net1","Driver":"bridge"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.json()["Id"].as_str().expect("id").to_owned();
    let r = call(
        &app,
        Method::GET,
        "/networks?filters=%7B%22name%22%3A%7B%22net1%22%3Atrue%7D%7D",
        None,
    )
    .await;
    assert_eq!(r.json()[0]["Name"], "net1");
    assert_eq!(
        backend.seen().filters.clone().expect("f")["name"],
        vec!["net1".to_owned()]
    );
    assert_eq!(
        call(&app, Method::GET, &format!("/networks/{id}"), None)
            .await
            .json()["Name"],
        "net1"
    );
    let body = Some(r#"{"Container":"abc"}"#);
    assert_eq!(
        call(&app, Method::POST, "/networks/net1/connect", body)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::POST, "/networks/net1/disconnect", body)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::DELETE, "/networks/net1", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = call(&app, Method::GET, "/networks/net1", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    call(
        &app,
        Method::POST,
        "/networks/create",
        Some(r#"{"Name":"net2"}"#),
    )
    .await;
    let r = call(&app, Method::POST, "/networks/prune", None).await;
    assert_eq!(r.json()["NetworksDeleted"], serde_json::json!(["net2"]));
    let r = call(
        &app,
        Method::POST,
        "/networks/create",
        Some(r#"{"Driver":"bridge"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &app,
        Method::POST,
        "/networks/create",
        Some(r#"{"Name":""}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn volumes_roundtrip() {
    let app = app(Arc::new(MemBackend::new())).await;
    let r = call(
        &app,
        Method::POST,
        "/volumes/create",
        Some(r#"{"Name":"data","Labels":{"x":"y"}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json()["Name"], "data");
    let anon = call(&app, Method::POST, "/volumes/create", None).await;
    assert_eq!(anon.status, StatusCode::CREATED);
    let r = call(&app, Method::GET, "/volumes", None).await;
    assert_eq!(r.json()["Volumes"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    assert_eq!(
        call(&app, Method::GET, "/volumes/data", None).await.json()["Mountpoint"],
        "/mem/data"
    );
    assert_eq!(
        call(&app, Method::DELETE, "/volumes/data?force=1", None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = call(&app, Method::GET, "/volumes/data", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.message(), "get data: no such volume");
    let r = call(
        &app,
        Method::POST,
        "/volumes/create",
        Some(r#"{"Name":"../../etc"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("includes invalid characters"));
    assert_eq!(
        call(&app, Method::GET, "/volumes/..%2Fx", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = call(&app, Method::POST, "/volumes/prune", None).await;
    assert_eq!(r.json()["VolumesDeleted"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn unsupported_capabilities_answer_501_with_backend_message() {
    let mut caps = common::full_caps();
    caps.exec = false;
    caps.volumes = false;
    caps.networks = false;
    caps.image_pull = false;
    caps.image_load = false;
    caps.logs = false;
    let backend = Arc::new(MemBackend::with_caps(caps));
    sockerless_api::Backend::volume_create(&*backend, Default::default())
        .await
        .expect("volume");
    let app = app(backend).await;
    for (method, uri, body, what) in [
        (
            Method::POST,
            "/containers/abc/exec",
            Some(r#"{"Cmd":["ls"]}"#),
            "exec",
        ),
        (Method::POST, "/exec/abc/start", Some("{}"), "exec"),
        (Method::GET, "/exec/abc/json", None, "exec"),
        (Method::GET, "/volumes", None, "volumes"),
        (Method::POST, "/volumes/create", Some("{}"), "volumes"),
        (Method::GET, "/networks", None, "networks"),
        (Method::DELETE, "/networks/n1", None, "networks"),
        (
            Method::POST,
            "/images/create?fromImage=busybox",
            None,
            "image pull",
        ),
        (Method::POST, "/images/load", None, "image load"),
        (Method::GET, "/containers/abc/logs?stdout=1", None, "logs"),
    ] {
        let r = call(&app, method, uri, body).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{uri}");
        assert_eq!(
            r.message(),
            format!("This backend (memtest) does not support {what}"),
            "{uri}"
        );
    }
    // /system/df still answers without volumes.
    assert_eq!(
        call(&app, Method::GET, "/system/df", None).await.status,
        StatusCode::OK
    );
}
