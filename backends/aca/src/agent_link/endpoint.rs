//! The listener agents dial (`agent_listen`): `GET /agent/v1/connect`,
//! WebSocket, `Authorization: Bearer <token>` and `X-Sockerless-Container-Id`.
//! Only the token of a container that is starting or running is accepted
//! (compared by SHA-256 hash, in constant time); a newer authenticated
//! connection of the same container replaces the older one.
//!
//! With `agent_tls_cert` / `agent_tls_key` it serves TLS (`wss://`, no client
//! certificates: the token authenticates); without, only on loopback
//! ([`crate::Config::check_agent_listen`]). Every link is pinged and closed
//! when silent for `agent_liveness_timeout_secs` ([`crate::Config::agent_liveness`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use sockerless_agent::net::CONTAINER_ID_HEADER;
use sockerless_agent::peer;
use sockerless_agent::transport::{link_ws_config, token_matches, websocket};
use sockerless_api::ApiError;
use sockerless_api::listen::{self, ListenAddr, Listener, TlsAcceptorConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::refusals::RefusalLog;
use crate::AcaBackend;
use crate::store::hash_token;

/// Path agents dial.
pub const AGENT_PATH: &str = "/agent/v1/connect";
/// Longest the agent's hello may take after the WebSocket upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Refusals of this process's agent endpoint(s), logged at a bounded rate.
static REFUSALS: RefusalLog = RefusalLog::new();

/// A running agent endpoint.
#[derive(Debug, Clone)]
pub struct AgentEndpoint {
    /// The bound address.
    pub local_addr: SocketAddr,
    /// The URL agents are told to dial.
    pub callback_url: String,
    /// PEM of `agent_tls_ca`, handed to every container so its agent trusts
    /// the endpoint's certificate.
    pub ca_pem: Option<String>,
}

/// The callback URL: `agent_callback_url` when configured, else derived from
/// the bound address (`wss://` with TLS; an unspecified address becomes
/// 127.0.0.1, which only replicas on this host, such as the emulator's, can reach).
pub fn callback_url(configured: Option<&str>, bound: SocketAddr, tls: bool) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    let ip = if bound.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    };
    let scheme = if tls { "wss" } else { "ws" };
    format!(
        "{scheme}://{}{AGENT_PATH}",
        SocketAddr::new(ip, bound.port())
    )
}

fn internal(what: &str) -> impl Fn(String) -> ApiError + '_ {
    move |e| ApiError::Internal(format!("agent endpoint: {what}: {e}"))
}

