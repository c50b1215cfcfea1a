//! The peer's side of the container operations against a scripted agent:
//! an agent whose hello does not offer them is never sent one (it would
//! take it for an unknown kind), and one that does gets the frame and its
//! answer is read, bounded.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockerless_agent::peer::{self, PeerError, ResumeState};
use sockerless_agent::protocol::{Frame, Hello, Op, OutputStream, PROTOCOL_VERSION};
use sockerless_agent::transport::websocket;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "ops-test-token-0123456789";
const GUARD: Duration = Duration::from_secs(30);

type AgentWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A peer connection and the scripted agent's end of it.
async fn pair(ops: bool) -> (peer::AgentConnection, AgentWs) {
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
        window: 64 << 10,
        stdin_window: 64 << 10,
        ops,
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
    (conn, agent)
}

/// The next frame the peer sends, skipping pings.
async fn next_frame(agent: &mut AgentWs) -> Frame {
    loop {
        let msg = tokio::time::timeout(GUARD, agent.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("read");
        if let Message::Binary(b) = msg {
            return Frame::decode(&b).expect("decodes");
        }
    }
}

#[tokio::test]
async fn an_agent_without_ops_is_not_asked() {
    let (conn, _agent) = pair(false).await;
    let e = conn.op(Op::Stats).await.expect_err("refused");
    assert!(
        matches!(e, PeerError::Agent(ref m) if m.contains("older than this backend")),
        "{e:?}"
    );
}

#[tokio::test]
async fn an_answer_is_read_and_bounded() {
    let (conn, mut agent) = pair(true).await;
    let asking = tokio::spawn(async move {
        let mut s = conn
            .op(Op::Top {
                ps_args: "aux".into(),
            })
            .await?;
        let answer = peer::read_answer(&mut s, 8).await;
        Ok::<_, PeerError>((conn, answer))
    });
    let Frame::Op { session, op } = next_frame(&mut agent).await else {
        panic!("not an op frame");
    };
    assert_eq!(
        op,
        Op::Top {
            ps_args: "aux".into()
        }
    );
    for frame in [
        Frame::Started { session, pid: 0 },
        Frame::Output {
            session,
            stream: OutputStream::Stdout,
            offset: 0,
            data: bytes::Bytes::from_static(b"{\"Ti"),
        },
        Frame::Output {
            session,
            stream: OutputStream::Stdout,
            offset: 4,
            data: bytes::Bytes::from_static(b"tles\": []}"),
        },
        Frame::Exit { session, code: 0 },
    ] {
        agent
            .send(Message::Binary(frame.encode()))
            .await
            .expect("send");
    }
    let (_conn, answer) = tokio::time::timeout(GUARD, asking)
        .await
        .expect("in time")
        .expect("join")
        .expect("started");
    assert!(
        matches!(answer, Err(PeerError::Protocol(ref m)) if m.contains("passed 8 bytes")),
        "{answer:?}"
    );
}
