//! UNIX_LISTEN: the agent serves Unix sockets (mode 0666, parent created,
//! stale files replaced); each connection arrives as an
//! `AgentEvent::UnixInbound` session whose bytes round-trip with
//! half-close; an empty set closes the listeners and removes the sockets;
//! bad paths are errors on the main session.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use common::*;
use sockerless_agent::peer::{AgentEvent, OutputStream, ResumeState, Session, SessionEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

async fn connect(path: &Path) -> UnixStream {
    tokio::time::timeout(GUARD, async {
        loop {
            match UnixStream::connect(path).await {
                Ok(s) => return s,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("unix listener never came up")
}

async fn unix_inbound(events: &mut mpsc::Receiver<AgentEvent>) -> (String, Session) {
    loop {
        let ev = tokio::time::timeout(GUARD, events.recv())
            .await
            .expect("no agent event")
            .expect("events closed");
        match ev {
            AgentEvent::UnixInbound { path, session } => return (path, session),
            AgentEvent::Listening(_) => {}
            AgentEvent::Inbound { ip, port, .. } => panic!("unexpected inbound {ip}:{port}"),
        }
    }
}

/// Echoes the session's output back; half-closes once the client did.
fn echo(mut session: Session) -> tokio::task::JoinHandle<Option<i32>> {
    tokio::spawn(async move {
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
                    input.close().expect("close");
                    code = Some(c);
                }
                _ => {}
            }
        }
        code
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_listen_serves_sockets_as_inbound_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let peer = TestPeer::new().await;
    let _agent = peer.spawn_agent(&["sleep", "600"], &[]);
    let conn = peer.accept(ResumeState::new()).await;
    let mut events = conn.take_events().expect("events");
    let mut main = conn.main_session().expect("main session");

    // A parent to create, and a stale file to replace.
    let sock = dir.path().join("run/sub/docker.sock");
    let other = dir.path().join("other.sock");
    std::fs::write(&other, "stale").expect("stale file");
    let paths = vec![
        sock.to_string_lossy().into_owned(),
        other.to_string_lossy().into_owned(),
        "relative/docker.sock".to_owned(),
    ];
    conn.unix_listen(&paths).expect("unix listen");

    let mut client = connect(&sock).await;
    let meta = std::fs::symlink_metadata(&sock).expect("socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o666);

    // The bad path is reported on the main session; the others are served.
    let error = tokio::time::timeout(GUARD, async {
        loop {
            match main.recv().await {
                Some(SessionEvent::Error(m)) => return m,
                Some(_) => {}
                None => panic!("main session ended"),
            }
        }
    })
    .await
    .expect("no error for the relative path");
    assert!(error.contains("relative/docker.sock"), "{error}");

    let (path, session) = unix_inbound(&mut events).await;
    assert_eq!(path, sock.to_string_lossy());
    assert!(session.id() >= 0x8000_0000);
    let echoed = echo(session);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (mut rd, mut wr) = client.split();
    let send = async {
        wr.write_all(&data).await.expect("client write");
        wr.shutdown().await.expect("client shutdown");
    };
    let mut back = Vec::new();
    let recv = rd.read_to_end(&mut back);
    let (_, got) = tokio::join!(send, recv);
    got.expect("client read");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "bytes differ");
    assert_eq!(echoed.await.expect("echo task"), Some(0));

    // The stale file became a socket too.
    let mut second = connect(&other).await;
    let (path, session) = unix_inbound(&mut events).await;
    assert_eq!(path, other.to_string_lossy());
    let echoed = echo(session);
    second.write_all(b"GET /_ping").await.expect("write");
    second.shutdown().await.expect("shutdown");
    let mut back = String::new();
    second.read_to_string(&mut back).await.expect("read");
    assert_eq!(back, "GET /_ping");
    assert_eq!(echoed.await.expect("echo task"), Some(0));

    // The empty set closes the listeners and removes the sockets.
    conn.unix_listen(&[]).expect("unix listen none");
    tokio::time::timeout(GUARD, async {
        while sock.exists() || other.exists() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("sockets not removed");
}
