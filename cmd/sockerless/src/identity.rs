//! A managed-identity credential for an explicit identity endpoint.
//!
//! `azure_identity`'s `ManagedIdentityCredential` reads `IDENTITY_ENDPOINT`
//! and `IDENTITY_HEADER` from the process environment, which the all-in-one
//! must not change. This credential speaks the same protocol (App Service
//! managed identity, `api-version=2019-08-01`) to an endpoint given in code:
//! the embedded emulator's `/msi/token`. Tokens are cached per resource until
//! five minutes before they expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::headers::HeaderName;
use azure_core::http::{HttpClient, Method, Request, Url, new_http_client};
use azure_core::time::{Duration, OffsetDateTime};
use serde::Deserialize;

const IDENTITY_HEADER: HeaderName = HeaderName::from_static("x-identity-header");
const API_VERSION: &str = "2019-08-01";
/// Tokens are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::minutes(5);

/// Managed identity through an App Service-style identity endpoint.
pub struct EndpointIdentityCredential {
    endpoint: Url,
    header: String,
    http: Arc<dyn HttpClient>,
    cache: Mutex<HashMap<String, AccessToken>>,
}

impl std::fmt::Debug for EndpointIdentityCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointIdentityCredential")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Seconds since the epoch, as a string (App Service) or a number.
    expires_on: serde_json::Value,
}

impl EndpointIdentityCredential {
    /// A credential fetching tokens from `endpoint` with `header` as the
    /// `X-IDENTITY-HEADER` secret.
    pub fn new(endpoint: Url, header: impl Into<String>) -> Self {
        Self {
            endpoint,
            header: header.into(),
            http: new_http_client(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, resource: &str) -> Option<AccessToken> {
        let cache = self.cache.lock().ok()?;
        let token = cache.get(resource)?;
        (token.expires_on - RENEW_BEFORE > OffsetDateTime::now_utc()).then(|| token.clone())
    }

    async fn fetch(&self, resource: &str) -> azure_core::Result<AccessToken> {
        let mut url = self.endpoint.clone();
        url.query_pairs_mut()
            .append_pair("api-version", API_VERSION)
            .append_pair("resource", resource);
        let mut request = Request::new(url, Method::Get);
        request.insert_header(IDENTITY_HEADER, self.header.clone());
        let response = self.http.execute_request(&request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?;
        if !status.is_success() {
            return Err(azure_core::Error::with_message(
                ErrorKind::Credential,
                format!(
                    "identity endpoint {} answered {status}: {}",
                    self.endpoint,
                    String::from_utf8_lossy(&body)
                ),
            ));
        }
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            azure_core::Error::with_message(
                ErrorKind::Credential,
                format!(
                    "identity endpoint {}: bad token response: {e}",
                    self.endpoint
                ),
            )
        })?;
        let expires_on = parse_expiry(&parsed.expires_on).ok_or_else(|| {
            azure_core::Error::with_message(
                ErrorKind::Credential,
                format!(
                    "identity endpoint {}: expires_on {} is not epoch seconds",
                    self.endpoint, parsed.expires_on
                ),
            )
        })?;
        Ok(AccessToken::new(parsed.access_token, expires_on))
    }
}

fn parse_expiry(value: &serde_json::Value) -> Option<OffsetDateTime> {
    let seconds = match value {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok()?,
        serde_json::Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// The resource of a scope: `https://management.azure.com/.default` →
/// `https://management.azure.com`.
pub fn resource_of(scope: &str) -> &str {
    scope.strip_suffix("/.default").unwrap_or(scope)
}

#[async_trait]
impl TokenCredential for EndpointIdentityCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let [scope] = scopes else {
            return Err(azure_core::Error::with_message(
                ErrorKind::Credential,
                "a managed identity token needs exactly one scope",
            ));
        };
        let resource = resource_of(scope);
        if let Some(token) = self.cached(resource) {
            return Ok(token);
        }
        let token = self.fetch(resource).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(resource.to_owned(), token.clone());
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_map_to_resources() {
        assert_eq!(
            resource_of("https://management.azure.com/.default"),
            "https://management.azure.com"
        );
        assert_eq!(
            resource_of("https://api.loganalytics.io"),
            "https://api.loganalytics.io"
        );
    }

    #[test]
    fn expiry_accepts_strings_and_numbers() {
        let want = OffsetDateTime::from_unix_timestamp(1_800_000_000).ok();
        assert_eq!(parse_expiry(&serde_json::json!("1800000000")), want);
        assert_eq!(parse_expiry(&serde_json::json!(1_800_000_000)), want);
        assert_eq!(parse_expiry(&serde_json::json!("soon")), None);
        assert_eq!(parse_expiry(&serde_json::json!(null)), None);
    }
}
