//! `exec start` in dockerd's order: the `101 UPGRADED` head goes out before
//! the process starts (a client reading the head through a buffer, like
//! docker-py's `exec_run`, loses output sent right behind it), and a start
//! that fails after the head is written into the stream. On a Unix socket,
//! output also waits until the client has read the head.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{MemBackend, deframe, raw_exchange, read_to_end, serve_tcp, serve_unix};
use sockerless_api::docker::{
    ContainerCreateBody, ExecConfig, ExecInspectResponse, ExecStartConfig,
};
use sockerless_api::{ApiError, AttachedOutput, Backend, BackendInfo, InputStream, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Semaphore;

/// The in-memory backend, with `exec_start` held until the test allows it
/// (`gate`) or failing as a start on a stopped container does (`fail`).
struct Gated {
    inner: Arc<MemBackend>,
    gate: Arc<Semaphore>,
    fail: bool,
}

#[async_trait]
impl Backend for Gated {
    async fn capabilities(&self) -> Result<BackendInfo> {
        self.inner.capabilities().await
    }

    async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse> {
        self.inner.exec_inspect(exec_id).await
    }

    async fn exec_start(
        &self,
        exec_id: &str,
        config: ExecStartConfig,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        let _permit = self.gate.acquire().await.expect("gate open");
        if self.fail {
            return Err(ApiError::Conflict("Container abc is not running".into()));
        }
        self.inner.exec_start(exec_id, config, stdin).await
    }
}

async fn exec(backend: &MemBackend) -> String {
    let req = sockerless_api::CreateContainerRequest {
        name: Some("ex".into()),
        platform: None,
        config: ContainerCreateBody {
            image: Some("busybox".into()),
            ..Default::default()
        },
    };
    let id = backend.container_create(req).await.expect("create").id;
    let config = ExecConfig {
        cmd: Some(vec!["cat".into()]),
        attach_stdin: Some(true),
        ..Default::default()
    };
    backend.exec_create(&id, config).await.expect("exec").id
}

fn upgrade_request(path: &str) -> Vec<u8> {
    let body = r#"{"Detach":false,"Tty":false}"#;
    format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn the_head_goes_out_before_the_process_starts() {
    let inner = Arc::new(MemBackend::new());
    let exec_id = exec(&inner).await;
    let gate = Arc::new(Semaphore::new(0));
    let backend = Arc::new(Gated {
        inner,
        gate: gate.clone(),
        fail: false,
    });
    let server = serve_tcp(backend).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    // The start is held: answering it first would never send this head.
    let (head, rest) = raw_exchange(
        &mut s,
        &upgrade_request(&format!("/v1.44/exec/{exec_id}/start")),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED"), "{head}");
    assert!(rest.is_empty(), "output before the start: {rest:?}");
    gate.add_permits(1);
    s.write_all(b"in").await.expect("stdin");
    s.shutdown().await.expect("half-close");
    let out = read_to_end(&mut s, rest).await;
    assert_eq!(deframe(&out).last(), Some(&(1, b"stdin:in".to_vec())));
    // A missing exec is still a plain 404, before any hijack.
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let (head, _) = raw_exchange(&mut s, &upgrade_request("/exec/nope/start")).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    server.stop().await;
}

/// docker-py reads the head with one buffered read and the stream from the
/// raw socket: whatever that read returns past the head is lost. On a Unix
/// socket output waits until the head was read, so a client slow to read it
/// still gets it alone, however late it reads.
#[tokio::test]
async fn a_client_slow_to_read_the_head_gets_it_alone() {
    let inner = Arc::new(MemBackend::new());
    let exec_id = exec(&inner).await;
    let backend = Arc::new(Gated {
        inner,
        gate: Arc::new(Semaphore::new(1)),
        fail: false,
    });
    let server = serve_unix(backend).await;
    let mut s = UnixStream::connect(server.socket_path())
        .await
        .expect("connect");
    s.write_all(&upgrade_request(&format!("/exec/{exec_id}/start")))
        .await
        .expect("request");
    // Long enough for the backend's first output ("hello") to have been
    // written right behind the head, had it not waited.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut first = vec![0u8; 8192];
    let n = s.read(&mut first).await.expect("read");
    let first = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(first.starts_with("HTTP/1.1 101 UPGRADED"), "{first}");
    assert!(
        first.ends_with("\r\n\r\n"),
        "output came with the head: {first:?}"
    );
    s.shutdown().await.expect("half-close");
    let out = read_to_end(&mut s, Vec::new()).await;
    assert_eq!(
        deframe(&out),
        [
            (1, b"hello\n".to_vec()),
            (2, b"oops\n".to_vec()),
            (1, b"stdin:".to_vec())
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn a_start_that_fails_after_the_head_is_written_into_the_stream() {
    let inner = Arc::new(MemBackend::new());
    let exec_id = exec(&inner).await;
    let backend = Arc::new(Gated {
        inner,
        gate: Arc::new(Semaphore::new(1)),
        fail: true,
    });
    let server = serve_tcp(backend).await;
    let mut s = TcpStream::connect(server.tcp_addr())
        .await
        .expect("connect");
    let (head, rest) =
        raw_exchange(&mut s, &upgrade_request(&format!("/exec/{exec_id}/start"))).await;
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED"), "{head}");
    let out = read_to_end(&mut s, rest).await;
    assert_eq!(
        deframe(&out),
        [(1, b"Container abc is not running\r\n".to_vec())]
    );
    server.stop().await;
}
