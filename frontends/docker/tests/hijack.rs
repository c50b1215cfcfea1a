//! Hijacked attach/exec and `wait` over a real TCP socket, with raw HTTP/1.1.

mod common;

use std::sync::Arc;

use common::{MemBackend, dechunk, deframe, raw_exchange, read_to_end, serve_tcp};
use sockerless_api::Backend;
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::listen::Drain;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn container(backend: &MemBackend, name: &str, tty: bool) -> String {
    let req = sockerless_api::CreateContainerRequest {
        name: Some(name.into()),
        platform: None,
        config: ContainerCreateBody {
            image: Some("busybox".into()),
            tty: Some(tty),
            ..Default::default()
        },
    };
    backend.container_create(req).await.expect("create").id
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Reads until `want` bytes have arrived (output flowing before stdin closes).
async fn read_at_least(stream: &mut TcpStream, mut have: Vec<u8>, want: usize) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    while have.len() < want {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("output in time")
            .expect("read");
        assert!(n > 0, "closed early");
        have.extend_from_slice(&buf[..n]);
    }
    have
}

fn upgrade_request(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn attach_upgrade_multiplexed_with_stdin_half_close() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "plain", false).await;
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let path = format!("/v1.44/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(&path, "")).await;
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/vnd.docker.multiplexed-stream")
    );
    assert_eq!(
        header(&head, "connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("upgrade")
    );
    assert_eq!(header(&head, "upgrade"), Some("tcp"));
    // Output flows while stdin is still open.
    let early = read_at_least(&mut s, rest, 14 + 13).await;
    assert_eq!(
        deframe(&early),
        vec![(1, b"hello\n".to_vec()), (2, b"oops\n".to_vec())]
    );
    s.write_all(b"line one\n").await.expect("stdin");
    s.write_all(b"line two\n").await.expect("stdin");
    // Half-close, as GitLab does: the backend sees EOF, output keeps coming.
    s.shutdown().await.expect("half-close");
    let late = read_to_end(&mut s, Vec::new()).await;
    assert_eq!(
        deframe(&late),
        vec![(1, b"stdin:line one\nline two\n".to_vec())]
    );
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn attach_upgrade_tty_is_raw() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "tty", true).await;
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let path = format!("/containers/{id}/attach?stream=1&stdin=1&stdout=1");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(&path, "")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/vnd.docker.raw-stream")
    );
    s.write_all(b"ls\n").await.expect("stdin");
    s.shutdown().await.expect("half-close");
    let all = read_to_end(&mut s, rest).await;
    assert_eq!(all, b"hello\noops\nstdin:ls\n");
    server.stop().await;
}

