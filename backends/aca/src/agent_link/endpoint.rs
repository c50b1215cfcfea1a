//! The listener agents dial (`agent_listen`): `GET /agent/v1/connect`,
//! WebSocket, `Authorization: Bearer <token>` and `X-Sockerless-Container-Id`.
//! Only the token of a container that is starting or running is accepted
//! (compared by SHA-256 hash, in constant time); a newer authenticated
//! connection of the same container replaces the older one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sockerless_agent::net::CONTAINER_ID_HEADER;
use sockerless_agent::peer;
use sockerless_agent::transport::{token_matches, websocket};
use sockerless_api::ApiError;
use sockerless_api::listen::ListenAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::AcaBackend;
use crate::store::hash_token;

/// Path agents dial.
pub const AGENT_PATH: &str = "/agent/v1/connect";
/// Longest a handshake (WebSocket + hello) may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running agent endpoint.
#[derive(Debug, Clone)]
pub struct AgentEndpoint {
    /// The bound address.
    pub local_addr: SocketAddr,
    /// The URL agents are told to dial.
    pub callback_url: String,
}

/// The callback URL: `agent_callback_url` when configured, else derived from
/// the bound address (an unspecified address becomes 127.0.0.1, which only
/// replicas on this host, such as the emulator's, can reach).
pub fn callback_url(configured: Option<&str>, bound: SocketAddr) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    let ip = if bound.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    };
    format!("ws://{}{AGENT_PATH}", SocketAddr::new(ip, bound.port()))
}

/// Binds `agent_listen` and serves agents in the background.
pub async fn start(backend: AcaBackend) -> Result<AgentEndpoint, ApiError> {
    let listen = &backend.config().agent_listen;
    let addr: ListenAddr = listen
        .parse()
        .map_err(|e| ApiError::Internal(format!("agent_listen {listen:?}: {e}")))?;
    let ListenAddr::Tcp { host, port } = addr else {
        return Err(ApiError::Internal(format!(
            "agent_listen {listen:?}: agents dial over TCP; use tcp://host:port"
        )));
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let listener = TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| ApiError::Internal(format!("agent endpoint: cannot bind {listen}: {e}")))?;
    let local_addr = listener
        .local_addr()
        .map_err(|e| ApiError::Internal(format!("agent endpoint: {e}")))?;
    let callback_url = callback_url(backend.config().agent_callback_url.as_deref(), local_addr);
    if backend.config().agent_callback_url.is_none() {
        tracing::warn!(
            %callback_url,
            "agent_callback_url is not set; agents are told to dial a loopback address, which only replicas on this host reach"
        );
    }
    tracing::info!(listen = %local_addr, %callback_url, "agent endpoint listening");
    tokio::spawn(accept_loop(backend, listener));
    Ok(AgentEndpoint {
        local_addr,
        callback_url,
    })
}

async fn accept_loop(backend: AcaBackend, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer_addr)) => {
                let backend = backend.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&backend, tcp)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(why)) => {
                            tracing::info!(%peer_addr, %why, "agent connection refused")
                        }
                        Err(_) => tracing::info!(%peer_addr, "agent handshake timed out"),
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "agent endpoint accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Checks the upgrade request: path, container, token. Returns (container, token).
fn check_request(backend: &AcaBackend, req: &Request) -> Result<(String, String), StatusCode> {
    if req.uri().path() != AGENT_PATH {
        return Err(StatusCode::NOT_FOUND);
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let id = header(CONTAINER_ID_HEADER).ok_or(StatusCode::UNAUTHORIZED)?;
    let token = header("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let expected = backend
        .runtimes()
        .find(id)
        .and_then(|rt| rt.token_hash())
        .ok_or(StatusCode::UNAUTHORIZED)?;
    if !token_matches(&hash_token(token), &expected) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok((id.to_owned(), token.to_owned()))
}

#[allow(clippy::result_large_err)] // the error type is tungstenite's callback contract
async fn handshake(backend: &AcaBackend, tcp: TcpStream) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let mut accepted: Option<(String, String)> = None;
    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match check_request(backend, req) {
            Ok(found) => {
                accepted = Some(found);
                Ok(resp)
            }
            Err(status) => {
                let mut r = ErrorResponse::new(None);
                *r.status_mut() = status;
                Err(r)
            }
        }
    };
    let ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
        .await
        .map_err(|e| format!("websocket handshake: {e}"))?;
    let (id, token) = accepted.ok_or("no container")?;
    let rt = backend.runtimes().find(&id).ok_or("container gone")?;
    let conn = peer::accept(websocket(ws), &token, rt.resume())
        .await
        .map_err(|e| format!("agent hello: {e}"))?;
    if conn.info().container_id.as_deref().is_some_and(|c| c != id) {
        return Err("agent announced another container".into());
    }
    // The token may have been revoked while the hello was in flight.
    if rt.token_hash().is_none() {
        return Err("container is no longer starting or running".into());
    }
    // Running before `docker start` returns (it waits for the connection),
    // and before the pump can record an exit.
    crate::runtime::lifecycle::mark_running(backend, &id)
        .await
        .map_err(|e| format!("cannot record the running state: {e}"))?;
    tracing::info!(container = %id, "agent connected");
    super::pump::attach_connection(backend.clone(), rt, Arc::new(conn));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_url_is_configured_or_derived() {
        let bound: SocketAddr = "0.0.0.0:9112".parse().expect("addr");
        assert_eq!(
            callback_url(None, bound),
            "ws://127.0.0.1:9112/agent/v1/connect"
        );
        let bound: SocketAddr = "10.1.2.3:4000".parse().expect("addr");
        assert_eq!(
            callback_url(None, bound),
            "ws://10.1.2.3:4000/agent/v1/connect"
        );
        assert_eq!(
            callback_url(Some("wss://sockerless.example/agent/v1/connect"), bound),
            "wss://sockerless.example/agent/v1/connect"
        );
    }
}
