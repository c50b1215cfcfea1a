//! `RemoteBackend` against `server::router` served by `listen::serve`, on a
//! Unix socket and on TCP.

mod common;

use bytes::Bytes;
use common::{Server, TestBackend, error_of_kind, info, stdin_pipe, tcp_any, unix_addr};
use futures_util::StreamExt;
use sockerless_api::docker::{AuthConfig, ExecStartConfig};
use sockerless_api::listen::{Drain, ListenAddr};
use sockerless_api::{
    ApiError, AttachOptions, Backend, ByteStream, LogsOptions, OutputChunk, PullImageOptions,
    RemoteBackend, StreamKind, WaitCondition,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn collect_output(out: sockerless_api::OutputStream) -> Vec<Result<OutputChunk, ApiError>> {
    out.collect().await
}

/// Everything a client sees, run once per transport.
async fn scenario(addr: &ListenAddr) {
    let backend = TestBackend::default();
    let gates = backend.gates.clone();
    let server = Server::internal(addr, backend).await;
    let client = RemoteBackend::new(server.addr.clone());

    assert_eq!(client.capabilities().await.expect("capabilities"), info());
    client.ping().await.expect("ping");

    // Every error kind keeps its kind and message, 304 included.
    for kind in [
        "NotFound",
        "Conflict",
        "InvalidParameter",
        "NotModified",
        "NotImplemented",
        "Unavailable",
        "Internal",
    ] {
        let want = error_of_kind(kind).expect("kind");
        assert_eq!(client.container_start(kind).await, Err(want), "{kind}");
    }
    client.container_start("fine").await.expect("start");
    // The trait's default passes through with its message.
    assert_eq!(
        client.system_info().await.map(drop),
        Err(ApiError::NotImplemented(
            "system info is not implemented by this backend yet".into()
        ))
    );

    // IDs and names are path segments: slashes, colons and spaces survive.
    let name = "docker.io/library/busybox:latest";
    assert_eq!(
        client
            .image_inspect(name)
            .await
            .expect("image")
            .id
            .as_deref(),
        Some(name)
    );
    let odd = "a b/c%2F..";
    assert_eq!(
        client
            .container_inspect(odd)
            .await
            .expect("inspect")
            .id
            .as_deref(),
        Some(odd)
    );

    let waited = client
        .container_wait("x", WaitCondition::NextExit)
        .await
        .expect("wait");
    assert_eq!(waited.status_code, 7);

    // Logs: chunks in order with their streams, then the end.
    let logs = client
        .container_logs("c", LogsOptions::default())
        .await
        .expect("logs");
    assert!(!logs.tty);
    let got = collect_output(logs.output).await;
    let want = vec![
        Ok(OutputChunk {
            stream: StreamKind::Stdout,
            data: Bytes::from_static(b"out\n"),
        }),
        Ok(OutputChunk {
            stream: StreamKind::Stderr,
            data: Bytes::from_static(b"err\n"),
        }),
    ];
    assert_eq!(got, want);

    // Stream open errors are plain HTTP errors of the right kind.
    let err = client
        .container_logs("missing", LogsOptions::default())
        .await
        .expect_err("missing");
    assert_eq!(err, ApiError::NotFound("No such container: missing".into()));
    let err = client
        .container_attach("missing", AttachOptions::default(), None)
        .await
        .expect_err("missing");
    assert!(matches!(err, ApiError::NotFound(_)), "{err:?}");

    // Attach: send, half-close stdin, get the echo, then the end.
    let (stdin_tx, stdin) = stdin_pipe();
    let attached = client
        .container_attach(
            "echo",
            AttachOptions {
                stdin: true,
                ..Default::default()
            },
            Some(stdin),
        )
        .await
        .expect("attach");
    assert!(!attached.tty);
    stdin_tx
        .send(Bytes::from_static(b"hello "))
        .await
        .expect("send");
    stdin_tx
        .send(Bytes::from_static(b"world"))
        .await
        .expect("send");
    drop(stdin_tx);
    let echoed: Vec<u8> = collect_output(attached.output)
        .await
        .into_iter()
        .flat_map(|c| c.expect("chunk").data.to_vec())
        .collect();
    assert_eq!(echoed, b"hello world");

    // The TTY flag reaches the client.
    let (stdin_tx, stdin) = stdin_pipe();
    let attached = client
        .container_attach(
            "tty",
            AttachOptions {
                stdin: true,
                ..Default::default()
            },
            Some(stdin),
        )
        .await
        .expect("attach tty");
    assert!(attached.tty);
    drop(stdin_tx);
    assert!(collect_output(attached.output).await.is_empty());

    let exec = client
        .exec_start(
            "e1",
            ExecStartConfig {
                tty: Some(true),
                ..Default::default()
            },
            None,
        )
        .await
        .expect("exec");
    assert!(exec.tty);
    let out = collect_output(exec.output).await;
    assert_eq!(
        out,
        vec![Ok(OutputChunk {
            stream: StreamKind::Stdout,
            data: Bytes::from_static(b"exec e1")
        })]
    );

    // Pull progress, with auth carried; a mid-stream failure keeps its kind.
    let auth = AuthConfig {
        username: Some("u".into()),
        password: Some("secret".into()),
        ..Default::default()
    };
    let pull = PullImageOptions {
        from_image: "busybox".into(),
        ..Default::default()
    };
    let items: Vec<_> = client
        .image_pull(pull, Some(auth))
        .await
        .expect("pull")
        .collect()
        .await;
    let statuses: Vec<_> = items
        .into_iter()
        .map(|i| i.expect("item").status.unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["Pulling busybox as \"u\"", "Done"]);
    let bad = PullImageOptions {
        from_image: "bad".into(),
        ..Default::default()
    };
    let items: Vec<_> = client
        .image_pull(bad, None)
        .await
        .expect("pull")
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1].as_ref().map(drop),
        Err(&ApiError::Unavailable("registry went away".into()))
    );

    // Archives both ways (chunks bigger than one frame).
    let (stat, bytes) = client
        .container_archive_get("c", "/etc")
        .await
        .expect("archive get");
    assert_eq!(stat.name, "etc");
    let data: Vec<u8> = bytes.map(|b| b.expect("bytes").to_vec()).concat().await;
    assert_eq!(data.len(), 5 + 300 * 1024);
    let payload = vec![b'y'; 600 * 1024];
    let tar: ByteStream = Box::pin(futures_util::stream::iter([Ok(Bytes::from(
        payload.clone(),
    ))]));
    client
        .container_archive_put("c", "/tmp", tar)
        .await
        .expect("archive put");
    assert_eq!(gates.uploaded.lock().expect("lock").take(), Some(payload));
    // A failing upload never counts as complete.
    let tar: ByteStream = Box::pin(futures_util::stream::iter([
        Ok(Bytes::from_static(b"part")),
        Err(ApiError::Internal("client input broke".into())),
    ]));
    let err = client
        .container_archive_put("c", "/tmp", tar)
        .await
        .expect_err("aborted");
    assert_eq!(err, ApiError::Internal("client input broke".into()));

    let tar: ByteStream = Box::pin(futures_util::stream::iter([Ok(Bytes::from_static(
        b"12345",
    ))]));
    let items: Vec<_> = client
        .image_load(tar, false)
        .await
        .expect("load")
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().expect("item").status.as_deref(),
        Some("Loaded 5 bytes")
    );

    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn remote_backend_over_unix_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenario(&unix_addr(&dir, "api.sock")).await;
}

