//! CHANGES_GET (peer → agent): the container's changes against its image
//! as a tar on the session's stdout (files added or changed, `.wh.`
//! whiteouts for deletions), then exit 0; an ERROR and exit 1 when they
//! cannot be recorded (none kept, too large). See `crate::changes`.

use serde::{Deserialize, Serialize};

use super::{DecodeError, Frame};

/// Kind byte of [`Frame::ChangesGet`].
pub(super) const CHANGES_GET: u8 = 0x72;

/// The JSON payload.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Payload {
    max_bytes: u64,
}

pub(super) fn payload(max_bytes: u64) -> Payload {
    Payload { max_bytes }
}

pub(super) fn decode(session: u32, payload: &[u8]) -> Result<Frame, DecodeError> {
    let p: Payload = super::from_json(payload)?;
    Ok(Frame::ChangesGet {
        session,
        max_bytes: p.max_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_payloads() {
        let f = Frame::ChangesGet {
            session: 7,
            max_bytes: 1 << 30,
        };
        let bytes = f.encode();
        assert_eq!(bytes[0], CHANGES_GET);
        assert_eq!(Frame::decode(&bytes), Ok(f));
        let mut bad = bytes.to_vec();
        bad.truncate(bad.len() - 2);
        assert!(matches!(
            Frame::decode(&bytes::Bytes::from(bad)),
            Err(DecodeError::Invalid(_))
        ));
    }
}
