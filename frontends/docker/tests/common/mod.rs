//! Shared test helpers: an in-memory backend, in-process calls, real servers
//! and raw HTTP/1.1 over TCP.
#![allow(dead_code)]

pub mod backend;
mod objects;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use sockerless_api::listen::{Drain, ListenAddr, bind};
use sockerless_api::{Backend, BackendInfo};
use sockerless_frontend_docker::{FrontendConfig, router, serve_on};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

#[allow(unused_imports)]
pub use backend::{MemBackend, full_caps};

/// The frontend's router over `backend`, capabilities known.
pub async fn app(backend: Arc<MemBackend>) -> Router {
    let info: BackendInfo = backend.capabilities().await.expect("caps");
    router(backend, info)
}

/// A response read in full.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Calls the router in-process.
pub async fn call(app: &Router, method: Method, uri: &str, body: Option<&str>) -> Reply {
    call_with(app, method, uri, &[], body.map(|b| b.as_bytes().to_vec())).await
}

/// Calls with extra headers; a body is sent as `application/json` unless a
/// content type is among `headers`.
pub async fn call_with(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    let has_ct = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if body.is_some() && !has_ct {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// A frontend served by `sockerless_api::listen::serve` on a real socket.
pub struct Server {
    pub addr: ListenAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Drain>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn tcp_addr(&self) -> String {
        match &self.addr {
            ListenAddr::Tcp { host, port } => format!("{host}:{port}"),
            ListenAddr::Unix(_) => panic!("not tcp"),
        }
    }

    pub fn socket_path(&self) -> PathBuf {
        match &self.addr {
            ListenAddr::Unix(p) => p.clone(),
            ListenAddr::Tcp { .. } => panic!("not unix"),
        }
    }

    pub async fn stop(mut self) -> Drain {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("task").await.expect("join")
    }
}

async fn start(
    addr: ListenAddr,
    dir: Option<tempfile::TempDir>,
    backend: Arc<dyn Backend>,
) -> Server {
    let listener = bind(&addr).await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let mut config = FrontendConfig::new(addr.clone());
    config.drain_timeout = Duration::from_secs(5);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve_on(listener, &config, backend, async {
            let _ = rx.await;
        })
        .await
    });
    Server {
        addr,
        shutdown: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

/// Serves on `tcp://127.0.0.1:<free port>`.
pub async fn serve_tcp(backend: Arc<dyn Backend>) -> Server {
    let addr: ListenAddr = "tcp://127.0.0.1:0".parse().expect("addr");
    start(addr, None, backend).await
}

/// Serves on a Unix socket in a fresh temporary directory.
pub async fn serve_unix(backend: Arc<dyn Backend>) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("docker.sock");
    let addr = ListenAddr::Unix(path);
    start(addr, Some(dir), backend).await
}

/// Sends raw bytes and reads the response head; returns it and any bytes after it.
pub async fn raw_exchange(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    request: &[u8],
) -> (String, Vec<u8>) {
    stream.write_all(request).await.expect("write");
    read_head(stream).await
}

/// Reads up to the end of the HTTP head.
pub async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).into_owned();
            return (head, buf[pos + 4..].to_vec());
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("head in time")
            .expect("read");
        assert!(
            n > 0,
            "connection closed before the end of the head: {buf:?}"
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until EOF (bounded by a generous timeout so a bug fails, not hangs).
pub async fn read_to_end(stream: &mut (impl AsyncRead + Unpin), mut already: Vec<u8>) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut already))
        .await
        .expect("EOF in time")
        .expect("read");
    already
}

/// Splits a multiplexed stream into (stream byte, payload) frames.
pub fn deframe(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 8 {
        let len = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        assert_eq!(&bytes[1..4], &[0, 0, 0], "frame header padding");
        assert!(bytes.len() >= 8 + len, "truncated frame");
        frames.push((bytes[0], bytes[8..8 + len].to_vec()));
        bytes = &bytes[8 + len..];
    }
    assert!(bytes.is_empty(), "trailing bytes after frames: {bytes:?}");
    frames
}

/// Decodes an HTTP/1.1 chunked body.
pub fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(pos) = bytes.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&bytes[..pos]).expect("utf8").trim(), 16)
                .expect("chunk size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&bytes[pos + 2..pos + 2 + size]);
        bytes = &bytes[pos + 2 + size + 2..];
    }
}