/// Reads `agent_tls_ca` (PEM certificates only; its content is public).
fn read_ca(path: Option<&std::path::Path>) -> Result<Option<String>, ApiError> {
    let Some(path) = path else { return Ok(None) };
    let pem = std::fs::read_to_string(path)
        .map_err(|e| internal("agent_tls_ca")(format!("cannot read {}: {e}", path.display())))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(internal("agent_tls_ca")(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(Some(pem))
}

/// Binds `agent_listen` and serves agents in the background.
pub async fn start(backend: AcaBackend) -> Result<AgentEndpoint, ApiError> {
    let config = backend.config();
    config
        .check_agent_listen()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let listen = &config.agent_listen;
    let addr: ListenAddr = listen
        .parse()
        .map_err(|e| ApiError::Internal(format!("agent_listen {listen:?}: {e}")))?;
    let tls = config
        .agent_tls_settings()
        .map(|s| TlsAcceptorConfig::load(&s))
        .transpose()
        .map_err(|e| internal("agent_tls_cert/agent_tls_key")(e.to_string()))?;
    let ca_pem = read_ca(config.agent_tls_ca.as_deref())?;
    let listener = listen::bind(&addr)
        .await
        .map_err(|e| internal("cannot bind")(e.to_string()))?;
    let Listener::Tcp(tcp) = &listener else {
        return Err(internal("agent_listen")("agents dial over TCP".into()));
    };
    let local_addr = tcp
        .local_addr()
        .map_err(|e| internal("address")(e.to_string()))?;
    let configured = config.agent_callback_url.as_deref();
    let callback_url = callback_url(configured, local_addr, tls.is_some());
    let ip = local_addr.ip();
    if configured.is_none() && (ip.is_unspecified() || ip.is_loopback()) {
        tracing::warn!(
            %callback_url,
            "agent_callback_url is not set; agents are told to dial a loopback address, which only replicas on this host reach"
        );
    }
    tracing::info!(listen = %local_addr, %callback_url, tls = tls.is_some(), "agent endpoint listening");
    let router = Router::new()
        .route(AGENT_PATH, get(upgrade))
        .with_state(backend.clone());
    // Serves for the life of the process (the daemon exits after draining the API).
    // Its own connection cap: a flood of Docker API clients cannot starve
    // agents, nor the other way round.
    let forever = std::future::pending::<()>();
    let limits = backend.config().serve_limits();
    tokio::spawn(async move {
        listen::serve_with(listener, router, tls, limits, forever, Duration::ZERO).await
    });
    Ok(AgentEndpoint {
        local_addr,
        callback_url,
        ca_pem,
    })
}

/// Checks the upgrade request's container and token. Returns (container, token).
fn check_request(
    backend: &AcaBackend,
    headers: &HeaderMap,
) -> Result<(String, String), StatusCode> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
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

/// The `Sec-WebSocket-Accept` of a valid WebSocket upgrade request (RFC 6455 §4.2.1).
fn websocket_accept(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return None;
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION)? != "13" {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

async fn upgrade(State(backend): State<AcaBackend>, request: Request) -> Response {
    let Some(accept) = websocket_accept(request.headers()) else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let (id, token) = match check_request(&backend, request.headers()) {
        Ok(found) => found,
        Err(status) => {
            REFUSALS.log(&status);
            return status.into_response();
        }
    };
    let on_upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        let connect = async {
            let upgraded = on_upgrade.await.map_err(|e| format!("upgrade: {e}"))?;
            let ws = WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(link_ws_config()),
            )
            .await;
            handshake(&backend, ws, id, token).await
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, connect).await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => REFUSALS.log(&why),
            Err(_) => REFUSALS.log(&"handshake timed out"),
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    response
}

async fn handshake<S>(
    backend: &AcaBackend,
    ws: WebSocketStream<S>,
    id: String,
    token: String,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let rt = backend.runtimes().find(&id).ok_or("container gone")?;
    // Pings both ways: a replica that froze or lost its network (no FIN,
    // no RST) ends the link within the timeout, and so reaches the
    // disconnected path (grace, then the execution's status).
    let io = websocket(ws).with_liveness(backend.config().agent_liveness());
    let (io, cut) = super::cut::cuttable(io);
    let conn = peer::accept(io, &token, rt.resume())
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
    crate::runtime::running::mark_running(backend, &id)
        .await
        .map_err(|e| format!("cannot record the running state: {e}"))?;
    tracing::info!(container = %id, "agent connected");
    tracing::debug!(target: crate::runtime::TIMELINE, container = %id, "agent_connected");
    crate::runtime::connection::attach(backend.clone(), rt, Arc::new(conn), cut);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_url_is_configured_or_derived() {
        let bound: SocketAddr = "0.0.0.0:9112".parse().expect("addr");
        assert_eq!(
            callback_url(None, bound, false),
            "ws://127.0.0.1:9112/agent/v1/connect"
        );
        let bound: SocketAddr = "10.1.2.3:4000".parse().expect("addr");
        assert_eq!(
            callback_url(None, bound, false),
            "ws://10.1.2.3:4000/agent/v1/connect"
        );
        assert_eq!(
            callback_url(
                Some("wss://sockerless.example/agent/v1/connect"),
                bound,
                false
            ),
            "wss://sockerless.example/agent/v1/connect"
        );
        assert_eq!(
            callback_url(None, bound, true),
            "wss://10.1.2.3:4000/agent/v1/connect"
        );
    }
}
