//! Shared Key authorization of the Azure Files data plane: the service
//! rebuilds the string to sign from the request and compares HMAC-SHA256
//! signatures made with the account key.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest accepted distance between `x-ms-date` and now.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Standard headers in the order the string to sign lists them.
const STANDARD_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters, decoded.
pub fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (decode_component(k), decode_component(v)),
            None => (decode_component(kv), String::new()),
        })
        .collect()
}

/// The string to sign of a request, for `account`. The canonical resource
/// is `/{account}` plus the path after `/files/{account}` (the path of the
/// account's file endpoint, as in Azure where the endpoint has no path).
pub fn string_to_sign(method: &Method, uri: &Uri, headers: &HeaderMap, account: &str) -> String {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut out = format!("{method}\n");
    for h in STANDARD_HEADERS {
        let mut v = get(h);
        if h == "content-length" && v == "0" {
            v.clear();
        }
        out.push_str(&v);
        out.push('\n');
    }
    let mut ms: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in headers {
        let k = k.as_str().to_ascii_lowercase();
        if k.starts_with("x-ms-") {
            let v = v.to_str().unwrap_or_default().trim();
            let folded = v.split_whitespace().collect::<Vec<_>>().join(" ");
            ms.insert(k, folded);
        }
    }
    for (k, v) in ms {
        out.push_str(&format!("{k}:{v}\n"));
    }
    let prefix = format!("/files/{account}");
    let path = uri.path().strip_prefix(&prefix).unwrap_or(uri.path());
    out.push_str(&format!("/{account}{path}"));
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query_pairs(uri) {
        params.entry(k.to_ascii_lowercase()).or_default().push(v);
    }
    for (k, mut vs) in params {
        vs.sort();
        out.push_str(&format!("\n{k}:{}", vs.join(",")));
    }
    out
}

/// Why a request is not authorized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No or malformed `Authorization`.
    Missing(String),
    /// Wrong account, wrong signature, stale date.
    Failed(String),
}

/// Checks `Authorization: SharedKey {account}:{signature}` against `key`
/// (base64) and the request's date.
pub fn verify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    account: &str,
    key_b64: &str,
) -> Result<(), AuthFailure> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AuthFailure::Missing("The Authorization header is missing.".into()))?;
    let Some((who, sig)) = auth
        .strip_prefix("SharedKey ")
        .and_then(|rest| rest.split_once(':'))
    else {
        return Err(AuthFailure::Missing(
            "Only Shared Key authorization (SharedKey account:signature) is supported.".into(),
        ));
    };
    if who != account {
        return Err(AuthFailure::Failed(format!(
            "The account {who} of the signature does not match the account {account} of the URL."
        )));
    }
    let date = headers
        .get("x-ms-date")
        .or_else(|| headers.get("date"))
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AuthFailure::Failed("Neither x-ms-date nor Date is given.".into()))?;
    let when = chrono::DateTime::parse_from_rfc2822(date)
        .map_err(|_| AuthFailure::Failed(format!("The date '{date}' is not an RFC 1123 date.")))?;
    let skew = (chrono::Utc::now().timestamp() - when.timestamp()).abs();
    if skew > MAX_SKEW_SECS {
        return Err(AuthFailure::Failed(format!(
            "Request date '{date}' is more than 15 minutes away from the server time."
        )));
    }
    let key = STANDARD
        .decode(key_b64)
        .map_err(|_| AuthFailure::Failed("The account key is not base64.".into()))?;
    let sts = string_to_sign(method, uri, headers, account);
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return Err(AuthFailure::Failed("bad key".into()));
    };
    mac.update(sts.as_bytes());
    let given = STANDARD
        .decode(sig)
        .map_err(|_| AuthFailure::Failed("The signature is not base64.".into()))?;
    mac.verify_slice(&given).map_err(|_| {
        AuthFailure::Failed(format!(
            "The MAC signature found in the HTTP request '{sig}' is not the same as any computed signature. Server used following string to sign: '{}'.",
            sts.replace('\n', "\\n")
        ))
    })
}
