//! Socket sessions: a TCP connection (or a Unix socket connection) inside
//! the container carried like an exec session. Bytes read from the socket are the session's stdout (same
//! offsets, window and acknowledgements); stdin is written to the socket
//! with the same credit; close-stdin half-closes; EOF or reset of the read
//! side ends the session with 0 or 1; a signal resets it (exit 137).
//!
//! Socket sessions belong to the connection they were opened on: when it
//! ends they are reset and forgotten (the peer's handles died with it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{Notify, mpsc, watch};

use crate::hub::{Hub, StdinMsg};
use crate::net;
use crate::protocol::{
    AGENT_SESSION_BASE, AcceptedOn, AckStream, Frame, MAIN_SESSION, OutputStream, TcpTarget,
};

/// Concurrent socket sessions per agent (connects and relay accepts together).
pub(crate) const MAX_SOCKETS: usize = 256;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Exit code of a session reset by a signal (128 + SIGKILL).
const EXIT_ABORTED: i32 = 137;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    /// The peer signalled the session: reset, exit 137.
    Signal,
    /// The connection the session belongs to ended: reset and forget.
    Disconnect,
}

type AbortRx = watch::Receiver<Option<Abort>>;

struct Live {
    abort: watch::Sender<Option<Abort>>,
}

#[derive(Default)]
struct State {
    /// Sessions with a running socket task.
    live: HashMap<u32, Live>,
    /// Every socket session the hub may still hold, with its connection's generation.
    owned: HashMap<u32, u64>,
    next_agent_id: u32,
    /// Generation of the connection being served.
    connection: Option<u64>,
}

/// The live socket sessions.
#[derive(Default)]
pub(crate) struct Sockets {
    state: Mutex<State>,
}

/// A reserved socket session: registered in the hub, counted against
/// [`MAX_SOCKETS`] until dropped.
pub(crate) struct Slot {
    sockets: Arc<Sockets>,
    id: u32,
    abort: AbortRx,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.sockets.lock().live.remove(&self.id);
    }
}

/// How the session is announced to the peer.
pub(crate) enum Announce {
    /// Answer to TCP_CONNECT.
    Started,
    /// A relay listener accepted the connection.
    Accepted(AcceptedOn),
    /// A Unix listener at this path accepted the connection.
    Unix(String),
}

/// A connected stream a socket session can carry.
pub(crate) trait Stream: Send + 'static {
    /// Read half.
    type Read: AsyncRead + Unpin + Send + 'static;
    /// Write half: dropping it half-closes.
    type Write: AsyncWrite + Unpin + Send + 'static;
    /// Splits the stream (after TCP's no-delay).
    fn split(self) -> (Self::Read, Self::Write);
    /// Makes the close a reset where the transport has one (TCP `SO_LINGER` 0).
    fn reset_on_close(read: &Self::Read);
    /// Drops the write half without the half-close (the read half still holds the socket).
    fn forget(write: Self::Write);
}

impl Stream for TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    fn split(self) -> (Self::Read, Self::Write) {
        let _ = self.set_nodelay(true);
        self.into_split()
    }
    fn reset_on_close(read: &Self::Read) {
        let _ = read.as_ref().set_zero_linger();
    }
    fn forget(write: Self::Write) {
        write.forget()
    }
}

impl Stream for UnixStream {
    type Read = tokio::net::unix::OwnedReadHalf;
    type Write = tokio::net::unix::OwnedWriteHalf;
    fn split(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
    fn reset_on_close(_: &Self::Read) {}
    fn forget(write: Self::Write) {
        write.forget()
    }
}

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A connection with this generation is now served.
    pub(crate) fn connected(&self, generation: u64) {
        self.lock().connection = Some(generation);
    }

    /// The connection with this generation ended: its sessions are reset
    /// and forgotten, exited ones included (nobody will acknowledge them).
    pub(crate) fn disconnected(&self, hub: &Hub, generation: u64) {
        let mut st = self.lock();
        if st.connection == Some(generation) {
            st.connection = None;
        }
        let State { live, owned, .. } = &mut *st;
        owned.retain(|id, g| {
            if *g != generation {
                return true;
            }
            match live.get(id) {
                Some(l) => {
                    l.abort.send_replace(Some(Abort::Disconnect));
                }
                None => hub.remove(*id),
            }
            false
        });
    }

