//! The build context on its way to ACR Tasks: the client's tar gzipped as
//! it arrives (a gzip context passes unchanged), in bounded chunks: the
//! context is never held, whatever its size (`binds::pipe`'s writer).

use std::io::{Read, Write};

use bytes::Bytes;
use futures_util::Stream;
use sockerless_api::ByteStream;

use crate::binds::pipe::ChunkWriter;
use crate::images::import::ChannelReader;

/// Copies `input` into `out`, gzipping it unless it is gzip already.
fn compress(mut input: impl Read, out: &mut ChunkWriter) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        let got = input.read(&mut head[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let mut whole = std::io::Cursor::new(head[..n].to_vec()).chain(input);
    if n == 2 && head == [0x1f, 0x8b] {
        std::io::copy(&mut whole, out)?;
    } else {
        let mut gz = flate2::write::GzEncoder::new(&mut *out, flate2::Compression::fast());
        std::io::copy(&mut whole, &mut gz)?;
        gz.finish()?;
    }
    out.flush()
}

/// The context as a gzip stream; a failure to read it ends the stream
/// with the error.
pub fn gzipped(context: ByteStream) -> impl Stream<Item = std::io::Result<Bytes>> + Send {
    let (mut out, rx) = crate::binds::pipe::writer(u64::MAX);
    let reader = ChannelReader::spawn(context);
    let task = tokio::task::spawn_blocking(move || compress(reader, &mut out));
    futures_util::stream::unfold((rx, Some(task)), |(mut rx, task)| async move {
        if let Some(chunk) = rx.recv().await {
            return Some((Ok(chunk), (rx, task)));
        }
        // The writer is gone: the compressor ended; its error, if any, last.
        let failed = match task?.await {
            Ok(Ok(())) => return None,
            Ok(Err(e)) => e,
            Err(e) => std::io::Error::other(format!("compressing the context: {e}")),
        };
        Some((Err(failed), (rx, None)))
    })
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;

    async fn through(
        input: Vec<Result<Bytes, sockerless_api::ApiError>>,
    ) -> std::io::Result<Vec<u8>> {
        let stream: ByteStream = Box::pin(futures_util::stream::iter(input));
        let mut out = Vec::new();
        let mut s = std::pin::pin!(gzipped(stream));
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_tar_is_gzipped_and_a_gzip_passes_unchanged() {
        let tar = vec![7u8; 3 * 256 * 1024 + 11];
        let gz = through(vec![Ok(Bytes::from(tar.clone()))])
            .await
            .expect("gzip");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .expect("gunzip");
        assert_eq!(back, tar);
        let again = through(vec![
            Ok(Bytes::from(gz[..1].to_vec())),
            Ok(Bytes::from(gz[1..].to_vec())),
        ])
        .await
        .expect("pass");
        assert_eq!(again, gz);
    }

    #[tokio::test]
    async fn a_broken_context_ends_with_its_error() {
        let err = through(vec![
            Ok(Bytes::from_static(b"abc")),
            Err(sockerless_api::ApiError::InvalidParameter(
                "client went away".into(),
            )),
        ])
        .await
        .expect_err("error");
        assert!(err.to_string().contains("client went away"), "{err}");
    }
}
