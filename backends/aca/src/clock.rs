//! Time and random IDs, in one place for the whole backend: the store keeps
//! times as nanoseconds since the Unix epoch ([`now_nanos`]), Docker prints
//! them as RFC 3339 with nanoseconds ([`rfc3339`]), and every generated ID
//! (containers, execs, networks, endpoints, anonymous volumes, agent tokens)
//! is random lowercase hex ([`random_hex`]).
//!
//! A leaf: it uses nothing of the crate.

use sockerless_api::{ApiError, Result};

/// Go's zero `time.Time` as dockerd prints it (`FinishedAt` of a container
/// that never ran, `read` of a stats document without a sample).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds since the Unix epoch, now.
pub fn now_nanos() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// RFC 3339 with nanoseconds and no trailing zeros, as Go's
/// `time.RFC3339Nano` prints the times of dockerd's answers.
///
/// Every `i64` of nanoseconds (years 1677 to 2262) formats, so the fallback
/// ([`ZERO_TIME`], what dockerd prints for a time it does not have) is never
/// reached in practice; it is one for every field rather than `""` for some.
pub fn rfc3339(nanos: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ZERO_TIME.to_owned())
}

/// `n` random bytes as lowercase hex (`2 * n` characters).
pub fn random_hex(n: usize) -> Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf)
        .map_err(|e| ApiError::Internal(format!("no randomness available: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A 64-hex ID, as Docker's container, network and volume IDs.
pub fn random_id() -> Result<String> {
    random_hex(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_like_dockers_rfc3339_nano() {
        assert_eq!(
            rfc3339(1_767_225_602_123_000_000),
            "2026-01-01T00:00:02.123Z"
        );
        assert_eq!(
            rfc3339(1_767_225_602_000_000_001),
            "2026-01-01T00:00:02.000000001Z"
        );
        assert_eq!(rfc3339(1_767_225_602_000_000_000), "2026-01-01T00:00:02Z");
    }

    #[test]
    fn every_i64_of_nanoseconds_formats() {
        assert_eq!(rfc3339(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(rfc3339(i64::MAX), "2262-04-11T23:47:16.854775807Z");
    }

    #[test]
    fn now_is_after_2025() {
        assert!(now_nanos() > 1_735_689_600_000_000_000);
    }

    #[test]
    fn random_ids_are_hex_and_distinct() {
        let (a, b) = (random_id().expect("a"), random_id().expect("b"));
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_eq!(random_hex(8).expect("short").len(), 16);
    }
}
