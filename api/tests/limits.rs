//! Listener limits: the header-read timeout closes a silent connection, the
//! connection cap refuses new connections without disturbing open ones, and
//! a plain loopback TCP listener refuses browser requests.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sockerless_api::listen::{ListenAddr, ServeLimits, bind, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Hang guard only: every wait below ends well before it when things work.
const GUARD: Duration = Duration::from_secs(20);

async fn start(limits: ServeLimits) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = bind(&"tcp://127.0.0.1:0".parse::<ListenAddr>().expect("addr"))
        .await
        .expect("bind");
    let addr = match listener.local_addr().expect("local addr") {
        ListenAddr::Tcp { host, port } => format!("{host}:{port}").parse().expect("socket addr"),
        other => panic!("not TCP: {other}"),
    };
    let router = Router::new().route("/_ping", get(|| async { "OK" }));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_with(
        listener,
        router,
        None,
        limits,
        async move {
            let _ = rx.await;
        },
        Duration::from_secs(1),
    ));
    (addr, tx)
}

/// Sends one request on `conn` and returns the response's head and body.
async fn request(conn: &mut TcpStream, extra_headers: &str) -> String {
    conn.write_all(
        format!("GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(GUARD, conn.read(&mut buf))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Reads until the server closes; panics past the guard.
async fn closed_by_server(conn: &mut TcpStream) {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(GUARD, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the server did not close the connection"),
        }
    }
}

#[tokio::test]
async fn a_connection_that_never_sends_headers_is_closed() {
    let (addr, _stop) = start(ServeLimits {
        header_read_timeout: Duration::from_millis(500),
        ..ServeLimits::default()
    })
    .await;
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let started = std::time::Instant::now();
    closed_by_server(&mut silent).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "closed too early"
    );
    // Half a header line, then silence: the same.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET /_ping HTTP/1.1\r\nHo")
        .await
        .expect("write");
    closed_by_server(&mut slow).await;
}

#[tokio::test]
async fn past_the_cap_new_connections_are_refused_and_open_ones_work() {
    let (addr, _stop) = start(ServeLimits {
        max_connections: 2,
        ..ServeLimits::default()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.expect("connect");
    assert!(request(&mut first, "").await.contains("200 OK"));
    let mut second = TcpStream::connect(addr).await.expect("connect");
    assert!(request(&mut second, "").await.contains("200 OK"));
    let mut third = TcpStream::connect(addr)
        .await
        .expect("connect (kernel backlog)");
    let _ = third
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    closed_by_server(&mut third).await;
    // The open ones keep working.
    assert!(request(&mut first, "").await.contains("200 OK"));
    drop(second);
    // A slot freed: a new connection is served again.
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        let mut again = TcpStream::connect(addr).await.expect("connect");
        let _ = again
            .write_all(b"GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await;
        let mut buf = vec![0u8; 1024];
        if let Ok(Ok(n)) = tokio::time::timeout(GUARD, again.read(&mut buf)).await
            && String::from_utf8_lossy(&buf[..n]).contains("200 OK")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "slot never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn browser_requests_get_403_on_loopback_tcp() {
    let (addr, _stop) = start(ServeLimits::default()).await;
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    let answer = request(&mut conn, "Origin: http://evil.example\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("\"message\""), "{answer}");
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /_ping HTTP/1.1\r\nHost: evil.example:2375\r\n\r\n")
        .await
        .expect("write");
    let mut buf = vec![0u8; 1024];
    let n = conn.read(&mut buf).await.expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 403"));
    let mut conn = TcpStream::connect(addr).await.expect("connect");
    assert!(request(&mut conn, "").await.contains("200 OK"));
}
