//! The build context on its way to ACR Tasks: the client's tar gzipped as
//! it arrives (a gzip context passes unchanged), in bounded chunks: the
//! context is never held, whatever its size.

use std::io::{Read, Write};

use bytes::Bytes;
use futures_util::Stream;
use sockerless_api::ByteStream;
use tokio::sync::mpsc;

use crate::images::import::ChannelReader;

/// Bytes per chunk handed to the upload.
const CHUNK: usize = 256 * 1024;
/// Chunks queued between the compressor and the upload.
const DEPTH: usize = 8;

/// Writes into the channel in chunks of [`CHUNK`].
struct ChunkWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::other("the upload stopped"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

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
    let (tx, rx) = mpsc::channel(DEPTH);
    let reader = ChannelReader::spawn(context);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        if let Err(e) = compress(reader, &mut out) {
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item, rx))
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
        let tar = vec![7u8; 3 * CHUNK + 11];
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
