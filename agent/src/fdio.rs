//! [`FdIo`]: a pipe end or pty master of a process, driven by tokio without
//! ever blocking a runtime thread.
//!
//! `O_NONBLOCK` is not enough for pipes: a process that `splice`s into its
//! stdout (Rust's `std::io::copy` from a socket does) holds the pipe's mutex
//! while it waits for its source, and a `read` of the other end sleeps on
//! that mutex whatever the flags say. Done on a runtime worker, that read
//! stalled the whole agent until the process got its data, which could be
//! the very data the stalled agent had to deliver. So readiness comes from
//! the reactor (no thread is held while a pipe is empty), and the syscall
//! itself runs on the blocking pool, where sleeping on a mutex is harmless.
//! Writes (a process splicing from its stdin) are done the same way.

// unsafe: non-blocking flags and read/write(2) on a process's pipe or pty descriptor.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

/// Largest single read or write handed to the blocking pool.
const MAX_CHUNK: usize = 64 * 1024;

type ReadDone = (io::Result<usize>, Vec<u8>);

/// A non-blocking descriptor (pipe end or pty master).
pub(crate) struct FdIo {
    fd: AsyncFd<Arc<OwnedFd>>,
    read: tokio::sync::Mutex<ReadState>,
}

/// What a read cancelled while its syscall ran still holds, so the bytes
/// reach the next read instead of being lost.
#[derive(Default)]
struct ReadState {
    in_flight: Option<JoinHandle<ReadDone>>,
    ready: Vec<u8>,
    pos: usize,
}

enum Step {
    Data,
    Eof,
    WouldBlock,
    Retry,
}

impl FdIo {
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Self> {
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        // SAFETY: the Arc moves into the AsyncFd, so the descriptor stays
        // open (and the same file description) for the AsyncFd's lifetime;
        // blocking calls hold clones, which only delay the close.
        let fd = unsafe { AsyncFd::register(Arc::new(fd)) }.map_err(|e| e.into_parts().1)?;
        Ok(FdIo {
            fd,
            read: tokio::sync::Mutex::new(ReadState::default()),
        })
    }

    /// Reads; 0 means end of stream (EIO from a pty whose slave closed
    /// counts as end). Cancel-safe: bytes read by a cancelled call are
    /// returned by the next one.
    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut st = self.read.lock().await;
        loop {
            if st.pos < st.ready.len() {
                let n = buf.len().min(st.ready.len() - st.pos);
                buf[..n].copy_from_slice(&st.ready[st.pos..st.pos + n]);
                st.pos += n;
                return Ok(n);
            }
            if st.in_flight.is_some() {
                // Left by a cancelled call: its outcome first.
                match finish(&mut st).await? {
                    Step::Data => continue,
                    Step::Eof => return Ok(0),
                    Step::WouldBlock | Step::Retry => {}
                }
            }
            let mut guard = self.fd.readable().await?;
            let fd = guard.get_inner().clone();
            let len = buf.len().min(MAX_CHUNK);
            st.in_flight = Some(tokio::task::spawn_blocking(move || {
                let mut data = vec![0u8; len];
                // SAFETY: data is valid for len bytes; the Arc keeps fd open.
                let n = unsafe { libc::read(fd.as_raw_fd(), data.as_mut_ptr().cast(), len) };
                (result(n), data)
            }));
            match finish(&mut st).await? {
                Step::Data => continue,
                Step::Eof => return Ok(0),
                Step::WouldBlock => guard.clear_ready(),
                Step::Retry => {}
            }
        }
    }

    /// Writes all of `data`. Not cancel-safe (as `AsyncWriteExt::write_all`):
    /// a cancelled call may have written part of `data`.
    pub(crate) async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.fd.writable().await?;
            let fd = guard.get_inner().clone();
            let chunk = data[..data.len().min(MAX_CHUNK)].to_vec();
            let written = tokio::task::spawn_blocking(move || {
                // SAFETY: chunk is valid for its length; the Arc keeps fd open.
                let n = unsafe { libc::write(fd.as_raw_fd(), chunk.as_ptr().cast(), chunk.len()) };
                result(n)
            })
            .await
            .map_err(io::Error::other)?;
            match written {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Waits for the in-flight read; its bytes become `ready`.
async fn finish(st: &mut ReadState) -> io::Result<Step> {
    let Some(task) = st.in_flight.as_mut() else {
        return Ok(Step::Retry);
    };
    let joined = task.await;
    st.in_flight = None;
    let (res, mut data) = joined.map_err(io::Error::other)?;
    match res {
        Ok(0) => Ok(Step::Eof),
        Ok(n) => {
            data.truncate(n);
            st.ready = data;
            st.pos = 0;
            Ok(Step::Data)
        }
        Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(Step::Eof),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Step::WouldBlock),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Step::Retry),
        Err(e) => Err(e),
    }
}

fn result(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests;
