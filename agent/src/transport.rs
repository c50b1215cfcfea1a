//! Frame transports: anything that moves whole binary messages both ways.
//!
//! The protocol needs message boundaries, nothing else, so both sides work
//! over any `Stream` of received frames plus `Sink` of frames to send. An axum
//! `WebSocket` adapts in a few lines:
//!
//! ```text
//! use axum::extract::ws::{Message, WebSocket};
//! use futures_util::{SinkExt, StreamExt};
//! use sockerless_agent::transport::{FrameTransport, TransportError};
//!
//! fn adapt(socket: WebSocket) -> impl FrameTransport {
//!     Box::pin(
//!         socket
//!             .sink_map_err(TransportError::from)
//!             .with(|b: Bytes| async move { Ok::<_, TransportError>(Message::Binary(b)) })
//!             .filter_map(|m| async move {
//!                 match m {
//!                     Ok(Message::Binary(b)) => Some(Ok(b)),
//!                     Ok(Message::Close(_)) => Some(Err("closed".into())),
//!                     Ok(_) => None,
//!                     Err(e) => Some(Err(TransportError::from(e))),
//!                 }
//!             }),
//!     )
//! }
//! // then: sockerless_agent::peer::accept(adapt(socket), &token, resume).await
//! ```
//!
//! (`tests/axum_adapter.rs` runs exactly this against the agent.)

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::protocol::MAX_FRAME_LEN;

/// WebSocket limits of the agent link, for both ends: a message is one
/// protocol frame, so nothing larger than [`MAX_FRAME_LEN`] is ever read
/// into memory (tungstenite's default would accept 64 MiB messages).
pub fn link_ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_LEN))
        .max_frame_size(Some(MAX_FRAME_LEN))
}

/// Error type of a transport.
pub type TransportError = Box<dyn std::error::Error + Send + Sync>;

/// A bidirectional transport of binary frames. Implemented for every type
/// with the right `Stream` and `Sink` shape; the stream ends when the
/// connection closes.
pub trait FrameTransport:
    Stream<Item = Result<Bytes, TransportError>>
    + Sink<Bytes, Error = TransportError>
    + Send
    + Unpin
    + 'static
{
}

impl<T> FrameTransport for T where
    T: Stream<Item = Result<Bytes, TransportError>>
        + Sink<Bytes, Error = TransportError>
        + Send
        + Unpin
        + 'static
{
}

/// Adapts a tokio-tungstenite WebSocket: binary messages are frames, text
/// messages are ignored, pings are answered by tungstenite, close ends the stream.
pub struct WsTransport<S> {
    inner: WebSocketStream<S>,
}

/// Wraps a tokio-tungstenite WebSocket as a [`FrameTransport`].
pub fn websocket<S>(ws: WebSocketStream<S>) -> WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    WsTransport { inner: ws }
}

impl<S> Stream for WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(Message::Binary(b)))) => return Poll::Ready(Some(Ok(b))),
                Poll::Ready(Some(Ok(Message::Close(_)))) | Poll::Ready(None) => {
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(tungstenite::Error::ConnectionClosed))) => {
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S> Sink<Bytes> for WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = TransportError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(|e| Box::new(e) as TransportError)
    }
    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner)
            .start_send(Message::Binary(item))
            .map_err(|e| Box::new(e) as TransportError)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(|e| Box::new(e) as TransportError)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.inner)
            .poll_close(cx)
            .map_err(|e| Box::new(e) as TransportError)
    }
}

/// Constant-time comparison of a presented token with the expected one.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    if expected.is_empty() {
        return false;
    }
    // Compare fixed-size digests-free: equal lengths are required, and the
    // byte comparison itself is constant time.
    let a = presented.as_bytes();
    let b = expected.as_bytes();
    (a.len() == b.len()) & bool::from(a.ct_eq(b))
}

/// Checks an `Authorization: Bearer <token>` header value in constant time.
pub fn verify_bearer(header: Option<&str>, expected: &str) -> bool {
    match header.and_then(|h| h.strip_prefix("Bearer ")) {
        Some(t) => token_matches(t.trim(), expected),
        None => false,
    }
}
