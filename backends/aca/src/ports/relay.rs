//! Accepting connections on a container's published ports and piping each
//! through the container's agent to `127.0.0.1:<container port>` inside it.
//!
//! Memory is bounded per connection: one read buffer towards the agent
//! (whose stdin credit holds back the client), and the agent's output
//! window towards the client (output is acknowledged only as it is
//! written to the client, so a slow client holds at most one window). At
//! most [`MAX_CONNECTIONS`] per container; more are closed at once.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use sockerless_agent::peer::{OutputStream, Session, SessionEvent, SessionInput};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::agent_link::pump::AgentLink;
use crate::runtime::state::ContainerRuntime;

/// Concurrent relayed connections per container: the agent's limit of
/// socket sessions (more would only be refused by the agent).
pub const MAX_CONNECTIONS: usize = 256;
/// How long an accepted connection waits for the container's agent.
pub const AGENT_WAIT: Duration = Duration::from_secs(30);
/// How long an aborted stream waits for the agent to confirm.
const ABORT_WAIT: Duration = Duration::from_secs(5);
const READ_CHUNK: usize = 32 * 1024;

/// Accepts on every listener until aborted; aborting drops the listeners
/// (they are owned by this future, so they are closed once the aborted
/// task is awaited) and every connection relayed so far.
pub async fn serve(rt: Arc<ContainerRuntime>, listeners: Vec<(u16, TcpListener)>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    let mut first = 0;
    loop {
        tokio::select! {
            accepted = accept_any(&listeners, &mut first) => match accepted {
                Ok((client, port)) => match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let rt = rt.clone();
                        conns.spawn(async move {
                            relay(&rt, client, port).await;
                            drop(permit);
                        });
                    }
                    Err(_) => tracing::warn!(
                        container = %rt.id, port,
                        "too many connections on published ports; connection closed"
                    ),
                },
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(container = %rt.id, error = %e, "accept failed on a published port");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// The next connection on any listener, with its container port; the
/// listener polled first rotates so none starves the others.
async fn accept_any(
    listeners: &[(u16, TcpListener)],
    first: &mut usize,
) -> std::io::Result<(TcpStream, u16)> {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    std::future::poll_fn(|cx| {
        for i in 0..listeners.len() {
            let (port, listener) = &listeners[(*first + i) % listeners.len()];
            if let Poll::Ready(r) = listener.poll_accept(cx) {
                *first = (*first + i + 1) % listeners.len();
                return Poll::Ready(r.map(|(client, _)| (client, *port)));
            }
        }
        Poll::Pending
    })
    .await
}

/// The container's agent link, waiting up to `within` for it to connect.
pub async fn wait_for_agent(rt: &ContainerRuntime, within: Duration) -> Option<Arc<AgentLink>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut connections = rt.connections.subscribe();
    loop {
        if let Some(link) = rt.agent() {
            return Some(link);
        }
        match tokio::time::timeout_at(deadline, connections.changed()).await {
            Ok(Ok(())) => {}
            _ => return rt.agent(),
        }
    }
}

async fn relay(rt: &ContainerRuntime, client: TcpStream, port: u16) {
    let _ = client.set_nodelay(true);
    let Some(link) = wait_for_agent(rt, AGENT_WAIT).await else {
        tracing::info!(container = %rt.id, port, "no agent to relay a published port to; connection closed");
        return;
    };
    match link.tcp_connect("127.0.0.1", port).await {
        Ok(session) => pipe(client, session).await,
        Err(e) => {
            // As the userland proxy does when the container refuses.
            tracing::debug!(container = %rt.id, port, error = %e, "connection to the container failed");
            let _ = client.set_zero_linger();
        }
    }
}

enum Up {
    /// The client half-closed.
    Eof,
    /// The client reset, or the stream to the agent failed.
    Failed,
}

enum Down {
    /// The agent closed the stream normally.
    Done,
    /// The stream was reset (the container side, or the agent link).
    Reset,
    /// Writing to the client failed.
    ClientGone,
}

/// Pipes `client` and a socket session both ways until both are done;
/// half-closes cross over, a reset on either side resets the other.
pub async fn pipe(client: TcpStream, session: Session) {
    let (rd, wr) = client.into_split();
    pipe_io(rd, wr, session, |wr: &tokio::net::tcp::OwnedWriteHalf| {
        let _ = wr.as_ref().set_zero_linger();
    })
    .await
}

/// [`pipe`] over any stream's halves; `reset` makes the coming close of
/// `wr` a reset where the transport has one (TCP: `SO_LINGER` 0).
pub async fn pipe_io<R, W>(mut rd: R, mut wr: W, mut session: Session, reset: impl Fn(&W))
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let input = session.input();
    let aborted = {
        let up = upstream(&mut rd, &input);
        let down = async {
            loop {
                match session.recv().await {
                    Some(SessionEvent::Output {
                        stream: OutputStream::Stdout,
                        data,
                        ..
                    }) => {
                        if wr.write_all(&data).await.is_err() {
                            return Down::ClientGone;
                        }
                    }
                    Some(SessionEvent::Output { .. }) => {}
                    Some(SessionEvent::Exit(0)) => {
                        let _ = wr.shutdown().await;
                        return Down::Done;
                    }
                    Some(SessionEvent::Exit(_)) | None => {
                        reset(&wr);
                        return Down::Reset;
                    }
                    Some(SessionEvent::Error(message)) => {
                        tracing::debug!(%message, "published port stream error");
                    }
                }
            }
        };
        tokio::pin!(up, down);
        let mut up_done = false;
        loop {
            tokio::select! {
                u = &mut up, if !up_done => match u {
                    Up::Eof => {
                        up_done = true;
                        if input.close().is_err() {
                            break true;
                        }
                    }
                    Up::Failed => break true,
                },
                d = &mut down => match d {
                    Down::Done if !up_done => {
                        // The session's end is closed for writing; what the
                        // local end still sends goes through, then its EOF.
                        match (&mut up).await {
                            Up::Eof => break input.close().is_err(),
                            Up::Failed => break true,
                        }
                    }
                    Down::Done | Down::Reset => break false,
                    Down::ClientGone => break true,
                },
            }
        }
    };
    if aborted {
        let _ = input.signal(9);
        let _ = tokio::time::timeout(ABORT_WAIT, async {
            while let Some(ev) = session.recv().await {
                if matches!(ev, SessionEvent::Exit(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn upstream(rd: &mut (impl AsyncRead + Unpin), input: &SessionInput) -> Up {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) => return Up::Eof,
            Ok(n) => {
                if input.write(&buf[..n]).await.is_err() {
                    return Up::Failed;
                }
            }
            Err(_) => return Up::Failed,
        }
    }
}
