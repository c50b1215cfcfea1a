//! What travels on the internal HTTP API besides Docker's models: small
//! request bodies, header names, and the WebSocket framing of streams.
//!
//! Stream framing (one WebSocket per stream, see the crate README):
//! - server → client, binary: 1 stream byte (0 stdin, 1 stdout, 2 stderr) + payload;
//! - server → client, text: [`ServerText`]: `{"item": ...}` (progress, events)
//!   or a terminal `{"error": {"status": 404, "message": "..."}}`;
//! - client → server, binary: input bytes (stdin, tar, image tarball);
//! - client → server, text: [`ClientText`]: `{"type": "close_stdin"}` ends the
//!   input, `{"type": "abort", "message": "..."}` fails it;
//! - a normal Close ends the stream; a connection lost without one is an error.

use bytes::{BufMut, Bytes, BytesMut};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::{ApiError, Filters, OutputChunk, StreamKind, WaitCondition};

/// Header on the 101 of output streams: `true` when the process has a TTY.
pub const TTY_HEADER: &str = "x-sockerless-tty";
/// Header on the 101 of `archive/get`: the percent-encoded JSON [`crate::PathStat`].
pub const PATH_STAT_HEADER: &str = "x-sockerless-path-stat";
/// Request header of `images/pull`: percent-encoded JSON `AuthConfig` (kept out of URLs and logs).
pub const REGISTRY_AUTH_HEADER: &str = "x-registry-auth";
/// Header on a 304 (which has no body): the percent-encoded error message.
pub const ERROR_HEADER: &str = "x-sockerless-error";
/// Largest payload of one binary frame; longer chunks are split.
pub const MAX_FRAME_PAYLOAD: usize = 256 * 1024;
/// Largest JSON request body the server accepts.
pub const MAX_JSON_BODY: usize = 16 * 1024 * 1024;

/// Body of `container/{id}/kill`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillBody {
    /// Signal name or number; the container's default when absent.
    pub signal: Option<String>,
}

/// Body of `container/{id}/wait`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitBody {
    /// When to return.
    pub condition: WaitCondition,
}

/// Body of `container/{id}/resize` and `exec/{id}/resize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeBody {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
}

/// Body of `container/{id}/rename`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameBody {
    /// The new name.
    pub name: String,
}

/// Body (or stream options) naming a path in a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathBody {
    /// Absolute path inside the container.
    pub path: String,
}

/// Body of `image/{name}/tag`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagBody {
    /// Target repository.
    pub repo: String,
    /// Target tag; `latest` when absent.
    pub tag: Option<String>,
}

/// Body of list and prune operations that take only filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiltersBody {
    /// Docker filters.
    pub filters: Filters,
}

/// Body of `volume/{name}/remove`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRemoveBody {
    /// Remove even if in use.
    pub force: bool,
}

/// Options of the `system/events` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsOptions {
    /// Events at or after, in ns since the epoch.
    pub since_nanos: Option<i64>,
    /// Events before, in ns since the epoch; the stream ends there.
    pub until_nanos: Option<i64>,
    /// Docker filters.
    pub filters: Filters,
}

/// Options of the `images/load` stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Less progress output.
    pub quiet: bool,
}

/// Body of `container top`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopBody {
    /// `ps` arguments, as `docker top` passes them.
    #[serde(default)]
    pub ps_args: Option<String>,
}

/// Options of `container stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsOptions {
    /// Stream a sample each second.
    pub stream: bool,
    /// With `stream` false: one sample, without the second one for `precpu_stats`.
    pub one_shot: bool,
}

/// Options of the `images/save` stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveOptions {
    /// The images to save.
    pub names: Vec<String>,
}

/// Options of the `images/push` stream (the login travels in
/// [`REGISTRY_AUTH_HEADER`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOptions {
    /// The image name.
    pub name: String,
    /// The tag, when not part of the name.
    pub tag: Option<String>,
}

/// Body of `distribution/inspect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistributionBody {
    /// The image name.
    pub name: String,
    /// The user's registry login.
    pub auth: Option<crate::docker::AuthConfig>,
}

/// An error as carried in a terminal stream frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// HTTP status of the error kind.
    pub status: u16,
    /// The message.
    pub message: String,
}

impl From<&ApiError> for WireError {
    fn from(e: &ApiError) -> Self {
        WireError {
            status: e.status().as_u16(),
            message: e.message().to_owned(),
        }
    }
}

impl From<WireError> for ApiError {
    fn from(e: WireError) -> Self {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError::from_status(status, e.message)
    }
}

/// A text frame from server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerText {
    /// One item of a JSON stream (progress message, event).
    Item(serde_json::Value),
    /// The stream failed; nothing follows.
    Error(WireError),
}

