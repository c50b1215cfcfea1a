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

/// One WebSocket message is one frame: a message larger than a frame is
/// refused from its header, not read into memory first (tungstenite's
/// default limit is 64 MiB a message). The client here is raw TCP, so this
/// process holds nothing of the message but what the server reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_a_frame_closes_the_link() {
    use sockerless_agent::protocol::MAX_FRAME_LEN;
    use sockerless_agent::transport::link_ws_config;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async_with_config(tcp, Some(link_ws_config()))
            .await
            .expect("handshake");
        let baseline = rss_bytes();
        let first = ws.next().await;
        (
            first.map(|m| m.map(|m| m.len())),
            rss_bytes().saturating_sub(baseline),
        )
    });
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("dial");
    tcp.write_all(
        format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .expect("upgrade request");
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.expect("upgrade response");
        response.push(byte[0]);
    }
    assert!(response.starts_with(b"HTTP/1.1 101"), "{response:?}");
    // One binary frame of 12 frames' worth (under tungstenite's default
    // limits: 16 MiB a frame, 64 MiB a message), masked with a zero key (the
    // payload goes as is), sent in chunks until the server stops reading.
    let len = 12 * MAX_FRAME_LEN as u64;
    let mut header = vec![0x82u8, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    tcp.write_all(&header).await.expect("frame header");
    let chunk = vec![b'x'; 64 << 10];
    let mut sent = 0u64;
    while sent < len {
        match tokio::time::timeout(STALLED, tcp.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len() as u64,
            Ok(Err(_)) | Err(_) => break,
        }
    }
    let (first, grown) = tokio::time::timeout(GUARD, server)
        .await
        .expect("the server answers in time")
        .expect("join");
    assert!(
        matches!(first, Some(Err(_))),
        "an oversized message must be an error, got {first:?}"
    );
    assert!(sent < len, "the server read all {len} bytes");
    assert!(
        grown < (8 * MAX_FRAME_LEN) as u64,
        "read {grown} bytes into memory"
    );
}
