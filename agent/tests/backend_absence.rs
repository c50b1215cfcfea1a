//! The agent binary when its backend goes away: a backend that stops
//! answering (frozen, network cut: no FIN, no RST) is dropped and dialed
//! again; the exit code waits for a backend away longer than
//! `SOCKERLESS_EXIT_ACK_TIMEOUT`, which only bounds a connected backend
//! that never acknowledges.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{Agent, GUARD, TOKEN, TestPeer, collect, wait_exit, wait_output};
use futures_util::{SinkExt, StreamExt};
use sockerless_agent::peer::ResumeState;
use sockerless_agent::protocol::{Frame, Hello, PROTOCOL_VERSION};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_stops_answering_is_dropped_and_dialed_again() {
    let peer = TestPeer::new().await;
    let _agent = peer.spawn_agent(
        &["sleep", "600"],
        &[
            ("SOCKERLESS_PING_SECS", "1"),
            ("SOCKERLESS_LIVENESS_TIMEOUT_SECS", "2"),
        ],
    );
    // A backend that completes the handshake, then freezes: its socket stays
    // open, nothing is read or answered (no pong).
    let frozen = tokio::time::timeout(GUARD, async {
        let (tcp, _) = peer.listener().accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        let hello = ws.next().await.expect("agent hello").expect("read");
        assert!(matches!(
            Frame::decode(&hello.into_data()),
            Ok(Frame::Hello(h)) if h.token.as_deref() == Some(TOKEN)
        ));
        let mine = Hello {
            version: PROTOCOL_VERSION,
            ..Default::default()
        };
        ws.send(Message::Binary(Frame::Hello(mine).encode()))
            .await
            .expect("hello");
        ws
    })
    .await
    .expect("the agent did not connect");
    // The agent gives up on it and dials again: a live backend takes over.
    let conn = peer.accept(ResumeState::new()).await;
    assert!(conn.main_session().is_ok());
    drop(frozen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exit_code_waits_for_a_backend_away_longer_than_the_ack_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let go = dir.path().join("go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 42",
        go.display()
    );
    let peer = TestPeer::new().await;
    let mut agent = peer.spawn_agent(
        &["sh", "-c", &script],
        &[("SOCKERLESS_EXIT_ACK_TIMEOUT", "1")],
    );
    // The backend goes away, then the process exits.
    drop(peer.accept(ResumeState::new()).await);
    std::fs::write(&go, b"").expect("go");
    // Away three times the acknowledgement timeout: the agent still waits.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        agent.try_wait_code(),
        None,
        "the agent gave up on its exit code"
    );
    // The backend is back: the real code, not the execution's status.
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 42);
    assert_eq!(wait_exit(agent).await, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_backend_that_never_acknowledges_is_given_up_on() {
    let peer = TestPeer::new().await;
    let mut cmd = peer.command(
        env!("CARGO_BIN_EXE_sockerless-agent"),
        &["sh", "-c", "exit 3"],
        &[("SOCKERLESS_EXIT_ACK_TIMEOUT", "1")],
    );
    cmd.stderr(Stdio::piped());
    let agent = Agent::spawn(cmd);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    main.defer_exit_ack();
    let (_, _, code) = collect(&mut main).await;
    assert_eq!(code, 3);
    // Connected, never acknowledged: the agent exits with the code anyway.
    let out = wait_output(agent).await;
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did not acknowledge the exit code"),
        "stderr: {stderr}"
    );
    drop(conn);
}
