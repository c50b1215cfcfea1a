//! Stream routes: WebSocket upgrades framed as described in [`crate::wire`].

use std::pin::Pin;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use http::HeaderValue;
use serde::Serialize;
use tokio::sync::mpsc;

use super::{Id, Shared, StreamOpts};
use crate::docker::{AuthConfig, ExecStartConfig};
use crate::listen::ShutdownHandle;
use crate::wire::{
    self, ClientText, EventsOptions, LoadOptions, PathBody, PushOptions, SaveOptions, ServerText,
    StatsOptions, WireError, decode_client_text, encode_output, encode_server_text, pct_decode,
    pct_encode,
};
use crate::{
    ApiError, AttachOptions, AttachedOutput, BuildImageOptions, ByteStream, ImportImageOptions,
    InputStream, LogsOptions, OutputChunk, OutputStream, ProgressStream, PullImageOptions,
    StreamKind,
};

type Tx = SplitSink<WebSocket, Message>;
type Rx = SplitStream<WebSocket>;

/// Stdin chunks buffered between the WebSocket and the backend.
const STDIN_BUFFER: usize = 16;

pub(super) async fn events(
    State(b): Shared,
    handle: ShutdownHandle,
    opts: StreamOpts<EventsOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let o = opts.options;
    let events = b.events(o.since_nanos, o.until_nanos, o.filters).await?;
    Ok(upgrade_endless(ws, handle, events))
}

pub(super) async fn container_logs(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    opts: StreamOpts<LogsOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let out = b.container_logs(&id, opts.options).await?;
    Ok(upgrade_output(ws, &handle, out, None))
}

pub(super) async fn container_attach(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    opts: StreamOpts<AttachOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (stdin_tx, stdin) = stdin_channel(opts.stdin);
    let out = b.container_attach(&id, opts.options, stdin).await?;
    Ok(upgrade_output(ws, &handle, out, stdin_tx))
}

pub(super) async fn exec_start(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    opts: StreamOpts<ExecStartConfig>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (stdin_tx, stdin) = stdin_channel(opts.stdin);
    let out = b.exec_start(&id, opts.options, stdin).await?;
    Ok(upgrade_output(ws, &handle, out, stdin_tx))
}

pub(super) async fn container_archive_get(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    opts: StreamOpts<PathBody>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (stat, bytes) = b.container_archive_get(&id, &opts.options.path).await?;
    let stat = serde_json::to_string(&stat)
        .map_err(|e| ApiError::Internal(format!("encode path stat: {e}")))?;
    let mut resp = upgrade_bytes(ws, &handle, bytes);
    if let Ok(v) = HeaderValue::from_str(&pct_encode(&stat)) {
        resp.headers_mut().insert(wire::PATH_STAT_HEADER, v);
    }
    Ok(resp)
}

/// The tar arrives after the upgrade, so errors come as a terminal frame.
pub(super) async fn container_archive_put(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    opts: StreamOpts<PathBody>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade_upload(ws, &handle, move |input| async move {
        b.container_archive_put(&id, &opts.options.path, input)
            .await
            .map(|()| None::<ProgressStream>)
    })
}

pub(super) async fn image_pull(
    State(b): Shared,
    handle: ShutdownHandle,
    headers: HeaderMap,
    opts: StreamOpts<PullImageOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let progress = b.image_pull(opts.options, registry_auth(&headers)?).await?;
    Ok(upgrade_items(ws, &handle, progress))
}

/// The tarball arrives after the upgrade, so errors come as a terminal frame.
pub(super) async fn image_load(
    State(b): Shared,
    handle: ShutdownHandle,
    opts: StreamOpts<LoadOptions>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade_upload(ws, &handle, move |input| async move {
        b.image_load(input, opts.options.quiet).await.map(Some)
    })
}

pub(super) async fn image_save(
    State(b): Shared,
    handle: ShutdownHandle,
    opts: StreamOpts<SaveOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let bytes = b.image_save(opts.options.names).await?;
    Ok(upgrade_bytes(ws, &handle, bytes))
}

pub(super) async fn image_push(
    State(b): Shared,
    handle: ShutdownHandle,
    headers: HeaderMap,
    opts: StreamOpts<PushOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let o = opts.options;
    let auth = registry_auth(&headers)?;
    let progress = b.image_push(&o.name, o.tag.as_deref(), auth).await?;
    Ok(upgrade_items(ws, &handle, progress))
}

/// The tarball arrives after the upgrade, so errors come as a terminal frame.
pub(super) async fn image_import(
    State(b): Shared,
    handle: ShutdownHandle,
    opts: StreamOpts<ImportImageOptions>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade_upload(ws, &handle, move |input| async move {
        b.image_import(opts.options, input).await.map(Some)
    })
}

