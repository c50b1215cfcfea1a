//! Docker's stream encodings: the 8-byte multiplexed framing of attach, exec
//! and logs output, and the JSON-lines progress of pulls and loads.

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sockerless_api::docker::CreateImageInfo;
use sockerless_api::{
    ApiError, AttachedOutput, ByteStream, OutputChunk, ProgressStream, StreamKind,
};

use crate::v1_44;

/// `application/vnd.docker.multiplexed-stream`: output framed per stream.
pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
/// `application/vnd.docker.raw-stream`: TTY output, unframed.
pub const RAW: &str = "application/vnd.docker.raw-stream";

/// The content type Docker uses for an output stream: multiplexed framing for
/// non-TTY output from API 1.42 on, raw-stream otherwise.
pub fn stream_content_type(tty: bool, version_at_least_1_42: bool) -> &'static str {
    if !tty && version_at_least_1_42 {
        MULTIPLEXED
    } else {
        RAW
    }
}

/// Frames `data` for `stream`: `[stream, 0, 0, 0, len_be32]` then the bytes,
/// split into several frames if longer than a frame can say.
pub fn frame(stream: StreamKind, data: &[u8]) -> Bytes {
    let max = u32::MAX as usize;
    let mut out = BytesMut::with_capacity(data.len() + 8);
    for part in data.chunks(max) {
        out.put_u8(stream.as_byte());
        out.put_bytes(0, 3);
        // `chunks(u32::MAX)` bounds the length, so the cast cannot truncate.
        out.put_u32(part.len() as u32);
        out.put_slice(part);
    }
    out.freeze()
}

/// One output chunk as it goes on the wire: raw with a TTY, framed without.
pub fn encode_chunk(tty: bool, chunk: OutputChunk) -> Bytes {
    if tty {
        chunk.data
    } else if chunk.data.is_empty() {
        Bytes::new()
    } else {
        frame(chunk.stream, &chunk.data)
    }
}

/// An output stream as wire bytes; a backend error ends the stream with an
/// error (the client sees a broken transfer, never silently truncated output).
pub fn encode_output(
    output: AttachedOutput,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let tty = output.tty;
    output.output.map(move |item| match item {
        Ok(chunk) => Ok(encode_chunk(tty, chunk)),
        Err(err) => {
            tracing::warn!(error = %err, "output stream failed");
            Err(std::io::Error::other(err.message().to_owned()))
        }
    })
}

/// A tar (or any byte stream) as a response body; a backend error breaks
/// the transfer (the status is already sent).
pub fn byte_body(bytes: ByteStream) -> axum::body::Body {
    axum::body::Body::from_stream(
        bytes.map(|item| item.map_err(|err| std::io::Error::other(err.message().to_owned()))),
    )
}

/// A progress message as one JSON line; errors carry Docker's legacy `error`
/// field next to `errorDetail` (the CLI reads either).
pub fn progress_line(info: &CreateImageInfo) -> Bytes {
    sorted_json_line(&v1_44::CreateImageInfo::from_progress(info))
}

/// Docker's error line in a progress stream.
pub fn progress_error_line(err: &ApiError) -> Bytes {
    sorted_json_line(&v1_44::CreateImageInfo::error(err.message()))
}

/// A JSON value followed by Docker's stream newline (`\r\n`).
pub fn json_line(value: &impl serde::Serialize) -> Bytes {
    let mut line = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    line.extend_from_slice(b"\r\n");
    Bytes::from(line)
}

/// [`json_line`] with every object's keys in sorted order (as a
/// `serde_json::Value` holds them), whatever the fields' or maps' order: the
/// lines of models this frontend completes keep the bytes they always had.
pub fn sorted_json_line(value: &impl serde::Serialize) -> Bytes {
    json_line(&serde_json::to_value(value).unwrap_or_default())
}

/// A stream with its first item awaited: as dockerd, an error before
/// anything was sent is the response's status; otherwise the whole stream.
pub async fn first_error_as_status<T: Send + 'static>(
    mut items: std::pin::Pin<Box<dyn Stream<Item = Result<T, ApiError>> + Send>>,
) -> Result<impl Stream<Item = Result<T, ApiError>> + Send, ApiError> {
    let first = match items.next().await {
        Some(Err(err)) => return Err(err),
        other => other,
    };
    Ok(futures_util::stream::iter(first).chain(items))
}

/// A progress stream as JSON lines; a backend error becomes an error line and
/// ends the stream (the response status is already sent).
pub fn encode_progress(
    progress: ProgressStream,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::unfold((progress, false), |(mut progress, done)| async move {
        if done {
            return None;
        }
        match progress.next().await? {
            Ok(info) => Some((Ok(progress_line(&info)), (progress, false))),
            Err(err) => Some((Ok(progress_error_line(&err)), (progress, true))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn frames_have_docker_headers() {
        let framed = frame(StreamKind::Stderr, b"hello");
        assert_eq!(&framed[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&framed[8..], b"hello");
    }

    #[test]
    fn tty_chunks_are_raw() {
        let chunk = OutputChunk {
            stream: StreamKind::Stdout,
            data: Bytes::from_static(b"x"),
        };
        assert_eq!(encode_chunk(true, chunk.clone()), Bytes::from_static(b"x"));
        assert_eq!(encode_chunk(false, chunk).len(), 9);
    }

    #[test]
    fn error_lines_carry_both_fields() {
        let line = progress_error_line(&ApiError::NotFound("no such image".into()));
        let value: Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(value["error"], "no such image");
        assert_eq!(value["errorDetail"]["message"], "no such image");
        assert!(line.ends_with(b"\r\n"));
        assert_eq!(
            &line[..],
            b"{\"error\":\"no such image\",\"errorDetail\":{\"message\":\"no such image\"}}\r\n"
        );
    }

    #[test]
    fn progress_lines_repeat_an_errors_message_as_error() {
        let info = CreateImageInfo {
            id: Some("abc".into()),
            status: Some("Pulling".into()),
            error_detail: Some(sockerless_api::docker::ErrorDetail {
                code: None,
                message: Some("denied".into()),
            }),
            ..Default::default()
        };
        assert_eq!(
            &progress_line(&info)[..],
            b"{\"error\":\"denied\",\"errorDetail\":{\"message\":\"denied\"},\"id\":\"abc\",\"status\":\"Pulling\"}\r\n"
        );
    }
}
