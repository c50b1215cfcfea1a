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
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::liveness::{BothTasks, Ping, Watch};
pub use crate::liveness::{LinkSilent, Liveness};
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
/// messages are ignored, pings are answered by tungstenite (while the stream
/// is read), close ends the stream. With [`WsTransport::with_liveness`] it
/// also pings the other side and ends a silent link with [`LinkSilent`].
pub struct WsTransport<S> {
    inner: WebSocketStream<S>,
    tasks: Arc<BothTasks>,
    /// Wakes the reader and the writer: see [`BothTasks`].
    both: Waker,
    watch: Option<Watch>,
    /// Set once the link was found silent.
    silent: Option<LinkSilent>,
}

/// Wraps a tokio-tungstenite WebSocket as a [`FrameTransport`].
pub fn websocket<S>(ws: WebSocketStream<S>) -> WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tasks = Arc::new(BothTasks::default());
    WsTransport {
        inner: ws,
        both: Waker::from(tasks.clone()),
        tasks,
        watch: None,
        silent: None,
    }
}

impl<S> WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Pings the other side every `liveness.ping_every()` and ends the link
    /// when nothing (message or pong) arrived for `liveness.timeout()`,
    /// counted from now. The stream must be read for the clock to run.
    pub fn with_liveness(mut self, liveness: Liveness) -> Self {
        self.watch = Some(Watch::new(liveness));
        self
    }

    /// Runs the liveness clock and sends the ping when due. `Err` ends the
    /// stream: the link is silent, or the ping could not be sent.
    fn keep_alive(&mut self, cx: &mut Context<'_>) -> Result<(), TransportError> {
        let Self {
            inner,
            tasks,
            both,
            watch,
            silent,
        } = self;
        let Some(watch) = watch.as_mut() else {
            return Ok(());
        };
        if let Err(why) = watch.poll_clock(cx) {
            tracing::info!(error = %why, "closing the WebSocket link");
            *silent = Some(why.clone());
            // A writer waiting for room in the socket learns it now.
            tasks.writer.wake();
            return Err(Box::new(why));
        }
        tasks.reader.register(cx.waker());
        let mut both = Context::from_waker(both);
        loop {
            let step = match watch.ping {
                Ping::Idle => return Ok(()),
                Ping::Due => Pin::new(&mut *inner).poll_ready(&mut both),
                Ping::Written => Pin::new(&mut *inner).poll_flush(&mut both),
            };
            match step {
                Poll::Pending => return Ok(()),
                Poll::Ready(Err(e)) => return Err(Box::new(e)),
                Poll::Ready(Ok(())) if watch.ping == Ping::Due => {
                    Pin::new(&mut *inner).start_send(Message::Ping(Bytes::new()))?;
                    watch.ping = Ping::Written;
                }
                Poll::Ready(Ok(())) => watch.ping = Ping::Idle,
            }
        }
    }

    /// The sink's side: refused once the link is silent, else polled with
    /// the waker of both tasks.
    fn poll_sink(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(
            Pin<&mut WebSocketStream<S>>,
            &mut Context<'_>,
        ) -> Poll<Result<(), tungstenite::Error>>,
    ) -> Poll<Result<(), TransportError>> {
        if let Some(why) = &self.silent {
            return Poll::Ready(Err(Box::new(why.clone())));
        }
        self.tasks.writer.register(cx.waker());
        let mut both = Context::from_waker(&self.both);
        op(Pin::new(&mut self.inner), &mut both).map_err(|e| Box::new(e) as TransportError)
    }
}

impl<S> Stream for WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Bytes, TransportError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.silent.is_some() {
            return Poll::Ready(None);
        }
        loop {
            let message = match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => message,
                Poll::Ready(None)
                | Poll::Ready(Some(Err(tungstenite::Error::ConnectionClosed))) => {
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(Box::new(e)))),
                Poll::Pending => break,
            };
            if let Some(watch) = this.watch.as_mut() {
                watch.heard();
            }
            match message {
                Message::Binary(b) => return Poll::Ready(Some(Ok(b))),
                Message::Close(_) => return Poll::Ready(None),
                _ => continue,
            }
        }
        match this.keep_alive(cx) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<S> Sink<Bytes> for WsTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = TransportError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_sink(cx, |ws, cx| ws.poll_ready(cx))
    }
    fn start_send(self: Pin<&mut Self>, item: Bytes) -> Result<(), Self::Error> {
        let this = self.get_mut();
        if let Some(why) = &this.silent {
            return Err(Box::new(why.clone()));
        }
        Pin::new(&mut this.inner)
            .start_send(Message::Binary(item))
            .map_err(|e| Box::new(e) as TransportError)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_sink(cx, |ws, cx| ws.poll_flush(cx))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().poll_sink(cx, |ws, cx| ws.poll_close(cx))
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