#[tokio::test]
async fn remote_backend_over_tcp() {
    scenario(&tcp_any()).await;
}

#[tokio::test]
async fn unreachable_backend_is_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = unix_addr(&dir, "nobody.sock");
    let err = RemoteBackend::new(addr.clone())
        .ping()
        .await
        .expect_err("unreachable");
    let ApiError::Unavailable(msg) = err else {
        panic!("{err:?}")
    };
    assert!(
        msg.starts_with(&format!("backend at {addr} unreachable: ")),
        "{msg}"
    );
}

/// Raw HTTP over the socket: the wire shapes other clients rely on.
async fn raw(addr: &ListenAddr, request: &str) -> String {
    let ListenAddr::Unix(path) = addr else {
        panic!("unix only")
    };
    let mut s = tokio::net::UnixStream::connect(path)
        .await
        .expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

#[tokio::test]
async fn wire_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::internal(&unix_addr(&dir, "raw.sock"), TestBackend::default()).await;
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");

    let resp = raw(&server.addr, &get("/internal/v1/capabilities")).await;
    let (head, body) = resp.split_once("\r\n\r\n").expect("http");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(json["backend"], "test");
    assert_eq!(json["capabilities"]["max_timeout_seconds"], 3600);
    assert_eq!(json["capabilities"]["logs_follow"], false);

    let resp = raw(&server.addr, &get("/internal/v1/system/info")).await;
    assert!(resp.starts_with("HTTP/1.1 501"), "{resp}");
    assert!(
        resp.ends_with(r#"{"message":"system info is not implemented by this backend yet"}"#),
        "{resp}"
    );

    let resp = raw(&server.addr, &get("/internal/v9/nope")).await;
    assert!(resp.starts_with("HTTP/1.1 501"), "{resp}");
    assert!(
        resp.contains("has no route GET /internal/v9/nope"),
        "{resp}"
    );

    let bad = "POST /internal/v1/container/x/wait HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{x}";
    let resp = raw(&server.addr, bad).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains(r#"{"message":"#), "{resp}");

    let resp = raw(
        &server.addr,
        &get("/internal/v1/container/x/logs?options=%7B"),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert_eq!(server.stop().await, Drain::Complete);
}
