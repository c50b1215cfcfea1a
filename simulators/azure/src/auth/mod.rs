//! Microsoft Entra ID as seen by clients: the client-credentials token
//! endpoint, the managed identity endpoint, and bearer-token checks.
//!
//! Tokens are JWTs signed with HMAC-SHA256 under a key drawn at process start,
//! so they are only valid for this emulator instance.

pub mod endpoints;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Lifetime of issued tokens.
const TOKEN_LIFETIME_SECS: i64 = 3600;

/// Claims of an issued token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Audience: the resource the token is for.
    pub aud: String,
    /// Issuer.
    pub iss: String,
    /// Subject (client or identity).
    pub sub: String,
    /// Tenant.
    pub tid: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
    /// Token use: `aad`, `acr_refresh` or `acr_access`.
    #[serde(default)]
    pub typ: String,
    /// Application (client) ID of the caller, as Entra ID puts it in tokens.
    #[serde(default)]
    pub appid: String,
    /// Object ID of the caller's service principal or managed identity.
    #[serde(default)]
    pub oid: String,
    /// What an ACR access token grants (`[{type, name, actions}]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access: Vec<AccessEntry>,
}

/// One grant of an ACR access token, as in ACR's token claim set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessEntry {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Repository name, or `catalog`.
    pub name: String,
    /// Granted actions (`pull`, `push`, `delete`, `*`).
    pub actions: Vec<String>,
}

/// The object ID Entra ID would give the principal `sub` in `tenant`: stable
/// across tokens and restarts, so a role table can name it.
pub fn object_id(tenant: &str, sub: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(format!("oid:{tenant}:{sub}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    /// No `Authorization: Bearer` header.
    #[error("The 'Authorization' header is missing or is not a Bearer token.")]
    Missing,
    /// Bad format or signature.
    #[error("The access token is invalid.")]
    Invalid,
    /// Expired.
    #[error("The access token has expired.")]
    Expired,
    /// Valid, but for another resource.
    #[error("The access token has an invalid audience '{0}'.")]
    Audience(String),
}

/// Issues and verifies tokens.
pub struct TokenIssuer {
    key: Vec<u8>,
    tenant: String,
}

impl TokenIssuer {
    /// New issuer with a random key.
    pub fn new(tenant: &str) -> Self {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        TokenIssuer {
            key,
            tenant: tenant.to_string(),
        }
    }

    /// Signs a token for `aud`, returning it with its expiry (unix seconds).
    /// The caller's application and object IDs are derived from `sub`.
    pub fn issue(&self, aud: &str, sub: &str, typ: &str) -> (String, i64) {
        self.issue_access(aud, sub, typ, Vec::new())
    }

    /// [`TokenIssuer::issue`] carrying ACR grants.
    pub fn issue_access(
        &self,
        aud: &str,
        sub: &str,
        typ: &str,
        access: Vec<AccessEntry>,
    ) -> (String, i64) {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            aud: aud.to_string(),
            iss: format!("https://sts.windows.net/{}/", self.tenant),
            sub: sub.to_string(),
            tid: self.tenant.clone(),
            iat: now,
            nbf: now - 300,
            exp: now + TOKEN_LIFETIME_SECS,
            typ: typ.to_string(),
            appid: sub.to_string(),
            oid: object_id(&self.tenant, sub),
            access,
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        (format!("{signing_input}.{sig}"), claims.exp)
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Verifies signature and expiry of a token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Invalid);
        };
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Invalid)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(format!("{h}.{p}").as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Invalid)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        if claims.exp <= chrono::Utc::now().timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Checks the `Authorization: Bearer` header of a request: a valid AAD
    /// token whose audience is one of `audiences` (compared without a trailing `/`).
    pub fn check_bearer(
        &self,
        headers: &HeaderMap,
        audiences: &[&str],
    ) -> Result<Claims, TokenError> {
        let token = bearer(headers).ok_or(TokenError::Missing)?;
        let claims = self.verify(token)?;
        if claims.typ != "aad" {
            return Err(TokenError::Invalid);
        }
        let aud = claims.aud.trim_end_matches('/');
        if !audiences
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(aud))
        {
            return Err(TokenError::Audience(claims.aud.clone()));
        }
        Ok(claims)
    }
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Audiences accepted by ARM.
pub const ARM_AUDIENCES: &[&str] = &[
    "https://management.azure.com",
    "https://management.core.windows.net",
];
/// Audiences accepted by the Log Analytics query API.
pub const LOG_ANALYTICS_AUDIENCES: &[&str] = &["https://api.loganalytics.io"];
/// Audiences of the Entra ID tokens ACR's `/oauth2/exchange` accepts: ARM's
/// (what `az acr login` sends) and ACR's own resource.
pub const ACR_AUDIENCES: &[&str] = &[
    "https://management.azure.com",
    "https://management.core.windows.net",
    "https://containerregistry.azure.net",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let issuer = TokenIssuer::new("t");
        let (tok, _) = issuer.issue("https://management.azure.com", "c", "aad");
        assert_eq!(
            issuer.verify(&tok).map(|c| c.sub).ok(),
            Some("c".to_string())
        );
        let mut bad = tok.clone();
        bad.push('x');
        assert_eq!(issuer.verify(&bad).err(), Some(TokenError::Invalid));
        let other = TokenIssuer::new("t");
        assert_eq!(other.verify(&tok).err(), Some(TokenError::Invalid));
        assert_eq!(issuer.verify("a.b").err(), Some(TokenError::Invalid));
    }

    #[test]
    fn audience_is_checked() {
        let issuer = TokenIssuer::new("t");
        let (tok, _) = issuer.issue("https://api.loganalytics.io", "c", "aad");
        let mut h = HeaderMap::new();
        h.insert("authorization", format!("Bearer {tok}").parse().unwrap());
        assert!(issuer.check_bearer(&h, LOG_ANALYTICS_AUDIENCES).is_ok());
        assert!(matches!(
            issuer.check_bearer(&h, ARM_AUDIENCES),
            Err(TokenError::Audience(_))
        ));
        assert_eq!(
            issuer.check_bearer(&HeaderMap::new(), ARM_AUDIENCES).err(),
            Some(TokenError::Missing)
        );
    }
}
