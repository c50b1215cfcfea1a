//! RESTART and END: the peer's control of a lingering agent (one whose main
//! process exited while the execution, and so the filesystem, is kept).
//! Both are empty frames on session 0.

use bytes::{BufMut, BytesMut};

use super::{DecodeError, Frame, MAIN_SESSION};

/// Kind byte of [`Frame::Restart`].
pub(super) const RESTART: u8 = 0x70;
/// Kind byte of [`Frame::End`].
pub(super) const END: u8 = 0x71;

/// Prefix of the ERROR message (session 0) an agent answers a RESTART it
/// cannot honour with; other errors on session 0 (peers, unix listen) are
/// unrelated, so the peer tells them apart by this prefix.
pub const RESTART_REFUSED: &str = "restart refused: ";

pub(super) fn encode(kind: u8, out: &mut BytesMut) {
    out.put_u8(kind);
    out.put_u32(MAIN_SESSION);
}

pub(super) fn decode(kind: u8, session: u32) -> Result<Frame, DecodeError> {
    // Only the main process restarts: a frame naming another session is a
    // peer bug, refused rather than applied to session 0.
    if session != MAIN_SESSION {
        return Err(DecodeError::Invalid(format!(
            "frame 0x{kind:02x} on session {session}"
        )));
    }
    Ok(if kind == RESTART {
        Frame::Restart
    } else {
        Frame::End
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn round_trip() {
        for (frame, kind) in [(Frame::Restart, RESTART), (Frame::End, END)] {
            let bytes = frame.encode();
            assert_eq!(&bytes[..], &[kind, 0, 0, 0, 0][..]);
            assert_eq!(Frame::decode(&bytes), Ok(frame.clone()));
            assert_eq!(frame.session(), MAIN_SESSION);
        }
    }

    #[test]
    fn other_sessions_are_refused() {
        for kind in [RESTART, END] {
            let bytes = Bytes::from(vec![kind, 0, 0, 0, 7]);
            assert!(matches!(
                Frame::decode(&bytes),
                Err(DecodeError::Invalid(_))
            ));
        }
    }

    #[test]
    fn trailing_bytes_are_ignored_and_short_frames_truncated() {
        // As for CLOSE_STDIN: a payload-less frame tolerates a payload
        // (room for a later version), but not a short header.
        let bytes = Bytes::from(vec![RESTART, 0, 0, 0, 0, 1]);
        assert_eq!(Frame::decode(&bytes), Ok(Frame::Restart));
        let bytes = Bytes::from(vec![END, 0, 0]);
        assert_eq!(Frame::decode(&bytes), Err(DecodeError::Truncated));
    }
}