/// The context arrives after the upgrade, so errors come as a terminal frame.
pub(super) async fn image_build(
    State(b): Shared,
    handle: ShutdownHandle,
    opts: StreamOpts<BuildImageOptions>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade_upload(ws, &handle, move |input| async move {
        b.image_build(opts.options, input).await.map(Some)
    })
}

pub(super) async fn container_stats(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    opts: StreamOpts<StatsOptions>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let o = opts.options;
    let stats = b.container_stats(&id, o.stream, o.one_shot).await?;
    Ok(upgrade_endless(ws, handle, stats))
}

pub(super) async fn container_export(
    State(b): Shared,
    handle: ShutdownHandle,
    Id(id): Id,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let bytes = b.container_export(&id).await?;
    Ok(upgrade_bytes(ws, &handle, bytes))
}

/// The registry login of `images/pull` and `images/push`, from its header.
fn registry_auth(headers: &HeaderMap) -> Result<Option<AuthConfig>, ApiError> {
    let Some(v) = headers.get(wire::REGISTRY_AUTH_HEADER) else {
        return Ok(None);
    };
    let bad =
        || ApiError::InvalidParameter(format!("invalid {} header", wire::REGISTRY_AUTH_HEADER));
    let json = v.to_str().ok().and_then(pct_decode).ok_or_else(bad)?;
    serde_json::from_str(&json).map(Some).map_err(|_| bad())
}

/// Upgrades, then runs `op` on the client's input; its progress (if any)
/// or its error is the answer, a plain Close its success.
fn upgrade_upload<F, Fut, T>(ws: WebSocketUpgrade, handle: &ShutdownHandle, op: F) -> Response
where
    F: FnOnce(ByteStream) -> Fut + Send + 'static,
    Fut: Future<Output = crate::Result<Option<Pin<Box<dyn Stream<Item = crate::Result<T>> + Send>>>>>
        + Send,
    T: Serialize + Send + 'static,
{
    let guard = handle.guard();
    ws.on_upgrade(move |socket| async move {
        let (mut tx, rx) = socket.split();
        let work = async {
            match op(input_bytes(rx)).await {
                Ok(Some(progress)) => send_items(&mut tx, progress).await,
                Ok(None) => close(&mut tx).await,
                Err(e) => send_error(&mut tx, &e).await,
            }
        };
        guard.run(work).await;
    })
}

/// A finite stream of JSON items (pull and push progress), sent until it
/// ends or the client leaves.
fn upgrade_items<T: Serialize + Send + 'static>(
    ws: WebSocketUpgrade,
    handle: &ShutdownHandle,
    items: impl Stream<Item = crate::Result<T>> + Unpin + Send + 'static,
) -> Response {
    let guard = handle.guard();
    ws.on_upgrade(move |socket| async move {
        let (mut tx, rx) = socket.split();
        guard
            .run(until_client_leaves(rx, send_items(&mut tx, items)))
            .await;
    })
}

fn stdin_channel(wanted: bool) -> (Option<mpsc::Sender<Bytes>>, Option<InputStream>) {
    if !wanted {
        return (None, None);
    }
    let (tx, rx) = mpsc::channel::<Bytes>(STDIN_BUFFER);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    (Some(tx), Some(Box::pin(stream)))
}

/// Answers 101 (with the TTY header) and pumps `out` to the client, and the
/// client's binary frames into `stdin`, until the output ends or the client leaves.
fn upgrade_output(
    ws: WebSocketUpgrade,
    handle: &ShutdownHandle,
    out: AttachedOutput,
    stdin: Option<mpsc::Sender<Bytes>>,
) -> Response {
    let guard = handle.guard();
    let output = out.output;
    let mut resp = ws.on_upgrade(move |socket| async move {
        let (mut tx, rx) = socket.split();
        let writer = async {
            let mut output = output;
            while let Some(item) = output.next().await {
                match item {
                    Ok(chunk) => {
                        for frame in encode_output(&chunk) {
                            tx.send(Message::Binary(frame)).await?;
                        }
                    }
                    Err(e) => return send_error(&mut tx, &e).await,
                }
            }
            close(&mut tx).await
        };
        guard.run(pump_stdin(rx, stdin, writer)).await;
    });
    resp.headers_mut().insert(
        wire::TTY_HEADER,
        HeaderValue::from_static(if out.tty { "true" } else { "false" }),
    );
    resp
}

