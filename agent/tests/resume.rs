//! Sessions across a lost connection, peer side: the test plays the agent
//! over an in-memory link (a WebSocket on `tokio::io::duplex`), drops it
//! where a network failure would, and loses what a failure loses (frames in
//! flight, acknowledgements). Stdin reaches the agent once and in order, an
//! exec re-opened on the next connection goes on without duplicates and
//! ends with its exit; the last test does the same against the real agent.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sockerless_agent::peer::{
    self, AgentConnection, ExecConfig, OutputStream, ResumeState, Session, SessionEvent,
};
use sockerless_agent::protocol::{AckStream, Frame, Hello, PROTOCOL_VERSION, SessionInfo};
use sockerless_agent::transport::{WsTransport, websocket};
use tokio::io::DuplexStream;
use tokio::sync::{Mutex, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

const TOKEN: &str = "resume-test-token-0123456789";
/// Hang guard only.
const GUARD: Duration = Duration::from_secs(60);

/// The agent's end of one in-memory connection.
struct FakeAgent {
    io: WsTransport<DuplexStream>,
    /// The peer's hello (its resume positions).
    peer_hello: Hello,
}

impl FakeAgent {
    async fn send(&mut self, frame: Frame) {
        self.io.send(frame.encode()).await.expect("agent send");
    }

    /// The next frame from the peer.
    async fn recv(&mut self) -> Frame {
        let msg = tokio::time::timeout(GUARD, self.io.next())
            .await
            .expect("peer silent")
            .expect("link closed")
            .expect("link failed");
        Frame::decode(&msg).expect("frame")
    }

    /// The next frame that is not an output or exit acknowledgement.
    async fn recv_request(&mut self) -> Frame {
        loop {
            match self.recv().await {
                Frame::Ack {
                    stream: AckStream::Stdout | AckStream::Stderr | AckStream::Exit,
                    ..
                } => {}
                other => return other,
            }
        }
    }
}

fn agent_hello(sessions: &[(u32, u64)], stdin_window: u64) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        token: Some(TOKEN.into()),
        container_id: Some("resume".into()),
        window: 1 << 20,
        stdin_window,
        sessions: sessions
            .iter()
            .map(|&(session, stdin_offset)| SessionInfo {
                session,
                stdin_offset,
            })
            .collect(),
        ..Default::default()
    }
}

/// One connection: the fake agent says `hello`, the peer accepts with `resume`.
async fn link(hello: Hello, resume: &ResumeState) -> (AgentConnection, FakeAgent) {
    let (peer_end, agent_end) = tokio::io::duplex(1 << 20);
    let mut agent =
        websocket(WebSocketStream::from_raw_socket(agent_end, Role::Client, None).await);
    agent
        .send(Frame::Hello(hello).encode())
        .await
        .expect("agent hello");
    let peer_io = websocket(WebSocketStream::from_raw_socket(peer_end, Role::Server, None).await);
    let conn = tokio::time::timeout(GUARD, peer::accept(peer_io, TOKEN, resume.clone()))
        .await
        .expect("hello in time")
        .expect("accepted");
    let mut agent = FakeAgent {
        io: agent,
        peer_hello: Hello::default(),
    };
    match agent.recv().await {
        Frame::Hello(h) => agent.peer_hello = h,
        other => panic!("expected the peer's hello, got {other:?}"),
    }
    (conn, agent)
}

