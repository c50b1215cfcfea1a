//! Dialing and accepting WebSocket connections without the image's libc:
//! names resolve through a pure-Rust resolver reading `/etc/resolv.conf`, TLS
//! is rustls with the webpki roots plus an optional CA file.

// unsafe: a socket option socket2 does not offer.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

use crate::transport::{WsTransport, link_ws_config, verify_bearer, websocket};

/// Header carrying the container id on the agent's upgrade request.
pub const CONTAINER_ID_HEADER: &str = "X-Sockerless-Container-Id";

/// Errors while connecting.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The URL is not a usable `ws://` or `wss://` URL.
    #[error("invalid url: {0}")]
    Url(String),
    /// Name resolution failed.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// Host name.
        host: String,
        /// Why.
        reason: String,
    },
    /// TCP, TLS or I/O failure.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// TLS configuration failure (CA file).
    #[error("tls: {0}")]
    Tls(String),
    /// The WebSocket handshake failed.
    #[error("websocket handshake: {0}")]
    Handshake(String),
    /// The peer refused the token (401): it no longer expects this run.
    #[error("the peer refused the token (401)")]
    Refused,
}

/// Byte stream under a WebSocket: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Client-side connection options.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// Sent as `Authorization: Bearer <token>`.
    pub token: String,
    /// Sent as `X-Sockerless-Container-Id` when present.
    pub container_id: Option<String>,
    /// Extra PEM CA bundle trusted besides the webpki roots.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Dials a `ws://` or `wss://` URL and completes the WebSocket handshake.
pub async fn dial(url: &str, opts: &DialOptions) -> Result<WsTransport<Box<dyn Io>>, NetError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| NetError::Url(e.to_string()))?;
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => return Err(NetError::Url("scheme must be ws or wss".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| NetError::Url("missing host".into()))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let headers = request.headers_mut();
    let auth = HeaderValue::from_str(&format!("Bearer {}", opts.token))
        .map_err(|_| NetError::Url("token is not a valid header value".into()))?;
    headers.insert("Authorization", auth);
    if let Some(id) = &opts.container_id {
        let v =
            HeaderValue::from_str(id).map_err(|_| NetError::Url("invalid container id".into()))?;
        headers.insert(CONTAINER_ID_HEADER, v);
    }

    let addrs = resolve(&host, port).await?;
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match tcp {
        Some(t) => t,
        None => {
            return Err(last
                .map(NetError::Io)
                .unwrap_or_else(|| NetError::Url("no address".into())));
        }
    };
    let _ = tcp.set_nodelay(true);
    set_keepalive(&tcp);
    let stream: Box<dyn Io> = if tls {
        let connector = tls_connector(opts.ca_file.as_deref())?;
        let name = pki_types::ServerName::try_from(host.clone())
            .map_err(|e| NetError::Tls(e.to_string()))?;
        Box::new(connector.connect(name, tcp).await?)
    } else {
        Box::new(tcp)
    };
    let (ws, _resp) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(link_ws_config()))
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(r)
                    if r.status() == StatusCode::UNAUTHORIZED =>
                {
                    NetError::Refused
                }
                e => NetError::Handshake(e.to_string()),
            })?;
    Ok(websocket(ws))
}

/// TCP keepalive (30 s idle, 3 probes 10 s apart) and a 60 s user timeout, so a backend that vanished
/// without closing is noticed and the agent dials again.
pub fn set_keepalive(tcp: &TcpStream) {
    use std::os::fd::AsRawFd;
    let fd = tcp.as_raw_fd();
    let set = |level: i32, name: i32, value: i32| {
        // SAFETY: setsockopt reads an int from a valid pointer.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 30);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 10);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 3);
    // Unacknowledged data in flight is given up after 60 s instead of ~15 min.
    set(libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 60_000);
}

/// Resolves a host: IP literals and `localhost` never touch DNS.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]);
    }
    let conf = std::fs::read("/etc/resolv.conf").map_err(|e| NetError::Resolve {
        host: host.to_string(),
        reason: format!("/etc/resolv.conf: {e}"),
    })?;
    resolve_using(host, port, &conf).await
}

/// Resolves a name through the nameservers of the given `resolv.conf` text
/// (and the hosts file), with a pure-Rust resolver.
pub async fn resolve_using(
    host: &str,
    port: u16,
    resolv_conf: &[u8],
) -> Result<Vec<SocketAddr>, NetError> {
    use hickory_resolver::TokioResolver;
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    let err = |reason: String| NetError::Resolve {
        host: host.to_string(),
        reason,
    };
    let (config, options) = hickory_resolver::system_conf::parse_resolv_conf(resolv_conf)
        .map_err(|e| err(e.to_string()))?;
    let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(options)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let ips = resolver
        .lookup_ip(host)
        .await
        .map_err(|e| err(e.to_string()))?;
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(ip, port)).collect();
    if addrs.is_empty() {
        return Err(err("no addresses".into()));
    }
    Ok(addrs)
}

fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector, NetError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        use pki_types::pem::PemObject;
        let certs = pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| NetError::Tls(format!("CA file {}: {e}", path.display())))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| NetError::Tls(format!("CA file {}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| NetError::Tls(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Parses a listen address; `:9111` means every interface.
pub fn parse_listen(addr: &str) -> Result<SocketAddr, NetError> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.parse()
        .map_err(|_| NetError::Url(format!("invalid listen address {addr}")))
}

/// Binds the forward-mode listener.
pub async fn listen(addr: SocketAddr) -> Result<TcpListener, NetError> {
    Ok(TcpListener::bind(addr).await?)
}

/// Completes a server-side WebSocket handshake, refusing (401, no detail) a
/// request without the right bearer token.
// The handshake callback's signature is tungstenite's.
#[allow(clippy::result_large_err)]
pub async fn accept_authenticated(
    tcp: TcpStream,
    token: &str,
) -> Result<WsTransport<TcpStream>, NetError> {
    let _ = tcp.set_nodelay(true);
    set_keepalive(&tcp);
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let header = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok());
        if verify_bearer(header, token) {
            Ok(resp)
        } else {
            let mut r = ErrorResponse::new(None);
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            Err(r)
        }
    };
    let ws = tokio_tungstenite::accept_hdr_async(tcp, check)
        .await
        .map_err(|e| NetError::Handshake(e.to_string()))?;
    Ok(websocket(ws))
}
