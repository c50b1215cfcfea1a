//! Length-delimited framing for byte-stream transports.

use bytes::{BufMut, Bytes, BytesMut};

use super::{DecodeError, Frame, MAX_FRAME_LEN};

/// Reassembles length-delimited frames (`u32` big-endian length, then the frame)
/// from a byte stream, for transports without message boundaries.
#[derive(Debug, Default)]
pub struct DelimitedDecoder {
    buf: BytesMut,
}

impl DelimitedDecoder {
    /// Appends bytes read from the stream.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(DecodeError::TooLarge(len));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let _ = self.buf.split_to(4);
        let body = self.buf.split_to(len).freeze();
        Frame::decode(&body).map(Some)
    }
}

/// Encodes a frame with its `u32` length prefix (see [`DelimitedDecoder`]).
pub fn encode_delimited(frame: &Frame) -> Bytes {
    let body = frame.encode();
    let mut out = BytesMut::with_capacity(4 + body.len());
    out.put_u32(body.len() as u32);
    out.extend_from_slice(&body);
    out.freeze()
}
