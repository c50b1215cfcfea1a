//! Service SAS of the emulated blob endpoint: a token in the query
//! (`sv`, `se`, `sr=b`, `sp`, `sig`) signed with the emulator's per-start
//! key, as Azure Storage signs with the account key. The string to sign
//! names the blob, so a token is good for that one blob only.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The service version the tokens name (the one `az acr build` sees).
pub const SAS_VERSION: &str = "2018-03-28";

/// Why a request's SAS does not authorise it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// A field is missing or malformed.
    #[error("Signature fields not well formed.")]
    Malformed,
    /// The signature does not match the blob and fields.
    #[error("Signature did not match. String to sign used was {0}")]
    Signature(String),
    /// `se` is past.
    #[error("Signed expiry time [{0}] must be after signed start time.")]
    Expired(String),
    /// `sp` lacks the permission the operation needs.
    #[error("This request is not authorized to perform this operation using this permission.")]
    Permission,
}

fn string_to_sign(resource: &str, sp: &str, se: &str, sv: &str, sr: &str) -> String {
    format!("{sp}\n{se}\n/blob/{resource}\n{sv}\n{sr}")
}

fn signature(key: &[u8], text: &str) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(text.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Percent-encodes the characters of a SAS value that a query cannot carry
/// as they are (the signature's base64 and the expiry's colons).
fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for c in v.chars() {
        match c {
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
    out
}

/// The query of a SAS for `resource` (`account/container/path`) with
/// permissions `sp` until `expiry`.
pub fn sign(key: &[u8], resource: &str, sp: &str, expiry: DateTime<Utc>) -> String {
    let se = expiry.to_rfc3339_opts(SecondsFormat::Secs, true);
    let sig = signature(key, &string_to_sign(resource, sp, &se, SAS_VERSION, "b"));
    format!(
        "sv={SAS_VERSION}&se={}&sr=b&sp={sp}&sig={}",
        encode(&se),
        encode(&sig)
    )
}

/// Checks the (decoded) query of a request on `resource` at `now` for a
/// token carrying one of the permissions in `need` (e.g. `"cw"` to write).
pub fn verify(
    key: &[u8],
    resource: &str,
    query: &HashMap<String, String>,
    now: DateTime<Utc>,
    need: &str,
) -> Result<(), SasError> {
    let field = |k: &str| query.get(k).map(String::as_str).ok_or(SasError::Malformed);
    let (sv, se, sr, sp, sig) = (
        field("sv")?,
        field("se")?,
        field("sr")?,
        field("sp")?,
        field("sig")?,
    );
    let text = string_to_sign(resource, sp, se, sv, sr);
    let expected = signature(key, &text);
    // Constant-time enough for an emulator: both are fixed-length base64.
    if expected.len() != sig.len()
        || expected
            .bytes()
            .zip(sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
    {
        return Err(SasError::Signature(text.replace('\n', "\\n")));
    }
    let expiry = DateTime::parse_from_rfc3339(se).map_err(|_| SasError::Malformed)?;
    if expiry.with_timezone(&Utc) <= now {
        return Err(SasError::Expired(se.to_string()));
    }
    if !need.chars().any(|p| sp.contains(p)) {
        return Err(SasError::Permission);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(query: &str) -> HashMap<String, String> {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                let v = v
                    .replace("%2B", "+")
                    .replace("%2F", "/")
                    .replace("%3D", "=")
                    .replace("%3A", ":");
                (k.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn a_token_opens_its_blob_for_its_permissions_until_it_expires() {
        let key = b"0123456789abcdef";
        let now = Utc::now();
        let q = decoded(&sign(
            key,
            "acct/c/source/x.tar.gz",
            "cw",
            now + chrono::Duration::hours(1),
        ));
        assert_eq!(q["sr"], "b");
        assert_eq!(verify(key, "acct/c/source/x.tar.gz", &q, now, "cw"), Ok(()));
        assert_eq!(
            verify(key, "acct/c/source/x.tar.gz", &q, now, "r"),
            Err(SasError::Permission)
        );
        assert!(matches!(
            verify(key, "acct/c/source/other.tar.gz", &q, now, "cw"),
            Err(SasError::Signature(_))
        ));
        assert!(matches!(
            verify(b"another key", "acct/c/source/x.tar.gz", &q, now, "cw"),
            Err(SasError::Signature(_))
        ));
        assert!(matches!(
            verify(
                key,
                "acct/c/source/x.tar.gz",
                &q,
                now + chrono::Duration::hours(2),
                "cw"
            ),
            Err(SasError::Expired(_))
        ));
        let mut forged = q.clone();
        forged.insert("sp".into(), "rcw".into());
        assert!(matches!(
            verify(key, "acct/c/source/x.tar.gz", &forged, now, "r"),
            Err(SasError::Signature(_))
        ));
        forged.remove("sig");
        assert_eq!(
            verify(key, "acct/c/source/x.tar.gz", &forged, now, "r"),
            Err(SasError::Malformed)
        );
    }
}
