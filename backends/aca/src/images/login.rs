//! `POST /auth`: checks registry credentials against the registry itself,
//! the way dockerd does: `GET /v2/`; on a `Basic` challenge the credentials
//! are sent there, on a `Bearer` challenge to the token endpoint it names.
//! Registry mirrors are not used (a login is for the registry named).
//!
//! dockerd answers a refused login with 401; the internal API has no 401,
//! so it is a 400 (`InvalidParameter`) with dockerd's message.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use sockerless_api::docker::{AuthConfig, AuthResponse};
use sockerless_api::{ApiError, Result};
use sockerless_azure::registry::is_loopback_registry;

use super::reference::{DOCKER_HUB_REGISTRY, is_docker_hub};
use crate::AcaBackend;

const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The registry host of Docker's `serveraddress` (`https://index.docker.io/v1/`,
/// `myreg.azurecr.io`, `http://127.0.0.1:5000`); Docker Hub when empty.
pub fn registry_host(server: Option<&str>) -> String {
    let server = server.unwrap_or_default().trim();
    let without_scheme = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    let host = without_scheme.split('/').next().unwrap_or_default();
    if host.is_empty() || is_docker_hub(host) {
        DOCKER_HUB_REGISTRY.to_owned()
    } else {
        host.to_owned()
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…`.
    Bearer {
        /// Token endpoint.
        realm: String,
        /// `service` parameter.
        service: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let (scheme, params) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params;
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim();
        let (val, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(val.to_owned()),
            "service" => service = Some(val.to_owned()),
            _ => {}
        }
        rest = next;
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
    })
}

/// `Backend::auth`.
pub async fn auth(_backend: &AcaBackend, config: AuthConfig) -> Result<AuthResponse> {
    let host = registry_host(config.serveraddress.as_deref());
    let scheme = if is_loopback_registry(&host) {
        "http"
    } else {
        "https"
    };
    let username = config.username.unwrap_or_default();
    let password = config.password.unwrap_or_default();
    if username.is_empty() {
        return Err(ApiError::InvalidParameter(
            "login: a user name is required".to_owned(),
        ));
    }
    let url = format!("{scheme}://{host}/v2/");
    let client = reqwest::Client::builder()
        .timeout(LOGIN_TIMEOUT)
        .build()
        .map_err(|e| ApiError::Internal(format!("login to {host}: {e}")))?;
    let unreachable = |e: reqwest::Error| {
        ApiError::Unavailable(format!("login to {host}: cannot reach {url}: {e}"))
    };
    let probe = client.get(&url).send().await.map_err(unreachable)?;
    let status = match probe.status() {
        StatusCode::OK => StatusCode::OK,
        StatusCode::UNAUTHORIZED => {
            let challenge = probe
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge);
            match challenge {
                Some(Challenge::Basic) | None => client
                    .get(&url)
                    .basic_auth(&username, Some(&password))
                    .send()
                    .await
                    .map_err(unreachable)?
                    .status(),
                Some(Challenge::Bearer { realm, service }) => {
                    let mut query = vec![("account", username.as_str())];
                    if let Some(s) = service.as_deref() {
                        query.push(("service", s));
                    }
                    client
                        .get(&realm)
                        .query(&query)
                        .basic_auth(&username, Some(&password))
                        .send()
                        .await
                        .map_err(unreachable)?
                        .status()
                }
            }
        }
        other => other,
    };
    if status.is_success() {
        tracing::info!(registry = %host, user = %username, "registry login verified");
        return Ok(AuthResponse {
            status: "Login Succeeded".to_owned(),
            identity_token: None,
        });
    }
    let message = format!("login attempt to {url} failed with status: {status}");
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::InvalidParameter(message),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            ApiError::Unavailable(message)
        }
        _ => ApiError::Internal(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_name_registries() {
        assert_eq!(
            registry_host(Some("https://index.docker.io/v1/")),
            "registry-1.docker.io"
        );
        assert_eq!(registry_host(None), "registry-1.docker.io");
        assert_eq!(registry_host(Some("myreg.azurecr.io")), "myreg.azurecr.io");
        assert_eq!(
            registry_host(Some("http://127.0.0.1:5000/")),
            "127.0.0.1:5000"
        );
    }

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="x:y""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer realm="unterminated"#), None);
    }
}
