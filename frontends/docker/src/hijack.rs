//! Hijacked connections for `attach` and `exec start`.
//!
//! With an `Upgrade` request header the answer is Docker's `101 UPGRADED`
//! (`Connection: Upgrade`, `Upgrade: tcp`) and the connection becomes a raw
//! duplex stream: what the client writes is the process's stdin until the
//! client half-closes (EOF ends the [`InputStream`]) while output keeps
//! flowing; the connection closes when the output ends. Without `Upgrade`,
//! the answer is `200` with the output as a streamed body, and stdin comes
//! from the request body.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use sockerless_api::{ApiError, AttachedOutput, InputStream, OutputChunk, StreamKind};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

mod head;

pub use head::Hijacked;

use crate::escape::{DetachWatch, Scan};
use crate::framing::{encode_chunk, encode_output};
use sockerless_api::listen::ShutdownHandle;

/// Bytes of stdin buffered between the client and the backend.
const STDIN_QUEUE: usize = 16;
const READ_BUFFER: usize = 32 * 1024;

/// The client side of a hijack request: the pending upgrade (when the client
/// asked for one) and the request body.
pub struct Hijack {
    upgrade: Option<OnUpgrade>,
    body: Body,
    shutdown: Option<ShutdownHandle>,
    detach: Option<DetachWatch>,
}

/// The sending half of a process's stdin; dropping it closes stdin.
pub type StdinSender = mpsc::Sender<Bytes>;

/// A channel whose receiving half is the backend's [`InputStream`].
pub fn stdin_channel() -> (StdinSender, InputStream) {
    let (tx, rx) = mpsc::channel::<Bytes>(STDIN_QUEUE);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (bytes, rx))
    });
    (tx, Box::pin(stream))
}

impl Hijack {
    /// Takes the pending upgrade out of the request when it has an `Upgrade` header.
    pub fn new(parts: &mut Parts, body: Body) -> Self {
        let upgrade = if parts.headers.contains_key(header::UPGRADE) {
            parts.extensions.remove::<OnUpgrade>()
        } else {
            None
        };
        let shutdown = parts.extensions.get::<ShutdownHandle>().cloned();
        Self {
            upgrade,
            body,
            shutdown,
            detach: None,
        }
    }

    /// Ends the client's stream (the process keeps running) when it types
    /// this sequence on stdin, as dockerd does for TTY containers.
    pub fn detach_on(mut self, watch: Option<DetachWatch>) -> Self {
        self.detach = watch;
        self
    }

    /// Runs a connection's task so that graceful shutdown waits for it (when
    /// served by `sockerless_api::listen::serve`; plain `tokio::spawn` otherwise).
    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        match &self.shutdown {
            Some(handle) => {
                handle.spawn(task);
            }
            None => {
                tokio::spawn(task);
            }
        }
    }

    /// Whether the client asked for an upgrade (the answer will be a `101`).
    pub fn upgrades(&self) -> bool {
        self.upgrade.is_some()
    }

    /// Answers with the output (and feeds `stdin` from the client), either as
    /// a `101` hijacked connection or a `200` streamed body.
    pub fn respond(
        mut self,
        output: AttachedOutput,
        stdin: Option<StdinSender>,
        content_type: &'static str,
    ) -> Response {
        match self.upgrade.take() {
            Some(on_upgrade) => {
                let detach = self.detach.take();
                self.spawn(serve_upgraded(on_upgrade, output, stdin, detach));
                upgraded_response(content_type)
            }
            None => {
                if let Some(tx) = stdin {
                    let body = std::mem::replace(&mut self.body, Body::empty());
                    self.spawn(pump_body_to_stdin(body, tx));
                }
                (
                    [(header::CONTENT_TYPE, content_type)],
                    Body::from_stream(encode_output(output)),
                )
                    .into_response()
            }
        }
    }
}

