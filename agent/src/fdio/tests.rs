//! Tests of `fdio.rs`: reads and writes on the blocking pool while a writer holds the pipe.

// unsafe: pipes and splice(2) made by hand to reproduce a blocked writer.
#![allow(unsafe_code)]

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::FdIo;

/// Guards against a hang (the failure mode under test), not a timing goal.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-element array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two fresh descriptors we now own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// The thread `tid` is inside a `splice` call.
fn in_splice(tid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<i64>().ok())
        == Some(libc::SYS_splice)
}

/// Runs `f` on its own thread; panics when it does not finish in time.
fn guarded(name: &str, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(HANG_GUARD)
        .unwrap_or_else(|_| panic!("{name}: the runtime thread is blocked"));
}

/// The way `std::io::copy(socket, stdout)` behaves in a container: a
/// `splice` from a socket into the stdout pipe, waiting for the socket with
/// the pipe's mutex held. A read of the pipe must not block the runtime's
/// only thread meanwhile, or the data the splice waits for never comes.
#[test]
fn a_read_does_not_block_the_runtime_while_a_process_splices_into_the_pipe() {
    guarded("pipe read", || {
        let (pipe_r, pipe_w) = pipe();
        let (src_far, mut src_near) = UnixStream::pair().expect("socketpair");
        src_near.write_all(b"hello ").expect("first bytes");
        let (tid_tx, tid_rx) = mpsc::channel();
        let splices = Arc::new(AtomicUsize::new(0));
        let done = splices.clone();
        let splicer = std::thread::spawn(move || {
            // SAFETY: gettid has no arguments.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            let mut total = 0;
            while total < 12 {
                // SAFETY: both descriptors are open; null offsets are allowed.
                let n = unsafe {
                    libc::splice(
                        src_far.as_raw_fd(),
                        std::ptr::null_mut(),
                        pipe_w.as_raw_fd(),
                        std::ptr::null_mut(),
                        4096,
                        0,
                    )
                };
                assert!(n > 0, "splice: {}", std::io::Error::last_os_error());
                total += n;
                done.fetch_add(1, Ordering::SeqCst);
            }
        });
        let tid = tid_rx.recv().expect("splicer tid");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let io = FdIo::new(pipe_r).expect("fdio");
            // "hello " is in the pipe and the second splice holds its mutex.
            while !(splices.load(Ordering::SeqCst) == 1 && in_splice(tid)) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 64];
                while got.len() < 12 {
                    let n = io.read(&mut buf).await.expect("read");
                    assert!(n > 0, "early end of stream");
                    got.extend_from_slice(&buf[..n]);
                }
                got
            });
            // The reader is now in its read; this thread must still run.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            src_near.write_all(b"world!").expect("last bytes");
            assert_eq!(reader.await.expect("reader"), b"hello world!");
        });
        splicer.join().expect("splicer");
    });
}

/// Bytes read by a call that was cancelled reach the next call.
#[test]
fn a_cancelled_read_loses_nothing() {
    guarded("cancelled read", || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (r, w) = pipe();
            let io = FdIo::new(r).expect("fdio");
            let mut w = std::fs::File::from(w);
            w.write_all(b"abcdef").expect("write");
            drop(w);
            let mut out = Vec::new();
            let mut buf = [0u8; 4];
            // Polled once, then dropped: the read may be in flight.
            {
                let fut = io.read(&mut buf);
                tokio::pin!(fut);
                let _ = futures_util::poll!(fut.as_mut());
            }
            loop {
                let n = io.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            assert_eq!(out, b"abcdef");
        });
    });
}

#[test]
fn writes_reach_the_pipe_and_a_closed_reader_is_an_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (r, w) = pipe();
        let io = FdIo::new(w).expect("fdio");
        let payload = vec![7u8; 200 * 1024];
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut all = Vec::new();
            std::fs::File::from(r).read_to_end(&mut all).expect("read");
            all
        });
        io.write_all(&payload).await.expect("write");
        drop(io);
        assert_eq!(reader.join().expect("reader"), payload);

        let (r, w) = pipe();
        drop(r);
        let io = FdIo::new(w).expect("fdio");
        assert!(io.write_all(b"x").await.is_err());
    });
}
