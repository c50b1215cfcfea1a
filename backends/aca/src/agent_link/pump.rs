//! One task per live agent connection: reads the main session (output into
//! the log store and to live subscribers, then the exit code) and delivers
//! queued commands (stdin, signals, resize) to it.

use std::sync::Arc;

use bytes::Bytes;
use sockerless_agent::peer::{AgentConnection, OutputStream, PeerError, Session, SessionEvent};
use sockerless_api::StreamKind;
use tokio::sync::mpsc;

use crate::AcaBackend;
use crate::azure::pipeline::count_arm_calls;
use crate::logs::store as log_store;
use crate::runtime::state::{Command, ContainerRuntime, LiveChunk};
use crate::runtime::{lifecycle, now_nanos};

/// Makes `conn` the container's live connection and starts its pump.
pub fn attach_connection(
    backend: AcaBackend,
    rt: Arc<ContainerRuntime>,
    conn: Arc<AgentConnection>,
) {
    let task = tokio::spawn(count_arm_calls(
        rt.arm.clone(),
        run(backend, rt.clone(), conn.clone()),
    ));
    rt.set_agent(conn, task);
}

async fn run(backend: AcaBackend, rt: Arc<ContainerRuntime>, conn: Arc<AgentConnection>) {
    let session = match conn.main_session() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(container = %rt.id, error = %e, "agent connection has no main session");
            disconnected(&backend, &rt, &conn);
            return;
        }
    };
    match pump(&backend, &rt, session).await {
        Some(code) => lifecycle::record_exit(&backend, &rt, i64::from(code)).await,
        None => disconnected(&backend, &rt, &conn),
    }
}

fn disconnected(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, conn: &Arc<AgentConnection>) {
    if rt.clear_agent(conn) {
        tracing::info!(container = %rt.id, "agent disconnected before reporting an exit");
        crate::runtime::poller::watch_disconnected(backend.clone(), rt.clone());
    }
}

/// Runs until the exit code (`Some`) or the connection closes (`None`).
/// Output is read while stdin is written: a write waiting for the agent's
/// stdin credit never holds up output, signals or resizes.
async fn pump(backend: &AcaBackend, rt: &ContainerRuntime, mut session: Session) -> Option<i32> {
    let input = session.input();
    let mut commands = rt.commands_rx.lock().await;
    let (stdin_tx, mut stdin_rx) = mpsc::unbounded_channel::<Option<Bytes>>();
    let dispatch = async {
        while let Some(command) = commands.recv().await {
            let sent = match command {
                Command::Stdin(data) => stdin_tx.send(Some(data)).map_err(|_| PeerError::Closed),
                Command::CloseStdin => stdin_tx.send(None).map_err(|_| PeerError::Closed),
                Command::Signal(n) => input.signal(n),
                Command::Resize(rows, cols) => input.resize(rows, cols),
            };
            if let Err(e) = sent {
                tracing::info!(container = %rt.id, error = %e, "command not delivered to the agent");
            }
        }
        std::future::pending::<()>().await
    };
    let stdin_writer = async {
        while let Some(item) = stdin_rx.recv().await {
            let written = match item {
                Some(data) => input.write(&data).await,
                None => input.close(),
            };
            if let Err(e) = written {
                tracing::info!(container = %rt.id, error = %e, "stdin not delivered to the agent");
            }
        }
        std::future::pending::<()>().await
    };
    let read = async {
        loop {
            match session.recv().await? {
                SessionEvent::Output { stream, data, .. } => {
                    capture(backend, rt, stream, data).await
                }
                SessionEvent::Exit(code) => return Some(code),
                SessionEvent::Error(message) => {
                    tracing::info!(container = %rt.id, %message, "agent reported an error");
                }
            }
        }
    };
    tokio::select! {
        code = read => code,
        () = dispatch => None,
        () = stdin_writer => None,
    }
}

async fn capture(backend: &AcaBackend, rt: &ContainerRuntime, stream: OutputStream, data: Bytes) {
    let (kind, byte) = match stream {
        OutputStream::Stdout => (StreamKind::Stdout, 1u8),
        OutputStream::Stderr => (StreamKind::Stderr, 2u8),
    };
    let time_nanos = now_nanos();
    let id = rt.id.clone();
    let max = backend.config().log_max_bytes;
    let bytes = data.clone();
    let seq = match backend
        .store()
        .call(move |c| log_store::append(c, &id, byte, time_nanos, &bytes, max))
        .await
    {
        Ok(seq) => seq,
        Err(e) => {
            tracing::warn!(container = %rt.id, error = %e, "cannot store output");
            i64::MAX
        }
    };
    rt.publish(LiveChunk {
        seq,
        stream: kind,
        time_nanos,
        data,
    });
}