/// A text frame from client to server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientText {
    /// The input is complete (stdin half-close, end of an upload).
    CloseStdin,
    /// The input failed on the client's side; the operation must not succeed.
    Abort {
        /// Why.
        message: String,
    },
}

/// A frame that does not follow the framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed stream frame: {0}")]
pub struct FrameError(String);

impl From<FrameError> for ApiError {
    fn from(e: FrameError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Binary frames for one output chunk (split at [`MAX_FRAME_PAYLOAD`]; an
/// empty chunk gives one frame with just the stream byte).
pub fn encode_output(chunk: &OutputChunk) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(chunk.data.len() / MAX_FRAME_PAYLOAD + 1);
    let mut pieces = chunk.data.chunks(MAX_FRAME_PAYLOAD).peekable();
    if pieces.peek().is_none() {
        return vec![Bytes::copy_from_slice(&[chunk.stream.as_byte()])];
    }
    for piece in pieces {
        let mut buf = BytesMut::with_capacity(piece.len() + 1);
        buf.put_u8(chunk.stream.as_byte());
        buf.put_slice(piece);
        frames.push(buf.freeze());
    }
    frames
}

/// Parses a server→client binary frame.
pub fn decode_output(frame: &Bytes) -> Result<OutputChunk, FrameError> {
    let Some(&first) = frame.first() else {
        return Err(FrameError("empty binary frame".into()));
    };
    let stream = StreamKind::from_byte(first)
        .ok_or_else(|| FrameError(format!("unknown stream byte {first}")))?;
    Ok(OutputChunk {
        stream,
        data: frame.slice(1..),
    })
}

/// Encodes a server→client text frame.
pub fn encode_server_text(text: &ServerText) -> String {
    // Serializing a Value or two plain fields cannot fail.
    serde_json::to_string(text).unwrap_or_else(|e| {
        format!(r#"{{"error":{{"status":500,"message":"encode frame: {e}"}}}}"#)
    })
}

/// Parses a server→client text frame.
pub fn decode_server_text(text: &str) -> Result<ServerText, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError(format!("text frame: {e}")))
}

/// Encodes a client→server text frame.
pub fn encode_client_text(text: &ClientText) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| r#"{"type":"abort","message":"encode"}"#.into())
}

/// Parses a client→server text frame.
pub fn decode_client_text(text: &str) -> Result<ClientText, FrameError> {
    serde_json::from_str(text).map_err(|e| FrameError(format!("text frame: {e}")))
}

/// Everything but RFC 3986's unreserved characters.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters (for path
/// segments, query values and header values).
pub fn pct_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

/// Reverses [`pct_encode`]; `None` on a bad escape or invalid UTF-8 (the
/// crate's decoder passes a malformed escape through: refused here first).
pub fn pct_decode(s: &str) -> Option<String> {
    let well_formed = s.match_indices('%').all(|(at, _)| {
        s.get(at + 1..at + 3)
            .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_round_trips_and_splits() {
        let chunk = OutputChunk {
            stream: StreamKind::Stderr,
            data: Bytes::from(vec![7u8; MAX_FRAME_PAYLOAD + 3]),
        };
        let frames = encode_output(&chunk);
        assert_eq!(frames.len(), 2);
        let mut data = Vec::new();
        for f in &frames {
            let c = decode_output(f).expect("decode");
            assert_eq!(c.stream, StreamKind::Stderr);
            data.extend_from_slice(&c.data);
        }
        assert_eq!(data, chunk.data);
        assert!(decode_output(&Bytes::new()).is_err());
        assert!(decode_output(&Bytes::from_static(&[3, 1])).is_err());
    }

    #[test]
    fn text_frames_have_the_documented_shape() {
        let e = ServerText::Error(WireError {
            status: 404,
            message: "no".into(),
        });
        assert_eq!(
            encode_server_text(&e),
            r#"{"error":{"status":404,"message":"no"}}"#
        );
        assert_eq!(
            encode_client_text(&ClientText::CloseStdin),
            r#"{"type":"close_stdin"}"#
        );
        let item = decode_server_text(r#"{"item":{"status":"Pulling"}}"#).expect("item");
        assert_eq!(
            item,
            ServerText::Item(serde_json::json!({"status": "Pulling"}))
        );
        assert!(decode_server_text(r#"{"item":1,"error":2}"#).is_err());
    }

    #[test]
    fn pct_round_trip() {
        let s = "docker.io/library/busybox:latest ü%";
        assert_eq!(pct_decode(&pct_encode(s)).as_deref(), Some(s));
        assert_eq!(pct_decode("%zz"), None);
        assert_eq!(pct_decode("%4"), None);
    }
}