/// The backend's pump in miniature: stdin items from the client's queue are
/// written to the main session until its connection closes (the writer is
/// then dropped mid-write, as the pump's select drops it).
async fn pump_stdin(mut main: Session, queue: Arc<Mutex<mpsc::Receiver<Option<Bytes>>>>) {
    let input = main.input();
    let mut queue = queue.lock().await;
    let writer = async {
        while let Some(item) = queue.recv().await {
            let _ = match item {
                Some(data) => input.write(&data).await,
                None => input.close(),
            };
        }
        std::future::pending::<()>().await
    };
    let read = async { while main.recv().await.is_some() {} };
    tokio::select! {
        () = writer => {}
        () = read => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_lost_with_a_connection_is_sent_again_once_and_in_order() {
    const TOTAL: usize = 40_000;
    const STDIN_WINDOW: u64 = 3_000;
    let payload: Vec<u8> = (0..TOTAL).map(|i| (i * 7 % 251) as u8).collect();
    let (queue_tx, queue_rx) = mpsc::channel::<Option<Bytes>>(4);
    let queue = Arc::new(Mutex::new(queue_rx));
    let chunks: Vec<Bytes> = payload.chunks(1_234).map(Bytes::copy_from_slice).collect();
    tokio::spawn(async move {
        for chunk in chunks {
            if queue_tx.send(Some(chunk)).await.is_err() {
                return;
            }
        }
        let _ = queue_tx.send(None).await;
    });

    let resume = ResumeState::new();
    // What the container's process read, in order: the agent's stdin offset.
    let mut received: Vec<u8> = Vec::new();
    let mut closes = 0;
    // Connections 0 and 1 drop mid-stream; 2 drops after the close, which
    // is then lost too; 3 must get the close again and nothing else.
    for round in 0..4 {
        let (conn, mut agent) = link(
            agent_hello(&[(0, received.len() as u64)], STDIN_WINDOW),
            &resume,
        )
        .await;
        let main = conn.main_session().expect("main");
        let pump = tokio::spawn(pump_stdin(main, queue.clone()));
        let mut acked = received.len();
        let drop_after = [9_000, 23_000, usize::MAX, usize::MAX][round];
        let mut frames = 0;
        loop {
            match agent.recv_request().await {
                Frame::Stdin {
                    session: 0,
                    offset,
                    data,
                } => {
                    let have = received.len() as u64;
                    assert!(offset <= have, "gap: at {offset}, have {have}");
                    assert!(round < 3, "nothing more to send after the close");
                    let skip = (have - offset) as usize;
                    if skip < data.len() {
                        received.extend_from_slice(&data[skip..]);
                    }
                    frames += 1;
                    // Acknowledge every third frame (or a full window):
                    // the rest is in flight.
                    if frames % 3 == 0 || received.len() - acked >= STDIN_WINDOW as usize {
                        acked = received.len();
                        agent
                            .send(Frame::Ack {
                                session: 0,
                                stream: AckStream::Stdin,
                                offset: acked as u64,
                            })
                            .await;
                    }
                    if received.len() >= drop_after {
                        // The link fails: half of what was not acknowledged
                        // was still in flight and never arrived.
                        received.truncate(acked + (received.len() - acked) / 2);
                        break;
                    }
                }
                Frame::CloseStdin { session: 0 } => {
                    assert_eq!(received.len(), TOTAL, "the close comes after every byte");
                    closes += 1;
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(agent);
        drop(conn);
        tokio::time::timeout(GUARD, pump)
            .await
            .expect("the pump sees the connection closed")
            .expect("pump");
    }
    assert!(
        received == payload,
        "the process read {} bytes, not the payload",
        received.len()
    );
    assert_eq!(closes, 2, "the lost close was sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_reopened_on_the_next_connection_goes_on_and_gets_its_exit() {
    let resume = ResumeState::new();
    let (conn1, mut agent) = link(agent_hello(&[(0, 0)], 1 << 16), &resume).await;
    let config = ExecConfig {
        cmd: vec!["sh".into()],
        stdin: true,
        ..Default::default()
    };
    let (exec, id) = tokio::join!(conn1.exec(&config), async {
        match agent.recv_request().await {
            Frame::ExecStart { session, .. } => {
                agent.send(Frame::Started { session, pid: 42 }).await;
                session
            }
            other => panic!("expected EXEC_START, got {other:?}"),
        }
    });
    let mut exec = exec.expect("exec");
    let input = exec.input();
    let out = |offset: u64, text: &str| Frame::Output {
        session: id,
        stream: OutputStream::Stdout,
        offset,
        data: Bytes::copy_from_slice(text.as_bytes()),
    };
    agent.send(out(0, "line 0\n")).await;
    agent.send(out(7, "line 1\n")).await;
    let mut stdout = Vec::new();
    for _ in 0..2 {
        match exec.recv().await {
            Some(SessionEvent::Output { data, .. }) => stdout.extend_from_slice(&data),
            other => panic!("expected output, got {other:?}"),
        }
    }
    input.write(b"hello ").await.expect("stdin");
    match agent.recv_request().await {
        Frame::Stdin {
            session,
            offset: 0,
            data,
        } if session == id => assert_eq!(&data[..], b"hello "),
        other => panic!("expected stdin, got {other:?}"),
    }
    // Sent as the link fails: the peer may or may not take it first.
    agent.send(out(14, "line 2\n")).await;
    drop(agent);
    while let Some(event) = tokio::time::timeout(GUARD, exec.recv())
        .await
        .expect("hang")
    {
        if let SessionEvent::Output { data, .. } = event {
            stdout.extend_from_slice(&data);
        }
    }
    assert!(conn1.closed().is_some());
    drop(exec);
    // Written while there is no connection: kept for the next one.
    let late = tokio::spawn(async move {
        input.write(b"world").await.expect("late stdin");
        input.close().expect("close");
    });

    // The agent lost the stdin it had not acknowledged, and resends output
    // from below what the peer holds (its acknowledgements were lost too).
    let (conn2, mut agent) = link(agent_hello(&[(0, 0), (id, 0)], 1 << 16), &resume).await;
    let position = agent
        .peer_hello
        .resume
        .iter()
        .find(|r| r.session == id)
        .map(|r| r.stdout);
    assert_eq!(position, Some(stdout.len() as u64), "resume position");
    assert!(
        conn2.resume_session(id + 100).is_err(),
        "an unknown session is not resumed"
    );
    let mut exec = conn2.resume_session(id).expect("resume");
    let mut stdin = Vec::new();
    loop {
        match agent.recv_request().await {
            Frame::Stdin {
                session,
                offset,
                data,
            } if session == id => {
                assert_eq!(
                    offset,
                    stdin.len() as u64,
                    "stdin in order, from where the agent is"
                );
                stdin.extend_from_slice(&data);
            }
            Frame::CloseStdin { session } if session == id => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(String::from_utf8_lossy(&stdin), "hello world");
    late.await.expect("late writer");
    agent.send(out(7, "line 1\nline 2\n")).await;
    agent.send(out(21, "line 3\n")).await;
    agent
        .send(Frame::Exit {
            session: id,
            code: 7,
        })
        .await;
    let code = loop {
        match tokio::time::timeout(GUARD, exec.recv())
            .await
            .expect("hang")
        {
            Some(SessionEvent::Output { data, .. }) => stdout.extend_from_slice(&data),
            Some(SessionEvent::Exit(code)) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "line 0\nline 1\nline 2\nline 3\n"
    );
    assert_eq!(code, 7);
    loop {
        if let Frame::Ack {
            session,
            stream: AckStream::Exit,
            ..
        } = agent.recv().await
            && session == id
        {
            break;
        }
    }

    // That acknowledgement was lost with the link: the next connection's
    // agent sends the end again, and it is acknowledged with nobody reading.
    drop(agent);
    drop(exec);
    drop(conn2);
    let (_conn3, mut agent) = link(agent_hello(&[(0, 0), (id, 11)], 1 << 16), &resume).await;
    assert!(
        agent.peer_hello.resume.iter().all(|r| r.session != id),
        "a finished session is not resumed"
    );
    agent.send(out(21, "line 3\n")).await;
    agent
        .send(Frame::Exit {
            session: id,
            code: 7,
        })
        .await;
    let mut acked = (false, false);
    while acked != (true, true) {
        match agent.recv().await {
            Frame::Ack {
                session,
                stream: AckStream::Stdout,
                offset: 28,
            } if session == id => acked.0 = true,
            Frame::Ack {
                session,
                stream: AckStream::Exit,
                ..
            } if session == id => acked.1 = true,
            _ => {}
        }
    }
}

/// The real agent: an exec goes on across a connection the peer drops,
/// re-opened by id on the agent's next connection; its output arrives once,
/// stdin written meanwhile reaches it, its exit code is the real one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_exec_survives_a_dropped_connection() {
    let peer = common::TestPeer::new().await;
    let child = peer.spawn_agent(&["sleep", "600"], &[("SOCKERLESS_BACKLOG_BYTES", "4096")]);
    let resume = ResumeState::new();
    let conn = peer.accept(resume.clone()).await;
    let script = "i=0; while [ $i -lt 2000 ]; do echo \"line $i\"; i=$((i+1)); done; read x; echo \"got $x\"; exit 7";
    let mut exec = conn
        .exec(&ExecConfig {
            cmd: vec!["sh".into(), "-c".into(), script.into()],
            stdin: true,
            ..Default::default()
        })
        .await
        .expect("exec");
    let id = exec.id();
    let input = exec.input();
    let mut out = common::read_until(&mut exec, "line 20\n")
        .await
        .into_bytes();
    drop(exec);
    drop(conn);
    let writer = tokio::spawn(async move {
        input.write(b"across\n").await.expect("stdin");
    });
    let conn = peer.accept(resume.clone()).await;
    let mut exec = conn.resume_session(id).expect("resume the exec");
    let (rest, _, code) = common::collect(&mut exec).await;
    writer.await.expect("writer");
    out.extend_from_slice(&rest);
    let mut want: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    want.push_str("got across\n");
    assert_eq!(String::from_utf8_lossy(&out), want);
    assert_eq!(code, 7);
    drop(child);
}
