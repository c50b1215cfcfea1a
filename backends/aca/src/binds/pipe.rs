//! Bridges between blocking tar code (on `spawn_blocking`) and agent
//! sessions: a bounded channel of chunks in each direction, so memory stays
//! bounded whatever the size of the tree.

use std::io::{Read, Write};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Chunks in flight between the blocking side and the session.
const DEPTH: usize = 8;
/// Size of the chunks a [`ChunkWriter`] sends.
const CHUNK: usize = 256 * 1024;

/// What the async side sends a [`ChunkReader`].
#[derive(Debug)]
pub enum Chunk {
    /// More bytes.
    Data(Bytes),
    /// The stream is complete: the reader sees EOF.
    End,
    /// The stream failed: the reader fails.
    Fail(String),
}

/// A `Read` over chunks sent from async code. Only [`Chunk::End`] is an
/// end of file: a [`Chunk::Fail`], or a sender gone without `End`, fails
/// the read, so a tar cut short is never taken for a whole one (whose
/// mirror would delete what it did not see).
pub struct ChunkReader {
    rx: mpsc::Receiver<Chunk>,
    current: Bytes,
    ended: bool,
}

/// The async side of a [`ChunkReader`].
pub type ChunkSender = mpsc::Sender<Chunk>;

/// A reader and the sender feeding it.
pub fn reader() -> (ChunkSender, ChunkReader) {
    let (tx, rx) = mpsc::channel(DEPTH);
    (
        tx,
        ChunkReader {
            rx,
            current: Bytes::new(),
            ended: false,
        },
    )
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(b)) => self.current = b,
                Some(Chunk::End) => self.ended = true,
                Some(Chunk::Fail(e)) => return Err(std::io::Error::other(e)),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the archive stream was cut short",
                    ));
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// A `Write` whose bytes arrive as chunks in async code; counts them and
/// fails past `limit`.
pub struct ChunkWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    written: u64,
    limit: u64,
    failed: bool,
}

/// A writer and the receiver of its chunks.
pub fn writer(limit: u64) -> (ChunkWriter, mpsc::Receiver<Bytes>) {
    let (tx, rx) = mpsc::channel(DEPTH);
    let w = ChunkWriter {
        tx,
        buf: Vec::with_capacity(CHUNK),
        written: 0,
        limit,
        failed: false,
    };
    (w, rx)
}

/// The error a [`ChunkWriter`] fails with past its limit.
#[derive(Debug, thiserror::Error)]
#[error("more than {0} bytes")]
pub struct TooLarge(pub u64);

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "receiver gone"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.written += data.len() as u64;
        if self.written > self.limit {
            self.failed = true;
            return Err(std::io::Error::other(TooLarge(self.limit)));
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl Drop for ChunkWriter {
    fn drop(&mut self) {
        if !self.failed {
            let _ = self.send();
        }
    }
}