    /// Resets a socket session on the peer's signal; false when `id` is not one.
    pub(crate) fn signal(&self, id: u32) -> bool {
        match self.lock().live.get(&id) {
            Some(live) => {
                live.abort.send_replace(Some(Abort::Signal));
                true
            }
            None => false,
        }
    }

    /// Reserves a session (`id`, or a fresh agent-chosen id) and registers it in the hub.
    pub(crate) fn reserve(self: &Arc<Self>, hub: &Hub, id: Option<u32>) -> Result<Slot, String> {
        let mut st = self.lock();
        let generation = st.connection.ok_or("no peer connected")?;
        let State { live, owned, .. } = &mut *st;
        owned.retain(|id, _| live.contains_key(id) || hub.contains(*id));
        if st.live.len() >= MAX_SOCKETS {
            return Err(format!("too many streams (at most {MAX_SOCKETS})"));
        }
        let id = match id {
            Some(id) => {
                hub.register_socket(id)?;
                id
            }
            None => {
                let mut found = None;
                for _ in 0..=MAX_SOCKETS {
                    let candidate = st.next_agent_id.max(AGENT_SESSION_BASE);
                    st.next_agent_id = candidate.checked_add(1).unwrap_or(AGENT_SESSION_BASE);
                    if hub.register_socket(candidate).is_ok() {
                        found = Some(candidate);
                        break;
                    }
                }
                found.ok_or("no free session id")?
            }
        };
        let (tx, rx) = watch::channel(None);
        st.owned.insert(id, generation);
        st.live.insert(id, Live { abort: tx });
        Ok(Slot {
            sockets: self.clone(),
            id,
            abort: rx,
        })
    }

    /// TCP_CONNECT: connects in the background, then STARTED (pid 0) or ERROR.
    pub(crate) fn connect(
        self: &Arc<Self>,
        hub: &Arc<Hub>,
        id: u32,
        target: TcpTarget,
    ) -> Result<(), String> {
        if id == MAIN_SESSION || id >= AGENT_SESSION_BASE {
            return Err(format!("tcp connect: session id {id} is reserved"));
        }
        let mut slot = self.reserve(hub, Some(id))?;
        let hub = hub.clone();
        tokio::spawn(async move {
            let connecting = tokio::time::timeout(CONNECT_TIMEOUT, dial(&target));
            let result = tokio::select! {
                r = connecting => r.unwrap_or_else(|_| {
                    Err(format!("connect {}:{}: timed out", target.host, target.port))
                }),
                _ = slot.abort.wait_for(Option::is_some) => Err("connect aborted".to_string()),
            };
            match result {
                Ok(stream) => run(hub, slot, stream, Announce::Started).await,
                Err(message) => {
                    tracing::debug!(session = id, %message, "tcp connect failed");
                    hub.remove(id);
                    drop(slot);
                    hub.push_control(Frame::Error {
                        session: id,
                        message,
                    });
                }
            }
        });
        Ok(())
    }
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => "timed out".into(),
        _ => e.to_string(),
    }
}

async fn dial(target: &TcpTarget) -> Result<TcpStream, String> {
    let prefix = format!("connect {}:{}", target.host, target.port);
    let addrs = net::resolve(&target.host, target.port)
        .await
        .map_err(|e| format!("{prefix}: {e}"))?;
    let mut last = format!("{prefix}: no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("{prefix}: {}", describe(&e)),
        }
    }
    Err(last)
}