/// Runs `writer` while feeding the client's input into `stdin`; stops the
/// writer when the client disconnects (it detached: nobody reads any more).
async fn pump_stdin<W>(mut rx: Rx, mut stdin: Option<mpsc::Sender<Bytes>>, writer: W)
where
    W: Future<Output = Result<(), axum::Error>>,
{
    let reader = async {
        while let Some(Ok(msg)) = rx.next().await {
            match msg {
                Message::Binary(data) => {
                    if let Some(tx) = &stdin
                        && tx.send(data).await.is_err()
                    {
                        stdin = None;
                    }
                }
                Message::Text(text) => match decode_client_text(&text) {
                    Ok(ClientText::CloseStdin | ClientText::Abort { .. }) => stdin = None,
                    Err(e) => tracing::debug!(error = %e, "ignoring bad client frame"),
                },
                Message::Close(_) => return,
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
    };
    tokio::select! {
        () = reader => {}
        r = writer => if let Err(e) = r { tracing::debug!(error = %e, "stream to client ended") },
    }
}

/// Runs `feed` until done or until the client closes its side.
async fn until_client_leaves<W>(rx: Rx, feed: W)
where
    W: Future<Output = Result<(), axum::Error>>,
{
    pump_stdin(rx, None, feed).await;
}

/// A byte stream sent as stdout chunks on the upgraded socket.
fn upgrade_bytes(
    ws: WebSocketUpgrade,
    handle: &ShutdownHandle,
    bytes: crate::ByteStream,
) -> Response {
    let output: OutputStream = Box::pin(bytes.map(|r| {
        r.map(|data| OutputChunk {
            stream: StreamKind::Stdout,
            data,
        })
    }));
    upgrade_output(ws, handle, AttachedOutput { tty: false, output }, None)
}

/// A feed that never completes on its own (events, stats): sent until the
/// client leaves, ended when shutdown begins.
fn upgrade_endless<T: Serialize + Send + 'static>(
    ws: WebSocketUpgrade,
    handle: ShutdownHandle,
    items: impl Stream<Item = crate::Result<T>> + Unpin + Send + 'static,
) -> Response {
    let guard = handle.guard();
    ws.on_upgrade(move |socket| async move {
        let (mut tx, rx) = socket.split();
        let feed = async {
            tokio::select! {
                r = send_items(&mut tx, items) => r,
                () = handle.stopping() => send_error(&mut tx, &ApiError::Unavailable("backend shutting down".into())).await,
            }
        };
        guard.run(until_client_leaves(rx, feed)).await;
    })
}

async fn send_items<T: Serialize>(
    tx: &mut Tx,
    mut items: impl Stream<Item = crate::Result<T>> + Unpin,
) -> Result<(), axum::Error> {
    while let Some(item) = items.next().await {
        let value = item.and_then(|v| {
            serde_json::to_value(v)
                .map_err(|e| ApiError::Internal(format!("encode stream item: {e}")))
        });
        match value {
            Ok(v) => {
                let text = encode_server_text(&ServerText::Item(v));
                tx.send(Message::Text(text.into())).await?;
            }
            Err(e) => return send_error(tx, &e).await,
        }
    }
    close(tx).await
}

async fn send_error(tx: &mut Tx, e: &ApiError) -> Result<(), axum::Error> {
    e.log_cause();
    let text = encode_server_text(&ServerText::Error(WireError::from(e)));
    tx.send(Message::Text(text.into())).await?;
    close(tx).await
}

async fn close(tx: &mut Tx) -> Result<(), axum::Error> {
    let frame = CloseFrame {
        code: close_code::NORMAL,
        reason: "".into(),
    };
    tx.send(Message::Close(Some(frame))).await
}

/// The client's binary frames as a byte stream, ended by `close_stdin`;
/// anything else (abort, disconnect) is an error so a partial upload never
/// counts as complete.
fn input_bytes(rx: Rx) -> ByteStream {
    Box::pin(futures_util::stream::unfold(Some(rx), |state| async move {
        let mut rx = state?;
        loop {
            let err = match rx.next().await {
                Some(Ok(Message::Binary(b))) => return Some((Ok(b), Some(rx))),
                Some(Ok(Message::Text(t))) => match decode_client_text(&t) {
                    Ok(ClientText::CloseStdin) => return None,
                    Ok(ClientText::Abort { message }) => ApiError::InvalidParameter(format!(
                        "upload aborted by the client: {message}"
                    )),
                    Err(e) => ApiError::InvalidParameter(e.to_string()),
                },
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | None => {
                    ApiError::InvalidParameter("the upload ended before its end marker".into())
                }
                Some(Err(e)) => ApiError::Unavailable(format!("upload connection failed: {e}")),
            };
            return Some((Err(err), None));
        }
    }))
}
