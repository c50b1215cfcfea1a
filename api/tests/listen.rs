//! Binding and serving: socket permissions, stale and live sockets, Docker's
//! hijack, and graceful shutdown with in-flight requests and upgraded streams.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::post;
use common::{Server, TestBackend, stdin_pipe, unix_addr};
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use sockerless_api::listen::{self, Drain, ListenError, ShutdownHandle};
use sockerless_api::{ApiError, AttachOptions, Backend, RemoteBackend, WaitCondition};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn unix_socket_is_private_and_removed_on_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = listen::ListenAddr::Unix(dir.path().join("new/parent/api.sock"));
    let server = Server::internal(&addr, TestBackend::default()).await;
    let listen::ListenAddr::Unix(path) = &server.addr else {
        panic!("unix")
    };
    let mode = std::fs::metadata(path)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let parent_mode = std::fs::metadata(path.parent().expect("parent"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(parent_mode & 0o777, 0o700);
    // Only the socket is left in its directory (the staging directory is gone).
    let entries: Vec<_> = std::fs::read_dir(path.parent().expect("parent"))
        .expect("ls")
        .collect();
    assert_eq!(entries.len(), 1);
    let path = path.clone();
    assert_eq!(server.stop().await, Drain::Complete);
    assert!(!path.exists(), "socket file removed");
}

#[tokio::test]
async fn stale_socket_is_replaced_live_one_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = unix_addr(&dir, "s.sock");
    let listen::ListenAddr::Unix(path) = &addr else {
        panic!("unix")
    };
    // A socket file left by a crash: bound, then closed without unlinking.
    drop(std::os::unix::net::UnixListener::bind(path).expect("stale"));
    assert!(path.exists());
    let live = listen::bind(&addr).await.expect("stale socket replaced");

    let err = listen::bind(&addr).await.expect_err("in use");
    assert!(matches!(err, ListenError::InUse(_)), "{err:?}");
    assert_eq!(err.to_string(), format!("{addr} is already in use"));
    drop(live);

    let file = listen::ListenAddr::Unix(dir.path().join("plain"));
    std::fs::write(dir.path().join("plain"), b"data").expect("file");
    let err = listen::bind(&file).await.expect_err("not a socket");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("plain")).expect("kept"),
        b"data"
    );
}

#[tokio::test]
async fn tcp_port_in_use_is_refused() {
    let first = listen::bind(&common::tcp_any()).await.expect("bind");
    let addr = first.local_addr().expect("addr");
    assert!(addr.is_loopback());
    let err = listen::bind(&addr).await.expect_err("in use");
    assert!(matches!(err, ListenError::InUse(_)), "{err:?}");
}

/// Docker's hijack: `Upgrade: tcp`, 101, then raw bytes both ways (echo).
async fn hijack(handle: ShutdownHandle, mut req: Request) -> Response {
    let on_upgrade = hyper::upgrade::on(&mut req);
    handle.spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 64];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(101)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .expect("response")
}

async fn hijack_over(stream: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin)) {
    stream
        .write_all(b"POST /hijack HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("utf8");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.expect("echo");
    assert_eq!(&echo, b"ping");
}

#[tokio::test]
async fn docker_hijack_works_on_unix_and_tcp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = || axum::Router::new().route("/hijack", post(hijack));
    let unix = Server::start(
        &unix_addr(&dir, "h.sock"),
        router(),
        Duration::from_secs(60),
    )
    .await;
    let tcp = Server::start(&common::tcp_any(), router(), Duration::from_secs(60)).await;
    let listen::ListenAddr::Unix(path) = &unix.addr else {
        panic!("unix")
    };
    hijack_over(
        &mut tokio::net::UnixStream::connect(path)
            .await
            .expect("connect"),
    )
    .await;
    let listen::ListenAddr::Tcp { host, port } = &tcp.addr else {
        panic!("tcp")
    };
    let mut s = tokio::net::TcpStream::connect((host.as_str(), *port))
        .await
        .expect("connect");
    hijack_over(&mut s).await;
    drop(s);
    assert_eq!(tcp.stop().await, Drain::Complete);
    assert_eq!(unix.stop().await, Drain::Complete);
}

/// Paused clock: a timer only fires once every task is idle, so "serve has
/// not returned" below means it is really waiting, not just slow.
#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_in_flight_request_and_upgraded_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = TestBackend::default();
    let gates = backend.gates.clone();
    let mut server = Server::internal(&unix_addr(&dir, "g.sock"), backend).await;
    let client = RemoteBackend::new(server.addr.clone());

    let entered = gates.wait_entered.notified();
    let waiter = tokio::spawn({
        let client = client.clone();
        async move { client.container_wait("slow", WaitCondition::NextExit).await }
    });
    entered.await;
    let attached = client
        .container_attach("held", AttachOptions::default(), None)
        .await
        .expect("attach");

    server.shutdown();
    let probe = tokio::time::timeout(Duration::from_secs(60), &mut server.task).await;
    assert!(
        probe.is_err(),
        "serve returned while a request was in flight"
    );

    gates.wait_release.notify_one();
    assert_eq!(waiter.await.expect("join").expect("wait").status_code, 7);
    let probe = tokio::time::timeout(Duration::from_secs(60), &mut server.task).await;
    assert!(
        probe.is_err(),
        "serve returned while an upgraded stream was open"
    );

    gates.attach_release.notify_one();
    let out: Vec<_> = attached.output.collect().await;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().expect("chunk").data.as_ref(), b"released");
    assert_eq!(server.task.await.expect("serve"), Drain::Complete);
    // No longer accepting.
    let err = client.ping().await.expect_err("stopped");
    assert!(matches!(err, ApiError::Unavailable(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn drain_timeout_cuts_off_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = sockerless_api::server::router(std::sync::Arc::new(TestBackend::default()));
    let server = Server::start(&unix_addr(&dir, "d.sock"), router, Duration::from_secs(5)).await;
    let client = RemoteBackend::new(server.addr.clone());
    let (_stdin_tx, stdin) = stdin_pipe();
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
    assert_eq!(server.stop().await, Drain::TimedOut { remaining: 1 });
    let out: Vec<_> = attached.output.collect().await;
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(matches!(&out[0], Err(ApiError::Unavailable(_))), "{out:?}");
}

#[tokio::test(start_paused = true)]
async fn detached_client_does_not_hold_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::internal(&unix_addr(&dir, "x.sock"), TestBackend::default()).await;
    let client = RemoteBackend::new(server.addr.clone());
    let attached = client
        .container_attach("held", AttachOptions::default(), None)
        .await
        .expect("attach");
    drop(attached);
    // The drain timeout is an hour: only a server that noticed the detach completes.
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test(start_paused = true)]
async fn events_feed_ends_with_unavailable_at_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::internal(&unix_addr(&dir, "e.sock"), TestBackend::default()).await;
    let client = RemoteBackend::new(server.addr.clone());
    let events = client
        .events(None, None, Default::default())
        .await
        .expect("events");
    assert_eq!(server.stop().await, Drain::Complete);
    let items: Vec<_> = events.collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].as_ref().map(drop),
        Err(&ApiError::Unavailable("backend shutting down".into()))
    );
}