#[tokio::test]
async fn attach_without_upgrade_is_200_stream_with_body_as_stdin() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "noup", false).await;
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let req = format!(
        "POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 5\r\n\r\ninput"
    );
    let (head, rest) = raw_exchange(&mut s, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        header(&head, "content-type"),
        Some("application/vnd.docker.multiplexed-stream")
    );
    let body = read_to_end(&mut s, rest).await;
    let body = if header(&head, "transfer-encoding") == Some("chunked") {
        dechunk(&body)
    } else {
        body
    };
    assert_eq!(
        deframe(&body),
        vec![
            (1, b"hello\n".to_vec()),
            (2, b"oops\n".to_vec()),
            (1, b"stdin:input".to_vec())
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn exec_start_upgrade_both_tty_modes_and_detach() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "ex", false).await;
    let server = serve_tcp(backend.clone()).await;
    for tty in [false, true] {
        let exec = backend
            .exec_create(
                &id,
                sockerless_api::docker::ExecConfig {
                    cmd: Some(vec!["cat".into()]),
                    tty: Some(tty),
                    attach_stdin: Some(true),
                    ..Default::default()
                },
            )
            .await
            .expect("exec")
            .id;
        let mut s = TcpStream::connect(server.tcp_addr())
            .await
            .expect("connect");
        let body = format!(r#"{{"Detach":false,"Tty":{tty}}}"#);
        let (head, rest) = raw_exchange(
            &mut s,
            &upgrade_request(&format!("/v1.44/exec/{exec}/start"), &body),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 101 UPGRADED"), "{head}");
        s.write_all(b"script").await.expect("stdin");
        s.shutdown().await.expect("half-close");
        let out = read_to_end(&mut s, rest).await;
        if tty {
            assert_eq!(
                header(&head, "content-type"),
                Some("application/vnd.docker.raw-stream")
            );
            assert_eq!(out, b"hello\noops\nstdin:script");
        } else {
            assert_eq!(
                header(&head, "content-type"),
                Some("application/vnd.docker.multiplexed-stream")
            );
            assert_eq!(deframe(&out).last(), Some(&(1, b"stdin:script".to_vec())));
        }
    }
    // Detached: a plain 200, no hijack.
    let exec = backend
        .exec_create(
            &id,
            sockerless_api::docker::ExecConfig {
                cmd: Some(vec!["true".into()]),
                ..Default::default()
            },
        )
        .await
        .expect("exec")
        .id;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let (head, _) = raw_exchange(
        &mut s,
        &upgrade_request(&format!("/exec/{exec}/start"), r#"{"Detach":true}"#),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Unknown exec: a normal 404 before any hijack.
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let (head, _) = raw_exchange(&mut s, &upgrade_request("/exec/nope/start", "{}")).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    server.stop().await;
}

#[tokio::test]
async fn wait_sends_headers_before_the_container_exits() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "waiter", false).await;
    backend.container_start(&id).await.expect("start");
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let req = format!(
        "POST /v1.44/containers/{id}/wait?condition=next-exit HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
    );
    // The container is running and nothing will stop it until the head is here.
    let (head, rest) = raw_exchange(&mut s, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(header(&head, "content-type"), Some("application/json"));
    let inspect = backend.container_inspect(&id).await.expect("inspect");
    assert_eq!(
        inspect.state.and_then(|st| st.running),
        Some(true),
        "headers came before the exit"
    );
    backend
        .container_stop(&id, Default::default())
        .await
        .expect("stop");
    // Read the chunked body up to its terminating chunk.
    let mut body = rest;
    let mut buf = [0u8; 256];
    while !body.windows(5).any(|w| w == b"0\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("body")
            .expect("read");
        assert!(n > 0);
        body.extend_from_slice(&buf[..n]);
    }
    let json: serde_json::Value = serde_json::from_slice(&dechunk(&body)).expect("json");
    assert_eq!(json, serde_json::json!({"StatusCode": 143}));
    server.stop().await;
}

/// Reads a chunked body up to its terminating chunk and decodes it.
async fn read_chunked(s: &mut TcpStream, mut body: Vec<u8>) -> Vec<u8> {
    let mut buf = [0u8; 256];
    while !body.windows(5).any(|w| w == b"0\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("body in time")
            .expect("read");
        assert!(n > 0, "closed before the last chunk");
        body.extend_from_slice(&buf[..n]);
    }
    dechunk(&body)
}

#[tokio::test]
async fn wait_error_after_headers_goes_in_the_body() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "vanish", false).await;
    backend.container_start(&id).await.expect("start");
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let req =
        format!("POST /containers/{id}/wait HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n");
    let (head, rest) = raw_exchange(&mut s, req.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The test backend fails the wait when the container disappears under it.
    let opts = sockerless_api::RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    backend.container_remove(&id, opts).await.expect("remove");
    let json: serde_json::Value =
        serde_json::from_slice(&read_chunked(&mut s, rest).await).expect("json");
    assert_eq!(
        json,
        serde_json::json!({"StatusCode": -1, "Error": {"Message": "container vanished while waiting"}})
    );
    server.stop().await;
}

#[tokio::test]
async fn wait_on_unknown_container_is_404_before_headers() {
    let backend = Arc::new(MemBackend::new());
    let server = serve_tcp(backend).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let (head, _) = raw_exchange(
        &mut s,
        b"POST /containers/ghost/wait HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_waits_for_hijacked_streams() {
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "drain", false).await;
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let path = format!("/containers/{id}/attach?stream=1&stdin=1&stdout=1");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(&path, "")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let stopping = tokio::spawn(server.stop());
    // The hijacked stream still works during the drain.
    s.write_all(b"bye").await.expect("stdin");
    s.shutdown().await.expect("half-close");
    let out = read_to_end(&mut s, rest).await;
    assert_eq!(deframe(&out).last(), Some(&(1, b"stdin:bye".to_vec())));
    assert_eq!(stopping.await.expect("join"), Drain::Complete);
}

#[tokio::test]
async fn unix_socket_serves_ping() {
    let server = common::serve_unix(Arc::new(MemBackend::new())).await;
    let mut s = tokio::net::UnixStream::connect(server.socket_path())
        .await
        .expect("connect");
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.expect("read");
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("api-version: 1.44"),
        "{text}"
    );
    assert!(text.ends_with("OK"), "{text}");
    let path = server.socket_path();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    server.stop().await;
}

/// Attaches to `id` with stdin, writes `input` without closing stdin and
/// reads until the server closes the connection.
async fn attach_and_type(server_addr: String, path: &str, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(server_addr).await.expect("connect");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(path, "")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s.write_all(input).await.expect("stdin");
    read_to_end(&mut s, rest).await
}

#[tokio::test]
async fn detach_keys_end_a_tty_attach_without_closing_stdin_first() {
    let backend = Arc::new(MemBackend::new());
    let tty = container(&backend, "detach", true).await;
    let server = serve_tcp(backend.clone()).await;
    // ctrl-p ctrl-q by default: the stream ends although stdin stays open,
    // and the sequence itself never reaches the process.
    let path = format!("/containers/{tty}/attach?stream=1&stdin=1&stdout=1");
    let all = attach_and_type(server.tcp_addr(), &path, b"ls\x10\x11").await;
    assert_eq!(all, b"hello\noops\n");
    let path = format!("/containers/{tty}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,x");
    let all = attach_and_type(server.tcp_addr(), &path, b"\x10\x11\x01x").await;
    assert_eq!(all, b"hello\noops\n");
    server.stop().await;
}

#[tokio::test]
async fn detach_keys_are_plain_input_without_a_tty_and_bad_ones_are_refused() {
    let backend = Arc::new(MemBackend::new());
    let plain = container(&backend, "nodetach", false).await;
    let server = serve_tcp(backend.clone()).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let path = format!("/containers/{plain}/attach?stream=1&stdin=1&stdout=1");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(&path, "")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s.write_all(b"a\x10\x11").await.expect("stdin");
    s.shutdown().await.expect("half-close");
    let frames = deframe(&read_to_end(&mut s, rest).await);
    let stdout: Vec<u8> = frames
        .iter()
        .filter(|(kind, _)| *kind == 1)
        .flat_map(|(_, data)| data.clone())
        .collect();
    assert_eq!(stdout, b"hello\nstdin:a\x10\x11");

    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let path = format!("/containers/{plain}/attach?stream=1&stdin=1&detachKeys=ctrl-1");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(&path, "")).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let body = String::from_utf8_lossy(&rest).into_owned();
    assert!(
        body.contains("Invalid detach keys (ctrl-1) provided"),
        "{body}"
    );
    server.stop().await;
}
