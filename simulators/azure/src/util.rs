//! Small helpers: time stamps, random names.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 time with offset, as ARM writes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Current time as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// `n` random characters from `[a-z0-9]`.
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in uuid::Uuid::new_v4().as_bytes() {
            if out.len() == n {
                break;
            }
            out.push(ALPHABET[(*b as usize) % ALPHABET.len()] as char);
        }
    }
    out
}
