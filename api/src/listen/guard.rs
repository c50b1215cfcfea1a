//! Browser defence for plain-TCP listeners on loopback, and a rate-limited
//! counter for log lines about refused connections.
//!
//! A web page the user visits can make the browser send requests to
//! `127.0.0.1:<port>` (simple cross-origin POSTs, or DNS rebinding with its
//! own host name). Docker clients and SDKs never send `Origin` or
//! `Sec-Fetch-Site`, and name a loopback host in `Host`; browsers always
//! send one of the first two on such requests, and rebinding shows in `Host`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

/// Middleware: 403 for requests that come from a browser or name a host that
/// is not loopback.
pub async fn loopback_only(request: Request, next: Next) -> Response {
    match refusal(request.headers()) {
        Some(why) => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "message": why })),
        )
            .into_response(),
        None => next.run(request).await,
    }
}

/// Why a request is refused, if it is.
pub fn refusal(headers: &HeaderMap) -> Option<String> {
    if headers.contains_key(header::ORIGIN) {
        return Some(
            "requests with an Origin header (from a web browser) are refused on this loopback listener"
                .into(),
        );
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && site.as_bytes() != b"none"
    {
        return Some("requests from a web page are refused on this loopback listener".into());
    }
    let host = headers.get(header::HOST)?.to_str().unwrap_or("");
    if is_loopback_host(host) {
        None
    } else {
        Some(format!(
            "Host {host:?} is not a loopback name: this listener only answers requests addressed to localhost"
        ))
    }
}

/// `localhost`, `*.localhost`, a loopback IP, or `docker` (the name Docker
/// clients have long put in `Host` for a local daemon; public DNS does not
/// resolve a single-label name for a rebinding page), with an optional port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let lower = name.to_ascii_lowercase();
    lower == "localhost"
        || lower == "docker"
        || lower.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Counts events and lets one log line through per interval.
#[derive(Debug)]
pub struct RateLimitedLog {
    interval: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    /// Lets a line through at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        RateLimitedLog {
            interval,
            state: Mutex::new((None, 0)),
        }
    }

    /// Counts one event; returns the count since the last line when a line
    /// may be logged now.
    pub fn tick(&self) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.1 += 1;
        let now = Instant::now();
        match state.0 {
            Some(last) if now.duration_since(last) < self.interval => None,
            _ => {
                let count = state.1;
                *state = (Some(now), 0);
                Some(count)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    #[test]
    fn docker_clients_pass_and_browsers_do_not() {
        for ok in [
            vec![("host", "127.0.0.1:2375")],
            vec![("host", "localhost:2375")],
            vec![("host", "[::1]:2375")],
            vec![("host", "api.moby.localhost")],
            vec![("host", "docker")],
            vec![("host", "127.0.0.1"), ("sec-fetch-site", "none")],
            vec![],
        ] {
            assert_eq!(refusal(&headers(&ok)), None, "{ok:?}");
        }
        for bad in [
            vec![
                ("host", "127.0.0.1:2375"),
                ("origin", "http://evil.example"),
            ],
            vec![("host", "127.0.0.1:2375"), ("origin", "null")],
            vec![("host", "evil.example:2375")],
            vec![("host", "127.0.0.1.evil.example")],
            vec![("host", "127.0.0.1"), ("sec-fetch-site", "cross-site")],
        ] {
            assert!(refusal(&headers(&bad)).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn one_line_per_interval_with_the_count() {
        let log = RateLimitedLog::new(Duration::from_secs(3600));
        assert_eq!(log.tick(), Some(1));
        assert_eq!(log.tick(), None);
        assert_eq!(log.tick(), None);
        let log = RateLimitedLog::new(Duration::ZERO);
        assert_eq!(log.tick(), Some(1));
        assert_eq!(log.tick(), Some(1));
    }
}