/// Carries an open socket as session `slot.id` until it ends.
pub(crate) async fn run<S: Stream>(hub: Arc<Hub>, mut slot: Slot, stream: S, announce: Announce) {
    let id = slot.id;
    let (mut rd, wr) = stream.split();
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
    let write_failed = Arc::new(Notify::new());
    let mut writer = tokio::spawn(write_loop::<S>(
        hub.clone(),
        id,
        wr,
        stdin_rx,
        slot.abort.clone(),
        write_failed.clone(),
    ));
    hub.set_process(id, None, None, Some(stdin_tx));
    // The write side stays usable after the EXIT that reports the read side's EOF.
    hub.hold(id, true);
    hub.finish_stream(id, OutputStream::Stderr);
    // Queued before any output of the session can be.
    hub.push_control(match announce {
        Announce::Started => Frame::Started {
            session: id,
            pid: 0,
        },
        Announce::Accepted(on) => Frame::TcpAccepted { session: id, on },
        Announce::Unix(path) => Frame::UnixAccepted { session: id, path },
    });
    let ended = tokio::select! {
        a = wait_abort(&mut slot.abort) => Err(a),
        r = read_loop(&hub, id, &mut rd) => Ok(if r.is_ok() { 0 } else { 1 }),
        _ = write_failed.notified() => Ok(1),
    };
    let abort = match ended {
        Ok(code) => {
            hub.finish_stream(id, OutputStream::Stdout);
            hub.set_exit(id, code);
            // Stdin still flows (the remote end only half-closed, maybe)
            // until the peer closes it; a late signal still resets.
            tokio::select! {
                _ = &mut writer => None,
                a = wait_abort(&mut slot.abort) => Some(a),
            }
        }
        Err(a) => Some(a),
    };
    if let Some(a) = abort {
        // SO_LINGER 0: closing sends a reset instead of a FIN.
        S::reset_on_close(&rd);
        let _ = (&mut writer).await;
        drop(rd);
        match a {
            Abort::Signal => {
                hub.finish_stream(id, OutputStream::Stdout);
                hub.set_exit(id, EXIT_ABORTED);
            }
            Abort::Disconnect => hub.remove(id),
        }
    }
    drop(slot);
}

async fn wait_abort(abort: &mut AbortRx) -> Abort {
    let seen = abort.wait_for(Option::is_some).await.map(|a| *a);
    match seen {
        Ok(a) => a.unwrap_or(Abort::Signal),
        // The sender lives as long as the slot: not reached.
        Err(_) => std::future::pending().await,
    }
}

async fn read_loop(hub: &Hub, id: u32, rd: &mut (impl AsyncRead + Unpin)) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let space = hub.wait_space(id, OutputStream::Stdout).await;
        if space == 0 {
            return Ok(());
        }
        let n = buf.len().min(space);
        match rd.read(&mut buf[..n]).await? {
            0 => return Ok(()),
            n => hub.push_output(id, OutputStream::Stdout, &buf[..n]),
        }
    }
}

/// Writes stdin to the socket and acknowledges it; close-stdin half-closes.
/// On abort the write half is left without a FIN so the close is a reset.
/// Once it ends the hub may forget the session.
async fn write_loop<S: Stream>(
    hub: Arc<Hub>,
    id: u32,
    wr: S::Write,
    rx: mpsc::UnboundedReceiver<StdinMsg>,
    abort: AbortRx,
    failed: Arc<Notify>,
) {
    write_stdin::<S>(&hub, id, wr, rx, abort, failed).await;
    hub.hold(id, false);
}

async fn write_stdin<S: Stream>(
    hub: &Hub,
    id: u32,
    mut wr: S::Write,
    mut rx: mpsc::UnboundedReceiver<StdinMsg>,
    mut abort: AbortRx,
    failed: Arc<Notify>,
) {
    let mut written = 0u64;
    let mut broken = false;
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = wait_abort(&mut abort) => return S::forget(wr),
        };
        match msg {
            Some(StdinMsg::Data(d)) => {
                if !broken {
                    let aborted = tokio::select! {
                        r = wr.write_all(&d) => {
                            if r.is_err() {
                                broken = true;
                                failed.notify_one();
                            }
                            false
                        }
                        _ = wait_abort(&mut abort) => true,
                    };
                    if aborted {
                        return S::forget(wr);
                    }
                }
                // Bytes a broken socket cannot take are acknowledged too, so
                // the peer never waits for credit.
                written += d.len() as u64;
                hub.push_control(Frame::Ack {
                    session: id,
                    stream: AckStream::Stdin,
                    offset: written,
                });
            }
            Some(StdinMsg::Close) => {
                // The read half keeps the socket open for the other direction.
                let _ = wr.shutdown().await;
                return S::forget(wr);
            }
            None => return,
        }
    }
}
