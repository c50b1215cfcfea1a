//! A hostile agent with a valid token cannot grow the peer's memory: frames
//! for a session nobody opened, past what the window allows, get it
//! disconnected.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sockerless_agent::peer::{self, PeerError, ResumeState};
use sockerless_agent::protocol::{Frame, Hello, OutputStream, PROTOCOL_VERSION};
use sockerless_agent::transport::websocket;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "hostile-test-token-0123456789";
const GUARD: Duration = Duration::from_secs(30);
const CHUNK: usize = 256 << 10;
const FLOOD: u64 = 1 << 30;
/// A send that does not complete in this long means the peer stopped reading.
const STALLED: Duration = Duration::from_secs(2);

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_to_an_unopened_session_disconnects_the_agent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        peer::accept(websocket(ws), TOKEN, ResumeState::new())
            .await
            .expect("authenticated")
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("dial");
    let (mut agent, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp)
        .await
        .expect("handshake");
    let hello = Hello {
        version: PROTOCOL_VERSION,
        token: Some(TOKEN.into()),
        container_id: Some("hostile".into()),
        window: 64 << 10,
        stdin_window: 64 << 10,
        ..Default::default()
    };
    agent
        .send(Message::Binary(Frame::Hello(hello).encode()))
        .await
        .expect("hello");
    let _their_hello = tokio::time::timeout(GUARD, agent.next())
        .await
        .expect("hello in time");
    let conn = tokio::time::timeout(GUARD, accepted)
        .await
        .expect("accepted in time")
        .expect("join");
    let baseline = rss_bytes();

    let data = Bytes::from(vec![b'x'; CHUNK]);
    let mut sent = 0u64;
    while sent < FLOOD {
        let frame = Frame::Output {
            session: 999,
            stream: OutputStream::Stdout,
            offset: sent,
            data: data.clone(),
        };
        match tokio::time::timeout(STALLED, agent.send(Message::Binary(frame.encode()))).await {
            Ok(Ok(())) => sent += CHUNK as u64,
            Ok(Err(_)) | Err(_) => break,
        }
        if conn.closed().is_some() {
            break;
        }
    }
    let closed = tokio::time::timeout(GUARD, async {
        loop {
            if let Some(why) = conn.closed() {
                return why;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the peer closes the connection");
    assert!(matches!(closed, PeerError::Protocol(_)), "{closed:?}");
    assert!(sent < 64 << 20, "{sent} bytes accepted before the cut");
    let grown = rss_bytes().saturating_sub(baseline);
    assert!(grown < 64 << 20, "RSS grew by {grown} bytes");
    // Dropping the connection closes the transport: the agent sees the end.
    drop(conn);
    let end = tokio::time::timeout(GUARD, async {
        loop {
            match agent.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the agent's connection stayed open");
}
