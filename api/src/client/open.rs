//! Opening stream routes: the WebSocket handshake over the pooled client's
//! connection, and the four shapes of stream the `Backend` methods return
//! (output with optional stdin, JSON items, bytes, uploads).

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};
use tokio_tungstenite::tungstenite::protocol::Role;

use super::RemoteBackend;
use super::streams::{
    AbortOnDrop, UploadError, Ws, bytes_of, frames, items_of, output_of, spawn_stdin, upload,
};
use crate::docker::AuthConfig;
use crate::routes::Route;
use crate::wire::{self, pct_encode};
use crate::{ApiError, AttachedOutput, ByteStream, InputStream, Result};

/// An opened stream route: the 101's headers, the socket, and the path
/// (named in stream errors).
pub(super) struct Opened {
    pub headers: HeaderMap,
    pub ws: Ws,
    pub path: String,
}

impl RemoteBackend {
    /// Opens the stream route `route` (its path filled with `args`) with
    /// `options`, the `stdin` flag and the registry login, if any. Non-101
    /// answers are the backend's error.
    pub(super) async fn open_stream(
        &self,
        route: &Route,
        args: &[&str],
        options: &impl Serialize,
        stdin: bool,
        auth: Option<AuthConfig>,
    ) -> Result<Opened> {
        let path = route.expand(args);
        let json = serde_json::to_string(options)
            .map_err(|e| ApiError::Internal(format!("encode options: {e}")))?;
        let uri = self.uri(&format!(
            "{path}?options={}&stdin={stdin}",
            pct_encode(&json)
        ));
        let key = generate_key();
        let mut builder = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_VERSION, "13")
            .header(SEC_WEBSOCKET_KEY, &key);
        if let Some(auth) = auth {
            let json = serde_json::to_string(&auth)
                .map_err(|e| ApiError::Internal(format!("encode auth: {e}")))?;
            builder = builder.header(wire::REGISTRY_AUTH_HEADER, pct_encode(&json));
        }
        let req = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| ApiError::Internal(format!("build request for {path}: {e}")))?;
        let mut resp = self.send(req).await?;
        if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(self.error_from(resp).await);
        }
        let accept = resp
            .headers()
            .get(SEC_WEBSOCKET_ACCEPT)
            .and_then(|v| v.to_str().ok());
        if accept != Some(derive_accept_key(key.as_bytes()).as_str()) {
            return Err(ApiError::Internal(format!(
                "backend at {}: bad WebSocket handshake for {path}",
                self.addr
            )));
        }
        let headers = std::mem::take(resp.headers_mut());
        let upgraded = hyper::upgrade::on(resp).await.map_err(|e| {
            ApiError::Unavailable(format!(
                "backend at {}: upgrade for {path} failed: {e}",
                self.addr
            ))
        })?;
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        Ok(Opened { headers, ws, path })
    }

    /// An output stream (logs, attach, exec start) with optional stdin.
    pub(super) async fn output_stream(
        &self,
        route: &Route,
        args: &[&str],
        options: &impl Serialize,
        stdin: Option<InputStream>,
    ) -> Result<AttachedOutput> {
        let o = self
            .open_stream(route, args, options, stdin.is_some(), None)
            .await?;
        let tty = o.headers.get(wire::TTY_HEADER).is_some_and(|v| v == "true");
        let (tx, rx) = o.ws.split();
        let helper = spawn_stdin(tx, stdin);
        Ok(AttachedOutput {
            tty,
            output: output_of(frames(rx, o.path, Some(helper))),
        })
    }

    /// A stream of JSON items (events, stats, pull and push progress).
    pub(super) async fn item_stream<T: DeserializeOwned + 'static>(
        &self,
        route: &Route,
        args: &[&str],
        options: &impl Serialize,
        auth: Option<AuthConfig>,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<T>> + Send>>> {
        let o = self.open_stream(route, args, options, false, auth).await?;
        let (tx, rx) = o.ws.split();
        let helper = spawn_stdin(tx, None);
        Ok(Box::pin(items_of(frames(rx, o.path, Some(helper)))))
    }

    /// A stream of bytes (archives, tarballs), with the 101's headers.
    pub(super) async fn byte_stream(
        &self,
        route: &Route,
        args: &[&str],
        options: &impl Serialize,
    ) -> Result<(HeaderMap, ByteStream)> {
        let o = self.open_stream(route, args, options, false, None).await?;
        let (tx, rx) = o.ws.split();
        let helper = spawn_stdin(tx, None);
        Ok((o.headers, bytes_of(frames(rx, o.path, Some(helper)))))
    }

    /// Sends `input` to an upload route and returns the server's verdict.
    pub(super) async fn upload_stream(
        &self,
        route: &Route,
        args: &[&str],
        options: &impl Serialize,
        input: ByteStream,
    ) -> Result<()> {
        let o = self.open_stream(route, args, options, true, None).await?;
        let (mut tx, rx) = o.ws.split();
        let mut answer = Box::pin(frames(rx, o.path, None));
        let verdict = async move {
            match answer.next().await {
                None => Ok(()),
                Some(Err(e)) => Err(e),
                Some(Ok(_)) => Err(ApiError::Internal(
                    "unexpected frame after an upload".into(),
                )),
            }
        };
        tokio::pin!(verdict);
        tokio::select! {
            v = &mut verdict => v,
            sent = upload(&mut tx, input) => match sent {
                Err(UploadError::Input(e)) => Err(e),
                Ok(()) | Err(UploadError::Send) => verdict.await,
            },
        }
    }

    /// Sends `input` to an upload route answering progress (image load, import).
    pub(super) async fn upload_progress<T: DeserializeOwned + Send + 'static>(
        &self,
        route: &Route,
        options: &impl Serialize,
        input: ByteStream,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<T>> + Send>>> {
        let o = self.open_stream(route, &[], options, true, None).await?;
        let (mut tx, rx) = o.ws.split();
        let helper = AbortOnDrop::spawn(async move {
            // Input errors reach the server as `abort`; its answer tells the caller.
            let _ = upload(&mut tx, input).await;
            std::future::pending::<()>().await;
        });
        Ok(Box::pin(items_of(frames(rx, o.path, Some(helper)))))
    }
}
