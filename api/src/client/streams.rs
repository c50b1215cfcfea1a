//! Client side of stream routes: WebSocket over an HTTP upgrade on the
//! pooled client's connection, framed as described in [`crate::wire`].

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::wire::{
    self, ClientText, ServerText, decode_output, decode_server_text, encode_client_text,
};
use crate::{ApiError, ByteStream, InputStream, OutputChunk, Result};

pub(super) type Ws = WebSocketStream<TokioIo<Upgraded>>;
pub(super) type WsTx = SplitSink<Ws, Message>;
pub(super) type WsRx = SplitStream<Ws>;

/// One decoded server frame.
pub(super) enum Frame {
    Output(OutputChunk),
    Item(serde_json::Value),
}

/// Aborts a helper task (stdin or upload pump) when the stream using it is dropped.
pub(super) struct AbortOnDrop(JoinHandle<()>);

impl AbortOnDrop {
    pub(super) fn spawn(fut: impl Future<Output = ()> + Send + 'static) -> Self {
        AbortOnDrop(tokio::spawn(fut))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The server's frames; ends at a normal Close, fails (then ends) at an
/// error frame, a malformed frame, or a connection lost mid-stream.
pub(super) fn frames(
    rx: WsRx,
    what: String,
    helper: Option<AbortOnDrop>,
) -> impl Stream<Item = Result<Frame>> + Send {
    futures_util::stream::unfold(Some((rx, what, helper)), |state| async move {
        let (mut rx, what, helper) = state?;
        loop {
            let item = match rx.next().await {
                Some(Ok(Message::Binary(b))) => {
                    decode_output(&b).map(Frame::Output).map_err(ApiError::from)
                }
                Some(Ok(Message::Text(t))) => match decode_server_text(&t) {
                    Ok(ServerText::Item(v)) => Ok(Frame::Item(v)),
                    Ok(ServerText::Error(e)) => Err(e.into()),
                    Err(e) => Err(e.into()),
                },
                Some(Ok(Message::Close(_))) => return None,
                Some(Ok(_)) => continue,
                Some(Err(e)) => Err(ApiError::Unavailable(format!(
                    "{what}: stream from the backend failed: {e}"
                ))),
                None => Err(ApiError::Unavailable(format!(
                    "{what}: the backend closed the stream without ending it"
                ))),
            };
            let next = if item.is_ok() {
                Some((rx, what, helper))
            } else {
                None
            };
            return Some((item, next));
        }
    })
}

/// Output chunks only.
pub(super) fn output_of(
    frames: impl Stream<Item = Result<Frame>> + Send + 'static,
) -> crate::OutputStream {
    Box::pin(frames.map(|f| match f? {
        Frame::Output(chunk) => Ok(chunk),
        Frame::Item(_) => Err(ApiError::Internal(
            "unexpected JSON item in an output stream".into(),
        )),
    }))
}

/// JSON items only, as `T`.
pub(super) fn items_of<T: DeserializeOwned>(
    frames: impl Stream<Item = Result<Frame>> + Send + 'static,
) -> impl Stream<Item = Result<T>> + Send {
    frames.map(|f| match f? {
        Frame::Item(v) => serde_json::from_value(v)
            .map_err(|e| ApiError::Internal(format!("bad stream item: {e}"))),
        Frame::Output(_) => Err(ApiError::Internal(
            "unexpected bytes in a JSON stream".into(),
        )),
    })
}

/// Raw bytes of an output stream (archives).
pub(super) fn bytes_of(frames: impl Stream<Item = Result<Frame>> + Send + 'static) -> ByteStream {
    Box::pin(output_of(frames).map(|c| c.map(|c| c.data)))
}

/// Sends stdin as binary frames, then `close_stdin`. A send failure means
/// the stream is over; the output side reports it.
pub(super) fn spawn_stdin(mut tx: WsTx, stdin: Option<InputStream>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let Some(mut stdin) = stdin else {
            // Keep the write half open (dropping it is harmless, but holding
            // it lets the connection answer pings until the stream ends).
            std::future::pending::<()>().await;
            return;
        };
        while let Some(data) = stdin.next().await {
            if send_binary(&mut tx, data).await.is_err() {
                return;
            }
        }
        let _ = tx
            .send(Message::Text(
                encode_client_text(&ClientText::CloseStdin).into(),
            ))
            .await;
    }))
}

/// Why an upload stopped early.
pub(super) enum UploadError {
    /// The caller's input failed; the server was told to abort.
    Input(ApiError),
    /// The connection failed; the server's answer says why.
    Send,
}

/// Sends `input` as binary frames, then `close_stdin`; on an input error,
/// sends `abort` so the server never sees a truncated upload as complete.
pub(super) async fn upload(
    tx: &mut WsTx,
    mut input: ByteStream,
) -> std::result::Result<(), UploadError> {
    while let Some(item) = input.next().await {
        match item {
            Ok(data) => send_binary(tx, data).await.map_err(|_| UploadError::Send)?,
            Err(e) => {
                let abort = ClientText::Abort {
                    message: e.message().to_owned(),
                };
                let _ = tx
                    .send(Message::Text(encode_client_text(&abort).into()))
                    .await;
                return Err(UploadError::Input(e));
            }
        }
    }
    tx.send(Message::Text(
        encode_client_text(&ClientText::CloseStdin).into(),
    ))
    .await
    .map_err(|_| UploadError::Send)
}

async fn send_binary(
    tx: &mut WsTx,
    data: Bytes,
) -> std::result::Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut offset = 0;
    while offset < data.len() {
        let end = (offset + wire::MAX_FRAME_PAYLOAD).min(data.len());
        tx.send(Message::Binary(data.slice(offset..end))).await?;
        offset = end;
    }
    Ok(())
}