impl Hijack {
    /// dockerd's order for `exec start`: the `101` at once, and only on the
    /// upgraded connection `start` runs (starting the process); its error
    /// goes to the client as dockerd writes it, the message and `\r\n`
    /// (a stdout frame unless `tty`). Output waits until the client has read
    /// the head ([`head`]). Without an upgrade request this is
    /// [`Hijack::respond`] once `start` is done.
    pub async fn respond_started<F>(
        mut self,
        start: F,
        tty: bool,
        stdin: Option<StdinSender>,
        content_type: &'static str,
    ) -> Result<Response, ApiError>
    where
        F: std::future::Future<Output = Result<AttachedOutput, ApiError>> + Send + 'static,
    {
        match self.upgrade.take() {
            Some(on_upgrade) => {
                let detach = self.detach.take();
                self.spawn(async move {
                    let io = match on_upgrade.await {
                        Ok(upgraded) => Hijacked::after_head_read(upgraded).await,
                        Err(err) => {
                            tracing::warn!(error = %err, "hijack upgrade failed");
                            return;
                        }
                    };
                    match start.await {
                        Ok(output) => pump_duplex(io, output, stdin, detach).await,
                        Err(err) => write_start_error(io, tty, &err).await,
                    }
                });
                Ok(upgraded_response(content_type))
            }
            None => Ok(self.respond(start.await?, stdin, content_type)),
        }
    }
}

/// dockerd's `101 UPGRADED` head of a hijacked stream.
fn upgraded_response(content_type: &'static str) -> Response {
    let mut resp = StatusCode::SWITCHING_PROTOCOLS.into_response();
    resp.extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    resp
}

/// A start that failed after the `101`: its message on stdout, then the end.
async fn write_start_error<IO>(mut io: IO, tty: bool, err: &ApiError)
where
    IO: AsyncWrite + Unpin,
{
    let chunk = OutputChunk {
        stream: StreamKind::Stdout,
        data: Bytes::from(format!("{}\r\n", err.message())),
    };
    let _ = io.write_all(&encode_chunk(tty, chunk)).await;
    let _ = io.shutdown().await;
}

async fn pump_body_to_stdin(body: Body, tx: StdinSender) {
    let mut data = body.into_data_stream();
    while let Some(Ok(bytes)) = data.next().await {
        if tx.send(bytes).await.is_err() {
            break;
        }
    }
}

async fn serve_upgraded(
    on_upgrade: OnUpgrade,
    output: AttachedOutput,
    stdin: Option<StdinSender>,
    detach: Option<DetachWatch>,
) {
    match on_upgrade.await {
        Ok(upgraded) => {
            let io = Hijacked::after_head_read(upgraded).await;
            pump_duplex(io, output, stdin, detach).await;
        }
        Err(err) => tracing::warn!(error = %err, "hijack upgrade failed"),
    }
}

/// Copies client bytes to stdin (until EOF, which closes stdin) and output to
/// the client (until the output ends, which closes the connection). The
/// detach sequence, when watched for, ends both at once.
pub async fn pump_duplex<IO>(
    io: IO,
    output: AttachedOutput,
    stdin: Option<StdinSender>,
    detach: Option<DetachWatch>,
) where
    IO: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (mut reader, mut writer) = tokio::io::split(io);
    // Whether the client detached (rather than closed its stdin).
    let read_stdin = async move {
        let mut stdin = stdin;
        let mut detach = detach;
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (data, detached) = match detach.as_mut().map(|w| w.scan(&buf[..n])) {
                None => (buf[..n].to_vec(), false),
                Some(Scan::Forward(data)) => (data, false),
                Some(Scan::Detach(data)) => (data, true),
            };
            if let Some(tx) = &stdin
                && !data.is_empty()
                && tx.send(Bytes::from(data)).await.is_err()
            {
                // The process closed its stdin: discard the rest.
                stdin = None;
            }
            if detached {
                return true;
            }
        }
        // Dropping the sender ends the InputStream: the process sees EOF.
        drop(stdin);
        false
    };
    let tty = output.tty;
    let mut chunks = output.output;
    let write_output = async move {
        while let Some(item) = chunks.next().await {
            match item {
                Ok(chunk) => {
                    let bytes = encode_chunk(tty, chunk);
                    if bytes.is_empty() {
                        continue;
                    }
                    if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "hijacked output stream failed");
                    break;
                }
            }
        }
        let _ = writer.shutdown().await;
    };
    tokio::pin!(read_stdin, write_output);
    let mut stdin_done = false;
    loop {
        tokio::select! {
            _ = &mut write_output => break,
            detached = &mut read_stdin, if !stdin_done => {
                if detached {
                    // Returning drops the connection: the client's stream ends.
                    tracing::debug!("client detached with its detach keys");
                    break;
                }
                stdin_done = true;
            }
        }
    }
}
