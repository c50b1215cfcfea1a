//! Socket sessions and the relay: tcp_connect with half-close and flow
//! control, refused connects, PEERS (hosts block, relay listeners, inbound
//! sessions, reset by signal), LISTENING reports, and PEERS errors.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use sockerless_agent::peer::{
    AgentConnection, AgentEvent, Listening, OutputStream, PeerError, PeerHost, PeersUpdate,
    ResumeState, Session, SessionEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// More than the 4 MiB output window and the 1 MiB stdin window.
const BIG: usize = 5 * 1024 * 1024 + 123;

fn payload(seed: u32) -> Vec<u8> {
    (0..BIG as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

/// Echoes every connection until its client half-closes, then half-closes too.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

/// Sends `data` on the session, then half-closes, while its output is collected.
async fn round_trip(mut session: Session, data: Vec<u8>) -> (Vec<u8>, i32) {
    let input = session.input();
    let writer = tokio::spawn(async move {
        input.write(&data).await.expect("write");
        input.close().expect("close");
    });
    let (out, err, code) = collect(&mut session).await;
    writer.await.expect("writer");
    assert!(err.is_empty());
    (out, code)
}

async fn next_event(events: &mut mpsc::Receiver<AgentEvent>) -> AgentEvent {
    tokio::time::timeout(GUARD, events.recv())
        .await
        .expect("no agent event")
        .expect("events closed")
}

/// Waits for a listening report matching `want`.
async fn listening_until(
    events: &mut mpsc::Receiver<AgentEvent>,
    want: impl Fn(&Listening) -> bool,
) -> Listening {
    loop {
        match next_event(events).await {
            AgentEvent::Listening(l) if want(&l) => return l,
            AgentEvent::Listening(_) => {}
            AgentEvent::Inbound { ip, port, .. } => panic!("unexpected inbound {ip}:{port}"),
            AgentEvent::UnixInbound { path, .. } => panic!("unexpected inbound {path}"),
        }
    }
}

/// Connects to a relay listener, retrying until the agent has bound it.
async fn connect_relay(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(GUARD, async {
        loop {
            match TcpStream::connect(addr).await {
                Ok(s) => return s,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("relay listener never came up")
}

async fn inbound(events: &mut mpsc::Receiver<AgentEvent>) -> (String, u16, Session) {
    loop {
        match next_event(events).await {
            AgentEvent::Inbound { ip, port, session } => return (ip, port, session),
            AgentEvent::Listening(_) => {}
            AgentEvent::UnixInbound { path, .. } => panic!("unexpected inbound {path}"),
        }
    }
}

/// A free port on `ip` (bound then released).
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("probe port")
        .port()
}

struct Setup {
    _agent: Agent,
    conn: AgentConnection,
    _dir: tempfile::TempDir,
    hosts: std::path::PathBuf,
}

async fn start_agent() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1\tlocalhost\n").expect("hosts");
    let peer = TestPeer::new().await;
    let hosts_env = hosts.to_string_lossy().into_owned();
    let agent = peer.spawn_agent(&["sleep", "600"], &[("SOCKERLESS_HOSTS_FILE", &hosts_env)]);
    let conn = peer.accept(ResumeState::new()).await;
    Setup {
        _agent: agent,
        conn,
        _dir: dir,
        hosts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connect_round_trips_with_half_close_and_flow_control() {
    let s = start_agent().await;
    let echo = echo_server().await;

    let small = s
        .conn
        .tcp_connect("127.0.0.1", echo.port())
        .await
        .expect("connect");
    assert!(small.id() < 0x8000_0000);
    let (out, code) = round_trip(small, b"hello through the agent".to_vec()).await;
    assert_eq!(out, b"hello through the agent");
    assert_eq!(code, 0);

    // Two big streams at once, both directions, through the windows.
    let (a, b) = (payload(1), payload(2));
    let sa = s
        .conn
        .tcp_connect("localhost", echo.port())
        .await
        .expect("a");
    let sb = s
        .conn
        .tcp_connect("127.0.0.1", echo.port())
        .await
        .expect("b");
    let (ra, rb) = tokio::join!(round_trip(sa, a.clone()), round_trip(sb, b.clone()));
    assert!(
        ra.0 == a && ra.1 == 0,
        "stream a: {} bytes, exit {}",
        ra.0.len(),
        ra.1
    );
    assert!(
        rb.0 == b && rb.1 == 0,
        "stream b: {} bytes, exit {}",
        rb.0.len(),
        rb.1
    );

    // Server to client only: bytes the agent reads before the peer sends anything.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let big = payload(3);
    let to_send = big.clone();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        tcp.write_all(&to_send).await.expect("server write");
        tcp.shutdown().await.expect("server shutdown");
    });
    let mut session = s
        .conn
        .tcp_connect("127.0.0.1", port)
        .await
        .expect("connect");
    let (out, _, code) = collect(&mut session).await;
    server.await.expect("server");
    assert!(out == big, "got {} bytes", out.len());
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_flow_after_the_remote_end_half_closed() {
    let s = start_agent().await;
    // tcp_connect: the server greets, half-closes, then reads the request.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        tcp.write_all(b"greeting").await.expect("greet");
        tcp.shutdown().await.expect("half-close");
        let mut got = Vec::new();
        tcp.read_to_end(&mut got).await.expect("read");
        got
    });
    let mut session = s
        .conn
        .tcp_connect("127.0.0.1", port)
        .await
        .expect("connect");
    let input = session.input();
    let (out, _, code) = collect(&mut session).await;
    assert_eq!((out.as_slice(), code), (&b"greeting"[..], 0));
    // The EXIT reported the remote EOF; our direction is still open.
    input
        .write(b"late request")
        .await
        .expect("write after exit");
    input.close().expect("close");
    let got = tokio::time::timeout(GUARD, server)
        .await
        .expect("server hung");
    assert_eq!(got.expect("server"), b"late request");

    // Dropping an exited session and its inputs without closing closes the socket.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        tcp.shutdown().await.expect("half-close");
        let mut got = Vec::new();
        tcp.read_to_end(&mut got).await.expect("read");
        got
    });
    let mut session = s
        .conn
        .tcp_connect("127.0.0.1", port)
        .await
        .expect("connect");
    let input = session.input();
    assert_eq!(collect(&mut session).await.2, 0);
    drop(session);
    input.write(b"last words").await.expect("write");
    drop(input);
    let got = tokio::time::timeout(GUARD, server)
        .await
        .expect("server hung");
    assert_eq!(got.expect("server"), b"last words");

    // Relay: the client sends its request and half-closes, then reads the answer.
    let mut events = s.conn.take_events().expect("events");
    let ip = "127.77.0.5";
    let port = free_port(ip);
    s.conn
        .set_peers(&PeersUpdate {
            hosts: vec![PeerHost {
                ip: ip.into(),
                names: vec!["srv".into()],
                ports: vec![port],
            }],
        })
        .expect("peers");
    let mut client = connect_relay(format!("{ip}:{port}").parse().expect("addr")).await;
    client.write_all(b"request").await.expect("client write");
    client.shutdown().await.expect("client half-close");
    let (_, _, mut session) = inbound(&mut events).await;
    let input = session.input();
    let (out, _, code) = collect(&mut session).await;
    assert_eq!((out.as_slice(), code), (&b"request"[..], 0));
    input.write(b"answer").await.expect("answer");
    input.close().expect("close");
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, client.read_to_end(&mut answer))
        .await
        .expect("client read hung")
        .expect("client read");
    assert_eq!(answer, b"answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connects_are_agent_errors() {
    let s = start_agent().await;
    let port = free_port("127.0.0.1");
    match s.conn.tcp_connect("127.0.0.1", port).await {
        Err(PeerError::Agent(msg)) => assert!(msg.contains("refused"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The connection is still usable afterwards.
    let echo = echo_server().await;
    let session = s
        .conn
        .tcp_connect("127.0.0.1", echo.port())
        .await
        .expect("connect");
    assert_eq!(round_trip(session, b"x".to_vec()).await, (b"x".to_vec(), 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_relay_inbound_connections_and_listening_reports() {
    let s = start_agent().await;
    let mut events = s.conn.take_events().expect("events");
    assert!(s.conn.take_events().is_none());
    // Every hello is followed by a report.
    listening_until(&mut events, |_| true).await;

    let ip = "127.77.0.3";
    let port = free_port(ip);
    let relay: SocketAddr = format!("{ip}:{port}").parse().expect("addr");
    s.conn
        .set_peers(&PeersUpdate {
            hosts: vec![
                PeerHost {
                    ip: ip.into(),
                    names: vec!["db".into(), "0123456789ab".into()],
                    ports: vec![port],
                },
                PeerHost {
                    ip: "10.1.2.3".into(),
                    names: vec!["direct".into()],
                    ports: vec![],
                },
            ],
        })
        .expect("set peers");

    // An accepted connection arrives as an inbound session; the peer echoes it.
    let mut client = connect_relay(relay).await;
    let (got_ip, got_port, mut session) = inbound(&mut events).await;
    assert_eq!((got_ip.as_str(), got_port), (ip, port));
    assert!(session.id() >= 0x8000_0000);
    let echo = tokio::spawn(async move {
        let input = session.input();
        let mut code = None;
        while let Some(ev) = session.recv().await {
            match ev {
                SessionEvent::Output {
                    stream: OutputStream::Stdout,
                    data,
                    ..
                } => input.write(&data).await.expect("echo write"),
                SessionEvent::Exit(c) => {
                    // The client half-closed: so do we, once everything is echoed.
                    input.close().expect("close");
                    code = Some(c)
                }
                _ => {}
            }
        }
        code
    });
    let big = payload(4);
    let (mut rd, mut wr) = client.split();
    let send = async {
        wr.write_all(&big).await.expect("client write");
        wr.shutdown().await.expect("client shutdown");
    };
    let mut back = Vec::new();
    let recv = rd.read_to_end(&mut back);
    let (_, read) = tokio::time::timeout(GUARD, async { tokio::join!(send, recv) })
        .await
        .expect("relay round trip hung");
    read.expect("client read");
    assert!(back == big, "echoed {} bytes", back.len());
    let code = tokio::time::timeout(GUARD, echo).await.expect("echo hung");
    assert_eq!(code.expect("echo task"), Some(0));

    // The hosts block is in the file, the rest is kept.
    let text = std::fs::read_to_string(&s.hosts).expect("hosts");
    assert_eq!(
        text,
        format!(
            "127.0.0.1\tlocalhost\n# sockerless peers begin\n{ip}\tdb 0123456789ab\n\
             10.1.2.3\tdirect\n# sockerless peers end\n"
        )
    );

    // A signal refuses an inbound connection: the client sees a reset.
    let mut client = connect_relay(relay).await;
    let (_, _, mut session) = inbound(&mut events).await;
    session.input().signal(9).expect("signal");
    let (_, _, code) = collect(&mut session).await;
    assert_eq!(code, 137);
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(GUARD, client.read(&mut buf))
        .await
        .expect("client read hung");
    assert!(read.is_err(), "expected a reset, got {read:?}");

    // LISTENING: a port the test opens shows up; the relay's own port does not.
    let opened = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let opened_port = opened.local_addr().expect("addr").port();
    let report = listening_until(&mut events, |l| l.ports.contains(&opened_port)).await;
    assert!(!report.ports.contains(&port), "relay port {port} reported");
    assert!(report.addresses.iter().all(|a| !a.starts_with("127.")));

    // Peers removed: the listener closes, the hosts block goes.
    s.conn.set_peers(&PeersUpdate::default()).expect("clear");
    tokio::time::timeout(GUARD, async {
        while std::fs::read_to_string(&s.hosts).expect("hosts") != "127.0.0.1\tlocalhost\n" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        while TcpStream::connect(relay).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("relay state not cleared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_errors_are_reported_on_the_main_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hosts = dir.path().join("missing-dir").join("hosts");
    let hosts_env = hosts.to_string_lossy().into_owned();
    let peer = TestPeer::new().await;
    let _agent = peer.spawn_agent(&["sleep", "600"], &[("SOCKERLESS_HOSTS_FILE", &hosts_env)]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut main = conn.main_session().expect("main");
    let good_port = free_port("127.77.0.4");
    conn.set_peers(&PeersUpdate {
        hosts: vec![
            PeerHost {
                // Not a local address: cannot be bound.
                ip: "192.0.2.1".into(),
                names: vec!["far".into()],
                ports: vec![7000],
            },
            PeerHost {
                ip: "127.77.0.4".into(),
                names: vec!["near".into()],
                ports: vec![good_port],
            },
        ],
    })
    .expect("set peers");
    let mut errors = Vec::new();
    tokio::time::timeout(GUARD, async {
        while errors.len() < 2 {
            match main.recv().await {
                Some(SessionEvent::Error(m)) => errors.push(m),
                Some(_) => {}
                None => panic!("main session ended"),
            }
        }
    })
    .await
    .expect("errors never came");
    errors.sort();
    assert!(errors[0].starts_with("cannot write"), "{errors:?}");
    assert!(
        errors[1].starts_with("relay listen 192.0.2.1:7000"),
        "{errors:?}"
    );
    // The other listener works regardless.
    let mut events = conn.take_events().expect("events");
    let addr: SocketAddr = format!("127.77.0.4:{good_port}").parse().expect("addr");
    let _client = connect_relay(addr).await;
    let (ip, port, _session) = inbound(&mut events).await;
    assert_eq!((ip.as_str(), port), ("127.77.0.4", good_port));
}

async fn next_accepted(rx: &mut mpsc::UnboundedReceiver<TcpStream>) -> TcpStream {
    tokio::time::timeout(GUARD, rx.recv())
        .await
        .expect("no connection")
        .expect("server gone")
}

/// What the server side reads next (a reset is an error).
async fn read_end(mut tcp: TcpStream) -> std::io::Result<usize> {
    let mut buf = [0u8; 64];
    tokio::time::timeout(GUARD, tcp.read(&mut buf))
        .await
        .expect("server read hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_sessions_reset_when_dropped_or_disconnected_and_are_limited() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (accepted_tx, mut accepted) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            if accepted_tx.send(tcp).is_err() {
                break;
            }
        }
    });
    let s = start_agent().await;
    // Dropping an unfinished session resets its connection.
    let session = s
        .conn
        .tcp_connect("127.0.0.1", port)
        .await
        .expect("connect");
    let server_side = next_accepted(&mut accepted).await;
    drop(session);
    assert!(read_end(server_side).await.is_err(), "expected a reset");

    // At most 256 at once.
    let (mut open, mut servers) = (Vec::new(), Vec::new());
    for _ in 0..256 {
        open.push(
            s.conn
                .tcp_connect("127.0.0.1", port)
                .await
                .expect("connect"),
        );
        servers.push(next_accepted(&mut accepted).await);
    }
    match s.conn.tcp_connect("127.0.0.1", port).await {
        Err(PeerError::Agent(msg)) => assert!(msg.contains("too many streams"), "{msg}"),
        other => panic!("expected the limit, got {other:?}"),
    }
    // One ends (signal) and frees its place.
    let mut first = open.remove(0);
    first.signal(9).expect("signal");
    assert_eq!(collect(&mut first).await.2, 137);
    let mut spare = None;
    tokio::time::timeout(GUARD, async {
        while spare.is_none() {
            match s.conn.tcp_connect("127.0.0.1", port).await {
                Ok(sess) => spare = Some(sess),
                // The slot is released right after the exit is sent.
                Err(PeerError::Agent(_)) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("slot never freed");
    servers.push(next_accepted(&mut accepted).await);
    drop(open);
    drop(spare);

    // A connection that ends takes its socket sessions with it.
    let Setup {
        _agent, conn, _dir, ..
    } = s;
    let kept = conn.tcp_connect("127.0.0.1", port).await.expect("connect");
    let server_side = next_accepted(&mut accepted).await;
    // Not dropped: only the end of the connection resets it.
    std::mem::forget(kept);
    drop(conn);
    assert!(read_end(server_side).await.is_err(), "expected a reset");
}
