//! Authentication and the forward (listening) mode.

mod common;

use std::time::Duration;

use common::*;
use sockerless_agent::peer::{self, PeerError, ResumeState};
use sockerless_agent::transport::websocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_mode_rejects_a_wrong_token_and_the_agent_retries() {
    let peer = TestPeer::new().await;
    let child = peer.spawn_agent(&["sh", "-c", "echo after-retry; exit 9"], &[]);
    // First connection: the backend expects another token and refuses.
    let listener_conn = tokio::time::timeout(GUARD, async {
        let (tcp, _) = peer_listener_accept(&peer).await;
        let ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        peer::accept(websocket(ws), "some-other-token", ResumeState::new()).await
    })
    .await
    .expect("hang");
    assert!(matches!(listener_conn, Err(PeerError::Auth)));
    // The agent dials again and nothing was lost meanwhile.
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!(
        (String::from_utf8_lossy(&out).into_owned(), code),
        ("after-retry\n".to_string(), 9)
    );
    assert_eq!(wait_exit(child).await, 9);
}

async fn peer_listener_accept(peer: &TestPeer) -> (tokio::net::TcpStream, std::net::SocketAddr) {
    peer.listener().accept().await.expect("accept")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_mode_serves_the_same_protocol() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("ws://127.0.0.1:{port}/");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sockerless-agent"));
    cmd.args(["--", "sh", "-c", "cat; echo fwd-done; exit 5"])
        .env("SOCKERLESS_AGENT_TOKEN", TOKEN)
        .env("SOCKERLESS_AGENT_LISTEN", &listen)
        .env("SOCKERLESS_OPEN_STDIN", "true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null());
    let child = Agent::spawn(cmd);

    // Wrong token: refused at the upgrade, without detail.
    let conn = tokio::time::timeout(GUARD, async {
        loop {
            match peer::connect(&url, "wrong-token", ResumeState::new()).await {
                // Not listening yet.
                Err(PeerError::Transport(m)) if m.contains("Connection refused") => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                other => break other,
            }
        }
    })
    .await
    .expect("hang");
    assert!(
        matches!(&conn, Err(PeerError::Transport(m)) if m.contains("401")),
        "wrong token: {:?}",
        conn.err()
    );

    let conn = tokio::time::timeout(GUARD, peer::connect(&url, TOKEN, ResumeState::new()))
        .await
        .expect("hang")
        .expect("connect");
    let mut main = conn.main_session().expect("main");
    main.write_stdin(b"through-forward\n").await.expect("stdin");
    main.close_stdin().expect("close");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!(String::from_utf8_lossy(&out), "through-forward\nfwd-done\n");
    assert_eq!(code, 5);
    assert_eq!(wait_exit(child).await, 5);
}
