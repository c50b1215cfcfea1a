//! The agent's connections to its peer: dialing home with backoff (reverse
//! mode), accepting (forward mode), and serving one connection — the
//! handshake, then the hub's frames out and the peer's frames to
//! [`dispatch`] — until it drops or falls silent ([`crate::transport::Liveness`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::task::JoinHandle;

use crate::dispatch::{Shared, dispatch};
use crate::net::{self, DialOptions};
use crate::protocol::{Frame, Hello, PROTOCOL_VERSION};
use crate::transport::{FrameTransport, LinkSilent, token_matches};

const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Counts a connection past its handshake as live while it lasts (the wait
/// for the exit acknowledgement runs only then), and resets its socket
/// sessions when it ends (or is aborted).
struct ConnectionGuard<'a> {
    shared: &'a Shared,
    generation: u64,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        let s = self.shared;
        s.live.send_modify(|n| *n = n.saturating_sub(1));
        s.sockets.disconnected(&s.hub, self.generation);
    }
}

/// Dials the backend, serves the connection, and dials again after it
/// ends, with backoff.
pub(crate) async fn reverse_loop(shared: Arc<Shared>, url: String) {
    let opts = DialOptions {
        token: shared.cfg.token.clone(),
        container_id: shared.cfg.container_id.clone(),
        ca_file: shared.cfg.ca_file.clone(),
    };
    let liveness = shared.cfg.liveness;
    let mut backoff = Duration::from_millis(100);
    loop {
        let (shared2, url2, opts2) = (shared.clone(), url.clone(), opts.clone());
        // Each attempt runs as its own task: a panic in a dependency ends one
        // attempt, never the reconnect loop.
        let attempt = tokio::spawn(async move {
            match net::dial(&url2, &opts2).await {
                Ok(io) => match serve(&shared2, io.with_liveness(liveness), true).await {
                    Ok(reason) => {
                        tracing::info!(%reason, "connection ended");
                        true
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "handshake failed");
                        false
                    }
                },
                Err(net::NetError::Refused) => {
                    shared2.refusals.send_modify(|n| *n = n.saturating_add(1));
                    tracing::warn!("the backend refused this run's token");
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach the backend");
                    false
                }
            }
        });
        match attempt.await {
            Ok(true) => backoff = Duration::from_millis(100),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "connection attempt failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Accepts the backend's connections; the newest authenticated one is served.
pub(crate) async fn forward_loop(shared: Arc<Shared>, listener: tokio::net::TcpListener) {
    let mut current: Option<JoinHandle<()>> = None;
    // One item per authenticated connection (token holders), taken at once.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<JoinHandle<()>>();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let shared = shared.clone();
                let done_tx = done_tx.clone();
                // The handshake runs on its own task so a stalled client cannot block accepts.
                tokio::spawn(async move {
                    let Ok(io) = net::accept_authenticated(tcp, &shared.cfg.token).await else { return };
                    let io = io.with_liveness(shared.cfg.liveness);
                    let task = tokio::spawn(async move {
                        match serve(&shared, io, false).await {
                            Ok(reason) => tracing::info!(%reason, "connection ended"),
                            Err(e) => tracing::info!(error = %e, "handshake failed"),
                        }
                    });
                    let _ = done_tx.send(task);
                });
            }
            Some(task) = done_rx.recv() => {
                // Newest authenticated peer wins; one writer at a time.
                if let Some(old) = current.replace(task) {
                    old.abort();
                }
            }
        }
    }
}

async fn recv_hello<S>(stream: &mut S) -> Result<Hello, String>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, crate::transport::TransportError>> + Unpin,
{
    let msg = tokio::time::timeout(HELLO_TIMEOUT, stream.next())
        .await
        .map_err(|_| "no hello".to_string())?
        .ok_or("closed before hello")?
        .map_err(|e| e.to_string())?;
    match Frame::decode(&msg) {
        Ok(Frame::Hello(h)) => Ok(h),
        _ => Err("first frame is not a hello".into()),
    }
}

/// Serves one connection until it drops. `dialer`: the agent opened it and
/// speaks first; otherwise the peer's hello must carry the token. Errors are
/// handshake failures; after the handshake the reason the connection ended is returned.
async fn serve<T: FrameTransport>(shared: &Shared, io: T, dialer: bool) -> Result<String, String> {
    let hub = &shared.hub;
    let (mut sink, mut stream) = io.split();
    let agent_hello = |token: Option<String>| Hello {
        version: PROTOCOL_VERSION,
        token,
        container_id: shared.cfg.container_id.clone(),
        window: hub.window,
        stdin_window: hub.stdin_window,
        tty: shared.cfg.tty,
        open_stdin: shared.cfg.open_stdin,
        sessions: hub.session_infos(),
        resume: Vec::new(),
        records_changes: crate::changes::recording(),
        ops: true,
        paused: crate::ops::is_paused(),
    };
    let send_err = |e: crate::transport::TransportError| e.to_string();
    let peer_hello = if dialer {
        sink.send(Frame::Hello(agent_hello(Some(shared.cfg.token.clone()))).encode())
            .await
            .map_err(send_err)?;
        recv_hello(&mut stream).await?
    } else {
        let h = recv_hello(&mut stream).await?;
        if !token_matches(h.token.as_deref().unwrap_or(""), &shared.cfg.token) {
            let _ = sink.close().await;
            return Err("peer failed authentication".into());
        }
        sink.send(Frame::Hello(agent_hello(None)).encode())
            .await
            .map_err(send_err)?;
        h
    };
    if peer_hello.version != PROTOCOL_VERSION {
        return Err(format!(
            "peer speaks protocol version {}",
            peer_hello.version
        ));
    }
    hub.begin_connection(&peer_hello.resume);
    let generation = shared.next_generation.fetch_add(1, Ordering::Relaxed);
    shared.sockets.connected(generation);
    shared.live.send_modify(|n| *n += 1);
    shared.refusals.send_replace(0);
    let _guard = ConnectionGuard { shared, generation };
    // Wakes the LISTENING reporter: every hello is followed by a report.
    shared.connections.send_replace(generation);
    tracing::info!("peer connected");

    let writer = async {
        loop {
            let frames = hub.next_frames();
            if frames.is_empty() {
                hub.writer_wait().await;
                continue;
            }
            for f in frames {
                sink.feed(f.encode()).await.map_err(send_err)?;
            }
            sink.flush().await.map_err(send_err)?;
        }
    };
    let reader = async {
        while let Some(msg) = stream.next().await {
            let msg = msg.map_err(|e| {
                if e.is::<LinkSilent>() {
                    tracing::warn!(error = %e, "the backend stopped answering: dropping the connection");
                }
                e.to_string()
            })?;
            match Frame::decode(&msg) {
                Ok(frame) => dispatch(shared, frame),
                Err(e) => hub.push_control(Frame::Error {
                    session: 0,
                    message: format!("bad frame: {e}"),
                }),
            }
        }
        Ok::<(), String>(())
    };
    let reason = tokio::select! {
        r = writer => r,
        r = reader => r,
    };
    Ok(match reason {
        Ok(()) => "closed by peer".to_string(),
        Err(e) => e,
    })
}
