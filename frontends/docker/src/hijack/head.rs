//! The upgraded connection, held back until the client has read the `101`
//! head.
//!
//! docker-py reads the head through a buffered reader and the stream from
//! the raw socket: bytes that arrive with the head sit in that buffer and are
//! lost (`exec_run` returning `b''` under load). dockerd gets away with it
//! because runc takes tens of milliseconds to start a process; our agent does
//! not. On a Unix socket the kernel tells how much of what was written the
//! peer has not read yet (`SIOCOUTQ` is zero once it read everything), so the first output byte is written
//! only once that is zero: the head was read on its own. Other transports
//! (TCP, TLS) have no such count and go on at once.
#![allow(unsafe_code)] // one ioctl on a socket this module owns: SIOCOUTQ

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;

/// How long a client may take to read the head before output goes anyway.
const HEAD_READ_LIMIT: Duration = Duration::from_secs(2);
/// The longest pause between two looks at the unread count.
const MAX_PAUSE: Duration = Duration::from_millis(16);

/// The hijacked connection: a Unix socket taken back from hyper (with the
/// bytes hyper had read past the request), or hyper's upgraded stream.
pub enum Hijacked {
    /// A Unix socket; `early` is what the client sent right behind its request.
    Unix {
        /// Bytes read by hyper but not part of the request (early stdin).
        early: Bytes,
        /// The client's socket.
        io: UnixStream,
    },
    /// Any other transport, as hyper hands it over.
    Other(TokioIo<Upgraded>),
}

impl Hijacked {
    /// Takes the connection from hyper and, on a Unix socket, waits (at most
    /// [`HEAD_READ_LIMIT`]) until the client has read everything written so
    /// far: the `101` head.
    pub async fn after_head_read(upgraded: Upgraded) -> Self {
        let parts = match upgraded.downcast::<TokioIo<UnixStream>>() {
            Ok(parts) => parts,
            Err(upgraded) => return Hijacked::Other(TokioIo::new(upgraded)),
        };
        let io = parts.io.into_inner();
        wait_until_read(&io).await;
        Hijacked::Unix {
            early: parts.read_buf,
            io,
        }
    }
}

/// Waits until the peer has read all that was written to `stream`, with
/// pauses growing from 1 ms to [`MAX_PAUSE`]; gives up after [`HEAD_READ_LIMIT`].
async fn wait_until_read(stream: &UnixStream) {
    let deadline = tokio::time::Instant::now() + HEAD_READ_LIMIT;
    let mut pause = Duration::from_millis(1);
    loop {
        match unread_by_peer(stream) {
            Ok(0) => return,
            Ok(_) if tokio::time::Instant::now() < deadline => {}
            Ok(unread) => {
                tracing::debug!(unread, "the client has not read the 101 head; going on");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "SIOCOUTQ failed; not waiting for the head to be read");
                return;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// What was written to `stream` and not read by its peer (`SIOCOUTQ`; on a
/// Unix socket the kernel's buffer sizes, so only zero is exact).
fn unread_by_peer(stream: &UnixStream) -> io::Result<usize> {
    let mut unread: libc::c_int = 0;
    // SAFETY: the fd is open for as long as `stream` is borrowed, and
    // SIOCOUTQ (TIOCOUTQ) writes one c_int through the pointer given.
    let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut unread) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(unread).unwrap_or(0))
}

impl AsyncRead for Hijacked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Hijacked::Unix { early, io } => {
                if early.has_remaining() {
                    let n = early.len().min(buf.remaining());
                    buf.put_slice(&early[..n]);
                    early.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Pin::new(io).poll_read(cx, buf)
            }
            Hijacked::Other(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Hijacked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Hijacked::Unix { io, .. } => Pin::new(io).poll_write(cx, buf),
            Hijacked::Other(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Hijacked::Unix { io, .. } => Pin::new(io).poll_flush(cx),
            Hijacked::Other(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Hijacked::Unix { io, .. } => Pin::new(io).poll_shutdown(cx),
            Hijacked::Other(io) => Pin::new(io).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_unread_count_falls_to_zero_once_the_peer_reads() {
        let (mut ours, mut theirs) = UnixStream::pair().expect("pair");
        assert_eq!(unread_by_peer(&ours).expect("ioctl"), 0);
        ours.write_all(b"HTTP/1.1 101 UPGRADED\r\n\r\n")
            .await
            .expect("write");
        // Counted in the kernel's buffer sizes, not bytes: only zero means something.
        assert!(unread_by_peer(&ours).expect("ioctl") > 0);
        let mut head = [0u8; 25];
        theirs.read_exact(&mut head).await.expect("read");
        assert_eq!(unread_by_peer(&ours).expect("ioctl"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_holds_the_output_at_most_the_limit() {
        let (mut ours, _theirs) = UnixStream::pair().expect("pair");
        ours.write_all(b"head").await.expect("write");
        let started = tokio::time::Instant::now();
        wait_until_read(&ours).await;
        let waited = started.elapsed();
        assert!(waited >= HEAD_READ_LIMIT, "{waited:?}");
        assert!(waited < HEAD_READ_LIMIT + MAX_PAUSE * 2, "{waited:?}");
    }

    #[tokio::test]
    async fn early_bytes_are_read_before_the_socket() {
        let (ours, mut theirs) = UnixStream::pair().expect("pair");
        theirs.write_all(b" world").await.expect("write");
        drop(theirs);
        let mut io = Hijacked::Unix {
            early: Bytes::from_static(b"hello"),
            io: ours,
        };
        let mut all = String::new();
        io.read_to_string(&mut all).await.expect("read");
        assert_eq!(all, "hello world");
    }
}
