//! [`RemoteBackend`]: a [`crate::Backend`] that calls another process's
//! internal HTTP API (served by [`crate::server::router`]) over a Unix
//! socket or TCP, with WebSocket upgrades on the same connection for streams.

mod connect;
mod methods;
mod open;
mod streams;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::error_chain;
use crate::listen::ListenAddr;
use crate::routes::Route;
use crate::wire::{self, pct_decode};
use crate::{ApiError, ErrorBody, Result};

/// Largest response body read into memory (lists of many containers or images).
const MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// A backend reached over the internal HTTP API. Cheap to clone; connections
/// are pooled. No request has a timeout (`container_wait` may take hours).
#[derive(Clone)]
pub struct RemoteBackend {
    addr: ListenAddr,
    authority: String,
    client: Client<connect::Connector, Full<Bytes>>,
}

impl std::fmt::Debug for RemoteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteBackend")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RemoteBackend {
    /// A client of the backend listening at `addr`. Connects lazily: an
    /// unreachable backend shows as [`ApiError::Unavailable`] on the first call.
    pub fn new(addr: ListenAddr) -> Self {
        let client =
            Client::builder(TokioExecutor::new()).build(connect::Connector { addr: addr.clone() });
        let authority = addr.host_port();
        RemoteBackend {
            addr,
            authority,
            client,
        }
    }

    /// Where the backend is.
    pub fn addr(&self) -> &ListenAddr {
        &self.addr
    }

    fn uri(&self, path_and_query: &str) -> String {
        format!("http://{}/internal/v1{path_and_query}", self.authority)
    }

    /// Sends `req`, mapping transport failures to `Unavailable`.
    async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>> {
        self.client.request(req).await.map_err(|e| {
            let detail = error_chain(&e);
            if e.is_connect() {
                ApiError::Unavailable(format!("backend at {} unreachable: {detail}", self.addr))
            } else {
                ApiError::Unavailable(format!(
                    "backend at {}: request failed: {detail}",
                    self.addr
                ))
            }
        })
    }

    /// A request with an optional JSON body; `Ok` only for a 2xx answer.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Response<Incoming>> {
        let mut builder = Request::builder().method(method).uri(self.uri(path));
        let body = match body {
            Some(b) => {
                builder =
                    builder.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                serde_json::to_vec(b)
                    .map_err(|e| ApiError::Internal(format!("encode request for {path}: {e}")))?
            }
            None => Vec::new(),
        };
        let req = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ApiError::Internal(format!("build request for {path}: {e}")))?;
        let resp = self.send(req).await?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.error_from(resp).await)
        }
    }

    /// Calls a JSON route (its path filled with `args`) answering JSON.
    async fn call<T: DeserializeOwned>(
        &self,
        route: &Route,
        args: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<T> {
        let path = route.expand(args);
        let resp = self.request(route.verb.method(), &path, body).await?;
        let bytes = self.read_body(resp).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::Internal(format!(
                "backend at {}: bad answer to {path}: {e}",
                self.addr
            ))
        })
    }

    /// Calls a JSON route answering 204.
    async fn call_empty(
        &self,
        route: &Route,
        args: &[&str],
        body: Option<&impl Serialize>,
    ) -> Result<()> {
        let path = route.expand(args);
        let resp = self.request(route.verb.method(), &path, body).await?;
        self.read_body(resp).await.map(drop)
    }

    async fn read_body(&self, resp: Response<Incoming>) -> Result<Bytes> {
        Limited::new(resp.into_body(), MAX_RESPONSE_BODY)
            .collect()
            .await
            .map(|c| c.to_bytes())
            .map_err(|e| {
                ApiError::Unavailable(format!(
                    "backend at {}: reading the answer failed: {e}",
                    self.addr
                ))
            })
    }

    /// Rebuilds the backend's error from a non-2xx answer.
    async fn error_from(&self, resp: Response<Incoming>) -> ApiError {
        let status = resp.status();
        let header_msg = resp
            .headers()
            .get(wire::ERROR_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(pct_decode);
        let body = match self.read_body(resp).await {
            Ok(b) => b,
            Err(e) => return e,
        };
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.message)
            .ok()
            .or(header_msg)
            .or_else(|| (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()))
            .unwrap_or_else(|| {
                format!(
                    "backend at {} answered {status} without a message",
                    self.addr
                )
            });
        let status = if status.is_client_error()
            || status.is_server_error()
            || status == StatusCode::NOT_MODIFIED
        {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        ApiError::from_status(status, message)
    }
}
